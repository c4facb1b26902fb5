"""Everything the app's Patient view shows for one patient, from one call: the safety flags,
the maintenance-review facts as headline figures, the benefit after each infusion (baseline ->
change -> episodes -> benefit), the timeline and the printable one-page summary.

The page finds the patient (``find_patient``), calls ``patient_view`` and renders."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from kapoutcomes.cohort import safety
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.ingest import deid
from kapoutcomes.outcomes import change, episodes, maintenance_review, opioid_course
from kapoutcomes.outcomes.maintenance_review import day_text
from kapoutcomes.present import figures, patient_summary
from kapoutcomes.present.formatting import plain
from kapoutcomes.present.headline import Headline
from kapoutcomes.storage import privacy

INSTRUMENTS = {"pain_nrs": "Pain", "phq9": "PHQ-9"}
#: the patient's own tables shown (and downloadable) under "Sessions, scores and side effects"
RECORDS = {
    "sessions": "Sessions",
    "assessments": "Assessments",
    "adverse_events": "Side effects",
    "opioids": "Opioids",
}


@dataclass(frozen=True)
class PatientView:
    patient_id: str
    header: str  # clinic, condition, sex, age band
    records: dict[str, pl.DataFrame]  # this patient's rows of every table
    flags: pl.DataFrame  # safety flags, newest first
    as_of: dt.datetime | None  # the latest data in the store
    as_of_text: str  # the as-of date and what it is (the data end, not today)
    facts: dict[str, maintenance_review.PatientFacts]  # per instrument
    headlines: tuple[Headline, ...]  # pain, responding, day since infusion, trend, induction
    stale: tuple[str, ...]  # what is old or missing, to show as warnings next to the figures
    facts_text: tuple[str, ...]  # one sentence per instrument
    rule: str  # the responder and loss-of-response rule in force
    benefit: pl.DataFrame  # benefit after each infusion, for people
    timeline: go.Figure
    summary_html: str  # the one-page summary for the chart


def find_patient(query: str, pseudonym_key: bytes) -> str:
    """The patient id a search box entry means: an id as typed, or the MRN hashed with the
    pseudonym key (the installation's, or the demo cohort's published key for the demo)."""
    q = query.strip()
    if privacy.looks_like_patient_id(q):
        return q
    return deid.find_patient_id(q, pseudonym_key)


def _header(patient_id: str, info: dict) -> str:
    return (
        f"**{plain(patient_id)}** · {plain(info['clinic'])} · "
        f"{plain(info['primary_condition'].replace('_', ' '))} · "
        f"{plain(info['sex'])} · age band {plain(info['age_band'] or 'not recorded')}"
        + (" · comorbid depression" if info["comorbid_depression"] else "")
    )


#: the mark a headline's label carries when its score is stale
STALE = " ⚠ stale"


def _when(f: maintenance_review.PatientFacts) -> str | None:
    """The latest score's date, and "stale" when it is: the delta line of a headline."""
    if f.latest_at is None:
        return None
    return day_text(f.latest_at) + (f" · {f.latest_age_days} days old" if f.stale else "")


def _pain_headlines(pain: maintenance_review.PatientFacts, s: Settings) -> list[Headline]:
    """Pain and responding, dated by the latest pain score (short labels: they must fit a
    metric on a tablet)."""
    mark = STALE if pain.stale else ""
    if pain.baseline is None:
        responding, against = "no baseline", None
    else:
        responding = "—" if pain.responding is None else ("Yes" if pain.responding else "No")
        r = pain.reduction_pct
        against = f"baseline {pain.baseline:g}"
        if r is not None:
            against = (
                f"same as {against}"
                if abs(r) < 0.5
                else f"{abs(r):.0f}% {'below' if r > 0 else 'above'} {against}"
            )
    return [
        Headline(
            f"Pain (0-10){mark}",
            "—" if pain.latest_score is None else f"{pain.latest_score:g}",
            _when(pain),
            help=maintenance_review.latest_text(pain),
            delta_color="off",
        ),
        Headline(
            f"Responding (≥{s.pain_response_pct:g}%){mark}",
            responding,
            against,
            help=f"At the latest pain score ({_when(pain) or 'none'}), against the baseline"
            + ("" if pain.baseline is not None else f": {pain.baseline_status}"),
            delta_color="off",
        ),
    ]


def _dose_headlines(pain: maintenance_review.PatientFacts) -> list[Headline]:
    """Day since the last infusion next to how long benefit usually lasted; induction."""
    days, spells = maintenance_review.day_number(pain), pain.recent_benefit_days
    usual, at_least = "—", pain.recent_at_least_days
    if spells or at_least:
        lo, hi = round(min(spells or at_least)), round(max(spells or at_least))
        usual = ("" if spells else "≥ ") + (f"{lo}-{hi} days" if lo != hi else f"{lo} days")
    n = pain.induction_infusions
    return [
        Headline(
            "Since last infusion",
            "—" if days is None else f"day {days}",
            None
            if pain.last_dose_at is None
            else f"{pain.last_dose_type} · {day_text(pain.last_dose_at)}",
            help="Calendar days from the last infusion's date to the as-of date (the "
            "infusion day is day 0).",
            delta_color="off",
        ),
        Headline(
            "Benefit lasted",
            usual,
            f"after the last {len(spells)} infusion{'s' if len(spells) != 1 else ''}"
            if spells
            else "response not lost"
            if at_least
            else "no completed benefit spell",
            help="After the patient's own previous infusions: completed spells (response "
            "lost, or ended by a booster), in whole days.",
            delta_color="off",
        ),
        Headline(
            "Induction infusions",
            "none"
            if n is None
            else f"{n}"
            if n > pain.induction_target
            else f"{n} of {pain.induction_target}",
            None
            if n is None
            else f"complete · {n - pain.induction_target} beyond the course"
            if n > pain.induction_target
            else ("complete" if n == pain.induction_target else "incomplete"),
            help=f"First induction course; complete with {pain.induction_target} infusions.",
            delta_color="off",
        ),
    ]


def _headlines(pain: maintenance_review.PatientFacts, s: Settings) -> tuple[Headline, ...]:
    slope = pain.slope_per_week
    trend = Headline(
        f"Pain trend ({pain.trend_weeks} wk){STALE if pain.stale else ''}",
        "—" if slope is None else f"{slope:+.1f}/week",
        None if slope is None or pain.latest_at is None else f"to {_when(pain)}",
        help=maintenance_review.trend_text(pain) or "Too few scores in the window for a trend.",
        delta_color="off",
    )
    return (*_pain_headlines(pain, s), *_dose_headlines(pain), trend)


def as_of_text(as_of: dt.datetime | None, today: dt.date) -> str:
    """What 'now' means on this page: the data end (the latest record in the store), which is
    today only when the store holds today's data."""
    if as_of is None:
        return f"No sessions or scores in the store; today is {day_text(today)}."
    if as_of.date() >= today:
        return f"As of today, {day_text(today)} (the store holds today's records)."
    return (
        f"As of {day_text(as_of)}: the latest record in the store (the data end), not today "
        f"({day_text(today)}, {(today - as_of.date()).days} days later). Every 'now' below "
        "is at the data end."
    )


def stale_notes(
    facts: dict[str, maintenance_review.PatientFacts],
    as_of: dt.datetime | None,
    today: dt.date,
    s: Settings,
) -> tuple[str, ...]:
    """Warnings for what is old or missing: the store's data end, each stale latest score,
    and a dose with no score after it."""
    notes = []
    if as_of is not None and (today - as_of.date()).days > s.stale_score_days:
        notes.append(
            f"The store's latest record is {(today - as_of.date()).days} days old "
            f"({day_text(as_of)}): import a current export before deciding."
        )
    for inst, f in facts.items():
        notes += [f"{INSTRUMENTS[inst]}: {n}." for n in maintenance_review.stale_notes(f)]
    return tuple(notes)


def _rule(s: Settings) -> str:
    return (
        f"Rule in force: responder = at least {s.pain_response_pct:g}% pain reduction "
        f"(PHQ-9: {s.depression_response_pct:g}%) from the baseline (last score within "
        f"{s.baseline_window_days} days before the first dose); {episodes.loss_definition(s)}."
    )


def benefit_after_infusions(one: dict[str, pl.DataFrame], s: Settings) -> pl.DataFrame:
    """How long benefit lasted after each infusion, from one patient's tables, for people:
    dates, whole days, and "no score since" (not "no response") when no score of the
    instrument followed the infusion up to the next one (a score stamped at the next one's
    start was taken before it) or the data end."""
    base = change.baselines(one["assessments"], one["sessions"], s)
    changed = change.changes(one["assessments"], one["sessions"], s, base=base)
    spells = episodes.response_episodes(changed, one["sessions"], s)
    ben = episodes.benefit_durations(spells, one["sessions"], s)
    scored = change.totals(one["assessments"]).select("instrument", "assessed_at")
    far = dt.datetime(9999, 1, 1)
    followed = (
        ben.select("session_id", "instrument", "dose_at", "next_dose_at")
        .join(scored, on="instrument", how="left")
        .filter(
            (pl.col("assessed_at") > pl.col("dose_at"))
            & (pl.col("assessed_at") <= pl.col("next_dose_at").fill_null(far))
        )
        .select("session_id", "instrument", _scored=pl.lit(True))
        .unique()
    )
    ben = ben.join(followed, on=["session_id", "instrument"], how="left")
    status = (
        pl.when((pl.col("status") == "no response") & pl.col("_scored").is_null())
        .then(pl.lit("no score since"))
        .otherwise(pl.col("status"))
    )
    return ben.sort("instrument", "dose_at").select(
        measure=pl.col("instrument").replace_strict(INSTRUMENTS, default=pl.col("instrument")),
        infusion=pl.col("dose_at").dt.strftime("%Y-%m-%d"),
        type=pl.col("session_type"),
        next_infusion=pl.col("next_dose_at").dt.strftime("%Y-%m-%d"),
        benefit_days=pl.col("benefit_days").round(0).cast(pl.Int32),
        status=status,
    )


def patient_view(
    t: dict[str, pl.DataFrame],
    patient_id: str,
    s: Settings,
    mrn: str | None = None,
    today: dt.date | None = None,
) -> PatientView:
    """What the Patient view shows for ``patient_id`` (who must be in ``t["patients"]``).
    ``mrn`` is the MRN the clinician typed: it goes onto the printable summary only and is
    never stored or logged; ``today`` (default: the clock) dates the data end."""
    today = today or dt.date.today()
    one = {name: df.filter(pl.col("patient_id") == patient_id) for name, df in t.items()}
    flags = safety.safety_flags(one["assessments"], one["adverse_events"], one["sessions"], s)
    as_of = episodes.data_end(t)
    facts = {
        inst: maintenance_review.patient_facts(t, patient_id, s, instrument=inst, as_of=as_of)
        for inst in INSTRUMENTS
    }
    said = as_of_text(as_of, today)
    opioid = opioid_course.patient_opioid_line(one["opioids"], one["sessions"], as_of, s)
    return PatientView(
        patient_id=patient_id,
        header=_header(patient_id, one["patients"].row(0, named=True)),
        records=one,
        flags=flags,
        as_of=as_of,
        as_of_text=said,
        facts=facts,
        headlines=_headlines(facts["pain_nrs"], s),
        stale=stale_notes(facts, as_of, today, s),
        facts_text=tuple(
            f"**{INSTRUMENTS[inst]}:** {maintenance_review.describe_patient(f, dosing=i == 0)}."
            for i, (inst, f) in enumerate(facts.items())
        )
        + ((f"**Opioids:** {opioid}.",) if opioid else ()),
        rule=_rule(s),
        benefit=benefit_after_infusions(one, s),
        timeline=figures.patient_timeline(t, patient_id, s),
        summary_html=patient_summary.one_page_html(
            t, patient_id, s, facts=facts, flags=flags, as_of=as_of, mrn=mrn, as_of_text=said
        ),
    )
