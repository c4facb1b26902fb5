"""The figures CATALOG.md states (kapoutcomes.demo.facts), worked by hand on a three-patient
cohort: every count below is read off the rows built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.demo import facts, params
from kapoutcomes.demo.sample import SampleCohort
from tests.builders import SIX, induction, patient, pid, score, session, tables_of

RIVERSIDE, LAKESHORE, SUMMIT = params.CLINICS


def _opioid(i: int, ingredient: str, start: dt.date, stop: dt.date | None = None) -> dict:
    return {"patient_id": pid(i), "ingredient": ingredient, "start_date": start, "stop_date": stop}


def _event(i: int, day: float, event: str, sid: str | None, serious: bool = False) -> dict:
    onset = dt.datetime(2024, 1, 1, 10, 0) + dt.timedelta(days=day)
    return {"patient_id": pid(i), "event": event, "session_id": sid, "onset_at": onset,
            "serious": serious}  # fmt: skip


def hand_cohort() -> SampleCohort:
    """Patient 1: Riverside, CRPS, depressed; six IV induction infusions (2024-01-01 to 01-12,
    2 h then 4 h), a booster on day 40 (a Saturday) and maintenance on day 74; charged; on
    oxycodone (stopped 2024-02-01) and hydrocodone at referral. Patient 2: Lakeshore, KAP, one
    infusion, no charge; tramadol started after referral. Patient 3: Lakeshore, never dosed,
    depressed with a small depression effect, on buprenorphine."""
    crps = [{"infusion_minutes": 120 if n < 3 else 240, "cost_usd": 600.0} for n in range(6)]
    sessions = [
        *(s | kw for s, kw in zip(induction(1, SIX), crps, strict=True)),
        session(1, 40, "booster", 7, cost_usd=600.0),
        session(1, 74, "maintenance", 8, cost_usd=600.0),
        session(2, 0, "induction", 0, care="KAP"),
    ]
    scores = [
        score(1, -2, 15, inst="phq9", timing="baseline"),
        score(1, 14, 6, inst="phq9"),
        score(1, 14, 1, inst="phq9", item=9),
    ]
    opioid_rows = [
        _opioid(1, "oxycodone", dt.date(2023, 6, 1), dt.date(2024, 2, 1)),
        _opioid(1, "hydrocodone", dt.date(2023, 1, 1)),
        _opioid(2, "tramadol", dt.date(2024, 6, 1)),
        _opioid(3, "buprenorphine", dt.date(2023, 1, 1)),
    ]
    events = [
        _event(1, 0, "dissociation", "s1_0"),
        _event(1, 40, "dissociation", "s1_7"),
        _event(2, 10, "nausea_vomiting", "s2_0"),
        _event(2, 30, "abuse_misuse", None, serious=True),
    ]
    tabs = tables_of(
        [
            patient(1, clinic=RIVERSIDE),
            patient(2, clinic=LAKESHORE, condition="neuropathic", dep=False),
            patient(
                3, clinic=LAKESHORE, condition="fibromyalgia", referral_date=dt.date(2024, 2, 1)
            ),
        ],
        sessions,
        scores,
        opioid_rows,
        events,
    )
    truth = pl.DataFrame(
        {
            "patient_id": [pid(1), pid(2), pid(3)],
            "response_class": ["responder", "non_responder", "partial"],
            "pain_relief_max": [0.5, 0.05, 0.2],
            "durability_days": [20.0, 30.0, 10.0],
            "depression_effect": [0.6, 0.1, 0.1],
        }
    )
    return SampleCohort(seed=0, patients=3, tables=tabs, mrns={}, truth=truth)


@pytest.fixture(scope="module")
def cohort() -> SampleCohort:
    return hand_cohort()


def test_share_is_written_with_its_denominator():
    assert str(facts.Share(12, 40)) == "12 of 40 (30%)"
    assert str(facts.Share(1, 360)) == "1 of 360 (0.3%)"
    assert str(facts.Share(0, 0)) == "0 of 0 (0%)" and facts.Share(0, 0).rate == 0.0


def test_calendar(cohort):
    c = facts.calendar_facts(cohort)
    assert (c.first_referral, c.last_referral) == (dt.date(2023, 12, 1), dt.date(2024, 2, 1))
    assert c.last_date == dt.date(2024, 6, 1)  # the tramadol start
    assert c.weekend_sessions == 1  # the booster on Saturday 2024-02-10


def test_clinics(cohort):
    riverside, lakeshore, summit = facts.clinic_facts(cohort)
    assert riverside == facts.ClinicFacts(RIVERSIDE, facts.Share(1, 3), facts.Share(0, 1), True)
    assert lakeshore == facts.ClinicFacts(LAKESHORE, facts.Share(2, 3), facts.Share(1, 1), False)
    assert summit == facts.ClinicFacts(SUMMIT, facts.Share(0, 3), facts.Share(0, 0), False)


def test_course(cohort):
    c = facts.course_facts(cohort)
    assert c.never_dosed == facts.Share(1, 3)
    assert c.stopped_after_first == facts.Share(1, 2)  # patient 2
    assert c.fewer_than_six == facts.Share(1, 2)  # patient 1 has 8 dosing sessions
    assert (c.most_induction, c.most_induction_crps) == (1, 6)
    assert c.crps_iv_hours == (2.0, 4.0)
    assert (c.maintenance_sessions, c.booster_sessions) == (1, 1)
    assert c.median_gap_after_induction == 31.5  # booster 40 - 11 = 29, maintenance 74 - 40 = 34


def test_response_truth(cohort):
    r = facts.response_facts(cohort)
    assert r.classes == {"responder": 1, "partial": 1, "non_responder": 1}
    assert r.relief["responder"] == (0.5, 0.5)
    assert r.median_durability_days == 20.0
    assert r.large_depression_effect == facts.Share(1, 2)  # patients 1 (0.6) and 3 (0.1)


def test_phq9_item9(cohort):
    s = facts.score_facts(cohort)
    assert s.item9_beside == facts.Share(1, 2) and s.item9_above_0 == facts.Share(1, 1)


def test_safety(cohort):
    s = facts.safety_facts(cohort)
    assert s.event_rates == (
        ("dissociation", facts.Share(2, 9)),
        ("nausea_vomiting", facts.Share(1, 9)),
    )  # misuse is not at a session
    assert s.first_week == facts.Share(1, 2)  # patient 2's nausea was on day 10
    assert s.serious == 1


def test_opioids(cohort):
    o = facts.opioid_facts(cohort)
    assert o.on_opioid_at_referral == facts.Share(2, 3)  # tramadol started after referral
    assert o.on_two == facts.Share(1, 2)
    assert o.responders_stopped == facts.Share(1, 1)  # oxycodone stopped after 2024-01-12
    assert o.buprenorphine == facts.Share(1, 3)


def test_cohort_facts_gathers_every_part(cohort):
    f = facts.cohort_facts(cohort)
    assert f.course == facts.course_facts(cohort) and f.opioids == facts.opioid_facts(cohort)
