"""Quarantine download: one line per quarantined row, de-identified, formula-safe, ready to
correct and import again with the same preset."""

from __future__ import annotations

import json
import re
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
    reasons, source file and row number (line number, header = line 1)."""
    q = st.read("quarantine", validate=False)
    if import_id:
        q = q.filter(pl.col("import_id") == import_id)
    if file_name:
        q = q.filter(pl.col("file_name") == file_name)
    if status:
        q = q.filter(pl.col("status") == status)
    if q.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(QUARANTINE_META, pl.String))
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
        d = json.loads(r["raw_row"] or "{}")
        d["quarantine_reason"] = r["reasons"]
        d["quarantine_file"] = r["file_name"]
        d["quarantine_row"] = str(r["row_number"])
        d["quarantine_import"] = r["import_id"]
        recs.append(d)
    cols = list(dict.fromkeys(k for d in recs for k in d))
    cols = [c for c in cols if c not in QUARANTINE_META] + list(QUARANTINE_META)
    return pl.DataFrame(
        [{c: d.get(c, "") for c in cols} for d in recs], schema=dict.fromkeys(cols, pl.String)
    )


def quarantine_files(st: store_mod.Store, import_id: str | None = None) -> dict[str, bytes]:
    """The open quarantine as one CSV per source file (``quarantine_<file>.csv`` -> bytes),
    each with that file's own columns, so that each is detected as its own layout when it is
    imported again as it is (one CSV of several layouts would be read as one of them)."""
    names = (
        quarantine_frame(st, import_id).get_column("quarantine_file").unique(maintain_order=True)
    )
    out: dict[str, bytes] = {}
    for name in names.to_list():
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePath(name).stem).removeprefix("quarantine_")
        stem = stem or "file"
        out[f"quarantine_{stem}.csv"] = exports.safe_csv(quarantine_frame(st, import_id, name))
    return out


def quarantine_csv(
    st: store_mod.Store, import_id: str | None = None, file_name: str | None = None
) -> bytes:
    """The open quarantine as CSV bytes (UTF-8 with BOM for spreadsheets), formula-safe.
    Correct the cells and import the file again: it is read with the same preset."""
    return exports.safe_csv(quarantine_frame(st, import_id, file_name))
