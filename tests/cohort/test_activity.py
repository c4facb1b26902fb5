from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort.activity import cohort_size, sessions_by_month


def test_cohort_size(small_tables):
    c = cohort_size(small_tables)
    assert (c.patients, c.clinics, c.dosed_patients, c.sessions, c.dosing_sessions) == (
        2,
        2,
        2,
        2,
        2,
    )
    assert c.first_session == "2024-02-01"


def test_sessions_by_month(small_tables):
    m = sessions_by_month(small_tables)
    assert m.to_dicts() == [
        {"month": dt.date(2024, 2, 1), "session_type": "induction", "sessions": 2}
    ]


def test_empty_cohort():
    empty = {name: tables.empty(name) for name in tables.MODELS}
    c = cohort_size(empty)
    assert c.patients == 0 and c.first_session is None
    assert sessions_by_month(empty).height == 0


def test_adverse_events_by_month(small_tables):
    from kapoutcomes.cohort.activity import adverse_events_by_month

    m = adverse_events_by_month(small_tables["adverse_events"], small_tables["sessions"])
    row = m.to_dicts()[0]
    # 1 event after 2 dosing sessions in February 2024: 50 per 100 sessions
    assert (row["events"], row["sessions"], row["per_100_sessions"]) == (1, 2, 50.0)
    assert (
        row["patients"]
        == small_tables["sessions"]
        .filter(pl.col("started_at").dt.strftime("%Y-%m") == "2024-02")
        .filter(pl.col("session_type").is_in(tables.DOSING_TYPES))["patient_id"]
        .n_unique()
    )
    # exact Poisson 95% interval for 1 event: 0.0253-5.572 events, per 2 sessions x 100
    assert row["per_100_lower"] == pytest.approx(1.266, abs=1e-3)
    assert row["per_100_upper"] == pytest.approx(278.6, abs=0.1)
