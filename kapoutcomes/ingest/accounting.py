"""Row accounting: every input row accepted, quarantined or skipped, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kapoutcomes.ingest import deid, safety_signals
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.dedupe import DISAGREES
from kapoutcomes.ingest.extract import RK, SKIP_SCHEMA
from kapoutcomes.ingest.frames import RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import FileReport, ReasonCount, ReviewNow
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


@dataclass(frozen=True)
class RowAccount:
    """Where the rows of one file went."""

    rows_read: int
    accepted: int
    quarantined: int
    skipped: int
    duplicates: int
    conflicts: int  # rows differing from what the store already holds
    disagreements: int  # rows differing from an earlier row of this import (not the store)
    written: tuple[tuple[str, int], ...]  # (table, rows written)
    quarantine_reasons: tuple[ReasonCount, ...]
    skip_reasons: tuple[ReasonCount, ...]
    problems: pl.DataFrame
    review: pl.DataFrame  # safety_signals.review_now rows of this file
    out_of_scope: int = 0  # quarantined rows whose every problem is out of scope


def out_of_scope_rows(probs: pl.DataFrame) -> int:
    """Quarantined rows whose every problem is out of scope (before 2000, a child)."""
    if probs.height == 0:
        return 0
    per_row = probs.group_by(RK).agg(pl.col("reason").str.starts_with("out of scope: ").all())
    return int(per_row.get_column("reason").sum())


@dataclass(frozen=True)
class _Lines:
    """The row keys of one file as flags indexed by line number (a row key is base + its
    line): marking and looking up millions of rows is then positional, without hashing."""

    base: int
    size: int  # the last line + 1

    def mine(self, df: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``df`` from this file."""
        if df.height == 0:
            return df
        lo, hi = self.base, self.base + RK_BASE
        rk = df.get_column(RK)
        if not rk.null_count() and rk.min() >= lo and rk.max() < hi:
            return df  # all of this file's (an import of one file): no copy
        return df.filter(pl.col(RK).is_between(lo, hi - 1))

    def flags(self, rk: pl.Series | None = None) -> pl.Series:
        out = pl.repeat(False, self.size, dtype=pl.Boolean, eager=True)
        return out if rk is None or rk.len() == 0 else out.scatter(self.at(rk), True)

    def at(self, rk: pl.Series) -> pl.Series:
        return (rk.cast(pl.Int64) - self.base).cast(pl.UInt32)

    def keys(self, flag: pl.Series, reason: str) -> pl.DataFrame:
        """The row keys ``flag`` marks, skipped for ``reason``."""
        rk = (flag.arg_true().cast(pl.Int64) + self.base).alias(RK).to_frame()
        return rk.with_columns(reason=pl.lit(reason)).cast(SKIP_SCHEMA)


@dataclass(frozen=True)
class _States:
    """Per line: written new, a conflict (with the store), a disagreement (with an earlier
    row of this import), only a duplicate, only a conflict or disagreement."""

    new: pl.Series
    conflict: pl.Series
    disagrees: pl.Series
    dup_only: pl.Series
    conflict_only: pl.Series
    disagrees_only: pl.Series


def classify(f: ImportFile, result: Resolved) -> RowAccount:
    raw = f.raw
    assert raw is not None
    lines = raw.frame.get_column(rd.LINE)
    at = _Lines(f.index * RK_BASE, int(lines.max() or 0) + 1)
    probs = at.mine(result.problems)
    bad = at.flags(probs.get_column(RK).drop_nulls() if probs.height else None)
    states = _states(at, result, bad)
    skips = _skips(at, result, bad, states, lines)
    return RowAccount(
        rows_read=raw.height,
        accepted=int(states.new.sum()),
        quarantined=int(bad.sum()),
        skipped=skips.height,
        duplicates=int(states.dup_only.sum()),
        conflicts=int(states.conflict.sum()),
        disagreements=int((states.disagrees & ~states.conflict).sum()),
        written=_written(result, at.base),
        quarantine_reasons=reason_counts(probs, True),
        skip_reasons=reason_counts(skips, False, one_per_row=True),
        problems=probs,
        review=_review(at, result, probs, states),
        out_of_scope=out_of_scope_rows(probs),
    )


def _review(at: _Lines, result: Resolved, probs: pl.DataFrame, states: _States) -> pl.DataFrame:
    """Review-now entries of this file: safety signals on rows quarantined, or kept only as a
    conflict (the store holds another answer for the same patient, time and measure)."""
    if result.signals is None or result.signals.height == 0:
        return safety_signals.review_now(pl.DataFrame(schema=safety_signals.SIGNAL_SCHEMA), probs)
    why = probs.select(RK, "column", "reason")
    for only, reason in (
        (states.conflict_only, _CONFLICT_REVIEW),
        (states.disagrees_only, _DISAGREES_REVIEW),
    ):
        if only.any():
            kept = at.keys(only, reason).select(RK, pl.lit("(conflict)").alias("column"), "reason")
            why = pl.concat([why, kept])
    return safety_signals.review_now(at.mine(result.signals), why)


_CONFLICT_REVIEW = (
    "differs from what the store holds for the same patient, time and measure (kept for "
    "review in conflicts)"
)
_DISAGREES_REVIEW = (
    "differs from an earlier row of this import for the same patient, time and measure (the "
    "earlier row is kept; this one for review in conflicts)"
)
#: Skip reasons of rows kept only for review.
CONFLICT_SKIP = (
    "conflict: differs from what the store holds for the same patient, time and measure; "
    "kept for review in conflicts"
)
DISAGREES_SKIP = (
    "disagrees within this import: differs from an earlier row of this import for the same "
    "patient, time and measure (the earlier row is kept); kept for review in conflicts"
)


def _states(at: _Lines, result: Resolved, bad: pl.Series) -> _States:
    """The rows' statuses (new, duplicate, conflict, disagrees), quarantined rows left out."""
    status = at.mine(result.status)
    if status.height and bad.any():
        status = _without(status, bad.gather(at.at(status.get_column(RK))))
    st = status.get_column("status") if status.height else pl.Series([], dtype=pl.String)
    rk_st = status.get_column(RK) if status.height else pl.Series([], dtype=pl.Int64)
    new = at.flags(rk_st.filter(st == "new"))
    conflict = at.flags(rk_st.filter(st == "conflict"))
    disagrees = at.flags(rk_st.filter(st == DISAGREES))
    dup = at.flags(rk_st.filter(st == "duplicate"))
    differs = conflict | disagrees
    return _States(
        new,
        conflict,
        disagrees,
        dup & ~new & ~differs,
        conflict & ~new,
        disagrees & ~new & ~conflict,
    )


def _skips(
    at: _Lines, result: Resolved, bad: pl.Series, states: _States, lines: pl.Series
) -> pl.DataFrame:
    """Every row neither written nor quarantined, once, under its first reason."""
    skips = at.mine(result.skipped)
    if skips.height:
        skips = _without(skips, (bad | states.new).gather(at.at(skips.get_column(RK))))
    extra = []
    if states.dup_only.any():
        extra.append(
            at.keys(states.dup_only, "duplicate: already in the store or earlier in this import")
        )
    if states.conflict_only.any():
        extra.append(at.keys(states.conflict_only, CONFLICT_SKIP))
    if states.disagrees_only.any():
        extra.append(at.keys(states.disagrees_only, DISAGREES_SKIP))
    accounted = bad | states.new | states.dup_only | states.conflict_only | states.disagrees_only
    if skips.height:
        accounted = accounted | at.flags(skips.get_column(RK))
    rest = lines.filter(~accounted.gather(lines.cast(pl.UInt32)))
    if rest.len():
        extra.append(
            (rest + at.base)
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
    if skips.height and np.bincount(at.at(skips.get_column(RK)).to_numpy()).max() > 1:
        skips = skips.filter(skips.get_column(RK).is_first_distinct())
    return skips


def _written(result: Resolved, base: int) -> tuple[tuple[str, int], ...]:
    """Rows written per table (and session vital signs filled) from the file at ``base``."""
    lo, hi = base, base + RK_BASE
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
    return tuple(written.items())


def _headers(
    headers: tuple[str, ...], words: frozenset[str], line: tuple[str, ...]
) -> tuple[str, ...]:
    """Column names for the report, scrubbed: a file exported without its header row has
    values where its column names should be, so when the unmapped part of its header
    ``line`` looks like data none of its cells is listed (a relative's or another patient's
    name among them is known to no identifier column)."""
    if headers and deid.header_looks_like_data(line):
        return (deid.HEADER_NOT_LISTED,)
    return tuple(deid.scrub_file_words(privacy.scrub_text(h), words) for h in headers)


def file_reports(files: list[ImportFile], result: Resolved | None) -> list[FileReport]:
    out = []
    for f in files:
        if f.already or f.raw is None or f.fit is None:
            out.append(
                FileReport(
                    file=f.safe_name or deid.scrub_file_name(f.src.name),
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
        name = f.safe_name or deid.scrub_file_name(f.src.name)
        unmapped = tuple(f.identifiers) + tuple(f.ignored)
        out.append(
            FileReport(
                file=name,
                preset=f.fit.preset,
                kind=f.fit.kind,
                sha256=f.src.sha256,
                import_id=f.import_id,
                rows_read=c.rows_read,
                accepted=c.accepted,
                quarantined=c.quarantined,
                out_of_scope=c.out_of_scope,
                skipped=c.skipped,
                duplicates=c.duplicates,
                conflicts=c.conflicts,
                disagreements=c.disagreements,
                encoding=f.raw.encoding,
                delimiter=f.raw.delimiter,
                sheet=deid.scrub_sheet_name(f.raw.sheet, f.words),
                written=c.written,
                quarantine_reasons=c.quarantine_reasons,
                skip_reasons=c.skip_reasons,
                removed_identifier_columns=_headers(f.identifiers, f.words, unmapped),
                ignored_columns=_headers(f.ignored, f.words, unmapped),
                notes=tuple(notes),
                review_now=_review_entries(name, c.review),
                date_orders=tuple(f.ex.date_orders) if f.ex is not None else (),
            )
        )
    return out


def _review_entries(file: str, review: pl.DataFrame) -> tuple[ReviewNow, ...]:
    return tuple(
        ReviewNow(
            file=file,
            line=int(r[RK] % RK_BASE),
            kind=r["kind"],
            headline=r["headline"],
            seen=r["seen"],
            reason=r["reason"],
            action=r["action"],
        )
        for r in review.iter_rows(named=True)
    )
