"""Rendering of the import report and the data-quality view (shared by the Data page)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes import ingest
from kapoutcomes.present import data_page
from kapoutcomes.storage import store


def review_now(report: ingest.ImportReport) -> None:
    """Safety signals on quarantined rows, above everything else: each needs review today."""
    if not report.review_now:
        return
    st.error(
        f"**Review now: {len(report.review_now)} safety signal(s) could not be stored.** "
        "Each is listed on the Safety page until the row is corrected or marked reviewed."
    )
    st.dataframe(
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
        width="stretch",
        hide_index=True,
    )


def import_report(report: ingest.ImportReport) -> None:
    """The import report: per file, rows read = accepted + quarantined + skipped, reasons."""
    head = "Dry run: nothing was written." if report.dry_run else "Import finished."
    ok = "Every row is accounted for." if report.reconciles else "Rows do not reconcile!"
    st.subheader("Import report")
    st.write(f"{head} {ok} ({report.seconds:.1f} s)")
    review_now(report)
    summary = data_page.files_summary(report)
    st.dataframe(summary, width="stretch", hide_index=True)
    common.download_csv(summary, "Import report", "import_report.csv", key="dl-import-report")
    for i, f in enumerate(report.files):
        with st.expander(
            f"{f.file}: {f.accepted:,} accepted, {f.quarantined:,} quarantined, "
            f"{f.skipped:,} skipped",
            expanded=i == 0 or f.quarantined > 0,
        ):
            if f.already_imported:
                st.info("Already imported (same content): nothing added.")
                continue
            if f.removed_identifier_columns:
                st.caption(
                    "Identifier columns removed at the door: "
                    + ", ".join(f.removed_identifier_columns)
                )
            if f.ignored_columns:
                st.caption("Columns not imported: " + ", ".join(f.ignored_columns))
            for note in f.notes:
                st.caption(note)
            if f.quarantine_reasons:
                st.markdown("**Quarantined rows, by reason**")
                st.dataframe(
                    data_page.reasons_frame(f.quarantine_reasons), width="stretch", hide_index=True
                )
            if f.skip_reasons:
                st.markdown("**Skipped rows, by reason**")
                st.dataframe(
                    data_page.reasons_frame(f.skip_reasons), width="stretch", hide_index=True
                )
            if f.quarantined and not report.dry_run:
                q = data_page.file_quarantine(store.default_path(), f.import_id)
                common.download_csv(
                    q,
                    "Quarantined rows of this file",
                    f"quarantine_{f.file.rsplit('/', 1)[-1]}.csv",
                    key=f"dl-q-{i}",
                )


def data_quality(t: dict[str, pl.DataFrame], s) -> None:  # type: ignore[no-untyped-def]
    """Completeness by clinic and instrument, patients without baseline, assessments outside
    windows, quarantined rows waiting for correction."""
    from kapoutcomes.cohort import quality

    q = quality.data_quality(t, s)
    fig = quality.completeness_figure(q.completeness)
    if fig is not None:
        st.plotly_chart(fig, width="stretch")
    common.download_csv(q.completeness, "Completeness", "completeness.csv", key="dl-comp")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(
            f"**Patients without a baseline** ({q.no_baseline.height:,} patient-instruments)"
        )
        st.dataframe(q.no_baseline, width="stretch", hide_index=True, height=260)
        common.download_csv(q.no_baseline, "Without baseline", "no_baseline.csv", key="dl-nob")
    with c2:
        st.markdown(f"**Assessments outside the windows** ({q.outside_windows.height:,})")
        st.dataframe(q.outside_counts, width="stretch", hide_index=True, height=260)
        common.download_csv(
            q.outside_windows, "Outside windows", "outside_windows.csv", key="dl-outside"
        )
    waiting = data_page.quarantine_waiting(store.default_path())
    st.markdown(
        f"**Quarantined rows waiting for correction:** {waiting:,} (see the Quarantine tab)"
    )
