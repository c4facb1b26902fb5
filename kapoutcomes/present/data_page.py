"""What the app's Data page needs from the library: the upload limit (the importer's own),
the mapping files it offers, the chosen mapping, and the store's quarantine and import
history. The page renders; it computes nothing."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.ingest import quarantine
from kapoutcomes.ingest.read import MAX_BYTES
from kapoutcomes.ingest.report import ImportReport, ReasonCount
from kapoutcomes.ingest.resolve import OUT_OF_SCOPE
from kapoutcomes.present.formatting import layout_words
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
            _history(s.ledger().drop("report_json")),
            quarantine.quarantine_frame(s, status="out_of_scope").height,
        )


#: the import history's columns, in the order people read them (ids and hashes last)
HISTORY_COLUMNS = (
    "imported_at",
    "file_name",
    "undone_at",
    "rows_read",
    "accepted",
    "quarantined",
    "skipped",
    "duplicates",
    "conflicts",
    "preset",
    "import_id",
    "content_sha256",
)


def _history(ledger: pl.DataFrame) -> pl.DataFrame:
    first = [c for c in HISTORY_COLUMNS if c in ledger.columns]
    out = ledger.select(*first, *[c for c in ledger.columns if c not in first])
    if "preset" in out.columns and out.height:  # the layout in words, not "long:observations"
        out = out.with_columns(pl.col("preset").map_elements(layout_words, return_dtype=pl.String))
    return out


#: the import report's per-file columns, in the order people read them, with their words
FILE_COLUMNS = {
    "file": "file",
    "preset": "layout",
    "rows_read": "rows read",
    "accepted": "accepted",
    "quarantined": "quarantined",
    "skipped": "skipped",
    "duplicates": "of the skipped: duplicates",
    "conflicts": "conflicts with the store",
    "disagreements": "disagree within the import",
    "already_imported": "already imported",
}


def files_summary(report: ImportReport) -> pl.DataFrame:
    """One row per imported file: rows read = accepted + quarantined + skipped."""
    return (
        pl.DataFrame([f.to_dict() for f in report.files])
        .select(list(FILE_COLUMNS))
        .rename(FILE_COLUMNS)
    )


@dataclass(frozen=True)
class ReportSummary:
    """The import report in sentences: the sum that must add up, and what to do next."""

    headline: str
    total: str  # rows read = accepted + quarantined + skipped, over all files
    next_steps: tuple[str, ...]


def report_summary(report: ImportReport) -> ReportSummary:
    files = [f for f in report.files if not f.already_imported]
    dry = report.dry_run
    head = "Dry run: nothing was written." if dry else "Import finished."
    ok = (
        "Every row is accounted for."
        if report.reconciles
        else "Rows do not add up: do not use this import; report it."
    )
    total = (
        f"{report.rows_read:,} rows read = {report.accepted:,} accepted + "
        f"{report.quarantined:,} quarantined + {report.skipped:,} skipped"
    )
    out_of_scope = sum(f.out_of_scope for f in files)
    to_correct = report.quarantined - out_of_scope
    conflicts = sum(f.conflicts for f in files)
    disagree = sum(f.disagreements for f in files)
    steps = []
    would = "would be" if dry else "are"
    if to_correct:
        steps.append(
            f"{to_correct:,} quarantined row(s) need correction: "
            + ("import without the dry run, then " if dry else "")
            + "download them on the Quarantine tab, correct the cells named in "
            "quarantine_reason and upload the corrected file here."
        )
    if out_of_scope:
        steps.append(
            f"{out_of_scope:,} quarantined row(s) are out of scope (dated before 2000, or "
            "children): kept and counted, nothing to correct."
        )
    if conflicts:
        steps.append(
            f"{conflicts:,} row(s) differ from what the store already holds: the stored "
            f"values stay; the imported ones {would} listed on the Conflicts tab, where a "
            "data manager can keep either."
        )
    if disagree:
        steps.append(
            f"{disagree:,} row(s) disagree with an earlier row of this import (same patient, "
            f"time and measure, another value): the earlier row is kept, these {would} "
            "listed on the Conflicts tab."
        )
    if any(f.already_imported for f in report.files):
        steps.append(
            "Files already imported (same content) added nothing; to import one again with "
            "other options, undo its import on the Import history tab first."
        )
    if not dry and report.accepted:
        steps.append("A wrong import can be undone on the Import history tab.")
    return ReportSummary(f"{head} {ok} ({report.seconds:.1f} s)", total, tuple(steps))


def quarantine_reasons_split(
    reasons: list[ReasonCount] | tuple[ReasonCount, ...],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(reasons that need a correction, out-of-scope reasons), each as ``reasons_frame``."""
    out = [r for r in reasons if r.reason.startswith(OUT_OF_SCOPE)]
    fix = [r for r in reasons if not r.reason.startswith(OUT_OF_SCOPE)]
    return reasons_frame(fix), reasons_frame(out)


def conflicts_for_people(frame: pl.DataFrame) -> pl.DataFrame:
    """``ingest.review.conflicts`` in words: what the fact is, the value the store holds and
    the imported one side by side, whether it differs from the store or from an earlier row
    of the same import, and where it came from."""
    rows = []
    for c in frame.iter_rows(named=True):
        within = str(c["stored_value"] or "").startswith(WITHIN_IMPORT)
        rows.append(
            {
                "conflict": c["conflict_id"],
                "kind": "disagrees within one import" if within else "differs from the store",
                "what": _fact(c["table_name"], c["natural_key"]),
                "kept (stored)": _values(c["stored_value"]),
                "not stored (imported)": _values(c["incoming_value"]),
                "from": f"{c['file_name']}, line {c['row_number']}",
                "patient": _patient(c["natural_key"]),
            }
        )
    cols = ["conflict", "what", "kept (stored)", "not stored (imported)", "kind", "from", "patient"]
    return pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String))


#: how a conflict with an earlier row of the same import names that row (ingest.dedupe)
WITHIN_IMPORT = "another row of this import"


def _key(key_json: str | None) -> dict | None:
    try:
        key = json.loads(key_json or "")
    except ValueError:
        return None
    return key if isinstance(key, dict) else None


def _fact(table: str, key_json: str | None) -> str:
    """``assessments`` + its natural key -> "score pain_nrs, 2024-10-17 09:30:00" (short, to
    fit a tablet: the patient has a column of its own)."""
    key = _key(key_json)
    if key is None:
        return f"{table}: {key_json}"
    parts = [str(v) for k, v in key.items() if v is not None and k != "patient_id"]
    return f"{_TABLE_WORDS.get(table, table)} " + ", ".join(parts)


def _patient(key_json: str | None) -> str:
    key = _key(key_json)
    return str(key.get("patient_id") or "") if key is not None else ""


_TABLE_WORDS = {
    "assessments": "score",
    "sessions": "session",
    "adverse_events": "side effect",
    "opioids": "opioid prescription",
    "patients": "patient",
}


def _values(text: str | None) -> str:
    """A conflict's value JSON ({"score": 8.0}) as "score 8.0"; other text as it is."""
    body = str(text or "")
    prefix = ""
    if body.startswith(WITHIN_IMPORT) and ": " in body:
        prefix, body = body.split(": ", 1)
        line = prefix.removeprefix(WITHIN_IMPORT).strip(" ()")
        prefix = f"earlier row ({line}): "
    try:
        values = json.loads(body)
    except ValueError:
        return prefix + body
    if isinstance(values, dict):
        return prefix + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items())
    return prefix + body


@dataclass(frozen=True)
class QuarantineSection:
    """One download of the Quarantine tab: its source file, rows for people (line and reason
    first) and the CSV to correct and upload again."""

    source_file: str
    download_name: str
    rows: pl.DataFrame
    csv: bytes


def quarantine_sections(path: str | os.PathLike[str]) -> list[QuarantineSection]:
    """The open quarantine per source file (and layout), as the Quarantine tab shows it."""
    if not Path(path).exists():
        return []
    with store.Store(path) as s:
        parts = quarantine.quarantine_parts(s)
    out = []
    for p in parts:
        rows = p.rows.rename({"quarantine_row": "line", "quarantine_reason": "why"})
        first = ["line", "why"]
        data = [c for c in rows.columns if c not in first and not c.startswith("quarantine_")]
        out.append(
            QuarantineSection(p.source_file, p.download_name, rows.select(*first, *data), p.csv())
        )
    return out


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
