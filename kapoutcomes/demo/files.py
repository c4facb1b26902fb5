"""How the demo cohort's files are written: canonical CSV text (fixed decimals, ISO dates),
the catalog entry each file gets, and which patients each clinic's messy export holds.

Every file is deterministic for (seed, patients): rows are sorted, floats are written with a
fixed number of decimals, dates are ISO (or the export's own style) and nothing depends on the
machine or the clock.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo.sample import SampleCohort

EXPORT_PATIENTS = 150
CLINIC_TZ = "America/New_York"


#: Decimals written for each float column of the canonical tables.
DECIMALS = {
    "sessions": {"dose_mg": 1, "dose_mg_per_kg": 3, "weight_kg": 1, "cost_usd": 2},
    "assessments": {"score": 1},
    "opioids": {
        "strength": 3,
        "frequency_per_day": 2,
        "daily_dose": 3,
        "mme_factor": 3,
        "daily_mme": 4,
    },
}
ISO_TIME = "%Y-%m-%dT%H:%M:%S"


@dataclass
class Entry:
    """One catalog entry: a written file and what it deliberately contains."""

    path: str
    what: str
    rows: int
    encoding: str
    delimiter: str
    mess: list[str] = field(default_factory=list)
    counts: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportRows:
    """An export's rows as written, and the counts of its deliberate mess."""

    rows: list[list]
    counts: dict[str, int | str]


def fixed_decimals(col: str, decimals: int) -> pl.Expr:
    """A float column as text with exactly ``decimals`` decimals (vectorised, no locale)."""
    scale = 10**decimals
    units = (pl.col(col) * scale).round(0).cast(pl.Int64)
    sign = pl.when(units < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (units.abs() // scale).cast(pl.String)
    if decimals == 0:
        return pl.format("{}{}", sign, whole).alias(col)
    frac = (units.abs() % scale).cast(pl.String).str.zfill(decimals)
    return pl.format("{}{}.{}", sign, whole, frac).alias(col)


def canonical_csv(table: str, frame: pl.DataFrame) -> str:
    """The canonical CSV text of a table: fixed decimals, ISO dates, empty for null."""
    dec = DECIMALS.get(table, {})
    out = frame.select(tables.columns(table)).with_columns(
        fixed_decimals(c, d) for c, d in dec.items() if c in frame.columns
    )
    return out.write_csv(
        datetime_format=ISO_TIME, date_format="%Y-%m-%d", line_terminator="\n", null_value=""
    )


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def csv_text(header: list[str], rows: list[list[object]], delimiter: str, newline: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def clinic_patients(cohort: SampleCohort, clinic: str) -> list[str]:
    pts = cohort.tables["patients"].filter(pl.col("clinic") == clinic).get_column("patient_id")
    mrns = sorted(cohort.mrns[p] for p in pts.to_list())[:EXPORT_PATIENTS]
    back = {m: p for p, m in cohort.mrns.items()}
    return [back[m] for m in mrns]
