"""Every button and download on every page, each page in a fresh process (tests/app/app_clicks.py)
so that an import error cannot hide behind a module an earlier test already imported: no
exception and no error message on the demo cohort or on an empty store, every download
carries data, and the buttons that matter were really clicked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kapoutcomes.storage import audit, keys
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["cohort", "patient", "safety", "data", "audit", "definitions"]
#: buttons each page must have offered and had clicked, per store
MUST_CLICK = {
    ("cohort", "demo"): {"Prepare the HTML report", "⬇ Cohort report (HTML)", "⬇ Attrition (CSV)"},
    ("patient", "demo"): {
        "⬇ One-page summary for the chart (HTML, printable)",
        "⬇ Benefit after each infusion (CSV)",
        "⬇ Sessions (CSV)",
    },
    ("data", "demo"): {"Import", "⬇ Import report (CSV)"},
    ("data", "empty"): {"Import", "⬇ Import report (CSV)"},
    ("safety", "demo"): {"⬇ Adverse event rates (CSV)"},
    ("definitions", "demo"): {"⬇ Definitions (CSV)", "⬇ MME factors (CSV)"},
    ("audit", "demo"): {"⬇ Audit trail (CSV)"},
    ("audit", "empty"): {"⬇ Audit trail (CSV)"},
}


def click_everything(page: str, store: str, home: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "KAPOUTCOMES_HOME": str(home),
        "KAPOUTCOMES_STORE": str(home / "store.duckdb"),
        "KAPOUTCOMES_DEMO": "0" if store == "empty" else "1",
    }
    with Store(home / "store.duckdb") as db:  # without patients: the demo cohort shows
        if page == "audit":  # something in the trail to show and download
            k = keys.for_store(db, home / "secret.key")
            audit.record(db, k.audit, "t", "local", "sign_in")
    r = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "app" / "app_clicks.py"), f"views/{page}.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("store", ["demo", "empty"])
@pytest.mark.parametrize("page", PAGES)
def test_every_button_and_download(page, store, tmp_path):
    report = click_everything(page, store, tmp_path)
    assert report["exceptions"] == []
    # st.error is also how the patient page makes safety flags impossible to miss
    assert [e for e in report["errors"] if "safety flag(s) for this patient" not in e] == []
    assert all(size > 0 for size in report["downloads"].values()), report["downloads"]
    assert MUST_CLICK.get((page, store), set()) <= set(report["clicked"]), report["clicked"]
    if store == "demo":
        assert report["downloads"], "no download on the demo cohort"
