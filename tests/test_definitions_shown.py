"""Every number with its denominator and definition (issue 12 item 8): opioid timepoints
nobody reached show 0 of 0, the mean MME change has a t interval beside the medians, and the
after-dose exclusion is stated. Hand-worked (arithmetic in the comments)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings

D0 = dt.datetime(2024, 1, 1, 9, 0)
S = Settings()


def _pid(i: int) -> str:
    return f"p_{i:016x}"


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = tables.empty(table).schema
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def _patient(i: int) -> dict:
    return {
        "patient_id": _pid(i),
        "clinic": "North",
        "primary_condition": "CRPS",
        "comorbid_depression": True,
    }


def _session(i: int, day: float, n: int, kind: str = "induction") -> dict:
    return {
        "session_id": f"s{i}_{n}",
        "patient_id": _pid(i),
        "started_at": D0 + dt.timedelta(days=day),
        "session_type": kind,
        "route": "IV",
        "care_model": "infusion_only",
        "clinician": "c1",
    }


def _rx(i: int, ingredient: str, dose: float, stop: int | None = None) -> dict:
    return {
        "patient_id": _pid(i),
        "ingredient": ingredient,
        "unit": "mg",
        "daily_dose": dose,
        "start_date": (D0 - dt.timedelta(days=100)).date(),
        "stop_date": None if stop is None else (D0 + dt.timedelta(days=stop)).date(),
        "mme_table": "CDC-2022",
    }


def _opioid_tables() -> dict[str, pl.DataFrame]:
    """p1 oxycodone 20 mg/day (30 MME) stopped day 50, last contact day 100;
    p2 morphine 60 mg/day (60 MME) throughout, last contact day 120. Day 91 (3 months):
    both observed, changes -30 and 0. Day 183 (6 months): nobody observed."""
    sessions = [_session(1, 0, 0), _session(1, 100, 1, "maintenance")]
    sessions += [_session(2, 0, 0), _session(2, 120, 1, "maintenance")]
    return {
        "patients": _frame("patients", [_patient(1), _patient(2)]),
        "sessions": _frame("sessions", sessions),
        "assessments": tables.empty("assessments"),
        "opioids": _frame("opioids", [_rx(1, "oxycodone", 20, stop=50), _rx(2, "morphine", 60)]),
        "adverse_events": tables.empty("adverse_events"),
    }


def _tp() -> pl.DataFrame:
    return cohort_summary(_opioid_tables(), S, comparisons=())["opioids"].frames["timepoints"]


def test_a_timepoint_nobody_reached_shows_0_of_0():
    six = _tp().filter(pl.col("timepoint") == "6 months")
    # every measure of the timepoint is there, with 0 observed patients and no value
    assert set(six.get_column("measure")) >= {
        "on_opioids",
        "above_50_mme",
        "above_90_mme",
        "median_mme_all",
        "reduction_50",
        "discontinued",
        "mean_mme_change",
    }
    assert set(six.get_column("denominator")) == {0}
    on = six.filter(pl.col("measure") == "on_opioids").row(0, named=True)
    assert (on["n"], on["denominator"], on["value"]) == (0, 0, None)


def test_mean_mme_change_with_a_t_interval():
    x = _tp().filter((pl.col("timepoint") == "3 months") & (pl.col("measure") == "mean_mme_change"))
    r = x.row(0, named=True)
    # changes -30 (p1: 30 -> 0) and 0 (p2: 60 -> 60): mean -15, SD 21.2132;
    # half width t(0.975, 1) * SD / sqrt(2) = 12.7062 * 15 = 190.593
    assert (r["n"], r["denominator"], r["unit"]) == (2, 2, "MME/day")
    assert r["value"] == pytest.approx(-15.0)
    assert r["lower"] == pytest.approx(-15 - 190.5931, abs=1e-3)
    assert r["upper"] == pytest.approx(-15 + 190.5931, abs=1e-3)
    assert "t interval" in r["definition"]
    # none at baseline (a change from itself)
    assert (
        _tp()
        .filter((pl.col("timepoint") == "baseline") & (pl.col("measure") == "mean_mme_change"))
        .is_empty()
    )
