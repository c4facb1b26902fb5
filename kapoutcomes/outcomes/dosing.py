"""Dosing: which sessions are doses, each patient's first dose, and time between events.

A *dosing session* is a session whose type is induction, maintenance (scheduled) or booster
(unscheduled) (``tables.DOSING_TYPES``). The *first dose* is the earliest one. Days are
floating-point days between timestamps.
"""

from __future__ import annotations

import polars as pl

from kapoutcomes import tables

DAY_S = 86_400.0


def days_between(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    """(later - earlier) in floating-point days."""
    return (later - earlier).dt.total_seconds(fractional=True) / DAY_S


def dosing_sessions(sessions: pl.DataFrame) -> pl.DataFrame:
    """Dosing sessions only, sorted by patient and time, numbered per patient (``dose_no``).

    A frame that already went through this function (it has ``dose_no``) is returned as is,
    so callers may pass either the sessions table or its dosing sessions."""
    if "dose_no" in sessions.columns:
        return sessions
    d = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES)).sort(
        "patient_id", "started_at", "session_id"
    )
    # sorted by patient: a running count reset at each patient's first row (cum_count over
    # the patient without a window's hash table)
    seen = pl.col("started_at").is_not_null().cast(pl.UInt32)
    count = seen.cum_sum()
    new_patient = (pl.col("patient_id") != pl.col("patient_id").shift(1)).fill_null(True)
    before = pl.when(new_patient).then(count - seen).forward_fill()
    return d.with_columns(dose_no=count - before)


def first_doses(sessions: pl.DataFrame) -> pl.DataFrame:
    """Per dosed patient: first and last dose, number of dosing sessions, and the route, care
    model and clinician of the first dose."""
    d = dosing_sessions(sessions)
    return (
        d.group_by("patient_id")
        .agg(
            first_dose_at=pl.col("started_at").first(),
            first_session_id=pl.col("session_id").first(),
            last_dose_at=pl.col("started_at").last(),
            doses=pl.len(),
            route=pl.col("route").first(),
            care_model=pl.col("care_model").first(),
            clinician=pl.col("clinician").first(),
        )
        .sort("patient_id")
    )
