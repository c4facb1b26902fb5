"""Writing an import (kapoutcomes.ingest.storing): quarantine records that keep no identifier,
and a corrected quarantine download imported again closing its entries."""

from __future__ import annotations

import json

import polars as pl
import pytest

from kapoutcomes.ingest import import_files, quarantine, storing
from kapoutcomes.ingest.pipeline import find_patient_id
from kapoutcomes.storage.store import Store

SECRET = b"storing-test-secret-storing-test-secret"
EXPORT = (
    "MRN,Patient Name,DOB,Date,Observation,Value\n"
    "A100,Jane Roe,1961-04-09,2024-02-01,Pain NRS,7\n"
    "A100,Jane Roe,1961-04-09,2024-02-08,Pain NRS,lots\n"
    "B200,John Doe,1970-01-02,2024-02-01,PHQ-9,31\n"
)


@pytest.fixture
def imported(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "obs.csv"
    path.write_text(EXPORT, encoding="utf-8")
    db = tmp_path / "s.duckdb"
    import_files([path], db, clinic="North", secret=SECRET)
    return tmp_path, db


def test_quarantine_records_keep_the_row_without_identifiers(imported):
    _, db = imported
    with Store(db, read_only=True) as st:
        q = st.read("quarantine", validate=False).sort("row_number")
    assert q.get_column("row_number").to_list() == [3, 4]
    assert q.get_column("status").to_list() == ["open", "open"]
    assert q.get_column("column_name").to_list() == ["Value", "score"]
    raw = json.loads(q.get_column("raw_row")[0])
    assert raw["MRN"] == find_patient_id("A100", SECRET)
    assert "Patient Name" not in raw
    assert "Jane" not in q.write_csv() and "A100" not in q.write_csv()


def test_a_birth_date_in_a_quarantined_row_is_kept_as_its_year_only(imported):
    _, db = imported
    with Store(db, read_only=True) as st:
        q = st.read("quarantine", validate=False).sort("row_number")
    raw = json.loads(q.get_column("raw_row")[0])
    assert raw.get("DOB") in (None, "1961")


def test_a_corrected_download_imported_again_closes_the_entries(imported):
    tmp, db = imported
    with Store(db, read_only=True) as st:
        q = quarantine.quarantine_frame(st)
    fixed = tmp / "fixed.csv"
    q.with_columns(Value=pl.Series(["5", "21"])).write_csv(fixed)
    rep = import_files([fixed], db, clinic="North", secret=SECRET)
    assert (rep.accepted, rep.quarantined) == (2, 0)
    with Store(db, read_only=True) as st:
        statuses = st.read("quarantine", validate=False).get_column("status").to_list()
        scores = st.read("assessments").sort("score").select("patient_id", "score").rows()
    assert statuses == ["corrected", "corrected"]
    # the pseudonym in the download maps back to the same patient
    a, b = find_patient_id("A100", SECRET), find_patient_id("B200", SECRET)
    assert scores == [(a, 5.0), (a, 7.0), (b, 21.0)]


def test_a_row_quarantined_again_is_resubmitted(imported):
    tmp, db = imported
    with Store(db, read_only=True) as st:
        q = quarantine.quarantine_frame(st)
    fixed = tmp / "fixed.csv"
    q.with_columns(Value=pl.Series(["5", "99"])).write_csv(fixed)
    import_files([fixed], db, clinic="North", secret=SECRET)
    with Store(db, read_only=True) as st:
        rows = st.read("quarantine", validate=False).sort("file_name", "row_number")
    got = rows.select("file_name", "row_number", "status").rows()
    assert got == [("fixed.csv", 3, "open"), ("obs.csv", 3, "corrected"),
                   ("obs.csv", 4, "resubmitted")]  # fmt: skip
    assert storing.corrected_rows([], _empty_resolved()).height == 0


def _empty_resolved():
    from kapoutcomes.ingest.extract import PROBLEM_SCHEMA
    from kapoutcomes.ingest.frames import Resolved

    fields = dict.fromkeys(Resolved.__dataclass_fields__)
    fields["problems"] = pl.DataFrame(schema=PROBLEM_SCHEMA)
    return Resolved(**fields)


def _imported_sessions(tmp_path, monkeypatch, name: str, text: str, encoding: str):  # type: ignore[no-untyped-def]
    """Import one sessions file into a new store: its quarantine, and the quarantine and
    ledger as one text to search for identifiers."""
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    db = tmp_path / "s.duckdb"
    import_files([path], db, clinic="C", secret=SECRET)
    with Store(db, read_only=True) as st:
        everything = " ".join(
            st.read(t, validate=False).write_csv() for t in ("quarantine", "import_ledger")
        )
        return st.read("quarantine", validate=False), everything


def test_a_name_in_a_closed_list_column_keeps_no_cells(tmp_path, monkeypatch):
    # bug 8 of the long fuzz run: a canonical sessions file, '|'-delimited and unquoted,
    # whose one row lost a cell, so the relative's name slid into ``route``; no identifier
    # pattern anywhere in the row, the right number of fields, and the name is nowhere in
    # the file's Responsible Party column to be scrubbed as a file word
    q, everything = _imported_sessions(
        tmp_path,
        monkeypatch,
        "sessions.txt",
        "MRN|started_at|session_type|route|dose_mg|care_model|Responsible Party\n"
        "m1|-2+3|KAP|Quilla Vantongeren|||\n"
        "m2|2024-03-01|induction|IV|35|infusion_only|self\n",
        "utf-16",
    )
    assert q.height >= 1 and set(q.get_column("raw_row").to_list()) == {"{}"}
    assert set(q.get_column("row_number").to_list()) == {2}
    assert "Quilla" not in everything and "Vantongeren" not in everything
    # the line and the reason still say what to correct
    assert q.get_column("row_number").to_list()[0] == 2


def test_a_typo_in_a_closed_list_column_is_kept_to_be_corrected(tmp_path, monkeypatch):
    # the other side: a misspelt route is no name, and the row keeps its cells
    q, _ = _imported_sessions(
        tmp_path,
        monkeypatch,
        "sessions.csv",
        "MRN,started_at,session_type,route,dose_mg,care_model\n"
        "m1,2024-03-01,induction,intravenus,35,infusion_only\n",
        "utf-8",
    )
    raw = json.loads(q.get_column("raw_row")[0])
    assert raw["route"] == "intravenus" and q.get_column("value")[0] == "intravenus"
