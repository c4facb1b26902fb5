"""Row accounting: every input row accepted, quarantined or skipped, with reasons."""

from __future__ import annotations

from typing import Any

import polars as pl

from kapoutcomes import privacy
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK, SKIP_SCHEMA
from kapoutcomes.ingest.frames import RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import FileReport, ReasonCount


def reason_counts(frame: pl.DataFrame, with_column: bool) -> tuple[ReasonCount, ...]:
    if frame.height == 0:
        return ()
    keys = ["column", "reason"] if with_column else ["reason"]
    g = (
        frame.with_columns(_line=pl.col(RK) % RK_BASE)
        .group_by(keys)
        .agg(count=pl.col(RK).n_unique(), rows=pl.col("_line").unique().sort().head(5))
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


def classify(f: ImportFile, result: Resolved) -> dict[str, Any]:
    raw = f.raw
    assert raw is not None
    base = f.index * RK_BASE
    rks = raw.frame.get_column(rd.LINE) + base
    lo, hi = base, base + RK_BASE

    def mine(df: pl.DataFrame) -> pl.DataFrame:
        return df.filter(pl.col(RK).is_between(lo, hi - 1)) if df.height else df

    probs = mine(result.problems)
    bad = set(probs.get_column(RK).to_list()) if probs.height else set()
    status = mine(result.status)
    st_by = (
        status.filter(~pl.col(RK).is_in(list(bad)))
        .group_by(RK)
        .agg(
            new=(pl.col("status") == "new").any(),
            conflict=(pl.col("status") == "conflict").any(),
            dup=(pl.col("status") == "duplicate").any(),
        )
        if status.height
        else pl.DataFrame(
            schema={RK: pl.Int64, "new": pl.Boolean, "conflict": pl.Boolean, "dup": pl.Boolean}
        )
    )
    accepted = set(st_by.filter("new").get_column(RK).to_list())
    conflict_rows = set(st_by.filter("conflict").get_column(RK).to_list())
    dup_only = set(
        st_by.filter(~pl.col("new") & ~pl.col("conflict") & pl.col("dup")).get_column(RK).to_list()
    )
    conflict_only = conflict_rows - accepted
    skips = mine(result.skipped)
    skips = skips.filter(~pl.col(RK).is_in(list(bad | accepted))) if skips.height else skips
    extra = []
    if dup_only:
        extra.append(
            pl.DataFrame(
                {
                    RK: sorted(dup_only),
                    "reason": "duplicate: already in the store or earlier in this import",
                },
                schema=SKIP_SCHEMA,
            )
        )
    if conflict_only:
        extra.append(
            pl.DataFrame(
                {
                    RK: sorted(conflict_only),
                    "reason": "conflict: differs from what the store holds for the same patient, "
                    "time and measure; kept for review in conflicts",
                },
                schema=SKIP_SCHEMA,
            )
        )
    accounted = bad | accepted | dup_only | conflict_only
    if skips.height:
        accounted |= set(skips.get_column(RK).to_list())
    rest = [x for x in rks.to_list() if x not in accounted]
    if rest:
        extra.append(
            pl.DataFrame(
                {
                    RK: rest,
                    "reason": "nothing to import: the row has no values in the columns this preset reads",
                },
                schema=SKIP_SCHEMA,
            )
        )
    skips = concat([skips, *extra], SKIP_SCHEMA)
    # a row skipped for several reasons counts once (under its first reason)
    skips = skips.unique(RK, keep="first", maintain_order=True) if skips.height else skips
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
        "accepted": len(accepted),
        "quarantined": len(bad),
        "skipped": skips.height,
        "duplicates": len(dup_only),
        "conflicts": len(conflict_rows),
        "written": tuple(written.items()),
        "quarantine_reasons": reason_counts(probs, True),
        "skip_reasons": reason_counts(skips, False),
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
