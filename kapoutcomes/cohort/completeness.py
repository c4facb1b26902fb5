"""Data completeness: scores recorded at dosing sessions, missing baselines, follow-up.

``completeness_items`` builds one row per thing that could be complete (a dosing session, a
dosed patient's baseline, a dosed patient's follow-up at day d) with a boolean ``complete``;
``completeness`` counts them, overall or by a comparison dimension.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from kapoutcomes.cohort.groups import attach_groups, caveat_expr, level_agg
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change
from kapoutcomes.outcomes.dosing import days_between, dosing_sessions
from kapoutcomes.stats.intervals import with_proportion

FOLLOW_UP_DAYS = (28, 91, 183)

_SCHEMA = {
    "subgroup": pl.String,
    "level": pl.String,
    "measure": pl.String,
    "instrument": pl.String,
    "n": pl.Int64,
    "denominator": pl.Int64,
    "rate": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "definition": pl.String,
    "caveats": pl.String,
}


def _sessions_with_score(dos: pl.DataFrame, scores: pl.DataFrame, inst: str) -> pl.DataFrame:
    """Per patient: dosing sessions (denominator) and those with a total of ``inst`` linked
    to the session or recorded the same day (n)."""
    # dosing sessions with a score linked to them, then those with one the same day only
    # (few: joined from their side)
    is_linked = pl.col("session_id").is_in(scores.get_column("session_id").drop_nulls().implode())
    flagged = dos.with_columns(_linked=is_linked)
    linked = flagged.filter(pl.col("_linked"))
    same_day = (
        flagged.filter(~pl.col("_linked"))
        .join(
            scores.select("patient_id", day=pl.col("assessed_at").dt.date()),
            on=["patient_id", "day"],
            how="inner",
        )
        .unique("session_id")
    )
    scored = (
        pl.concat([linked.select("patient_id"), same_day.select("patient_id")])
        .group_by("patient_id")
        .agg(n=pl.len())
    )
    per_patient = dos.group_by("patient_id").agg(denominator=pl.len())
    return per_patient.join(scored, on="patient_id", how="left").select(
        "patient_id",
        instrument=pl.lit(inst),
        measure=pl.lit("sessions_with_score"),
        n=pl.col("n").fill_null(0),
        denominator="denominator",
    )


def _no_baseline(base: pl.DataFrame, inst: str) -> pl.DataFrame:
    """One item per dosed patient, counted when the baseline of ``inst`` is missing."""
    return base.filter(pl.col("instrument") == inst).select(
        "patient_id",
        instrument=pl.lit(inst),
        measure=pl.lit("no_baseline"),
        n=(~pl.col("has_baseline")).cast(pl.Int64),
        denominator=pl.lit(1, pl.Int64),
    )


def _follow_up(
    scores: pl.DataFrame,
    first_doses: pl.DataFrame,
    as_of: dt.datetime,
    inst: str,
    follow_up_days: Sequence[int],
) -> list[pl.DataFrame]:
    """For each day d: one item per dosed patient whose first dose is at least d days before
    ``as_of``, complete with a score of ``inst`` on or after day d."""
    avail = first_doses.with_columns(_avail=days_between(pl.lit(as_of), pl.col("first_dose_at")))
    # days from the first dose to the latest score (the latest score is the furthest)
    last = (
        scores.group_by("patient_id")
        .agg(_last=pl.col("assessed_at").max())
        .join(first_doses, on="patient_id", how="inner")
        .select("patient_id", _maxd=days_between(pl.col("_last"), pl.col("first_dose_at")))
    )
    g = avail.join(last, on="patient_id", how="left")
    return [
        g.filter(pl.col("_avail") >= d).select(
            "patient_id",
            instrument=pl.lit(inst),
            measure=pl.lit(f"follow_up_day_{d}"),
            n=(pl.col("_maxd") >= d).fill_null(False).cast(pl.Int64),
            denominator=pl.lit(1, pl.Int64),
        )
        for d in follow_up_days
    ]


def completeness_items(
    sessions: pl.DataFrame,
    assessments: pl.DataFrame,
    base: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    as_of: dt.datetime,
    instruments_: Sequence[str] = ("pain_nrs", "phq9"),
    follow_up_days: Sequence[int] = FOLLOW_UP_DAYS,
    recorded: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Per patient, instrument and measure: n (items complete) and denominator (items).

    * ``sessions_with_score``: the patient's dosing sessions, complete when a total of the
      instrument is linked to the session or recorded the same day;
    * ``no_baseline``: the dosed patient (1 item), counted when the baseline is missing;
    * ``follow_up_day_{d}``: dosed patients whose first dose is at least d days before
      ``as_of`` (1 item), complete with a score on or after day d.

    Instruments without any total in ``assessments`` are left out; ``recorded`` (the
    instruments with a total in the whole cohort) decides that instead when given.
    """
    schema = {
        "patient_id": groups.schema.get("patient_id", pl.String),
        "instrument": pl.String,
        "measure": pl.String,
        "n": pl.Int64,
        "denominator": pl.Int64,
    }
    dos = dosing_sessions(sessions).select(
        "patient_id", "session_id", day=pl.col("started_at").dt.date()
    )
    t = (
        change.totals(assessments, include_after_dose=True)
        .filter(pl.col("instrument").is_in(list(instruments_)))
        .select("patient_id", "instrument", "session_id", "assessed_at")
    )
    present = sorted(
        t.get_column("instrument").unique().to_list()
        if recorded is None
        else set(recorded) & set(instruments_)
    )
    fd = groups.filter(pl.col("dosed")).select("patient_id", "first_dose_at")
    pieces = []
    for inst in present:
        ti = t.filter(pl.col("instrument") == inst)
        pieces.append(_sessions_with_score(dos, ti, inst))
        pieces.append(_no_baseline(base, inst))
        pieces += _follow_up(ti, fd, as_of, inst, follow_up_days)
    if not pieces:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.select([pl.col(c).cast(tp) for c, tp in schema.items()]) for p in pieces])


def _definition(settings: Settings) -> pl.Expr:
    m, i = pl.col("measure"), pl.col("instrument")
    day = m.str.extract(r"follow_up_day_(\d+)")
    return (
        pl.when(m == "sessions_with_score")
        .then(
            pl.format("dosing sessions with a {} total linked to the session or on the same day", i)
        )
        .when(m == "no_baseline")
        .then(
            pl.format(
                "dosed patients without a {} baseline within {} days before the first dose",
                i,
                pl.lit(settings.baseline_window_days),
            )
        )
        .otherwise(
            pl.format(
                "a {} score on or after day {} after the first dose, among patients whose first "
                "dose was at least {} days before the data end",
                i,
                day,
                day,
            )
        )
    )


def completeness(
    items: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Counts of ``completeness_items`` (per patient, or their ``groups.rollup`` cells): subgroup, level, measure, instrument, n (complete;
    for no_baseline: missing), denominator, rate, lower, upper (Wilson), definition,
    caveats."""
    if items.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    x = attach_groups(items, groups)
    out = (
        level_agg(
            x,
            by,
            ["measure", "instrument"],
            [
                pl.col("n").sum().cast(pl.Int64),
                pl.col("denominator").sum().cast(pl.Int64),
            ],
        )
        .with_columns(definition=_definition(settings))
        .sort("subgroup", "level", "instrument", "measure")
    )
    out = with_proportion(out, "n", "denominator", settings.confidence_level)
    return out.with_columns(caveats=caveat_expr(pl.col("denominator"), settings)).select(
        list(_SCHEMA)
    )
