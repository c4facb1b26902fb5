"""Keys are never silently replaced. Attacks: delete secret.key, damage it, swap in another
installation's key, then open a store that holds data; check the derived keys are separate
and that a store from before derived keys keeps its pseudonyms and audit chain."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from kapoutcomes import cli
from kapoutcomes.storage import audit, keys, privacy
from kapoutcomes.storage.store import Store, StoreError
from tests.app.test_text_is_text import seen

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_data" / "demo" / "patients.csv"


@pytest.fixture
def imported(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "store.duckdb"
    assert cli.main(["import", str(DEMO), "--store", str(path), "--json"]) == 0
    return path


def test_new_empty_installation_creates_an_owner_only_key(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path / "home"))
    st, k = keys.open_store(tmp_path / "home" / "store.duckdb")
    st.close()
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert k.derivation == 1 and privacy.read_keys(key_file) == k


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.unlink(),
        lambda p: p.write_bytes(p.read_bytes()[:40]),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text(p.read_text().replace("a", "b").replace("1", "2")),
    ],
    ids=["deleted", "truncated", "emptied", "edited"],
)
def test_store_with_data_refuses_a_missing_or_damaged_key(imported, damage, capsys):
    key_file = imported.parent / "secret.key"
    before = key_file.read_bytes()
    damage(key_file)
    after = key_file.read_bytes() if key_file.exists() else None
    for argv in (
        ["info", "--store", str(imported)],
        ["report", "--store", str(imported)],
        ["audit", "--store", str(imported), "verify"],
        ["import", str(DEMO), "--store", str(imported)],
    ):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "refusing to open the store" in err and "Restore secret.key" in err, argv
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # nothing replaced the key
    assert (key_file.read_bytes() if key_file.exists() else None) == after != before


def test_another_installations_key_is_refused(imported, tmp_path, capsys):
    key_file = imported.parent / "secret.key"
    key_file.unlink()
    privacy.create_keys(key_file)  # e.g. copied from another machine
    assert cli.main(["info", "--store", str(imported)]) == 2
    assert "is not the key this store was written with" in capsys.readouterr().err


def test_derived_keys_are_separate_and_stable():
    k = privacy.Keys(b"m" * 32, derivation=1)
    assert len({k.master, k.pseudonym, k.audit}) == 3
    assert k.pseudonym == privacy.Keys(b"m" * 32, derivation=1).pseudonym
    # HKDF-Expand (RFC 5869) with one block: T(1) = HMAC(PRK, info || 0x01)
    import hashlib
    import hmac

    assert (
        k.pseudonym == hmac.new(b"m" * 32, b"kapoutcomes/v1/pseudonym\x01", hashlib.sha256).digest()
    )


def test_store_from_before_derived_keys_keeps_its_ids_and_chain(tmp_path, monkeypatch):
    """A 32-byte secret.key (the old format) is used as it was: same pseudonyms, same chain."""
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    legacy = os.urandom(32)
    (tmp_path / "secret.key").write_bytes(legacy)
    path = tmp_path / "store.duckdb"
    with Store(path) as st:  # an old store: entries chained with the raw secret, no key id
        audit.record(st, legacy, "u", "administrator", "sign_in")
        st.con.execute("DROP TABLE store_meta")
    st, k = keys.open_store(path)
    with st:
        assert k.derivation == 0 and k.pseudonym == legacy and k.audit == legacy
        assert audit.verify(st, k.audit).ok
        assert st.meta("key_id") == k.key_id  # recorded from now on
    from kapoutcomes.ingest import find_patient_id

    assert find_patient_id("MRN-7") == privacy.pseudonymise("MRN-7", legacy)


def test_app_refuses_a_store_whose_key_is_lost(imported):
    from streamlit.testing.v1 import AppTest

    (imported.parent / "secret.key").unlink()
    os.environ["KAPOUTCOMES_STORE"] = str(imported)
    try:
        at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=120)
        at.run()
    finally:
        del os.environ["KAPOUTCOMES_STORE"]
    assert not at.exception
    assert any("Restore secret.key" in seen(e.value) for e in at.error)  # escapes resolved
    assert not any("Demo data" in w.value for w in at.warning)
    assert not at.dataframe and not at.metric
    assert not (imported.parent / "secret.key").exists()


def test_cli_is_one_line_in_a_fresh_process(imported):
    (imported.parent / "secret.key").write_bytes(b"short")
    r = subprocess.run(
        [sys.executable, "-m", "kapoutcomes.cli", "info", "--store", str(imported)],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert r.returncode == 2 and "damaged" in r.stderr and "Traceback" not in r.stderr


def test_store_refused_when_key_lost_raises_store_error(imported):
    (imported.parent / "secret.key").unlink()
    with pytest.raises(StoreError, match="missing"):
        keys.open_store(imported)
