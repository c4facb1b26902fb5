"""Row accounting: every input row accepted, quarantined or skipped, with reasons."""

from __future__ import annotations

from typing import Any

import polars as pl

from kapoutcomes import privacy
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK, SKIP_SCHEMA
from kapoutcomes.ingest.frames import RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import FileReport, ReasonCount


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
    g = (
        frame.with_columns(_line=pl.col(RK) % RK_BASE)
        .group_by(keys)
        .agg(
            count=pl.len() if one_per_row else pl.col(RK).n_unique(),
            rows=line.bottom_k(5).sort() if one_per_row else line.unique().sort().head(5),
        )
        .sort("count", *keys, descending=[True] + [False] * len(keys))
    )
    return tuple(
        ReasonCount(
            reason=r["reason"],
            count=int(r["count"]),
            rows=tuple(int(x) for x in r["rows"]),
            column=r["column"] if with_column else None,
        )
        for r in g.iter_rows(named=True)
    )


def _keys(*frames: pl.DataFrame) -> pl.DataFrame:
    """The row keys of some frames, as one frame (for anti-joins)."""
    parts = [f.select(pl.col(RK).cast(pl.Int64)) for f in frames if f.height]
    return pl.concat(parts) if parts else pl.DataFrame(schema={RK: pl.Int64})


def _anti(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without the rows whose key is in ``keys`` (order kept)."""
    if frame.height == 0 or keys.height == 0:
        return frame
    return frame.join(keys.unique(), on=RK, how="anti", maintain_order="left")


def classify(f: ImportFile, result: Resolved) -> dict[str, Any]:
    raw = f.raw
    assert raw is not None
    base = f.index * RK_BASE
    rks = (raw.frame.get_column(rd.LINE) + base).alias(RK).to_frame()
    lo, hi = base, base + RK_BASE

    def mine(df: pl.DataFrame) -> pl.DataFrame:
        return df.filter(pl.col(RK).is_between(lo, hi - 1)) if df.height else df

    probs = mine(result.problems)
    bad = probs.select(pl.col(RK).cast(pl.Int64)).unique() if probs.height else _keys()
    status = mine(result.status)
    st_by = (
        _anti(status, bad)
        .group_by(RK)
        .agg(
            new=(pl.col("status") == "new").any(),
            conflict=(pl.col("status") == "conflict").any(),
            dup=(pl.col("status") == "duplicate").any(),
        )
        .sort(RK)
        if status.height
        else pl.DataFrame(
            schema={RK: pl.Int64, "new": pl.Boolean, "conflict": pl.Boolean, "dup": pl.Boolean}
        )
    )
    accepted = st_by.filter("new").select(RK)
    n_conflicts = st_by.filter("conflict").height
    dup_only = st_by.filter(~pl.col("new") & ~pl.col("conflict") & pl.col("dup")).select(RK)
    conflict_only = st_by.filter(pl.col("conflict") & ~pl.col("new")).select(RK)
    skips = _anti(mine(result.skipped), _keys(bad, accepted))
    extra = []
    if dup_only.height:
        extra.append(
            dup_only.with_columns(
                reason=pl.lit("duplicate: already in the store or earlier in this import")
            ).cast(SKIP_SCHEMA)
        )
    if conflict_only.height:
        extra.append(
            conflict_only.with_columns(
                reason=pl.lit(
                    "conflict: differs from what the store holds for the same patient, "
                    "time and measure; kept for review in conflicts"
                )
            ).cast(SKIP_SCHEMA)
        )
    rest = _anti(rks, _keys(bad, accepted, dup_only, conflict_only, skips))
    if rest.height:
        extra.append(
            rest.with_columns(
                reason=pl.lit(
                    "nothing to import: the row has no values in the columns this preset reads"
                )
            ).cast(SKIP_SCHEMA)
        )
    skips = concat([skips, *extra], SKIP_SCHEMA)
    # a row skipped for several reasons counts once (under its first reason)
    skips = skips.filter(pl.col(RK).is_first_distinct()) if skips.height else skips
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
        "accepted": accepted.height,
        "quarantined": bad.height,
        "skipped": skips.height,
        "duplicates": dup_only.height,
        "conflicts": n_conflicts,
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
