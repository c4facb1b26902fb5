"""Quarantine download: one line per quarantined row, de-identified, formula-safe, ready to
correct and import again with the same preset."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePath

import polars as pl

from kapoutcomes.ingest.frames import QUARANTINE_META
from kapoutcomes.storage import exports
from kapoutcomes.storage import store as store_mod


def quarantine_frame(
    st: store_mod.Store,
    import_id: str | None = None,
    file_name: str | None = None,
    status: str = "open",
) -> pl.DataFrame:
    """One row per quarantined input row: the de-identified columns as exported, plus the
    reasons, source file and row number (line number, header = line 1). A FHIR resource read
    into several rows (a blood-pressure panel) is one line per row, with the same number."""
    return _frame(_records(st, import_id, file_name, status))


def _records(
    st: store_mod.Store, import_id: str | None, file_name: str | None, status: str
) -> list[dict[str, str]]:
    q = st.read("quarantine", validate=False)
    if import_id:
        q = q.filter(pl.col("import_id") == import_id)
    if file_name:
        q = q.filter(pl.col("file_name") == file_name)
    if status:
        q = q.filter(pl.col("status") == status)
    if q.height == 0:
        return []
    g = (
        q.sort("file_name", "import_id", "row_number")
        .group_by("import_id", "file_name", "row_number", maintain_order=True)
        .agg(
            raw_row=pl.col("raw_row").first(),
            reasons=pl.concat_str([pl.col("column_name"), pl.lit(": "), pl.col("reason")])
            .unique(maintain_order=True)
            .str.join("; "),
        )
    )
    recs = []
    for r in g.iter_rows(named=True):
        cells = json.loads(r["raw_row"] or "{}")
        for d in cells if isinstance(cells, list) else [cells]:
            d["quarantine_reason"] = r["reasons"]
            d["quarantine_file"] = r["file_name"]
            d["quarantine_row"] = str(r["row_number"])
            d["quarantine_import"] = r["import_id"]
            recs.append(d)
    return recs


def _frame(recs: list[dict[str, str]]) -> pl.DataFrame:
    if not recs:
        return pl.DataFrame(schema=dict.fromkeys(QUARANTINE_META, pl.String))
    cols = list(dict.fromkeys(k for d in recs for k in d))
    cols = [c for c in cols if c not in QUARANTINE_META] + list(QUARANTINE_META)
    return pl.DataFrame(
        [{c: d.get(c, "") for c in cols} for d in recs], schema=dict.fromkeys(cols, pl.String)
    )


@dataclass(frozen=True)
class QuarantinePart:
    """The open quarantined rows of one source file in one layout: what one download holds."""

    download_name: str  # quarantine_<file>.csv (..._2.csv for a second layout of the file)
    source_file: str
    rows: pl.DataFrame  # quarantine_frame's columns

    def csv(self) -> bytes:
        return exports.safe_csv(self.rows)


def quarantine_files(st: store_mod.Store, import_id: str | None = None) -> dict[str, bytes]:
    """The open quarantine as one CSV per source file (``quarantine_<file>.csv`` -> bytes),
    each with that file's own columns, so that each is detected as its own layout when it is
    imported again as it is (one CSV of several layouts would be read as one of them). A
    file whose rows were read into several layouts (a FHIR file: observations as scores and
    as vital signs) gives one CSV per layout: ``quarantine_<file>.csv``, ``..._2.csv``."""
    return {p.download_name: p.csv() for p in quarantine_parts(st, import_id)}


def quarantine_parts(st: store_mod.Store, import_id: str | None = None) -> list[QuarantinePart]:
    """The open quarantine in the parts of ``quarantine_files``, with their rows."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, str]]] = {}
    for d in _records(st, import_id, None, "open"):
        layout = tuple(sorted(k for k in d if k not in QUARANTINE_META))
        name = d["quarantine_file"]
        if not layout:  # a row kept without its cells (they may sit in the wrong columns)
            layout = next((k[1] for k in groups if k[0] == name), layout)
        groups.setdefault((name, layout), []).append(d)
    out: list[QuarantinePart] = []
    seen: dict[str, int] = {}
    for (name, _), recs in groups.items():
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(name).stem).removeprefix("quarantine_")
        stem = stem or "file"
        seen[stem] = seen.get(stem, 0) + 1
        suffix = f"_{seen[stem]}" if seen[stem] > 1 else ""
        out.append(QuarantinePart(f"quarantine_{stem}{suffix}.csv", name, _frame(recs)))
    return out


def quarantine_csv(
    st: store_mod.Store, import_id: str | None = None, file_name: str | None = None
) -> bytes:
    """The open quarantine as CSV bytes (UTF-8 with BOM for spreadsheets), formula-safe.
    Correct the cells and import the file again: it is read with the same preset."""
    return exports.safe_csv(quarantine_frame(st, import_id, file_name))
