"""The ``fhir`` preset: FHIR R4 JSON Bundles (any type) and bulk-export ``.ndjson`` files.

Resources are flattened (``resources``) into the layouts the importer already reads - the
long observation layout, the medication list and the canonical tables - and extracted by the
same extractors, so validation, de-identification, de-duplication, quarantine, accounting,
atomic writes and limits are those of the CSV presets. One resource is one row of the file:

    resources read = accepted + quarantined + skipped

Hooks into the pipeline: ``sources`` (folders of .json / .ndjson), ``read`` (a FHIR file to
a ``FhirTable``, anything else to ``read.read``), ``FIT`` (the file's preset) and ``extract``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from kapoutcomes.ingest import deid, presets
from kapoutcomes.ingest import extract as ext_mod
from kapoutcomes.ingest import normalise as nm
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.extract import PROBLEM_SCHEMA, RK, SKIP_SCHEMA, Extract, Options
from kapoutcomes.ingest.fhir.collect import LAYOUTS, RAW_COLUMNS, Collector
from kapoutcomes.ingest.fhir.reader import StreamedSource, entries, is_fhir, sources
from kapoutcomes.ingest.fhir.resources import RESOURCE_TYPES, flatten
from kapoutcomes.ingest.frames import RK_BASE

FIT = presets.Fit("fhir", "resources", score=1.0)
#: Settings attribute read for questionnaire proration (most items that may be missing);
#: absent = 0, no proration (clinical reference: totals only with every item answered).
PRORATE_SETTING = "questionnaire_prorate_missing_items"

ROWS_NOTE = "FHIR rows: in a Bundle the entry's position (first entry = row 1), in .ndjson the line"

__all__ = [
    "FIT",
    "RESOURCE_TYPES",
    "FhirTable",
    "StreamedSource",
    "extract",
    "is_fhir",
    "keep_quarantined_facts",
    "quarantine_rows",
    "read",
    "sources",
]


@dataclass
class FhirTable(rd.RawTable):
    """The rows of a FHIR file (one per resource, no identifier columns) and what they hold in
    the importer's layouts."""

    facts: dict[str, pl.DataFrame] = field(default_factory=dict)
    own_skips: pl.DataFrame | None = None
    own_problems: pl.DataFrame | None = None
    #: the words of the file's Patients' names (in memory only, never stored): a bulk export
    #: keeps its Patients in one file and the notes that name them in others
    name_words: frozenset[str] = frozenset()


def read(
    src: rd.Source,
    sheet: str | None = None,
    on_progress: rd.Progress = None,
    offset: int = 0,
    total: int = 0,
    limits: rd.ImportLimits = rd.DEFAULT_LIMITS,
    settings: Any = None,
) -> rd.RawTable:
    """A FHIR file into a ``FhirTable``; any other file through ``read.read``."""
    if not is_fhir(src):
        if isinstance(src, StreamedSource):  # named .ndjson, but not JSON: read as a table
            src = rd.Source(src.name, Path(src.path or "").read_bytes(), src.path)
        return rd.read(src, sheet, on_progress, offset, total, limits)
    if len(src.data) > limits.max_bytes:
        raise rd._too_big(src.name, len(src.data), limits)
    col = Collector(int(getattr(settings, PRORATE_SETTING, 0) or 0))
    for e in entries(src, limits):
        if e.resource is not None:
            flatten(e.row, e.resource, col)
            continue
        col.raw(e.row, "(not a resource)")
        if e.skip is not None:
            col.skip(e.row, e.skip)
        else:
            col.problem(e.row, "(line)", None, e.problem or "not a FHIR resource")
    frame, facts, skips, problems = col.frames()
    src.name = _without_names(src.name, col.name_words)
    if col.name_words:
        frame, facts = _scrub_names(frame, facts, col.name_words)
    if frame.height == 0:
        raise IngestError(src.name, "the file holds no FHIR resources", "export it again")
    if on_progress:
        on_progress(
            offset + (src.size if isinstance(src, StreamedSource) else len(src.data)), total
        )
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(col.types.items()))
    return FhirTable(
        src,
        frame,
        list(RAW_COLUMNS),
        "utf-8",
        notes=[f"FHIR resources read: {kinds}", ROWS_NOTE],
        facts=facts,
        own_skips=skips,
        own_problems=problems,
        name_words=frozenset(col.name_words),
    )


def share_patient_names(tables: list[rd.RawTable]) -> None:
    """Scrub every FHIR file of one import of the names of all the import's Patients (in
    place). A bulk export keeps the Patients in Patient.ndjson and the notes that may name
    them ("Zebediah upset") in AdverseEvent.ndjson or Observation.ndjson: each file alone has
    no name words to scrub with."""
    fhir_tables = [t for t in tables if isinstance(t, FhirTable)]
    words = set().union(*(t.name_words for t in fhir_tables))
    for t in fhir_tables:
        if not words or words <= t.name_words:
            continue
        t.frame, t.facts = _scrub_names(t.frame, t.facts, words)
        t.source.name = _without_names(t.source.name, words)
        t.name_words = frozenset(words)


def _without_names(name: str, words: set[str]) -> str:
    """The file name without the words of its patients' names ("brenda_jackson.json")."""
    for w in sorted(words, key=len, reverse=True):
        name = re.sub(rf"(?i)(?<![^\W\d_]){re.escape(w)}(?![^\W\d_])", "[name]", name)
    return name


#: Free-text cells a resource may carry (a note, an answer, an event's text), per layout.
_TEXT = {
    "raw": ("display", "value"),
    "long": ("name", "value"),
    "medications": ("description",),
    "adverse_events": ("event_text",),
}


def _scrub_names(
    frame: pl.DataFrame, facts: dict[str, pl.DataFrame], words: set[str]
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Free text without the names of the file's own Patients (a note "Brenda reports 7"),
    as the CSV presets scrub a row's text of that row's name columns."""
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    pattern = rf"(?i)\b(?:{alts})\b"

    def scrub(f: pl.DataFrame, cols: tuple[str, ...]) -> pl.DataFrame:
        return f.with_columns(pl.col(c).str.replace_all(pattern, "[removed]") for c in cols)

    facts = {k: scrub(f, _TEXT[k]) if k in _TEXT else f for k, f in facts.items()}
    return scrub(frame, _TEXT["raw"]), facts


#: Role -> column of each layout, for the existing extractors.
_LONG_ROLES = {r: r for r in ("patient", "date", "code", "name", "value", "units")}
_MED_ROLES = {
    r: r for r in ("patient", "start", "stop", "description", "code", "frequency", "daily_dose")
}
#: Layout column -> the FHIR element a person looks for, in quarantine reasons.
_ELEMENTS = {
    "long": {"patient": "subject", "date": "effective[x]", "value": "value[x]", "item": "code"},
    "medications": {
        "patient": "subject",
        "start": "authoredOn",
        "frequency": "dosageInstruction",
        "description": "medication[x]",
        "daily_dose": "dosageInstruction.doseAndRate",
    },
}
_REASONS = {
    "no dosing frequency, so no daily dose: add a frequency column (e.g. 4, QID or q6h) "
    "or a daily_dose column": "no dosage timing, so no daily dose or MME: export the "
    "MedicationRequest with dosageInstruction (timing.repeat frequency and period, "
    "doseAndRate) or a sig in dosageInstruction.text",
    "expected a frequency such as 4, 4/day, QID, q6h or every 6 hours": "the dosage "
    "instruction has no timing and its text is not a sig the importer reads (such as "
    "'1 tab PO q6h'): export it with dosageInstruction.timing",
}


def extract(raw: rd.RawTable, opts: Options, rk_base: int) -> Extract:
    """The candidates of a FHIR file, made by the CSV presets' own extractors."""
    assert isinstance(raw, FhirTable)
    ex = Extract("resources")
    for layout, frame in raw.facts.items():
        part = _extract_layout(raw, layout, frame, opts, rk_base)
        _merge(ex, part, _ELEMENTS.get(layout, {}))
    if raw.own_skips is not None and raw.own_skips.height:
        ex.skipped.append(
            raw.own_skips.select((pl.col(rd.LINE) + rk_base).alias(RK), "reason").cast(SKIP_SCHEMA)
        )
    if raw.own_problems is not None and raw.own_problems.height:
        ex.problems.append(
            raw.own_problems.select(
                (pl.col(rd.LINE) + rk_base).alias(RK), "column", "value", "reason"
            ).cast(PROBLEM_SCHEMA)
        )
    pid = raw.frame.get_column("patient")
    ex.patient_ids = nm.per_distinct(pid, lambda d: deid.pseudonymise(d, opts.secret))
    ex.mrn_col, ex.dob_col = "patient", "birth_date"
    # the facts stay until the import is written: a quarantined resource is kept as its
    # layout rows (``quarantine_rows``), so that its download imports again as that layout
    return ex


def keep_quarantined_facts(raw: rd.RawTable, quarantined: pl.Series, rk_base: int) -> None:
    """Once the import is resolved, keep only the facts of the quarantined resources (row
    keys ``quarantined``, of the file at ``rk_base``): all ``quarantine_rows`` needs."""
    if not isinstance(raw, FhirTable) or not raw.facts:
        return
    mine = quarantined.filter(quarantined.is_between(rk_base, rk_base + RK_BASE - 1))
    lines = mine - rk_base
    raw.facts = {k: f.filter(pl.col(rd.LINE).is_in(lines.implode())) for k, f in raw.facts.items()}
    raw.facts = {k: f for k, f in raw.facts.items() if f.height}


#: The patient column of each layout (a FHIR logical id, pseudonymised in the quarantine).
_PATIENT_COLUMN = {layout: "patient" if "patient" in cols else "patient_id"
                   for layout, cols in LAYOUTS.items()}  # fmt: skip


#: Resource logical ids in the layouts (a session's, an event's, and the session a score or an
#: event belongs to): stored as they are (docs/importing.md, FHIR), so kept as they are in a
#: quarantined row too - an id scrubbed as an identifier pattern would lose the row its session.
_LINKS = ("session_id", "event_id")


def quarantine_rows(
    raw: rd.RawTable, lines: pl.Series, pseudonyms: pl.Series, words: frozenset[str]
) -> dict[int, str]:
    """Quarantined resources (``lines``, each with its patient's pseudonym) as the rows of
    the layout they were read into (``LAYOUTS``: the columns that layout's reader reads), as
    JSON: an object for one row, a list for several (a blood-pressure panel's components,
    a questionnaire's answers). Imported again, the download is read by that layout's CSV
    preset (long, medications, canonical), with whatever a person corrected. A resource that
    became no row (not JSON, not FHIR R4's shape) is left out: the caller keeps its summary.
    De-identified as every quarantined row: the pseudonym for the patient, the birth year for
    the birth date, identifier patterns and the file's identifier words scrubbed."""
    if not isinstance(raw, FhirTable) or not raw.facts:
        return {}
    wanted = pl.DataFrame({rd.LINE: lines, "_pid": pseudonyms}).unique(rd.LINE)
    rows: dict[int, list[str]] = {}
    for layout, facts in raw.facts.items():
        hit = facts.join(wanted, on=rd.LINE, how="inner", maintain_order="left")
        if hit.height == 0:
            continue
        cols = list(LAYOUTS[layout])
        links = tuple(c for c in _LINKS if c in cols)
        ids = deid.FileIdentifiers(_PATIENT_COLUMN[layout], "birth_date", [], words, links)
        js = deid.raw_rows_json(hit, cols, hit.get_column("_pid"), ids)
        for line, j in zip(hit.get_column(rd.LINE).to_list(), js, strict=True):
            rows.setdefault(line, []).append(j)
    return {line: js[0] if len(js) == 1 else f"[{', '.join(js)}]" for line, js in rows.items()}


def _extract_layout(
    raw: FhirTable, layout: str, frame: pl.DataFrame, opts: Options, rk_base: int
) -> Extract:
    cols = LAYOUTS[layout]
    if layout == "patients":
        frame = frame.with_columns(
            clinic=pl.col("clinic").fill_null(pl.lit(opts.clinic, dtype=pl.String)),
            primary_condition=pl.col("primary_condition").fill_null(pl.lit(opts.condition)),
        )
    sub = rd.RawTable(
        raw.source,
        frame.with_columns(pl.lit(None, dtype=pl.String).alias(rd.SHAPE)),
        list(cols),
        "utf-8",
    )
    if layout == "long":
        return ext_mod.extract_long(sub, _LONG_ROLES, opts, rk_base)
    if layout == "medications":
        return ext_mod.extract_medications(sub, _MED_ROLES, opts, rk_base)
    part = ext_mod.extract_canonical(sub, layout, {c: c for c in cols}, opts, rk_base)
    if layout == "patients":
        no_clinic = frame.get_column("clinic").is_null()
        if no_clinic.any():
            part.problems.append(
                frame.filter(no_clinic).select(
                    (pl.col(rd.LINE) + rk_base).alias(RK),
                    column=pl.lit("managingOrganization"),
                    value=pl.lit(None, dtype=pl.String),
                    reason=pl.lit(
                        "the Patient names no clinic (managingOrganization) and none was "
                        "given: import with --clinic NAME"
                    ),
                )
            )
    return part


def _merge(ex: Extract, part: Extract, elements: dict[str, str]) -> None:
    for table, frame in part.outputs.items():
        old = ex.outputs.get(table)
        ex.outputs[table] = frame if old is None else pl.concat([old, frame], how="diagonal")
    for p in part.problems:
        ex.problems.append(
            p.with_columns(
                pl.col("column").replace(elements),
                pl.col("reason").replace(_REASONS),
            )
        )
    ex.skipped.extend(part.skipped)
    for attr in ("vitals", "activity", "patient_rows"):
        new = getattr(part, attr)
        if new is not None and new.height:
            old = getattr(ex, attr)
            setattr(ex, attr, new if old is None else pl.concat([old, new], how="diagonal"))
    ex.notes.extend(part.notes)
