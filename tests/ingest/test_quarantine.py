"""The quarantine download (kapoutcomes.ingest.quarantine): one line per quarantined row,
de-identified and formula-safe, on a three-row export worked by hand."""

from __future__ import annotations

import pytest

from kapoutcomes.ingest import import_files, quarantine
from kapoutcomes.ingest.pipeline import find_patient_id
from kapoutcomes.storage.store import Store

SECRET = b"quarantine-test-secret-quarantine-test"
# line 2 fine; line 3 not a score (and a spreadsheet formula); line 4 a PHQ-9 over 27
EXPORT = (
    "MRN,Patient Name,Date,Observation,Value\n"
    "A100,Jane Roe,2024-02-01,Pain NRS,7\n"
    'A100,Jane Roe,2024-02-08,Pain NRS,"=HYPERLINK(""x"")"\n'
    "B200,John Doe,2024-02-01,PHQ-9,31\n"
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "obs.csv"
    path.write_text(EXPORT, encoding="utf-8")
    db = tmp_path / "s.duckdb"
    rep = import_files([path], db, clinic="North", secret=SECRET)
    assert (rep.accepted, rep.quarantined) == (1, 2)
    return db


def test_one_line_per_quarantined_row_with_reason_file_and_line(store):
    with Store(store, read_only=True) as st:
        q = quarantine.quarantine_frame(st)
    assert q.columns == ["MRN", "Date", "Observation", "Value", "quarantine_reason",
                         "quarantine_file", "quarantine_row", "quarantine_import"]  # fmt: skip
    assert q.get_column("quarantine_row").to_list() == ["3", "4"]
    assert q.get_column("quarantine_file").to_list() == ["obs.csv", "obs.csv"]
    reasons = q.get_column("quarantine_reason").to_list()
    assert reasons[0].startswith("Value: expected a score")
    assert reasons[1] == "score: expected a phq9 total from 0 to 27"
    # de-identified: the name column is gone, the MRN is its pseudonym
    assert q.get_column("MRN").to_list() == [find_patient_id("A100", SECRET),
                                             find_patient_id("B200", SECRET)]  # fmt: skip
    assert "Jane" not in str(q.to_dicts())


def test_filters_by_file_and_status(store):
    with Store(store, read_only=True) as st:
        assert quarantine.quarantine_frame(st, file_name="other.csv").height == 0
        assert quarantine.quarantine_frame(st, status="corrected").height == 0
        imp = quarantine.quarantine_frame(st).get_column("quarantine_import")[0]
        assert quarantine.quarantine_frame(st, import_id=imp).height == 2


def test_csv_has_a_bom_and_defuses_formulas(store):
    with Store(store, read_only=True) as st:
        data = quarantine.quarantine_csv(st)
    assert data.startswith(b"\xef\xbb\xbfMRN,Date,")
    assert b"'=HYPERLINK" in data  # a leading quote keeps the spreadsheet from running it
    assert b",=HYPERLINK" not in data


@pytest.mark.xfail(
    strict=True,
    reason="the quarantine's column allow-list (issue 15) keeps the columns a preset maps by "
    "role; a Synthea medication row loses the dispensing columns its daily dose is computed "
    "from, so the corrected row is quarantined again for want of a frequency",
)
def test_the_quarantine_round_trips_one_file_per_source_file(tmp_path):
    """Issue 13: one quarantine CSV of several layouts was read as one of them (a medication
    row as an observation: a patient without birth year or sex, no prescription). One file
    per source file, each re-importable as it is."""
    from kapoutcomes.ingest import import_files, quarantine_files
    from kapoutcomes.storage.store import Store

    secret = b"round-trip-secret-round-trip-secret!!"
    db = tmp_path / "s.duckdb"
    pat = (
        b"Id,BIRTHDATE,GENDER,SSN,FIRST,LAST\n"
        b"k1,1975-01-01,F,999-11-2222,Ann,Example\nk2,13/45/80,M,999-33-4444,Bob,Sample\n"
    )
    obs = (
        b"DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS\n"
        b"2024-01-01T00:00:00Z,k1,e,72514-3,Pain,55,{score}\n"
        b"2024-01-03T00:00:00Z,k1,e,72514-3,Pain,5,{score}\n"
        b"2024-01-05T00:00:00Z,k2,e,72514-3,Pain,4,{score}\n"
    )
    med = (
        b"START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,"
        b"DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
        b"2024-01-01T00:00:00Z,,k1,p,e,1049625,Acetaminophen 325 MG / Oxycodone Hydrochloride"
        b" 10 MG Oral Tablet,1,1,6,1,,\n"
        b"2024-13-45,,k1,p,e,1049625,Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG"
        b" Oral Tablet,1,1,6,1,,\n"
    )
    files = [("patients.csv", pat), ("observations.csv", obs), ("medications.csv", med)]
    rep = import_files(files, db, clinic="C", secret=secret)
    assert rep.quarantined == 4  # k2's score waits for k2's patient row

    def tables():
        with Store(db) as st:
            return {t: st.read(t, validate=False) for t in ("patients", "assessments", "opioids")}

    before = tables()
    with Store(db) as st:
        out = quarantine_files(st)
    assert sorted(out) == [
        "quarantine_medications.csv",
        "quarantine_observations.csv",
        "quarantine_patients.csv",
    ]
    assert all(b"Ann" not in data and b"999-" not in data for data in out.values())
    # imported again as they are: each read as its own layout, quarantined again, nothing new
    again = import_files(list(out.items()), db, clinic="C", secret=secret)
    kinds = {f.file: f.kind for f in again.files}
    assert kinds == {
        "quarantine_medications.csv": "medications",
        "quarantine_observations.csv": "observations",
        "quarantine_patients.csv": "patients",
    }
    assert again.quarantined == 4 and again.accepted == 0
    after = tables()
    for t, fr in before.items():
        assert after[t].equals(fr), t
    # corrected: each fact lands where it belongs
    with Store(db) as st:
        fixed = {
            name: data.replace(b"2024-13-45", b"2024-01-02")
            .replace(b",55,", b",6,")
            .replace(b"unreadable date of birth: enter the year", b"1980")
            for name, data in quarantine_files(st).items()
        }
    done = import_files(list(fixed.items()), db, clinic="C", secret=secret)
    assert (done.accepted, done.quarantined) == (4, 0), done.text()
    final = tables()
    assert final["opioids"].height == before["opioids"].height + 1
    assert final["assessments"].height == before["assessments"].height + 2
    patients = final["patients"]
    assert before["patients"].height == 1 and patients.height == 2
    assert patients.get_column("birth_year").null_count() == 0
    assert "unknown" not in patients.get_column("sex").to_list()
