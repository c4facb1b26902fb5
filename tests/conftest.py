"""Shared fixtures: small valid canonical frames built by hand (rows from tests/builders.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.builders import PID, PID2, assessment_row, frame, patient_row, session_row

# tests/ is a package (an __init__.py in it and in each stage folder), so pytest's default
# import mode puts the repository root on sys.path: test modules import as
# ``tests.<stage>.test_<module>``, and ``tests.builders``, ``tests.reference`` and ``bench`` (the
# fuzz driver, the pandas baseline) import from there under both ``pytest`` and ``python -m pytest``


@pytest.fixture(autouse=True)
def _own_home(tmp_path_factory, monkeypatch):
    """Every test gets its own installation folder (key, default store): nothing is read from
    or written to the real ~/.kapoutcomes, and no test sees another's key."""
    home = tmp_path_factory.mktemp("kap-home")
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(home))
    monkeypatch.delenv("KAPOUTCOMES_SECRET_FILE", raising=False)


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
    from tests.browser_support import CHROMIUM_ARGS, chromium_path

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()
