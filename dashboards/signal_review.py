"""The Safety page's must-not-miss signals (PHQ-9 item 9 answers above 0, serious adverse
events): a link to each patient's view (by pseudonymous id, never an MRN) and the clinician's
review ("reviewed" / "action taken" with a short note), stored and audited in one transaction
(``kapoutcomes.storage.signal_reviews``)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes.storage import keys, signal_reviews, store


def stored_reviews(is_demo: bool) -> pl.DataFrame:
    """The reviews recorded in the clinic's store (none for the demo cohort, none without a
    store: nothing is created by looking)."""
    path = store.default_path()
    if is_demo or not path.exists():
        return pl.DataFrame(schema=store.SIGNAL_REVIEW_SCHEMA)
    try:
        with store.Store(path) as s:
            return s.signal_reviews()
    except store.StoreError as e:
        common.stop_with(e)
        raise


def _choices(item9: pl.DataFrame, serious: pl.DataFrame) -> dict[str, dict]:
    """Signal label -> row (signal_id, kind, patient_id, signal_at), unreviewed first."""
    rows = [
        {**r, "what": f"PHQ-9 item 9 answered {r['highest']:g} at most"}
        for r in item9.iter_rows(named=True)
    ] + [
        {**r, "what": f"serious adverse event: {r['event'].replace('_', ' ')}"}
        for r in serious.iter_rows(named=True)
    ]
    rows.sort(key=lambda r: (r["review"] != "not reviewed yet", -r["signal_at"].timestamp()))
    return {
        f"{r['patient_id']} · {r['signal_at']:%Y-%m-%d} · {r['what']} · {r['review']}": r
        for r in rows
    }


def _record(viewer, row: dict, outcome: str, note: str) -> bool:  # type: ignore[no-untyped-def]
    """Store the review and its audit entry (one transaction); False, with the reason shown,
    when it could not be written."""
    review = signal_reviews.SignalReview(
        row["signal_id"], row["kind"], row["patient_id"], row["signal_at"], outcome, note
    )
    try:
        s, k = keys.open_store(store.default_path())
        with s:
            signal_reviews.record(s, k.audit, viewer.audit_name, viewer.role, review)
    except (store.StoreError, signal_reviews.ReviewError, OSError) as e:
        st.error(f"The review could not be recorded: {e}", icon=":material/error:")
        return False
    return True


def review_panel(item9: pl.DataFrame, serious: pl.DataFrame, viewer, is_demo: bool) -> None:  # type: ignore[no-untyped-def]
    """Pick a signal: open the patient's view, record a review (roles that see patients)."""
    choices = _choices(item9, serious)
    if not choices:
        return
    st.markdown("**Open the patient or record a review**")
    done = st.session_state.pop("signal-review-done", None)
    if done:
        st.success(f"Recorded in the store and the audit trail: {done}.")
    label = st.selectbox("Signal", list(choices), key="signal-pick")
    row = choices[label]
    may_see = viewer.can("view_patient")
    if may_see and "patient" in viewer.pages:
        st.page_link(
            "views/patient.py",
            label=f"Open {row['patient_id']} in the Patient view",
            icon=":material/person:",
            query_params={"patient": row["patient_id"]},
        )
    st.caption(f"Review: {row['review']}")
    if is_demo:
        st.info("Demo patients are synthetic: reviews are recorded for a clinic's store only.")
        return
    if not viewer.can(signal_reviews.ACTION):
        st.caption("Recording a review is for clinicians and medical directors.")
        return
    with st.form("signal-review", clear_on_submit=True):
        outcome = st.radio(
            "Outcome", signal_reviews.OUTCOMES, horizontal=True, key="review-outcome"
        )
        note = st.text_input(
            "Note (optional, no names or other identifiers)",
            max_chars=signal_reviews.NOTE_MAX,
            key="review-note",
            help="Identifier-shaped text (dates, phone numbers, MRNs...) is replaced by a tag.",
        )
        if st.form_submit_button("Record review") and _record(viewer, row, outcome, note):
            st.session_state["signal-review-done"] = f"{outcome} for {row['patient_id']}"
            st.rerun()
