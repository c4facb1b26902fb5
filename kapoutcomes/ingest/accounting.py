"""Row accounting: every input row accepted, quarantined or skipped, with reasons."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK, SKIP_SCHEMA
from kapoutcomes.ingest.frames import RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import FileReport, ReasonCount
from kapoutcomes.storage import privacy


def reason_counts(
    frame: pl.DataFrame, with_column: bool, one_per_row: bool = False
) -> tuple[ReasonCount, ...]:
    """Rows per reason (and column) with the first five line numbers. ``one_per_row``: the
    frame holds each row key once (skips), so counting and the first lines need no
    de-duplication."""
    if frame.height == 0:
        return ()
    keys = ["column", "reason"] if with_column else ["reason"]
    line = pl.col("_line")
    frame = frame.with_columns(_line=pl.col(RK) % RK_BASE)
    if one_per_row:
        g = frame.group_by(keys).agg(count=pl.len())
        g = g.join(_first_lines(frame, keys, g), on=keys, how="left", nulls_equal=True)
    else:
        g = frame.group_by(keys).agg(count=pl.col(RK).n_unique(), rows=line.unique().sort().head(5))
    g = g.sort("count", *keys, descending=[True] + [False] * len(keys))
    return tuple(
        ReasonCount(
            reason=r["reason"],
            count=int(r["count"]),
            rows=tuple(int(x) for x in r["rows"]),
            column=r["column"] if with_column else None,
        )
        for r in g.iter_rows(named=True)
    )


def _first_lines(frame: pl.DataFrame, keys: list[str], counts: pl.DataFrame) -> pl.DataFrame:
    """The five first lines of each group of ``frame`` (each line once), sorted: found among
    the rows below a bound, doubled until every group has its five or all its rows (the first
    lines of millions of skipped rows usually lie in the first thousands of lines)."""
    size = counts.select(*keys, n=pl.col("count").clip(0, 5))
    bound = 1 << 14
    top = int(frame.get_column("_line").max() or 0)
    while True:
        part = frame.filter(pl.col("_line") < bound) if bound <= top else frame
        got = part.group_by(keys).agg(rows=pl.col("_line").bottom_k(5).sort())
        if bound > top:
            return got
        have = size.join(got, on=keys, how="left", nulls_equal=True)
        if (have.get_column("rows").list.len().fill_null(0) >= have.get_column("n")).all():
            return got
        bound *= 4


def _without(frame: pl.DataFrame, drop: pl.Series) -> pl.DataFrame:
    """``frame`` without the rows ``drop`` marks; the frame itself when it marks none."""
    return frame.filter(~drop) if drop.any() else frame


def classify(f: ImportFile, result: Resolved) -> dict[str, Any]:
    raw = f.raw
    assert raw is not None
    base = f.index * RK_BASE
    lines = raw.frame.get_column(rd.LINE)
    lo, hi = base, base + RK_BASE
    # Row states are flags indexed by line number (a row key is base + its line): marking and
    # looking up millions of rows is then positional, without hashing.
    size = int(lines.max() or 0) + 1

    def mine(df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0:
            return df
        rk = df.get_column(RK)
        if not rk.null_count() and rk.min() >= lo and rk.max() < hi:
            return df  # all of this file's (an import of one file): no copy
        return df.filter(pl.col(RK).is_between(lo, hi - 1))

    def flags(rk: pl.Series | None = None) -> pl.Series:
        out = pl.repeat(False, size, dtype=pl.Boolean, eager=True)
        return out if rk is None or rk.len() == 0 else out.scatter(at(rk), True)

    def at(rk: pl.Series) -> pl.Series:
        return (rk.cast(pl.Int64) - base).cast(pl.UInt32)

    def keys(flag: pl.Series) -> pl.DataFrame:
        return (flag.arg_true().cast(pl.Int64) + base).alias(RK).to_frame()

    probs = mine(result.problems)
    bad = flags(probs.get_column(RK).drop_nulls() if probs.height else None)
    status = mine(result.status)
    if status.height and bad.any():
        status = _without(status, bad.gather(at(status.get_column(RK))))
    st = status.get_column("status") if status.height else pl.Series([], dtype=pl.String)
    rk_st = status.get_column(RK) if status.height else pl.Series([], dtype=pl.Int64)
    new = flags(rk_st.filter(st == "new"))
    conflict = flags(rk_st.filter(st == "conflict"))
    dup = flags(rk_st.filter(st == "duplicate"))
    dup_only = dup & ~new & ~conflict
    conflict_only = conflict & ~new
    skips = mine(result.skipped)
    if skips.height:
        skips = _without(skips, (bad | new).gather(at(skips.get_column(RK))))
    extra = []
    if dup_only.any():
        extra.append(
            keys(dup_only)
            .with_columns(
                reason=pl.lit("duplicate: already in the store or earlier in this import")
            )
            .cast(SKIP_SCHEMA)
        )
    if conflict_only.any():
        extra.append(
            keys(conflict_only)
            .with_columns(
                reason=pl.lit(
                    "conflict: differs from what the store holds for the same patient, "
                    "time and measure; kept for review in conflicts"
                )
            )
            .cast(SKIP_SCHEMA)
        )
    accounted = bad | new | dup_only | conflict_only
    if skips.height:
        accounted = accounted | flags(skips.get_column(RK))
    rest = lines.filter(~accounted.gather(lines.cast(pl.UInt32)))
    if rest.len():
        extra.append(
            (rest + base)
            .alias(RK)
            .to_frame()
            .with_columns(
                reason=pl.lit(
                    "nothing to import: the row has no values in the columns this preset reads"
                )
            )
            .cast(SKIP_SCHEMA)
        )
    skips = concat([skips, *extra], SKIP_SCHEMA)
    # a row skipped for several reasons counts once (under its first reason)
    # (whether any row repeats is told by counting rows per line: hashing millions of row
    # keys only when one does)
    if skips.height and np.bincount(at(skips.get_column(RK)).to_numpy()).max() > 1:
        skips = skips.filter(skips.get_column(RK).is_first_distinct())
    written = {}
    for table, fr in result.frames.items():
        n = 0
        if fr.height:
            owner = pl.coalesce(RK, "_owner") if "_owner" in fr.columns else pl.col(RK)
            n = fr.filter(owner.is_between(lo, hi - 1)).height
        if n:
            written[table] = n
    filled = result.vitals_filled
    if filled is not None and filled.height:
        n = filled.filter(pl.col(RK).is_between(lo, hi - 1)).height
        if n:
            written["session vital signs"] = n
    return {
        "rows_read": raw.height,
        "accepted": int(new.sum()),
        "quarantined": int(bad.sum()),
        "skipped": skips.height,
        "duplicates": int(dup_only.sum()),
        "conflicts": int(conflict.sum()),
        "written": tuple(written.items()),
        "quarantine_reasons": reason_counts(probs, True),
        "skip_reasons": reason_counts(skips, False, one_per_row=True),
        "problems": probs,
    }


def file_reports(files: list[ImportFile], result: Resolved | None) -> list[FileReport]:
    out = []
    for f in files:
        if f.already or f.raw is None or f.fit is None:
            out.append(
                FileReport(
                    file=privacy.scrub_text(f.src.name),
                    preset="-",
                    kind="-",
                    sha256=f.src.sha256,
                    import_id=f.import_id,
                    already_imported=True,
                    notes=("the ledger already holds a file with the same content (SHA-256)",),
                )
            )
            continue
        c = classify(f, result)
        notes = list(f.raw.notes) + list(result.notes.get(f.index, []))
        out.append(
            FileReport(
                file=privacy.scrub_text(f.src.name),
                preset=f.fit.preset,
                kind=f.fit.kind,
                sha256=f.src.sha256,
                import_id=f.import_id,
                rows_read=c["rows_read"],
                accepted=c["accepted"],
                quarantined=c["quarantined"],
                skipped=c["skipped"],
                duplicates=c["duplicates"],
                conflicts=c["conflicts"],
                encoding=f.raw.encoding,
                delimiter=f.raw.delimiter,
                sheet=f.raw.sheet,
                written=c["written"],
                quarantine_reasons=c["quarantine_reasons"],
                skip_reasons=c["skip_reasons"],
                removed_identifier_columns=f.identifiers,
                ignored_columns=f.ignored,
                notes=tuple(notes),
            )
        )
    return out
