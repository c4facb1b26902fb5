"""Cohort filters cut every table to the same patients."""

from __future__ import annotations

import datetime as dt

from kapoutcomes.cohort.filters import CohortFilter, apply, choices, patient_attributes, start_range
from tests.builders import PID, PID2


def test_no_filter_keeps_everything(small_tables):
    out = apply(small_tables, CohortFilter())
    assert {k: v.height for k, v in out.items()} == {k: v.height for k, v in small_tables.items()}


def test_clinic_filter_cuts_every_table(small_tables):
    out = apply(small_tables, CohortFilter(clinics=("Lakeshore",)))
    for name, df in out.items():
        assert set(df.get_column("patient_id").to_list()) <= {PID2}, name
    assert out["patients"].height == 1
    assert out["adverse_events"].height == 0  # the only event belongs to the other patient


def test_attributes_and_choices(small_tables):
    attrs = patient_attributes(small_tables)
    assert attrs.get_column("patient_id").to_list() == sorted([PID, PID2])
    assert attrs.get_column("route").to_list() == ["IV", "IV"]
    c = choices(small_tables)
    assert c["clinics"] == ["Lakeshore", "Riverside"]
    assert start_range(small_tables) == (dt.date(2024, 2, 1), dt.date(2024, 2, 1))


def test_date_filter(small_tables):
    assert apply(small_tables, CohortFilter(start_from=dt.date(2024, 3, 1)))["patients"].height == 0
    assert apply(small_tables, CohortFilter(start_to=dt.date(2024, 3, 1)))["patients"].height == 2
    assert "treatment start" in CohortFilter(start_to=dt.date(2024, 3, 1)).describe()
