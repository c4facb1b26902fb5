"""The wide per-visit layout, described by a TOML mapping file a clinic can write.

One row per visit -> one session, its assessments (pain before / after, PHQ-9 ...), its side
effects as adverse events, and the patient's row when the store does not know the patient.
See docs/importing.md for the format and sample_data/mappings/ for examples.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import instruments
from kapoutcomes.ingest import deid, safety_signals, side_effects
from kapoutcomes.ingest import normalise as nm
from kapoutcomes.ingest.errors import IngestError
from kapoutcomes.ingest.extract import RK, Extract, Options, Rows, activity, stable_id
from kapoutcomes.ingest.presets import Fit
from kapoutcomes.ingest.read import RawTable

#: Canonical fields a [columns] entry may name, with what each holds.
FIELDS: dict[str, str] = {
    "mrn": "the patient's MRN (pseudonymised on import) - required",
    "started_at": "visit date, or date and time - required",
    "time": "visit time when it sits in its own column",
    "session_type": "screening, induction, maintenance, booster, preparation, integration, psychotherapy",
    "route": "IV, IM, intranasal, sublingual, oral, topical",
    "dose": "ketamine dose with or without unit: 35, 35 mg, 500 mcg, 0.5 mg/kg",
    "dose_mg_per_kg": "dose per kg when it has its own column",
    "weight": "body weight (kg, or lb when written)",
    "infusion_minutes": "infusion duration in minutes",
    "care_model": "KAP or infusion_only",
    "clinician": "clinician code (staff)",
    "bp_before": "blood pressure before dosing, written 120/80",
    "bp_after": "blood pressure after dosing, written 120/80",
    "bp_systolic_before": "systolic BP before dosing",
    "bp_diastolic_before": "diastolic BP before dosing",
    "bp_systolic_after": "systolic BP after dosing",
    "bp_diastolic_after": "diastolic BP after dosing",
    "heart_rate_before": "heart rate before dosing",
    "heart_rate_after": "heart rate after dosing",
    "spo2_before": "SpO2 before dosing",
    "spo2_after": "SpO2 after dosing",
    "cost_usd": "charge for the session",
    "side_effects": "side effects as free text",
    "side_effect_severity": "severity of the side effects (mild, moderate, severe)",
    "birth_date": "date of birth (kept only as birth year and age band)",
    "sex": "sex",
    "primary_condition": "primary condition",
    "clinic": "clinic name",
    "comorbid_depression": "comorbid depression (yes / no)",
}
REQUIRED = ("mrn", "started_at")
FILE_KEYS = {
    "preset",
    "name",
    "description",
    "day_first",
    "date_order",
    "clinic",
    "default_condition",
    "session_type",
    "route",
    "care_model",
    "dose_unit",
    "weight_unit",
    "severity_when_unstated",
    "after_dose_minutes",
}
VALUE_FIELDS = {
    "session_type": tables.SESSION_TYPES,
    "route": tables.ROUTES,
    "care_model": tables.CARE_MODELS,
    "primary_condition": tables.CONDITIONS,
    "sex": tables.SEXES,
    "side_effect_severity": tables.SEVERITIES,
}


@dataclass(frozen=True)
class AssessmentColumn:
    column: str
    instrument: str
    timing: str | None = None
    minutes_after_start: float | None = None
    item: int | None = None  # an item-level answer (PHQ-9 item 9), not a total


@dataclass(frozen=True)
class Mapping:
    """A parsed, checked mapping file."""

    path: str
    columns: dict[str, str]
    assessments: tuple[AssessmentColumn, ...]
    values: dict[str, dict[str, str]]
    ignore: tuple[str, ...] = ()
    day_first: bool | None = None
    date_order: str | None = None  # day-first / month-first (or from day_first)
    clinic: str | None = None
    default_condition: str | None = None
    session_type: str | None = None
    route: str | None = None
    care_model: str | None = None
    dose_unit: str = "mg"
    weight_unit: str = "kg"
    severity_when_unstated: str | None = None
    after_dose_minutes: float = 60.0
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    # -- detection --------------------------------------------------------------------------
    def mapped_headers(self) -> list[str]:
        return [*self.columns.values(), *(a.column for a in self.assessments)]

    def fit(self, file: str, headers: list[str]) -> Fit:
        by_norm = {nm_header(h): h for h in headers}
        roles: dict[str, str] = {}
        missing = []
        for role, h in [
            *self.columns.items(),
            *((f"@{a.column}", a.column) for a in self.assessments),
        ]:
            real = by_norm.get(nm_header(h))
            if real is None:
                missing.append(h)
            else:
                roles[role] = real
        if missing:
            # none of the mapping's columns found: the first line is likely a data row (a
            # file exported without its header), whose names must not be echoed
            columns_shown = (
                deid.header_list(headers, 30)
                if roles
                else "not listed: none is a column of the mapping, so the first line may be "
                "a data row rather than column names"
            )
            raise IngestError(
                file,
                f"the mapping {Path(self.path).name} names columns the file does not have: "
                f"{', '.join(missing)}",
                f"fix the mapping or the export (the file's columns are: {columns_shown})",
            )
        return Fit("wide", "visits", roles, (), (), 1.0)

    # -- extraction -------------------------------------------------------------------------
    def extract(
        self, raw: RawTable, opts: Options, rk_base: int, identifiers: tuple[str, ...]
    ) -> Extract:
        ex = Extract("visits")
        r = Rows(raw, rk_base, ex)
        v = _Visits(self, r, self.fit(raw.name, raw.headers).roles, raw.height)
        pid = r.patient(v.roles.get("mrn"), opts.secret)
        started = _started_at(v, opts)
        sessions = _sessions(v, pid, started)
        visit = sessions.visit
        ex.outputs["sessions"] = sessions.frame.filter(visit.has_session)
        parts = [_assessments(v, a, visit) for a in self.assessments]
        if parts:
            ex.outputs["assessments"] = pl.concat(parts)
        if "side_effects" in v.roles:
            events = _side_effects(v, raw, identifiers, visit)
            if events is not None:
                ex.outputs["adverse_events"] = events
                ex.signals.append(safety_signals.serious_event_signals(events))
        demo = _patient_facts(v, opts)
        ex.activity = activity(r.rk, pid, started, **demo)
        return ex


@dataclass(frozen=True)
class _Visits:
    """The wide file being read: its mapping, rows, roles (field -> header) and height."""

    mapping: Mapping
    r: Rows
    roles: dict[str, str]
    n: int

    def vocab(self, fieldname: str, default: str | None) -> pl.Series:
        if fieldname in self.roles:
            s = self.r.vocab(
                self.roles[fieldname], VALUE_FIELDS[fieldname], self.mapping.values.get(fieldname)
            )
            if default:
                s = s.fill_null(default)
            return s
        return pl.Series(fieldname, [default] * self.n, dtype=pl.String)

    def ints(self, fieldname: str, what: str) -> pl.Series:
        if fieldname in self.roles:
            return self.r.integer(self.roles.get(fieldname), what)
        return pl.Series([None] * self.n, dtype=pl.Int32)

    def nulls(self, dtype: Any) -> pl.Series:
        return pl.Series([None] * self.n, dtype=dtype)


@dataclass(frozen=True)
class _Visit:
    """Per row: the keys every output of one visit shares."""

    patient_id: pl.Series
    started: pl.Series
    session_id: pl.Series
    session_type: pl.Series
    has_session: pl.Series
    minutes: pl.Series  # infusion minutes


@dataclass(frozen=True)
class _Sessions:
    frame: pl.DataFrame
    visit: _Visit


@dataclass(frozen=True)
class _Dose:
    dose_mg: pl.Series
    per_kg: pl.Series
    weight_kg: pl.Series


def _started_at(v: _Visits, opts: Options) -> pl.Series:
    """The visit's start; a separate time column is joined to the date first."""
    r, roles = v.r, v.roles
    date_raw = r.col(roles.get("started_at"))
    if "time" in roles:
        t = nm.clean(r.col(roles["time"]))
        date_raw = pl.select(
            pl.when(t.is_not_null() & nm.clean(date_raw).is_not_null())
            .then(pl.concat_str([nm.clean(date_raw), pl.lit(" "), t]))
            .otherwise(date_raw)
        ).to_series()
        r.f = r.f.with_columns(date_raw.alias(roles["started_at"]))
    return r.datetime(roles.get("started_at"), opts)


def _sessions(v: _Visits, pid: pl.Series, started: pl.Series) -> _Sessions:
    """One session per visit row (rows without a start are dropped by the caller)."""
    r, roles, mp = v.r, v.roles, v.mapping
    session_type = v.vocab("session_type", mp.session_type)
    r.bad(
        session_type.is_null(),
        roles.get("session_type", "session_type"),
        r.col(roles.get("session_type")),
        "the visit type is missing",
    )
    route = v.vocab("route", mp.route)
    care_model = v.vocab("care_model", mp.care_model)
    r.bad(
        care_model.is_null(),
        roles.get("care_model", "care_model"),
        r.col(roles.get("care_model")),
        "care model (KAP or infusion_only) is missing: set it in the mapping's [file] care_model",
    )
    dose = _dose(v)
    vit = _vital_signs(v)
    minutes = v.ints("infusion_minutes", "a duration in minutes")
    cost = (
        r.number(roles.get("cost_usd"), "an amount in USD")
        if "cost_usd" in roles
        else v.nulls(pl.Float64)
    )
    clinician = r.text(roles.get("clinician")) if "clinician" in roles else v.nulls(pl.String)
    session_id = stable_id("s", pid, started, session_type)
    sessions = pl.DataFrame(
        {
            RK: r.rk,
            "session_id": session_id,
            "patient_id": pid,
            "started_at": started,
            "session_type": session_type,
            "route": route,
            "dose_mg": dose.dose_mg,
            "dose_mg_per_kg": dose.per_kg,
            "weight_kg": dose.weight_kg,
            "infusion_minutes": minutes,
            "care_model": care_model,
            "clinician": clinician,
            **vit,
            "cost_usd": cost,
        }
    )
    defaulted = [
        f for f in ("care_model", "route", "session_type") if f not in roles and getattr(mp, f)
    ]
    sessions = sessions.with_columns(
        _defaulted=pl.lit("|" + "|".join(defaulted) + "|" if defaulted else None, dtype=pl.String)
    )
    visit = _Visit(pid, started, session_id, session_type, started.is_not_null(), minutes)
    return _Sessions(sessions, visit)


def _dose(v: _Visits) -> _Dose:
    """Dose in mg and mg/kg and the weight, each completed from the others where it can be."""
    r, roles = v.r, v.roles
    dose = nm.parse_dose(r.col(roles.get("dose")), v.mapping.dose_unit)
    dose_raw = r.col(roles.get("dose"))
    r.bad(
        nm.present(dose_raw)
        & dose.get_column("dose_mg").is_null()
        & dose.get_column("dose_mg_per_kg").is_null(),
        roles.get("dose", "dose"),
        dose_raw,
        "expected a dose such as 35, 35 mg, 500 mcg or 0.5 mg/kg",
    )
    weight_raw = r.col(roles.get("weight"))
    weight = nm.parse_weight_kg(weight_raw, v.mapping.weight_unit)
    r.bad(
        nm.present(weight_raw) & weight.is_null(),
        roles.get("weight", "weight"),
        weight_raw,
        "expected a body weight such as 80 kg or 176 lb",
    )
    per_kg = pl.select(
        pl.coalesce(
            dose.get_column("dose_mg_per_kg"),
            r.number(roles.get("dose_mg_per_kg"), "a dose in mg/kg"),
        )
    ).to_series()
    dose_mg = pl.select(pl.coalesce(dose.get_column("dose_mg"), per_kg * weight)).to_series()
    per_kg = (
        pl.select(pl.coalesce(per_kg, pl.when(weight > 0).then(dose_mg / weight)))
        .to_series()
        .round(4)
    )
    return _Dose(dose_mg, per_kg, weight)


def _vital_signs(v: _Visits) -> dict[str, pl.Series]:
    """Blood pressure (written 120/80 or in two columns), heart rate and SpO2, before and
    after dosing."""
    r, roles = v.r, v.roles
    vit = {}
    for when in ("before", "after"):
        bp_h = roles.get(f"bp_{when}")
        bp = nm.parse_bp(r.col(bp_h))
        if bp_h:
            rawb = r.col(bp_h)
            r.bad(
                nm.present(rawb) & bp.get_column("systolic").is_null(),
                bp_h,
                rawb,
                "expected blood pressure written as 120/80",
            )
        vit[f"bp_systolic_{when}"] = pl.select(
            pl.coalesce(
                bp.get_column("systolic"), v.ints(f"bp_systolic_{when}", "a systolic BP in mmHg")
            )
        ).to_series()
        vit[f"bp_diastolic_{when}"] = pl.select(
            pl.coalesce(
                bp.get_column("diastolic"),
                v.ints(f"bp_diastolic_{when}", "a diastolic BP in mmHg"),
            )
        ).to_series()
        vit[f"heart_rate_{when}"] = v.ints(f"heart_rate_{when}", "a heart rate in beats/min")
        vit[f"spo2_{when}"] = v.ints(f"spo2_{when}", "an SpO2 in %")
    return vit


def _assessments(v: _Visits, a: AssessmentColumn, visit: _Visit) -> pl.DataFrame:
    """The scores of one assessment column, timed from the visit's start."""
    r, n = v.r, v.n
    h = v.roles[f"@{a.column}"]
    rawc = r.col(h)
    sc = nm.parse_score(rawc)
    inst = instruments.INSTRUMENTS[a.instrument]
    value, denom = sc.get_column("value"), sc.get_column("denominator")
    if a.item is not None:  # an item answer may be LOINC answer text or an LA code
        value = pl.select(
            pl.coalesce(value, safety_signals.answer_points(nm.clean(rawc)))
        ).to_series()
        if a.instrument == "phq9" and a.item == instruments.PHQ9_ITEM9:
            r.ex.signals.append(safety_signals.item9_signals(r.rk, nm.present(rawc), value, rawc))
    r.bad(
        nm.present(rawc) & value.is_null(),
        h,
        rawc,
        "expected a score such as 7, 7/10 or 7 out of 10",
    )
    r.bad(
        denom.is_not_null() & (denom != float(inst.maximum)),
        h,
        rawc,
        f"the score is written out of a different maximum than {inst.code}'s {inst.maximum:g}",
    )
    if a.minutes_after_start is not None:
        offset = pl.Series([a.minutes_after_start] * n, dtype=pl.Float64)
    elif a.timing == "after_dose":
        offset = visit.minutes.cast(pl.Float64).fill_null(v.mapping.after_dose_minutes)
    else:
        offset = pl.Series([0.0] * n)
    at = pl.select(visit.started + pl.duration(seconds=(offset * 60).cast(pl.Int64))).to_series()
    return pl.DataFrame(
        {
            RK: r.rk,
            "patient_id": visit.patient_id,
            "assessed_at": at,
            "instrument": [a.instrument] * n,
            "item": pl.Series([a.item] * n, dtype=pl.Int32),
            "score": value,
            "session_id": visit.session_id,
            "timing": timing_for(a.timing, visit.session_type),
        }
    ).filter(value.is_not_null() & visit.has_session)


class _SideEffect(NamedTuple):
    row: int
    event: str
    text: str | None
    severity: str | None


def _side_effects(
    v: _Visits, raw: RawTable, identifiers: tuple[str, ...], visit: _Visit
) -> pl.DataFrame | None:
    """Side effects written as free text -> adverse events; one without a severity is
    quarantined. None when no row names one."""
    r, n, h = v.r, v.n, v.roles["side_effects"]
    texts = nm.clean(r.col(h)).to_list()
    sev_col = (
        v.vocab("side_effect_severity", None)
        if "side_effect_severity" in v.roles
        else v.nulls(pl.String)
    )
    ident_vals = raw.frame.select(list(identifiers)).rows() if identifiers else [()] * n
    rows: list[_SideEffect] = []
    missing_sev = []
    assumed = 0
    for i, text in enumerate(texts):
        if text is None:
            continue
        names = tuple(str(x) for x in ident_vals[i] if x)
        for se in side_effects.match(text, names):
            sev = se.severity or sev_col[i]
            assumed += sev is None and v.mapping.severity_when_unstated is not None
            sev = sev or v.mapping.severity_when_unstated
            if sev is None:
                missing_sev.append(i)
            rows.append(_SideEffect(i, se.event, se.text, sev))
    if assumed:
        # the Safety page's severity table would otherwise read as graded by a clinician
        r.ex.notes.append(
            f"{assumed} side effect(s) had no severity in the file: recorded as "
            f"{v.mapping.severity_when_unstated} (the mapping's severity_when_unstated), not "
            "graded by a clinician"
        )
    if missing_sev:
        mask = pl.Series([False] * n)
        mask = mask.scatter(sorted(set(missing_sev)), True)
        r.bad(
            mask,
            h,
            r.col(h).map_elements(
                lambda s: side_effects.scrub_names(s, ()), return_dtype=pl.String
            ),
            "side effect without a severity: write mild, moderate or severe in the text, map a severity column, or set severity_when_unstated in the mapping",
        )
    return _adverse_events(r, rows, visit) if rows else None


def _adverse_events(r: Rows, rows: list[_SideEffect], visit: _Visit) -> pl.DataFrame:
    idx = pl.Series([x.row for x in rows], dtype=pl.UInt32)
    k = len(rows)
    ev = pl.DataFrame(
        {
            RK: r.rk.gather(idx),
            "patient_id": visit.patient_id.gather(idx),
            "session_id": visit.session_id.gather(idx),
            "event": [x.event for x in rows],
            "event_text": pl.Series([x.text for x in rows], dtype=pl.String),
            "severity": pl.Series([x.severity for x in rows], dtype=pl.String),
            "grade": pl.Series([None] * k, dtype=pl.Int32),
            "serious": [x.event in tables.SERIOUS_EVENTS for x in rows],
            "onset_at": visit.started.gather(idx),
            "resolved_at": pl.Series([None] * k, dtype=pl.Datetime("us")),
            "action_taken": pl.Series([None] * k, dtype=pl.String),
        }
    ).filter(pl.col("onset_at").is_not_null())
    return ev.with_columns(event_id=stable_id("e", ev["patient_id"], ev["onset_at"], ev["event"]))


def _patient_facts(v: _Visits, opts: Options) -> dict[str, pl.Series]:
    """Patient facts the file holds, for patients the store does not know."""
    r, roles = v.r, v.roles
    demo: dict[str, pl.Series] = {}
    if "sex" in roles:
        demo["sex"] = nm.parse_sex(r.col(roles["sex"]))
        r.bad(
            demo["sex"].is_null(),
            roles["sex"],
            r.col(roles["sex"]),
            "expected female, male, other or unknown",
        )
    if "primary_condition" in roles:
        demo["primary_condition"] = v.vocab("primary_condition", None)
    if "clinic" in roles:
        demo["clinic"] = nm.clean(r.col(roles["clinic"]))
    if "comorbid_depression" in roles:
        demo["comorbid_depression"] = r.boolean(roles["comorbid_depression"])
    if "birth_date" in roles:
        r.ex.dob_col = roles["birth_date"]
        demo["birth_date"] = birth_dates(r, roles["birth_date"], opts)
    return demo


def timing_for(timing: str | None, session_type: pl.Series) -> pl.Series:
    """before/after-dose timings only apply at dosing visits: at a screening visit the score
    is the baseline, at other visits without dosing it is a follow-up."""
    if timing not in ("before_dose", "after_dose"):
        return pl.Series([timing] * len(session_type), dtype=pl.String)
    return pl.select(
        pl.when(session_type.is_in(list(tables.DOSING_TYPES)))
        .then(pl.lit(timing))
        .when(session_type == "screening")
        .then(pl.lit("baseline"))
        .otherwise(pl.lit("follow_up"))
    ).to_series()


def birth_dates(r: Rows, header: str, opts: Options) -> pl.Series:
    """Dates of birth; a bare year (as in a downloaded quarantine file) counts as 1 July."""
    raw = r.col(header)
    year_only = nm.clean(raw).str.contains(r"^\d{4}$").fill_null(False)
    fixed = (
        pl.select(pl.when(year_only).then(nm.clean(raw) + pl.lit("-07-01")).otherwise(raw))
        .to_series()
        .alias(header)
    )
    r.f = r.f.with_columns(fixed)
    return r.datetime(header, opts, required=False).cast(pl.Date)


def nm_header(h: str) -> str:
    from kapoutcomes.storage import privacy

    return privacy.normalise_header(h)


def _err(
    path: str, problem: str, action: str = "fix the mapping file (see docs/importing.md)"
) -> IngestError:
    return IngestError(path, f"mapping file: {problem}", action)


def load(path: str | os.PathLike[str] | tuple[str, bytes]) -> Mapping:
    """Read and check a mapping file (a path, or a ``(name, bytes)`` pair from an upload);
    every mistake raises IngestError naming it."""
    try:
        if isinstance(path, tuple):
            name, raw = str(path[0]), bytes(path[1])
            text = raw.decode("utf-8-sig")
        else:
            name = str(Path(path))
            text = Path(path).read_text(encoding="utf-8-sig")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise _err(name, "no such file", "check the path given to --mapping") from None
    except tomllib.TOMLDecodeError as e:
        raise _err(name, f"not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise _err(name, "not a text file", "save the mapping as UTF-8 text") from None
    return parse(data, name)


def parse(data: dict[str, Any], name: str = "mapping") -> Mapping:
    """Check a mapping file's parsed TOML; the first mistake raises IngestError naming it."""
    f = _file_section(data, name)
    cols = _columns_section(data, name)
    assessments = [
        _assessment_column(a, i, name) for i, a in enumerate(data.get("assessments", []), start=1)
    ]
    values = _values_section(data, name)
    _check_file_values(f, name)
    ignore = (
        data.get("ignore", {}).get("columns", [])
        if isinstance(data.get("ignore", {}), dict)
        else []
    )
    return Mapping(
        path=name,
        columns=dict(cols),
        assessments=tuple(assessments),
        values={k: dict(v) for k, v in values.items()},
        ignore=tuple(ignore),
        day_first=f.get("day_first"),
        date_order=f.get("date_order")
        or {True: "day-first", False: "month-first"}.get(f.get("day_first")),
        clinic=f.get("clinic"),
        default_condition=f.get("default_condition"),
        session_type=f.get("session_type"),
        route=f.get("route"),
        care_model=f.get("care_model"),
        dose_unit=f.get("dose_unit", "mg"),
        weight_unit=f.get("weight_unit", "kg"),
        severity_when_unstated=f.get("severity_when_unstated"),
        after_dose_minutes=float(f.get("after_dose_minutes", 60)),
        name=f.get("name", ""),
    )


def _file_section(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The known sections, and the [file] table with known keys only."""
    unknown = set(data) - {"file", "columns", "assessments", "values", "ignore"}
    if unknown:
        raise _err(
            name,
            f"unknown section(s) {', '.join(sorted(unknown))}; known: [file], [columns], [[assessments]], [values.FIELD], [ignore]",
        )
    f = data.get("file", {})
    if not isinstance(f, dict):
        raise _err(name, "[file] must be a table")
    bad = set(f) - FILE_KEYS
    if bad:
        raise _err(
            name,
            f"unknown key(s) in [file]: {', '.join(sorted(bad))}; known: {', '.join(sorted(FILE_KEYS))}",
        )
    if f.get("preset", "wide") != "wide":
        raise _err(
            name,
            f'preset = {f["preset"]!r}: mapping files describe the wide layout (preset = "wide")',
        )
    return f


def _columns_section(data: dict[str, Any], name: str) -> dict[str, str]:
    """[columns]: known fields, the required ones present, no identifier column mapped."""
    cols = data.get("columns", {})
    if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
        raise _err(name, "[columns] must map field names to column headers (text)")
    badf = set(cols) - set(FIELDS)
    if badf:
        raise _err(
            name,
            f"unknown field(s) in [columns]: {', '.join(sorted(badf))}; known: {', '.join(FIELDS)}",
        )
    for req in REQUIRED:
        if req not in cols:
            raise _err(
                name,
                f'[columns] needs {req} = "<header of the {FIELDS[req].split(" - ")[0]} column>"',
            )
    for fld, header in cols.items():
        if deid.is_identifier(header) and fld not in ("mrn", "birth_date"):
            raise _err(
                name,
                f"[columns] {fld} = {header!r} looks like a direct identifier column; it is removed at import and cannot be mapped",
            )
    return cols


def _assessment_column(a: Any, i: int, name: str) -> AssessmentColumn:
    """One [[assessments]] entry (the i-th, from 1)."""
    if not isinstance(a, dict) or "column" not in a or "instrument" not in a:
        raise _err(name, f"[[assessments]] entry {i} needs column and instrument")
    extra = set(a) - {"column", "instrument", "timing", "minutes_after_start", "item"}
    if extra:
        raise _err(name, f"[[assessments]] entry {i}: unknown key(s) {', '.join(sorted(extra))}")
    inst = a["instrument"]
    code = (
        inst
        if inst in instruments.INSTRUMENTS
        else (i2.code if (i2 := instruments.recognise(inst)) else None)
    )
    if code is None:
        raise _err(
            name,
            f"[[assessments]] entry {i}: unknown instrument {inst!r}; known: {', '.join(instruments.INSTRUMENTS)}",
        )
    timing = a.get("timing")
    if timing is not None and timing not in tables.TIMINGS:
        raise _err(
            name,
            f"[[assessments]] entry {i}: timing {timing!r} is not one of {', '.join(tables.TIMINGS)}",
        )
    mas = a.get("minutes_after_start")
    if mas is not None and not isinstance(mas, int | float):
        raise _err(name, f"[[assessments]] entry {i}: minutes_after_start must be a number")
    item = _item_key(a.get("item"), code, i, name)
    return AssessmentColumn(a["column"], code, timing, mas, item)


def _item_key(value: Any, code: str, i: int, name: str) -> int | None:
    """The ``item`` key of an [[assessments]] entry: 9, "9", "Q9" or "item 9", within the
    instrument's item count."""
    if value is None:
        return None
    n = value if isinstance(value, int) and not isinstance(value, bool) else None
    if n is None and isinstance(value, str):
        n = safety_signals.item_number(value)
    inst = instruments.INSTRUMENTS[code]
    if n is None or not 1 <= n <= (inst.items or 0):
        raise _err(
            name,
            f"[[assessments]] entry {i}: item {value!r} is not an item number of {inst.code} "
            f"(1-{inst.items or 0}); write item = 9 for PHQ-9 item 9",
        )
    return n


def _values_section(data: dict[str, Any], name: str) -> dict[str, Any]:
    """[values.FIELD] tables translating export text into the field's vocabulary."""
    values = data.get("values", {})
    if not isinstance(values, dict):
        raise _err(name, "[values] must hold tables such as [values.session_type]")
    for fld, table in values.items():
        if fld not in VALUE_FIELDS:
            raise _err(
                name, f"[values.{fld}]: values can be translated for {', '.join(VALUE_FIELDS)}"
            )
        if not isinstance(table, dict):
            raise _err(name, f"[values.{fld}] must map export text to a value")
        for k, v in table.items():
            if v not in VALUE_FIELDS[fld]:
                raise _err(
                    name,
                    f"[values.{fld}] {k!r} = {v!r}: {v!r} is not one of {', '.join(VALUE_FIELDS[fld])}",
                )
    return values


def _check_file_values(f: dict[str, Any], name: str) -> None:
    """[file] defaults come from the vocabularies; day_first is true or false."""
    for key, vocab in (
        ("session_type", tables.SESSION_TYPES),
        ("route", tables.ROUTES),
        ("care_model", tables.CARE_MODELS),
        ("default_condition", tables.CONDITIONS),
        ("severity_when_unstated", tables.SEVERITIES),
    ):
        if key in f and f[key] not in vocab:
            raise _err(name, f"[file] {key} = {f[key]!r} is not one of {', '.join(vocab)}")
    if "day_first" in f and not isinstance(f["day_first"], bool):
        raise _err(name, "[file] day_first must be true or false")
    if "date_order" in f and f["date_order"] not in ("day-first", "month-first"):
        raise _err(name, '[file] date_order must be "day-first" or "month-first"')
