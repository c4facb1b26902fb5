"""Collecting flattened resources into frames in bounded chunks.

Cells are gathered in Python lists and turned into polars frames (compact Arrow strings)
every ``CHUNK`` rows, so a bulk export of millions of resources never holds more than one
chunk of Python strings at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest.read import LINE, SHAPE

CHUNK = 50_000

#: The file's own rows (one per resource): what the quarantine shows of a resource, and what
#: is counted. No name, address, telecom or other identifier is ever a column.
RAW_COLUMNS = ("resource", "patient", "date", "code", "display", "value", "birth_date", "gender")

LAYOUTS: dict[str, tuple[str, ...]] = {
    "long": ("patient", "date", "code", "name", "value", "units"),
    "assessments": tables.columns("assessments"),
    "medications": (
        "patient",
        "start",
        "stop",
        "description",
        "code",
        "frequency",
        "daily_dose",
    ),
    "patients": (
        "patient_id",
        "clinic",
        "primary_condition",
        "comorbid_depression",
        "sex",
        "birth_date",
        "birth_year",
        "age_band",
        "referral_date",
        "psychosis_history",
        "cardiovascular_disease",
        "raised_intracranial_pressure",
        "substance_use_disorder",
        "interacting_medication",
    ),
    "sessions": tables.columns("sessions"),
    "adverse_events": tables.columns("adverse_events"),
}
OWN_PROBLEMS = (LINE, "column", "value", "reason")
OWN_SKIPS = (LINE, "reason")


class _Columns:
    """Text columns gathered row by row, flushed to a frame every ``CHUNK`` rows."""

    def __init__(self, columns: Sequence[str], line_col: str = LINE) -> None:
        self.columns = tuple(columns)
        self.line_col = line_col
        self.lines: list[int] = []
        self.cells: dict[str, list[str | None]] = {c: [] for c in self.columns}
        self.frames: list[pl.DataFrame] = []

    def add(self, line: int, values: dict[str, str | None]) -> None:
        self.lines.append(line)
        for c in self.columns:
            v = values.get(c)
            self.cells[c].append(None if v is None else str(v))
        if len(self.lines) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.lines:
            return
        data: dict[str, pl.Series] = {
            c: pl.Series(c, self.cells[c], dtype=pl.String) for c in self.columns
        }
        data[self.line_col] = pl.Series(self.line_col, self.lines, dtype=pl.Int64)
        self.frames.append(pl.DataFrame(data))
        self.lines = []
        self.cells = {c: [] for c in self.columns}

    def frame(self) -> pl.DataFrame:
        self.flush()
        if not self.frames:
            schema = dict.fromkeys(self.columns, pl.String) | {self.line_col: pl.Int64}
            return pl.DataFrame(schema=schema)
        out = pl.concat(self.frames, rechunk=True)
        self.frames = []
        return out


class Collector:
    """What the resources of one file become: their rows, facts per layout, own skips and
    problems (a line that is not JSON, an incomplete questionnaire)."""

    def __init__(self, prorate_missing: int = 0) -> None:
        self.prorate_missing = prorate_missing
        self._raw = _Columns(RAW_COLUMNS)
        self._facts = {k: _Columns(cols) for k, cols in LAYOUTS.items()}
        self._skips = _Columns(("reason",))
        self._problems = _Columns(("column", "value", "reason"))
        self.types: dict[str, int] = {}
        self.last_line = -1
        #: words of the Patients' names, only to remove them from the file's name (a Bundle
        #: is often named after its patient); never stored
        self.name_words: set[str] = set()

    def raw(self, line: int, resource: str, **cells: str | None) -> None:
        self.last_line = line
        self.types[resource] = self.types.get(resource, 0) + 1
        self._raw.add(line, {"resource": resource, **cells})

    def fact(self, layout: str, line: int, values: dict[str, str | None]) -> None:
        self._facts[layout].add(line, values)

    def skip(self, line: int, reason: str) -> None:
        self._skips.add(line, {"reason": reason})

    def problem(self, line: int, column: str, value: str | None, reason: str) -> None:
        self._problems.add(line, {"column": column, "value": value, "reason": reason})

    def frames(self) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], pl.DataFrame, pl.DataFrame]:
        """(rows with LINE and SHAPE, facts per layout, skips, problems)."""
        raw = self._raw.frame().with_columns(pl.lit(None, dtype=pl.String).alias(SHAPE))
        facts = {k: c.frame() for k, c in self._facts.items()}
        return (
            raw,
            {k: f for k, f in facts.items() if f.height},
            self._skips.frame(),
            (self._problems.frame()),
        )
