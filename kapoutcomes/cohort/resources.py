"""Opioid use (daily MME) and cost of care across the cohort.

Tidy frames whose rows carry n, denominator, value, interval, definition and caveats, split
by a comparison dimension with ``by`` as in :mod:`kapoutcomes.cohort.groups`.
"""

from __future__ import annotations

import polars as pl

from kapoutcomes.cohort.groups import GROUP_DIMENSIONS, attach_groups, caveat_expr, level_agg
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.stats import intervals


# -- opioids ---------------------------------------------------------------------------------
def opioid_summary(
    mme: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Opioid use at baseline and later timepoints (``opioid_course.mme_course``).

    One row per (subgroup, level, timepoint, measure) with n, denominator, value (a % or
    MME/day), lower, upper, definition, caveats. Measures: on_opioids (% of observed
    patients), median_mme_all, median_mme_on_opioids, above_50_mme, above_90_mme (% at or
    above), buprenorphine (% on buprenorphine, excluded from MME), reduction_50 (% of those
    on opioids at baseline with a >= 50% lower MME), discontinued (% of those on opioids at
    baseline with none).
    """
    m = mme.filter(pl.col("observed")).pipe(attach_groups, groups)
    on_base = pl.col("baseline_mme") > 0
    k = ["subgroup", "level", "timepoint", "day"]
    on = pl.col("daily_mme").filter(pl.col("daily_mme") > 0)
    g = level_agg(
        m,
        by,
        ["timepoint", "day"],
        [
            pl.len().alias("_n"),
            pl.col("on_opioids").sum().alias("_on"),
            (pl.col("daily_mme") >= 50).sum().alias("_a50"),
            (pl.col("daily_mme") >= 90).sum().alias("_a90"),
            pl.col("buprenorphine").sum().alias("_bup"),
            on_base.sum().alias("_base_on"),
            (on_base & (pl.col("reduction_pct") >= 50)).sum().alias("_red"),
            (on_base & (pl.col("daily_mme") == 0)).sum().alias("_disc"),
            pl.col("daily_mme").median().alias("median_mme_all"),
            on.median().alias("median_mme_on_opioids"),
            on.quantile(0.25).alias("_q1"),
            on.quantile(0.75).alias("_q3"),
        ],
    )
    table = settings.mme_table
    share = [
        (
            "on_opioids",
            "_on",
            "_n",
            f"share of observed patients with any MME-counted opioid active ({table})",
        ),
        ("above_50_mme", "_a50", "_n", ">= 50 MME/day (CDC 2022: reassess)"),
        ("above_90_mme", "_a90", "_n", ">= 90 MME/day (CDC 2022: avoid or justify)"),
        (
            "buprenorphine",
            "_bup",
            "_n",
            "buprenorphine active (no CDC 2022 factor: excluded from MME, counted here)",
        ),
        ("reduction_50", "_red", "_base_on", "on opioids at baseline and >= 50% lower daily MME"),
        ("discontinued", "_disc", "_base_on", "on opioids at baseline and none at this timepoint"),
    ]
    pieces = []
    for name, num, den, words in share:
        p = g.select(
            *k,
            measure=pl.lit(name),
            n=pl.col(num).cast(pl.Int64),
            denominator=pl.col(den).cast(pl.Int64),
            definition=pl.lit(words),
        )
        p = p.filter(
            ~((pl.col("day") == 0) & pl.col("measure").is_in(["reduction_50", "discontinued"]))
        )
        p = intervals.with_proportion(p, "n", "denominator", settings.confidence_level)
        pieces.append(
            p.with_columns((pl.col(x) * 100).alias(x) for x in ("rate", "lower", "upper"))
            .rename({"rate": "value"})
            .with_columns(unit=pl.lit("%"))
        )
    for name, words in (
        ("median_mme_all", "median daily MME among observed patients (0 when none)"),
        (
            "median_mme_on_opioids",
            "median daily MME among those on MME-counted opioids (IQR as lower-upper)",
        ),
    ):
        pieces.append(
            g.select(
                *k,
                measure=pl.lit(name),
                n=pl.col("_on").cast(pl.Int64)
                if name.endswith("opioids")
                else pl.col("_n").cast(pl.Int64),
                denominator=pl.col("_n").cast(pl.Int64),
                definition=pl.lit(words),
                value=pl.col(name),
                lower=pl.col("_q1") if name.endswith("opioids") else pl.lit(None, pl.Float64),
                upper=pl.col("_q3") if name.endswith("opioids") else pl.lit(None, pl.Float64),
                unit=pl.lit("MME/day"),
            )
        )
    out = pl.concat(pieces, how="diagonal_relaxed")
    return (
        out.with_columns(
            definition=pl.concat_str(
                [
                    pl.col("definition"),
                    pl.lit(f"; MME table {table}; timepoint day after first dose: "),
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
        .select(
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


def cost_summary(
    cost: pl.DataFrame,
    responders: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    prepared: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Cost per patient treated and per responder where the export carries cost.

    ``cost``: ``outcomes.cost_per_patient``; ``responders``: patient_id, responder (primary
    instrument, end of induction); ``prepared``: their ``cost_frame``, to reuse across calls
    (``cost`` and ``responders`` are then not read). Columns: subgroup, level, measure, n,
    denominator, value (USD), definition, caveats. Patients without any cost are left out
    (stated)."""
    c = prepared
    if c is None:
        c = (
            groups.filter(pl.col("dosed"))
            .select("patient_id", *([by] if by else []))
            .join(cost, on="patient_id", how="left")
            .join(responders, on="patient_id", how="left")
        )
    g = level_agg(
        c,
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
            measure=pl.lit("total_cost"),
            n=pl.col("_costed"),
            denominator=pl.col("_treated"),
            value=pl.col("_total"),
            definition=pl.lit("sum of exported session charges, dosed patients"),
            _cov=cov,
        ),
        g.select(
            "subgroup",
            "level",
            measure=pl.lit("cost_per_patient_treated"),
            n=pl.col("_costed"),
            denominator=pl.col("_costed"),
            value=pl.when(pl.col("_costed") > 0).then(pl.col("_total") / pl.col("_costed")),
            definition=pl.lit("total charges / dosed patients with cost data"),
            _cov=cov,
        ),
        g.select(
            "subgroup",
            "level",
            measure=pl.lit("median_cost_per_patient"),
            n=pl.col("_costed"),
            denominator=pl.col("_costed"),
            value=pl.col("_median"),
            definition=pl.lit("median total charges per dosed patient with cost data"),
            _cov=cov,
        ),
        g.select(
            "subgroup",
            "level",
            measure=pl.lit("cost_per_responder"),
            n=pl.col("_resp"),
            denominator=pl.col("_costed"),
            value=pl.when(pl.col("_resp") > 0).then(pl.col("_total") / pl.col("_resp")),
            definition=pl.lit(
                "total charges / end-of-induction responders on the primary "
                "instrument (patients with cost data)"
            ),
            _cov=cov,
        ),
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
