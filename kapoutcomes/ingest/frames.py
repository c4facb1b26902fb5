"""Shared pieces of one import: row keys, the files in flight, frame helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from kapoutcomes.ingest import presets
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK, Extract

#: Row key = file index x RK_BASE + line number.
RK_BASE = 1_000_000_000
#: Validation reasons for repeated ids: repeats are duplicates, settled by ``dedupe``.
UNIQUENESS = ("field_uniqueness", "expected a unique value (duplicate)")

#: Columns a downloaded quarantine file adds; ignored when it is imported again.
QUARANTINE_META = ("quarantine_reason", "quarantine_file", "quarantine_row", "quarantine_import")


Progress = Callable[[int, int], None] | None


@dataclass
class ImportFile:
    """One input file on its way through the import."""

    index: int
    src: rd.Source
    raw: rd.RawTable | None = None
    fit: presets.Fit | None = None
    ex: Extract | None = None
    identifiers: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    import_id: str = ""
    already: bool = False
    #: the file's identifier words (names, MRNs: ``deid.file_identifier_words``), to scrub
    #: kept free text and the file name
    words: frozenset[str] = frozenset()
    #: the file name as the ledger, quarantine, audit trail and report show it
    #: (``deid.scrub_file_name``); the SHA-256 identifies the file
    safe_name: str = ""


@dataclass
class Resolved:
    """The outcome of resolving all candidates of one import."""

    frames: dict[str, pl.DataFrame]  # new rows to write, with RK
    problems: pl.DataFrame
    skipped: pl.DataFrame
    status: pl.DataFrame  # RK, status: new | duplicate | conflict
    conflicts: pl.DataFrame  # RK, table_name, natural_key, stored_value, incoming_value
    vital_updates: pl.DataFrame  # session_id, column, value (stored sessions)
    notes: dict[int, list[str]]
    vitals_filled: pl.DataFrame | None = None  # RK of vital signs filled into sessions
    #: rows carrying a safety signal (``safety_signals.SIGNAL_SCHEMA``)
    signals: pl.DataFrame | None = None


def concat(frames: Sequence[pl.DataFrame | None], schema: dict | None = None) -> pl.DataFrame:
    fs = [f for f in frames if f is not None and f.height]
    if not fs:
        return pl.DataFrame(schema=schema or {})
    return pl.concat(fs, how="diagonal_relaxed")


CONFLICT_SCHEMA = {
    RK: pl.Int64,
    "table_name": pl.String,
    "natural_key": pl.String,
    "stored_value": pl.String,
    "incoming_value": pl.String,
}


def json_rows(frame: pl.DataFrame, cols: Sequence[str]) -> list[str]:
    return [
        json.dumps(dict(zip(cols, r, strict=True)), default=str, sort_keys=True)
        for r in frame.select(cols).rows()
    ]
