"""Import reports: frozen dataclasses with ``to_dict()`` and a plain-text rendering."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kapoutcomes.ingest.normalise import DateOrder


@dataclass(frozen=True)
class ReasonCount:
    """One reason with how many rows it applied to and example row numbers."""

    reason: str
    count: int
    rows: tuple[int, ...]  # up to 5 example row numbers (line numbers, header = line 1)
    column: str | None = None


@dataclass(frozen=True)
class ReviewNow:
    """A safety signal that could not be stored: a PHQ-9 item 9 answer not known to be 0, or
    a serious adverse event, on a quarantined row. ``seen`` never holds an identifier."""

    file: str
    line: int  # line number in the file (header = line 1)
    kind: str  # phq9_item9 | serious_adverse_event
    headline: str  # "possible suicide-risk answer: review now", ...
    seen: str  # what was seen, e.g. "PHQ-9 item 9 answer '2.5'"
    reason: str  # why the row could not be stored (column: reason)
    action: str  # what to do


@dataclass(frozen=True)
class FileReport:
    """What happened to every row of one file.

    ``rows_read == accepted + quarantined + skipped`` always holds. ``duplicates``,
    ``conflicts`` (rows differing from what the store already holds) and ``disagreements``
    (rows differing from an earlier row of this import: never counted as conflicts, so a dry
    run into an empty store has none) count rows within ``skipped`` / ``accepted`` (see
    docs/importing.md)."""

    file: str
    preset: str
    kind: str
    sha256: str
    import_id: str
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    skipped: int = 0
    duplicates: int = 0
    conflicts: int = 0
    disagreements: int = 0
    out_of_scope: int = 0  # quarantined rows outside what is tracked: kept, not to correct
    already_imported: bool = False
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    written: tuple[tuple[str, int], ...] = ()
    quarantine_reasons: tuple[ReasonCount, ...] = ()
    skip_reasons: tuple[ReasonCount, ...] = ()
    removed_identifier_columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    review_now: tuple[ReviewNow, ...] = ()
    date_orders: tuple[DateOrder, ...] = ()  # how each column's 03/04/2024 dates were read

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined + self.skipped

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["written"] = dict(self.written)
        d["reconciles"] = self.reconciles
        return d


@dataclass(frozen=True)
class ImportReport:
    files: tuple[FileReport, ...]
    dry_run: bool
    store: str
    seconds: float
    warnings: tuple[str, ...] = ()  # what the outcome pages will lack after this import

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def reconciles(self) -> bool:
        return all(f.reconciles for f in self.files)

    @property
    def review_now(self) -> tuple[ReviewNow, ...]:
        """Safety signals on quarantined rows, every file's: each needs review today."""
        return tuple(r for f in self.files for r in f.review_now)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "store": self.store,
            "seconds": round(self.seconds, 3),
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "reconciles": self.reconciles,
            "review_now": [dataclasses.asdict(r) for r in self.review_now],
            "warnings": list(self.warnings),
            "files": [f.to_dict() for f in self.files],
        }

    def text(self) -> str:
        out = []
        head = "dry run (nothing written)" if self.dry_run else f"store: {self.store}"
        out.append(f"{head}; {len(self.files)} file(s) in {self.seconds:.1f} s")
        if self.review_now:
            out.append("")
            out.append(f"REVIEW NOW: {len(self.review_now)} safety signal(s) could not be stored")
            for r in self.review_now:
                out.append(f"  {r.file} line {r.line}: {r.headline}")
                out.append(f"    seen: {r.seen}; not stored because {r.reason}")
                out.append(f"    what to do: {r.action}")
        for f in self.files:
            out.append("")
            out.append(f"{f.file}  [{f.preset}: {f.kind}]")
            if f.already_imported:
                out.append("  already imported (same content): nothing added")
                continue
            out.append(
                f"  rows read {f.rows_read:,} = accepted {f.accepted:,} + quarantined "
                f"{f.quarantined:,} + skipped {f.skipped:,}"
                f"   (duplicates {f.duplicates:,}, conflicts with the store {f.conflicts:,})"
            )
            if f.disagreements:
                kept = "would be kept" if self.dry_run else "is kept"
                out.append(
                    f"  {f.disagreements:,} row(s) disagree within this import: same patient, "
                    f"time and measure as an earlier row, another value (the earlier row "
                    f"{kept}; these for review in conflicts)"
                )
            if f.out_of_scope:
                out.append(
                    f"  of the quarantined, {f.out_of_scope:,} are out of scope (before 2000, "
                    f"children): kept and counted, nothing to correct; "
                    f"{f.quarantined - f.out_of_scope:,} need correction"
                )
            if f.written:
                verb = "would write" if self.dry_run else "written"
                out.append(f"  {verb}: " + ", ".join(f"{t} {n:,}" for t, n in f.written))
            if f.removed_identifier_columns:
                out.append(
                    "  identifier columns removed: " + ", ".join(f.removed_identifier_columns)
                )
            if f.ignored_columns:
                out.append("  columns not imported: " + ", ".join(f.ignored_columns))
            for title, reasons in (
                ("quarantined", f.quarantine_reasons),
                ("skipped", f.skip_reasons),
            ):
                if reasons:
                    out.append(f"  {title}:")
                    for r in reasons:
                        col = f"{r.column}: " if r.column else ""
                        rows = ", ".join(str(x) for x in r.rows)
                        out.append(f"    {r.count:>6,}  {col}{r.reason}  (rows {rows})")
            for d in f.date_orders:
                out.append(f"  {d.text()}")
            for n in f.notes:
                out.append(f"  note: {n}")
        out.append("")
        out.append(
            f"total: rows read {self.rows_read:,} = accepted {self.accepted:,} + quarantined "
            f"{self.quarantined:,} + skipped {self.skipped:,}"
        )
        out.append("row numbers are line numbers in the file (header = line 1)")
        for w in self.warnings:
            out.append(f"warning: {w}")
        return "\n".join(out)
