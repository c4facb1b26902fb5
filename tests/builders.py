"""Builders of small canonical tables for tests, shared across the test folders.

Two families: full rows for one patient (``patient_row``, ``session_row``, ``assessment_row``,
``frame``; the ids ``PID`` and ``PID2`` are real pseudonyms) and the compact per-patient builders
of the hand-worked outcome cohorts (``pid``, ``patient``, ``session``, ``score``, ``induction``,
``tables_of``, ``maintenance_patient``; dates are days after ``D0``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes import tables
from kapoutcomes.storage import privacy

# -- full rows ----------------------------------------------------------------------------------
PID = privacy.pseudonymise("MRN-1", b"test-secret-test-secret-test-secret!")
PID2 = privacy.pseudonymise("MRN-2", b"test-secret-test-secret-test-secret!")


def patient_row(pid: str = PID, **kw) -> dict:
    row = {
        "patient_id": pid,
        "clinic": "Riverside",
        "primary_condition": "CRPS",
        "comorbid_depression": True,
        "sex": "female",
        "birth_year": 1970,
        "age_band": "50-59",
        "referral_date": dt.date(2024, 1, 2),
        "psychosis_history": False,
        "cardiovascular_disease": False,
        "raised_intracranial_pressure": False,
        "substance_use_disorder": False,
        "interacting_medication": False,
    }
    row.update(kw)
    return row


def session_row(sid: str = "s1", pid: str = PID, **kw) -> dict:
    row = {
        "session_id": sid,
        "patient_id": pid,
        "started_at": dt.datetime(2024, 2, 1, 9, 0),
        "session_type": "induction",
        "route": "IV",
        "dose_mg": 40.0,
        "dose_mg_per_kg": 0.5,
        "weight_kg": 80.0,
        "infusion_minutes": 40,
        "care_model": "infusion_only",
        "clinician": "C01",
        "bp_systolic_before": 128,
        "bp_diastolic_before": 82,
        "heart_rate_before": 72,
        "spo2_before": 98,
        "bp_systolic_after": 138,
        "bp_diastolic_after": 86,
        "heart_rate_after": 80,
        "spo2_after": 97,
        "cost_usd": 600.0,
    }
    row.update(kw)
    return row


def assessment_row(pid: str = PID, **kw) -> dict:
    row = {
        "patient_id": pid,
        "assessed_at": dt.datetime(2024, 2, 1, 8, 30),
        "instrument": "pain_nrs",
        "item": None,
        "score": 7.0,
        "session_id": None,
        "timing": "before_dose",
    }
    row.update(kw)
    return row


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = tables.empty(table).schema
    return pl.DataFrame(rows, schema=schema)


# -- the hand-worked outcome cohorts ------------------------------------------------------------
D0 = dt.datetime(2024, 1, 1, 9, 0)


def pid(i: int) -> str:
    return f"p_{i:016x}"


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = tables.empty(table).schema
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def patient(i: int, clinic: str = "North", condition: str = "CRPS", dep: bool = True, **kw) -> dict:
    r = {
        "patient_id": pid(i),
        "clinic": clinic,
        "primary_condition": condition,
        "comorbid_depression": dep,
        "sex": "female",
        "birth_year": 1970,
        "age_band": "50-59",
        "referral_date": dt.date(2023, 12, 1),
        "psychosis_history": False,
        "cardiovascular_disease": False,
        "raised_intracranial_pressure": False,
        "substance_use_disorder": False,
        "interacting_medication": False,
    }
    r.update(kw)
    return r


def session(
    i: int, day: float, kind: str, n: int, route: str = "IV", care: str = "infusion_only", **kw
) -> dict:
    dosing = kind in tables.DOSING_TYPES
    r = {
        "session_id": f"s{i}_{n}",
        "patient_id": pid(i),
        "started_at": D0 + dt.timedelta(days=day),
        "session_type": kind,
        "route": route if dosing else None,
        "dose_mg": 35.0 if dosing else None,
        "care_model": care,
        "clinician": "c1",
    }
    r.update(kw)
    return r


def score(
    i: int,
    day: float,
    value: float,
    inst: str = "pain_nrs",
    item: int | None = None,
    timing: str = "follow_up",
    sid: str | None = None,
) -> dict:
    return {
        "patient_id": pid(i),
        "assessed_at": D0 + dt.timedelta(days=day),
        "instrument": inst,
        "item": item,
        "score": float(value),
        "session_id": sid,
        "timing": timing,
    }


def induction(i: int, days: list[float], **kw) -> list[dict]:
    return [session(i, d, "induction", n, **kw) for n, d in enumerate(days)]


def tables_of(
    patients=(), sessions=(), assessments=(), opioid_rows=(), events=()
) -> dict[str, pl.DataFrame]:
    return {
        "patients": _frame("patients", list(patients)),
        "sessions": _frame("sessions", list(sessions)),
        "assessments": _frame("assessments", list(assessments)),
        "opioids": _frame("opioids", list(opioid_rows)),
        "adverse_events": _frame("adverse_events", list(events)),
    }


SIX = [0, 2, 4, 7, 9, 11]  # a complete 6-infusion induction; its end is day 11


def maintenance_patient(i: int = 1) -> dict[str, pl.DataFrame]:
    """Patient 1, worked by hand below.

    induction days 0-11 (6 infusions, ends day 11); booster day 40; maintenance day 75.
    pain: baseline 8 (day -2); day 14: 4 (50%), 21: 5 (37.5%), 28: 6 (25%), 35: 6.5 (18.75%),
    45: 4 (50%), 60: 4, 70: 6 (25%), 72: 7 (12.5%), 80: 3 (62.5%). Response = >= 30%.
    """
    sessions = [*induction(i, SIX), session(i, 40, "booster", 7), session(i, 75, "maintenance", 8)]
    pain = [
        (-2, 8),
        (14, 4),
        (21, 5),
        (28, 6),
        (35, 6.5),
        (45, 4),
        (60, 4),
        (70, 6),
        (72, 7),
        (80, 3),
    ]
    return tables_of([patient(i)], sessions, [score(i, d, v) for d, v in pain])


def newest_audit_entry_deleted_is_reported(st) -> None:  # type: ignore[no-untyped-def]
    """The attack of issue 15's second pass on a store whose newest audit entry was just
    written: the trail verifies, the newest entry is deleted, and ``audit verify`` reports it
    (the checkpoint names that entry)."""
    from kapoutcomes.storage import audit, keys

    key = keys.for_store(st).audit
    assert audit.verify(st, key).ok
    st.con.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    result = audit.verify(st, key)
    assert not result.ok
    assert any("newest entries were deleted" in p for p in result.problems)
