"""AppTest of the pages' interactions: filters change figures, the patient search, settings
changes, comparisons. (Every page on each kind of store: tests/app/test_stores.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboards" / "app.py")

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    return tmp_path


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


def test_patient_found_by_demo_mrn_and_not_audited(demo_env):
    """A demo patient is found by MRN; viewing synthetic patients writes no audit entry (no
    store is even created; tests/app/test_downloads_audited.py: an existing empty store's
    trail stays unchanged, a stored patient's view is audited)."""
    at = run("views/patient.py")
    at.text_input(key="patient-query").input("demo-000012").run()
    assert not at.exception, at.exception
    assert "Maintenance review" in [h.value for h in at.subheader]
    assert any("safety flag" in (m.body or "") for m in [*at.error, *at.success])
    assert not (demo_env / "store.duckdb").exists()


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
