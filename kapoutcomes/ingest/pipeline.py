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

import dataclasses
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from kapoutcomes import privacy, tables
from kapoutcomes import store as store_mod
from kapoutcomes.ingest import deid, extract, presets
from kapoutcomes.ingest import mapping as mapping_mod
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.extract import PROBLEM_SCHEMA, RK, SKIP_SCHEMA, Extract, Options
from kapoutcomes.ingest.report import FileReport, ImportReport, ReasonCount
from kapoutcomes.settings import DEFAULT, Settings

RK_BASE = 1_000_000_000
_UNIQUENESS = ("field_uniqueness", "expected a unique value (duplicate)")
#: Columns a downloaded quarantine file adds; ignored when it is imported again.
QUARANTINE_META = ("quarantine_reason", "quarantine_file", "quarantine_row")
FLAGS = (
    "psychosis_history",
    "cardiovascular_disease",
    "raised_intracranial_pressure",
    "substance_use_disorder",
    "interacting_medication",
)
#: Columns compared to tell a duplicate from a conflict (the natural key is the same).
COMPARE: dict[str, tuple[str, ...]] = {
    "patients": ("clinic", "primary_condition", "sex", "birth_year"),
    "sessions": (
        "route",
        "dose_mg",
        "dose_mg_per_kg",
        "weight_kg",
        "infusion_minutes",
        "care_model",
        "bp_systolic_before",
        "bp_diastolic_before",
        "heart_rate_before",
        "spo2_before",
        "bp_systolic_after",
        "bp_diastolic_after",
        "heart_rate_after",
        "spo2_after",
    ),
    "assessments": ("score",),
    "opioids": ("strength", "unit", "frequency_per_day", "stop_date"),
    "adverse_events": ("severity", "grade", "serious", "resolved_at", "action_taken"),
}
VITAL_COLUMNS = {
    ("systolic", True): "bp_systolic_before",
    ("systolic", False): "bp_systolic_after",
    ("diastolic", True): "bp_diastolic_before",
    ("diastolic", False): "bp_diastolic_after",
    ("heart_rate", True): "heart_rate_before",
    ("heart_rate", False): "heart_rate_after",
    ("spo2", True): "spo2_before",
    ("spo2", False): "spo2_after",
    ("weight_kg", True): "weight_kg",
    ("weight_kg", False): "weight_kg",
}
#: A vital sign taken up to this many minutes after the session start counts as "before".
BEFORE_GRACE_MINUTES = 5

Progress = Callable[[int, int], None] | None


@dataclass
class _File:
    index: int
    src: rd.Source
    raw: rd.RawTable | None = None
    fit: presets.Fit | None = None
    ex: Extract | None = None
    identifiers: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    import_id: str = ""
    already: bool = False


# -- public API -----------------------------------------------------------------------------
def find_patient_id(mrn: str, secret: bytes | None = None) -> str:
    """The pseudonymous patient id a clinician can search for, from the original MRN."""
    return deid.find_patient_id(mrn, secret)


def import_files(
    paths: str | os.PathLike[str] | tuple[str, bytes] | Iterable[Any],
    store: store_mod.Store | str | os.PathLike[str],
    preset: str | None = None,
    mapping: str | os.PathLike[str] | mapping_mod.Mapping | None = None,
    settings: Settings = DEFAULT,
    dry_run: bool = False,
    on_progress: Progress = None,
    *,
    sheet: str | None = None,
    clinic: str | None = None,
    condition: str = "other",
    day_first: bool | None = None,
    secret: bytes | None = None,
) -> ImportReport:
    """Import clinic exports into ``store``; see docs/importing.md.

    ``paths``: file paths, folders, or ``(name, bytes)`` pairs (uploads). ``preset``: one of
    ``presets.PRESETS`` or None to detect. ``mapping``: a TOML mapping file (wide layout).
    ``clinic`` / ``condition``: used for patient rows the export does not describe.
    ``day_first``: read 03/04/2024 as 3 April (default: the mapping's or the settings').
    ``on_progress(done, total)``: called while reading (bytes) and at the end.
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
) -> ImportReport:
    srcs = rd.sources(paths)
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
        secret = privacy.load_or_create_secret()
    files: list[_File] = []
    seen: set[str] = set()
    done = 0
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S")
    for i, src in enumerate(srcs):
        f = _File(i, src, import_id=f"imp_{stamp}_{uuid.uuid4().hex[:8]}")
        files.append(f)
        sha = src.sha256
        if sha in seen or st.has_import(sha):
            f.already = True
            done += len(src.data)
            continue
        seen.add(sha)
        f.raw = rd.read(src, sheet=sheet, on_progress=on_progress, offset=done, total=total)
        done += len(src.data)
        if on_progress:
            on_progress(done, total)
        _detect(f, preset, mp)
    opts = Options(settings, secret, clinic, condition, day_first)
    for f in files:
        if f.raw is None or f.fit is None:
            continue
        f.ex = _extract(f, opts, mp)
    live = [f for f in files if f.ex is not None]
    result = _finish(live, st, opts)
    reports = _reports(files, result)
    report = ImportReport(tuple(reports), dry_run, st.path, time.perf_counter() - t0)
    if not dry_run and live:
        _write(st, live, result, report)
    if on_progress:
        on_progress(total, total)
    return ImportReport(tuple(reports), dry_run, st.path, time.perf_counter() - t0)


def _detect(f: _File, preset: str | None, mp: mapping_mod.Mapping | None) -> None:
    raw = f.raw
    assert raw is not None
    headers = [h for h in raw.headers if h not in QUARANTINE_META]
    f.identifiers = tuple(deid.identifier_columns(headers))
    if mp is not None and preset in (None, "wide"):
        f.fit = mp.fit(raw.name, headers)
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
            parts.append(f"unrecognised columns: {', '.join(closest.unrecognised[:12])}")
        raise IngestError(
            raw.name,
            "no preset fits this file; " + "; ".join(parts),
            "rename the columns, or describe a per-visit export in a mapping file "
            "(--mapping FILE, see docs/importing.md)",
        )
    f.fit = fit
    f.ignored = tuple(c for c in fit.unrecognised if c not in QUARANTINE_META)


def _extract(f: _File, opts: Options, mp: mapping_mod.Mapping | None) -> Extract:
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


# -- finishing: patients, validation, relations, duplicates, vitals --------------------------
@dataclass
class _Result:
    frames: dict[str, pl.DataFrame]  # new rows to write, with RK
    problems: pl.DataFrame
    skipped: pl.DataFrame
    status: pl.DataFrame  # RK, status: new | duplicate | conflict
    conflicts: pl.DataFrame  # RK, table_name, natural_key, stored_value, incoming_value
    vital_updates: pl.DataFrame  # session_id, column, value (stored sessions)
    notes: dict[int, list[str]]


def _concat(frames: Sequence[pl.DataFrame | None], schema: dict | None = None) -> pl.DataFrame:
    fs = [f for f in frames if f is not None and f.height]
    if not fs:
        return pl.DataFrame(schema=schema or {})
    return pl.concat(fs, how="diagonal_relaxed")


def _store_patients(st: store_mod.Store) -> set[str]:
    return set(st.query("SELECT patient_id FROM patients").get_column("patient_id").to_list())


def _finish(files: list[_File], st: store_mod.Store, opts: Options) -> _Result:
    exs = [f.ex for f in files if f.ex is not None]
    problems: list[pl.DataFrame] = [p for ex in exs for p in ex.problems]
    skipped: list[pl.DataFrame] = [s for ex in exs for s in ex.skipped]
    notes = {f.index: list(f.ex.notes) for f in files if f.ex is not None}
    known = _store_patients(st)
    acts = _concat([ex.activity for ex in exs], extract.ACTIVITY_SCHEMA)
    if acts.height == 0:
        acts = pl.DataFrame(schema=extract.ACTIVITY_SCHEMA)
    # first plausible activity (a visit typed as 1924 must not become the referral date)
    plausible = pl.col("at_date").is_between(tables.EARLIEST_DATE, dt.date.today())
    first_seen = (
        acts.filter(plausible).group_by("patient_id").agg(first_date=pl.col("at_date").min())
    )

    # explicit patient rows (a patients file); referral date from first activity if absent
    explicit = _concat([ex.patient_rows for ex in exs])
    patient_frames: list[pl.DataFrame] = []
    if explicit.height:
        explicit = explicit.join(first_seen, on="patient_id", how="left", maintain_order="left")
        explicit = explicit.with_columns(referral_date=pl.coalesce("referral_date", "first_date"))
        no_ref = explicit.filter(pl.col("referral_date").is_null() & pl.col(RK).is_not_null())
        if no_ref.height:
            skipped.append(
                no_ref.select(
                    RK,
                    reason=pl.lit(
                        "no referral date, and no sessions, assessments or prescriptions of "
                        "this patient in this import: nothing to anchor the patient row"
                    ),
                ).cast(SKIP_SCHEMA)
            )
        explicit = explicit.filter(pl.col("referral_date").is_not_null())
        patient_frames.append(explicit)
    explicit_ids = (
        set(explicit.get_column("patient_id").drop_nulls().to_list()) if explicit.height else set()
    )

    # derived patient rows for activity of patients nobody describes
    need = acts.filter(
        pl.col("patient_id").is_not_null() & ~pl.col("patient_id").is_in(list(known | explicit_ids))
    )
    derived_rks: dict[str, list[int]] = {}
    if need.height:
        for pid, rks in need.group_by("patient_id").agg(pl.col(RK)).iter_rows():
            derived_rks[pid] = rks
        agg = (
            need.filter(plausible)
            .sort(RK)
            .group_by("patient_id", maintain_order=True)
            .agg(
                referral_date=pl.col("at_date").min(),
                clinic=pl.col("clinic").drop_nulls().first(),
                primary_condition=pl.col("primary_condition").drop_nulls().first(),
                sex=pl.col("sex").drop_nulls().first(),
                birth_date=pl.col("birth_date").drop_nulls().first(),
                comorbid_depression=pl.col("comorbid_depression").drop_nulls().first(),
            )
            .with_columns(
                clinic=pl.coalesce("clinic", pl.lit(opts.clinic, dtype=pl.String)),
                primary_condition=pl.coalesce(
                    "primary_condition", pl.lit(opts.condition, dtype=pl.String)
                ),
                sex=pl.coalesce("sex", pl.lit("unknown")),
                comorbid_depression=pl.coalesce("comorbid_depression", pl.lit(False)),
                first_date=pl.col("referral_date"),
            )
        )
        no_clinic = agg.filter(pl.col("clinic").is_null())
        for pid in no_clinic.get_column("patient_id").to_list():
            problems.append(
                pl.DataFrame(
                    {
                        RK: derived_rks[pid],
                        "column": ["(patient)"] * len(derived_rks[pid]),
                        "value": [None] * len(derived_rks[pid]),
                        "reason": [
                            "the patient is not in the store and this export does not describe "
                            "the patient: import the patients file first, or import with "
                            "--clinic NAME to create patient rows"
                        ]
                        * len(derived_rks[pid]),
                    },
                    schema=PROBLEM_SCHEMA,
                )
            )
        owners = need.group_by("patient_id").agg(_owner=pl.col(RK).min())
        agg = (
            agg.filter(pl.col("clinic").is_not_null())
            .with_columns(pl.lit(None, dtype=pl.Int64).alias(RK))
            .join(owners, on="patient_id", how="left")
        )
        patient_frames.append(agg)
    patients = _concat(patient_frames)
    if patients.height:
        patients = _complete_patients(patients)

    cand: dict[str, pl.DataFrame] = {"patients": patients}
    for table in ("sessions", "assessments", "opioids", "adverse_events"):
        cand[table] = _concat([ex.outputs.get(table) for ex in exs])

    # validation (row level) --------------------------------------------------------------
    valid: dict[str, pl.DataFrame] = {}
    early = _concat(problems, PROBLEM_SCHEMA)
    early_bad = (
        early.get_column(RK).unique().implode()
        if early.height
        else pl.Series([], dtype=pl.Int64).implode()
    )
    for table, frame in cand.items():
        if frame.height:
            # rows that already failed to parse are not validated again (one reason each)
            frame = frame.filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(early_bad))
        if "_owner" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("_owner"))
        if frame.height == 0:
            valid[table] = tables.empty(table).with_columns(
                pl.lit(None, dtype=pl.Int64).alias(RK), pl.lit(None, dtype=pl.Int64).alias("_owner")
            )
            continue
        rk = frame.get_column(RK)
        v = tables.validate(table, frame.select(tables.columns(table)))
        # repeated ids (the same visit exported twice) are duplicates, settled by _dedupe
        v = dataclasses.replace(
            v, failures=v.failures.filter(~pl.col("reason").is_in(list(_UNIQUENESS)))
        )
        bad_pos = set(v.failures.get_column("row").to_list())
        keep = pl.Series([i not in bad_pos for i in range(frame.height)])
        coerced = frame.select(tables.columns(table)).cast(
            dict(tables.empty(table).schema), strict=False
        )
        valid[table] = coerced.filter(keep).with_columns(
            [frame.get_column(c).filter(keep) for c in frame.columns if c.startswith("_")]
        )
        if v.failures.height:
            fails = v.failures.with_columns(
                pl.col("row").map_elements(lambda i, rk=rk: rk[i], return_dtype=pl.Int64).alias(RK)
            )
            if table == "patients":
                # derived rows (no RK): the failure belongs to every row of that patient
                pid_of = frame.get_column("patient_id")
                for rec in fails.iter_rows(named=True):
                    if rec[RK] is not None:
                        continue
                    pid = pid_of[rec["row"]]
                    rks = derived_rks.get(pid, [])
                    problems.append(
                        pl.DataFrame(
                            {
                                RK: rks,
                                "column": [rec["column"]] * len(rks),
                                "value": [rec["value"]] * len(rks),
                                "reason": [f"patient row: {rec['reason']}"] * len(rks),
                            },
                            schema=PROBLEM_SCHEMA,
                        )
                    )
                fails = fails.filter(pl.col(RK).is_not_null())
            problems.append(fails.select(RK, "column", "value", "reason").cast(PROBLEM_SCHEMA))

    def bad_set() -> set[int]:
        allp = _concat(problems, PROBLEM_SCHEMA)
        return set(allp.get_column(RK).drop_nulls().to_list()) if allp.height else set()

    bad = bad_set()
    # an input row is all-or-nothing: drop every candidate of a row with any problem
    for table in valid:
        if valid[table].height:
            valid[table] = valid[table].filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(list(bad)))
    # relations: patients
    pids_ok = known | set(valid["patients"].get_column("patient_id").to_list())
    for table in ("sessions", "assessments", "opioids", "adverse_events"):
        fr = valid[table]
        if fr.height == 0:
            continue
        miss = fr.filter(~pl.col("patient_id").is_in(list(pids_ok)))
        if miss.height:
            problems.append(
                miss.select(
                    RK,
                    column=pl.lit("patient_id"),
                    value=pl.lit(None, dtype=pl.String),
                    reason=pl.lit(
                        "the patient has no valid patient row (see the patient's other rows)"
                    ),
                ).cast(PROBLEM_SCHEMA)
            )
    bad = bad_set()
    for table in valid:
        if valid[table].height:
            valid[table] = valid[table].filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(list(bad)))
    # derived patients only when some row of theirs survives
    if valid["patients"].height:
        alive = set()
        for t in ("sessions", "assessments", "opioids", "adverse_events"):
            alive |= set(valid[t].get_column("patient_id").to_list())
        vital_rows = _concat([ex.vitals for ex in exs])
        if vital_rows.height:
            alive |= set(
                vital_rows.filter(~pl.col(RK).is_in(list(bad))).get_column("patient_id").to_list()
            )
        valid["patients"] = valid["patients"].filter(
            pl.col(RK).is_not_null() | pl.col("patient_id").is_in(list(alive))
        )

    status: list[pl.DataFrame] = []
    conflicts: list[pl.DataFrame] = []
    new: dict[str, pl.DataFrame] = {}
    # sessions first so that links from assessments / events can follow duplicates
    remap: dict[str, str] = {}
    for table in ("patients", "sessions", "assessments", "opioids", "adverse_events"):
        fr = valid[table]
        if remap and "session_id" in fr.columns and table != "sessions" and fr.height:
            fr = fr.with_columns(pl.col("session_id").replace(remap))
        if table in ("assessments", "adverse_events") and fr.height:
            # session links must exist (store or this import)
            sids = set(
                new.get("sessions", tables.empty("sessions")).get_column("session_id").to_list()
            )
            linked = fr.filter(pl.col("session_id").is_not_null())
            if linked.height:
                wanted = list(set(linked.get_column("session_id").to_list()) - sids)
                stored = set()
                if wanted:
                    stored = set(
                        st.query(
                            "SELECT session_id FROM sessions WHERE session_id IN (SELECT unnest(?))",
                            [wanted],
                        )
                        .get_column("session_id")
                        .to_list()
                    )
                orphan = linked.filter(~pl.col("session_id").is_in(list(sids | stored)))
                if orphan.height:
                    problems.append(
                        orphan.select(
                            RK,
                            column=pl.lit("session_id"),
                            value=pl.col("session_id"),
                            reason=pl.lit(
                                "session_id not found in sessions (store or this import)"
                            ),
                        ).cast(PROBLEM_SCHEMA)
                    )
                    fr = fr.filter(~pl.col(RK).is_in(orphan.get_column(RK).to_list()))
        n, stt, conf, rm = _dedupe(table, fr, st)
        new[table] = n
        status.append(stt)
        conflicts.append(conf)
        if table == "sessions":
            remap = rm

    vit_status, vit_skip, vit_prob, vit_conf, updates, new["sessions"] = _vitals(
        [ex.vitals for ex in exs], new["sessions"], st, bad_set()
    )
    status.append(vit_status)
    skipped.append(vit_skip)
    problems.append(vit_prob)
    conflicts.append(vit_conf)

    return _Result(
        frames=new,
        problems=_concat(problems, PROBLEM_SCHEMA).unique(maintain_order=True),
        skipped=_concat(skipped, SKIP_SCHEMA),
        status=_concat(status, {RK: pl.Int64, "status": pl.String}),
        conflicts=_concat(conflicts, _CONFLICT_SCHEMA),
        vital_updates=updates,
        notes=notes,
    )


def _complete_patients(p: pl.DataFrame) -> pl.DataFrame:
    """Birth year and age band (at first treatment, else referral) and default flags."""
    n = p.height
    for c in FLAGS:
        if c not in p.columns:
            p = p.with_columns(pl.lit(False).alias(c))
        else:
            p = p.with_columns(pl.col(c).fill_null(False))
    if "birth_date" not in p.columns:
        p = p.with_columns(birth_date=pl.lit(None, dtype=pl.Date))
    if "first_date" not in p.columns:
        p = p.with_columns(first_date=pl.lit(None, dtype=pl.Date))
    years: list[int | None] = []
    bands: list[str | None] = []
    for birth, first, ref, by, band in p.select(
        "birth_date",
        "first_date",
        "referral_date",
        pl.col("birth_year")
        if "birth_year" in p.columns
        else pl.lit(None, dtype=pl.Int32).alias("by"),
        pl.col("age_band")
        if "age_band" in p.columns
        else pl.lit(None, dtype=pl.String).alias("ab"),
    ).iter_rows():
        anchor = first or ref
        if birth is not None and anchor is not None:
            y, b = privacy.birth_year_and_band(birth, anchor)
            years.append(y)
            bands.append(b)
        elif by is not None and anchor is not None and band is None:
            years.append(by)
            bands.append(privacy.age_band(anchor.year - by))
        else:
            years.append(by)
            bands.append(band)
    p = p.with_columns(
        birth_year=pl.Series(years, dtype=pl.Int32), age_band=pl.Series(bands, dtype=pl.String)
    )
    for c, t in tables.empty("patients").schema.items():
        if c not in p.columns:
            p = p.with_columns(pl.lit(None, dtype=t).alias(c))
    assert p.height == n
    if "_owner" not in p.columns:
        p = p.with_columns(pl.lit(None, dtype=pl.Int64).alias("_owner"))
    return p.select(*tables.columns("patients"), RK, "_owner")


_CONFLICT_SCHEMA = {
    RK: pl.Int64,
    "table_name": pl.String,
    "natural_key": pl.String,
    "stored_value": pl.String,
    "incoming_value": pl.String,
}


def _json_rows(frame: pl.DataFrame, cols: Sequence[str]) -> list[str]:
    return [
        json.dumps(dict(zip(cols, r, strict=True)), default=str, sort_keys=True)
        for r in frame.select(cols).rows()
    ]


#: Differences within these limits are the same value written differently (a weight in
#: whole pounds, a rounded mg/kg); anything larger is a conflict.
TOLERANCE = {"weight_kg": 0.5, "dose_mg_per_kg": 0.01, "cost_usd": 0.01}


def _same(cols: Sequence[str], schema: dict[str, Any], defaulted: bool = False) -> pl.Expr:
    parts = []
    for c in cols:
        a, b = pl.col(c), pl.col(f"{c}__stored")
        if schema[c] == pl.Float64:
            limit = TOLERANCE[c] if c in TOLERANCE else 1e-6 * (1 + b.abs())
            eq = (a - b).abs() <= limit
        else:
            eq = a == b
        part = eq | a.is_null() | b.is_null()
        if defaulted:
            # a value the mapping supplied (not the export) never conflicts with the store
            part = part | pl.col("_defaulted").fill_null("").str.contains(f"|{c}|", literal=True)
        parts.append(part)
    return pl.all_horizontal(parts) if parts else pl.lit(True)


def _dedupe(
    table: str, fr: pl.DataFrame, st: store_mod.Store
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """(new rows, RK status, conflicts, session-id remap) for one table."""
    empty_status = pl.DataFrame(schema={RK: pl.Int64, "status": pl.String})
    empty_conf = pl.DataFrame(schema=_CONFLICT_SCHEMA)
    if fr.height == 0:
        return fr, empty_status, empty_conf, {}
    key = list(tables.NATURAL_KEYS[table])
    cmp_cols = list(COMPARE[table])
    schema = dict(fr.schema)
    fr = fr.sort(RK, nulls_last=True).with_row_index("_pos")
    firsts = fr.unique(key, keep="first", maintain_order=True)
    rest = fr.filter(~pl.col("_pos").is_in(firsts.get_column("_pos").implode()))
    statuses, confs = [], []
    remap: dict[str, str] = {}
    id_col = {"sessions": "session_id", "adverse_events": "event_id"}.get(table)
    if rest.height:
        j = rest.join(
            firsts.select(
                *key,
                *[pl.col(c).alias(f"{c}__stored") for c in cmp_cols],
                pl.col(RK).alias("_first_rk"),
                *([pl.col(id_col).alias("_first_id")] if id_col else []),
            ),
            on=key,
            how="left",
            nulls_equal=True,
        ).with_columns(_same=_same(cmp_cols, schema, "_defaulted" in fr.columns))
        statuses.append(
            j.select(
                RK, status=pl.when("_same").then(pl.lit("duplicate")).otherwise(pl.lit("conflict"))
            )
        )
        c = j.filter(~pl.col("_same"))
        if c.height:
            confs.append(
                pl.DataFrame(
                    {
                        RK: c.get_column(RK),
                        "table_name": [table] * c.height,
                        "natural_key": _json_rows(c, key),
                        "stored_value": [
                            f"another row of this import (line {(r or 0) % RK_BASE}): {v}"
                            for r, v in zip(
                                c.get_column("_first_rk"),
                                _json_rows(
                                    c.select([pl.col(f"{x}__stored").alias(x) for x in cmp_cols]),
                                    cmp_cols,
                                ),
                                strict=True,
                            )
                        ],
                        "incoming_value": _json_rows(c, cmp_cols),
                    },
                    schema=_CONFLICT_SCHEMA,
                )
            )
        if id_col:
            remap.update(dict(zip(j.get_column(id_col), j.get_column("_first_id"), strict=True)))
    if id_col:
        # one id, two different facts (natural keys): keep the first, the other for review
        clash = firsts.filter(pl.int_range(pl.len()).over(id_col) > 0)
        ids = firsts.get_column(id_col).unique().to_list()
        in_store = st.query(
            f'SELECT "{id_col}" AS _sid, {", ".join(f"{chr(34)}{k}{chr(34)} AS {chr(34)}_k_{k}{chr(34)}" for k in key)} '
            f'FROM "{table}" WHERE "{id_col}" IN (SELECT unnest(?))',
            [ids],
        )
        if in_store.height:
            cmp_key = firsts.join(
                in_store.cast({f"_k_{k}": schema[k] for k in key}),
                left_on=id_col,
                right_on="_sid",
                how="inner",
            )
            differs = pl.any_horizontal([~pl.col(k).eq_missing(pl.col(f"_k_{k}")) for k in key])
            clash = pl.concat([clash, cmp_key.filter(differs).select(firsts.columns)])
        if clash.height:
            statuses.append(clash.select(RK, status=pl.lit("conflict")))
            confs.append(
                pl.DataFrame(
                    {
                        RK: clash.get_column(RK),
                        "table_name": [table] * clash.height,
                        "natural_key": _json_rows(clash, [id_col]),
                        "stored_value": [
                            "another row with this id describes a different " + table[:-1]
                        ]
                        * clash.height,
                        "incoming_value": _json_rows(clash, key),
                    },
                    schema=_CONFLICT_SCHEMA,
                )
            )
            firsts = firsts.filter(~pl.col("_pos").is_in(clash.get_column("_pos").implode()))
    # against the store
    pids = firsts.get_column("patient_id").unique().to_list()
    sel = ", ".join(
        f'"{c}"' for c in dict.fromkeys([*key, *cmp_cols, *([id_col] if id_col else [])])
    )
    stored = st.query(f'SELECT {sel} FROM "{table}" WHERE patient_id IN (SELECT unnest(?))', [pids])
    if stored.height:
        stored = stored.cast({c: schema[c] for c in stored.columns if c in schema})
        j = firsts.join(
            stored.rename({c: f"{c}__stored" for c in stored.columns if c not in key}),
            on=key,
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        # a key may match several stored rows only if the store itself holds duplicates
        j = j.unique("_pos", keep="first", maintain_order=True)
        matched = pl.col("_matched")
        probe = f"{id_col}__stored" if id_col else f"{cmp_cols[0]}__stored"
        j = j.with_columns(
            _matched=pl.col(probe).is_not_null()
            if id_col
            else pl.any_horizontal([pl.col(f"{c}__stored").is_not_null() for c in cmp_cols])
        )
        if not id_col:
            # compare with a presence marker: join again to know matches exactly
            marker = stored.select(key).unique().with_columns(_hit=pl.lit(True))
            j = (
                j.drop("_matched")
                .join(marker, on=key, how="left", nulls_equal=True)
                .with_columns(_matched=pl.col("_hit").fill_null(False))
            )
        j = j.with_columns(_same=_same(cmp_cols, schema, "_defaulted" in fr.columns))
        hit = j.filter(matched)
        statuses.append(
            hit.select(
                RK, status=pl.when("_same").then(pl.lit("duplicate")).otherwise(pl.lit("conflict"))
            )
        )
        c = hit.filter(~pl.col("_same"))
        if c.height:
            confs.append(
                pl.DataFrame(
                    {
                        RK: c.get_column(RK),
                        "table_name": [table] * c.height,
                        "natural_key": _json_rows(c, key),
                        "stored_value": _json_rows(
                            c.select([pl.col(f"{x}__stored").alias(x) for x in cmp_cols]), cmp_cols
                        ),
                        "incoming_value": _json_rows(c, cmp_cols),
                    },
                    schema=_CONFLICT_SCHEMA,
                )
            )
        if id_col:
            remap.update(
                dict(zip(hit.get_column(id_col), hit.get_column(f"{id_col}__stored"), strict=True))
            )
            # within-import duplicates of a stored row point at the stored id too
            remap = {k: remap.get(v, v) for k, v in remap.items()}
        firsts = j.filter(~matched).select(firsts.columns)
    statuses.append(firsts.filter(pl.col(RK).is_not_null()).select(RK, status=pl.lit("new")))
    out = firsts.drop("_pos")
    return (
        out,
        pl.concat([s.cast({RK: pl.Int64}) for s in statuses]),
        _concat(confs, _CONFLICT_SCHEMA),
        remap,
    )


def _vital_range(column: str) -> tuple[float, float]:
    col = tables.MODELS["sessions"].to_schema().columns[column]
    lo, hi = -float("inf"), float("inf")
    for chk in col.checks:
        stats = chk.statistics or {}
        if "min_value" in stats:
            lo = float(stats["min_value"])
        if "max_value" in stats:
            hi = float(stats["max_value"])
    return lo, hi


def _vitals(vitals, sessions_new, st, bad):
    """Attach vital signs to the nearest session of the patient on the same day."""
    empty_status = pl.DataFrame(schema={RK: pl.Int64, "status": pl.String})
    no_updates = pl.DataFrame(
        schema={"session_id": pl.String, "column": pl.String, "value": pl.Float64}
    )
    v = _concat(vitals, extract.VITAL_SCHEMA)
    if v.height:
        v = v.filter(
            ~pl.col(RK).is_in(list(bad))
            & pl.col("patient_id").is_not_null()
            & pl.col("at").is_not_null()
        )
    if v.height == 0:
        return (
            empty_status,
            pl.DataFrame(schema=SKIP_SCHEMA),
            pl.DataFrame(schema=PROBLEM_SCHEMA),
            pl.DataFrame(schema=_CONFLICT_SCHEMA),
            no_updates,
            sessions_new,
        )
    vcols = sorted(set(VITAL_COLUMNS.values()))
    pids = v.get_column("patient_id").unique().to_list()
    stored = st.query(
        f"SELECT session_id, patient_id, started_at, {', '.join(vcols)} FROM sessions "
        "WHERE patient_id IN (SELECT unnest(?))",
        [pids],
    )
    cand = [
        stored.with_columns(_stored=pl.lit(True)),
        sessions_new.select("session_id", "patient_id", "started_at", *vcols).with_columns(
            _stored=pl.lit(False)
        ),
    ]
    sschema = tables.empty("sessions").schema
    cand = [
        c.select(
            pl.col("session_id").cast(pl.String),
            pl.col("patient_id").cast(pl.String),
            pl.col("started_at").cast(pl.Datetime("us")),
            *[pl.col(x).cast(sschema[x]) for x in vcols],
            "_stored",
        )
        for c in cand
    ]
    sess = pl.concat(cand)
    sess = sess.with_columns(_day=pl.col("started_at").dt.date())
    j = (
        v.with_columns(_day=pl.col("at").dt.date())
        .join(sess, on=["patient_id", "_day"], how="left")
        .with_columns(_gap=(pl.col("at") - pl.col("started_at")).abs())
        .sort(RK, "_gap", nulls_last=True)
        .unique(RK, keep="first", maintain_order=True)
    )
    skips = [
        j.filter(pl.col("session_id").is_null()).select(
            RK,
            reason=pl.lit(
                "vital sign with no session of this patient on that day: vital signs are kept "
                "only as session vitals"
            ),
        )
    ]
    j = j.filter(pl.col("session_id").is_not_null())
    before = pl.col("at") <= pl.col("started_at") + pl.duration(minutes=BEFORE_GRACE_MINUTES)
    j = j.with_columns(
        column=pl.when(pl.col("vital") == "weight_kg")
        .then(pl.lit("weight_kg"))
        .otherwise(
            pl.col("vital").replace_strict(
                {
                    "systolic": "bp_systolic",
                    "diastolic": "bp_diastolic",
                    "heart_rate": "heart_rate",
                    "spo2": "spo2",
                },
                default=None,
            )
            + pl.when(before).then(pl.lit("_before")).otherwise(pl.lit("_after"))
        )
    )
    # one reading per session and column: the closest to the session start
    j = j.sort("session_id", "column", "_gap", RK)
    first = pl.int_range(pl.len()).over("session_id", "column") == 0
    j = j.with_columns(_first=first)
    skips.append(
        j.filter(~pl.col("_first")).select(
            RK,
            reason=pl.lit(
                "another reading of this vital sign was closer to the session start and was kept"
            ),
        )
    )
    j = j.filter(pl.col("_first"))
    probs = []
    ok_rows = []
    for column in j.get_column("column").unique().to_list():
        lo, hi = _vital_range(column)
        part = j.filter(pl.col("column") == column)
        out = part.filter(~pl.col("value").is_between(lo, hi))
        if out.height:
            probs.append(
                out.select(
                    RK,
                    column=pl.lit(column),
                    value=pl.col("value").cast(pl.String),
                    reason=pl.lit(f"{column}: expected a value from {lo:g} to {hi:g}"),
                )
            )
        part = part.filter(pl.col("value").is_between(lo, hi))
        current = part.get_column(column).cast(pl.Float64)
        part = part.with_columns(_current=current)
        ok_rows.append(part)
    j = _concat(ok_rows)
    statuses, confs, updates = [], [], []
    if j.height:
        j = j.with_columns(
            status=pl.when(pl.col("_current").is_null())
            .then(pl.lit("new"))
            .when((pl.col("_current") - pl.col("value")).abs() < 0.5)
            .then(pl.lit("duplicate"))
            .otherwise(pl.lit("conflict"))
        )
        statuses.append(j.select(RK, "status"))
        c = j.filter(pl.col("status") == "conflict")
        if c.height:
            confs.append(
                c.select(
                    RK,
                    table_name=pl.lit("sessions"),
                    natural_key=pl.format(
                        '{{"session_id": "{}", "column": "{}"}}', "session_id", "column"
                    ),
                    stored_value=pl.col("_current").cast(pl.String),
                    incoming_value=pl.col("value").cast(pl.String),
                )
            )
        fill = j.filter(pl.col("status") == "new")
        updates.append(fill.filter(pl.col("_stored")).select("session_id", "column", "value"))
        mine = fill.filter(~pl.col("_stored"))
        for column in mine.get_column("column").unique().to_list():
            vals = mine.filter(pl.col("column") == column).select("session_id", _v=pl.col("value"))
            dtype = sessions_new.schema[column]
            sessions_new = (
                sessions_new.join(vals, on="session_id", how="left", maintain_order="left")
                .with_columns(
                    pl.coalesce(
                        column, pl.col("_v").round(0 if dtype == pl.Int32 else 3).cast(dtype)
                    ).alias(column)
                )
                .drop("_v")
            )
    return (
        _concat(statuses, {RK: pl.Int64, "status": pl.String}),
        _concat(skips, SKIP_SCHEMA).cast(SKIP_SCHEMA),
        _concat(probs, PROBLEM_SCHEMA).cast(PROBLEM_SCHEMA),
        _concat(confs, _CONFLICT_SCHEMA).cast(_CONFLICT_SCHEMA),
        _concat(updates, no_updates.schema),
        sessions_new,
    )


# -- accounting and reports -----------------------------------------------------------------
def _reasons(frame: pl.DataFrame, with_column: bool) -> tuple[ReasonCount, ...]:
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


def _classify(f: _File, result: _Result) -> dict[str, Any]:
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
    skips = _concat([skips, *extra], SKIP_SCHEMA)
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
    return {
        "rows_read": raw.height,
        "accepted": len(accepted),
        "quarantined": len(bad),
        "skipped": skips.height,
        "duplicates": len(dup_only),
        "conflicts": len(conflict_rows),
        "written": tuple(written.items()),
        "quarantine_reasons": _reasons(probs, True),
        "skip_reasons": _reasons(skips, False),
        "problems": probs,
    }


def _reports(files: list[_File], result: _Result | None) -> list[FileReport]:
    out = []
    for f in files:
        if f.already or f.raw is None or f.fit is None:
            out.append(
                FileReport(
                    file=f.src.name,
                    preset="-",
                    kind="-",
                    sha256=f.src.sha256,
                    import_id=f.import_id,
                    already_imported=True,
                    notes=("the ledger already holds a file with the same content (SHA-256)",),
                )
            )
            continue
        c = _classify(f, result)
        notes = list(result.notes.get(f.index, []))
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


# -- writing --------------------------------------------------------------------------------
def _write(st: store_mod.Store, files: list[_File], result: _Result, report: ImportReport) -> None:
    by_index = {f.index: f for f in files}
    rep_by_name = {r.import_id: r for r in report.files}
    frames = {}
    for table, fr in result.frames.items():
        if fr.height:
            frames[table] = fr.select(tables.columns(table))
    # quarantine: one record per (row, column, reason) with the de-identified row
    q_parts, c_parts, ledger = [], [], []
    now = dt.datetime.now()
    for f in files:
        lo, hi = f.index * RK_BASE, (f.index + 1) * RK_BASE - 1
        rep = rep_by_name[f.import_id]
        probs = result.problems.filter(pl.col(RK).is_between(lo, hi))
        name = privacy.scrub_text(f.src.name)
        if probs.height:
            q_parts.append(_quarantine_records(f, probs, name))
        conf = result.conflicts.filter(pl.col(RK).is_between(lo, hi))
        if conf.height:
            c_parts.append(
                conf.select(
                    import_id=pl.lit(f.import_id),
                    file_name=pl.lit(name),
                    row_number=pl.col(RK) % RK_BASE,
                    table_name="table_name",
                    natural_key="natural_key",
                    stored_value="stored_value",
                    incoming_value="incoming_value",
                    status=pl.lit("open"),
                )
            )
        ledger.append(
            {
                "import_id": f.import_id,
                "file_name": name,
                "content_sha256": f.src.sha256,
                "preset": f"{rep.preset}:{rep.kind}",
                "imported_at": now,
                "rows_read": rep.rows_read,
                "accepted": rep.accepted,
                "quarantined": rep.quarantined,
                "skipped": rep.skipped,
                "duplicates": rep.duplicates,
                "conflicts": rep.conflicts,
                "report_json": store_mod.to_json(rep.to_dict()),
            }
        )
    del by_index
    corrected = _corrected_rows(files, result)
    updates = result.vital_updates

    def then(con: duckdb.DuckDBPyConnection) -> None:
        for column in updates.get_column("column").unique().to_list() if updates.height else []:
            part = updates.filter(pl.col("column") == column).select("session_id", "value")
            arrow = part.to_arrow()  # noqa: F841 - scanned by DuckDB
            con.execute(
                f'UPDATE sessions SET "{column}" = CAST(round(u.value, 3) AS '
                f"{'DOUBLE' if column == 'weight_kg' else 'INTEGER'}) "
                f'FROM arrow u WHERE sessions.session_id = u.session_id AND sessions."{column}" IS NULL'
            )
        if corrected.height:
            arrow_c = corrected.to_arrow()  # noqa: F841
            con.execute(
                "UPDATE quarantine SET status = 'corrected' FROM arrow_c c "
                "WHERE quarantine.file_name = c.file_name AND quarantine.row_number = c.row_number"
            )

    st.write_tables(
        frames,
        ledger=ledger,
        quarantine=_concat(q_parts) if q_parts else None,
        conflicts=_concat(c_parts) if c_parts else None,
        then=then,
    )
    st.con.execute("CHECKPOINT")


def _quarantine_records(f: _File, probs: pl.DataFrame, name: str) -> pl.DataFrame:
    raw = f.raw
    ex = f.ex
    assert raw is not None and ex is not None
    fr = raw.frame.with_columns((pl.col(rd.LINE) + f.index * RK_BASE).alias(RK))
    if ex.patient_ids is not None:
        fr = fr.with_columns(ex.patient_ids.alias("_pid"))
    else:
        fr = fr.with_columns(_pid=pl.lit(None, dtype=pl.String))
    rows = fr.filter(pl.col(RK).is_in(probs.get_column(RK).unique().implode()))
    ident = [h for h in f.identifiers if h in rows.columns]
    keep = [
        h
        for h in raw.headers
        if h not in ident and h not in (rd.LINE, rd.SHAPE) and h not in QUARANTINE_META
    ]
    js = deid.raw_rows_json(rows, keep, ex.mrn_col, rows.get_column("_pid"), ex.dob_col, ident)
    rows = rows.select(RK).with_columns(raw_row=pl.Series(js, dtype=pl.String))
    # the value of the failing cell, scrubbed; the MRN never appears (its pseudonym does)
    out = probs.join(rows, on=RK, how="left").with_columns(
        value=pl.when(pl.col("column") == (ex.mrn_col or "\x00"))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("value"))
        .map_elements(privacy.scrub_text, return_dtype=pl.String)
    )
    return out.select(
        import_id=pl.lit(f.import_id),
        file_name=pl.lit(name),
        row_number=pl.col(RK) % RK_BASE,
        column_name="column",
        value="value",
        reason="reason",
        raw_row="raw_row",
        status=pl.lit("open"),
    )


def _corrected_rows(files: list[_File], result: _Result) -> pl.DataFrame:
    """Rows of a downloaded quarantine file that are now accepted: their originals are
    marked corrected."""
    parts = []
    accepted = result.status.filter(pl.col("status") == "new").get_column(RK).unique()
    for f in files:
        raw = f.raw
        if raw is None or not {"quarantine_file", "quarantine_row"} <= set(raw.headers):
            continue
        fr = raw.frame.with_columns((pl.col(rd.LINE) + f.index * RK_BASE).alias(RK)).filter(
            pl.col(RK).is_in(accepted.implode())
        )
        parts.append(
            fr.select(
                file_name=pl.col("quarantine_file"),
                row_number=pl.col("quarantine_row").cast(pl.Int64, strict=False),
            )
        )
    return _concat(parts, {"file_name": pl.String, "row_number": pl.Int64})


# -- quarantine download --------------------------------------------------------------------
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str | None) -> str | None:
    """Spreadsheet formula injection: prefix cells starting with = + - @ tab CR with '."""
    if value and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def quarantine_frame(
    st: store_mod.Store,
    import_id: str | None = None,
    file_name: str | None = None,
    status: str = "open",
) -> pl.DataFrame:
    """One row per quarantined input row: the de-identified columns as exported, plus the
    reasons, source file and row number (line number, header = line 1)."""
    q = st.read("quarantine", validate=False)
    if import_id:
        q = q.filter(pl.col("import_id") == import_id)
    if file_name:
        q = q.filter(pl.col("file_name") == file_name)
    if status:
        q = q.filter(pl.col("status") == status)
    if q.height == 0:
        return pl.DataFrame(schema=dict.fromkeys(QUARANTINE_META, pl.String))
    g = (
        q.sort("file_name", "row_number")
        .group_by("file_name", "row_number", maintain_order=True)
        .agg(
            raw_row=pl.col("raw_row").first(),
            reasons=pl.concat_str([pl.col("column_name"), pl.lit(": "), pl.col("reason")])
            .unique(maintain_order=True)
            .str.join("; "),
        )
    )
    recs = []
    for r in g.iter_rows(named=True):
        d = json.loads(r["raw_row"] or "{}")
        d["quarantine_reason"] = r["reasons"]
        d["quarantine_file"] = r["file_name"]
        d["quarantine_row"] = str(r["row_number"])
        recs.append(d)
    cols = list(dict.fromkeys(k for d in recs for k in d))
    cols = [c for c in cols if c not in QUARANTINE_META] + list(QUARANTINE_META)
    return pl.DataFrame(
        [{c: d.get(c, "") for c in cols} for d in recs], schema=dict.fromkeys(cols, pl.String)
    )


def quarantine_csv(
    st: store_mod.Store, import_id: str | None = None, file_name: str | None = None
) -> bytes:
    """The open quarantine as CSV bytes (UTF-8 with BOM for spreadsheets), formula-safe.
    Correct the cells and import the file again: it is read with the same preset."""
    fr = quarantine_frame(st, import_id, file_name)
    fr = fr.with_columns(
        [pl.col(c).map_elements(neutralise, return_dtype=pl.String) for c in fr.columns]
    )
    import io

    buf = io.StringIO()
    fr.write_csv(buf)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


__all__ = [
    "IngestError",
    "Path",
    "find_patient_id",
    "import_files",
    "neutralise",
    "quarantine_csv",
    "quarantine_frame",
]
