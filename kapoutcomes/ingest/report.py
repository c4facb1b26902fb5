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
class FileReport:
    """What happened to every row of one file.

    ``rows_read == accepted + quarantined + skipped`` always holds. ``duplicates`` and
    ``conflicts`` count rows within ``skipped`` / ``accepted`` (see docs/importing.md)."""

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
            "warnings": list(self.warnings),
            "files": [f.to_dict() for f in self.files],
        }

    def text(self) -> str:
        out = []
        head = "dry run (nothing written)" if self.dry_run else f"store: {self.store}"
        out.append(f"{head}; {len(self.files)} file(s) in {self.seconds:.1f} s")
        for f in self.files:
            out.append("")
            out.append(f"{f.file}  [{f.preset}: {f.kind}]")
            if f.already_imported:
                out.append("  already imported (same content): nothing added")
                continue
            out.append(
                f"  rows read {f.rows_read:,} = accepted {f.accepted:,} + quarantined "
                f"{f.quarantined:,} + skipped {f.skipped:,}"
                f"   (duplicates {f.duplicates:,}, conflicts {f.conflicts:,})"
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
