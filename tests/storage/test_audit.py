"""The audit chain detects an edited, deleted or inserted entry."""

from __future__ import annotations

import datetime as dt

import pytest

from kapoutcomes.storage import audit
from kapoutcomes.storage.store import Store

KEY = b"k" * 32


def filled() -> Store:
    st = Store(":memory:")
    audit.record(st, KEY, "dr.a@clinic.org", "clinician", "sign_in")
    audit.record(st, KEY, "dr.a@clinic.org", "clinician", "view_patient", "p_0123456789abcdef")
    audit.record(st, KEY, "dm@clinic.org", "data_manager", "import", "export.csv", "accepted=10")
    return st


def test_intact_chain_verifies():
    v = audit.verify(filled(), KEY)
    assert v.ok and v.entries == 3 and v.problems == ()


def test_edited_entry_detected():
    st = filled()
    st.con.execute("UPDATE audit_log SET target = 'p_ffffffffffffffff' WHERE seq = 2")
    v = audit.verify(st, KEY)
    assert not v.ok
    assert any("entry 2" in p and "edited" in p for p in v.problems)


def test_deleted_entry_detected():
    st = filled()
    st.con.execute("DELETE FROM audit_log WHERE seq = 2")
    v = audit.verify(st, KEY)
    assert not v.ok
    assert any("deleted" in p for p in v.problems)


def test_deleted_last_entry_is_not_detectable_by_chain_alone_but_count_is_reported():
    st = filled()
    st.con.execute("DELETE FROM audit_log WHERE seq = 3")
    v = audit.verify(st, KEY)
    # truncation of the tail leaves a valid chain: the entry count is what shows it
    assert v.ok and v.entries == 2


def test_wrong_key_fails():
    assert not audit.verify(filled(), b"x" * 32).ok


def test_unknown_action_refused():
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(Store(":memory:"), KEY, "u", "r", "dance")


def test_timestamps_recorded():
    st = Store(":memory:")
    row = audit.record(st, KEY, "u", "administrator", "sign_in", at=dt.datetime(2026, 1, 1, 9, 0))
    assert audit.entries(st)["at"][0] == dt.datetime(2026, 1, 1, 9, 0)
    assert row["prev_hash"] == audit.GENESIS


def test_cli_verify_and_export(tmp_path, monkeypatch, capsys):
    from kapoutcomes import cli
    from kapoutcomes.storage import keys

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    st, k = keys.open_store(path)
    key = k.audit
    with st:
        audit.record(st, key, "=cmd|' /C calc'!A0", "administrator", "sign_in")
        audit.record(st, key, "u", "administrator", "export", "report")
    assert cli.main(["audit", "--store", str(path), "verify"]) == 0
    assert "2 entries verified" in capsys.readouterr().out
    out = tmp_path / "audit.csv"
    assert cli.main(["audit", "--store", str(path), "export", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8-sig")
    assert "'=cmd" in text and "\n=cmd" not in text and ",=cmd" not in text
    with Store(path) as st:
        st.con.execute("UPDATE audit_log SET action = 'view_page' WHERE seq = 1")
    assert cli.main(["audit", "--store", str(path), "verify"]) == 1
    assert "BROKEN" in capsys.readouterr().out
    assert cli.main(["audit", "--store", str(tmp_path / "none.duckdb"), "verify"]) == 2


def test_cli_import_is_audited_in_its_own_transaction(tmp_path, monkeypatch):
    from pathlib import Path

    from kapoutcomes import cli
    from kapoutcomes.storage import keys

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    demo = Path(__file__).resolve().parents[2] / "sample_data" / "demo" / "patients.csv"
    assert cli.main(["import", str(demo), "--store", str(path), "--json"]) == 0
    with Store(path) as st:
        log = audit.entries(st)
        assert log["action"].to_list() == ["import"]
        assert log["target"][0] == "patients.csv" and log["role"][0] == "command line"
        assert audit.verify(st, keys.for_store(st).audit).ok
        ledger_rows = st.counts()["import_ledger"]
    assert ledger_rows == 1
    # the same file again adds nothing: no second ledger entry, no audit entry claiming one
    assert cli.main(["import", str(demo), "--store", str(path), "--json"]) == 0
    with Store(path) as st:
        assert st.counts()["import_ledger"] == 1


def test_entries_after_a_deletion_continue_the_sequence(tmp_path):
    """DuckDB 2.0.1's ORDER BY ... DESC LIMIT 1 missed rows inserted after a DELETE, so every
    new entry took the same number; the next number comes from max(seq)."""
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        for _ in range(5):
            audit.record(st, KEY, "u", "clinician", "sign_in")
    with Store(path) as st:
        st.con.execute("DELETE FROM audit_log WHERE seq >= 4")
    with Store(path) as st:
        for _ in range(3):
            audit.record(st, KEY, "u", "clinician", "sign_in")
        assert sorted(audit.entries(st)["seq"].to_list()) == [1, 2, 3, 4, 5, 6]


def test_the_checkpoint_does_not_follow_a_link_planted_at_its_temporary_name(tmp_path):
    """The attack (issue 15, second pass): a link planted at the checkpoint's predictable
    temporary name (".store.duckdb.audit-checkpoint.<pid>.tmp") beside a store in a shared
    folder. The checkpoint is written to a new file; the link's target is left untouched."""
    import os

    loot = tmp_path / "loot"
    loot.write_bytes(b"")
    db = tmp_path / "store.duckdb"
    link = tmp_path / f".store.duckdb{audit.CHECKPOINT_SUFFIX}.{os.getpid()}.tmp"
    link.symlink_to(loot)
    with Store(db) as st:
        audit.record(st, KEY, "u", "local", "report")
        assert audit.verify(st, KEY).ok
        cp = audit.checkpoint_path(st)
    assert loot.read_bytes() == b"" and cp is not None and not cp.is_symlink()


def test_the_checkpoint_lock_does_not_follow_a_link_planted_at_its_name(tmp_path):
    """Left alone last session, now built: a link planted at the checkpoint's lock name
    ("store.duckdb.audit-checkpoint.lock") pointing at a file that does not exist made every
    audited action create that file (mode 0600, empty) wherever the link pointed. The lock is
    now a file of its own; the link's target is never created."""
    db = tmp_path / "store.duckdb"
    target = tmp_path / "elsewhere" / "planted"
    target.parent.mkdir()
    lock = tmp_path / f"store.duckdb{audit.CHECKPOINT_SUFFIX}.lock"
    lock.symlink_to(target)
    with Store(db) as st:
        audit.record(st, KEY, "u", "local", "report")
        assert audit.verify(st, KEY).ok
    assert not target.exists() and lock.exists() and not lock.is_symlink()
