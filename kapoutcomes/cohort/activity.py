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


def adverse_events_by_month(
    adverse_events: pl.DataFrame, sessions: pl.DataFrame, confidence_level: float = 0.95
) -> pl.DataFrame:
    """Adverse events per 100 dosing sessions by calendar month of the session they followed
    (events not linked to a session count in their onset month), with exact Poisson
    intervals: month, events, sessions, patients (dosed that month), per_100_sessions,
    per_100_lower, per_100_upper."""
    from kapoutcomes.stats import intervals

    dosing = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    month = pl.col("started_at").dt.truncate("1mo").dt.date().alias("month")
    exposure = dosing.group_by(month).agg(
        sessions=pl.len().cast(pl.Int64), patients=pl.col("patient_id").n_unique().cast(pl.Int64)
    )
    ev = adverse_events.join(
        sessions.select("session_id", "started_at"), on="session_id", how="left"
    ).select(pl.coalesce("started_at", "onset_at").dt.truncate("1mo").dt.date().alias("month"))
    events = ev.group_by("month").agg(events=pl.len().cast(pl.Int64))
    out = (
        exposure.join(events, on="month", how="full", coalesce=True)
        .with_columns(pl.col(c).fill_null(0) for c in ("events", "sessions", "patients"))
        .sort("month")
    )
    if out.height == 0:
        return out.with_columns(
            per_100_sessions=pl.lit(None, pl.Float64),
            per_100_lower=pl.lit(None, pl.Float64),
            per_100_upper=pl.lit(None, pl.Float64),
        )
    rate, lo, hi = intervals.poisson_rate_ci(
        out["events"].to_numpy(), out["sessions"].to_numpy(), confidence_level
    )
    return out.with_columns(
        per_100_sessions=pl.Series(rate, dtype=pl.Float64),
        per_100_lower=pl.Series(lo, dtype=pl.Float64),
        per_100_upper=pl.Series(hi, dtype=pl.Float64),
    )
