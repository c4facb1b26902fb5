"""The import: read -> detect -> extract -> validate -> relate -> de-duplicate -> write.

``import_files`` is the one entry point (the CLI and the dashboard call it). All files of one
call are written in a single transaction with one ledger entry per file; nothing is written
when any file raises ``IngestError`` or the process dies part-way.

Every input row ends in exactly one of: accepted (at least one new fact written), quarantined
(stored in ``quarantine`` with its reasons and the de-identified row), or skipped (with a
stated reason: an untracked code, a duplicate of what the store holds, a conflict kept for
review, ...).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions.settings import DEFAULT, Settings
from kapoutcomes.ingest import deid, extract, fhir, presets
from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.ingest import normalise as nm
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.accounting import file_reports
from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.extract import RK, Extract, Options
from kapoutcomes.ingest.frames import QUARANTINE_META, RK_BASE, ImportFile, Progress, Resolved
from kapoutcomes.ingest.report import ImportReport
from kapoutcomes.ingest.resolve import resolve
from kapoutcomes.ingest.storing import write
from kapoutcomes.storage import keys
from kapoutcomes.storage import store as store_mod


def find_patient_id(mrn: str, secret: bytes | None = None) -> str:
    """The pseudonymous patient id a clinician can search for, from the original MRN."""
    return deid.find_patient_id(mrn, secret)


@dataclass(frozen=True)
class ImportRequest:
    """What one import is asked to do: the files, where they go, how to read them.

    ``paths``: file paths, folders, or ``(name, bytes)`` pairs (uploads). ``store``: a
    ``Store`` (left open) or a path (opened and closed by the import). ``preset``: one of
    ``presets.PRESETS`` or None to detect. ``mapping``: the wide layout's mapping, if any.
    ``clinic`` / ``condition``: for patient rows the export does not describe. ``day_first``:
    read 03/04/2024 as 3 April (None: the mapping's, else the settings'). ``on_progress(done,
    total)``: called while reading (bytes) and at the end. ``limits``: upload limits.
    ``audit_as``: (user, role) recorded in the audit trail in the import's own transaction.
    """

    paths: tuple[Any, ...]
    store: store_mod.Store | str | os.PathLike[str]
    preset: str | None = None
    mapping: mapping_mod.Mapping | None = None
    settings: Settings = DEFAULT
    dry_run: bool = False
    on_progress: Progress = None
    sheet: str | None = None
    clinic: str | None = None
    condition: str = "other"
    day_first: bool | None = None
    secret: bytes | None = None
    limits: rd.ImportLimits = rd.DEFAULT_LIMITS
    audit_as: tuple[str, str] | None = None
    date_order: str | None = None


def import_files(
    paths: str | os.PathLike[str] | tuple[str, bytes] | Iterable[Any],
    store: store_mod.Store | str | os.PathLike[str],
    preset: str | None = None,
    mapping: str | os.PathLike[str] | tuple[str, bytes] | mapping_mod.Mapping | None = None,
    settings: Settings = DEFAULT,
    dry_run: bool = False,
    on_progress: Progress = None,
    *,
    sheet: str | None = None,
    clinic: str | None = None,
    condition: str = "other",
    day_first: bool | None = None,
    secret: bytes | None = None,
    limits: rd.ImportLimits = rd.DEFAULT_LIMITS,
    audit_as: tuple[str, str] | None = None,
    date_order: str | None = None,
) -> ImportReport:
    """Import clinic exports into ``store``; see docs/importing.md and ``ImportRequest``.

    ``mapping`` may also be a TOML mapping file: a path or ``(name, bytes)``. A file over a
    limit raises ``IngestError``, as does a file that cannot be imported at all (nothing is
    written then).
    """
    t0 = time.perf_counter()
    if isinstance(paths, str | os.PathLike | tuple):
        paths = [paths]
    _check_preset(preset)
    mp = mapping if isinstance(mapping, mapping_mod.Mapping) or mapping is None else None
    if mapping is not None and mp is None:
        mp = mapping_mod.load(mapping)
    request = ImportRequest(
        paths=tuple(paths),
        store=store,
        preset=preset,
        mapping=mp,
        settings=settings,
        dry_run=dry_run,
        on_progress=on_progress,
        sheet=sheet,
        clinic=clinic,
        condition=condition,
        day_first=day_first,
        secret=secret,
        limits=limits,
        audit_as=audit_as,
        date_order=date_order,
    )
    return run_import(request, t0)


def run_import(request: ImportRequest, started: float | None = None) -> ImportReport:
    """Carry out ``request``; ``started`` (a ``time.perf_counter()``) times the report."""
    t0 = time.perf_counter() if started is None else started
    _check_preset(request.preset)
    if request.preset == "wide" and request.mapping is None:
        raise IngestError(
            "wide",
            "the wide preset needs a mapping file",
            "pass --mapping FILE (see docs/importing.md)",
        )
    own_store = not isinstance(request.store, store_mod.Store)
    st = store_mod.Store(request.store) if own_store else request.store
    try:
        return _run(request, st, t0)
    finally:
        if own_store:
            st.close()


def _check_preset(preset: str | None) -> None:
    if preset is not None and preset not in presets.PRESETS:
        raise IngestError(
            str(preset),
            f"unknown preset {preset!r}",
            f"choose one of: {', '.join(presets.PRESETS)} (or leave it out to detect)",
        )


# -- the run --------------------------------------------------------------------------------
def _run(req: ImportRequest, st: store_mod.Store, t0: float) -> ImportReport:
    srcs = fhir.sources(req.paths, req.limits)  # read.sources, and FHIR .json / .ndjson files
    total = sum(len(s.data) for s in srcs)
    opts = _options(req, st)
    files = _read_files(srcs, st, req, total)
    fhir.share_patient_names([f.raw for f in files if f.raw is not None])
    _check_clinic(files, opts, st)
    for f in files:
        f.safe_name = deid.scrub_file_name(f.src.name)
        if f.already:
            f.safe_name = _name_of_known_content(f, files, st) or f.safe_name
        if f.raw is None or f.fit is None:
            continue
        f.ex = _extract(f, opts, req.mapping)
        _identify(f)
    live = [f for f in files if f.ex is not None]
    result = resolve(live, st, opts)
    quarantined = result.problems.get_column(RK).drop_nulls().unique()
    for f in live:
        f.ex.release_candidates()
        fhir.keep_quarantined_facts(f.raw, quarantined, f.index * RK_BASE)
    reports = file_reports(files, result)
    warnings = _warnings(result, st)
    report = ImportReport(tuple(reports), req.dry_run, st.path, time.perf_counter() - t0)
    if not req.dry_run and live:
        write(st, live, result, report, audit_as=req.audit_as)
    if req.on_progress:
        req.on_progress(total, total)
    return ImportReport(
        tuple(reports), req.dry_run, st.path, time.perf_counter() - t0, warnings=warnings
    )


def _warnings(result: Resolved, st: store_mod.Store) -> tuple[str, ...]:
    """What the outcome pages will lack or miscount after this import: scores of patients
    with no infusion session (none in the store, none in this import), and scores already in
    the store that no session claimed, on the days of this import's infusions."""
    return tuple(w for w in (_no_sessions(result, st), _unlinked_scores(result, st)) if w)


def _no_sessions(result: Resolved, st: store_mod.Store) -> str | None:
    scores = result.frames.get("assessments")
    if scores is None or scores.height == 0:
        return None
    pids = scores.get_column("patient_id").unique().to_list()
    sessions = result.frames.get("sessions")
    with_sessions = set() if sessions is None else set(sessions.get_column("patient_id"))
    stored = st.rows_where_in("sessions", ["patient_id"], "patient_id", pids)
    with_sessions |= set(stored.get_column("patient_id").to_list())
    without = [p for p in pids if p not in with_sessions]
    if not without:
        return None
    return (
        f"{len(without):,} patient(s) have scores but no infusion sessions (this import has "
        "no visit or session rows for them, nor does the store): the outcome pages will lack "
        "their sessions, doses, induction, response and durability (figures counted from "
        "infusions); import the clinic's visit export too (a wide export with its mapping, "
        "or the canonical sessions file)"
    )


def _unlinked_scores(result: Resolved, st: store_mod.Store) -> str | None:
    """Scores are linked to the session of their day (before or after dosing) only when the
    session is in the store or in the same import: scores imported earlier, without a
    session, stay unlinked when their sessions come later, and a score taken after dosing
    (the acute drug effect) then counts as an outcome score. Said, with what to do."""
    sessions = result.frames.get("sessions")
    if sessions is None or sessions.height == 0:
        return None
    days = (
        sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
        .select("patient_id", _day=pl.col("started_at").dt.date())
        .unique()
    )
    if days.height == 0:
        return None
    pids = days.get_column("patient_id").unique().to_list()
    cols = ["patient_id", "assessed_at", "session_id", "timing"]
    stored = st.rows_where_in("assessments", cols, "patient_id", pids)
    loose = stored.filter(pl.col("session_id").is_null() & pl.col("timing").is_null())
    hit = loose.with_columns(_day=pl.col("assessed_at").dt.date()).join(
        days, on=["patient_id", "_day"], how="semi"
    )
    if hit.height == 0:
        return None
    return (
        f"{hit.height:,} score(s) already in the store, imported earlier without their "
        f"sessions, fall on the days of {hit.get_column('patient_id').n_unique():,} "
        "patient(s)' infusions in this import and stay unlinked: whether each was taken "
        "before or after dosing is unknown, so a score taken after dosing (the acute drug "
        "effect) counts in response and durability; undo the imports back to that earlier "
        "one, newest first (kapoutcomes import --history, then --undo IMPORT_ID), and import "
        "the sessions before the scores"
    )


def _name_of_known_content(
    f: ImportFile, files: list[ImportFile], st: store_mod.Store
) -> str | None:
    """The name an already-imported file is reported under. It is not read again, so its
    patients' names (the identifier words that scrub a file name) are unknown: it takes the
    scrubbed name its content was recorded with in the ledger, or that of the earlier file of
    this import with the same content (a raw name such as "Olivia Johnson visits.csv" must not
    reach the report because the content was seen before)."""
    sha = f.src.sha256
    for earlier in files[: f.index]:
        if not earlier.already and earlier.src.sha256 == sha:
            return earlier.safe_name
    known = st.ledger().filter(pl.col("content_sha256") == sha)
    return str(known.get_column("file_name")[-1]) if known.height else None


def _identify(f: ImportFile) -> None:
    """The file's identifier words and the scrubbed file name (``deid.scrub_file_name``)."""
    assert f.raw is not None and f.ex is not None
    ident = [h for h in f.identifiers if h in f.raw.frame.columns]
    f.words = deid.file_identifier_words(f.raw.frame, ident, f.ex.mrn_col)
    f.safe_name = deid.scrub_file_name(f.src.name, f.words)


def _options(req: ImportRequest, st: store_mod.Store) -> Options:
    """The extractors' options: the request's, else the mapping's, else the settings'."""
    mp = req.mapping
    date_order = _date_order(req)
    clinic = req.clinic or (mp.clinic if mp is not None else None)
    condition = req.condition
    if mp is not None and mp.default_condition:
        condition = condition if condition != "other" else mp.default_condition
    if condition not in tables.CONDITIONS:
        raise IngestError(
            "condition",
            f"unknown condition {condition!r}",
            f"choose one of {', '.join(tables.CONDITIONS)}",
        )
    # refuses a store whose key is lost
    secret = req.secret if req.secret is not None else keys.for_store(st).pseudonym
    pivot = req.settings.two_digit_year_pivot
    return Options(
        req.settings,
        secret,
        clinic,
        condition,
        date_order,
        century_pivot=None if pivot < 0 else pivot,
    )


def _date_order(req: ImportRequest) -> str | None:
    """The configured day/month order: the request's (``date_order``, else ``day_first``),
    else the mapping's, else the settings'; None when none is set (each column then decides
    from its own values, see ``normalise.decide_date_order``)."""
    order = req.date_order
    if order is None and req.day_first is not None:
        order = nm.DAY_FIRST if req.day_first else nm.MONTH_FIRST
    if order is None and req.mapping is not None:
        order = req.mapping.date_order
    if order is None:
        order = req.settings.date_order or None
    if order is not None and order not in nm.DATE_ORDERS:
        raise IngestError(
            "date order",
            f"unknown date order {order!r}",
            f"choose one of {', '.join(nm.DATE_ORDERS)}",
        )
    return order


def _check_clinic(files: list[ImportFile], opts: Options, st: store_mod.Store) -> None:
    """Refuse, before anything is extracted or written, an import that cannot give its
    patients a clinic: a patients file without a clinic column, or (into a store without
    patients) files that describe no patient at all, when no clinic is given."""
    if opts.clinic:
        return
    # FHIR files say who their patients are by their content (Patient resources), not a header
    read = [
        f
        for f in files
        if f.fit is not None and f.fit.kind not in presets.SYNTHEA_UNUSED and f.fit.preset != "fhir"
    ]
    patients = [f for f in read if f.fit.kind == "patients" or "clinic" in f.fit.roles]
    for f in patients:
        if "clinic" not in f.fit.roles:
            raise IngestError(
                f.src.name,
                "this patients file has no clinic column and no clinic was given, so no "
                "patient could be stored; nothing was imported",
                "import again with --clinic NAME (the clinic's name on the Data page's "
                "upload; clinic= in Python)",
            )
    if read and not patients and not st.has_rows("patients"):
        raise IngestError(
            read[0].src.name,
            "the store holds no patients and this import has no patients file, no clinic "
            "column and no clinic given, so every row would be quarantined; nothing was "
            "imported",
            "import the patients file with it, or import again with --clinic NAME",
        )


def _read_files(
    srcs: list[rd.Source], st: store_mod.Store, req: ImportRequest, total: int
) -> list[ImportFile]:
    """Read and detect every source not already imported (same content in the ledger or
    earlier in this call)."""
    files: list[ImportFile] = []
    seen: set[str] = set()
    done = 0
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    sizes: set[int] = set()
    empty_ledger = _ledger_empty(st)
    for i, src in enumerate(srcs):
        f = ImportFile(i, src, import_id=f"imp_{stamp}_{uuid.uuid4().hex[:8]}")
        files.append(f)
        # A file that cannot be in the ledger (the ledger is empty and no earlier file of
        # this call has its size) is hashed while it is read: hashlib releases the GIL over a
        # large buffer, so the SHA-256 costs no wall time beside polars' parse.
        if empty_ledger and len(src.data) not in sizes and len(src.data) >= _HASH_BESIDE:
            sizes.add(len(src.data))
            f.raw, sha = _read_hashing(src, req, done, total)
            seen.add(sha)
        else:
            sizes.add(len(src.data))
            sha = src.sha256
            if sha in seen or st.has_import(sha):
                f.already = True
                done += len(src.data)
                continue
            seen.add(sha)
            f.raw = _read(src, req, done, total)
        done += len(src.data)
        src.release()
        if req.on_progress:
            req.on_progress(done, total)
        _detect(f, req.preset, req.mapping)
        if f.fit is not None:
            # an over-long cell is never kept; its row is quarantined when the column is read
            used = frozenset(f.fit.roles.values())
            f.raw = rd.guard_cells(f.raw, req.limits, used, frozenset(f.identifiers) - used)
    return files


def _read(src: rd.Source, req: ImportRequest, done: int, total: int) -> rd.RawTable:
    return fhir.read(  # read.read for anything but FHIR JSON
        src,
        sheet=req.sheet,
        on_progress=req.on_progress,
        offset=done,
        total=total,
        limits=req.limits,
        settings=req.settings,
    )


def _read_hashing(
    src: rd.Source, req: ImportRequest, done: int, total: int
) -> tuple[rd.RawTable, str]:
    """Read ``src`` while its SHA-256 is computed in a thread; the table and the hash."""
    with ThreadPoolExecutor(1) as pool:
        hashed = pool.submit(lambda s=src: s.sha256)
        try:
            raw = _read(src, req, done, total)
        finally:
            sha = hashed.result()
    return raw, sha


#: Files from this size (bytes) up are hashed in a thread while they are read.
_HASH_BESIDE = 1 << 20


def _ledger_empty(st: store_mod.Store) -> bool:
    return not st.has_rows("import_ledger")


def _detect(f: ImportFile, preset: str | None, mp: mapping_mod.Mapping | None) -> None:
    raw = f.raw
    assert raw is not None
    if isinstance(raw, fhir.FhirTable):  # FHIR JSON: the file's content says what it is
        f.fit = fhir.FIT
        return
    headers = [h for h in raw.headers if h not in QUARANTINE_META]
    f.identifiers = tuple(deid.identifier_columns(headers))
    unused = presets.synthea_unused(headers) if preset in (None, "synthea") else None
    if unused is not None:  # a Synthea file kapoutcomes does not import: skipped, not read
        f.fit = presets.Fit("synthea", unused, score=1.0)
        return
    if mp is not None and preset in (None, "wide"):
        try:
            f.fit = mp.fit(raw.name, headers)
        except IngestError:
            # a folder may hold other layouts beside the mapped export: use a preset that
            # fits completely, else report what the mapping misses
            other, _ = presets.best(headers, None)
            if preset == "wide" or other is None:
                raise
            f.fit = other
            f.ignored = tuple(c for c in other.unrecognised if c not in QUARANTINE_META)
            return
        f.ignored = tuple(
            h for h in headers if h not in set(f.fit.roles.values()) and h not in f.identifiers
        )
        return
    quarantined = "quarantine_file" in raw.headers
    fit, closest = presets.best(headers, preset, quarantined)
    if fit is None:
        if closest is None:
            raise IngestError(raw.name, "no preset fits this file", "choose --preset or --mapping")
        what = f"{closest.preset}" + (f" ({closest.kind})" if closest.kind else "")
        parts = [f"closest preset is {what}, missing: {', '.join(closest.missing)}"]
        if closest.unrecognised:
            parts.append(f"unrecognised columns: {deid.header_list(closest.unrecognised)}")
        raise IngestError(
            raw.name,
            "no preset fits this file; " + "; ".join(parts),
            "rename the columns, or describe a per-visit export in a mapping file "
            "(--mapping FILE, see docs/importing.md)",
        )
    f.fit = fit
    f.ignored = tuple(c for c in fit.unrecognised if c not in QUARANTINE_META)


def _extract(f: ImportFile, opts: Options, mp: mapping_mod.Mapping | None) -> Extract:
    fit, raw = f.fit, f.raw
    assert fit is not None and raw is not None
    base = f.index * RK_BASE
    if fit.preset == "fhir":
        return fhir.extract(raw, opts, base)
    if fit.preset == "wide":
        assert mp is not None
        return mp.extract(raw, opts, base, f.identifiers)
    if fit.kind in presets.SYNTHEA_UNUSED:
        return extract.extract_unused(raw, fit.kind, base)
    if fit.preset == "canonical":
        return extract.extract_canonical(raw, fit.kind, fit.roles, opts, base)
    if fit.kind == "patients":
        return extract.extract_synthea_patients(raw, fit.roles, opts, base)
    if fit.kind == "medications":
        o = Options(**{**opts.__dict__, "assume_frequency": fit.preset == "synthea"})
        return extract.extract_medications(raw, fit.roles, o, base)
    return extract.extract_long(raw, fit.roles, opts, base)
