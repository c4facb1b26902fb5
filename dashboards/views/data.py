"""Data: upload EHR exports, the import report, quarantine, import history and data quality."""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import streamlit as st

from dashboards import common, quality_panel
from kapoutcomes import ingest
from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.storage import store

MAX_UPLOAD_MB = 200
ROOT = Path(__file__).resolve().parent.parent.parent
BUNDLED_MAPPINGS = sorted((ROOT / "sample_data" / "mappings").glob("*.toml"))

loaded, viewer = common.page("Data")
path = store.default_path()

tab_upload, tab_quarantine, tab_history, tab_quality = st.tabs(
    ["Upload exports", "Quarantine", "Import history", "Data quality"]
)

with tab_upload:
    if not viewer.can("import"):
        st.info("Importing is for data managers and administrators.")
    else:
        st.write(
            "Upload one or more exports from your EHR (CSV, TSV or Excel). Every row ends up "
            "accepted, quarantined with its reason, or skipped with a stated reason; names, "
            "addresses, phone numbers, SSNs and other direct identifiers never reach the store."
        )
        files = st.file_uploader(
            "EHR exports",
            type=["csv", "tsv", "txt", "xlsx"],
            accept_multiple_files=True,
            key="upload-files",
        )
        c1, c2, c3 = st.columns(3)
        preset = c1.selectbox(
            "Layout (preset)", ["detect automatically", *ingest.PRESETS], key="upload-preset"
        )
        mapping_choice = c2.selectbox(
            "Mapping file (wide per-visit exports)",
            ["none", *[p.name for p in BUNDLED_MAPPINGS], "upload my own"],
            key="upload-mapping",
        )
        clinic = c3.text_input(
            "Clinic (for patients the export does not describe)", key="upload-clinic"
        )
        own_mapping = None
        if mapping_choice == "upload my own":
            own_mapping = st.file_uploader("Mapping file (TOML)", type=["toml"], key="upload-toml")
        day_first = st.checkbox(
            "Dates are day-first (03/04/2024 is 3 April)", key="upload-dayfirst"
        )
        dry_run = st.checkbox("Dry run: check only, write nothing", key="upload-dry")

        if st.button("Import", type="primary", disabled=not files, key="upload-go"):
            mp = None
            try:
                if mapping_choice == "upload my own" and own_mapping is not None:
                    mp = mapping_mod.parse(
                        tomllib.loads(own_mapping.getvalue().decode("utf-8")), own_mapping.name
                    )
                elif mapping_choice not in ("none", "upload my own"):
                    mp = mapping_mod.load(ROOT / "sample_data" / "mappings" / mapping_choice)
            except (ingest.IngestError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                st.error(f"Mapping file problem: {e}")
                st.stop()
            too_big = [f.name for f in files if f.size > MAX_UPLOAD_MB * 1024 * 1024]
            if too_big:
                st.error(
                    f"{', '.join(too_big)}: larger than {MAX_UPLOAD_MB} MB; split the export "
                    "or import it with the command line (kapoutcomes import)."
                )
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
                    day_first=day_first or None,
                    audit_as=(viewer.audit_name, viewer.role),
                )
            except ingest.IngestError as e:
                bar.empty()
                st.error(str(e))
                st.stop()
            except store.StoreError as e:
                bar.empty()
                st.error(f"The store is busy or unavailable: {e}. Nothing was written.")
                st.stop()
            except (duckdb.Error, OSError) as e:  # a full disk, a damaged store file
                bar.empty()
                st.error(f"{store.problem(str(path), e)}. Nothing was written.")
                st.stop()
            bar.progress(1.0, text="Done")
            if not dry_run:
                st.cache_data.clear()
            st.session_state["last_report"] = report
            if not dry_run:
                st.rerun()  # the rest of the app now reads the store, not the demo cohort

        report = st.session_state.get("last_report")
        if report is not None:
            quality_panel.import_report(report)

with tab_quarantine:
    if not path.exists():
        st.info("No store yet: nothing has been imported, so nothing is quarantined.")
    else:
        with store.Store(path) as s:
            q = ingest.quarantine_frame(s)
        if q.height == 0:
            st.success("No quarantined rows are waiting for correction.")
        else:
            st.write(
                f"{q.height:,} row(s) wait for correction. Download them, correct the values "
                "named in quarantine_reason, and import the corrected file with the same preset."
            )
            st.dataframe(q, width="stretch", hide_index=True)
            common.download_csv(q, "Quarantined rows", "quarantine.csv", key="dl-quarantine")

with tab_history:
    if not path.exists():
        st.info("No imports yet.")
    else:
        with store.Store(path) as s:
            ledger = s.ledger().drop("report_json")
        if ledger.height == 0:
            st.info("No imports yet.")
        else:
            st.dataframe(ledger, width="stretch", hide_index=True)
            common.download_csv(ledger, "Import history", "import_history.csv", key="dl-ledger")

with tab_quality:
    if loaded.tables["patients"].height == 0:
        st.info("No patients yet: import an export to see data quality.")
    else:
        quality_panel.data_quality(loaded.tables, common.outcome_settings())
