"""Writing the demo cohort: canonical CSVs, messy EHR-style exports and a catalog.

Every file is deterministic for (seed, patients): rows are sorted, floats are written with a
fixed number of decimals, dates are ISO (or the export's own style) and nothing depends on the
machine or the clock. The messy exports are made from the same cohort as the canonical tables
(one clinic each, capped at ``EXPORT_PATIENTS`` patients) so an importer's output can be
compared with the truth; their deliberate mess is counted in ``CATALOG.md``.

Each file has its own module: ``sample_files`` (canonical CSV text, catalog entries),
``sample_identities`` (fake identities), ``sample_wide_export`` (Riverside's wide per-visit
sheet and medication list), ``sample_long_export`` (Lakeshore's LOINC observations),
``synthea_export`` (Summit's Synthea layout) and ``sample_catalog`` (CATALOG.md).
"""

from __future__ import annotations

from pathlib import Path

from kapoutcomes import tables
from kapoutcomes.demo import generator
from kapoutcomes.demo.catalog import TABLE_WHAT, catalog_markdown, table_counts
from kapoutcomes.demo.fhir_export import fhir_files
from kapoutcomes.demo.files import (
    CLINIC_TZ,
    DECIMALS,
    EXPORT_PATIENTS,
    ISO_TIME,
    Entry,
    canonical_csv,
    fixed_decimals,
    write_text,
)
from kapoutcomes.demo.identities import identities
from kapoutcomes.demo.long_export import LOINC, TOTAL_LOINC, long_export
from kapoutcomes.demo.sample import SampleCohort
from kapoutcomes.demo.synthea_export import synthea_files
from kapoutcomes.demo.wide_export import medication_list, wide_export

#: bench/data.py reads the canonical CSV format and the LOINC tables from this module.
_fixed = fixed_decimals


def write_all(out: Path, cohort: SampleCohort) -> list[Path]:
    """Write demo/<table>.csv, the exports and CATALOG.md under ``out``; return the paths."""
    written: list[Path] = []
    entries: list[Entry] = []
    for table in tables.MODELS:
        frame = cohort.tables[table]
        rel = f"demo/{table}.csv"
        written.append(write_text(out / rel, canonical_csv(table, frame)))
        entries.append(
            Entry(
                path=rel,
                what=f"Canonical `{table}` table: {TABLE_WHAT[table]}",
                rows=frame.height,
                encoding="UTF-8, LF line endings",
                delimiter=", (comma)",
                mess=[],
                counts=table_counts(table, frame),
            )
        )
    ids = identities(cohort)
    text, entry = wide_export(cohort, ids)
    written.append(write_text(out / entry.path, text, encoding="cp1252"))
    entries.append(entry)
    text, entry = long_export(cohort, ids)
    written.append(write_text(out / entry.path, text))
    entries.append(entry)
    for rel, text, entry in synthea_files(cohort, ids):
        written.append(write_text(out / rel, text))
        entries.append(entry)
    text, entry = medication_list(cohort, ids)
    written.append(write_text(out / entry.path, text))
    entries.append(entry)
    for rel, text, fields in fhir_files(cohort.tables, CLINIC_TZ, DECIMALS):
        written.append(write_text(out / rel, text))
        entries.append(Entry(**fields))
    written.append(write_text(out / "CATALOG.md", catalog_markdown(cohort, entries)))
    return written


def write_sample(out: Path, seed: int = 7, patients: int = 360) -> list[Path]:
    """Generate the demo cohort and write its tables, the messy exports and CATALOG.md under
    ``out``; return the paths."""
    return write_all(Path(out), generator.generate(seed=seed, patients=patients))


__all__ = [
    "CLINIC_TZ",
    "DECIMALS",
    "EXPORT_PATIENTS",
    "ISO_TIME",
    "LOINC",
    "TOTAL_LOINC",
    "Entry",
    "canonical_csv",
    "identities",
    "write_all",
    "write_sample",
]
