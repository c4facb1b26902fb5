"""AppTest of the Patient view: the demo cohort (found by MRN), a one-patient store and a
patient with scores but no sessions. Every 'now' is dated and the as-of date says what it is."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.demo import generator
from kapoutcomes.storage import keys
from kapoutcomes.storage.store import Store
from tests.app.test_app import run, texts


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    return tmp_path


def store_of(env, monkeypatch, one: dict[str, pl.DataFrame]) -> str:
    """A store holding ``one`` patient's tables; the patient's id."""
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    full = {name: one.get(name, tables.empty(name)) for name in tables.MODELS}
    with Store(env / "store.duckdb") as st:
        keys.for_store(st)  # a new installation's key first: a store with data needs its key
        st.write_tables(full)
    return one["patients"]["patient_id"][0]


def open_patient(pick: str | None = None, mrn: str | None = None):
    at = run("views/patient.py")
    if mrn is not None:
        at.text_input(key="patient-query").input(mrn).run()
    else:
        at.selectbox(key="patient-pick").select(pick).run()
    assert not at.exception, at.exception
    return at


def test_demo_patient_by_mrn_is_dated(demo_env):
    at = open_patient(mrn="DEMO-000012")
    words = texts(at)
    assert "the latest record in the store (the data end), not today" in words
    metrics = {m.label: m for m in at.metric}
    assert {"Pain (0-10) ⚠ stale", "Since last infusion", "Benefit lasted"} <= set(metrics)
    assert metrics["Induction infusions"].value == "5 of 6"
    assert any("stale after 30 days" in w.body for w in at.warning)
    assert "day 550 now" not in words and "now" not in metrics["Since last infusion"].label


def test_one_patient_store(demo_env, monkeypatch):
    cohort = generator.generate(seed=7).tables
    first = cohort["sessions"].filter(pl.col("session_type") == "maintenance")["patient_id"][0]
    pid = store_of(
        demo_env,
        monkeypatch,
        {k: v.filter(pl.col("patient_id") == first) for k, v in cohort.items()},
    )
    at = open_patient(pick=pid)
    assert "Maintenance review" in [h.value for h in at.subheader]
    assert any(m.label.startswith("Pain (0-10)") for m in at.metric)
    assert len(at.get("plotly_chart")) == 1


def test_patient_without_sessions(demo_env, monkeypatch):
    cohort = generator.generate(seed=7).tables
    first = cohort["patients"]["patient_id"][0]
    one = {
        "patients": cohort["patients"].filter(pl.col("patient_id") == first),
        "assessments": cohort["assessments"].filter(pl.col("patient_id") == first),
    }
    pid = store_of(demo_env, monkeypatch, one)
    at = open_patient(pick=pid)
    words = texts(at)
    assert "no baseline: no infusion recorded" in words
    assert {m.label: m.value for m in at.metric}["Since last infusion"] == "—"
    assert len(at.get("plotly_chart")) == 1
