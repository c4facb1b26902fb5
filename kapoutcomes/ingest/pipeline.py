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
from typing import Any

from kapoutcomes import tables
from kapoutcomes.definitions.settings import DEFAULT, Settings
from kapoutcomes.ingest import deid, extract, presets
from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.accounting import file_reports
from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.extract import Extract, Options
from kapoutcomes.ingest.frames import QUARANTINE_META, RK_BASE, ImportFile, Progress
from kapoutcomes.ingest.report import ImportReport
from kapoutcomes.ingest.resolve import resolve
from kapoutcomes.ingest.storing import write
from kapoutcomes.storage import keys
from kapoutcomes.storage import store as store_mod


def find_patient_id(mrn: str, secret: bytes | None = None) -> str:
    """The pseudonymous patient id a clinician can search for, from the original MRN."""
    return deid.find_patient_id(mrn, secret)


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
) -> ImportReport:
    """Import clinic exports into ``store``; see docs/importing.md.

    ``paths``: file paths, folders, or ``(name, bytes)`` pairs (uploads). ``preset``: one of
    ``presets.PRESETS`` or None to detect. ``mapping``: a TOML mapping file (wide layout): path, ``(name, bytes)`` or ``Mapping``.
    ``clinic`` / ``condition``: used for patient rows the export does not describe.
    ``day_first``: read 03/04/2024 as 3 April (default: the mapping's or the settings').
    ``on_progress(done, total)``: called while reading (bytes) and at the end.
    ``limits``: upload limits (``ImportLimits``: bytes, rows, columns, cell length); a file
    over one raises ``IngestError``.
    ``audit_as``: (user, role) to record the import in the audit trail, in the import's own
    transaction.
    Raises ``IngestError`` for a file that cannot be imported at all (nothing is written).
    """
    t0 = time.perf_counter()
    if isinstance(paths, str | os.PathLike | tuple):
        paths = [paths]
    if preset is not None and preset not in presets.PRESETS:
        raise IngestError(
            str(preset),
            f"unknown preset {preset!r}",
            f"choose one of: {', '.join(presets.PRESETS)} (or leave it out to detect)",
        )
    mp = mapping if isinstance(mapping, mapping_mod.Mapping) or mapping is None else None
    if mapping is not None and mp is None:
        mp = mapping_mod.load(mapping)
    if preset == "wide" and mp is None:
        raise IngestError(
            "wide",
            "the wide preset needs a mapping file",
            "pass --mapping FILE (see docs/importing.md)",
        )
    own_store = not isinstance(store, store_mod.Store)
    st = store_mod.Store(store) if own_store else store
    try:
        return _run(
            paths,
            st,
            preset,
            mp,
            settings,
            dry_run,
            on_progress,
            sheet,
            clinic,
            condition,
            day_first,
            secret,
            t0,
            limits,
            audit_as,
        )
    finally:
        if own_store:
            st.close()


# -- the run --------------------------------------------------------------------------------
def _run(
    paths,
    st,
    preset,
    mp,
    settings,
    dry_run,
    on_progress,
    sheet,
    clinic,
    condition,
    day_first,
    secret,
    t0,
    limits=rd.DEFAULT_LIMITS,
    audit_as=None,
) -> ImportReport:
    srcs = rd.sources(paths, limits)
    total = sum(len(s.data) for s in srcs)
    if day_first is None:
        day_first = (
            mp.day_first if (mp is not None and mp.day_first is not None) else settings.day_first
        )
    clinic = clinic or (mp.clinic if mp is not None else None)
    if mp is not None and mp.default_condition:
        condition = condition if condition != "other" else mp.default_condition
    if condition not in tables.CONDITIONS:
        raise IngestError(
            "condition",
            f"unknown condition {condition!r}",
            f"choose one of {', '.join(tables.CONDITIONS)}",
        )
    if secret is None:
        secret = keys.for_store(st).pseudonym  # refuses a store whose key is lost
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
            with ThreadPoolExecutor(1) as pool:
                hashed = pool.submit(lambda s=src: s.sha256)
                try:
                    f.raw = rd.read(
                        src,
                        sheet=sheet,
                        on_progress=on_progress,
                        offset=done,
                        total=total,
                        limits=limits,
                    )
                finally:
                    sha = hashed.result()
            seen.add(sha)
        else:
            sizes.add(len(src.data))
            sha = src.sha256
            if sha in seen or st.has_import(sha):
                f.already = True
                done += len(src.data)
                continue
            seen.add(sha)
            f.raw = rd.read(
                src, sheet=sheet, on_progress=on_progress, offset=done, total=total, limits=limits
            )
        done += len(src.data)
        src.release()
        if on_progress:
            on_progress(done, total)
        _detect(f, preset, mp)
    opts = Options(settings, secret, clinic, condition, day_first)
    for f in files:
        if f.raw is None or f.fit is None:
            continue
        f.ex = _extract(f, opts, mp)
    live = [f for f in files if f.ex is not None]
    result = resolve(live, st, opts)
    for f in live:
        f.ex.release_candidates()
    reports = file_reports(files, result)
    report = ImportReport(tuple(reports), dry_run, st.path, time.perf_counter() - t0)
    if not dry_run and live:
        write(st, live, result, report, audit_as=audit_as)
    if on_progress:
        on_progress(total, total)
    return ImportReport(tuple(reports), dry_run, st.path, time.perf_counter() - t0)


#: Files from this size (bytes) up are hashed in a thread while they are read.
_HASH_BESIDE = 1 << 20


def _ledger_empty(st: store_mod.Store) -> bool:
    return not st.con.execute("SELECT count(*) FROM import_ledger").fetchall()[0][0]


def _detect(f: ImportFile, preset: str | None, mp: mapping_mod.Mapping | None) -> None:
    raw = f.raw
    assert raw is not None
    headers = [h for h in raw.headers if h not in QUARANTINE_META]
    f.identifiers = tuple(deid.identifier_columns(headers))
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
    fit, closest = presets.best(headers, preset)
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
    if fit.preset == "wide":
        assert mp is not None
        return mp.extract(raw, opts, base, f.identifiers)
    if fit.preset == "canonical":
        return extract.extract_canonical(raw, fit.kind, fit.roles, opts, base)
    if fit.kind == "patients":
        return extract.extract_synthea_patients(raw, fit.roles, opts, base)
    if fit.kind == "medications":
        o = Options(**{**opts.__dict__, "assume_frequency": fit.preset == "synthea"})
        return extract.extract_medications(raw, fit.roles, o, base)
    return extract.extract_long(raw, fit.roles, opts, base)
