"""Response and remission at the end of induction: responder, substantial improvement,
remission, MCID and reliable improvement rates with Wilson intervals, among evaluable patients
(with a baseline) and the intention-to-treat population (every dosed patient)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kapoutcomes.cohort.groups import (
    GROUP_DIMENSIONS,
    attach_groups,
    caveat_expr,
    level_agg,
    rollup,
)
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change
from kapoutcomes.outcomes.rules import response_rules
from kapoutcomes.stats.intervals import with_proportion

MEASURES = ("response", "substantial", "remission", "mcid_improved", "reliable_improvement")


def itt_population(
    groups: pl.DataFrame,
    assessments: pl.DataFrame,
    settings: Settings,
    instruments_: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Intention-to-treat population per instrument: patient_id, instrument for every dosed
    patient and every instrument with a response or remission rule recorded in the data;
    depression instruments only for patients with comorbid depression at intake or any score
    on that instrument. ``instruments_``: the instruments recorded (default: those with a
    total in ``assessments``; pass the whole cohort's when computing for a part of it)."""
    rules = response_rules(settings).filter(
        pl.col("response_pct").is_not_null()
        | pl.col("remission_below").is_not_null()
        | pl.col("remission_at_or_below").is_not_null()
        | pl.col("mcid").is_not_null()
        | pl.col("reliability").is_not_null()
    )
    tot = change.totals(assessments)
    present = (
        tot.select("instrument").unique()
        if instruments_ is None
        else pl.DataFrame({"instrument": list(instruments_)}, schema={"instrument": pl.String})
    )
    inst = rules.join(present, on="instrument", how="inner").select("instrument", "domain")
    dosed = groups.filter(pl.col("dosed")).select("patient_id", "comorbid_depression")
    dep = inst.filter(pl.col("domain") == "depression").get_column("instrument").to_list()
    scored = (
        tot.filter(pl.col("instrument").is_in(dep))
        .select("patient_id", "instrument")
        .unique()
        .with_columns(_scored=pl.lit(True))
    )
    grid = dosed.join(inst, how="cross").join(scored, on=["patient_id", "instrument"], how="left")
    return (
        grid.filter(
            (pl.col("domain") != "depression")
            | pl.col("comorbid_depression")
            | pl.col("_scored").fill_null(False)
        )
        .select("patient_id", "instrument")
        .sort("patient_id", "instrument")
    )


def with_baseline_flag(itt: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """The ``itt_population`` rows with ``has_baseline`` from ``base``."""
    return itt.join(
        base.select("patient_id", "instrument", "has_baseline"),
        on=["patient_id", "instrument"],
        how="left",
    )


_COL = {"response": "responder"}
#: the count columns of ``response_counts``: "{measure}|n" (meeting it), "{measure}|d" (known)
COUNT_COLUMNS = tuple(f"{m}|{x}" for m in MEASURES for x in ("n", "d"))


def response_counts(eoi: pl.DataFrame) -> pl.DataFrame:
    """The end-of-induction rows as counts (``COUNT_COLUMNS``, 0 or 1) beside patient_id,
    instrument and any comparison dimensions: summable, so they are summed per cell
    (``groups.rollup``) before ``response_rates_from_cells`` counts them."""
    keep = [c for c in ("patient_id", *GROUP_DIMENSIONS, "instrument") if c in eoi.columns]
    counts = []
    for m in MEASURES:
        c = pl.col(_COL.get(m, m))
        counts += [
            c.cast(pl.Int64).fill_null(0).alias(f"{m}|n"),
            c.is_not_null().cast(pl.Int64).alias(f"{m}|d"),
        ]
    return eoi.select(*keep, *counts)


def itt_counts(itt: pl.DataFrame) -> pl.DataFrame:
    """The ITT rows (``with_baseline_flag``) with ``missing_baseline`` (0 or 1) beside
    patient_id, instrument and any comparison dimensions (summable per cell, like
    ``response_counts``)."""
    keep = [c for c in ("patient_id", *GROUP_DIMENSIONS, "instrument") if c in itt.columns]
    return itt.select(
        *keep, missing_baseline=(~pl.col("has_baseline").fill_null(False)).cast(pl.Int64)
    )


def response_rates(
    eoi: pl.DataFrame,
    itt: pl.DataFrame,
    base: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """End-of-induction response rates from the patients' rows: ``eoi`` the end-of-induction
    changes, ``itt`` the ``itt_population`` and ``base`` its baselines; counted, summed per
    cell and passed to ``response_rates_from_cells`` (the same figures)."""
    counts = rollup(attach_groups(response_counts(eoi), groups), ["instrument"], COUNT_COLUMNS)
    itt_cells = rollup(
        attach_groups(itt_counts(with_baseline_flag(itt, base)), groups),
        ["instrument"],
        ["missing_baseline"],
    )
    return response_rates_from_cells(counts, itt_cells, settings, by)


def _by_measure(cells: pl.DataFrame, by: str | None) -> pl.DataFrame:
    """Patients meeting each measure (n) and known for it (denominator) per subgroup, level,
    instrument and measure, from ``response_counts`` cells (rows with a denominator only)."""
    wide = level_agg(
        cells, by, ["instrument"], [pl.col(c).sum().cast(pl.Int64) for c in COUNT_COLUMNS]
    )
    return pl.concat(
        [
            wide.select(
                "subgroup",
                "level",
                "instrument",
                n=pl.col(f"{m}|n"),
                denominator=pl.col(f"{m}|d"),
                measure=pl.lit(m),
            )
            for m in MEASURES
        ]
    ).filter(pl.col("denominator") > 0)


def _measure_definition(settings: Settings) -> pl.Expr:
    """Each row's definition in words: the measure's threshold, then what end of induction,
    evaluable and ITT mean (needs the ``response_rules`` columns on the row)."""
    at_end = "at the end of induction"
    measure = (
        pl.when(pl.col("measure") == "response")
        .then(pl.format(f"reduction from baseline >= {{}}% {at_end}", pl.col("response_pct")))
        .when(pl.col("measure") == "substantial")
        .then(pl.format(f"reduction from baseline >= {{}}% {at_end}", pl.col("substantial_pct")))
        .when((pl.col("measure") == "remission") & pl.col("remission_below").is_not_null())
        .then(pl.format(f"score < {{}} {at_end}", pl.col("remission_below")))
        .when(pl.col("measure") == "remission")
        .then(pl.format(f"score <= {{}} {at_end}", pl.col("remission_at_or_below")))
        .when(pl.col("measure") == "mcid_improved")
        .then(pl.format(f"improvement >= {{}} points (MCID) {at_end}", pl.col("mcid")))
        .otherwise(
            pl.format(
                "reliable improvement (Jacobson & Truax RCI < -1.96, r = {})", pl.col("reliability")
            )
        )
    )
    end_def = (
        f"; end of induction = first score after the last infusion of the first course, within "
        f"{settings.end_of_induction_window_days} days; evaluable = baseline (last score within "
        f"{settings.baseline_window_days} days before the first dose) and an end-of-induction "
        "score; ITT = every dosed patient (depression instruments: comorbid depression or any "
        "score), non-evaluable counted as not meeting it"
    )
    return pl.concat_str([measure, pl.lit(end_def)])


def _response_caveats(settings: Settings) -> pl.Expr:
    miss_pct = pl.when(pl.col("itt_denominator") > 0).then(
        100.0 * pl.col("missing_baseline") / pl.col("itt_denominator")
    )
    return caveat_expr(
        pl.col("denominator"),
        settings,
        pl.when(miss_pct > settings.missing_baseline_caveat_pct).then(
            pl.format("{}% of the ITT population lack a baseline", miss_pct.round(0))
        ),
        pl.when(pl.col("denominator") < 0.5 * pl.col("itt_denominator")).then(
            pl.lit("fewer than half of the ITT population are evaluable")
        ),
    )


RATE_COLUMNS = (
    "subgroup",
    "level",
    "instrument",
    "measure",
    "n",
    "denominator",
    "itt_denominator",
    "rate",
    "lower",
    "upper",
    "itt_rate",
    "itt_lower",
    "itt_upper",
    "missing_baseline",
    "definition",
    "caveats",
)


def response_rates_from_cells(
    counts: pl.DataFrame, itt: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """End-of-induction response, substantial improvement, remission, MCID and reliable
    improvement rates by instrument, among evaluable patients (baseline and an
    end-of-induction score) and intention-to-treat (every dosed patient in ``itt``;
    non-evaluable counted as non-responders), with Wilson intervals.

    ``counts``: the ``groups.rollup`` cells of ``response_counts`` (keys ["instrument"], sums
    ``COUNT_COLUMNS``); ``itt``: those of ``itt_counts`` (sums ["missing_baseline"]); both
    carry the comparison dimensions. Columns (``RATE_COLUMNS``): subgroup, level, instrument,
    measure, n (patients meeting it), denominator (evaluable), itt_denominator, rate, lower,
    upper, itt_rate, itt_lower, itt_upper, missing_baseline, definition, caveats.
    """
    rules = response_rules(settings)
    i = level_agg(
        itt,
        by,
        ["instrument"],
        [
            pl.col("rows").sum().alias("itt_denominator"),
            pl.col("missing_baseline").sum().cast(pl.Int64),
        ],
    )
    r = (
        _by_measure(counts, by)
        .join(i, on=["subgroup", "level", "instrument"], how="left")
        .with_columns(
            pl.col("itt_denominator").fill_null(0), pl.col("missing_baseline").fill_null(0)
        )
        .join(
            rules.select(
                "instrument",
                "response_pct",
                "substantial_pct",
                "remission_below",
                "remission_at_or_below",
                "mcid",
                "reliability",
            ),
            on="instrument",
            how="left",
        )
    )
    r = r.with_columns(
        definition=_measure_definition(settings), caveats=_response_caveats(settings)
    ).sort("subgroup", "level", "instrument", "measure")
    r = with_proportion(r, "n", "denominator", settings.confidence_level)
    r = with_proportion(r, "n", "itt_denominator", settings.confidence_level, prefix="itt_")
    return r.select(RATE_COLUMNS)
