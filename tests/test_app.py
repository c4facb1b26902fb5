"""AppTest for every page: demo cohort, empty store, one-patient store; filters change figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapoutcomes.demo import generator
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboards" / "app.py")

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

PAGES = [
    "views/cohort.py",
    "views/patient.py",
    "views/data.py",
    "views/safety.py",
    "views/definitions.py",
    "views/audit.py",
]


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    return tmp_path


@pytest.fixture
def empty_env(demo_env, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    Store(demo_env / "store.duckdb").close()
    return demo_env


@pytest.fixture
def one_patient_env(demo_env, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    cohort = generator.generate(seed=7).tables
    first_dosed = cohort["sessions"].filter(cohort["sessions"]["session_type"] == "induction")[
        "patient_id"
    ][0]
    one = {k: v.filter(v["patient_id"] == first_dosed) for k, v in cohort.items()}
    with Store(demo_env / "store.duckdb") as st:
        st.write_tables(one)
    return demo_env


def run(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def texts(at: AppTest) -> str:
    parts = (
        [m.value for m in at.markdown] + [m.body for m in at.warning] + [m.body for m in at.info]
    )
    parts += (
        [m.body for m in at.error]
        + [str(m.value) for m in at.title]
        + [m.value for m in at.caption]
    )
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_demo_cohort(demo_env, page):
    at = run(page)
    assert not at.exception, at.exception
    assert "Demo data." in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_empty_store(empty_env, page):
    at = run(page)
    assert not at.exception, at.exception
    assert "Demo data." not in texts(at)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_on_one_patient_store(one_patient_env, page):
    at = run(page)
    assert not at.exception, at.exception


def test_cohort_filter_changes_figures(demo_env):
    at = run("views/cohort.py")
    before = {m.label: m.value for m in at.metric}
    at.sidebar.multiselect(key="cohort-clinic").select("Summit KAP Institute").run()
    assert not at.exception, at.exception
    after = {m.label: m.value for m in at.metric}
    assert before["Patients"] == "360" and after["Patients"] != "360"
    # every headline figure follows the filter
    changed = [k for k in before if k != "Clinics" and before[k] != after.get(k)]
    assert "Pain responders (≥30%)" in changed and "Dosing sessions" in changed


def test_patient_found_by_demo_mrn_and_view_audited(demo_env):
    at = run("views/patient.py")
    at.text_input(key="patient-query").input("demo-000012").run()
    assert not at.exception, at.exception
    assert "Maintenance review" in [h.value for h in at.subheader]
    assert any("safety flag" in (m.body or "") for m in [*at.error, *at.success])
    from kapoutcomes.storage import audit, keys, privacy
    from kapoutcomes.storage.store import Store

    with Store(demo_env / "store.duckdb") as st:
        log = audit.entries(st)
        assert log.filter(log["action"] == "view_patient").height == 1
        assert audit.verify(st, keys.for_store(st).audit).ok
    pid = privacy.pseudonymise("DEMO-000012", privacy.DEMO_SECRET)
    assert log["target"][0] == pid


def test_patient_unknown_mrn_says_so(demo_env):
    at = run("views/patient.py")
    at.text_input(key="patient-query").input("NOT-A-PATIENT").run()
    assert not at.exception
    assert any("No patient with that MRN" in w.body for w in at.warning)


def test_safety_filter_changes_figures(demo_env):
    at = run("views/safety.py")
    assert not at.exception, at.exception
    before = [m.value for m in at.metric]
    at.sidebar.multiselect(key="safety-route").select("IV").run()
    assert not at.exception, at.exception
    after = [m.value for m in at.metric]
    assert before != after


def test_settings_change_is_audited_once(demo_env, monkeypatch):
    from kapoutcomes.storage import audit

    (demo_env / "outcomes.toml").write_text("pain_response_pct = 50\n")
    monkeypatch.setenv("KAPOUTCOMES_SETTINGS", str(demo_env / "outcomes.toml"))
    Store(demo_env / "store.duckdb").close()
    at = run("views/definitions.py")
    assert not at.exception, at.exception
    run("views/definitions.py")  # a second session with the same settings adds nothing
    with Store(demo_env / "store.duckdb") as st:
        log = audit.entries(st).filter(audit.entries(st)["action"] == "settings_change")
    assert log.height == 1
    assert "pain_response_pct=50.0" in log["detail"][0]


def test_cohort_comparison_dimension_switch(demo_env):
    at = run("views/cohort.py")
    at.selectbox(key="cohort-compare").select("route").run()
    assert not at.exception, at.exception
    assert any("Response rate by route" in str(c.proto.spec) for c in at.get("plotly_chart"))
