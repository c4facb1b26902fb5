"""Shared fixtures: small valid canonical frames built by hand."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import pytest

from kapoutcomes.storage import privacy

# ``bench`` (the fuzz generators, the pandas baseline) is imported by tests from the repository
# root, which the ``pytest`` script, unlike ``python -m pytest``, does not put on the path
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory, monkeypatch):
    """Every test gets its own installation folder (key, default store): nothing is read from
    or written to the real ~/.kapoutcomes, and no test sees another's key."""
    home = tmp_path_factory.mktemp("kap-home")
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(home))
    monkeypatch.delenv("KAPOUTCOMES_SECRET_FILE", raising=False)


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
    from kapoutcomes import tables

    schema = tables.empty(table).schema
    return pl.DataFrame(rows, schema=schema)


@pytest.fixture
def small_tables() -> dict[str, pl.DataFrame]:
    from kapoutcomes import tables
    from kapoutcomes.definitions import opioids

    op = pl.DataFrame(
        [
            {
                "patient_id": PID,
                "ingredient": "oxycodone",
                "strength": 10.0,
                "unit": "mg",
                "frequency_per_day": 3.0,
                "daily_dose": 30.0,
                "start_date": dt.date(2023, 6, 1),
                "stop_date": None,
                "rxnorm": "7804",
                "description": "oxycodone 10 mg tablet",
            }
        ]
    )
    op = opioids.add_daily_mme(op).select(tables.columns("opioids"))
    return {
        "patients": frame("patients", [patient_row(), patient_row(PID2, clinic="Lakeshore")]),
        "sessions": frame("sessions", [session_row(), session_row("s2", PID2)]),
        "assessments": frame(
            "assessments", [assessment_row(session_id="s1"), assessment_row(PID2, score=5.0)]
        ),
        "opioids": frame("opioids", op.to_dicts()),
        "adverse_events": frame(
            "adverse_events",
            [
                {
                    "event_id": "e1",
                    "patient_id": PID,
                    "session_id": "s1",
                    "event": "nausea_vomiting",
                    "event_text": None,
                    "severity": "mild",
                    "grade": None,
                    "serious": False,
                    "onset_at": dt.datetime(2024, 2, 1, 9, 30),
                    "resolved_at": dt.datetime(2024, 2, 1, 11, 0),
                    "action_taken": "medication_given",
                }
            ],
        ),
    }


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from browser_support import CHROMIUM_ARGS, chromium_path

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()
