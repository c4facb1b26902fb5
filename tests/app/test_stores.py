"""Every page on four stores a clinic can have (issue 14's acceptance): a new installation (an
empty store: the demo cohort is shown, flagged), an empty store with the demo turned off, a
store of one patient, and a store of scores without any dosing session (an observation export
imported before the visit export). Each page renders without an exception and says what is
missing, in the clinic's words, instead of an empty chart or a zero that reads as a result."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapoutcomes.storage import keys
from kapoutcomes.storage.store import Store
from tests.builders import maintenance_patient, patient, pid, score, tables_of

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


def scores_only():  # type: ignore[no-untyped-def]
    """Two patients with pain and PHQ-9 scores and no session of any kind."""
    return tables_of(
        [patient(1), patient(2)],
        [],
        [score(1, -2, 8), score(1, 20, 4), score(2, 0, 6), score(2, 30, 12, inst="phq9")],
    )


STORES = {
    "demo": None,  # nothing written: a new installation shows the demo cohort
    "empty": {},  # an empty store, KAPOUTCOMES_DEMO=0
    "one_patient": maintenance_patient(1),
    "scores_only": scores_only(),
}

# what each page must say on each store (every phrase must be shown)
MISSING = {
    "demo": {page: ["Demo data."] for page in ("cohort", "patient", "safety", "data", "audit")},
    "empty": {
        "cohort": ["the store holds no patients yet"],
        "patient": ["No patients yet. Import an export on the Data page."],
        "safety": ["No dosing sessions in this cohort"],
        "data": ["No imports yet.", "No patients yet: import an export to see data quality."],
        "audit": ["No entries yet."],
    },
    "one_patient": {
        "cohort": ["Too few phq9 scores after the first infusion for a trajectory."],
        "safety": ["No after-dose CADSS scores linked to dosing sessions in this cohort."],
    },
    "scores_only": {
        "cohort": ["2 patient(s) but none has a dosing session yet"],
        "safety": ["No dosing sessions in this cohort"],
        "data": ["The store holds scores but no infusion sessions"],
    },
}

PAGES = ["cohort", "patient", "safety", "data", "definitions", "audit"]


@pytest.fixture
def store_env(request, monkeypatch, tmp_path):
    """KAPOUTCOMES_* pointing at a store of the kind named by the test's ``kind`` parameter."""
    kind = request.param
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "1" if kind == "demo" else "0")
    content = STORES[kind]
    if content is not None:
        with Store(tmp_path / "store.duckdb") as st:
            keys.for_store(st)  # a new installation's key first: a store with data needs its key
            if content:
                st.write_tables(content)
    return kind


def shown(at) -> str:  # type: ignore[no-untyped-def]
    """Every message, heading and caption on the page, as one text."""
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption]
    parts += [m.body for kind in (at.error, at.warning, at.info, at.success) for m in kind]
    parts += [t.value for t in at.title] + [h.value for h in at.subheader]
    return "\n".join(str(p) for p in parts)


def open_page(page: str):  # type: ignore[no-untyped-def]
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page(f"views/{page}.py").run()
    return at


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("store_env", list(STORES), indirect=True)
def test_page_renders_and_says_what_is_missing(store_env, page):
    at = open_page(page)
    assert not at.exception, at.exception
    text = shown(at)
    for phrase in MISSING[store_env].get(page, []):
        assert phrase in text, f"{store_env}/{page}: {phrase!r} not shown"
    if store_env != "demo":
        assert "Demo data." not in text  # a clinic's own store is never mixed with the demo
    assert not at.error, [e.body for e in at.error]  # nothing here is an error


@pytest.mark.parametrize("store_env", ["scores_only"], indirect=True)
def test_patient_without_sessions_opens(store_env):
    """A patient with scores but no infusion: the patient view works and says so."""
    at = open_page("patient")
    at.selectbox(key="patient-pick").select(pid(1)).run()
    assert not at.exception, at.exception
    assert "Maintenance review" in [h.value for h in at.subheader]
    assert "No benefit spells yet (needs a baseline and assessments after dosing)." in shown(at)
    from kapoutcomes.outcomes.maintenance_review import NO_DOSE_BASELINE

    cells = "\n".join(str(d.value) for d in at.dataframe)
    assert NO_DOSE_BASELINE.split(",")[0] in cells or NO_DOSE_BASELINE in shown(at)


@pytest.mark.parametrize("store_env", ["one_patient"], indirect=True)
def test_a_key_damaged_while_the_app_runs_is_found_at_the_next_page_run(store_env, tmp_path):
    """The store's tables are cached between page runs; the key is checked when they are read.
    A key damaged (or replaced) while the server runs must be found at the next page run even
    though the store file did not change, never served from the cache."""
    at = open_page("cohort")
    assert not at.exception and not at.error
    key = (tmp_path / "secret.key").read_bytes()
    (tmp_path / "secret.key").write_text("damaged")
    at.run()
    assert any("The store cannot be used" in e.body for e in at.error), shown(at)
    (tmp_path / "secret.key").write_bytes(key)  # restored: the page works again
    at.run()
    assert not at.error, [e.body for e in at.error]
