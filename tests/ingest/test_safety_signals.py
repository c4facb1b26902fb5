"""PHQ-9 item 9 answers and serious adverse events are never lost at import (issue 12 item 5).

An item 9 answer of 1-3 in every import shape reaches the must-not-miss list
(``cohort.safety.safety_flags``) or, when its row cannot be stored, a "review now" entry of
the import report that is kept in the store until the row is corrected or reviewed.
"""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.cohort import safety
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.ingest import import_files, safety_signals
from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.storage.store import Store

SECRET = b"safety-signal-test-secret-0123456789"


def _import(name: str, text: str, st: Store, **kw):
    return import_files([(name, text.encode())], st, secret=SECRET, **kw)


def _item9_flags(st: Store) -> list[float]:
    t = st.read_all()
    f = safety.safety_flags(t["assessments"], t["adverse_events"], t["sessions"], Settings())
    return sorted(float(v) for v in f.filter(pl.col("flag") == "phq9_item9")["value"])


@pytest.fixture()
def st():
    s = Store(":memory:")
    yield s
    s.close()


# -- reading -----------------------------------------------------------------------------------
def test_answer_text_and_la_codes_read_case_and_space_insensitively():
    raw = pl.Series(
        ["not at all", "Several  days", " MORE THAN HALF THE DAYS ", "la6571-9", "LA6569-3", "x"]
    )
    assert safety_signals.answer_points(raw).to_list() == [0.0, 1.0, 2.0, 3.0, 1.0, None]


@pytest.mark.parametrize(
    ("text", "n"),
    [("9", 9), ("9.0", 9), ("Q9", 9), ("q 9", 9), ("item 9", 9), ("PHQ9_9", 9), ("#9", 9)],
)
def test_item_references(text, n):
    assert safety_signals.item_number(text) == n


@pytest.mark.parametrize(
    ("name", "item"),
    [
        ("PHQ9_9", 9),
        ("PHQ-9 item 9", 9),
        ("PHQ-9 Q9", 9),
        ("phq9 question 3", 3),
        ("Thoughts that you would be better off dead, or of hurting yourself in some way", 9),
        ("PHQ-9", None),
        ("PHQ-9 total score", None),
        ("PHQ-9 total", None),
    ],
)
def test_phq9_items_recognised_by_name(name, item):
    assert safety_signals.phq9_item_of_name(name) == item


# -- one test per import shape: the answer reaches the must-not-miss list ----------------------
def test_canonical_numeric(st):
    _import(
        "a.csv",
        "mrn,assessed_at,instrument,item,score\nM1,2024-03-01,phq9,9,2\n",
        st,
        clinic="R",
    )
    assert _item9_flags(st) == [2.0]


def test_canonical_answer_text(st):
    rep = _import(
        "a.csv",
        "mrn,assessed_at,instrument,item,score\n"
        "M1,2024-03-01,PHQ-9,9,More than half the days\n"
        "M1,2024-03-02,PHQ9_9,,LA6569-3\n"
        "M1,2024-03-03,PHQ-9,Q9,Not at all\n",
        st,
        clinic="R",
    )
    assert rep.quarantined == 0 and not rep.review_now
    assert _item9_flags(st) == [1.0, 2.0]


def test_answer_text_on_a_total_is_quarantined_not_misread(st):
    rep = _import(
        "a.csv",
        "mrn,assessed_at,instrument,score\nM1,2024-03-01,PHQ-9,Several days\n",
        st,
        clinic="R",
    )
    assert rep.quarantined == 1
    assert "item answer" in rep.files[0].quarantine_reasons[0].reason


def test_long_with_loinc(st):
    _import(
        "obs.csv",
        "mrn,date,code,description,value\n"
        "M1,2024-03-01,44260-8,Thoughts better off dead,1\n"
        "M1,2024-03-02,44260-8,,Nearly every day\n",
        st,
        clinic="R",
    )
    assert _item9_flags(st) == [1.0, 3.0]


def test_long_with_q9_and_names_without_loinc(st):
    _import(
        "obs.csv",
        "mrn,date,name,item,value\n"
        "M1,2024-03-01,PHQ-9,Q9,Several days\n"
        "M1,2024-03-02,PHQ9_9,,2\n"
        "M1,2024-03-03,PHQ-9 item 9,,LA6571-9\n",
        st,
        clinic="R",
    )
    assert _item9_flags(st) == [1.0, 2.0, 3.0]


def test_wide_mapping_with_item_key(st):
    mp = mapping_mod.parse(
        {
            "file": {
                "clinic": "R",
                "session_type": "induction",
                "route": "IV",
                "care_model": "infusion_only",
            },
            "columns": {"mrn": "MRN", "started_at": "Visit date"},
            "assessments": [
                {"column": "PHQ9 total", "instrument": "phq9", "timing": "before_dose"},
                {"column": "PHQ9 Q9", "instrument": "phq9", "item": 9, "timing": "before_dose"},
            ],
        }
    )
    rep = _import(
        "visits.csv",
        "MRN,Visit date,PHQ9 total,PHQ9 Q9\n"
        "M1,2024-03-01,14,Several days\n"
        "M1,2024-03-02,12,0\n"
        "M1,2024-03-03,12,3\n",
        st,
        mapping=mp,
    )
    assert rep.quarantined == 0
    assert _item9_flags(st) == [1.0, 3.0]
    totals = st.read("assessments").filter(pl.col("item").is_null())
    assert totals.height == 3


def test_wide_mapping_item_key_is_checked():
    with pytest.raises(Exception, match="item 12 is not an item number of phq9"):
        mapping_mod.parse(
            {
                "columns": {"mrn": "MRN", "started_at": "Visit date"},
                "assessments": [{"column": "Q", "instrument": "phq9", "item": 12}],
            }
        )


def test_synthea_style_text_answers(st):
    _import(
        "observations.csv",
        "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
        "2024-03-01T10:00:00Z,5a1b-uuid,e1,44260-8,"
        '"Thoughts that you would be better off dead, or of hurting yourself",'
        "Several days,{score},text\n"
        "2024-03-08T10:00:00Z,5a1b-uuid,e2,44260-8,"
        '"Thoughts that you would be better off dead, or of hurting yourself",'
        "Not at all,{score},text\n",
        st,
        clinic="R",
    )
    assert _item9_flags(st) == [1.0]


# -- rows that cannot be stored raise "review now" ---------------------------------------------
def test_unknown_patient_raises_review_now(st):
    # another patient first: an import into a store with no patients is refused up front
    _import("first.csv", "mrn,date,code,value\nM1,2024-03-01,72514-3,5\n", st, clinic="R")
    rep = _import(
        "obs.csv",
        "mrn,date,code,value\nM9,2024-03-01,44260-8,Several days\nM9,2024-03-02,44260-8,0\n",
        st,
    )
    assert rep.quarantined == 2 and _item9_flags(st) == []
    (r,) = rep.review_now  # the answer 0 is not a risk signal
    assert r.line == 2 and r.kind == "phq9_item9"
    assert r.headline == "possible suicide-risk answer: review now"
    assert "Several days" in r.seen and "M9" not in r.seen + r.reason
    assert "patient" in r.reason and "clinician" in r.action
    assert "REVIEW NOW" in rep.text() and rep.to_dict()["review_now"][0]["line"] == 2
    # kept in the store, listed until resolved
    open_ = st.open_reviews()
    assert open_.select("file_name", "row_number", "kind").rows() == [("obs.csv", 2, "phq9_item9")]


def test_half_point_and_four_of_a_1_to_4_coding_raise_review_now(st):
    rep = _import(
        "a.csv",
        "mrn,assessed_at,instrument,item,score\n"
        "M1,2024-03-01,phq9,9,2.5\n"
        "M1,2024-03-02,phq9,9,4\n"
        "M1,2024-03-03,phq9,9,sometimes\n"
        "M1,2024-03-04,phq9,9,1\n",
        st,
        clinic="R",
    )
    assert [r.line for r in rep.review_now] == [2, 3, 4]
    assert "'2.5'" in rep.review_now[0].seen and "whole number" in rep.review_now[0].reason
    assert _item9_flags(st) == [1.0]


def test_quarantined_serious_adverse_event_raises_review_now(st):
    # another patient first: an import into a store with no patients is refused up front
    _import("first.csv", "mrn,date,code,value\nM1,2024-03-01,72514-3,5\n", st, clinic="R")
    rep = _import(
        "ae.csv",
        "mrn,onset_at,event,severity,serious\n"
        "M7,2024-03-01,psychosis,severe,no\n"
        "M7,2024-03-01,nausea_vomiting,mild,no\n",
        st,
    )
    (r,) = rep.review_now
    assert r.kind == "serious_adverse_event" and r.line == 2 and "psychosis" in r.seen


def test_correcting_the_row_closes_the_review_and_a_clinician_can_mark_it(st):
    # another patient first: an import into a store with no patients is refused up front
    _import("first.csv", "mrn,date,code,value\nM1,2024-03-01,72514-3,5\n", st, clinic="R")
    _import("obs.csv", "mrn,date,code,value\nM9,2024-03-01,44260-8,2\n", st)
    _import("obs2.csv", "mrn,date,code,value\nM8,2024-03-01,44260-8,3\n", st)
    assert st.open_reviews().height == 2
    imp = st.read("quarantine").filter(pl.col("file_name") == "obs.csv")["import_id"][0]
    fixed = (
        "mrn,date,code,value,quarantine_file,quarantine_row,quarantine_import\n"
        f"M9,2024-03-01,44260-8,2,obs.csv,2,{imp}\n"
    )
    _import("fixed.csv", fixed, st, clinic="R")
    assert st.open_reviews()["file_name"].to_list() == ["obs2.csv"]
    assert _item9_flags(st) == [2.0]
    r = st.open_reviews().row(0, named=True)
    st.mark_reviewed(r["import_id"], r["row_number"], r["kind"], "dr_a")
    assert st.open_reviews().height == 0


def test_an_answer_kept_only_as_a_conflict_raises_review_now(st):
    # the store holds 0 for the same patient and time; a later export says 2: the 2 is not
    # stored (a conflict kept for review), so it must not pass unseen
    _import("a.csv", "mrn,date,code,value\nM1,2024-03-01,44260-8,0\n", st, clinic="R")
    rep = _import("b.csv", "mrn,date,code,value\nM1,2024-03-01,44260-8,2\n", st, clinic="R")
    assert rep.files[0].conflicts == 1 and _item9_flags(st) == []
    (r,) = rep.review_now
    assert r.line == 2 and "conflict" in r.reason
    assert st.open_reviews()["file_name"].to_list() == ["b.csv"]


def test_a_half_point_total_of_a_summed_instrument_is_quarantined_with_its_reason(st):
    """Left alone last session, now built: a PHQ-9 total of 14.5 cannot be the sum of nine
    whole-number answers (0-3), so it is a typing or averaging mistake and would straddle the
    moderate (10-14) and moderately severe (15-19) bands. It is quarantined with the reason;
    GAD-7 likewise. Means are not sums: a PEG of 4.5 and a pain NRS of 2.5 (a patient's
    "between 2 and 3") are kept."""
    rep = _import(
        "totals.csv",
        "mrn,assessed_at,instrument,score\n"
        "M1,2024-03-01,phq9,14.5\n"
        "M1,2024-03-01,gad7,7.5\n"
        "M1,2024-03-02,phq9,14\n"
        "M1,2024-03-01,peg,4.5\n"
        "M1,2024-03-01,pain_nrs,2.5\n",
        st,
        clinic="R",
    )
    assert (rep.accepted, rep.quarantined) == (3, 2)
    q = st.query("SELECT row_number, column_name, reason FROM quarantine ORDER BY 1").rows()
    assert [(r, c) for r, c, _ in q] == [(2, "score"), (3, "score")]
    assert all("whole number (the sum of its item answers)" in reason for *_, reason in q)
    # a clinic whose EHR prorates a missing item (NHS data dictionary: mean of the answered
    # items substituted) exports e.g. 13 / 8 * 9 = 14.625: the reason says what to do
    assert all("import the item answers" in reason for *_, reason in q)
