"""Response and remission at the end of induction: responder, substantial improvement,
remission, MCID and reliable improvement rates with Wilson intervals.

Who each rate is about (``measure_population``): patients who started treatment, with a
baseline in the instrument's elevated range (eligible), whose end-of-induction window has
closed by the data end (due). Among them: evaluable (an end-of-induction score),
intention-to-treat (all of them) and completers of the induction series. Everyone left out
is counted beside the rate with the reason (no baseline, not eligible, not yet due)."""

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
from kapoutcomes.outcomes.change import AFTER_DOSE_NOTE
from kapoutcomes.outcomes.rules import eligible_expr, response_rules
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


#: what ``measure_population`` says of each patient and instrument (column ``status``)
STATUSES = ("no baseline", "not eligible", "not yet due", "due")


def measure_population(
    itt: pl.DataFrame, base: pl.DataFrame, due: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """Who each end-of-induction measure is about: the ``itt_population`` rows (patients who
    started treatment, per instrument) with their baseline, eligibility and whether their
    end-of-induction window has closed.

    A patient is *eligible* with a baseline in the instrument's elevated range (at or above
    ``rules.baseline_min``: PHQ-9 >= 10 as in HEDIS DRR-E and NQF 0710, pain >= 4/10 as in
    IMMPACT trials, ...; for an instrument without a cut-off, any baseline better than the
    best possible score); remission, response and every other measure need a baseline. An
    eligible patient is *due* once the window has closed by the data end
    (``induction.end_of_induction_due``).

    ``due``: ``induction.end_of_induction_due``. Columns: patient_id, instrument (and any
    comparison dimensions of ``itt``), baseline_score, eligible, due, completed, status (one
    of ``STATUSES``: no baseline, not eligible, not yet due, due).
    """
    rules = response_rules(settings).select("instrument", "eligible_from", "best_score")
    b = pl.col("baseline_score")
    out = (
        itt.drop("has_baseline", strict=False)
        .join(
            base.select("patient_id", "instrument", "baseline_score"),
            on=["patient_id", "instrument"],
            how="left",
        )
        .join(rules, on="instrument", how="left")
        .join(due.select("patient_id", "completed", "due"), on="patient_id", how="left")
        .with_columns(
            eligible=eligible_expr(),
            due=pl.col("due").fill_null(False),
            completed=pl.col("completed").fill_null(False),
        )
    )
    status = (
        pl.when(b.is_null())
        .then(pl.lit("no baseline"))
        .when(~pl.col("eligible"))
        .then(pl.lit("not eligible"))
        .when(~pl.col("due"))
        .then(pl.lit("not yet due"))
        .otherwise(pl.lit("due"))
    )
    return out.with_columns(status=status).drop("eligible_from", "best_score")


_COL = {"response": "responder"}
#: the per-instrument population counts of ``response_counts`` (0 or 1 per patient row):
#: started treatment (rows), no baseline, baseline outside the eligible range, eligible but
#: the window still open, the ITT population (eligible and due) and its completers
POPULATION_COLUMNS = (
    "missing_baseline",
    "not_eligible",
    "not_yet_due",
    "itt",
    "completers_itt",
)
#: the count columns of ``response_counts``: "{measure}|n" (meeting it), "{measure}|d"
#: (evaluable for it), "{measure}|cn" / "{measure}|cd" (the same among completers), then
#: ``POPULATION_COLUMNS``
COUNT_COLUMNS = (
    *(f"{m}|{x}" for m in MEASURES for x in ("n", "d", "cn", "cd")),
    *POPULATION_COLUMNS,
)


def response_counts(eoi: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """One row per patient and instrument of ``population`` (``measure_population``) with
    ``COUNT_COLUMNS`` (0 or 1) beside patient_id, instrument and any comparison dimensions:
    summable, so they are summed per cell (``groups.rollup``) before
    ``response_rates_from_cells`` counts them. A patient is evaluable for a measure when
    eligible, due and the measure is known at the end of induction (``eoi``)."""
    keep = [c for c in ("patient_id", *GROUP_DIMENSIONS, "instrument") if c in population.columns]
    cols = [_COL.get(m, m) for m in MEASURES]
    e = eoi.select("patient_id", pl.col("instrument").cast(pl.String), *cols)
    p = population.with_columns(_inst=pl.col("instrument").cast(pl.String)).join(
        e.rename({"instrument": "_inst"}), on=["patient_id", "_inst"], how="left"
    )
    due = pl.col("status") == "due"
    done = due & pl.col("completed")
    counts = []
    for m, c in zip(MEASURES, cols, strict=True):
        known = due & pl.col(c).is_not_null()
        met = known & pl.col(c).fill_null(False)
        counts += [
            met.cast(pl.Int64).alias(f"{m}|n"),
            known.cast(pl.Int64).alias(f"{m}|d"),
            (met & pl.col("completed")).cast(pl.Int64).alias(f"{m}|cn"),
            (known & pl.col("completed")).cast(pl.Int64).alias(f"{m}|cd"),
        ]
    return p.select(
        *keep,
        *counts,
        missing_baseline=(pl.col("status") == "no baseline").cast(pl.Int64),
        not_eligible=(pl.col("status") == "not eligible").cast(pl.Int64),
        not_yet_due=(pl.col("status") == "not yet due").cast(pl.Int64),
        itt=due.cast(pl.Int64),
        completers_itt=done.cast(pl.Int64),
    )


def response_rates(
    eoi: pl.DataFrame,
    population: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """End-of-induction response rates from the patients' rows: ``eoi`` the end-of-induction
    changes, ``population`` the ``measure_population``; counted, summed per cell and passed
    to ``response_rates_from_cells`` (the same figures)."""
    counts = response_counts(eoi, attach_groups(population, groups))
    return response_rates_from_cells(rollup(counts, ["instrument"], COUNT_COLUMNS), settings, by)


def _defined(measure: str) -> pl.Expr:
    """Whether the instrument defines ``measure`` (needs the ``response_rules`` columns)."""
    return {
        "response": pl.col("response_pct").is_not_null(),
        "substantial": pl.col("substantial_pct").is_not_null(),
        "remission": pl.col("remission_below").is_not_null()
        | pl.col("remission_at_or_below").is_not_null(),
        "mcid_improved": pl.col("mcid").is_not_null(),
        "reliable_improvement": pl.col("reliability").is_not_null(),
    }[measure]


_RULE_COLUMNS = (
    "instrument",
    "response_pct",
    "substantial_pct",
    "remission_below",
    "remission_at_or_below",
    "mcid",
    "reliability",
    "eligible_from",
    "not_eligible_reason",
)


def _by_measure(cells: pl.DataFrame, by: str | None, settings: Settings) -> pl.DataFrame:
    """Per subgroup, level, instrument and measure (every measure the instrument defines,
    also when nobody is evaluable yet: 0 of 0, never a missing row): the counts of
    ``response_counts`` cells and the population counts, with the rules in force."""
    wide = level_agg(
        cells,
        by,
        ["instrument"],
        [pl.col("rows").sum().cast(pl.Int64).alias("started")]
        + [pl.col(c).sum().cast(pl.Int64) for c in COUNT_COLUMNS],
    ).join(response_rules(settings).select(_RULE_COLUMNS), on="instrument", how="left")
    return pl.concat(
        [
            wide.filter(_defined(m)).select(
                "subgroup",
                "level",
                "instrument",
                *POPULATION_COLUMNS,
                *_RULE_COLUMNS[1:],
                "started",
                n=pl.col(f"{m}|n"),
                denominator=pl.col(f"{m}|d"),
                completers_n=pl.col(f"{m}|cn"),
                completers_denominator=pl.col(f"{m}|cd"),
                measure=pl.lit(m),
            )
            for m in MEASURES
        ],
        how="diagonal_relaxed",
    )


def _measure_definition(settings: Settings) -> pl.Expr:
    """Each row's definition in words: the measure's threshold, who is eligible, then what
    end of induction, due, evaluable, ITT and completers mean (needs the ``response_rules``
    columns on the row)."""
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
    eligible = (
        pl.when(pl.col("eligible_from").is_not_null())
        .then(pl.format("; eligible = baseline >= {}", pl.col("eligible_from").round(1)))
        .otherwise(pl.lit("; eligible = a baseline better than the best possible score"))
    )
    end_def = (
        f"; baseline = last score within {settings.baseline_window_days} days before the "
        "first dose (no baseline = not eligible); due = the end-of-induction window has "
        f"closed by the data end ({settings.end_of_induction_window_days} days after the last "
        "infusion of the first course); end of induction = first score after that infusion "
        "within the window; evaluable = eligible, due and an end-of-induction score; ITT = "
        "every eligible, due patient who started treatment (depression instruments: "
        "comorbid depression or any score), non-evaluable counted as not meeting it; "
        f"completers = first course of at least {settings.induction_complete_infusions} "
        f"infusions; {AFTER_DOSE_NOTE}"
    )
    return pl.concat_str([measure, eligible, pl.lit(end_def)])


def _excluded() -> pl.Expr:
    """The patients who started but are outside the ITT denominator, in words: "42 not
    eligible: baseline PHQ-9 below 10; 3 without a baseline; 5 not yet due"."""
    parts = [
        pl.when(pl.col("not_eligible") > 0).then(
            pl.format("{} not eligible: {}", pl.col("not_eligible"), pl.col("not_eligible_reason"))
        ),
        pl.when(pl.col("missing_baseline") > 0).then(
            pl.format("{} without a baseline", pl.col("missing_baseline"))
        ),
        pl.when(pl.col("not_yet_due") > 0).then(
            pl.format("{} not yet due (end-of-induction window still open)", pl.col("not_yet_due"))
        ),
    ]
    return pl.concat_list([x.cast(pl.String) for x in parts]).list.drop_nulls().list.join("; ")


def _response_caveats(settings: Settings) -> pl.Expr:
    miss_pct = pl.when(pl.col("started") > 0).then(
        100.0 * pl.col("missing_baseline") / pl.col("started")
    )
    return caveat_expr(
        pl.col("denominator"),
        settings,
        pl.when(miss_pct > settings.missing_baseline_caveat_pct).then(
            pl.format("{}% of the patients who started lack a baseline", miss_pct.round(0))
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
    "completers_n",
    "completers_denominator",
    "completers_rate",
    "completers_lower",
    "completers_upper",
    "completers_itt_denominator",
    "started",
    "missing_baseline",
    "not_eligible",
    "not_eligible_reason",
    "not_yet_due",
    "eligible_from",
    "excluded",
    "definition",
    "caveats",
)


def response_rates_from_cells(
    counts: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """End-of-induction response, substantial improvement, remission, MCID and reliable
    improvement rates by instrument, with Wilson intervals, among the eligible patients
    whose end-of-induction window has closed: evaluable (an end-of-induction score),
    intention-to-treat (non-evaluable counted as not meeting it) and completers of the
    induction series (evaluable). Patients outside the ITT denominator are counted beside
    it (no baseline, not eligible with the reason, not yet due).

    ``counts``: the ``groups.rollup`` cells of ``response_counts`` (keys ["instrument"],
    sums ``COUNT_COLUMNS``), carrying the comparison dimensions. Columns
    (``RATE_COLUMNS``): subgroup, level, instrument, measure, n (patients meeting it),
    denominator (evaluable), itt_denominator, rate, lower, upper, itt_rate, itt_lower,
    itt_upper, completers_n, completers_denominator, completers_rate, completers_lower,
    completers_upper, completers_itt_denominator, started, missing_baseline, not_eligible,
    not_eligible_reason, not_yet_due, eligible_from, excluded (the last four in words),
    definition, caveats.
    """
    r = (
        _by_measure(counts, by, settings)
        .filter(pl.col("started") > 0)
        .rename({"itt": "itt_denominator", "completers_itt": "completers_itt_denominator"})
    )
    r = r.with_columns(
        definition=_measure_definition(settings),
        caveats=_response_caveats(settings),
        excluded=_excluded(),
    ).sort("subgroup", "level", "instrument", "measure")
    level = settings.confidence_level
    r = with_proportion(r, "n", "denominator", level)
    r = with_proportion(r, "n", "itt_denominator", level, prefix="itt_")
    r = with_proportion(r, "completers_n", "completers_denominator", level, prefix="completers_")
    return r.select(RATE_COLUMNS)
