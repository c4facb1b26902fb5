"""Rendering of the import report and the data-quality view (shared by the Data page)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes import ingest
from kapoutcomes.present import data_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import store


def review_now(report: ingest.ImportReport) -> None:
    """Safety signals on quarantined rows, above everything else: each needs review today."""
    if not report.review_now:
        return
    st.error(
        f"**Review now: {len(report.review_now)} safety signal(s) could not be stored.** "
        "Each is listed on the Safety page until the row is corrected or marked reviewed."
    )
    common.table(
        pl.DataFrame(
            [
                {
                    "file": r.file,
                    "line": r.line,
                    "signal": r.headline,
                    "seen": r.seen,
                    "not stored because": r.reason,
                    "what to do": r.action,
                }
                for r in report.review_now
            ]
        ),
        "review_now",
    )


def import_report(report: ingest.ImportReport) -> None:
    """The import report: per file, rows read = accepted + quarantined + skipped, reasons."""
    words = data_page.report_summary(report)
    st.subheader("Import report")
    st.write(plain(words.headline))
    st.markdown(f"**{plain(words.total)}**")
    review_now(report)
    for w in report.warnings:
        st.warning(plain(w))
    if words.next_steps:
        st.markdown("\n".join(f"- {plain(s)}" for s in words.next_steps))
    summary = data_page.files_summary(report)
    common.table(summary, "import_files")
    common.download_csv(summary, "Import report", "import_report.csv", key="dl-import-report")
    for i, f in enumerate(report.files):
        with st.expander(
            f"{plain(f.file)}: {f.accepted:,} accepted, {f.quarantined:,} quarantined, "
            f"{f.skipped:,} skipped",
            expanded=i == 0 or f.quarantined > 0,
        ):
            if f.already_imported:
                st.info("Already imported (same content): nothing added.")
                continue
            if f.removed_identifier_columns:
                st.caption(
                    "Identifier columns removed at the door: "
                    + plain(", ".join(f.removed_identifier_columns))
                )
            if f.ignored_columns:
                st.caption("Columns not imported: " + plain(", ".join(f.ignored_columns)))
            for order in f.date_orders:
                st.caption(plain(order.text()))
            for note in f.notes:
                st.caption(plain(note))
            fix, out_of_scope = data_page.quarantine_reasons_split(f.quarantine_reasons)
            n_fix = f.quarantined - f.out_of_scope
            for title, frame in (
                (f"Quarantined, to correct: {n_fix:,} row(s), by reason", fix),
                (
                    f"Quarantined, out of scope: {f.out_of_scope:,} row(s), nothing to do",
                    out_of_scope,
                ),
            ):
                if frame.height:
                    st.markdown(f"**{title}**")
                    if frame.height > 1:
                        st.caption("A row with several problems is counted under each of them.")
                    common.table(frame, "reasons")
            if f.skip_reasons:
                st.markdown("**Skipped rows, by reason**")
                common.table(data_page.reasons_frame(f.skip_reasons), "reasons")
            if f.quarantined and not report.dry_run:
                q = data_page.file_quarantine(store.default_path(), f.import_id)
                common.download_csv(
                    q,
                    "Quarantined rows of this file",
                    f"quarantine_{f.file.rsplit('/', 1)[-1]}.csv",
                    key=f"dl-q-{i}",
                )


def conflicts(path, viewer) -> None:  # type: ignore[no-untyped-def]
    """Open conflicts with both values; a data manager keeps one (audited)."""
    from kapoutcomes.ingest import review

    done = st.session_state.pop("conflict_done", None)
    if done:
        st.success(plain(done))
    with store.Store(path) as s:
        frame = data_page.conflicts_for_people(review.conflicts(s))
    if frame.height == 0:
        st.success("No conflicts wait for review.")
        return
    st.write(
        f"{frame.height:,} imported value(s) were not stored because the same fact (same "
        "patient, time and measure) already had another value: in the store, or in an "
        "earlier row of the same import. The stored value is used everywhere until a data "
        "manager keeps the imported one instead."
    )
    common.table(frame, "conflicts")
    if not viewer.can("import"):
        return
    said = {
        r["conflict"]: f"{r['what']}: kept {r['kept (stored)']}, imported "
        f"{r['not stored (imported)']}"
        for r in frame.iter_rows(named=True)
    }
    cid = st.selectbox("Conflict", list(said), format_func=said.get, key="conf-id")
    labels = {"the stored value (close it)": "STORED", "the imported value": "IMPORTED"}
    which = st.radio("Keep", list(labels), horizontal=True, key="conf-keep")
    if st.button("Keep this value", key="conf-go"):
        try:
            with store.Store(path) as s:
                result = review.keep(s, cid, labels[which], (viewer.audit_name, viewer.role))
        except (review.ReviewError, store.StoreError) as e:
            st.error(plain(e))
            return
        common.forget_loaded_data()
        st.session_state["conflict_done"] = result.text()
        st.rerun()


def undo_import(path, ledger: pl.DataFrame, viewer) -> None:  # type: ignore[no-untyped-def]
    """Undo one import command (its files together), newest first; audited."""
    from kapoutcomes.ingest.undo import UndoError
    from kapoutcomes.ingest.undo import undo_import as undo

    done = st.session_state.pop("undo_done", None)
    if done:
        st.success(plain(done))
    live = ledger.filter(pl.col("undone_at").is_null())
    if live.height == 0:
        return
    st.markdown(
        "**Undo an import** (removes everything it wrote; the file can then be "
        "imported again, for example with another clinic or date order). Imports are "
        "undone newest first."
    )
    labels: dict[str, str] = {}  # by file and time, as the history table shows them (no ids)
    for r in live.iter_rows(named=True):
        label = f"{r['file_name']}, imported {r['imported_at']:%Y-%m-%d %H:%M:%S}"
        while label in labels:
            label += " (again)"
        labels[label] = r["import_id"]
    choice = st.selectbox("Import", list(labels), key="undo-choice")
    sure = st.checkbox("I want to remove what this import wrote", key="undo-sure")
    if st.button("Undo import", disabled=not sure, key="undo-go"):
        try:
            with store.Store(path) as s:
                result = undo(s, labels[choice], (viewer.audit_name, viewer.role))
        except (UndoError, store.StoreError) as e:
            st.error(plain(e))
            return
        common.forget_loaded_data()
        st.session_state["undo_done"] = result.text()
        st.rerun()  # the history shows the import as undone, the list no longer offers it


def data_quality(t: dict[str, pl.DataFrame], s, demo: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Completeness by clinic and instrument, patients without baseline, assessments outside
    windows, quarantined rows waiting for correction (``demo``: of the bundled demo cohort,
    whose downloads are not audited)."""
    from kapoutcomes.cohort import quality
    from kapoutcomes.present import figures

    if t["assessments"].height and t["sessions"].height == 0:
        st.warning(
            "The store holds scores but no infusion sessions: the outcome pages lack sessions, "
            "doses, induction, response and durability. Import the clinic's visit export."
        )
    q = quality.data_quality(t, s)
    fig = figures.completeness_figure(quality.completeness_cells(q.completeness))
    if fig is not None:
        st.plotly_chart(fig, width="stretch")
    common.download_csv(
        q.completeness, "Completeness", "completeness.csv", key="dl-comp", demo=demo
    )
    # one under the other: side by side each table had half the page and scrolled sideways
    st.markdown(f"**Patients without a baseline** ({q.no_baseline.height:,} patient-instruments)")
    common.table(q.no_baseline, "no_baseline", height=260)
    common.download_csv(
        q.no_baseline, "Without baseline", "no_baseline.csv", key="dl-nob", demo=demo
    )
    st.markdown(f"**Assessments outside the windows** ({q.outside_windows.height:,})")
    common.table(q.outside_counts, "outside_windows", height=260)
    common.download_csv(
        q.outside_windows, "Outside windows", "outside_windows.csv", key="dl-outside", demo=demo
    )
    waiting = data_page.quarantine_waiting(store.default_path())
    st.markdown(
        f"**Quarantined rows waiting for correction:** {waiting:,} (see the Quarantine tab)"
    )
