"""The kapoutcomes command: info, schemas, dashboard address rule, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

from kapoutcomes import cli
from kapoutcomes.demo import generator
from kapoutcomes.storage import keys


def test_info_on_a_store(tmp_path, capsys):
    path = tmp_path / "s.duckdb"
    st, _ = keys.open_store(path)  # a new store and its key, as import would make them
    with st:
        st.write_tables(generator.generate(seed=3, patients=40).tables)
    assert cli.main(["info", "--store", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rows"]["patients"] == 40 and info["clinics"] >= 1
    assert cli.main(["info", "--store", str(path)]) == 0
    assert "patients" in capsys.readouterr().out


def test_info_without_store_says_what_to_do(tmp_path, capsys):
    assert cli.main(["info", "--store", str(tmp_path / "none.duckdb")]) == 2
    err = capsys.readouterr().err
    assert "no store here yet" in err and "Traceback" not in err


def test_schemas_command_writes_contracts(tmp_path, capsys):
    assert cli.main(["schemas", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "DATA_DICTIONARY.md").exists()
    assert (tmp_path / "templates" / "sessions.csv").read_text().startswith("session_id,")


def test_dashboard_refuses_other_addresses_without_sign_in(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "kapoutcomes.cli", "dashboard", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode == 2
    assert "Refusing to serve: 0.0.0.0 is not a loopback" in r.stderr
    assert "Traceback" not in r.stderr


def test_sample_twice_is_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["sample", "--seed", "7", "--out", str(a), "--patients", "60"]) == 0
    assert cli.main(["sample", "--seed", "7", "--out", str(b), "--patients", "60"]) == 0
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_import_undo_and_history(tmp_path, capsys):
    """Issue 13: `kapoutcomes import --undo IMPORT_ID`; an unknown id is a clear error."""
    data = tmp_path / "scores.csv"
    data.write_text("MRN,Date,LOINC,Value\nM1,2024-03-01,72514-3,7\n")
    db = str(tmp_path / "s.duckdb")
    assert cli.main(["import", str(data), "--store", db, "--clinic", "C", "--json"]) == 0
    import_id = json.loads(capsys.readouterr().out)["files"][0]["import_id"]
    assert cli.main(["import", "--undo", "imp_unknown", "--store", db]) == 2
    assert "no import 'imp_unknown' in the ledger" in capsys.readouterr().err
    assert cli.main(["import", "--undo", import_id, "--store", db]) == 0
    assert "undone: 1 file(s) (scores.csv); removed: patients 1, scores 1" in (
        capsys.readouterr().out
    )
    assert cli.main(["import", "--history", "--store", db]) == 0
    assert f"{import_id}" in (out := capsys.readouterr().out) and "undone" in out


CONTROL = ("\x1b", "\x07", "\x9b", "\r")


def test_terminal_escape_codes_in_a_file_name_are_never_printed(tmp_path, capsys):
    """Issue 15 (low): a file name carrying a terminal's escape codes (colour, window title,
    clear screen, bell, CSI, carriage return) is printed with them neutralised, in the import
    report, the review-now list and the history."""
    name = "visits\x1b[31mRED\x1b]0;pwned\x07\x1b[2J\x9b1m\rOK.csv"
    data = tmp_path / name
    data.write_text("mrn,assessed_at,instrument,item,score\nM1,2024-03-01,phq9,9,2.5\n")
    db = str(tmp_path / "s.duckdb")
    assert cli.main(["import", str(data), "--store", db, "--clinic", "C"]) == 0
    assert cli.main(["import", "--history", "--store", db]) == 0
    assert cli.main(["import", str(tmp_path / "gone\x1b[2J.csv"), "--store", db]) == 2
    out = capsys.readouterr()
    printed = out.out + out.err.replace("\rreading", "reading")  # the progress line's own \r
    assert not [c for c in CONTROL if c in printed], repr(printed)
    assert "visits?[31mRED?]0;pwned??[2J?1m?OK.csv" in out.out


def test_everything_the_command_prints_shows_control_characters_as_text():
    """The last line of defence for text from the data (a clinic, a cell in a message): the
    command's output streams show control characters as \\xNN; only the progress line's
    leading carriage return is kept."""
    import io

    sink = io.StringIO()
    term = cli._Terminal(sink)
    term.write("clinic \x1b]0;pwned\x07Riverside\x9b2J\r\n")
    term.write("\rreading 10 of 10 bytes\ttab")
    assert sink.getvalue() == (
        "clinic \\x1b]0;pwned\\x07Riverside\\x9b2J\\x0d\n\rreading 10 of 10 bytes\ttab"
    )


def test_listing_conflicts_is_audited_before_it_is_shown(tmp_path, capsys):
    """The attack (issue 15, second pass): `kapoutcomes conflicts --json` prints both values
    of patients' rows (pseudonym, date, scores) to standard output, and nothing recorded it:
    every CLI export must be in the audit trail. A listing with nothing in it records nothing."""
    from kapoutcomes.ingest import import_files
    from kapoutcomes.storage import audit
    from kapoutcomes.storage.store import Store

    db = tmp_path / "s.duckdb"
    a = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\n"
    b = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,4\n"
    import_files([("a.csv", a)], db, clinic="C")
    import_files([("b.csv", b)], db, clinic="C")

    def exports() -> list[str]:
        with Store(db) as st:
            log = audit.entries(st)
        return log.filter(log["action"] == "export").get_column("detail").to_list()

    assert exports() == []
    assert cli.main(["conflicts", "--store", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["table_name"] == "assessments"
    assert exports() == ["conflicts (JSON, 1)"]
    assert cli.main(["conflicts", "--store", str(db)]) == 0
    assert exports() == ["conflicts (text, 1)", "conflicts (JSON, 1)"]
