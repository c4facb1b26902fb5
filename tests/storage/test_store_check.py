"""`kapoutcomes store check` and a store that cannot be used. Attacks: a truncated or
corrupted store file, a file that is not a store, a full disk during an import, a store held
by another process while the app loads, a malformed settings file; rows removed behind the
ledger's back. Every failure is one line, never a traceback, and never the demo cohort."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kapoutcomes import cli
from kapoutcomes.storage import store as store_mod
from kapoutcomes.storage.store import Store, StoreError
from tests.app.test_text_is_text import seen

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_data" / "demo"
APP = str(ROOT / "dashboards" / "app.py")


@pytest.fixture
def imported(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    files = [str(DEMO / f) for f in ("patients.csv", "sessions.csv")]
    assert cli.main(["import", *files, "--store", str(path), "--json"]) == 0
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_store_check_passes_on_a_good_store(imported, capsys):
    assert cli.main(["store", "--store", str(imported), "check"]) == 0
    out = capsys.readouterr().out
    assert "store OK" in out and "read every row" in out and "audit trail" in out


def test_store_check_finds_rows_removed_behind_the_ledger(imported, capsys):
    with Store(imported) as st:
        st.con.execute(
            "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM sessions LIMIT 3)"
        )
    assert cli.main(["store", "--store", str(imported), "check"]) == 1
    assert "table sessions: holds" in capsys.readouterr().out


def test_store_check_runs_the_audit_verification(imported, capsys):
    with Store(imported) as st:
        st.con.execute("DELETE FROM audit_log")
    assert cli.main(["store", "--store", str(imported), "check"]) == 1
    assert "audit trail: the checkpoint records" in capsys.readouterr().out


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "corrupted":
        # overwrite the data blocks after the headers with noise
        noise = bytes((i * 151 + 7) % 256 for i in range(len(data) - 12288))
        path.write_bytes(data[:12288] + noise)
    elif how == "not-a-store":
        path.write_text("patient_id,pain\np_1,5\n" * 400)
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "corrupted", "not-a-store", "empty"])
def test_damaged_store_is_one_line_everywhere(imported, how, capsys):
    _damage(imported, how)
    for argv in (
        ["store", "--store", str(imported), "check"],
        ["info", "--store", str(imported)],
        ["report", "--store", str(imported)],
        ["audit", "--store", str(imported), "verify"],
        ["import", str(DEMO / "patients.csv"), "--store", str(imported)],
    ):
        code = cli.main(argv)
        if argv[0] == "store":
            out = capsys.readouterr()
            assert code in (1, 2), (argv, out)
            assert "Traceback" not in out.out + out.err
            continue
        assert code == 2, argv
        err = one_line_error(capsys)
        assert str(imported) in err or "store" in err, err


def test_non_duckdb_file_says_so():
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".duckdb", delete=False) as f:
        f.write(b"PK\x03\x04 this is a spreadsheet, not a store" * 200)
    try:
        with pytest.raises(StoreError, match="not a kapoutcomes store"):
            Store(f.name)
    finally:
        os.unlink(f.name)


def test_connections_never_load_or_install_extensions(tmp_path):
    with Store(tmp_path / "s.duckdb") as st:
        got = st.con.execute(
            "SELECT current_setting('autoinstall_known_extensions'), "
            "current_setting('autoload_known_extensions')"
        ).fetchall()[0]
        assert got == (False, False)
        # a URL needs httpfs: refused at once instead of fetching the extension (the URL is
        # on loopback, so even a regression could not reach another machine)
        with pytest.raises(duckdb.Error, match="requires the extension httpfs"):
            st.con.execute("SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')").fetchall()
    assert store_mod.SAFE_SETTINGS["autoinstall_known_extensions"] == "false"


def test_full_disk_during_an_import_is_one_line(tmp_path):
    """A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) stands in for a full disk: writes
    past it fail with EFBIG like ENOSPC."""
    home = tmp_path / "home"
    home.mkdir()

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "kapoutcomes.cli",
            "import",
            str(DEMO),
            "--store",
            str(home / "store.duckdb"),
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"KAPOUTCOMES_HOME": str(home), "PYTHONPATH": str(ROOT)},
        preexec_fn=limit,
        timeout=300,
    )
    assert r.returncode == 2, r.stdout[-500:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]  # the lines before it are the progress
    assert last.startswith("kapoutcomes: ") and "disk is full" in last, r.stderr
    assert all(ln.startswith("reading ") for ln in r.stderr.strip().splitlines()[:-1])
    # with space again, the store is whole: the failed import left nothing half-written
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "kapoutcomes.cli",
            "store",
            "--store",
            str(home / "store.duckdb"),
            "check",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"KAPOUTCOMES_HOME": str(home), "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_malformed_settings_stop_the_import_naming_file_and_line(tmp_path, capsys):
    bad = tmp_path / "outcomes.toml"
    bad.write_text("[outcomes]\npain_response_pct = = 30\n", encoding="utf-8")
    code = cli.main(
        [
            "import",
            str(DEMO / "patients.csv"),
            "--store",
            str(tmp_path / "s.duckdb"),
            "--settings",
            str(bad),
        ]
    )
    assert code == 2
    err = one_line_error(capsys)
    assert str(bad) in err and "line 2" in err
    assert not (tmp_path / "s.duckdb").exists()  # nothing imported with defaults


def test_app_stops_on_malformed_settings(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    bad = tmp_path / "outcomes.toml"
    bad.write_text("[outcomes]\npain_response_pct = = 30\n", encoding="utf-8")
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_SETTINGS", str(bad))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    errors = seen(" ".join(e.value for e in at.error))  # Markdown escapes resolved
    assert str(bad) in errors and "line 2" in errors
    assert not at.metric and not at.dataframe


def test_app_says_busy_instead_of_showing_the_demo(imported, monkeypatch):
    from streamlit.testing.v1 import AppTest

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)",
            str(imported),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("KAPOUTCOMES_STORE", str(imported))
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        assert not at.exception
        assert any("store is busy" in w.value for w in at.warning)
        assert not any("Demo data" in w.value for w in at.warning)
        assert not at.metric and not at.dataframe
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.2)


@pytest.mark.parametrize("how", ["truncated", "not-a-store"])
def test_app_shows_one_line_for_a_damaged_store_not_the_demo(imported, how, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _damage(imported, how)
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(imported))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert any(
        "The store cannot be used" in e.value and str(imported) in seen(e.value) for e in at.error
    )
    assert not any("Demo data" in w.value for w in at.warning)
    assert not at.metric and not at.dataframe


def test_check_store_reads_every_table_of_an_imported_store(imported):
    from kapoutcomes.storage.check import check_store

    result = check_store(imported)
    assert result.ok, result.problems
    assert result.lines  # what was checked is said


def test_check_store_reports_a_file_that_is_not_a_store(tmp_path):
    from kapoutcomes.storage.check import check_store

    bad = tmp_path / "not_a_store.duckdb"
    bad.write_bytes(b"this is not a DuckDB file" * 100)
    assert not check_store(bad).ok


def test_a_sqlite_file_as_store_tries_no_extension_download(tmp_path):
    """Issue 15 (low): opening a non-DuckDB file made DuckDB fetch an extension from the
    network (a SQLite file makes it want sqlite_scanner). Opened as a store in a process whose
    home is empty: one line saying it is not a store, no extension folder created (nothing
    downloaded or installed), and no advice to install anything."""
    import sqlite3

    path = tmp_path / "store.duckdb"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE patients (mrn TEXT)")
    con.commit()
    con.close()
    home = tmp_path / "home"
    home.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "kapoutcomes.cli", "info", "--store", str(path)],
        capture_output=True,
        text=True,
        env=os.environ
        | {"HOME": str(home), "KAPOUTCOMES_HOME": str(home), "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "not a kapoutcomes store" in r.stderr and "install" not in r.stderr.lower()
    assert not (home / ".duckdb").exists()  # no extension fetched or installed


def test_app_import_stops_on_malformed_settings(tmp_path, monkeypatch):
    """Issue 15: a malformed settings file made app imports silently use the defaults. The
    Data page's import, with a file uploaded and Import clicked, stops with the file and line
    and writes nothing."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    bad = tmp_path / "outcomes.toml"
    bad.write_text("[outcomes]\npain_response_pct = = 30\n", encoding="utf-8")
    monkeypatch.setenv("KAPOUTCOMES_SETTINGS", str(bad))  # broken after the page opened
    data = (DEMO / "patients.csv").read_bytes()
    at.file_uploader(key="upload-files").upload("patients.csv", data, "text/csv")
    at.run()
    at.button(key="upload-go").click().run()
    assert not at.exception
    errors = seen(" ".join(e.value for e in at.error))
    assert "Settings file problem" in errors and str(bad) in errors and "line 2" in errors
    if (tmp_path / "store.duckdb").exists():  # nothing written with the defaults
        with Store(tmp_path / "store.duckdb", read_only=True) as st:
            assert st.read_all()["patients"].height == 0


def test_app_import_on_a_full_disk_is_one_line(tmp_path, monkeypatch):
    """Issue 15 (low): a full disk gave a traceback. In the app the import's write fails the
    way DuckDB reports a full disk (the import is stubbed to raise that error: filling the
    disk under the test process is not safe); the page shows one line, no traceback, and
    says nothing was written."""
    from streamlit.testing.v1 import AppTest

    from kapoutcomes import ingest

    def full_disk(*args, **kwargs):
        raise duckdb.IOException('Could not write file "store.duckdb.wal": No space left on device')

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    monkeypatch.setattr(ingest, "import_files", full_disk)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/data.py")
    at.run()
    data = (DEMO / "patients.csv").read_bytes()
    at.file_uploader(key="upload-files").upload("patients.csv", data, "text/csv")
    at.run()
    at.button(key="upload-go").click().run()
    assert not at.exception
    errors = [seen(e.value) for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert "disk is full" in errors[0] and "Nothing was written" in errors[0]
