"""AppTest of the Safety page (issue 14 item 5): a store with sessions (must-not-miss signals
link to the patient view by pseudonym and take a clinician's review, stored and audited), a
store without dosing sessions (what can be shown, what is missing, never a traceback) and the
demo cohort (nothing written to the clinic's audit trail)."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort import safety
from kapoutcomes.demo import generator
from kapoutcomes.storage import audit, keys
from kapoutcomes.storage.store import Store
from tests.app.test_app import run, texts


@pytest.fixture
def demo_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def cohort():
    return generator.generate(seed=7).tables


def signal_patients(cohort) -> list[str]:
    """The patients with a PHQ-9 item 9 answer above 0 or a serious event."""
    item9 = safety.item9_by_patient(cohort["assessments"])["patient_id"]
    sae = safety.serious_events(cohort["adverse_events"])["patient_id"]
    return sorted(set(item9.to_list()) | set(sae.to_list()))


def store_with(env, monkeypatch, frames: dict[str, pl.DataFrame]) -> None:
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    full = {name: frames.get(name, tables.empty(name)) for name in tables.MODELS}
    with Store(env / "store.duckdb") as st:
        keys.for_store(st)
        st.write_tables(full)


def of(cohort, pids: list[str], names=tuple(tables.MODELS)) -> dict[str, pl.DataFrame]:
    return {n: cohort[n].filter(pl.col("patient_id").is_in(pids)) for n in names}


def test_signals_link_to_the_patient_and_take_an_audited_review(demo_env, monkeypatch, cohort):
    pids = signal_patients(cohort)
    store_with(demo_env, monkeypatch, of(cohort, pids))
    at = run("views/safety.py")
    assert not at.exception, at.exception
    labels = at.selectbox(key="signal-pick").options
    item9 = safety.item9_by_patient(cohort["assessments"]).height
    assert len(labels) == item9 + 3  # one item-9 signal per patient; 3 serious events
    first = at.selectbox(key="signal-pick").value
    pid = first.split(" · ")[0]
    link = at.get("page_link")[0].proto
    assert link.label == f"Open {pid} in the Patient view"
    assert link.page == "patient" and link.query_string == f"patient={pid}"  # never an MRN
    at.radio(key="review-outcome").set_value("action taken")
    at.text_input(key="review-note").input("called back, phone 555-201-3344, seen today")
    at.button[-1].click().run()
    assert not at.exception, at.exception
    assert any("Recorded in the store and the audit trail" in s.body for s in at.success)
    with Store(demo_env / "store.duckdb") as st:
        rows = st.signal_reviews()
        log = audit.entries(st)
        assert audit.verify(st, keys.for_store(st).audit).ok
    assert rows.height == 1
    r = rows.row(0, named=True)
    assert r["patient_id"] == pid and r["outcome"] == "action taken"
    assert "555" not in r["note"] and "[phone]" in r["note"]
    entry = log.filter(pl.col("action") == "review_signal").row(0, named=True)
    assert entry["target"] == r["signal_id"] and entry["user_name"] == "local user"
    reviewed = [
        d.value[REVIEW].str.startswith("action taken by local user (local) on ").sum()
        for d in at.dataframe
        if REVIEW in d.value.columns
    ]
    assert sum(reviewed) == 1, reviewed


#: the review column as the table formatter heads it (present.table_specs)
REVIEW = "Review"


def test_a_linked_patient_opens_in_the_patient_view(demo_env, monkeypatch, cohort):
    pids = signal_patients(cohort)[:3]
    store_with(demo_env, monkeypatch, of(cohort, pids))
    at = run()
    at.query_params["patient"] = pids[1]
    at.switch_page("views/patient.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="patient-pick").value == pids[1]
    assert "Maintenance review" in [h.value for h in at.subheader]


def test_without_dosing_sessions(demo_env, monkeypatch, cohort):
    pids = signal_patients(cohort)
    store_with(
        demo_env, monkeypatch, of(cohort, pids, ("patients", "assessments", "adverse_events"))
    )
    at = run("views/safety.py")
    assert not at.exception, at.exception
    words = texts(at)
    assert "No dosing sessions in this cohort" in words
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Events per 100 sessions"] == "—"
    assert metrics["Serious adverse events"] == "3"
    assert at.selectbox(key="signal-pick").options  # signals still listed and reviewable


def test_demo_cohort_writes_nothing(demo_env):
    path = demo_env / "store.duckdb"
    with Store(path) as st:
        keys.for_store(st)
    at = run("views/safety.py")
    assert not at.exception, at.exception
    assert "Demo patients are synthetic" in texts(at)
    assert not at.get("form")
    with Store(path) as st:
        assert audit.entries(st).height == 0 and st.signal_reviews().height == 0


def test_severities_a_mapping_assumed_are_said_beside_the_severity_table(demo_env, monkeypatch):
    """Left alone last session, now built: Riverside's visit export writes side effects as
    free text without a severity, and its mapping records them as mild
    (severity_when_unstated). The severity table then read as if a clinician had graded 255
    side effects mild. The page now says so under the table, naming the import; after the
    import is undone it no longer does. The demo cohort (not imported) shows no such note."""
    from kapoutcomes.ingest import undo
    from kapoutcomes.present import safety_page
    from tests.browser_support import store_riverside

    at = run("views/safety.py")
    assert "Not every severity here" not in texts(at)
    store_riverside(demo_env)
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    at = run("views/safety.py")
    assert not at.exception, at.exception
    shown = texts(at).replace("\\", "")  # the note is shown as plain text (escaped)
    assert "Not every severity here is a clinician's grading" in shown
    assert "riverside_visits.csv (imported " in shown
    assert (
        "255 side effects without a severity in the file, recorded as mild. Those stored" in shown
    )
    with Store(demo_env / "store.duckdb") as st:
        (import_id,) = st.ledger().get_column("import_id").to_list()
        lines = safety_page.assumed_severities(st.ledger())
        assert len(lines) == 1 and lines[0].endswith(
            "255 side effects without a severity in the file, recorded as mild"
        )
        undo.undo_import(st, import_id)
    at = run("views/safety.py")
    assert "Not every severity here" not in texts(at)
