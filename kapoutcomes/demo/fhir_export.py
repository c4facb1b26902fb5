"""A FHIR R4 bulk export of the whole demo cohort: ``exports/fhir/<Type>.ndjson``, one
resource per line, as a FHIR server's ``$export`` writes it.

It holds what the canonical tables hold, so importing the folder gives the same tables (and the
same report) as importing ``demo/*.csv``:

* ``Patient``: id = the demo's pseudonymous id, gender, birthDate as the year only, clinic as
  ``managingOrganization.display``; condition, comorbid depression, referral date, age band
  and screening flags as kapoutcomes extensions (FHIR R4 has no element for them).
* ``MedicationAdministration`` (ketamine dosing sessions: RxNorm 6130, route as SNOMED CT,
  dose in mg, period start / end) and ``Procedure`` (screening, preparation, integration,
  psychotherapy); the session type, care model, clinician code, weight, mg/kg and cost as
  extensions; vital signs before / after dosing as ``contained`` Observations (BP panel
  85354-9, heart rate 8867-4, SpO2 59408-5) with a timing extension.
* ``Observation``: scores by LOINC (pain 72514-3, PHQ-9 44261-6, GAD-7 70274-6, PHQ-9 item 9
  44260-8 as an LL358-3 answer), ``partOf`` the session, timing as an extension.
* ``MedicationRequest``: RxNorm, ``dosageInstruction`` timing (doses a day) and dose in mg,
  ``dispenseRequest.validityPeriod`` for start / stop.
* ``AdverseEvent``: the event in kapoutcomes' vocabulary, severity, seriousness, the session
  as ``suspectEntity``; grade, resolution and action as extensions.

Times carry the clinic's UTC offset (FHIR requires a zone on a time). No module of the demo
is imported here (the caller passes the tables, zone and decimals), so this file adds no
import loop.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from kapoutcomes.definitions import instruments

EXT = "urn:kapoutcomes:fhir:"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ROUTE_SNOMED = {
    "IV": ("47625008", "Intravenous route"),
    "IM": ("78421000", "Intramuscular route"),
    "intranasal": ("46713006", "Nasal route"),
    "sublingual": ("37839007", "Sublingual route"),
    "oral": ("26643006", "Oral route"),
    "topical": ("6064005", "Topical route"),
}
LL358_3 = {
    0: ("LA6568-5", "Not at all"),
    1: ("LA6569-3", "Several days"),
    2: ("LA6570-1", "More than half the days"),
    3: ("LA6571-9", "Nearly every day"),
}
VITALS = (("heart_rate", "8867-4", "Heart rate", "/min"), ("spo2", "59408-5", "SpO2", "%"))
FILES = (
    "Patient",
    "MedicationAdministration",
    "Procedure",
    "Observation",
    "MedicationRequest",
    "AdverseEvent",
)


def _ext(name: str, kind: str, value: Any) -> dict | None:
    return None if value is None else {"url": EXT + name, kind: value}


def _exts(*items: dict | None) -> dict:
    got = [i for i in items if i is not None]
    return {"extension": got} if got else {}


class _Clock:
    """Clinic local times -> FHIR dateTimes with the clinic's offset."""

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)

    def __call__(self, t: dt.datetime | None) -> str | None:
        return None if t is None else t.replace(tzinfo=self.zone).isoformat()


def _round(v: float | None, places: int) -> float | int | None:
    if v is None:
        return None
    r = round(float(v), places)
    return int(r) if r.is_integer() else r


def patients(p: pl.DataFrame) -> list[dict]:
    out = []
    for r in p.sort("patient_id").iter_rows(named=True):
        flags = [
            _ext(c.replace("_", "-"), "valueBoolean", r[c])
            for c in (
                "psychosis_history",
                "cardiovascular_disease",
                "raised_intracranial_pressure",
                "substance_use_disorder",
                "interacting_medication",
            )
        ]
        res = {
            "resourceType": "Patient",
            "id": r["patient_id"],
            **_exts(
                _ext("primary-condition", "valueCode", r["primary_condition"]),
                _ext("comorbid-depression", "valueBoolean", r["comorbid_depression"]),
                _ext("referral-date", "valueDate", r["referral_date"].isoformat()),
                _ext("age-band", "valueString", r["age_band"]),
                *flags,
            ),
            "identifier": [{"system": EXT + "patient-id", "value": r["patient_id"]}],
            "gender": r["sex"],
            "managingOrganization": {"display": r["clinic"]},
        }
        if r["birth_year"] is not None:
            res["birthDate"] = str(r["birth_year"])
        out.append(res)
    return out


def _vitals(r: dict, when: str, at: str | None) -> list[dict]:
    out = []
    timing = _exts(_ext("timing", "valueCode", when))
    sys_, dia = r[f"bp_systolic_{when}"], r[f"bp_diastolic_{when}"]
    if sys_ is not None or dia is not None:
        comps = [
            {
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": {"value": v, "unit": "mm[Hg]"},
            }
            for code, v in (("8480-6", sys_), ("8462-4", dia))
            if v is not None
        ]
        out.append(
            {
                "resourceType": "Observation",
                "id": f"bp-{when}",
                **timing,
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "BP panel"},
                "effectiveDateTime": at,
                "component": comps,
            }
        )
    for col, code, text, unit in VITALS:
        v = r[f"{col}_{when}"]
        if v is not None:
            out.append(
                {
                    "resourceType": "Observation",
                    "id": f"{col}-{when}",
                    **timing,
                    "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": code}], "text": text},
                    "effectiveDateTime": at,
                    "valueQuantity": {"value": v, "unit": unit},
                }
            )
    return out


def sessions(s: pl.DataFrame, clock: _Clock, dec: dict) -> tuple[list[dict], list[dict]]:
    """(MedicationAdministration for dosing sessions, Procedure for the others)."""
    given, other = [], []
    for r in s.sort("patient_id", "started_at", "session_id").iter_rows(named=True):
        start = clock(r["started_at"])
        end = (
            clock(r["started_at"] + dt.timedelta(minutes=r["infusion_minutes"]))
            if r["infusion_minutes"] is not None
            else None
        )
        after = end or clock(r["started_at"] + dt.timedelta(minutes=60))
        contained = _vitals(r, "before", start) + _vitals(r, "after", after)
        common = {
            "id": r["session_id"],
            **_exts(
                _ext("session-type", "valueCode", r["session_type"]),
                _ext("care-model", "valueCode", r["care_model"]),
                _ext("clinician", "valueString", r["clinician"]),
                _ext("weight-kg", "valueDecimal", _round(r["weight_kg"], dec["weight_kg"])),
                _ext(
                    "dose-mg-per-kg",
                    "valueDecimal",
                    _round(r["dose_mg_per_kg"], dec["dose_mg_per_kg"]),
                ),
                _ext("cost-usd", "valueDecimal", _round(r["cost_usd"], dec["cost_usd"])),
            ),
            **({"contained": contained} if contained else {}),
            "status": "completed",
            "subject": {"reference": f"Patient/{r['patient_id']}"},
        }
        period = {"start": start, **({"end": end} if end else {})}
        if r["route"] is None:
            other.append(
                {
                    "resourceType": "Procedure",
                    **common,
                    "code": {"text": f"ketamine clinic {r['session_type']} session"},
                    "performedPeriod": period,
                }
            )
            continue
        code, text = ROUTE_SNOMED[r["route"]]
        dosage: dict[str, Any] = {
            "route": {"coding": [{"system": SNOMED, "code": code}], "text": text}
        }
        if r["dose_mg"] is not None:
            dosage["dose"] = {"value": _round(r["dose_mg"], dec["dose_mg"]), "unit": "mg"}
        given.append(
            {
                "resourceType": "MedicationAdministration",
                **common,
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": "6130", "display": "ketamine"}]
                },
                "effectivePeriod": period,
                "dosage": dosage,
            }
        )
    return given, other


def _session_refs(s: pl.DataFrame) -> dict[str, str]:
    return {
        sid: ("Procedure" if route is None else "MedicationAdministration") + "/" + sid
        for sid, route in s.select("session_id", "route").iter_rows()
    }


def observations(a: pl.DataFrame, refs: dict[str, str], clock: _Clock, places: int) -> list[dict]:
    loinc = {code: i.loinc for code, i in instruments.INSTRUMENTS.items() if i.loinc}
    out = []
    rows = a.sort("patient_id", "assessed_at", "instrument", "item", nulls_last=False)
    for n, r in enumerate(rows.iter_rows(named=True), start=1):
        res: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"obs-{n:06d}",
            **_exts(_ext("timing", "valueCode", r["timing"])),
            "status": "final",
            "category": [{"coding": [{"code": "survey"}]}],
        }
        if r["session_id"] is not None:
            res["partOf"] = [{"reference": refs[r["session_id"]]}]
        res["subject"] = {"reference": f"Patient/{r['patient_id']}"}
        res["effectiveDateTime"] = clock(r["assessed_at"])
        if r["item"] == 9 and r["instrument"] == "phq9":
            res["code"] = {"coding": [{"system": LOINC, "code": "44260-8"}]}
            code, text = LL358_3[int(r["score"])]
            res["valueCodeableConcept"] = {
                "coding": [{"system": LOINC, "code": code, "display": text}]
            }
        else:
            res["code"] = {"coding": [{"system": LOINC, "code": loinc[r["instrument"]]}]}
            res["valueQuantity"] = {"value": _round(r["score"], places)}
        out.append(res)
    return out


def medication_requests(o: pl.DataFrame, dec: dict) -> list[dict]:
    out = []
    rows = o.sort("patient_id", "start_date", "ingredient", "daily_dose")
    for n, r in enumerate(rows.iter_rows(named=True), start=1):
        daily = _round(r["daily_dose"], dec["daily_dose"])
        dosage: list[dict] = []
        if r["unit"] != "mcg/hr" and r["frequency_per_day"]:
            freq = _round(r["frequency_per_day"], dec["frequency_per_day"])
            dosage = [
                {
                    "timing": {"repeat": {"frequency": freq, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": daily / freq, "unit": "mg"}}],
                }
            ]
        validity = {"start": r["start_date"].isoformat()}
        if r["stop_date"] is not None:
            validity["end"] = r["stop_date"].isoformat()
        out.append(
            {
                "resourceType": "MedicationRequest",
                "id": f"rx-{n:05d}",
                "status": "completed" if r["stop_date"] is not None else "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": r["rxnorm"]}],
                    "text": r["description"],
                },
                "subject": {"reference": f"Patient/{r['patient_id']}"},
                "authoredOn": r["start_date"].isoformat(),
                **({"dosageInstruction": dosage} if dosage else {}),
                "dispenseRequest": {"validityPeriod": validity},
            }
        )
    return out


def adverse_events(e: pl.DataFrame, refs: dict[str, str], clock: _Clock) -> list[dict]:
    out = []
    for r in e.sort("patient_id", "onset_at", "event_id").iter_rows(named=True):
        event: dict[str, Any] = {"coding": [{"system": EXT + "event", "code": r["event"]}]}
        if r["event_text"] is not None:
            event["text"] = r["event_text"]
        res: dict[str, Any] = {
            "resourceType": "AdverseEvent",
            "id": r["event_id"],
            **_exts(
                _ext("grade", "valueInteger", r["grade"]),
                _ext("resolved-at", "valueDateTime", clock(r["resolved_at"])),
                _ext("action-taken", "valueCode", r["action_taken"]),
            ),
            "actuality": "actual",
            "event": event,
            "subject": {"reference": f"Patient/{r['patient_id']}"},
            "date": clock(r["onset_at"]),
            "seriousness": {"coding": [{"code": "serious" if r["serious"] else "non-serious"}]},
        }
        if r["severity"] is not None:
            res["severity"] = {"coding": [{"code": r["severity"]}]}
        if r["session_id"] is not None:
            res["suspectEntity"] = [{"instance": {"reference": refs[r["session_id"]]}}]
        out.append(res)
    return out


def _ndjson(resources: Iterable[dict]) -> str:
    return "".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in resources
    )


def fhir_files(
    t: dict[str, pl.DataFrame], zone: str, decimals: dict[str, dict[str, int]]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(path under the sample folder, ndjson text, catalog entry fields) per resource type."""
    clock = _Clock(zone)
    refs = _session_refs(t["sessions"])
    given, other = sessions(t["sessions"], clock, decimals["sessions"])
    by_type = {
        "Patient": patients(t["patients"]),
        "MedicationAdministration": given,
        "Procedure": other,
        "Observation": observations(
            t["assessments"], refs, clock, decimals["assessments"]["score"]
        ),
        "MedicationRequest": medication_requests(t["opioids"], decimals["opioids"]),
        "AdverseEvent": adverse_events(t["adverse_events"], refs, clock),
    }
    out = []
    for kind in FILES:
        rel = f"exports/fhir/{kind}.ndjson"
        out.append(
            (
                rel,
                _ndjson(by_type[kind]),
                {
                    "path": rel,
                    "what": f"FHIR R4 bulk export of the whole demo cohort: {kind} resources, "
                    "one per line (imports to the same tables as demo/*.csv)",
                    "rows": len(by_type[kind]),
                    "encoding": "UTF-8, LF line endings (ndjson)",
                    "delimiter": "- (one JSON resource per line)",
                    "mess": [
                        "times with the clinic's UTC offset (" + zone + ")",
                        "kapoutcomes extensions (" + EXT + "...) for what FHIR R4 has no "
                        "element for: session type, care model, timing, screening flags",
                    ],
                    "counts": {"resources": len(by_type[kind])},
                },
            )
        )
    return out


__all__ = ["EXT", "fhir_files"]
