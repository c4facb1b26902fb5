"""What the app's Data page needs from the library: the upload limit (the importer's own),
the mapping files it offers, the chosen mapping, and the store's quarantine and import
history. The page renders; it computes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.ingest import quarantine
from kapoutcomes.ingest.read import MAX_BYTES
from kapoutcomes.ingest.report import ImportReport, ReasonCount
from kapoutcomes.storage import store

#: the largest file the app accepts, in Streamlit's megabytes: the importer's MAX_BYTES
UPLOAD_LIMIT_MB = MAX_BYTES // (1024 * 1024)
#: hand-written mapping files of a source checkout (sample_data/mappings); an installed
#: package has none and offers "upload my own" only
MAPPINGS_DIR = Path(__file__).resolve().parents[2] / "sample_data" / "mappings"
NO_MAPPING = "none"
OWN_MAPPING = "upload my own"


def upload_help() -> str:
    return (
        f"Up to {UPLOAD_LIMIT_MB} MB per file; split a larger export or import it with the "
        "command line (kapoutcomes import)."
    )


def bundled_mappings() -> dict[str, Path]:
    """Mapping files offered by name, beside ``none`` and ``upload my own``."""
    return {p.name: p for p in sorted(MAPPINGS_DIR.glob("*.toml"))}


def mapping_choices() -> list[str]:
    return [NO_MAPPING, *bundled_mappings(), OWN_MAPPING]


def chosen_mapping(choice: str, uploaded: tuple[str, bytes] | None) -> mapping_mod.Mapping | None:
    """The mapping picked on the page (IngestError names any mistake in the file)."""
    if choice == OWN_MAPPING:
        return mapping_mod.load(uploaded) if uploaded is not None else None
    if choice == NO_MAPPING:
        return None
    return mapping_mod.load(bundled_mappings()[choice])


@dataclass(frozen=True)
class StoreRecords:
    quarantine: pl.DataFrame  # rows waiting for correction
    history: pl.DataFrame  # the import ledger, newest first
    out_of_scope: int = 0  # quarantined rows out of scope (before 2000, children): counted only


def store_records(path: str | os.PathLike[str]) -> StoreRecords | None:
    """The store's open quarantine and import history; None when there is no store yet."""
    if not Path(path).exists():
        return None
    with store.Store(path) as s:
        return StoreRecords(
            quarantine.quarantine_frame(s),
            s.ledger().drop("report_json"),
            quarantine.quarantine_frame(s, status="out_of_scope").height,
        )


#: the import report's per-file columns, in the order people read them
FILE_COLUMNS = (
    "file",
    "preset",
    "rows_read",
    "accepted",
    "quarantined",
    "skipped",
    "duplicates",
    "conflicts",
    "disagreements",
    "already_imported",
)


def files_summary(report: ImportReport) -> pl.DataFrame:
    """One row per imported file: rows read = accepted + quarantined + skipped."""
    return pl.DataFrame([f.to_dict() for f in report.files]).select(FILE_COLUMNS)


def reasons_frame(reasons: list[ReasonCount] | tuple[ReasonCount, ...]) -> pl.DataFrame:
    """Quarantine or skip reasons for people: column, reason, rows, example line numbers."""
    return pl.DataFrame(
        [
            {
                "column": r.column or "",
                "reason": r.reason,
                "rows": r.count,
                "example rows (line numbers)": ", ".join(str(x) for x in r.rows),
            }
            for r in reasons
        ],
        schema={
            "column": pl.String,
            "reason": pl.String,
            "rows": pl.Int64,
            "example rows (line numbers)": pl.String,
        },
    )


def file_quarantine(path: str | os.PathLike[str], import_id: str) -> pl.DataFrame:
    """The open quarantined rows of one import."""
    with store.Store(path) as s:
        return quarantine.quarantine_frame(s, import_id=import_id)


def quarantine_waiting(path: str | os.PathLike[str]) -> int:
    """How many quarantined rows wait for correction (0 without a store)."""
    records = store_records(path)
    return 0 if records is None else records.quarantine.height
