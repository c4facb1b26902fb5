"""FHIR R4 resources -> rows of the layouts the importer already reads.

Each resource becomes one *row* of the file (what is accounted: accepted, quarantined or
skipped) and zero or more *facts* in one of these layouts, all text cells:

* ``long``        - the long observation layout (patient, date, code, name, value, units):
                    Observation scores, PHQ-9 item 9, vital signs; QuestionnaireResponse totals.
* ``assessments`` - canonical assessments, for Observations that name their session
                    (``partOf``) or timing (kapoutcomes extension), as the demo export does.
* ``medications`` - the medication-list layout: MedicationRequest (RxNorm, dosage).
* ``patients`` / ``sessions`` / ``adverse_events`` - canonical tables: Patient,
                    ketamine MedicationAdministration / Procedure, AdverseEvent.

Only the elements named here are read: a Patient's addresses, telecom, identifiers, photo
and contacts are never looked at, so they cannot reach a frame, the quarantine or a message;
the words of its names are only used to remove them from the file's own name. The patient key is the Patient's logical id (``Patient/<id>`` in references),
pseudonymised like an MRN - as the Synthea CSV preset does with Synthea's ``Id`` (the same
id Synthea's FHIR export uses).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from typing import Any

from kapoutcomes import tables
from kapoutcomes.ingest.extract import INSTRUMENT_LOINC, ITEM_LOINC, VITAL_LOINC
from kapoutcomes.ingest.fhir.collect import Collector
from kapoutcomes.ingest.fhir.questionnaire import FORMS, score_response

#: kapoutcomes' own extensions (elements FHIR R4 has no place for: session type, care model,
#: assessment timing, screening flags ...): ``EXT + name``. Documented in docs/importing.md.
EXT = "urn:kapoutcomes:fhir:"
LOINC_SYSTEM = "http://loinc.org"
RXNORM_SYSTEMS = ("http://www.nlm.nih.gov/research/umls/rxnorm", "rxnorm")
#: Codes read as an instrument beside the registry's LOINC codes.
#: PEG 91147-9 (mean of 3 items). Wong-Baker FACES 38221-8 is a 0-10 pain-intensity rating
#: (faces scored 0, 2, ..., 10): kept as the 0-10 pain score (project choice, documented).
FHIR_INSTRUMENTS = {"91147-9": "peg", "38221-8": "pain_nrs"}
#: Local (non-LOINC) codes are recognised by their display, as the long layout recognises a
#: name; beside the registry's names, a display naming PEG ("... (PEG) Assessment").
LOCAL_NAMES = ((re.compile(r"\bPEG\b"), "peg"),)
#: Item codes of the questionnaires (PHQ-9 items but item 9, GAD-7, PEG items): item-level
#: answers, skipped as the long layout skips them ("kept for PHQ-9 item 9 only").
ITEM_CODES = frozenset(c for form in FORMS for c in form.items if c not in ITEM_LOINC)
#: LOINC answer list LL358-3 (PHQ-9 / GAD-7 items) answer codes -> points.
LL358_3_CODES = {"LA6568-5": "0", "LA6569-3": "1", "LA6570-1": "2", "LA6571-9": "3"}
#: Statuses that mean "this did not happen / is not a result".
NOT_DONE = ("entered-in-error", "cancelled", "not-done", "stopped-in-error", "draft")
RESOURCE_TYPES = (
    "Patient",
    "Observation",
    "QuestionnaireResponse",
    "MedicationRequest",
    "MedicationAdministration",
    "Procedure",
    "AdverseEvent",
)
KETAMINE_RXNORM = ("6130", "2176004", "2180331")  # ketamine; esketamine; Spravato
#: SNOMED CT route codes -> kapoutcomes routes (text is matched too).
ROUTE_SNOMED = {
    "47625008": "IV",
    "78421000": "IM",
    "46713006": "intranasal",
    "37839007": "sublingual",
    "26643006": "oral",
    "6064005": "topical",
}
ROUTE_WORDS = {
    "intravenous": "IV",
    "iv": "IV",
    "intramuscular": "IM",
    "im": "IM",
    "nasal": "intranasal",
    "intranasal": "intranasal",
    "sublingual": "sublingual",
    "oral": "oral",
    "topical": "topical",
}
PATIENT_FLAGS = (
    "psychosis_history",
    "cardiovascular_disease",
    "raised_intracranial_pressure",
    "substance_use_disorder",
    "interacting_medication",
)


# -- element helpers ------------------------------------------------------------------------
def ref_id(ref: Any) -> str | None:
    """The id in a reference: ``Patient/abc`` , ``urn:uuid:abc``, ``.../Patient/abc/_history/2``."""
    r = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(r, str) or not r.strip():
        return None
    r = r.strip()
    if r.startswith("urn:uuid:") or r.startswith("urn:oid:"):
        return r.split(":", 2)[2]
    parts = r.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-1] or None


def ref_key(ref: Any) -> str | None:
    """``Type/id`` of a reference (the session a score or event belongs to)."""
    r = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(r, str) or not r.strip():
        return None
    parts = r.strip().split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:])


def _own_id(res: dict, prefix: str, *natural: str | None) -> str:
    """A session's or event's id: the resource's logical id (at most 64 characters in FHIR,
    as the tables allow; the same in every re-export, and what ``partOf`` / ``suspectEntity``
    point to), as the canonical layout keeps a given session_id; a resource without one
    gets an id made from its natural key (patient, time, type)."""
    rid = res.get("id")
    if isinstance(rid, str) and 0 < len(rid.strip()) <= 64:
        return rid.strip()
    key = "|".join(str(x or "") for x in natural)
    return f"{prefix}_{hashlib.sha256(('fhir|' + key).encode()).hexdigest()[:16]}"


def codings(cc: Any) -> list[dict]:
    if not isinstance(cc, dict):
        return []
    return [c for c in cc.get("coding") or [] if isinstance(c, dict)]


def code_of(cc: Any, systems: tuple[str, ...] = ()) -> str | None:
    """The first code (of one of ``systems`` when given; a coding without a system counts)."""
    for c in codings(cc):
        sys = str(c.get("system") or "").lower()
        if c.get("code") and (not systems or not sys or any(s in sys for s in systems)):
            return str(c["code"]).strip()
    return None


def text_of(cc: Any) -> str | None:
    if not isinstance(cc, dict):
        return None
    if isinstance(cc.get("text"), str) and cc["text"].strip():
        return cc["text"].strip()
    for c in codings(cc):
        if isinstance(c.get("display"), str) and c["display"].strip():
            return c["display"].strip()
    return None


def ext(res: dict, name: str) -> str | None:
    """The value of kapoutcomes extension ``name`` as text."""
    for e in res.get("extension") or []:
        if isinstance(e, dict) and e.get("url") == EXT + name:
            for k, v in e.items():
                if k.startswith("value"):
                    if isinstance(v, bool):
                        return "yes" if v else "no"
                    if isinstance(v, dict):
                        return code_of(v) or text_of(v)
                    return None if v is None else str(v)
    return None


def first_time(res: dict, *keys: str) -> str | None:
    for k in keys:
        v = res.get(k)
        if isinstance(v, dict):
            v = v.get("start")
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def value_of(obj: dict) -> tuple[str | None, str | None]:
    """(value text, unit) of an Observation or component ``value[x]``."""
    q = obj.get("valueQuantity")
    if isinstance(q, dict):
        v = q.get("value")
        return (None if v is None else _num(v)), (q.get("unit") or q.get("code"))
    for k in ("valueInteger", "valueDecimal"):
        if k in obj and obj[k] is not None:
            return _num(obj[k]), None
    if isinstance(obj.get("valueString"), str):
        return obj["valueString"], None
    cc = obj.get("valueCodeableConcept")
    if isinstance(cc, dict):
        for c in codings(cc):
            if c.get("code") in LL358_3_CODES:
                return LL358_3_CODES[c["code"]], None
        return text_of(cc), None
    if isinstance(obj.get("valueBoolean"), bool):
        return ("yes" if obj["valueBoolean"] else "no"), None
    return None, None


def _num(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def subject(res: dict) -> str | None:
    """The Patient a resource is about (a reference to a Group, Device or Location is none)."""
    ref = res.get("subject") or res.get("patient")
    r = ref.get("reference") if isinstance(ref, dict) else None
    if isinstance(r, str) and "/" in r and not r.startswith("urn:"):
        parts = r.strip().split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) < 2 or parts[-2] != "Patient":
            return None
    return ref_id(ref)


# -- per resource type ----------------------------------------------------------------------
def patient(row: int, res: dict, out: Collector) -> None:
    pid = res.get("id")
    birth = res.get("birthDate") if isinstance(res.get("birthDate"), str) else None
    gender = res.get("gender") if isinstance(res.get("gender"), str) else None
    out.raw(row, "Patient", patient=pid, birth_date=birth, gender=gender)
    for n in res.get("name") or []:
        if isinstance(n, dict):
            words = [n.get("family"), n.get("text"), *(n.get("given") or [])]
            out.name_words.update(
                w
                for t in words
                if isinstance(t, str)
                for w in re.split(r"[^\w]+", t)
                if len(w) >= 3
            )
    full = birth if birth and len(birth) >= 10 else None
    year = birth[:4] if birth and len(birth) < 10 else None
    org = res.get("managingOrganization")
    clinic = ext(res, "clinic") or (org.get("display") if isinstance(org, dict) else None)
    fact = {
        "patient_id": pid,
        "clinic": clinic,
        "primary_condition": ext(res, "primary-condition"),
        "comorbid_depression": ext(res, "comorbid-depression") or "no",
        "sex": gender,
        "birth_date": full,
        "birth_year": year,
        "age_band": ext(res, "age-band"),
        "referral_date": ext(res, "referral-date"),
    }
    for flag in PATIENT_FLAGS:
        fact[flag] = ext(res, flag.replace("_", "-"))
    out.fact("patients", row, fact)


def observation(row: int, res: dict, out: Collector) -> None:
    code = code_of(res.get("code"), (LOINC_SYSTEM,)) or code_of(res.get("code"))
    name = text_of(res.get("code"))
    pid = subject(res)
    at = first_time(res, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    value, unit = value_of(res)
    out.raw(row, "Observation", patient=pid, date=at, code=code, display=name, value=value)
    if res.get("status") in NOT_DONE:
        out.skip(row, f"Observation with status {res['status']}: not a result")
        return
    parts = [(code, name, value, unit)]
    if value is None and res.get("component"):
        parts = [
            (
                code_of(c.get("code"), (LOINC_SYSTEM,)) or code_of(c.get("code")),
                text_of(c.get("code")),
                *value_of(c),
            )
            for c in res["component"]
            if isinstance(c, dict)
        ]
    session = next((ref_key(p) for p in res.get("partOf") or [] if ref_key(p)), None)
    timing = ext(res, "timing")
    for c, n, v, u in parts:
        inst = _instrument(c)
        if inst is not None and (session or timing):
            out.fact(
                "assessments",
                row,
                {
                    "patient_id": pid,
                    "assessed_at": at,
                    "instrument": inst[0],
                    "item": inst[1],
                    "score": v,
                    "session_id": session.split("/")[-1] if session else None,
                    "timing": timing,
                },
            )
            continue
        if c in ITEM_CODES:  # as the long layout: items are kept for PHQ-9 item 9 only
            out.skip(row, "item-level answers are kept for PHQ-9 item 9 only")
            continue
        if c in FHIR_INSTRUMENTS:
            c, n = None, FHIR_INSTRUMENTS[c]
        elif c not in INSTRUMENT_LOINC and c not in VITAL_LOINC and n:
            local = next((code for pat, code in LOCAL_NAMES if pat.search(n)), None)
            c, n = (None, local) if local else (c, n)
        fact = {"patient": pid, "date": at, "code": c, "name": n, "value": v, "units": u}
        out.fact("long", row, fact)


def _instrument(code: str | None) -> tuple[str, str | None] | None:
    if code in ITEM_LOINC:
        inst, item = ITEM_LOINC[code]
        return inst, str(item)
    if code in INSTRUMENT_LOINC:
        return INSTRUMENT_LOINC[code], None
    if code in FHIR_INSTRUMENTS:
        return FHIR_INSTRUMENTS[code], None
    return None


def questionnaire_response(row: int, res: dict, out: Collector) -> None:
    pid = subject(res)
    at = first_time(res, "authored")
    scored = score_response(res, out.prorate_missing)
    out.raw(row, "QuestionnaireResponse", patient=pid, date=at, code=scored.instrument)
    if res.get("status") in ("entered-in-error", "stopped"):
        out.skip(row, f"QuestionnaireResponse with status {res['status']}: not a result")
        return
    if scored.instrument is None:
        out.skip(row, "QuestionnaireResponse not of PHQ-9, GAD-7 or PEG: not imported")
        return
    if scored.problem is not None:
        out.problem(row, "item", scored.detail, scored.problem)
        return
    for code, value in scored.facts:
        name = FHIR_INSTRUMENTS.get(code)
        fact = {"patient": pid, "date": at, "code": None if name else code, "name": name}
        out.fact("long", row, {**fact, "value": value, "units": None})


def medication_request(row: int, res: dict, out: Collector) -> None:
    pid = subject(res)
    med = _medication(res)
    start = first_time(res, "authoredOn") or _validity(res, "start")
    out.raw(row, "MedicationRequest", patient=pid, date=start, code=med[0], display=med[1])
    if res.get("status") in NOT_DONE or res.get("doNotPerform") is True:
        out.skip(row, "MedicationRequest cancelled, in error or not to be given")
        return
    freq, daily = _dosage(res.get("dosageInstruction"))
    out.fact(
        "medications",
        row,
        {
            "patient": pid,
            "start": start,
            "stop": _validity(res, "end"),
            "description": med[1],
            "code": med[0],
            "frequency": freq,
            "daily_dose": daily,
        },
    )


def _medication(res: dict) -> tuple[str | None, str | None]:
    cc = res.get("medicationCodeableConcept")
    ref = res.get("medicationReference")
    if cc is None and isinstance(ref, dict):
        rid = str(ref.get("reference") or "")
        for c in res.get("contained") or []:
            if isinstance(c, dict) and rid == "#" + str(c.get("id")):
                cc = c.get("code")
        if cc is None:
            return None, ref.get("display")
    return code_of(cc, RXNORM_SYSTEMS), text_of(cc)


def _validity(res: dict, end: str) -> str | None:
    v = (res.get("dispenseRequest") or {}).get("validityPeriod")
    return v.get(end) if isinstance(v, dict) else None


_PER_DAY = {
    "s": 86400.0,
    "min": 1440.0,
    "h": 24.0,
    "d": 1.0,
    "wk": 1 / 7,
    "mo": 1 / 30,
    "a": 1 / 365,
}


def _dosage(instructions: Any) -> tuple[str | None, str | None]:
    """(frequency text, daily dose text) from the first dosage instruction.

    Structured ``timing.repeat`` (frequency per period) gives doses a day; a ``doseQuantity``
    in mg (mcg, g) gives the daily dose in mg; a dose in units (tablets, capsules, patches)
    multiplies the doses a day. Only ``text`` (a sig): the sig is read as the CSV medication
    lists' sig column is. Nothing: no frequency (the importer quarantines the opioid)."""
    if not isinstance(instructions, list) or not instructions:
        return None, None
    d = instructions[0] if isinstance(instructions[0], dict) else {}
    rep = ((d.get("timing") or {}).get("repeat")) or {}
    per_day = None
    if isinstance(rep.get("frequency"), int | float) and rep.get("periodUnit") in _PER_DAY:
        period = rep.get("period") or 1
        if isinstance(period, int | float) and period > 0:
            per_day = rep["frequency"] / period * _PER_DAY[rep["periodUnit"]]
    if per_day is None:
        code = text_of((d.get("timing") or {}).get("code"))
        sig = code or d.get("text")
        return (sig if isinstance(sig, str) else None), None
    dose = None
    for dr in d.get("doseAndRate") or []:
        if isinstance(dr, dict) and isinstance(dr.get("doseQuantity"), dict):
            dose = dr["doseQuantity"]
            break
    if dose is None or not isinstance(dose.get("value"), int | float):
        return _num(round(per_day, 4)), None
    unit = str(dose.get("unit") or dose.get("code") or "").strip().lower()
    mg = {"mg": 1.0, "mcg": 0.001, "ug": 0.001, "µg": 0.001, "g": 1000.0}.get(unit)
    if mg is not None:
        return _num(round(per_day, 4)), _num(round(dose["value"] * mg * per_day, 4))
    return _num(round(per_day * dose["value"], 4)), None


def medication_administration(row: int, res: dict, out: Collector) -> None:
    pid = subject(res)
    code, text = _medication(res)
    start = first_time(res, "effectiveDateTime", "effectivePeriod")
    out.raw(row, "MedicationAdministration", patient=pid, date=start, code=code, display=text)
    if res.get("status") in NOT_DONE:
        out.skip(row, "MedicationAdministration not given (status)")
        return
    if code not in KETAMINE_RXNORM and "ketamine" not in (text or "").lower():
        out.skip(row, "MedicationAdministration of another drug: kapoutcomes tracks ketamine")
        return
    dosage = res.get("dosage") or {}
    dose = dosage.get("dose") if isinstance(dosage.get("dose"), dict) else {}
    route = _route(dosage.get("route"))
    _session(row, res, out, pid, start, route, dose, res.get("effectivePeriod"))


def procedure(row: int, res: dict, out: Collector) -> None:
    pid = subject(res)
    code, text = code_of(res.get("code")), text_of(res.get("code"))
    start = first_time(res, "performedDateTime", "performedPeriod")
    out.raw(row, "Procedure", patient=pid, date=start, code=code, display=text)
    if res.get("status") in NOT_DONE:
        out.skip(row, "Procedure not done (status)")
        return
    if ext(res, "session-type") is None and "ketamine" not in (text or "").lower():
        out.skip(row, "Procedure that is not a ketamine-clinic session: not imported")
        return
    _session(row, res, out, pid, start, None, {}, res.get("performedPeriod"))


def _route(cc: Any) -> str | None:
    code = code_of(cc)
    if code in ROUTE_SNOMED:
        return ROUTE_SNOMED[code]
    words = (text_of(cc) or code or "").lower().replace("-", " ").split()
    return next((ROUTE_WORDS[w] for w in words if w in ROUTE_WORDS), text_of(cc))


def _session(row, res, out, pid, start, route, dose, period) -> None:
    unit = str(dose.get("unit") or dose.get("code") or "mg").strip().lower()
    value = dose.get("value")
    mg = None
    if isinstance(value, int | float):
        factor = {"mg": 1.0, "mcg": 0.001, "ug": 0.001, "g": 1000.0}.get(unit)
        mg = None if factor is None else _num(round(value * factor, 4))
    minutes = ext(res, "infusion-minutes")
    if minutes is None and isinstance(period, dict) and period.get("start") and period.get("end"):
        minutes = _minutes(period["start"], period["end"])
    fact = {
        "session_id": _own_id(res, "s", pid, start),
        "patient_id": pid,
        "started_at": start,
        "session_type": ext(res, "session-type") or _session_type(res),
        "route": ext(res, "route") or route,
        "dose_mg": mg,
        "dose_mg_per_kg": ext(res, "dose-mg-per-kg")
        or (_num(value) if unit == "mg/kg" and value is not None else None),
        "weight_kg": ext(res, "weight-kg"),
        "infusion_minutes": minutes,
        "care_model": ext(res, "care-model"),
        "clinician": ext(res, "clinician"),
        "cost_usd": ext(res, "cost-usd"),
    }
    fact.update(_contained_vitals(res, start))
    out.fact("sessions", row, fact)


def _session_type(res: dict) -> str | None:
    words = " ".join(
        t or ""
        for t in (text_of(res.get("category")), text_of(res.get("code")), res.get("description"))
        if isinstance(t, str | type(None))
    ).lower()
    return next((t for t in tables.SESSION_TYPES if t in words), None)


def _minutes(a: str, b: str) -> str | None:
    try:
        d = dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)
    except ValueError:
        return None
    return str(round(d.total_seconds() / 60))


_VITAL_COLUMNS = {
    "systolic": "bp_systolic",
    "diastolic": "bp_diastolic",
    "heart_rate": "heart_rate",
    "spo2": "spo2",
}


def _contained_vitals(res: dict, start: str | None) -> dict[str, str | None]:
    """Vital signs held in the session resource itself (``contained`` Observations, the
    demo export's way): before / after dosing from the kapoutcomes timing extension, else
    by time (up to 5 minutes after the start = before)."""
    out: dict[str, str | None] = {}
    for c in res.get("contained") or []:
        if not isinstance(c, dict) or c.get("resourceType") != "Observation":
            continue
        when = ext(c, "timing") or _before_after(start, first_time(c, "effectiveDateTime"))
        parts = c.get("component") or [c]
        for p in parts:
            vital = VITAL_LOINC.get(code_of(p.get("code"), (LOINC_SYSTEM,)) or "")
            if vital in _VITAL_COLUMNS and when in ("before", "after"):
                out[f"{_VITAL_COLUMNS[vital]}_{when}"] = value_of(p)[0]
    return out


def _before_after(start: str | None, at: str | None) -> str | None:
    if not start or not at:
        return None
    try:
        gap = dt.datetime.fromisoformat(at) - dt.datetime.fromisoformat(start)
    except ValueError:
        return None
    return "before" if gap <= dt.timedelta(minutes=5) else "after"


def adverse_event(row: int, res: dict, out: Collector) -> None:
    pid = subject(res)
    at = first_time(res, "date", "detected", "recordedDate")
    cc = res.get("event")
    code, text = code_of(cc), text_of(cc)
    out.raw(row, "AdverseEvent", patient=pid, date=at, code=code, display=text)
    if res.get("actuality") == "potential":
        out.skip(row, "AdverseEvent that did not happen (actuality potential: a near miss)")
        return
    event = code if code in tables.EVENTS else None
    session = None
    for s in res.get("suspectEntity") or []:
        key = ref_key((s or {}).get("instance"))
        if key and key.split("/")[0] in ("MedicationAdministration", "Procedure"):
            session = key.split("/")[-1]
    serious = code_of(res.get("seriousness"))
    out.fact(
        "adverse_events",
        row,
        {
            "event_id": _own_id(res, "e", pid, at, code or text),
            "patient_id": pid,
            "session_id": session,
            "event": event or "other",
            "event_text": cc.get("text")
            if isinstance(cc, dict) and cc.get("text")
            else (None if event else text),
            "severity": code_of(res.get("severity")),
            "grade": ext(res, "grade"),
            "serious": "yes" if serious == "serious" else "no",
            "onset_at": at,
            "resolved_at": ext(res, "resolved-at"),
            "action_taken": ext(res, "action-taken"),
        },
    )


HANDLERS: dict[str, Callable[[int, dict, Collector], None]] = {
    "Patient": patient,
    "Observation": observation,
    "QuestionnaireResponse": questionnaire_response,
    "MedicationRequest": medication_request,
    "MedicationAdministration": medication_administration,
    "Procedure": procedure,
    "AdverseEvent": adverse_event,
}


def flatten(row: int, res: dict, out: Collector) -> None:
    """One resource into the collector: its row, and its facts or the reason it has none."""
    kind = res["resourceType"]
    handler = HANDLERS.get(kind)
    if handler is None:
        out.raw(row, kind, patient=subject(res))
        out.skip(row, f"FHIR {kind[:40]}: resource type not imported by kapoutcomes")
        return
    try:
        handler(row, res, out)
    except (TypeError, AttributeError, ValueError, KeyError, IndexError) as e:
        # an element of the wrong JSON type (a list where FHIR has an object, ...): the
        # resource is quarantined (its facts so far go with it), never a traceback
        if out.last_line != row:
            out.raw(row, kind, patient=None)
        out.problem(
            row,
            "(resource)",
            None,
            f"the {kind} does not have FHIR R4's shape ({type(e).__name__}): export it again",
        )
