"""The audit trail fails closed and cannot be cut short. Attacks: delete the newest entries,
all entries, the table, the checkpoint; edit the checkpoint; remove an import's entry; an
unauditable patient view or download; CLI exports that leave no trace."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from kapoutcomes import cli
from kapoutcomes.storage import audit, keys
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_data" / "demo"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    assert cli.main(["import", str(DEMO / "patients.csv"), "--store", str(path), "--json"]) == 0
    st, k = keys.open_store(path)
    with st:
        for i in range(4):
            audit.record(st, k.audit, f"user{i}", "clinician", "view_patient", f"p_{i:016x}")
    return path


def verify(path, capsys) -> tuple[int, str]:
    code = cli.main(["audit", "--store", str(path), "verify"])
    return code, capsys.readouterr().out


def test_intact_trail_verifies(store, capsys):
    code, out = verify(store, capsys)
    assert code == 0 and "5 entries verified" in out
    cp = Path(str(store) + audit.CHECKPOINT_SUFFIX)
    assert json.loads(cp.read_text())["last_seq"] == 5
    assert stat.S_IMODE(cp.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_log WHERE seq >= 4",
        "DELETE FROM audit_log WHERE seq = 5",
        "DELETE FROM audit_log",
        "DROP TABLE audit_log",
    ],
    ids=["newest-two", "newest-one", "all", "table"],
)
def test_cutting_the_trail_short_is_tampering(store, sql, capsys):
    with Store(store) as st:
        st.con.execute(sql)
    code, out = verify(store, capsys)
    assert code == 1 and "BROKEN" in out
    assert "newest entries were deleted" in out


def test_deleting_and_rewriting_the_newest_entry_is_tampering(store, capsys):
    """An attacker with the key deletes the newest entry and appends another in its place."""
    with Store(store) as st:
        st.con.execute("DELETE FROM audit_log WHERE seq = 5")
        k = keys.for_store(st)
        with st.transaction() as con:
            audit.append_entry(con, k.audit, "someone", "clinician", "sign_in")
    code, out = verify(store, capsys)
    assert code == 1 and "entry 5: differs from the checkpoint" in out


def test_deleting_the_checkpoint_is_tampering(store, capsys):
    Path(str(store) + audit.CHECKPOINT_SUFFIX).unlink()
    code, out = verify(store, capsys)
    assert code == 1 and "checkpoint file is missing" in out


def test_editing_the_checkpoint_is_tampering(store, capsys):
    cp = Path(str(store) + audit.CHECKPOINT_SUFFIX)
    data = json.loads(cp.read_text())
    data["entries"], data["last_seq"] = 3, 3
    cp.write_text(json.dumps(data))
    code, out = verify(store, capsys)
    assert code == 1 and "edited" in out


def test_wiping_trail_checkpoint_and_marker_still_leaves_the_ledger(store, capsys):
    with Store(store) as st:
        st.con.execute("DELETE FROM audit_log")
        st.con.execute("DELETE FROM store_meta WHERE name = 'audit_checkpoint'")
    Path(str(store) + audit.CHECKPOINT_SUFFIX).unlink()
    code, out = verify(store, capsys)
    assert code == 1 and "import(s) in the ledger without an audit entry" in out


def test_checkpoint_never_moves_back_after_tampering(store, capsys):
    with Store(store) as st:
        st.con.execute("DELETE FROM audit_log WHERE seq >= 4")
    st, k = keys.open_store(store)
    with st:  # the app goes on recording: the evidence stays
        audit.record(st, k.audit, "u", "clinician", "sign_in")
        audit.record(st, k.audit, "u", "clinician", "sign_in")
        audit.record(st, k.audit, "u", "clinician", "sign_in")
    code, out = verify(store, capsys)
    assert code == 1 and "entry 5: differs from the checkpoint" in out


def test_store_from_before_checkpoints_is_adopted_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    st, k = keys.open_store(path)
    with st, st.transaction() as con:
        audit.append_entry(con, k.audit, "u", "administrator", "sign_in")  # no checkpoint
    code, out = verify(path, capsys)
    assert code == 0 and "started one at entry 1" in out
    code, out = verify(path, capsys)
    assert code == 0 and "started one" not in out


def test_every_import_names_its_import_ids(store):
    with Store(store) as st:
        ledger = st.read("import_ledger")
        log = audit.entries(st).filter(audit.pl.col("action") == "import")
    assert ledger["import_id"][0] in log["detail"][0]


def test_cli_exports_are_audited_and_owner_only(store, tmp_path, capsys):
    out = tmp_path / "exports"
    assert cli.main(["report", "--store", str(store), "--html", str(out / "r.html")]) == 0
    assert cli.main(["report", "--store", str(store), "--json"]) == 0
    assert cli.main(["audit", "--store", str(store), "export", "--out", str(out / "a.csv")]) == 0
    q = out / "q.csv"
    assert cli.main(["import", "--store", str(store), "--quarantine-csv", str(q)]) == 0
    capsys.readouterr()
    for f in ("r.html", "a.csv", "q.csv"):
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o600, f
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    with Store(store) as st:
        log = audit.entries(st)
    targets = log.filter(log["action"].is_in(["report", "export"]))["target"].to_list()
    assert str(out / "r.html") in targets and "standard output" in targets
    assert str(out / "a.csv") in targets and str(q) in targets
    assert verify(store, capsys)[0] == 0


def test_patient_view_not_shown_when_its_audit_entry_fails(tmp_path, monkeypatch):
    """A stored patient (demo patients are synthetic and never audited)."""
    import polars as pl
    from streamlit.testing.v1 import AppTest

    from kapoutcomes import tables
    from kapoutcomes.demo import generator
    from kapoutcomes.storage import privacy

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    cohort = generator.generate(seed=7).tables
    pid = privacy.pseudonymise("DEMO-000012", privacy.DEMO_SECRET)
    with Store(tmp_path / "store.duckdb") as st:
        keys.for_store(st)
        st.write_tables({n: cohort[n].filter(pl.col("patient_id") == pid) for n in tables.MODELS})
    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("views/patient.py")
    at.run()
    from dashboards import access_gate

    def broken(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(access_gate, "write_audit", broken)
    at.selectbox(key="patient-pick").select(pid).run()
    assert not at.exception
    assert any("could not record this view patient" in e.value for e in at.error)
    assert "Maintenance review" not in [h.value for h in at.subheader]
    assert not at.dataframe
