"""Improvement from baseline: change at the end of induction (mean with t interval, median
with order-statistic interval, paired Wilcoxon test, SRM, effect size) and improvement by
30-day treatment month."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats as sp_stats

from kapoutcomes.cohort.groups import attach_groups, caveat_expr, level_agg
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.stats.intervals import median_ci, with_proportion

#: The statistics ``describe_change`` returns for one group, in the order of the report columns.
CHANGE_STATISTICS = (
    "mean",
    "mean_lower",
    "mean_upper",
    "sd",
    "median",
    "median_lower",
    "median_upper",
    "wilcoxon_statistic",
    "wilcoxon_p",
    "srm",
    "effect_size",
)


def describe_change(
    change: np.ndarray, baseline: np.ndarray, confidence_level: float = 0.95
) -> dict[str, float | None]:
    """Mean (t interval) and median (order-statistic interval) of change, the paired Wilcoxon
    signed-rank test against no change, the standardised response mean (mean / SD of change)
    and effect size (mean change / SD of baseline, Kazis 1989)."""
    c = np.asarray(change, float)
    b = np.asarray(baseline, float)
    n = c.size
    out: dict[str, float | None] = dict.fromkeys(CHANGE_STATISTICS)
    if n == 0:
        return out
    out["mean"] = float(c.mean())
    out["median"] = float(np.median(c))
    out["median_lower"], out["median_upper"] = median_ci(c, confidence_level)
    if n >= 2:
        sd = float(c.std(ddof=1))
        out["sd"] = sd
        if sd > 0:
            h = sp_stats.t.ppf(0.5 + confidence_level / 2, n - 1) * sd / math.sqrt(n)
            out["mean_lower"], out["mean_upper"] = out["mean"] - h, out["mean"] + h
            out["srm"] = out["mean"] / sd
        else:
            out["mean_lower"] = out["mean_upper"] = out["mean"]
        bsd = float(b.std(ddof=1))
        if bsd > 0:
            out["effect_size"] = out["mean"] / bsd
        if np.any(c != 0):
            nz = c[c != 0]
            exact = nz.size <= 50 and np.unique(np.abs(nz)).size == nz.size
            w = sp_stats.wilcoxon(
                c, zero_method="wilcox", method="exact" if exact else "asymptotic"
            )
            out["wilcoxon_statistic"] = float(w.statistic)
            out["wilcoxon_p"] = float(w.pvalue)
    return out


#: the columns of ``change_from_baseline``
CHANGE_COLUMNS = (
    "subgroup",
    "level",
    "instrument",
    "timepoint",
    "n",
    "denominator",
    "mean_baseline",
    "mean_score",
    *CHANGE_STATISTICS[:7],
    "mean_reduction_pct",
    *CHANGE_STATISTICS[7:],
    "definition",
    "caveats",
)


def _change_groups(e: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """Per subgroup, level and instrument: n (with a change), denominator (with a score),
    mean baseline, score and reduction, and the changes and baselines as lists (_c, _b)."""
    used = [*([by] if by else []), "instrument", "change", "baseline_score", "score"]
    e2 = e.select(*used, "reduction_pct").filter(pl.col("change").is_not_null())
    return (
        level_agg(
            e2,
            by,
            ["instrument"],
            [
                pl.len().cast(pl.Int64).alias("n"),
                pl.col("baseline_score").mean().alias("mean_baseline"),
                pl.col("score").mean().alias("mean_score"),
                pl.col("reduction_pct").mean().alias("mean_reduction_pct"),
                pl.col("change").alias("_c"),
                pl.col("baseline_score").alias("_b"),
            ],
        )
        .join(
            level_agg(e, by, ["instrument"], [pl.len().cast(pl.Int64).alias("denominator")]),
            on=["subgroup", "level", "instrument"],
        )
        .sort("subgroup", "level", "instrument")
    )


def change_from_baseline(
    eoi: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    timepoint: str = "end of induction",
) -> pl.DataFrame:
    """Change from baseline (score - baseline; negative = better for every registry
    instrument) per instrument, one score per patient (``eoi``: end-of-induction rows, or any
    one-row-per-patient-and-instrument frame of ``outcomes.changes`` columns).

    Columns: subgroup, level, instrument, timepoint, n, denominator (patients with a score at
    the timepoint), mean_baseline, mean_score, mean, mean_lower, mean_upper, sd, median,
    median_lower, median_upper, mean_reduction_pct, wilcoxon_statistic, wilcoxon_p, srm,
    effect_size, definition, caveats.
    """
    agg = _change_groups(attach_groups(eoi, groups), by)
    # each group's values straight to numpy (no Python list of every value)
    rows = [
        describe_change(c.to_numpy(), b.to_numpy(), settings.confidence_level)
        for c, b in zip(agg.get_column("_c"), agg.get_column("_b"), strict=True)
    ]
    extra = pl.DataFrame(
        rows,
        schema=dict.fromkeys(CHANGE_STATISTICS, pl.Float64),
    )
    out = pl.concat([agg.drop("_c", "_b"), extra], how="horizontal")
    definition = (
        f"change = score at {timepoint} - baseline (negative = improvement); mean with t "
        f"interval, median with order-statistic interval ({settings.confidence_level:.0%}); "
        "paired Wilcoxon signed-rank test; SRM = mean change / SD of change; effect size = "
        "mean change / SD of baseline"
    )
    return out.with_columns(
        timepoint=pl.lit(timepoint),
        definition=pl.lit(definition),
        caveats=caveat_expr(pl.col("n"), settings),
    ).select(CHANGE_COLUMNS)


def monthly_scores(change: pl.DataFrame, max_month: int = 12) -> pl.DataFrame:
    """Each patient's last score with a baseline in every 30-day treatment month (up to
    ``max_month``): the ``outcomes.changes`` columns, one row per patient, instrument and
    month (the natural key allows one total per patient, instrument and time)."""
    key = ["patient_id", "instrument", "treatment_month"]
    return (
        change.filter(pl.col("change").is_not_null() & (pl.col("treatment_month") <= max_month))
        .select(*key, "assessed_at", "change", "reduction_pct", "responder")
        .filter(pl.col("assessed_at") == pl.col("assessed_at").max().over(key))
    )


def improvement_by_month(
    monthly: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Improvement by treatment month (``settings.treatment_month_days``-day months from the
    first dose) from
    ``monthly_scores`` (each patient's last score in the month).

    Columns: subgroup, level, instrument, treatment_month, n (responders; empty for
    instruments without a response threshold), denominator (patients with a score and a
    baseline that month), mean_change, median_change, mean_reduction_pct, rate / lower /
    upper (share responding, Wilson), definition, caveats.
    """
    c = attach_groups(monthly, groups)
    g = level_agg(
        c,
        by,
        ["instrument", "treatment_month"],
        [
            pl.col("responder").fill_null(False).sum().cast(pl.Int64).alias("n"),
            pl.len().cast(pl.Int64).alias("denominator"),
            pl.col("change").mean().alias("mean_change"),
            pl.col("change").median().alias("median_change"),
            pl.col("reduction_pct").mean().alias("mean_reduction_pct"),
            pl.col("responder").is_not_null().any().alias("_has_rule"),
        ],
    ).sort("subgroup", "level", "instrument", "treatment_month")
    g = with_proportion(g, "n", "denominator", settings.confidence_level)
    g = g.with_columns(
        [
            pl.when(pl.col("_has_rule")).then(pl.col(x)).alias(x)
            for x in ("n", "rate", "lower", "upper")
        ]
    ).drop("_has_rule")
    return g.with_columns(
        definition=pl.lit(
            f"last score in each {settings.treatment_month_days}-day treatment month after the "
            "first dose; change = score - baseline; rate = share at or above the instrument's "
            "response threshold"
        ),
        caveats=caveat_expr(pl.col("denominator"), settings),
    )
