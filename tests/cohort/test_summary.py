"""The cohort summary (kapoutcomes.cohort.summary): ids encoded and decoded, the sections in
report order and the metadata, on the hand-worked maintenance patient (test_outcomes.py) and a
referred patient who was never dosed."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.cohort import summary
from kapoutcomes.definitions.settings import Settings
from tests.builders import D0, maintenance_patient, patient, pid, tables_of

S = Settings()


@pytest.fixture(scope="module")
def tabs():
    t = maintenance_patient(1)
    t["patients"] = pl.concat([t["patients"], tables_of([patient(2, "South")])["patients"]])
    return t


def test_encode_ids_and_decode_round_trip(tabs):
    enc, codes = summary.encode_ids(tabs)
    assert enc["patients"].schema["patient_id"] == pl.UInt64
    assert enc["sessions"].schema["session_id"] == pl.UInt64
    # one id, one code, in every table
    p1 = codes.patient_ids.filter(pl.col("id") == pid(1)).get_column("code")[0]
    assert set(enc["sessions"].get_column("patient_id")) == {p1}
    assert set(enc["assessments"].get_column("patient_id")) == {p1}
    # an empty session id stays empty
    assert enc["assessments"].get_column("session_id").null_count() == tabs["assessments"].height
    back = codes.decode(enc["sessions"])
    assert back.equals(tabs["sessions"])
    # frames without codes pass through
    assert codes.decode(tabs["patients"]).equals(tabs["patients"])


def test_sections_in_report_order_and_meta(tabs):
    s = summary.cohort_summary(tabs, S, comparisons=())
    assert tuple(s.sections) == summary.SECTIONS
    m = s.meta
    assert (m["patients"], m["dosed_patients"], m["clinics"]) == (2, 1, 2)
    assert (m["sessions"], m["assessments"], m["adverse_events"]) == (8, 10, 0)
    assert (m["first_session"], m["last_session"]) == (D0, D0 + dt.timedelta(days=75))
    assert m["as_of"] == D0 + dt.timedelta(days=80)  # the last score, never the wall clock
    assert m["empty"] is False and m["primary_instrument"] == "pain_nrs"
    assert s["response"].definition and s["durability"].frames


def test_hand_worked_figures_reach_the_sections(tabs):
    s = summary.cohort_summary(tabs, S, comparisons=())
    rates = (
        s["response"]
        .frames["rates"]
        .filter((pl.col("instrument") == "pain_nrs") & (pl.col("measure") == "response"))
    )
    # day 14: 4 from a baseline of 8, a 50% reduction: the one evaluable patient responds
    assert rates.select("n", "denominator", "itt_denominator").row(0) == (1, 1, 1)
    attrition = s["attrition"].frames
    stages = next(iter(attrition.values()))
    referred = stages.filter(pl.col("stage") == "referred").get_column("n").to_list()
    assert referred == [2]


def test_empty_tables_give_an_empty_summary():
    s = summary.cohort_summary({}, S, comparisons=())
    assert s.meta["empty"] is True and s.meta["patients"] == 0
    assert s.meta["first_session"] is None
    assert tuple(s.sections) == summary.SECTIONS


def test_report_columns_leave_out_only_unused_ones():
    for name, unused in summary.UNUSED_COLUMNS.items():
        assert set(summary.REPORT_COLUMNS[name]).isdisjoint(unused)
        assert "patient_id" in summary.REPORT_COLUMNS[name]
