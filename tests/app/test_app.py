"""AppTest for every page: demo cohort, empty store, one-patient store; filters change figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapoutcomes.demo import generator
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
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
    assert "Pain responders (≥30%), all starters" in changed and "Dosing sessions" in changed


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


@pytest.mark.parametrize("page", ["views/cohort.py", "views/safety.py"])
def test_interval_labels_follow_the_configured_level(demo_env, monkeypatch, page):
    """The level is a setting (confidence_level): no page may call a 90% interval "95% CI"."""
    (demo_env / "outcomes.toml").write_text("confidence_level = 0.9\n")
    monkeypatch.setenv("KAPOUTCOMES_SETTINGS", str(demo_env / "outcomes.toml"))
    at = run(page)
    assert not at.exception, at.exception
    shown = texts(at) + "\n".join(str(list(d.value.columns)) for d in at.dataframe)
    assert "90% CI" in shown
    # (the funnel plot's fixed 95% and 99.8% control limits are not this interval)
    assert "95% CI" not in shown and "95% exact" not in shown


def test_data_page_settles_a_conflict_and_undoes_an_import(demo_env, monkeypatch):
    """Issue 13: the Conflicts tab keeps one value; Import history undoes an import."""
    from kapoutcomes.ingest import import_files

    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    db = demo_env / "store.duckdb"
    a = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\n"
    b = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,4\n"
    import_files([("a.csv", a)], db, clinic="C")
    import_files([("b.csv", b)], db, clinic="C")
    at = run("views/data.py")
    assert not at.exception, at.exception
    at.radio(key="conf-keep").set_value("the imported value")
    at.button(key="conf-go").click().run()
    assert any("kept the imported value" in s.value for s in at.success)
    with Store(db) as st:
        assert st.read("assessments").get_column("score").to_list() == [4.0]
    at.checkbox(key="undo-sure").check().run()
    labels = at.selectbox(key="undo-choice").options
    assert len(labels) == 2 and labels[0].split(":")[0] != ""
    at.button(key="undo-go").click().run()
    # b.csv's conflict kept the imported value: its undo is refused with the reason
    assert any("keeping the imported value" in e.value for e in at.error)
