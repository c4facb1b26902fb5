"""Import reports (kapoutcomes.ingest.report): the row arithmetic and the text a person reads."""

from __future__ import annotations

from kapoutcomes.ingest.report import FileReport, ImportReport, ReasonCount


def _file(**kw) -> FileReport:
    base = {
        "file": "visits.csv",
        "preset": "wide",
        "kind": "visits",
        "sha256": "ab",
        "import_id": "i1",
    }
    return FileReport(**{**base, **kw})


def test_a_file_reconciles_when_every_row_is_accounted_for():
    assert _file(rows_read=10, accepted=7, quarantined=2, skipped=1).reconciles
    assert not _file(rows_read=10, accepted=7, quarantined=2).reconciles
    d = _file(rows_read=3, accepted=3, written=(("sessions", 3), ("assessments", 6))).to_dict()
    assert d["written"] == {"sessions": 3, "assessments": 6}
    assert d["reconciles"] is True


def test_totals_over_files_and_json_shape():
    rep = ImportReport(
        files=(
            _file(rows_read=10, accepted=7, quarantined=2, skipped=1),
            _file(file="b.csv", rows_read=5, accepted=5),
        ),
        dry_run=False,
        store="s.duckdb",
        seconds=1.23456,
    )
    assert (rep.rows_read, rep.accepted, rep.quarantined, rep.skipped) == (15, 12, 2, 1)
    assert rep.reconciles
    d = rep.to_dict()
    assert d["seconds"] == 1.235 and [f["file"] for f in d["files"]] == ["visits.csv", "b.csv"]
    broken = ImportReport((_file(rows_read=2, accepted=1),), False, "s", 0.0)
    assert not broken.reconciles


def test_text_lists_rows_reasons_and_columns():
    f = _file(
        rows_read=1234,
        accepted=1200,
        quarantined=30,
        skipped=4,
        duplicates=4,
        written=(("sessions", 1200),),
        quarantine_reasons=(ReasonCount("expected a date", 30, (2, 5, 9), "Visit Date"),),
        skip_reasons=(ReasonCount("exact duplicate", 4, (7,)),),
        removed_identifier_columns=("Patient Name",),
        ignored_columns=("Notes",),
        notes=("dates read month first",),
    )
    text = ImportReport((f,), dry_run=True, store="s", seconds=2.0).text().splitlines()
    assert text[0] == "dry run (nothing written); 1 file(s) in 2.0 s"
    assert "  rows read 1,234 = accepted 1,200 + quarantined 30 + skipped 4" in text[3]
    assert "  would write: sessions 1,200" in text
    assert "  identifier columns removed: Patient Name" in text
    assert "  columns not imported: Notes" in text
    assert "        30  Visit Date: expected a date  (rows 2, 5, 9)" in text
    assert "         4  exact duplicate  (rows 7)" in text
    assert "  note: dates read month first" in text
    assert text[-2] == "total: rows read 1,234 = accepted 1,200 + quarantined 30 + skipped 4"


def test_text_of_a_file_imported_before():
    f = _file(already_imported=True, rows_read=5)
    text = ImportReport((f,), dry_run=False, store="s.duckdb", seconds=0.0).text()
    assert "store: s.duckdb" in text
    assert "already imported (same content): nothing added" in text
    assert "rows read 5 =" not in text.split("total")[0]
