from __future__ import annotations

import datetime as dt

from kapoutcomes import tables
from kapoutcomes.activity import cohort_size, sessions_by_month


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
