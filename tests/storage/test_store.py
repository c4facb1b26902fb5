"""The embedded store: one transaction per write, frames read back pass the models."""

from __future__ import annotations

import os
import stat

import pytest

from kapoutcomes import tables
from kapoutcomes.storage.store import LEDGER_SCHEMA, Store, StoreError, default_path


def test_round_trip_passes_models(tmp_path, small_tables):
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        st.write_tables(small_tables)
    with Store(path, read_only=True) as st:
        back = st.read_all()
    for name, df in small_tables.items():
        assert back[name].schema == tables.empty(name).schema
        assert back[name].sort(tables.NATURAL_KEYS[name]).equals(df.sort(tables.NATURAL_KEYS[name]))


def test_store_file_owner_only(tmp_path):
    path = tmp_path / "s.duckdb"
    Store(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_failed_write_leaves_store_unchanged(tmp_path, small_tables):
    path = tmp_path / "s.duckdb"
    with Store(path) as st:
        st.write_tables({"patients": small_tables["patients"]})
        before = st.counts()
        bad_ledger = dict.fromkeys(LEDGER_SCHEMA)
        broken = small_tables["sessions"].drop("route")  # append refuses mid-transaction
        with pytest.raises(StoreError):
            st.write_tables(
                {"assessments": small_tables["assessments"], "sessions": broken},
                ledger=bad_ledger,
            )
        assert st.counts() == before


def test_exception_inside_transaction_rolls_back(small_tables):
    st = Store(":memory:")
    with pytest.raises(RuntimeError), st.transaction() as con:
        st.append(con, "patients", small_tables["patients"])
        raise RuntimeError("interrupted")
    assert st.counts()["patients"] == 0
    assert st.is_empty()


def test_read_rejects_invalid_stored_values(small_tables):
    st = Store(":memory:")
    st.write_tables({"patients": small_tables["patients"]})
    st.con.execute("UPDATE patients SET sex = 'robot'")
    with pytest.raises(StoreError, match="column sex"):
        st.read("patients")


def test_ledger_and_info(small_tables):
    st = Store(":memory:")
    st.write_tables(
        small_tables,
        ledger={
            "import_id": "i1",
            "file_name": "x.csv",
            "content_sha256": "ab" * 32,
            "preset": "canonical",
            "imported_at": None,
            "rows_read": 1,
            "accepted": 1,
            "quarantined": 0,
            "skipped": 0,
            "duplicates": 0,
            "conflicts": 0,
            "report_json": "{}",
        },
    )
    assert st.has_import("ab" * 32) and not st.has_import("cd" * 32)
    info = st.info()
    assert info["rows"]["patients"] == 2 and info["clinics"] == 2
    assert info["first_session"].startswith("2024-02-01")


def test_default_path_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "x.duckdb"))
    assert default_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("KAPOUTCOMES_STORE")
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "store.duckdb"


def test_read_only_missing_store_says_what_to_do(tmp_path):
    with pytest.raises(StoreError, match="no store here yet"):
        Store(tmp_path / "none.duckdb", read_only=True)


def test_content_version_follows_the_canonical_rows_only(small_tables):
    """The app keys its cached tables and figures on it: a changed, added or removed row
    changes it; an audit entry (a page view, a sign-in) does not."""
    from kapoutcomes.storage import audit

    with Store(":memory:") as st:
        assert st.content_version() == ""
        st.write_tables(small_tables)
        first = st.content_version()
        assert len(first) == 16
        audit.record(st, b"k" * 32, "someone", "local", "view_patient", "p1", "")
        assert st.content_version() == first
        st.con.execute("UPDATE assessments SET score = score + 1 WHERE session_id = 's1'")
        changed = st.content_version()
        assert changed != first
        st.con.execute("UPDATE assessments SET score = score - 1 WHERE session_id = 's1'")
        assert st.content_version() == first  # the same rows, the same version
        st.con.execute("DELETE FROM adverse_events")
        assert st.content_version() not in (first, changed)


def test_threads_creating_the_same_new_store_do_not_conflict(tmp_path):
    # found in the browser tests: the app's script run and a deferred download's audit entry
    # opened a new store from two threads at once; one of them failed with "Catalog
    # write-write conflict on create" and the download sent nothing
    import threading

    errors: list[Exception] = []
    for attempt in range(5):
        path = tmp_path / f"s{attempt}.duckdb"
        start = threading.Barrier(6)

        def open_it(path=path, start=start) -> None:
            start.wait()
            try:
                with Store(path):
                    pass
            except Exception as e:  # collected for the assertion
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
