"""Everything kapoutcomes writes that holds patient data is its owner's only: files 0600,
folders 0700, whatever the umask. Attack: a permissive umask (0o022) and a home folder that
already exists world-readable; run each command and check every mode after it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_data" / "demo"


def modes(folder: Path) -> dict[str, int]:
    out = {str(folder): stat.S_IMODE(folder.stat().st_mode)}
    for p in folder.rglob("*"):
        out[str(p)] = stat.S_IMODE(p.stat().st_mode)
    return out


def test_every_command_leaves_owner_only_files(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    outside = tmp_path / "elsewhere"  # a store outside the home folder, with its checkpoint
    exports = tmp_path / "exports"
    store = outside / "clinic.duckdb"
    env = os.environ | {"KAPOUTCOMES_HOME": str(home), "PYTHONPATH": str(ROOT)}

    def run(*argv: str) -> None:
        r = subprocess.run(
            [sys.executable, "-m", "kapoutcomes.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=lambda: os.umask(0o022),
        )
        assert r.returncode in (0, 1), (argv, r.stderr[-1000:])
        for folder in (home, outside, exports):
            if not folder.exists():
                continue
            for path, mode in modes(folder).items():
                want = 0o700 if Path(path).is_dir() else 0o600
                assert mode == want, f"after {' '.join(argv[:2])}: {path} is {oct(mode)}"

    run("import", str(DEMO / "patients.csv"), str(DEMO / "sessions.csv"), "--store", str(store))
    assert store.exists() and (home / "secret.key").exists()
    assert Path(f"{store}.audit-checkpoint").exists()
    run("report", "--store", str(store), "--html", str(exports / "report.html"))
    run("report", "--store", str(store), "--json")
    run("audit", "--store", str(store), "export", "--out", str(exports / "audit.csv"))
    run("import", "--store", str(store), "--quarantine-csv", str(exports / "quarantine.csv"))
    run("audit", "--store", str(store), "verify")
    run("store", "--store", str(store), "check")
    run("info", "--store", str(store))
    run(
        "sample",
        "--out",
        str(exports / "sample"),
        "--patients",
        "20",
        "--store",
        str(home / "demo.duckdb"),
    )
    for f in ("report.html", "audit.csv", "quarantine.csv"):
        assert (exports / f).exists(), f
