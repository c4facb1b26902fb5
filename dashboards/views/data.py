"""Data: upload EHR exports, the import report, quarantine, import history and data quality."""

from __future__ import annotations

import duckdb
import streamlit as st

from dashboards import common, quality_panel
from kapoutcomes import ingest
from kapoutcomes.present import data_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import store

loaded, viewer = common.page("Data")
path = store.default_path()

tab_upload, tab_quarantine, tab_conflicts, tab_history, tab_quality = st.tabs(
    ["Upload exports", "Quarantine", "Conflicts", "Import history", "Data quality"]
)

with tab_upload:
    if not viewer.can("import"):
        st.info("Importing is for data managers and administrators.")
    else:
        st.write(
            "Upload one or more exports from your EHR (CSV, TSV, Excel, or FHIR R4 JSON: a "
            "Bundle .json or bulk-export .ndjson files). Every row ends up "
            "accepted, quarantined with its reason, or skipped with a stated reason; names, "
            "addresses, phone numbers, SSNs and other direct identifiers never reach the store."
        )
        files = st.file_uploader(
            "EHR exports",
            type=["csv", "tsv", "txt", "xlsx", "json", "ndjson"],
            accept_multiple_files=True,
            key="upload-files",
            help=data_page.upload_help(),
        )
        c1, c2, c3 = st.columns(3)
        preset = c1.selectbox(
            "Layout (preset)", ["detect automatically", *ingest.PRESETS], key="upload-preset"
        )
        mapping_choice = c2.selectbox(
            "Mapping file (wide per-visit exports)",
            data_page.mapping_choices(),
            key="upload-mapping",
        )
        clinic = c3.text_input(
            "Clinic (for patients the export does not describe)", key="upload-clinic"
        )
        own_mapping = None
        if mapping_choice == data_page.OWN_MAPPING:
            own_mapping = st.file_uploader("Mapping file (TOML)", type=["toml"], key="upload-toml")
        date_order = st.selectbox(
            "Dates such as 03/04/2024, where a column's own values do not settle the order",
            [
                "not set: the settings' order, else quarantine them",
                "day-first (3 April)",
                "month-first (4 March)",
            ],
            key="upload-dateorder",
        )
        dry_run = st.checkbox("Dry run: check only, write nothing", key="upload-dry")

        if st.button("Import", type="primary", disabled=not files, key="upload-go"):
            own = (own_mapping.name, own_mapping.getvalue()) if own_mapping else None
            try:
                mp = data_page.chosen_mapping(mapping_choice, own)
            except ingest.IngestError as e:
                st.error(f"Mapping file problem: {plain(e)}")
                st.stop()
            bar = st.progress(0.0, text="Reading…")

            def progress(done: int, total: int) -> None:
                bar.progress(min(1.0, done / total) if total else 1.0, text="Reading…")

            try:
                report = ingest.import_files(
                    [(f.name, f.getvalue()) for f in files],
                    str(path),
                    preset=None if preset == "detect automatically" else preset,
                    mapping=mp,
                    settings=common.outcome_settings(),
                    dry_run=dry_run,
                    on_progress=progress,
                    clinic=clinic or None,
                    date_order=None
                    if date_order.startswith("not set")
                    else date_order.split(" ")[0],
                    audit_as=(viewer.audit_name, viewer.role),
                )
            except ingest.IngestError as e:
                bar.empty()
                st.error(plain(e))
                st.stop()
            except store.StoreError as e:
                bar.empty()
                st.error(f"The store is busy or unavailable: {plain(e)}. Nothing was written.")
                st.stop()
            except (duckdb.Error, OSError) as e:  # a full disk, a damaged store file
                bar.empty()
                st.error(f"{plain(store.problem(str(path), e))}. Nothing was written.")
                st.stop()
            bar.progress(1.0, text="Done")
            st.session_state["last_report"] = report
            if not dry_run:
                common.forget_loaded_data()
                st.rerun()  # the rest of the app now reads the store, not the demo cohort

        report = st.session_state.get("last_report")
        if report is not None:
            quality_panel.import_report(report)

records = data_page.store_records(path)
with tab_quarantine:
    if records is None:
        st.info("No store yet: nothing has been imported, so nothing is quarantined.")
    else:
        q = records.quarantine
        if records.out_of_scope:
            st.caption(
                f"{records.out_of_scope:,} row(s) are out of scope (dated before 2000, or "
                "children): kept and counted, nothing to correct."
            )
        if q.height == 0:
            st.success("No quarantined rows are waiting for correction.")
        else:
            st.write(
                f"{q.height:,} row(s) wait for correction, listed per source file with the "
                "reason. Download a file, correct the cells the reason names (keep the "
                "quarantine_ columns), and upload it on the Upload exports tab: its rows "
                "replace these entries."
            )
            for i, part in enumerate(data_page.quarantine_sections(path)):
                st.markdown(f"**{plain(part.source_file)}**: {part.rows.height:,} row(s)")
                common.table(part.rows, "quarantine")
                common.download(
                    lambda data=part.csv: data,
                    plain(f"Download {part.download_name}"),
                    part.download_name,
                    "text/csv",
                    f"dl-q{i}",
                    detail="quarantined rows",
                )

with tab_conflicts:
    if not path.exists():
        st.info("No imports yet, so no conflicts.")
    else:
        quality_panel.conflicts(path, viewer)

with tab_history:
    ledger = records.history if records is not None else None
    if ledger is None or ledger.height == 0:
        st.info("No imports yet.")
    else:
        common.table(ledger, "import_history")
        common.download_csv(ledger, "Import history", "import_history.csv", key="dl-ledger")
        if viewer.can("import"):
            quality_panel.undo_import(path, ledger, viewer)

with tab_quality:
    if loaded.tables["patients"].height == 0:
        st.info("No patients yet: import an export to see data quality.")
    else:
        quality_panel.data_quality(loaded.tables, common.outcome_settings(), loaded.is_demo)
