"""Every dataframe every page shows reads as people read tables (tests/readable.py): walked
with AppTest on the demo cohort (every page, a patient opened) and on a store with imports,
a quarantined row and a conflict (the Data page's tables)."""

from __future__ import annotations

import pytest

from tests.app.test_app import run
from tests.readable import problems

pytest.importorskip("streamlit.testing.v1")


def shown_problems(at, page: str) -> list[str]:  # type: ignore[no-untyped-def]
    assert not at.exception, at.exception
    out = []
    for i, d in enumerate(at.dataframe):
        v = d.value
        out += problems(f"{page} table {i + 1}", [str(c) for c in v.columns], v.itertuples(False))
    return out


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    return tmp_path


@pytest.mark.parametrize("page", ["views/cohort.py", "views/safety.py", "views/definitions.py"])
def test_demo_pages_show_readable_tables(demo_env, page):
    at = run(page)
    assert len(at.dataframe) >= 3
    assert shown_problems(at, page) == []


def test_patient_and_audit_tables_are_readable(demo_env):
    at = run("views/patient.py")
    at.text_input(key="patient-query").input("demo-000012").run()
    assert len(at.dataframe) >= 5
    assert shown_problems(at, "patient") == []


def test_data_page_tables_are_readable(demo_env, monkeypatch):
    from kapoutcomes.ingest import import_files

    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    db = demo_env / "store.duckdb"
    a = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\nM1,2024-03-09 10:00,72514-3,99\n"
    b = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,4\n"
    import_files([("a.csv", a)], db, clinic="C")
    import_files([("b.csv", b)], db, clinic="C")
    at = run("views/data.py")
    headers = [h for d in at.dataframe for h in d.value.columns]
    assert "Why quarantined" in headers and "Stored value (kept)" in headers
    assert shown_problems(at, "data") == []
    at = run("views/audit.py")  # the two imports are in the trail (demo views are not)
    assert len(at.dataframe) == 1
    # the trail is shown as written (hash-chained): its Detail keeps the import ids that
    # `kapoutcomes import --undo` and the ledger cross-check use; nothing else may break a rule
    verbatim = "column 'Detail' shows an internal key 'accepted="
    assert [p for p in shown_problems(at, "audit") if verbatim not in p] == []
