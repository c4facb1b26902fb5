"""The server prepares the first Cohort review when it starts (``common.warm_up``, run by
dashboards/serve.py's lifespan in a background thread): the first person after a restart
finds the cohort's summary and figures made, instead of waiting for them (issue 14 item 7:
the cold first session took 8.7 s at 10,000 patients)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st

from dashboards import common
from kapoutcomes.cohort import summary as summary_module
from kapoutcomes.storage.store import Store
from tests.builders import maintenance_patient

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture
def summaries(monkeypatch) -> list[int]:
    """Each cohort summary computed from here on (one entry per computation)."""
    calls: list[int] = []
    real = summary_module.cohort_summary

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(summary_module, "cohort_summary", counted)
    return calls


def first_session() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Cohort review"]
    assert at.metric, "no headline figure"
    return at


def test_the_first_session_after_warm_up_computes_no_summary(monkeypatch, tmp_path, summaries):
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))  # none: the demo
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "1")
    # control: a freshly started server without warm-up computes the summary in the session
    st.cache_resource.clear()
    first_session()
    assert summaries, "the first session computed no summary: this test could not fail"

    st.cache_resource.clear()  # a fresh start again, this time warmed up
    said = common.warm_up()
    assert said.startswith("Cohort review prepared for the demo cohort in "), said
    computed_ahead = len(summaries)
    first_session()
    assert len(summaries) == computed_ahead  # the session found everything made


def test_warm_up_never_raises_and_touches_nothing(monkeypatch, tmp_path):
    """A store holding data without its key: the warm-up reports it in words (the page that
    opens the store shows the refusal) and writes no key."""
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    with Store(tmp_path / "store.duckdb") as s:
        s.write_tables(maintenance_patient(1))
    st.cache_resource.clear()
    said = common.warm_up()
    assert said == "not prepared (StoreError); the first page will compute it"
    assert not (tmp_path / "secret.key").exists()


def test_an_empty_store_without_the_demo_needs_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    st.cache_resource.clear()
    assert common.warm_up() == "nothing to prepare: the store holds no patients"
