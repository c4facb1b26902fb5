"""One clear, actionable IngestError per whole-file problem; the CLI prints one line, exit 2."""

from __future__ import annotations

import pytest

from kapoutcomes import cli
from kapoutcomes.ingest import IngestError, import_files, load_mapping

SECRET = b"ingest-test-secret-ingest-test-secret"


def _import(tmp_path, name, data, **kw):
    return import_files([(name, data)], tmp_path / "s.duckdb", secret=SECRET, **kw)


def test_empty_file(tmp_path):
    with pytest.raises(IngestError, match="empty") as e:
        _import(tmp_path, "empty.csv", b"")
    assert e.value.file == "empty.csv" and e.value.action
    with pytest.raises(IngestError, match="empty"):
        _import(tmp_path, "blank.csv", b"\xef\xbb\xbf\r\n \r\n")


def test_binary_or_non_tabular_file(tmp_path):
    with pytest.raises(IngestError, match=r"not a table .*PNG"):
        _import(tmp_path, "scan.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(IngestError, match=r"not a table .*PDF"):
        _import(tmp_path, "letter.pdf", b"%PDF-1.7\n...")
    with pytest.raises(IngestError, match=r"not a table .*one column"):
        _import(tmp_path, "notes.txt", b"Dear doctor\nthe patient came in\n")
    with pytest.raises(IngestError, match=r"not a table .*zip"):
        _import(tmp_path, "x.zip", b"PK\x03\x04garbage")


def test_header_only(tmp_path):
    with pytest.raises(IngestError, match=r"header .*no data rows"):
        _import(tmp_path, "h.csv", b"MRN,Date,LOINC,Value\n")


def test_missing_required_columns_names_closest_preset(tmp_path):
    with pytest.raises(IngestError) as e:
        _import(tmp_path, "obs.csv", b"MRN,LOINC,Value,Shoe size\nM1,72514-3,5,9\n")
    msg = str(e.value)
    assert "closest preset is long" in msg
    assert "missing: date" in msg
    assert "unrecognised columns: Shoe size" in msg


def test_unknown_preset(tmp_path):
    with pytest.raises(IngestError, match=r"unknown preset 'hl7'.*canonical, fhir, long"):
        _import(tmp_path, "a.csv", b"a,b\n1,2\n", preset="hl7")


def test_mapping_file_with_a_mistake(tmp_path):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text('[columns]\nmrn = "MRN"\nstarted_at = \n')
    with pytest.raises(IngestError, match="mapping file: not valid TOML"):
        load_mapping(bad_toml)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[columns]\nmrn = "MRN"\nstarted_at = "Date"\npain = "Pain"\n')
    with pytest.raises(IngestError, match=r"unknown field.*pain"):
        load_mapping(unknown)
    vocab = tmp_path / "vocab.toml"
    vocab.write_text(
        '[columns]\nmrn = "MRN"\nstarted_at = "Date"\n[values.route]\n"I.V." = "intravenous"\n'
    )
    with pytest.raises(IngestError, match="'intravenous' is not one of IV"):
        load_mapping(vocab)
    inst = tmp_path / "inst.toml"
    inst.write_text(
        '[columns]\nmrn = "MRN"\nstarted_at = "Date"\n'
        '[[assessments]]\ncolumn = "Mood"\ninstrument = "happiness"\n'
    )
    with pytest.raises(IngestError, match="unknown instrument 'happiness'"):
        load_mapping(inst)
    ok = tmp_path / "ok.toml"
    ok.write_text('[columns]\nmrn = "MRN"\nstarted_at = "Visit"\n')
    with pytest.raises(IngestError, match="names columns the file does not have: Visit"):
        _import(tmp_path, "v.csv", b"MRN,Date\nM1,2024-01-01\n", mapping=ok)
    with pytest.raises(IngestError, match="no such file"):
        load_mapping(tmp_path / "missing.toml")


def test_wide_preset_without_mapping(tmp_path):
    with pytest.raises(IngestError, match="needs a mapping file"):
        _import(tmp_path, "a.csv", b"a,b\n1,2\n", preset="wide")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"MRN,Date,LOINC,Value\n", b"MRN,Value\nM1,4\n"],
)
def test_cli_prints_one_line_and_exits_2(tmp_path, monkeypatch, capsys, data):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path / "home"))
    f = tmp_path / "in.csv"
    f.write_bytes(data)
    rc = cli.main(["import", str(f), "--store", str(tmp_path / "s.duckdb")])
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("reading ")]  # progress lines
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("kapoutcomes: ") and "Traceback" not in err[0]
    rc = cli.main(["import", str(f), "--store", str(tmp_path / "s.duckdb"), "--preset", "nope"])
    assert rc == 2


def test_cli_import_prints_report_and_json(tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path / "home"))
    f = tmp_path / "in.csv"
    f.write_bytes(b"MRN,Date,LOINC,Value\nM1,2024-01-01,72514-3,7/10\nM1,2024-01-02,8302-2,170\n")
    store = str(tmp_path / "s.duckdb")
    assert cli.main(["import", str(f), "--store", store, "--clinic", "C", "--dry-run"]) == 0
    out = capsys.readouterr()
    assert "rows read 2 = accepted 1 + quarantined 0 + skipped 1" in out.out
    assert "reading" in out.err  # progress on stderr
    assert cli.main(["import", str(f), "--store", store, "--clinic", "C", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["files"][0]["accepted"] == 1 and rep["reconciles"]
    out_csv = tmp_path / "q.csv"
    assert cli.main(["import", "--store", store, "--quarantine-csv", str(out_csv)]) == 0
    assert out_csv.exists()


def test_shipped_mapping_files_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "sample_data" / "mappings"
    files = sorted(folder.glob("*.toml"))
    assert files
    for f in files:
        assert load_mapping(f).columns["mrn"]


def test_ingest_error_is_one_line_file_problem_action():
    from kapoutcomes import ingest
    from kapoutcomes.ingest.errors import IngestError as ModuleIngestError

    e = ModuleIngestError("visits.csv", "no patient column", "add an MRN column")
    assert str(e) == "visits.csv: no patient column; add an MRN column"
    assert (e.file, e.problem, e.action) == ("visits.csv", "no patient column", "add an MRN column")
    assert str(ModuleIngestError("a.xlsx", "the file is empty")) == "a.xlsx: the file is empty"
    assert isinstance(e, ValueError)
    assert ingest.IngestError is ModuleIngestError  # the package re-exports the one class
