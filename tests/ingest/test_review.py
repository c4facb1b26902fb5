"""Conflicts a data manager settles (issue 13 item 3): both values listed, one kept, audited."""

from __future__ import annotations

import pytest

from kapoutcomes import cli
from kapoutcomes.ingest import import_files
from kapoutcomes.ingest.review import ReviewError, conflicts, keep
from kapoutcomes.ingest.undo import UndoError, undo_import
from kapoutcomes.storage import audit
from kapoutcomes.storage.store import Store
from tests.builders import newest_audit_entry_deleted_is_reported

SECRET = b"review-test-secret-review-test-secret"
AS = ("dm@clinic.org", "data_manager")
A = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\nM1,2024-03-02 10:00,72514-3,6\n"
B = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,4\nM1,2024-03-03 10:00,72514-3,5\n"


def _store_with_a_conflict(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files([("a.csv", A)], db, clinic="C", secret=SECRET)
    rep = import_files([("b.csv", B)], db, clinic="C", secret=SECRET)
    return db, rep


def _scores(st):
    return st.read("assessments").sort("assessed_at").get_column("score").to_list()


def test_keep_the_imported_value(tmp_path):
    db, rep = _store_with_a_conflict(tmp_path)
    with Store(db) as st:
        (c,) = conflicts(st).iter_rows(named=True)
        assert '"score": 7.0' in c["stored_value"] and '"score": 4.0' in c["incoming_value"]
        assert (c["file_name"], c["row_number"]) == ("b.csv", 2)
        settled = keep(st, c["conflict_id"], "imported", AS)
        assert settled.text().endswith("kept the imported value")
        assert _scores(st) == [4.0, 6.0, 5.0]
        assert conflicts(st).height == 0
        assert conflicts(st, None).item(0, "status") == "kept_imported"
        log = audit.entries(st)
        assert (log.item(0, "action"), log.item(0, "target")) == (
            "resolve_conflict",
            c["conflict_id"],
        )
        with pytest.raises(ReviewError, match="no open conflict"):
            keep(st, c["conflict_id"], "STORED", AS)
        # the undo of b.csv could not restore the stored 7: refused, nothing changed
        with pytest.raises(UndoError, match="keeping the imported value"):
            undo_import(st, rep.files[0].import_id, AS)


def test_keep_the_stored_value(tmp_path):
    db, _ = _store_with_a_conflict(tmp_path)
    with Store(db) as st:
        cid = conflicts(st).item(0, "conflict_id")
        keep(st, cid, "STORED", AS)
        assert _scores(st) == [7.0, 6.0, 5.0]
        assert conflicts(st, None).item(0, "status") == "kept_stored"


def test_conflicts_command(tmp_path, capsys):
    db, _ = _store_with_a_conflict(tmp_path)
    assert cli.main(["conflicts", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    with Store(db) as st:
        cid = conflicts(st).item(0, "conflict_id")
    assert cid in out and '"score": 7.0' in out and '"score": 4.0' in out
    assert cli.main(["conflicts", "--store", str(db), "--keep", "IMPORTED", "nope"]) == 2
    assert "no open conflict 'nope'" in capsys.readouterr().err
    assert cli.main(["conflicts", "--store", str(db), "--keep", "IMPORTED", cid]) == 0
    assert "kept the imported value" in capsys.readouterr().out
    assert cli.main(["conflicts", "--store", str(db)]) == 0
    assert "no open conflicts" in capsys.readouterr().out


def test_a_row_that_disagreed_within_its_import_can_be_kept(tmp_path):
    """Two rows of one import with another value: the first is stored, the second kept for
    review; keeping the second (the imported value) replaces the first. It was refused as
    "an id used for two different facts" (its stored value is no JSON of values)."""
    from kapoutcomes.ingest import import_files, review
    from kapoutcomes.storage.store import Store

    db = tmp_path / "s.duckdb"
    data = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\nM1,2024-03-01 10:00,72514-3,4\n"
    import_files([("a.csv", data)], db, clinic="C", secret=b"review-secret-review-secret-review!")
    with Store(db) as st:
        (cid,) = review.conflicts(st).get_column("conflict_id").to_list()
        review.keep(st, cid, "IMPORTED", ("dm", "data_manager"))
        assert st.read("assessments").get_column("score").to_list() == [4.0]


def test_deleting_the_newest_entry_a_settlement_wrote_is_reported(tmp_path):
    """The attack (issue 15, second pass): keep a value, then delete the settlement's audit
    entry (the newest one). The checkpoint must name that entry, so the deletion is reported."""

    db, _ = _store_with_a_conflict(tmp_path)
    with Store(db) as st:
        (c,) = conflicts(st).iter_rows(named=True)
        keep(st, c["conflict_id"], "IMPORTED", AS)
        newest_audit_entry_deleted_is_reported(st)
