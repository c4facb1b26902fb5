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
