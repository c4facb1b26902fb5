"""Dissociation after dosing: after-dose CADSS per session, overall and by dose band,
worked by hand (issue 12 item 7)."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.cohort import dissociation
from kapoutcomes.definitions.settings import Settings
from tests.builders import patient, pid, score, session, tables_of

S = Settings()


def _cohort():
    # patient 1 at 0.5 mg/kg: after-dose CADSS 2, 6, 10 and, at dose 3, 3 and 8 (peak 8);
    # patient 2 at 0.3 mg/kg: 0 and 5; a dose without a dose per kg: 1.
    # Ignored: a before-dose CADSS (30), an item answer (4), a CADSS at an integration visit.
    ses = [
        *(session(1, d, "induction", d, dose_mg_per_kg=0.5) for d in range(4)),
        session(1, 9, "integration", 9),
        session(2, 0, "induction", 0, dose_mg_per_kg=0.3),
        session(2, 1, "induction", 1, dose_mg_per_kg=0.3),
        session(2, 2, "induction", 2),
    ]

    def cadss(i, day, value, n, timing="after_dose", item=None):
        return score(i, day + 0.05, value, "cadss", item=item, timing=timing, sid=f"s{i}_{n}")

    asm = [
        cadss(1, 0, 2, 0),
        cadss(1, 1, 6, 1),
        cadss(1, 2, 10, 2),
        cadss(1, 3, 3, 3),
        cadss(1, 3, 8, 3),
        cadss(1, 0, 30, 0, timing="before_dose"),
        cadss(1, 1, 4, 1, item=2),
        cadss(1, 9, 20, 9),
        cadss(2, 0, 0, 0),
        cadss(2, 1, 5, 1),
        cadss(2, 2, 1, 2),
    ]
    return tables_of([patient(1), patient(2)], ses, asm)


def test_after_dose_cadss_per_session_takes_the_peak():
    t = _cohort()
    per = dissociation.after_dose_cadss(t["assessments"], t["sessions"])
    assert per.select("session_id", "cadss", "dose_band").rows() == [
        ("s1_0", 2.0, "0.5 to <1 mg/kg"),
        ("s1_1", 6.0, "0.5 to <1 mg/kg"),
        ("s1_2", 10.0, "0.5 to <1 mg/kg"),
        ("s1_3", 8.0, "0.5 to <1 mg/kg"),
        ("s2_0", 0.0, "below 0.5 mg/kg"),
        ("s2_1", 5.0, "below 0.5 mg/kg"),
        ("s2_2", 1.0, "not recorded"),
    ]
    assert per.get_column("patient_id").unique().sort().to_list() == [pid(1), pid(2)]


def test_cadss_summary_hand_worked():
    # all: 0 1 2 5 6 8 10 -> median 5, Q1 at rank 1.5 = 1.5, Q3 at rank 4.5 = 7 (linear);
    #      above 4: 5 6 8 10 = 4 of 7
    # 0.5 to <1: 2 6 8 10 -> median 7, Q1 = 2 + 0.75 * 4 = 5, Q3 = 8 + 0.25 * 2 = 8.5; 3 of 4
    #      above 4, Clopper-Pearson 95% (0.1941, 0.9937)
    # below 0.5: 0 5 -> median 2.5, Q1 1.25, Q3 3.75; 1 of 2. not recorded: 1; 0 of 1.
    t = _cohort()
    d = dissociation.cadss_summary(t["assessments"], t["sessions"], S)
    assert d.columns == list(dissociation.COLUMNS)
    got = {
        r["dose_band"]: (r["sessions"], r["patients"], r["median"], r["q1"], r["q3"], r["above"])
        for r in d.iter_rows(named=True)
    }
    assert got == {
        "all doses": (7, 2, 5.0, 1.5, 7.0, 4),
        "below 0.5 mg/kg": (2, 1, 2.5, 1.25, 3.75, 1),
        "0.5 to <1 mg/kg": (4, 1, 7.0, 5.0, 8.5, 3),
        "not recorded": (1, 1, 1.0, 1.0, 1.0, 0),
    }
    assert d.get_column("dose_band").to_list() == [
        "all doses",
        "below 0.5 mg/kg",
        "0.5 to <1 mg/kg",
        "not recorded",
    ]
    band = d.filter(pl.col("dose_band") == "0.5 to <1 mg/kg").row(0, named=True)
    assert band["share_above"] == pytest.approx(0.75)
    assert band["lower"] == pytest.approx(0.1941, abs=1e-4)
    assert band["upper"] == pytest.approx(0.9937, abs=1e-4)
    assert band["threshold"] == 4.0 and "small n" in band["caveats"]
    # the threshold comes from settings
    d6 = dissociation.cadss_summary(
        t["assessments"], t["sessions"], Settings(cadss_dissociation_above=6)
    )
    assert d6.filter(pl.col("dose_band") == "all doses")["above"].to_list() == [2]


def test_no_cadss_gives_an_empty_table():
    t = tables_of([patient(1)], [session(1, 0, "induction", 0)])
    d = dissociation.cadss_summary(t["assessments"], t["sessions"], S)
    assert d.height == 0 and d.columns == list(dissociation.COLUMNS)


def test_the_report_safety_section_carries_the_table():
    from kapoutcomes.cohort.summary import cohort_summary

    t = _cohort()
    s = cohort_summary(t, S)
    got = s["safety"].frames["dissociation"]
    assert got.equals(dissociation.cadss_summary(t["assessments"], t["sessions"], S))
    assert got.height == 4
