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
from kapoutcomes.outcomes.change import AFTER_DOSE_NOTE
from kapoutcomes.outcomes.rules import eligible_expr, response_rules
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
        f"mean change / SD of baseline; {AFTER_DOSE_NOTE}"
    )
    return out.with_columns(
        timepoint=pl.lit(timepoint),
        definition=pl.lit(definition),
        caveats=caveat_expr(pl.col("n"), settings),
    ).select(CHANGE_COLUMNS)


def _eligible_and_remission(settings: Settings) -> tuple[pl.DataFrame, pl.Expr, pl.Expr]:
    """The rules to join (instrument, eligible_from, best_score, remission thresholds) and
    the ``eligible`` and ``remission`` expressions on rows with score and baseline_score
    (``rules.eligible_expr``, as in ``cohort.response.measure_population``)."""
    rules = response_rules(settings).select(
        "instrument", "eligible_from", "best_score", "remission_below", "remission_at_or_below"
    )
    eligible = eligible_expr()
    remission = (
        pl.when(pl.col("remission_below").is_not_null())
        .then(pl.col("score") < pl.col("remission_below"))
        .when(pl.col("remission_at_or_below").is_not_null())
        .then(pl.col("score") <= pl.col("remission_at_or_below"))
    )
    return rules, eligible, remission


def monthly_scores(
    change: pl.DataFrame, max_month: int = 12, settings: Settings | None = None
) -> pl.DataFrame:
    """Each patient's last score with a baseline in every 30-day treatment month (up to
    ``max_month``): patient_id, instrument, treatment_month, assessed_at, change,
    reduction_pct, responder, remission (empty without a remission rule) and eligible
    (baseline in the instrument's elevated range), one row per patient, instrument and month
    (the natural key allows one total per patient, instrument and time)."""
    key = ["patient_id", "instrument", "treatment_month"]
    rules, eligible, remission = _eligible_and_remission(settings or Settings())
    return (
        change.filter(pl.col("change").is_not_null() & (pl.col("treatment_month") <= max_month))
        .select(
            *key, "assessed_at", "score", "baseline_score", "change", "reduction_pct", "responder"
        )
        .filter(pl.col("assessed_at") == pl.col("assessed_at").max().over(key))
        .join(rules, on="instrument", how="left")
        .with_columns(remission=remission, eligible=eligible)
        .select(
            *key, "assessed_at", "change", "reduction_pct", "responder", "remission", "eligible"
        )
    )


def _with_mean_interval(
    g: pl.DataFrame, mean: str, sd: str, n: str, settings: Settings
) -> pl.DataFrame:
    """``g`` with ``{mean}_lower`` / ``{mean}_upper``, stripped of a trailing ``_pct``: the t
    interval of the mean at the configured level (empty below 2 values)."""
    k = g.get_column(n).cast(pl.Float64).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        t = sp_stats.t.ppf(0.5 + settings.confidence_level / 2, np.maximum(k - 1, 1))
        half = np.where(k >= 2, t / np.sqrt(np.maximum(k, 1)), np.nan)
    h = pl.Series("_t", half, dtype=pl.Float64).fill_nan(None) * g.get_column(sd)
    stem = mean.removesuffix("_pct")
    return g.with_columns(
        (pl.col(mean) - h).alias(f"{stem}_lower"), (pl.col(mean) + h).alias(f"{stem}_upper")
    )


def improvement_by_month(
    monthly: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Improvement by treatment month (``settings.treatment_month_days``-day months from the
    first dose) from ``monthly_scores`` (each patient's last score in the month).

    Columns: subgroup, level, instrument, treatment_month, scored (patients with a score and
    a baseline that month: the mean and median change are about them), mean_change,
    median_change, mean_reduction_pct, mean_reduction_lower / mean_reduction_upper (its t
    interval at the configured level), denominator (of them, the eligible patients: baseline
    in the instrument's elevated range), not_eligible, n (eligible responders; empty for
    instruments without a response threshold), rate / lower / upper (share responding,
    Wilson), remission_n, remission_rate / remission_lower / remission_upper (share in
    remission among the eligible; empty without a remission rule), definition, caveats.
    """
    c = attach_groups(monthly, groups)
    el = pl.col("eligible").fill_null(False)
    g = level_agg(
        c,
        by,
        ["instrument", "treatment_month"],
        [
            pl.len().cast(pl.Int64).alias("scored"),
            pl.col("change").mean().alias("mean_change"),
            pl.col("change").median().alias("median_change"),
            pl.col("reduction_pct").mean().alias("mean_reduction_pct"),
            pl.col("reduction_pct").std().alias("_red_sd"),
            pl.col("reduction_pct").count().alias("_red_n"),
            el.sum().cast(pl.Int64).alias("denominator"),
            (el & pl.col("responder").fill_null(False)).sum().cast(pl.Int64).alias("n"),
            (el & pl.col("remission").fill_null(False)).sum().cast(pl.Int64).alias("remission_n"),
            pl.col("responder").is_not_null().any().alias("_has_rule"),
            pl.col("remission").is_not_null().any().alias("_has_remission"),
        ],
    ).sort("subgroup", "level", "instrument", "treatment_month")
    g = with_proportion(g, "n", "denominator", settings.confidence_level)
    g = with_proportion(
        g, "remission_n", "denominator", settings.confidence_level, prefix="remission_"
    )
    g = _with_mean_interval(g, "mean_reduction_pct", "_red_sd", "_red_n", settings)
    g = g.with_columns(
        [
            pl.when(pl.col("_has_rule")).then(pl.col(x)).alias(x)
            for x in ("n", "rate", "lower", "upper")
        ]
        + [
            pl.when(pl.col("_has_remission")).then(pl.col(x)).alias(x)
            for x in ("remission_n", "remission_rate", "remission_lower", "remission_upper")
        ],
        not_eligible=pl.col("scored") - pl.col("denominator"),
    ).drop("_has_rule", "_has_remission", "_red_sd", "_red_n")
    return g.with_columns(
        definition=pl.lit(
            f"last score in each {settings.treatment_month_days}-day treatment month after the "
            "first dose; change = score - baseline (every patient with a baseline); rate = "
            "share at or above the instrument's response threshold, remission_rate = share "
            "in remission, both among eligible patients (baseline in the instrument's "
            f"elevated range, as for end-of-induction response); mean_reduction_lower / "
            f"_upper = t interval ({settings.confidence_level:.0%}) of the mean % reduction; "
            f"{AFTER_DOSE_NOTE}"
        ),
        caveats=caveat_expr(pl.col("denominator"), settings),
    )


def ever_scores(change: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per patient and instrument with a baseline and any score after the first dose
    (``change.change_rows`` rows; after-dose scores are not among them): eligible (baseline in
    the instrument's elevated range), ever_response and ever_remission (at any score up to the
    data end; empty without such a rule)."""
    rules, eligible, remission = _eligible_and_remission(settings)
    return (
        change.filter(pl.col("change").is_not_null())
        .select("patient_id", "instrument", "score", "baseline_score", "responder")
        .join(rules, on="instrument", how="left")
        .with_columns(_remission=remission, _eligible=eligible)
        .group_by("patient_id", "instrument")
        .agg(
            eligible=pl.col("_eligible").first(),
            ever_response=pl.when(pl.col("responder").is_not_null().any()).then(
                pl.col("responder").fill_null(False).any()
            ),
            ever_remission=pl.when(pl.col("_remission").is_not_null().any()).then(
                pl.col("_remission").fill_null(False).any()
            ),
        )
        .sort("patient_id", "instrument")
    )


def any_time_rates(
    ever: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Response and remission at any time after the first dose (``ever_scores``), among
    eligible patients with at least one score after the first dose.

    Columns: subgroup, level, instrument, measure (response, remission), n (eligible
    patients who met it at least once), denominator (eligible patients with a score after
    the first dose), rate, lower, upper (Wilson), not_eligible (patients with a baseline
    and a later score whose baseline is outside the eligible range), definition, caveats.
    """
    c = attach_groups(ever, groups)
    el = pl.col("eligible").fill_null(False)
    g = level_agg(
        c,
        by,
        ["instrument"],
        [
            el.sum().cast(pl.Int64).alias("denominator"),
            (~el).sum().cast(pl.Int64).alias("not_eligible"),
            (el & pl.col("ever_response").fill_null(False)).sum().cast(pl.Int64).alias("_r"),
            (el & pl.col("ever_remission").fill_null(False)).sum().cast(pl.Int64).alias("_m"),
            pl.col("ever_response").is_not_null().any().alias("_has_r"),
            pl.col("ever_remission").is_not_null().any().alias("_has_m"),
        ],
    )
    keep = ["subgroup", "level", "instrument", "denominator", "not_eligible"]
    out = pl.concat(
        [
            g.filter(pl.col("_has_r")).select(*keep, measure=pl.lit("response"), n=pl.col("_r")),
            g.filter(pl.col("_has_m")).select(*keep, measure=pl.lit("remission"), n=pl.col("_m")),
        ]
    ).sort("subgroup", "level", "instrument", "measure")
    out = with_proportion(out, "n", "denominator", settings.confidence_level)
    return out.with_columns(
        definition=pl.lit(
            "met at least once at any score after the first dose up to the data end (response: "
            "the instrument's response threshold; remission: its remission score), among "
            "eligible patients (baseline in the instrument's elevated range) with a score after "
            f"the first dose; {AFTER_DOSE_NOTE}"
        ),
        caveats=caveat_expr(pl.col("denominator"), settings),
    ).select(
        "subgroup",
        "level",
        "instrument",
        "measure",
        "n",
        "denominator",
        "rate",
        "lower",
        "upper",
        "not_eligible",
        "definition",
        "caveats",
    )
