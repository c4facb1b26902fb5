"""Undo and redo of an import (issue 13 item 2)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from kapoutcomes.ingest import import_files, quarantine_csv
from kapoutcomes.ingest.undo import UndoError, undo_import
from kapoutcomes.storage import audit, keys
from kapoutcomes.storage.store import BOOKKEEPING, CANONICAL, Store
from tests.builders import newest_audit_entry_deleted_is_reported

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT / "sample_data" / "exports" / "synthea"
SECRET = b"undo-test-secret-undo-test-secret-undo"
AS = ("dm@clinic.org", "data_manager")

#: Tables an undo leaves exactly as they were (the ledger keeps its entries, marked undone,
#: and the audit trail records the import and the undo).
RESTORED = (*CANONICAL, "quarantine", "conflicts", "import_writes")


def snapshot(db: Path) -> dict[str, pl.DataFrame]:
    with Store(db) as st:
        out = {}
        for t in (*CANONICAL, *BOOKKEEPING):
            fr = st.read(t, validate=False)
            out[t] = fr.sort(fr.columns, nulls_last=True)
    return out


SCORES = (
    b"MRN,Date,LOINC,Value,Weight\n"
    b"M1,2024-03-01,72514-3,7,\n"
    b"M1,2024-03-02,72514-3,31,\n"  # out of range: quarantined
    b"M2,2024-03-03,44249-1,12,\n"
)


def test_undo_leaves_every_table_as_before_the_import(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files([("first.csv", SCORES)], db, clinic="C", secret=SECRET, audit_as=AS)
    with Store(db) as st:
        fixed = quarantine_csv(st).decode("utf-8-sig").replace(",31,", ",6,")
    before = snapshot(db)
    rep = import_files(
        [SYNTHEA, ("fixed.csv", fixed.encode())],
        db,
        clinic="Synthea Clinic",
        secret=SECRET,
        audit_as=AS,
    )
    assert rep.accepted > 1000
    with Store(db) as st:
        assert set(st.read("quarantine", validate=False).get_column("status")) == {"corrected"}
        result = undo_import(st, rep.files[0].import_id, AS)
    assert set(result.import_ids) == {f.import_id for f in rep.files}
    assert dict(result.removed)["assessments"] > 0
    after = snapshot(db)
    for t in RESTORED:
        assert after[t].equals(before[t]), t
    undone = set(result.import_ids)
    kept = after["import_ledger"].filter(~pl.col("import_id").is_in(list(undone)))
    assert kept.equals(before["import_ledger"])
    assert set(after["import_undone"].get_column("import_id")) == undone
    with Store(db) as st:
        log = audit.entries(st)
        assert log.item(0, "action") == "undo_import" and log.item(0, "user_name") == AS[0]
        assert audit.verify(st, keys.for_store(st).audit).ok
        assert st.ledger().filter(pl.col("undone_at").is_not_null()).height == len(undone)


def test_a_file_can_be_imported_again_after_an_undo_with_other_options(tmp_path):
    db = tmp_path / "s.duckdb"
    data = b"MRN,Date,LOINC,Value\nM1,02/04/2024,72514-3,5\nM1,03/04/2024,72514-3,6\n"
    rep = import_files([("a.csv", data)], db, clinic="C", secret=SECRET, date_order="month-first")
    again = import_files([("a.csv", data)], db, clinic="C")
    assert again.files[0].already_imported
    with Store(db) as st:
        undo_import(st, rep.files[0].import_id, AS)
        assert st.read("assessments").height == 0
    redo = import_files([("a.csv", data)], db, clinic="D", secret=SECRET, date_order="day-first")
    assert redo.accepted == 2 and not redo.files[0].already_imported
    with Store(db) as st:
        got = sorted(str(d) for d in st.read("assessments").get_column("assessed_at"))
        assert got == ["2024-04-02 00:00:00", "2024-04-03 00:00:00"]
        assert st.read("patients").get_column("clinic").to_list() == ["D"]


def test_undo_of_an_unknown_or_undone_import_is_a_clear_error(tmp_path):
    db = tmp_path / "s.duckdb"
    rep = import_files([("first.csv", SCORES)], db, clinic="C")
    with Store(db) as st:
        with pytest.raises(UndoError, match="no import 'imp_nope' in the ledger"):
            undo_import(st, "imp_nope", AS)
        undo_import(st, rep.files[0].import_id, AS)
        with pytest.raises(UndoError, match="already undone"):
            undo_import(st, rep.files[0].import_id, AS)


def test_imports_are_undone_newest_first(tmp_path):
    db = tmp_path / "s.duckdb"
    first = import_files([("first.csv", SCORES)], db, clinic="C")
    second = import_files([SYNTHEA / "patients.csv"], db, clinic="C")
    with Store(db) as st:
        with pytest.raises(UndoError, match="undo them first, newest first"):
            undo_import(st, first.files[0].import_id, AS)
        undo_import(st, second.files[0].import_id, AS)
        undo_import(st, first.files[0].import_id, AS)
        assert all(st.read(t, validate=False).height == 0 for t in CANONICAL)


def test_undo_restores_filled_session_vitals_conflicts_and_review_entries(tmp_path):
    """Issue 13 acceptance: undo leaves the store as before the import, table contents
    compared - here an import that fills vital signs of stored sessions, conflicts with a
    stored score, disagrees within itself, and raises a review-now entry. The review-now
    entry is the one thing kept: a possible suicide-risk answer was seen, and an undo (say,
    of an import with the wrong clinic) must not make it vanish before a clinician saw it."""
    db = tmp_path / "s.duckdb"
    sessions = (
        b"patient_id,started_at,session_type,route,dose_mg,care_model\n"
        b"M1,2024-03-01T10:00,induction,IV,35,infusion_only\n"
    )
    scores = b"patient_id,assessed_at,instrument,score,timing\nM1,2024-03-01T09:50,pain_nrs,7,before_dose\n"
    import_files(
        [("sessions.csv", sessions), ("scores.csv", scores)],
        db,
        clinic="C",
        secret=SECRET,
        audit_as=AS,
    )
    before = snapshot(db)
    later = (
        b"MRN,Date,LOINC,Value,Item\n"
        b"M1,2024-03-01T09:55,8867-4,72,\n"  # heart rate: fills the stored session
        b"M1,2024-03-01T09:50,72514-3,8,\n"  # the stored pain score was 7: a conflict
        b"M1,2024-03-08T10:00,72514-3,5,\n"
        b"M1,2024-03-08T10:00,72514-3,6,\n"  # disagrees with the line above
        b"M1,2024-03-08T10:00,44260-8,9,9\n"  # PHQ-9 item 9 out of range: review now
    )
    rep = import_files([("later.csv", later)], db, secret=SECRET, audit_as=AS)
    f = rep.files[0]
    assert (f.conflicts, f.disagreements) == (1, 1), rep.text()
    assert dict(f.written).get("session vital signs") == 1, rep.text()
    assert rep.review_now, rep.text()
    with Store(db) as st:
        assert st.read("sessions").get_column("heart_rate_before").to_list() == [72]
        review = st.read("review_now", validate=False)
        undo_import(st, f.import_id, AS)
    after = snapshot(db)
    for t in RESTORED:
        assert after[t].equals(before[t]), t
    assert review.height == 1 and after["review_now"].equals(review)  # open until reviewed


def test_deleting_the_newest_entry_an_undo_wrote_is_reported(tmp_path):
    """The attack (issue 15, second pass): undo an import, then delete the undo's audit entry
    (the newest one) from the store. The checkpoint must have moved on to that entry, so that
    ``audit verify`` reports the deletion instead of "intact"."""
    db = tmp_path / "s.duckdb"
    rep = import_files([("first.csv", SCORES)], db, clinic="C", audit_as=AS)
    with Store(db) as st:
        undo_import(st, rep.files[0].import_id, AS)
        newest_audit_entry_deleted_is_reported(st)
