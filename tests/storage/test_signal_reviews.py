"""A clinician's review of a must-not-miss safety signal: stored with its audit entry in one
transaction, the note scrubbed, the file owner-only, only known outcomes and pseudonyms."""

from __future__ import annotations

import datetime as dt
import os
import stat

import polars as pl
import pytest

from kapoutcomes.storage import access, audit, keys, signal_reviews
from kapoutcomes.storage.store import Store

PID = "p_0123456789abcdef"
AT = dt.datetime(2025, 3, 14, 12, 14)
ITEM9 = signal_reviews.SignalReview(
    f"phq9_item9/{PID}/2025-03-14T12:14:00", "phq9_item9", PID, AT, "reviewed"
)


def test_review_and_audit_entry_land_together(tmp_path):
    path = tmp_path / "store.duckdb"
    st, k = keys.open_store(path)
    with st:
        note = "Called pt at 555-201-3344 on 3/14/2025, safety plan done"
        review = signal_reviews.SignalReview(
            ITEM9.signal_id, "phq9_item9", PID, AT, "action taken", note
        )
        signal_reviews.record(st, k.audit, "dr.lee@clinic.org [iss#42]", "clinician", review)
        rows = st.signal_reviews()
        log = audit.entries(st)
        assert audit.verify(st, k.audit).ok
    assert rows.height == 1
    r = rows.row(0, named=True)
    assert "555" not in r["note"] and "3/14/2025" not in r["note"]
    assert r["note"] == "Called pt at [phone] on [date], safety plan done"
    assert (r["outcome"], r["role"], r["patient_id"]) == ("action taken", "clinician", PID)
    e = log.row(0, named=True)
    assert (e["action"], e["target"], e["role"]) == ("review_signal", ITEM9.signal_id, "clinician")
    assert e["user_name"] == "dr.lee@clinic.org [iss#42]" and e["at"] == r["reviewed_at"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_failed_audit_entry_leaves_no_review(monkeypatch):
    st = Store(":memory:")

    def refuse(*a, **kw):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(audit, "append_entry", refuse)
    with pytest.raises(RuntimeError):
        signal_reviews.record(st, b"k" * 32, "u", "clinician", ITEM9)
    assert st.signal_reviews().height == 0


@pytest.mark.parametrize(
    "change, match",
    [
        ({"outcome": "ignored"}, "choose one of"),
        ({"kind": "other"}, "unknown signal kind"),
        ({"patient_id": "MRN-0012"}, "pseudonymous id"),
        ({"signal_id": "phq9_item9/p_ffffffffffffffff/2025"}, "not a phq9_item9 signal"),
    ],
)
def test_refused_reviews(change, match):
    review = signal_reviews.SignalReview(**{**ITEM9.__dict__, **change})
    with pytest.raises(signal_reviews.ReviewError, match=match):
        signal_reviews.record(Store(":memory:"), b"k" * 32, "u", "clinician", review)


def test_the_newest_review_is_shown_beside_its_signal():
    st = Store(":memory:")
    k = b"k" * 32
    signal_reviews.record(st, k, "local user", "local", ITEM9, at=dt.datetime(2025, 3, 15, 9))
    later = signal_reviews.SignalReview(**{**ITEM9.__dict__, "outcome": "action taken"})
    signal_reviews.record(st, k, "local user", "local", later, at=dt.datetime(2025, 3, 16, 9))
    signals = pl.DataFrame(
        {"signal_id": [ITEM9.signal_id, "serious_adverse_event/p_1/x"], "what": ["a", "b"]}
    )
    shown = signal_reviews.with_reviews(signals, st.signal_reviews())
    assert shown["review"].to_list() == [
        "action taken by local user (local) on 2025-03-16",
        "not reviewed yet",
    ]
    assert audit.entries(st).height == 2


def test_note_is_one_line_and_short():
    assert signal_reviews.clean_note("  seen\n\ttoday  ") == "seen today"
    assert len(signal_reviews.clean_note("x " * 400)) == signal_reviews.NOTE_MAX
    assert signal_reviews.clean_note(None) == ""


def test_who_may_record_a_review():
    assert access.can("clinician", signal_reviews.ACTION)
    assert access.can("medical_director", signal_reviews.ACTION)
    assert not access.can("data_manager", signal_reviews.ACTION)
    assert not access.can("administrator", signal_reviews.ACTION)
    assert signal_reviews.ACTION in audit.ACTIONS
