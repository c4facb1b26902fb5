"""Every download of the app is audited (issue 14 item 6): pages never call
``st.download_button`` themselves, only ``dashboards.common.download``; and the bundled demo
cohort (shown when the store is empty) never writes into the clinic's audit trail."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl

from kapoutcomes.storage import audit, keys
from kapoutcomes.storage.store import Store
from tests.app.test_app import ROOT, demo_env, run  # noqa: F401 - the fixture
from tests.app.test_patient_page_app import open_patient, store_of


def _download_button_calls(path: Path) -> list[int]:
    """Lines of ``path`` calling ``download_button`` (``st.download_button``, a column's)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "download_button"
    ]


def test_no_page_calls_download_button_directly():
    """Only ``common.download`` may call st.download_button: it writes the audit entry before
    the data is made. A page calling it directly would send patient rows unaudited."""
    common = ROOT / "dashboards" / "common.py"
    offenders = {
        str(p.relative_to(ROOT)): lines
        for p in sorted((ROOT / "dashboards").rglob("*.py"))
        if (lines := _download_button_calls(p)) and p != common
    }
    assert offenders == {}, f"call common.download instead of st.download_button: {offenders}"
    assert len(_download_button_calls(common)) == 1  # the one audited deferred download


def test_the_scan_finds_a_direct_call(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('import streamlit as st\ncol = st\ncol.download_button("x", b"y")\n')
    assert _download_button_calls(page) == [3]


def _audit_rows(path: Path) -> int:
    with Store(path) as st:
        return audit.entries(st).height


def test_demo_patient_view_leaves_the_audit_trail_unchanged(demo_env, monkeypatch):  # noqa: F811
    """An empty store shows the demo cohort: opening a demo patient (by MRN and from the
    list) writes nothing into the clinic's audit trail."""
    path = demo_env / "store.duckdb"
    with Store(path) as st:
        keys.for_store(st)
    before = _audit_rows(path)
    at = open_patient(mrn="DEMO-000012")
    assert "Demo data." in "\n".join(w.body for w in at.warning)
    assert "Maintenance review" in [h.value for h in at.subheader]
    picked = at.selectbox(key="patient-pick").options[2]
    at.text_input(key="patient-query").input("").run()
    at.selectbox(key="patient-pick").select(picked).run()
    assert not at.exception, at.exception
    assert _audit_rows(path) == before == 0


def test_store_patient_view_is_audited_once(demo_env, monkeypatch):  # noqa: F811
    from kapoutcomes.demo import generator

    cohort = generator.generate(seed=7).tables
    first = cohort["patients"]["patient_id"][0]
    pid = store_of(
        demo_env,
        monkeypatch,
        {k: v.filter(pl.col("patient_id") == first) for k, v in cohort.items()},
    )
    at = open_patient(pick=pid)
    at.run()  # a rerun of the same view is not a second view
    with Store(demo_env / "store.duckdb") as st:
        log = audit.entries(st)
        assert audit.verify(st, keys.for_store(st).audit).ok
    views = log.filter(pl.col("action") == "view_patient")
    assert views.height == 1 and views["target"][0] == pid
