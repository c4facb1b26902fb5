"""Opioid use (daily MME) and cost of care across the cohort.

Tidy frames whose rows carry n, denominator, value, interval, definition and caveats, split
by a comparison dimension with ``by`` as in :mod:`kapoutcomes.cohort.groups`.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats as sp_stats

from kapoutcomes.cohort.groups import GROUP_DIMENSIONS, attach_groups, caveat_expr, level_agg
from kapoutcomes.definitions import opioids
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.stats.intervals import with_proportion

#: the CDC 2022 daily-MME thresholds (``definitions.opioids.RISK_BANDS_MME``): reassess at
#: 50, avoid or carefully justify at 90; the measure names above_50_mme / above_90_mme follow
REASSESS_MME, AVOID_MME = opioids.RISK_BANDS_MME


# -- opioids ---------------------------------------------------------------------------------
#: the share measures: name, patients meeting it, patients counted, definition (the counts are
#: the ``_opioid_counts`` columns)
_SHARES = (
    (
        "on_opioids",
        "_on",
        "_n",
        "share of observed patients with any MME-counted opioid active ({table})",
    ),
    ("above_50_mme", "_a50", "_n", f">= {REASSESS_MME:g} MME/day (CDC 2022: reassess)"),
    ("above_90_mme", "_a90", "_n", f">= {AVOID_MME:g} MME/day (CDC 2022: avoid or justify)"),
    (
        "buprenorphine",
        "_bup",
        "_n",
        "buprenorphine active (no CDC 2022 factor: excluded from MME, counted here)",
    ),
    ("reduction_50", "_red", "_base_on", "on opioids at baseline and >= 50% lower daily MME"),
    ("discontinued", "_disc", "_base_on", "on opioids at baseline and none at this timepoint"),
)
_TIMEPOINT = ["subgroup", "level", "timepoint", "day"]
OPIOID_COLUMNS = (
    "subgroup",
    "level",
    "timepoint",
    "measure",
    "n",
    "denominator",
    "value",
    "lower",
    "upper",
    "unit",
    "definition",
    "caveats",
)


def _opioid_counts(mme: pl.DataFrame, groups: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """Per subgroup, level and timepoint: the patients observed and those meeting each share
    measure, the medians and quartiles of daily MME and the mean change from the first dose
    among patients on opioids then. Every timepoint of ``mme`` has a row, also when nobody
    was observed there (0 of 0)."""
    m = mme.pipe(attach_groups, groups)
    obs = pl.col("observed").fill_null(False)
    on_base = obs & (pl.col("baseline_mme") > 0)
    on = pl.col("daily_mme").filter(obs & (pl.col("daily_mme") > 0))
    chg = pl.col("change_mme").filter(on_base & pl.col("change_mme").is_not_null())
    return level_agg(
        m,
        by,
        ["timepoint", "day"],
        [
            obs.sum().alias("_n"),
            (obs & pl.col("on_opioids").fill_null(False)).sum().alias("_on"),
            (obs & (pl.col("daily_mme") >= REASSESS_MME)).sum().alias("_a50"),
            (obs & (pl.col("daily_mme") >= AVOID_MME)).sum().alias("_a90"),
            (obs & pl.col("buprenorphine").fill_null(False)).sum().alias("_bup"),
            on_base.sum().alias("_base_on"),
            (on_base & (pl.col("reduction_pct") >= 50)).sum().alias("_red"),
            (on_base & (pl.col("daily_mme") == 0)).sum().alias("_disc"),
            pl.col("daily_mme").filter(obs).median().alias("median_mme_all"),
            on.median().alias("median_mme_on_opioids"),
            on.quantile(0.25).alias("_q1"),
            on.quantile(0.75).alias("_q3"),
            chg.len().alias("_chg_n"),
            chg.mean().alias("_chg_mean"),
            chg.std().alias("_chg_sd"),
        ],
    )


def _opioid_shares(g: pl.DataFrame, settings: Settings) -> list[pl.DataFrame]:
    """The share measures as % with Wilson intervals (no change measures at baseline)."""
    pieces = []
    for name, num, den, words in _SHARES:
        p = g.select(
            *_TIMEPOINT,
            measure=pl.lit(name),
            n=pl.col(num).cast(pl.Int64),
            denominator=pl.col(den).cast(pl.Int64),
            definition=pl.lit(words.format(table=settings.mme_table)),
        )
        p = p.filter(
            ~((pl.col("day") == 0) & pl.col("measure").is_in(["reduction_50", "discontinued"]))
        )
        p = with_proportion(p, "n", "denominator", settings.confidence_level)
        pieces.append(
            p.with_columns((pl.col(x) * 100).alias(x) for x in ("rate", "lower", "upper"))
            .rename({"rate": "value"})
            .with_columns(unit=pl.lit("%"))
        )
    return pieces


def _opioid_medians(g: pl.DataFrame) -> list[pl.DataFrame]:
    """Median daily MME among all observed patients, and among those on opioids with the
    IQR as lower-upper."""
    return [
        g.select(
            *_TIMEPOINT,
            measure=pl.lit("median_mme_all"),
            n=pl.col("_n").cast(pl.Int64),
            denominator=pl.col("_n").cast(pl.Int64),
            definition=pl.lit("median daily MME among observed patients (0 when none)"),
            value=pl.col("median_mme_all"),
            lower=pl.lit(None, pl.Float64),
            upper=pl.lit(None, pl.Float64),
            unit=pl.lit("MME/day"),
        ),
        g.select(
            *_TIMEPOINT,
            measure=pl.lit("median_mme_on_opioids"),
            n=pl.col("_on").cast(pl.Int64),
            denominator=pl.col("_n").cast(pl.Int64),
            definition=pl.lit(
                "median daily MME among those on MME-counted opioids (IQR as lower-upper)"
            ),
            value=pl.col("median_mme_on_opioids"),
            lower=pl.col("_q1"),
            upper=pl.col("_q3"),
            unit=pl.lit("MME/day"),
        ),
    ]


def _opioid_mean_change(g: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Mean change in daily MME from the first dose among patients on MME-counted opioids
    then and observed at the timepoint, with a t interval (no row at baseline)."""
    n = g.get_column("_chg_n").cast(pl.Float64).to_numpy()
    sd = g.get_column("_chg_sd").cast(pl.Float64).fill_null(float("nan")).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        t = sp_stats.t.ppf(0.5 + settings.confidence_level / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, t * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    mean = pl.col("_chg_mean")
    return (
        g.with_columns(_half=pl.Series(half, dtype=pl.Float64).fill_nan(None))
        .select(
            *_TIMEPOINT,
            measure=pl.lit("mean_mme_change"),
            n=pl.col("_chg_n").cast(pl.Int64),
            denominator=pl.col("_base_on").cast(pl.Int64),
            definition=pl.lit(
                "mean change in daily MME from the first dose among patients on MME-counted "
                f"opioids at the first dose and observed at this timepoint (negative = lower), "
                f"t interval ({settings.confidence_level:.0%})"
            ),
            value=mean,
            lower=mean - pl.col("_half"),
            upper=mean + pl.col("_half"),
            unit=pl.lit("MME/day"),
        )
        .filter(pl.col("day") > 0)
    )


def opioid_summary(
    mme: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Opioid use at baseline and later timepoints (``opioid_course.mme_course``).

    One row per (subgroup, level, timepoint, measure) with n, denominator, value (a % or
    MME/day), lower, upper, definition, caveats. Measures: on_opioids (% of observed
    patients), median_mme_all, median_mme_on_opioids, above_50_mme, above_90_mme (% at or
    above), buprenorphine (% on buprenorphine, excluded from MME), reduction_50 (% of those
    on opioids at baseline with a >= 50% lower MME), discontinued (% of those on opioids at
    baseline with none), mean_mme_change (mean change from the first dose among those on
    opioids then, with a t interval). Every timepoint has its rows, 0 of 0 when nobody was
    observed there.
    """
    g = _opioid_counts(mme, groups, by)
    out = pl.concat(
        [*_opioid_shares(g, settings), *_opioid_medians(g), _opioid_mean_change(g, settings)],
        how="diagonal_relaxed",
    )
    return (
        out.with_columns(
            definition=pl.concat_str(
                [
                    pl.col("definition"),
                    pl.lit(f"; MME table {settings.mme_table}; timepoint day after first dose: "),
                    pl.col("day").cast(pl.String),
                ]
            ),
            caveats=caveat_expr(
                pl.col("denominator"),
                settings,
                pl.when(pl.col("day") > 0).then(
                    pl.lit("only patients followed up to this timepoint")
                ),
            ),
        )
        .sort("subgroup", "level", "day", "measure")
        .select(OPIOID_COLUMNS)
    )


def paired_mme(mme: pl.DataFrame) -> pl.DataFrame:
    """Daily MME of the same patients at the first dose and at each later timepoint
    (``opioid_course.mme_course`` rows): per later timepoint, the patients on MME-counted
    opioids at the first dose and observed then (a paired comparison, not the
    cross-sectional ``opioid_summary``). Columns: timepoint, day, n, baseline_median,
    baseline_q1, baseline_q3 (their MME at the first dose), median, q1, q3 (at the
    timepoint; 0 for those who stopped), definition."""
    later = mme.filter(
        (pl.col("day") > 0)
        & pl.col("observed").fill_null(False)
        & (pl.col("baseline_mme") > 0)
        & pl.col("daily_mme").is_not_null()
    )
    days = mme.select(pl.col("timepoint").cast(pl.String), "day").unique().filter(pl.col("day") > 0)
    out = later.group_by(pl.col("timepoint").cast(pl.String), "day").agg(
        n=pl.len().cast(pl.Int64),
        baseline_median=pl.col("baseline_mme").median(),
        baseline_q1=pl.col("baseline_mme").quantile(0.25),
        baseline_q3=pl.col("baseline_mme").quantile(0.75),
        median=pl.col("daily_mme").median(),
        q1=pl.col("daily_mme").quantile(0.25),
        q3=pl.col("daily_mme").quantile(0.75),
    )
    return (
        days.join(out, on=["timepoint", "day"], how="left")
        .with_columns(
            pl.col("n").fill_null(0),
            definition=pl.lit(
                "paired: patients on MME-counted opioids at the first dose and observed at the "
                "timepoint, their daily MME then and at the first dose (median, IQR); "
                "0 MME/day for those who stopped"
            ),
        )
        .sort("day")
    )


# -- cost ------------------------------------------------------------------------------------
def cost_frame(cost: pl.DataFrame, responders: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """One row per dosed patient: the comparison dimensions of ``groups``, cost_usd and
    responder (what ``cost_summary`` counts; compute once to reuse across calls)."""
    dims = [d for d in GROUP_DIMENSIONS if d in groups.columns]
    return (
        groups.filter(pl.col("dosed"))
        .select("patient_id", *dims)
        .join(cost, on="patient_id", how="left")
        .join(responders, on="patient_id", how="left")
    )


#: the cost measures: name, patients counted (n), denominator, value, definition (from the
#: ``_cost_counts`` columns)
_COST_MEASURES = (
    (
        "total_cost",
        "_costed",
        "_treated",
        pl.col("_total"),
        "sum of exported session charges, dosed patients",
    ),
    (
        "cost_per_patient_treated",
        "_costed",
        "_costed",
        pl.when(pl.col("_costed") > 0).then(pl.col("_total") / pl.col("_costed")),
        "total charges / dosed patients with cost data",
    ),
    (
        "median_cost_per_patient",
        "_costed",
        "_costed",
        pl.col("_median"),
        "median total charges per dosed patient with cost data",
    ),
    (
        "cost_per_responder",
        "_resp",
        "_costed",
        pl.when(pl.col("_resp") > 0).then(pl.col("_total") / pl.col("_resp")),
        "total charges / end-of-induction responders on the primary instrument (patients "
        "with cost data)",
    ),
)


def cost_summary(costs: pl.DataFrame, settings: Settings, by: str | None = None) -> pl.DataFrame:
    """Cost per patient treated and per responder where the export carries cost.

    ``costs``: the ``cost_frame`` (one row per dosed patient with the comparison dimensions,
    cost_usd and responder). Columns: subgroup, level, measure, n, denominator, value (USD),
    unit, definition, caveats. Patients without any cost are left out (stated)."""
    g = level_agg(
        costs,
        by,
        [],
        [
            pl.len().alias("_treated"),
            pl.col("cost_usd").is_not_null().sum().alias("_costed"),
            pl.col("cost_usd").sum().alias("_total"),
            pl.col("cost_usd").median().alias("_median"),
            (pl.col("responder").fill_null(False) & pl.col("cost_usd").is_not_null())
            .sum()
            .alias("_resp"),
        ],
    )
    cov = pl.when(pl.col("_costed") < pl.col("_treated")).then(
        pl.format(
            "{} of {} treated patients have no cost in the export",
            pl.col("_treated") - pl.col("_costed"),
            pl.col("_treated"),
        )
    )
    rows = [
        g.select(
            "subgroup",
            "level",
            measure=pl.lit(name),
            n=pl.col(n),
            denominator=pl.col(d),
            value=value,
            definition=pl.lit(words),
            _cov=cov,
        )
        for name, n, d, value, words in _COST_MEASURES
    ]
    out = pl.concat(rows, how="diagonal_relaxed").with_columns(
        pl.col("n").cast(pl.Int64),
        pl.col("denominator").cast(pl.Int64),
        unit=pl.lit("USD"),
    )
    return (
        out.with_columns(
            caveats=caveat_expr(
                pl.col("denominator"),
                settings,
                pl.col("_cov"),
                pl.when(pl.col("denominator") == 0).then(pl.lit("the export carries no cost")),
            ),
        )
        .drop("_cov")
        .sort("subgroup", "level", "measure")
    )
