"""What the generated demo cohort shows, computed from its tables and truth when CATALOG.md is
written, so that every figure the catalogue states is the data's own and never typed by hand.

Shares are counts with their denominators (``Share``); each figure says who it is about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import params
from kapoutcomes.demo.sample import SampleCohort


@dataclass(frozen=True)
class Share:
    """``n`` of ``of``, written '12 of 40 (30%)' (one decimal below 1%: '1 of 360 (0.3%)')."""

    n: int
    of: int

    @property
    def rate(self) -> float:
        return self.n / self.of if self.of else 0.0

    def __str__(self) -> str:
        small = 0 < self.rate < 0.01
        return (
            f"{self.n} of {self.of} ({self.rate:.1%})"
            if small
            else f"{self.n} of {self.of} ({self.rate:.0%})"
        )


@dataclass(frozen=True)
class ClinicFacts:
    clinic: str
    patients: Share  # of all patients
    kap: Share  # patients with a KAP session, of the clinic's patients with any session
    cost_exported: bool  # any session of the clinic carries a charge


@dataclass(frozen=True)
class CalendarFacts:
    first_referral: dt.date
    last_referral: dt.date
    last_date: dt.date  # the latest date of any session, score, event or prescription
    weekend_sessions: int  # clinic sessions on a Saturday or Sunday


@dataclass(frozen=True)
class CourseFacts:
    """Dosing: who was never dosed, attrition, series length, what followed induction."""

    never_dosed: Share  # of all patients
    stopped_after_first: Share  # one dosing session only, of dosed patients
    fewer_than_six: Share  # fewer than six dosing sessions, of dosed patients
    most_induction: int  # most induction infusions of a patient without CRPS
    most_induction_crps: int
    crps_iv_hours: tuple[float, float]  # shortest and longest CRPS IV induction infusion
    maintenance_sessions: int
    booster_sessions: int
    median_gap_after_induction: float  # days between dosing sessions after induction


@dataclass(frozen=True)
class ResponseFacts:
    """The hidden truth the generator drew."""

    classes: dict[str, int]  # response class -> patients
    relief: dict[str, tuple[float, float]]  # response class -> lowest, highest maximum relief
    median_durability_days: float
    large_depression_effect: Share  # of the patients with comorbid depression


@dataclass(frozen=True)
class ScoreFacts:
    item9_beside: Share  # item 9 answers, of PHQ-9 totals
    item9_above_0: Share  # of item 9 answers


@dataclass(frozen=True)
class SafetyFacts:
    event_rates: tuple[tuple[str, Share], ...]  # the commonest events, per dosing session
    first_week: Share  # dosed patients with an event in their first 7 days of dosing
    serious: int


@dataclass(frozen=True)
class OpioidFacts:
    on_opioid_at_referral: Share  # of all patients (an MME-counted opioid or buprenorphine)
    on_two: Share  # of those on an opioid at referral
    responders_stopped: Share  # a prescription stopped after induction, of responders on one
    buprenorphine: Share  # of all patients


@dataclass(frozen=True)
class CohortFacts:
    calendar: CalendarFacts
    clinics: tuple[ClinicFacts, ...]
    course: CourseFacts
    response: ResponseFacts
    scores: ScoreFacts
    safety: SafetyFacts
    opioids: OpioidFacts


def _dosing(cohort: SampleCohort) -> pl.DataFrame:
    s = cohort.tables["sessions"]
    return s.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))


def calendar_facts(cohort: SampleCohort) -> CalendarFacts:
    t = cohort.tables
    referral = t["patients"].get_column("referral_date")
    dates = [
        t["sessions"].get_column("started_at").dt.date().max(),
        t["assessments"].get_column("assessed_at").dt.date().max(),
        t["adverse_events"].get_column("onset_at").dt.date().max(),
        t["adverse_events"].get_column("resolved_at").dt.date().max(),
        t["opioids"].get_column("start_date").max(),
        t["opioids"].get_column("stop_date").max(),
    ]
    weekend = t["sessions"].filter(pl.col("started_at").dt.weekday() >= 6).height
    return CalendarFacts(
        first_referral=referral.min(),
        last_referral=referral.max(),
        last_date=max(d for d in dates if d is not None),
        weekend_sessions=weekend,
    )


def clinic_facts(cohort: SampleCohort) -> tuple[ClinicFacts, ...]:
    patients, sessions = cohort.tables["patients"], cohort.tables["sessions"]
    per = sessions.join(patients.select("patient_id", "clinic"), on="patient_id")
    out = []
    for clinic in params.CLINICS:
        mine = per.filter(pl.col("clinic") == clinic)
        kap = mine.filter(pl.col("care_model") == "KAP").get_column("patient_id").n_unique()
        out.append(
            ClinicFacts(
                clinic=clinic,
                patients=Share(
                    int((patients.get_column("clinic") == clinic).sum()), patients.height
                ),
                kap=Share(kap, mine.get_column("patient_id").n_unique()),
                cost_exported=mine.get_column("cost_usd").is_not_null().any(),
            )
        )
    return tuple(out)


def course_facts(cohort: SampleCohort) -> CourseFacts:
    patients, dosing = cohort.tables["patients"], _dosing(cohort)
    per = dosing.group_by("patient_id").len().get_column("len")
    induction = dosing.filter(pl.col("session_type") == "induction").join(
        patients.select("patient_id", crps=pl.col("primary_condition") == "CRPS"), on="patient_id"
    )
    counts = induction.group_by("patient_id", "crps").len()
    crps_iv = induction.filter(pl.col("crps") & (pl.col("route") == "IV"))
    minutes = crps_iv.get_column("infusion_minutes").drop_nulls()
    after = dosing.filter(pl.col("session_type") != "induction").get_column("session_type")
    return CourseFacts(
        never_dosed=Share(patients.height - per.len(), patients.height),
        stopped_after_first=Share(int((per == 1).sum()), per.len()),
        fewer_than_six=Share(int((per < 6).sum()), per.len()),
        most_induction=int(counts.filter(~pl.col("crps")).get_column("len").max() or 0),
        most_induction_crps=int(counts.filter(pl.col("crps")).get_column("len").max() or 0),
        crps_iv_hours=(
            (minutes.min() or 0) / 60,
            (minutes.max() or 0) / 60,
        ),
        maintenance_sessions=int((after == "maintenance").sum()),
        booster_sessions=int((after == "booster").sum()),
        median_gap_after_induction=_median_gap_after_induction(dosing),
    )


def _median_gap_after_induction(dosing: pl.DataFrame) -> float:
    """Median days from a dosing session to the next maintenance or booster infusion."""
    gaps = (
        dosing.sort("patient_id", "started_at")
        .with_columns(
            gap=(
                pl.col("started_at") - pl.col("started_at").shift(1).over("patient_id")
            ).dt.total_days()
        )
        .filter(pl.col("session_type") != "induction")
        .get_column("gap")
        .drop_nulls()
    )
    return float(gaps.median() or 0.0)


def response_facts(cohort: SampleCohort) -> ResponseFacts:
    truth = cohort.truth.join(
        cohort.tables["patients"].select("patient_id", "comorbid_depression"), on="patient_id"
    )
    by_class = truth.group_by("response_class").agg(
        n=pl.len(), lo=pl.col("pain_relief_max").min(), hi=pl.col("pain_relief_max").max()
    )
    rows = {r["response_class"]: r for r in by_class.iter_rows(named=True)}
    depressed = truth.filter(pl.col("comorbid_depression"))
    large = depressed.get_column("depression_effect") >= params.DEPRESSION_EFFECT_LARGE[0]
    return ResponseFacts(
        classes={c: int(rows[c]["n"]) if c in rows else 0 for c in params.RESPONSE_CLASSES},
        relief={c: (rows[c]["lo"], rows[c]["hi"]) for c in params.RESPONSE_CLASSES if c in rows},
        median_durability_days=float(truth.get_column("durability_days").median() or 0.0),
        large_depression_effect=Share(int(large.sum()), depressed.height),
    )


def score_facts(cohort: SampleCohort) -> ScoreFacts:
    phq = cohort.tables["assessments"].filter(pl.col("instrument") == "phq9")
    totals = phq.filter(pl.col("item").is_null()).height
    item9 = phq.filter(pl.col("item") == 9).get_column("score")
    return ScoreFacts(
        item9_beside=Share(item9.len(), totals),
        item9_above_0=Share(int((item9 > 0).sum()), item9.len()),
    )


def safety_facts(cohort: SampleCohort, commonest: int = 6) -> SafetyFacts:
    dosing, events = _dosing(cohort), cohort.tables["adverse_events"]
    at_sessions = events.filter(pl.col("session_id").is_not_null())
    counts = at_sessions.get_column("event").value_counts(sort=True).head(commonest)
    first = dosing.group_by("patient_id").agg(first=pl.col("started_at").min())
    week = events.join(first, on="patient_id").filter(
        pl.col("onset_at") < pl.col("first") + pl.duration(days=7)
    )
    return SafetyFacts(
        event_rates=tuple((e, Share(int(n), dosing.height)) for e, n in counts.iter_rows()),
        first_week=Share(week.get_column("patient_id").n_unique(), first.height),
        serious=int(events.get_column("serious").sum()),
    )


def opioid_facts(cohort: SampleCohort) -> OpioidFacts:
    patients, op = cohort.tables["patients"], cohort.tables["opioids"]
    at_referral = op.join(patients.select("patient_id", "referral_date"), on="patient_id").filter(
        (pl.col("start_date") <= pl.col("referral_date"))
        & (pl.col("stop_date").is_null() | (pl.col("stop_date") >= pl.col("referral_date")))
    )
    per = at_referral.group_by("patient_id").len()
    induction_end = (
        _dosing(cohort)
        .filter(pl.col("session_type") == "induction")
        .group_by("patient_id")
        .agg(end=pl.col("started_at").max().dt.date())
    )
    responders = cohort.truth.filter(pl.col("response_class") == "responder").select("patient_id")
    on = per.join(responders, on="patient_id").join(induction_end, on="patient_id")
    stopped = (
        op.join(on.select("patient_id", "end"), on="patient_id")
        .filter(pl.col("stop_date") > pl.col("end"))
        .get_column("patient_id")
        .n_unique()
    )
    bup = op.filter(pl.col("ingredient") == "buprenorphine").get_column("patient_id").n_unique()
    return OpioidFacts(
        on_opioid_at_referral=Share(per.height, patients.height),
        on_two=Share(int((per.get_column("len") >= 2).sum()), per.height),
        responders_stopped=Share(stopped, on.height),
        buprenorphine=Share(bup, patients.height),
    )


def cohort_facts(cohort: SampleCohort) -> CohortFacts:
    return CohortFacts(
        calendar=calendar_facts(cohort),
        clinics=clinic_facts(cohort),
        course=course_facts(cohort),
        response=response_facts(cohort),
        scores=score_facts(cohort),
        safety=safety_facts(cohort),
        opioids=opioid_facts(cohort),
    )
