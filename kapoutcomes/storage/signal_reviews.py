"""A clinician's review of a must-not-miss safety signal (a PHQ-9 item 9 answer above 0, a
serious adverse event): "reviewed" or "action taken", with an optional short note, kept in
the store table ``signal_reviews`` and written in the same transaction as its audit entry
(who, role, when, which signal), so both land or neither does.

Who may record one: the roles that may view a patient's record (``access``: clinicians and
medical directors; everyone in local single-user mode). Data managers and administrators see
neither the Safety page nor patients, so they cannot review a patient's signal.

The note is free text: identifier-shaped text (names after titles are not caught, so the page
asks for none) is replaced by tags with the import's scrubbing (``privacy.scrub_text``), and it
is cut to ``NOTE_MAX`` characters. The patient is named by pseudonym only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kapoutcomes.storage import audit, privacy
from kapoutcomes.storage.store import SIGNAL_REVIEW_SCHEMA, Store

ACTION = "review_signal"
KINDS = ("phq9_item9", "serious_adverse_event")
OUTCOMES = ("reviewed", "action taken")
NOTE_MAX = 300


class ReviewError(ValueError):
    """A review that cannot be recorded; the message says what to change."""


@dataclass(frozen=True)
class SignalReview:
    """One review as entered: which signal (``signal_id`` from ``cohort.safety.signal_id``),
    its kind, patient pseudonym and date, the outcome and the note."""

    signal_id: str
    kind: str
    patient_id: str
    signal_at: dt.datetime
    outcome: str
    note: str = ""


def clean_note(note: str | None) -> str:
    """The note as stored: one line, identifier-shaped text replaced by tags, at most
    ``NOTE_MAX`` characters."""
    text = " ".join((note or "").split())
    return privacy.scrub_text(text)[:NOTE_MAX]


def _check(review: SignalReview) -> None:
    if review.kind not in KINDS:
        raise ReviewError(f"unknown signal kind {review.kind!r}; known: {', '.join(KINDS)}")
    if review.outcome not in OUTCOMES:
        raise ReviewError(f"choose one of {', '.join(OUTCOMES)} (got {review.outcome!r})")
    if not privacy.looks_like_patient_id(review.patient_id):
        raise ReviewError("a review names the patient by pseudonymous id (p_…) only")
    if not review.signal_id.startswith(f"{review.kind}/{review.patient_id}/"):
        raise ReviewError(
            f"signal {review.signal_id!r} is not a {review.kind} signal of this patient"
        )


def record(
    store: Store,
    key: bytes,
    user: str,
    role: str,
    review: SignalReview,
    at: dt.datetime | None = None,
) -> dict[str, object]:
    """Store ``review`` by ``user`` (``role``) and its audit entry in one transaction (audit
    key ``key``), move the audit checkpoint on; the row as stored."""
    _check(review)
    when = (at or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    row: dict[str, object] = {
        "signal_id": review.signal_id,
        "kind": review.kind,
        "patient_id": review.patient_id,
        "signal_at": review.signal_at,
        "outcome": review.outcome,
        "note": clean_note(review.note),
        "reviewed_by": user,
        "role": role,
        "reviewed_at": when,
    }
    with store.transaction() as con:
        Store.insert(con, "signal_reviews", pl.DataFrame([row], schema=SIGNAL_REVIEW_SCHEMA))
        detail = f"{review.outcome}" + ("; note recorded" if row["note"] else "")
        audit.append_entry(con, key, user, role, ACTION, review.signal_id, detail, when)
    audit.save_checkpoint(store, key)
    return row


def latest(reviews: pl.DataFrame) -> pl.DataFrame:
    """The newest review of each signal (``reviews``: the ``signal_reviews`` table)."""
    return (
        reviews.sort("reviewed_at", descending=True)
        .unique("signal_id", keep="first", maintain_order=True)
        .sort("signal_id")
    )


def review_text() -> pl.Expr:
    """What the Safety page shows beside a reviewed signal: "action taken by <who> (<role>)
    on <date>: <note>" (from the ``signal_reviews`` columns)."""
    base = pl.format(
        "{} by {} ({}) on {}",
        pl.col("outcome"),
        pl.col("reviewed_by"),
        pl.col("role"),
        pl.col("reviewed_at").dt.strftime("%Y-%m-%d"),
    )
    note = pl.col("note").fill_null("")
    return pl.when(note != "").then(pl.format("{}: {}", base, note)).otherwise(base)


def with_reviews(signals: pl.DataFrame, reviews: pl.DataFrame) -> pl.DataFrame:
    """``signals`` (with a ``signal_id`` column) with ``review``: the newest review of each
    in words, or "not reviewed yet"."""
    words = latest(reviews).select("signal_id", review=review_text())
    return signals.join(words, on="signal_id", how="left", maintain_order="left").with_columns(
        pl.col("review").fill_null("not reviewed yet")
    )
