"""The induction series: each patient's induction courses (an induction infusion long after
the previous one starts a new course), whether each course completed, and the scores at the
end of induction with response measured against baseline."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import days_between, dosing_sessions


def induction_series(sessions: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Induction courses per patient: an induction infusion more than
    ``settings.induction_max_gap_days`` after the previous one starts a new course.

    Columns: patient_id, course (1, 2, ...), induction_start, induction_end (start of the last
    infusion), last_session_id, infusions, completed (infusions >=
    ``settings.induction_complete_infusions``), span_days.
    """
    ind = dosing_sessions(sessions).filter(pl.col("session_type") == "induction")
    # sorted by patient and time: new patient or a long gap starts a course (no window
    # functions needed on sorted input)
    new_patient = (pl.col("patient_id") != pl.col("patient_id").shift(1)).fill_null(True)
    gap = days_between(pl.col("started_at"), pl.col("started_at").shift(1))
    new_course = new_patient | (gap > settings.induction_max_gap_days).fill_null(True)
    ind = ind.select(
        "patient_id",
        "started_at",
        "session_id",
        _new_patient=new_patient,
        _cg=new_course.cast(pl.UInt32).cum_sum().set_sorted(),
    ).with_columns(_first_cg=pl.when(pl.col("_new_patient")).then(pl.col("_cg")).forward_fill())
    out = (
        ind.group_by("_cg")
        .agg(
            patient_id=pl.col("patient_id").first(),
            course=(pl.col("_cg").first() - pl.col("_first_cg").first() + 1).cast(pl.Int32),
            induction_start=pl.col("started_at").first(),
            induction_end=pl.col("started_at").last(),
            last_session_id=pl.col("session_id").last(),
            infusions=pl.len().cast(pl.Int32),
        )
        .sort("_cg")
        .drop("_cg")
    )
    return out.with_columns(
        completed=pl.col("infusions") >= settings.induction_complete_infusions,
        span_days=days_between(pl.col("induction_end"), pl.col("induction_start")),
    )


def end_of_induction(
    change: pl.DataFrame, induction: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """End-of-induction response per patient and instrument: the first assessment after the
    last infusion of the first induction course (not in that session) and at most
    ``settings.end_of_induction_window_days`` days after it.

    Columns: patient_id, instrument, induction_end, completed, plus the ``changes`` columns
    of that assessment (no row when there is none: the patient is not evaluable).
    """
    first = induction.filter(pl.col("course") == 1).select(
        "patient_id", "induction_end", "last_session_id", "completed"
    )
    # find the rows on the key columns only, then take just those rows of ``change``
    hit = (
        change.select("patient_id", "instrument", "assessed_at", "session_id")
        .with_row_index("_row")
        .join(first, on="patient_id", how="inner")
        .filter(
            (pl.col("assessed_at") > pl.col("induction_end"))
            & (pl.col("session_id") != pl.col("last_session_id")).fill_null(True)
            & (
                pl.col("assessed_at")
                <= pl.col("induction_end") + pl.duration(days=settings.end_of_induction_window_days)
            )
        )
        .sort("patient_id", "instrument", "assessed_at")
        .unique(["patient_id", "instrument"], keep="first", maintain_order=True)
    )
    return pl.concat(
        [change[hit.get_column("_row")], hit.select("induction_end", "completed")],
        how="horizontal",
    )


def end_of_induction_due(
    groups: pl.DataFrame, induction: pl.DataFrame, settings: Settings, as_of: dt.datetime
) -> pl.DataFrame:
    """Whether each dosed patient's end-of-induction window has closed by ``as_of`` (the data
    end): the window closes ``settings.end_of_induction_window_days`` after the last infusion
    of the first induction course (after the first dose for a patient without an induction
    infusion). A patient who stopped during induction is due that many days after their last
    infusion; a patient whose window is still open is "not yet due" (neither a responder nor
    a non-responder yet).

    ``groups``: ``cohort.groups.patient_groups`` (patient_id, dosed, first_dose_at).
    Columns: patient_id, completed (the first course reached
    ``settings.induction_complete_infusions`` infusions), window_closes_at, due.
    """
    first = induction.filter(pl.col("course") == 1).select(
        "patient_id", "induction_end", "completed"
    )
    window = pl.duration(days=settings.end_of_induction_window_days)
    return (
        groups.filter(pl.col("dosed"))
        .select("patient_id", "first_dose_at")
        .join(first, on="patient_id", how="left")
        .select(
            "patient_id",
            completed=pl.col("completed").fill_null(False),
            window_closes_at=pl.coalesce("induction_end", "first_dose_at") + window,
        )
        .with_columns(due=pl.col("window_closes_at") <= pl.lit(as_of))
        .sort("patient_id")
    )
