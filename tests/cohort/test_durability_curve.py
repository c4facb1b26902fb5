"""The durability curve answers "after a successful induction, how long does benefit last?".

Hand-worked small cohorts (the arithmetic is in the comments), property tests (hypothesis):
no primary-curve event before its origin, the primary population is the end-of-induction
responders, and the Turnbull median on hand-worked intervals.

The builders are local to this file (the shared ones in tests/test_outcomes.py are moving).
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kapoutcomes.cohort import durability
from kapoutcomes.cohort.metrics import patient_metrics
from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, episodes
from kapoutcomes.stats.turnbull import turnbull
from tests.builders import _frame, patient, pid

D0 = dt.datetime(2024, 1, 1, 9, 0)
S = Settings()  # pain response: >= 30% reduction; loss: 2 consecutive below, or a booster
SIX = [0, 2, 4, 7, 9, 11]  # a complete induction: 6 infusions, its end is day 11


def _patient(i: int) -> dict:
    return patient(i, dep=False)


def _session(i: int, day: float, kind: str, n: int) -> dict:
    return {
        "session_id": f"s{i}_{n}",
        "patient_id": pid(i),
        "started_at": D0 + dt.timedelta(days=day),
        "session_type": kind,
        "route": "IV",
        "dose_mg": 35.0,
        "care_model": "infusion_only",
        "clinician": "c1",
    }


def _score(i: int, day: float, value: float) -> dict:
    return {
        "patient_id": pid(i),
        "assessed_at": D0 + dt.timedelta(days=day),
        "instrument": "pain_nrs",
        "score": float(value),
        "timing": "follow_up",
    }


def _tables(patients: dict[int, dict]) -> dict[str, pl.DataFrame]:
    """``patients``: id -> {"doses": [(day, kind)], "pain": [(day, score)]}."""
    ses, sco = [], []
    for i, p in patients.items():
        ses += [_session(i, d, k, n) for n, (d, k) in enumerate(p["doses"])]
        sco += [_score(i, d, v) for d, v in p["pain"]]
    return {
        "patients": _frame("patients", [_patient(i) for i in patients]),
        "sessions": _frame("sessions", ses),
        "assessments": _frame("assessments", sco),
        "opioids": _frame("opioids", []),
        "adverse_events": _frame("adverse_events", []),
    }


INDUCTION = [(d, "induction") for d in SIX]

# Baseline 8 (day -2) for all but patient 5; response = score <= 5.6 (>= 30% reduction). The
# end-of-induction (EOI) score is the first after day 11, within 31 days: day 14 for all.
COHORT = {
    # 1: responds after the 2nd infusion (day 2.5: 4), lost during induction (days 5 and 8
    #    below: lost day 5, confirmed day 8), not responding at EOI (day 14: 7, 12.5%).
    #    Non-responder: not on the primary curve (it used to be a loss at day 0). Its episode
    #    is timed from the day-2 infusion: 5 - 2 = 3 days; last_assessed_at = day 8 (the
    #    confirming score), not day 28 (the last score).
    1: {"doses": INDUCTION, "pain": [(-2, 8), (2.5, 4), (5, 7), (8, 7), (14, 7), (28, 7)]},
    # 2: EOI responder (day 14: 4), still on day 28, lost day 42 (42 and 56 below).
    #    Primary: 42 - 11 = 31 days, event; interval (28 - 11, 42 - 11] = (17, 31].
    2: {"doses": INDUCTION, "pain": [(-2, 8), (14, 4), (28, 4), (42, 7), (56, 7)]},
    # 3: later responder: EOI non-responder (day 14: 7); maintenance day 30, responding
    #    day 35, lost day 49 (49 and 63 below). Not on the primary curve; its episode is
    #    timed from the maintenance infusion: 49 - 30 = 19 days.
    3: {
        "doses": [*INDUCTION, (30, "maintenance")],
        "pain": [(-2, 8), (14, 7), (35, 4), (49, 7), (63, 7)],
    },
    # 4: still responding: EOI 3, day 28: 3, day 42: 3, day 49: 6 (one dip: not a loss with
    #    2 required). Primary: censored at the last assessment, 49 - 11 = 38 days; the
    #    Turnbull set is right-censored at the last responding score: (42 - 11, inf) = (31, inf).
    4: {"doses": INDUCTION, "pain": [(-2, 8), (14, 3), (28, 3), (42, 3), (49, 6)]},
    # 5: no baseline (first score day 14): treated, not evaluable.
    5: {"doses": INDUCTION, "pain": [(14, 4), (28, 4)]},
    # 6: EOI responder (day 14: 4), lost day 21 (21 and 28 below). Primary: 21 - 11 = 10 days,
    #    event; interval (14 - 11, 21 - 11] = (3, 10].
    6: {"doses": INDUCTION, "pain": [(-2, 8), (14, 4), (21, 7), (28, 7)]},
}


@pytest.fixture(scope="module")
def cohort():
    t = _tables(COHORT)
    return t, cohort_summary(t, comparisons=())


def _pain(frame: pl.DataFrame) -> dict:
    return frame.filter(pl.col("instrument") == "pain_nrs").row(0, named=True)


def test_primary_denominator_is_responders_of_evaluable(cohort):
    # responders 2, 4, 6 (3) of evaluable 1, 2, 3, 4, 6 (5); non-responders 1, 3 (2); of the
    # 6 treated, patient 5 is not evaluable (1)
    _, s = cohort
    r = _pain(s["durability"].frames["summary"])
    assert (r["responders"], r["evaluable"], r["non_responders"]) == (3, 5, 2)
    assert (r["not_evaluable"], r["itt_denominator"]) == (1, 6)
    assert r["population"].startswith("3 responders of 5 evaluable at the end of induction")
    assert "(2 non-responders)" in r["population"] and "1 of the 6" in r["population"]
    # the same denominator as the end-of-induction response rate
    rate = (
        s["response"]
        .frames["rates"]
        .filter((pl.col("instrument") == "pain_nrs") & (pl.col("measure") == "response"))
    )
    assert rate.select("n", "denominator").row(0) == (3, 5)


def test_primary_kaplan_meier_by_hand(cohort):
    # durations 10 (event), 31 (event), 38 (censored): S = 2/3 after day 10, 2/3 * 1/2 = 1/3
    # after day 31 -> median 31 days (the first time S <= 0.5); no event at day 0
    _, s = cohort
    r = _pain(s["durability"].frames["summary"])
    assert (r["n"], r["events"]) == (3, 2)
    assert r["median_days"] == pytest.approx(31.0)
    curve = s["durability"].frames["curves"].filter(pl.col("instrument") == "pain_nrs")
    assert curve.get_column("time_days").to_list() == pytest.approx([0.0, 10.0, 31.0, 38.0])
    assert curve.get_column("survival").to_list() == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3])
    assert curve.filter(pl.col("time_days") == 0).get_column("events").sum() == 0
    at_risk = s["durability"].frames["at_risk"].filter(pl.col("instrument") == "pain_nrs")
    # weeks 0, 4, 8 ...: 3 at risk at day 0; at day 28 patients 2 and 4 (31 and 38 days)
    assert at_risk.get_column("at_risk").to_list()[:3] == [3, 2, 0]


def test_primary_turnbull_median_by_hand(cohort):
    # sets (3, 10], (17, 31], (31, inf): disjoint, so each innermost interval holds 1/3;
    # cumulative 1/3, 2/3 -> S falls to 0.5 inside (17, 31]: median interval (17, 31],
    # midpoint 24 days, earlier than the Kaplan-Meier 31 days dated at the later assessment
    _, s = cohort
    r = _pain(s["durability"].frames["summary"])
    assert (r["turnbull_median_from"], r["turnbull_median_to"]) == pytest.approx((17.0, 31.0))
    assert r["turnbull_median_days"] == pytest.approx(24.0)
    assert r["turnbull_median_days"] < r["median_days"]
    cav = " ".join(s["durability"].caveats)
    # stated in weeks, the unit of the durability chart (31 / 7 = 4.4, 24 / 7 = 3.4, 17 / 7 = 2.4)
    assert "Kaplan-Meier 4.4 weeks" in cav and "overstates durability" in cav
    assert "Turnbull (interval-censored, on days) 3.4 weeks (between 2.4 and 4.4)" in cav


def test_turnbull_median_on_overlapping_intervals_by_hand():
    # sets (1, 3], (2, 4], (5, inf): endpoints in order L1 L2 R3 R4 L5 -> innermost intervals
    # (2, 3] (in both of the first two sets) and (5, inf). The likelihood p1^2 * p2 with
    # p1 + p2 = 1 is largest at p1 = 2/3: S falls from 1 to 1/3 inside (2, 3], so the
    # median interval is (2, 3] with midpoint 2.5 (Kaplan-Meier on the right ends, 3 and 4
    # events and 5 censored, would say 4)
    tb = turnbull([1.0, 2.0, 5.0], [3.0, 4.0, math.inf])
    assert tb.median == pytest.approx((2.0, 3.0)) and tb.median_midpoint == pytest.approx(2.5)
    assert tb.probabilities.tolist() == pytest.approx([2 / 3, 1 / 3], abs=1e-8)


def test_secondary_curve_every_episode_from_its_dose(cohort):
    # episodes from their dose: 3 (patient 1, from the day-2 infusion), 31 (2), 19 (3, from
    # the maintenance infusion), 38 censored (4), 10 (6). S: 4/5 after 3, 3/5 after 10,
    # 2/5 after 19 -> median 19 days; 5 episodes from 5 patients
    _, s = cohort
    frames = s["durability"].frames
    r = _pain(frames["secondary_summary"])
    assert (r["n"], r["events"]) == (5, 4)
    assert r["median_days"] == pytest.approx(19.0)
    assert r["definition"].startswith("secondary:")
    assert "5 episodes from 5 patients" in r["caveats"]
    assert _pain(frames["summary"])["definition"].startswith("primary:")


def test_episode_ending_during_induction_is_timed_from_its_infusion(cohort):
    t, _ = cohort
    base = change.baselines(t["assessments"], t["sessions"], S)
    ch = change.changes(t["assessments"], t["sessions"], S, base=base)
    ep = episodes.response_episodes(ch, t["sessions"], S).filter(pl.col("patient_id") == pid(1))
    r = ep.row(0, named=True)
    assert r["origin_at"] == D0 + dt.timedelta(days=2)
    assert r["end_at"] == D0 + dt.timedelta(days=5) and r["duration_days"] == pytest.approx(3.0)
    assert r["last_responding_at"] == D0 + dt.timedelta(days=2.5)
    # the loss was confirmed by the day-8 score: the later non-responding scores (14, 28)
    # are not the episode's
    assert r["last_assessed_at"] == D0 + dt.timedelta(days=8)


def test_no_responder_gives_a_row_with_its_denominator():
    # one evaluable non-responder: a summary row with 0 responders of 1 evaluable, no curve
    # (the day-45 score puts the data end past the end-of-induction window, day 11 + 31:
    # evaluable means due, as in the response rates)
    t = _tables({1: {"doses": INDUCTION, "pain": [(-2, 8), (14, 7), (28, 7), (45, 7)]}})
    r = _pain(cohort_summary(t, comparisons=())["durability"].frames["summary"])
    assert (r["responders"], r["evaluable"], r["n"], r["events"]) == (0, 1, 0, 0)
    assert "no end-of-induction responders" in r["caveats"]


# -- properties -------------------------------------------------------------------------------
_patients = st.lists(
    st.fixed_dictionaries(
        {
            "gaps": st.lists(st.integers(1, 6), min_size=2, max_size=7),
            "later": st.lists(
                st.tuples(st.integers(12, 120), st.sampled_from(["maintenance", "booster"])),
                max_size=3,
            ),
            "pain": st.lists(
                st.tuples(st.floats(-5, 150, allow_nan=False), st.integers(0, 10)),
                min_size=1,
                max_size=14,
            ),
        }
    ),
    min_size=1,
    max_size=6,
)


def _random_cohort(ps: list[dict]) -> dict[str, pl.DataFrame]:
    cohort = {}
    for i, p in enumerate(ps, start=1):
        days = [sum(p["gaps"][:k]) for k in range(len(p["gaps"]))]
        end = days[-1]
        doses = [(d, "induction") for d in days]
        doses += [(end + d, k) for d, k in sorted(p["later"])]
        cohort[i] = {"doses": doses, "pain": [(-1.5, 8), *p["pain"]]}
    return _tables(cohort)


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_patients)
def test_no_primary_event_before_the_origin_and_population_is_eoi_responders(ps):
    t = _random_cohort(ps)
    pm = patient_metrics(t, S, D0 + dt.timedelta(days=400))
    obs = durability.primary_observations(pm.end_of_induction, pm.episodes)
    # no loss at or before the origin (the end of induction): every time is positive and
    # each loss lies after the end-of-induction score
    assert (obs.get_column("duration_days") > 0).all()
    assert (obs.get_column("lower_days") >= 0).all()  # calendar days: 0 = the same day
    assert (obs.get_column("lower_days") <= obs.get_column("upper_days")).all()
    lost = obs.filter(pl.col("event"))
    assert (lost.get_column("end_at") > lost.get_column("origin_at")).all()
    assert (lost.get_column("end_at") >= lost.get_column("assessed_at")).all()
    # the primary population is the end-of-induction responders (each has a running episode)
    keys = ["patient_id", "instrument"]
    responders = pm.end_of_induction.filter(pl.col("responder").fill_null(False))
    assert set(obs.select(keys).rows()) == set(
        responders.select(pl.col("patient_id"), pl.col("instrument").cast(pl.String)).rows()
    )
    # episodes are never negative in time (no clipping left to hide one)
    assert (pm.episodes.get_column("duration_days").drop_nulls() >= 0).all()
    d = durability.primary_durability(pm.end_of_induction, pm.episodes, pm.itt, pm.groups, S)
    for r in d.summary.iter_rows(named=True):
        assert r["n"] == r["responders"] <= r["evaluable"]
        assert r["evaluable"] == r["responders"] + r["non_responders"]
        assert r["evaluable"] + r["not_evaluable"] == r["itt_denominator"]
    assert d.curves.filter(pl.col("time_days") <= 0).get_column("events").sum() == 0


def test_caveat_flags_carry_their_denominator():
    # 4 patients, 1 loss, 3 still responding: "3 of 4 censored, 75%" (> 50%), small n (4 < 20)
    obs = pl.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d"],
            "instrument": ["pain_nrs"] * 4,
            "duration_days": [10.0, 20.0, 30.0, 40.0],
            "event": [True, False, False, False],
        }
    )
    groups = pl.DataFrame({"patient_id": ["a", "b", "c", "d"]})
    d = durability.durability(obs, groups, S, first_episode_only=False)
    cav = d.summary.get_column("caveats")[0]
    assert "heavy censoring (3 of 4 censored, 75%)" in cav and "small n (4 < 20)" in cav
