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
from tests.builders import _frame, patient, pid

D0 = dt.datetime(2024, 1, 1, 9, 0)
S = Settings()


def _patient(i: int) -> dict:
    return patient(i, dep=True)


def _session(i: int, day: float, n: int, kind: str = "induction") -> dict:
    return {
        "session_id": f"s{i}_{n}",
        "patient_id": pid(i),
        "started_at": D0 + dt.timedelta(days=day),
        "session_type": kind,
        "route": "IV",
        "care_model": "infusion_only",
        "clinician": "c1",
    }


def _rx(i: int, ingredient: str, dose: float, stop: int | None = None) -> dict:
    return {
        "patient_id": pid(i),
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


# -- remission by treatment month and at any time -----------------------------------------------
def _score(i: int, day: float, value: float, timing: str = "follow_up") -> dict:
    return {
        "patient_id": pid(i),
        "assessed_at": D0 + dt.timedelta(days=day),
        "instrument": "phq9",
        "score": float(value),
        "timing": timing,
    }


def _phq9_course() -> dict[str, pl.DataFrame]:
    """PHQ-9, one infusion each on day 0 (treatment month 1 = days 0-29, 2 = days 30-59).

    p1 baseline 16: day 10 -> 6 (62.5%, response, not remission), day 40 -> 4 (remission)
    p2 baseline 12: day 10 -> 10, day 40 -> 9 (neither); an after-dose 2 on day 0 is ignored
    p3 baseline 4 (not eligible): day 10 -> 1, day 40 -> 0
    Month 1: scored 3, eligible 2 (p1, p2): response 1 of 2, remission 0 of 2.
    Month 2: scored 3, eligible 2: response 1 of 2 (p1), remission 1 of 2 (p1).
    At any time: response 1 of 2, remission 1 of 2 (p1); 1 not eligible.
    """
    sessions = [_session(i, 0, 0) for i in (1, 2, 3)]
    scores = [
        _score(1, -1, 16),
        _score(1, 10, 6),
        _score(1, 40, 4),
        _score(2, -1, 12),
        _score(2, 0.1, 2, timing="after_dose"),
        _score(2, 10, 10),
        _score(2, 40, 9),
        _score(3, -1, 4),
        _score(3, 10, 1),
        _score(3, 40, 0),
    ]
    return {
        "patients": _frame("patients", [_patient(i) for i in (1, 2, 3)]),
        "sessions": _frame("sessions", sessions),
        "assessments": _frame("assessments", scores),
        "opioids": tables.empty("opioids"),
        "adverse_events": tables.empty("adverse_events"),
    }


def test_remission_by_treatment_month_among_eligible_patients():
    s = cohort_summary(_phq9_course(), S, comparisons=())
    m = s["improvement_by_month"].frames["months"].sort("treatment_month")
    cols = ["treatment_month", "scored", "denominator", "not_eligible", "n", "remission_n"]
    assert m.select(cols).rows() == [(1, 3, 2, 1, 1, 0), (2, 3, 2, 1, 1, 1)]
    assert m.get_column("remission_rate").to_list() == [0.0, 0.5]
    assert m.get_column("remission_lower").to_list()[0] == 0.0  # exact, no 1e-17
    assert "not used for change, response or episodes" in m.get_column("definition")[0]


def test_remission_and_response_at_any_time():
    s = cohort_summary(_phq9_course(), S, comparisons=())
    a = s["response"].frames["any_time"]
    got = {r["measure"]: (r["n"], r["denominator"], r["not_eligible"]) for r in a.to_dicts()}
    assert got == {"response": (1, 2, 1), "remission": (1, 2, 1)}
    assert "after dosing" in a.get_column("definition")[0]
