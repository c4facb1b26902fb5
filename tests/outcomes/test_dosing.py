"""Dosing sessions, first doses and days between events, worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.outcomes import dosing
from tests.builders import D0, induction, session, tables_of


def test_dosing_sessions_keep_doses_only_and_number_them_per_patient():
    # patient 1: induction days 0, 2 and a booster day 30, plus a non-dosing integration
    # session on day 5; patient 2: one induction infusion on day 1.
    t = tables_of(
        sessions=[
            *induction(1, [0, 2]),
            session(1, 30, "booster", 2),
            session(1, 5, "integration", 3),
            session(2, 1, "induction", 0),
        ]
    )
    d = dosing.dosing_sessions(t["sessions"])
    assert d.get_column("session_type").to_list() == [
        "induction",
        "induction",
        "booster",
        "induction",
    ]
    assert d.get_column("dose_no").to_list() == [1, 2, 3, 1]


def test_first_doses_per_patient():
    t = tables_of(sessions=[*induction(1, [0, 2, 4]), session(2, 7, "induction", 0)])
    f = dosing.first_doses(t["sessions"]).sort("patient_id")
    assert f.get_column("doses").to_list() == [3, 1]
    assert f.get_column("first_dose_at").to_list() == [D0, D0 + dt.timedelta(days=7)]
    assert f.get_column("last_dose_at").to_list() == [
        D0 + dt.timedelta(days=4),
        D0 + dt.timedelta(days=7),
    ]


def test_days_between_is_fractional():
    f = pl.DataFrame({"a": [D0 + dt.timedelta(hours=36)], "b": [D0]})
    assert f.select(dosing.days_between(pl.col("a"), pl.col("b"))).item() == 1.5
