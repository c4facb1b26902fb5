"""Clinic activity: how many patients and sessions, and when."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables


@dataclass(frozen=True)
class CohortSize:
    patients: int
    clinics: int
    dosed_patients: int
    sessions: int
    dosing_sessions: int
    assessments: int
    first_session: str | None
    last_session: str | None


def cohort_size(t: dict[str, pl.DataFrame]) -> CohortSize:
    patients = t.get("patients", tables.empty("patients"))
    sessions = t.get("sessions", tables.empty("sessions"))
    dosing = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    first = sessions.get_column("started_at").min() if sessions.height else None
    last = sessions.get_column("started_at").max() if sessions.height else None
    return CohortSize(
        patients=patients.height,
        clinics=patients.get_column("clinic").n_unique() if patients.height else 0,
        dosed_patients=dosing.get_column("patient_id").n_unique() if dosing.height else 0,
        sessions=sessions.height,
        dosing_sessions=dosing.height,
        assessments=t.get("assessments", tables.empty("assessments")).height,
        first_session=None if first is None else str(first)[:10],
        last_session=None if last is None else str(last)[:10],
    )


def sessions_by_month(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Sessions per calendar month and session type: month (date), session_type, sessions."""
    sessions = t.get("sessions", tables.empty("sessions"))
    return (
        sessions.group_by(
            pl.col("started_at").dt.truncate("1mo").dt.date().alias("month"), "session_type"
        )
        .agg(pl.len().cast(pl.Int64).alias("sessions"))
        .sort("month", "session_type")
    )
