"""The maintenance review of one patient: the facts a clinician states when deciding on the
next infusion (baseline, latest score and reduction, whether responding, how long recent
benefit lasted, days since the last dose, the recent trend, the induction course), and the
same facts in words. Decision support: facts with their definitions, never a verdict.

The cohort-wide pieces it reads (``recent_trend``, ``maintenance_intervals``,
``days_since_last_infusion``) are here too; response episodes and benefit durations are in
``episodes``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.change import baselines, changes
from kapoutcomes.outcomes.change import totals as change_totals
from kapoutcomes.outcomes.dosing import days_between, dosing_sessions
from kapoutcomes.outcomes.episodes import (
    benefit_durations,
    data_end,
    loss_definition,
    response_episodes,
)
from kapoutcomes.outcomes.induction import induction_series
from kapoutcomes.outcomes.rules import response_rules

#: why a patient with no infusion has no baseline (the rule needs a first dose)
NO_DOSE_BASELINE = (
    "no infusion recorded, and the baseline is the last score within the window before the "
    "first infusion"
)


def recent_trend(
    change: pl.DataFrame, settings: Settings, min_points: int | None = None
) -> pl.DataFrame:
    """Least-squares slope of scores over the last ``settings.trend_weeks`` weeks up to each
    patient's last assessment of the instrument, in points per week (positive = rising).

    Columns: patient_id, instrument, last_assessed_at, last_score, points, slope_per_week
    (empty with fewer than ``min_points`` assessments in the window; default
    ``settings.trend_min_points``).
    """
    min_points = settings.trend_min_points if min_points is None else min_points
    w = change.with_columns(_last=pl.col("assessed_at").max().over("patient_id", "instrument"))
    w = w.filter(
        pl.col("assessed_at") >= pl.col("_last") - pl.duration(weeks=settings.trend_weeks)
    ).with_columns(_x=days_between(pl.col("assessed_at"), pl.col("_last")) / 7.0)
    x, y = pl.col("_x"), pl.col("score")
    g = (
        w.sort("patient_id", "instrument", "assessed_at")
        .group_by("patient_id", "instrument")
        .agg(
            last_assessed_at=pl.col("assessed_at").last(),
            last_score=y.last(),
            points=pl.len(),
            _sxy=((x - x.mean()) * (y - y.mean())).sum(),
            _sxx=((x - x.mean()) ** 2).sum(),
        )
    )
    return (
        g.with_columns(
            slope_per_week=pl.when((pl.col("points") >= min_points) & (pl.col("_sxx") > 0)).then(
                pl.col("_sxy") / pl.col("_sxx")
            )
        )
        .drop("_sxy", "_sxx")
        .sort("patient_id", "instrument")
    )


def maintenance_intervals(sessions: pl.DataFrame) -> pl.DataFrame:
    """Days between consecutive maintenance / booster infusions (after induction).

    Columns: patient_id, from_at, to_at, to_type, interval_days."""
    m = (
        sessions.filter(pl.col("session_type").is_in(["maintenance", "booster"]))
        .sort("patient_id", "started_at")
        .with_columns(from_at=pl.col("started_at").shift(1).over("patient_id"))
        .filter(pl.col("from_at").is_not_null())
    )
    return m.select(
        "patient_id",
        "from_at",
        to_at=pl.col("started_at"),
        to_type=pl.col("session_type"),
        interval_days=days_between(pl.col("started_at"), pl.col("from_at")),
    )


def days_since_last_infusion(sessions: pl.DataFrame, as_of: dt.datetime) -> pl.DataFrame:
    """patient_id, last_dose_at, last_dose_type, days_since_last_dose at ``as_of``."""
    d = dosing_sessions(sessions)
    return (
        d.group_by("patient_id")
        .agg(last_dose_at=pl.col("started_at").last(), last_dose_type=pl.col("session_type").last())
        .with_columns(days_since_last_dose=days_between(pl.lit(as_of), pl.col("last_dose_at")))
        .sort("patient_id")
    )


@dataclass(frozen=True)
class PatientFacts:
    """The facts a clinician's maintenance review states for one patient and instrument.

    Decision support: facts with their definitions, never a verdict."""

    patient_id: str
    instrument: str
    as_of: dt.datetime
    baseline: float | None
    baseline_status: str
    latest_score: float | None
    latest_at: dt.datetime | None
    reduction_pct: float | None  # % below baseline (positive = better)
    responding: bool | None
    response_threshold_pct: float | None
    recent_benefit_days: tuple[float, ...]  # completed benefit spells after recent doses
    benefit_statuses: tuple[str, ...]
    days_since_last_dose: float | None
    last_dose_type: str | None
    slope_per_week: float | None
    trend_weeks: int
    episodes: int
    induction_infusions: int | None
    induction_completed: bool | None
    definition: str
    latest_age_days: int | None = None  # whole days from the latest score to ``as_of``
    stale: bool = False  # the latest score is older than ``stale_after_days``
    stale_after_days: int = 30
    last_dose_at: dt.datetime | None = None
    score_since_last_dose: bool | None = None  # None: no dose
    induction_target: int = 6  # infusions that complete an induction series
    #: spells still running at the next infusion (benefit lasted at least this long), used
    #: when there is no completed spell
    recent_at_least_days: tuple[float, ...] = ()
    #: the remission rule in force (``rules.response_rules``): score below / at or below;
    #: remission is measured from an elevated baseline (at or above ``eligible_from``)
    remission_below: float | None = None
    remission_at_or_below: float | None = None
    eligible_from: float | None = None


def _latest(assess: pl.DataFrame, instrument: str, as_of: dt.datetime) -> dict | None:
    """The latest total score of ``instrument`` up to ``as_of`` (with or without a dose)."""
    t = change_totals(assess).filter(
        (pl.col("instrument") == instrument) & (pl.col("assessed_at") <= as_of)
    )
    return t.sort("assessed_at").row(-1, named=True) if t.height else None


def _freshness(
    latest: dict | None, last_dose_at: dt.datetime | None, as_of: dt.datetime, stale_days: int
) -> dict:
    """How old the latest score is (whole days), whether it is stale and whether it came
    after the last dose."""
    if latest is None:
        return {"latest_age_days": None, "stale": False, "score_since_last_dose": None}
    age = (as_of.date() - latest["assessed_at"].date()).days
    since = None if last_dose_at is None else latest["assessed_at"] > last_dose_at
    return {"latest_age_days": age, "stale": age > stale_days, "score_since_last_dose": since}


def patient_facts(
    tables_: dict[str, pl.DataFrame],
    patient_id: str,
    settings: Settings,
    instrument: str = "pain_nrs",
    as_of: dt.datetime | None = None,
    recent_doses: int | None = None,
) -> PatientFacts:
    """The maintenance-review facts for one patient (``recent_doses`` = how many of the
    latest completed benefit spells to report; a project default). The latest score is the
    latest of the instrument up to ``as_of``, dosed or not, dated and flagged when stale."""
    sessions = tables_["sessions"].filter(pl.col("patient_id") == patient_id)
    assess = tables_["assessments"].filter(pl.col("patient_id") == patient_id)
    # the RCI needs a cohort SD; it plays no part in these facts, so the patient alone is fine
    as_of = as_of or data_end(tables_) or dt.datetime(2000, 1, 1)
    base = baselines(assess, sessions, settings).filter(pl.col("instrument") == instrument)
    ch = changes(assess, sessions, settings, base=base).filter(
        (pl.col("instrument") == instrument) & (pl.col("assessed_at") <= as_of)
    )
    rules = response_rules(settings).filter(pl.col("instrument") == instrument)
    threshold = rules.get_column("response_pct")[0] if rules.height else None
    rule = rules.row(0, named=True) if rules.height else {}
    ep = response_episodes(ch, sessions, settings)
    ben = benefit_durations(ep, sessions, settings).filter(pl.col("instrument") == instrument)
    done = ben.filter(pl.col("status").is_in(["lost", "booster"]))
    n_recent = settings.recent_benefit_doses if recent_doses is None else recent_doses
    recent = done.tail(n_recent)
    at_least = ben.filter(pl.col("status") == "next dose").tail(n_recent)
    tr = recent_trend(ch if ch.height else _scored(assess, instrument, as_of), settings)
    last = ch.tail(1)
    latest = _latest(assess, instrument, as_of)
    ds = days_since_last_infusion(sessions, as_of)
    ind = induction_series(sessions, settings).filter(pl.col("course") == 1)
    b = base.row(0, named=True) if base.height else None

    def one(frame: pl.DataFrame, col: str):
        return frame.get_column(col)[0] if frame.height else None

    last_dose_at = one(ds, "last_dose_at")
    same = latest is not None and last.height and last["assessed_at"][0] == latest["assessed_at"]
    return PatientFacts(
        patient_id=patient_id,
        instrument=instrument,
        as_of=as_of,
        baseline=None if b is None else b["baseline_score"],
        baseline_status=NO_DOSE_BASELINE if b is None else b["baseline_status"],
        latest_score=None if latest is None else latest["score"],
        latest_at=None if latest is None else latest["assessed_at"],
        reduction_pct=one(last, "reduction_pct") if same else None,
        responding=one(last, "responder") if same else None,
        response_threshold_pct=threshold,
        recent_benefit_days=tuple(recent.get_column("benefit_days").to_list()),
        benefit_statuses=tuple(recent.get_column("status").to_list()),
        days_since_last_dose=one(ds, "days_since_last_dose"),
        last_dose_type=one(ds, "last_dose_type"),
        slope_per_week=one(tr, "slope_per_week"),
        trend_weeks=settings.trend_weeks,
        episodes=ep.height,
        induction_infusions=one(ind, "infusions"),
        induction_completed=one(ind, "completed"),
        definition=loss_definition(settings),
        **_freshness(latest, last_dose_at, as_of, settings.stale_score_days),
        stale_after_days=settings.stale_score_days,
        last_dose_at=last_dose_at,
        induction_target=settings.induction_complete_infusions,
        recent_at_least_days=tuple(at_least.get_column("benefit_days").to_list()),
        remission_below=rule.get("remission_below"),
        remission_at_or_below=rule.get("remission_at_or_below"),
        eligible_from=rule.get("eligible_from"),
    )


def _scored(assess: pl.DataFrame, instrument: str, as_of: dt.datetime) -> pl.DataFrame:
    """The scores of a patient with no dose, shaped for ``recent_trend``."""
    return (
        change_totals(assess)
        .filter((pl.col("instrument") == instrument) & (pl.col("assessed_at") <= as_of))
        .select("patient_id", "instrument", "assessed_at", "score")
    )


def day_text(d: dt.date | dt.datetime) -> str:
    """A date as people write it, unambiguous in any locale: 3 Mar 2025."""
    return f"{d.day} {d:%b %Y}"


def _word(instrument: str) -> str:
    from kapoutcomes.definitions import instruments

    inst = instruments.INSTRUMENTS.get(instrument)
    if inst is not None and inst.domain == "pain":
        return "pain"
    return inst.name if inst is not None else instrument


def latest_text(facts: PatientFacts) -> str:
    """The latest score, dated and flagged when stale: "pain 5 on 3 Mar 2025 (stale: 420
    days before the as-of date)", or why there is none."""
    word = _word(facts.instrument)
    if facts.latest_score is None or facts.latest_at is None:
        return f"no {word} score recorded"
    s = f"{word} {facts.latest_score:g} on {day_text(facts.latest_at)}"
    if facts.stale:
        s += f" (stale: {facts.latest_age_days} days before the as-of date)"
    if facts.baseline is None:
        s += f"; no baseline: {facts.baseline_status.removeprefix('missing: ')}"
    elif facts.reduction_pct is not None:
        r = facts.reduction_pct
        if abs(r) < 0.5:
            s += ", same as baseline"
        else:
            s += f", {abs(r):.0f}% {'below' if r > 0 else 'above'} baseline"
        s += f" ({facts.baseline:g})"
    return s


def stale_notes(facts: PatientFacts) -> list[str]:
    """What is old or missing about this instrument's scores, in a line each: a latest score
    older than the stale limit, a dose with no score after it."""
    notes = []
    word = _word(facts.instrument)
    if facts.stale and facts.latest_at is not None and facts.latest_score is not None:
        notes.append(
            f"the latest {word} score ({facts.latest_score:g} on {day_text(facts.latest_at)}) "
            f"is {facts.latest_age_days} days before the as-of date (stale after "
            f"{facts.stale_after_days} days, setting stale_score_days)"
        )
    if facts.score_since_last_dose is False and facts.last_dose_at is not None:
        notes.append(
            f"no {word} score since the {facts.last_dose_type} on {day_text(facts.last_dose_at)}"
        )
    return notes


def day_number(facts: PatientFacts) -> int | None:
    """ "Day N since the last infusion" as a clinic counts it: calendar days from the dose's
    date to the as-of date (the infusion day is day 0), as a score's age is counted. Rounding
    the exact time span instead would say day 8 for a dose at 08:00 and an as-of time of
    20:30 seven days later. None without a dose."""
    if facts.last_dose_at is None:
        return None
    return (facts.as_of.date() - facts.last_dose_at.date()).days


def benefit_text(facts: PatientFacts, with_day: bool = True) -> str | None:
    """ "benefit after the last three infusions lasted 14-39 days; day 35 since the last
    infusion (booster, 1 Feb 2025)", in whole days; None without a dose."""
    parts = []
    n = len(facts.recent_benefit_days)
    if n:
        lo, hi = round(min(facts.recent_benefit_days)), round(max(facts.recent_benefit_days))
        span = f"{lo} days" if lo == hi else f"{lo}-{hi} days"
        which = {1: "the last infusion", 2: "the last two infusions", 3: "the last three infusions"}
        parts.append(f"benefit after {which.get(n, f'the last {n} infusions')} lasted {span}")
    elif facts.recent_at_least_days:
        lo, hi = round(min(facts.recent_at_least_days)), round(max(facts.recent_at_least_days))
        span = f"{lo} days" if lo == hi else f"{lo}-{hi} days"
        parts.append(f"benefit lasted at least {span} (still responding at each next infusion)")
    if facts.days_since_last_dose is not None and facts.last_dose_at is not None:
        if with_day:
            parts.append(
                f"day {day_number(facts)} since the last infusion "
                f"({facts.last_dose_type}, {day_text(facts.last_dose_at)}) on the as-of date"
            )
        if facts.score_since_last_dose is False:
            parts.append(f"no {_word(facts.instrument)} score since this {facts.last_dose_type}")
    return "; ".join(parts) or None


def trend_text(facts: PatientFacts) -> str | None:
    """The trend over the weeks up to the latest score, dated (and stale with it)."""
    if facts.slope_per_week is None or facts.latest_at is None:
        return None
    word, sl = _word(facts.instrument), facts.slope_per_week
    span = f"over the {facts.trend_weeks} weeks to {day_text(facts.latest_at)}"
    if abs(sl) < 0.05:
        return f"{word} steady {span}" + (" (stale)" if facts.stale else "")
    trend = "rising" if sl > 0 else "falling"
    return f"{word} {trend} {abs(sl):.1f} points a week {span}" + (
        " (stale)" if facts.stale else ""
    )


def in_remission(facts: PatientFacts) -> bool | None:
    """Whether the latest score meets the instrument's remission rule (PHQ-9 below 5, MADRS
    at or below 10), as the cohort counts it: only from an elevated baseline (at or above
    ``eligible_from``; a patient who started below it was never depressed enough to remit).
    None without a rule, a latest score or such a baseline."""
    below, at_or_below = facts.remission_below, facts.remission_at_or_below
    if (below is None and at_or_below is None) or facts.latest_score is None:
        return None
    if facts.baseline is None or (
        facts.eligible_from is not None and facts.baseline < facts.eligible_from
    ):
        return None
    if below is not None:
        return facts.latest_score < below
    assert at_or_below is not None
    return facts.latest_score <= at_or_below


def remission_text(facts: PatientFacts) -> str | None:
    """ "in remission (score below 5) at the latest score", "not in remission (remission:
    score below 5)", or why remission is not judged; None when the instrument has no
    remission rule or no score."""
    below, at_or_below = facts.remission_below, facts.remission_at_or_below
    if (below is None and at_or_below is None) or facts.latest_score is None:
        return None
    rule = f"score below {below:g}" if below is not None else f"score {at_or_below:g} or less"
    stale = "; stale" if facts.stale else ""
    met = in_remission(facts)
    if met is None:
        if facts.baseline is None:
            return f"remission ({rule}) not judged: no baseline"
        return (
            f"remission ({rule}) not judged: the baseline ({facts.baseline:g}) is below "
            f"{facts.eligible_from:g}, where remission is measured from"
        )
    return (
        f"in remission ({rule}{stale})" if met else f"not in remission (remission: {rule}{stale})"
    )


def induction_text(facts: PatientFacts) -> str | None:
    """ "induction: 4 of 6 infusions (incomplete)"; None without an induction infusion."""
    if facts.induction_infusions is None:
        return None
    n, target = facts.induction_infusions, facts.induction_target
    if n > target:  # "8 of 6" reads as a typo: the course ran longer than the setting's
        return f"induction: {n} infusions (complete; {n - target} beyond a course of {target})"
    done = "complete" if n == target else "incomplete"
    return f"induction: {n} of {target} infusions ({done})"


def describe_patient(facts: PatientFacts, dosing: bool = True) -> str:
    """The facts in plain words, every "now" dated, e.g. "pain 5.5 on 3 Mar 2025, 31% below
    baseline (8); benefit after the last three infusions lasted 24-31 days; day 26 since the
    last infusion (maintenance, 5 Feb 2025) on the as-of date; pain rising 0.4 points a week
    over the 6 weeks to 3 Mar 2025; induction: 6 of 6 infusions (complete)".

    Decision support for the clinician: it states facts, never a recommendation. Without
    ``dosing`` the facts that are the same for every instrument (the day since the last
    infusion, the induction) are left out: a second instrument's line after the first's.
    """
    parts = [
        latest_text(facts),
        remission_text(facts),
        benefit_text(facts, with_day=dosing),
        trend_text(facts),
        induction_text(facts) if dosing else None,
    ]
    return "; ".join(p for p in parts if p)
