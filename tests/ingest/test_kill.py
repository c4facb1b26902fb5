"""An import killed part-way (SIGKILL inside the transaction) leaves the store as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kapoutcomes.ingest import import_files
from kapoutcomes.storage.store import Store

SECRET = b"ingest-test-secret-ingest-test-secret"


def long_file(path: Path, rows: int) -> None:
    codes = ("72514-3", "44261-6", "70274-6", "8302-2")
    with path.open("w") as f:
        f.write("MRN,Date,LOINC,Value\n")
        for i in range(rows):
            day = 1 + i % 28
            f.write(f"M{i % 997},2024-{1 + i % 12:02d}-{day:02d}T{i % 24:02d}:00:00Z,")
            f.write(f"{codes[i % 4]},{i % 10}\n")


def _state(db: Path) -> tuple:
    with Store(db) as st:
        counts = st.counts()
        ledger = st.query("SELECT content_sha256 FROM import_ledger ORDER BY 1").rows()
    return counts, ledger


def test_sigkill_mid_import_leaves_store_unchanged(tmp_path):
    db = tmp_path / "s.duckdb"
    small = tmp_path / "small.csv"
    long_file(small, 50)
    import_files([small], db, clinic="C", secret=SECRET)
    before = _state(db)
    assert before[0]["assessments"] > 0

    big = tmp_path / "big.csv"
    long_file(big, 40_000)
    marker = tmp_path / "inside-transaction"
    script = textwrap.dedent(
        f"""
        import time
        from kapoutcomes.storage import store as sm
        from kapoutcomes.ingest import import_files
        orig = sm.Store.append
        def slow(self, con, table, frame):
            n = orig(self, con, table, frame)
            open({str(marker)!r}, "w").write(table)
            time.sleep(120)
            return n
        sm.Store.append = slow
        import_files([{str(big)!r}], {str(db)!r}, clinic="C", secret={SECRET!r})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, "the import process ended before the hook ran"
            assert time.monotonic() < deadline, "the import never reached its transaction"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert _state(db) == before
    # and the same import, not interrupted, then goes through
    rep = import_files([big], db, clinic="C", secret=SECRET)
    assert rep.reconciles and rep.files[0].accepted > 0
    assert _state(db)[0]["assessments"] > before[0]["assessments"]
