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
from kapoutcomes.outcomes import change, episodes, maintenance_review
from kapoutcomes.present import figures, patient_summary
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
    facts: dict[str, maintenance_review.PatientFacts]  # per instrument
    headlines: tuple[Headline, ...]  # pain now, responding, days since infusion, trend
    facts_text: tuple[str, ...]  # one sentence per instrument
    rule: str  # the responder and loss-of-response rule in force
    benefit: pl.DataFrame  # benefit after each infusion
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
        f"**{patient_id}** · {info['clinic']} · {info['primary_condition'].replace('_', ' ')} · "
        f"{info['sex']} · age band {info['age_band'] or 'not recorded'}"
        + (" · comorbid depression" if info["comorbid_depression"] else "")
    )


def _headlines(pain: maintenance_review.PatientFacts, s: Settings) -> tuple[Headline, ...]:
    delta = None
    if pain.reduction_pct is not None and abs(pain.reduction_pct) >= 0.5:
        delta = f"{-pain.reduction_pct:.0f}% vs baseline"
    if pain.baseline is None:
        responding = "no baseline"
    elif pain.responding is None:
        responding = "—"
    else:
        responding = "Yes" if pain.responding else "No"
    days = pain.days_since_last_dose
    slope = pain.slope_per_week
    return (
        Headline(
            "Pain now (0-10)",
            "—" if pain.latest_score is None else f"{pain.latest_score:g}",
            delta,
        ),
        Headline(f"Responding (≥{s.pain_response_pct:g}% below baseline)", responding),
        Headline("Days since last infusion", "—" if days is None else f"{days:.0f}"),
        Headline(
            f"Pain trend ({pain.trend_weeks} weeks)", "—" if slope is None else f"{slope:+.1f}/week"
        ),
    )


def _rule(s: Settings) -> str:
    return (
        f"Rule in force: responder = at least {s.pain_response_pct:g}% pain reduction "
        f"(PHQ-9: {s.depression_response_pct:g}%) from the baseline (last score within "
        f"{s.baseline_window_days} days before the first dose); {episodes.loss_definition(s)}."
    )


def benefit_after_infusions(one: dict[str, pl.DataFrame], s: Settings) -> pl.DataFrame:
    """How long benefit lasted after each infusion, from one patient's tables."""
    base = change.baselines(one["assessments"], one["sessions"], s)
    changed = change.changes(one["assessments"], one["sessions"], s, base=base)
    spells = episodes.response_episodes(changed, one["sessions"], s)
    return episodes.benefit_durations(spells, one["sessions"], s)


def patient_view(t: dict[str, pl.DataFrame], patient_id: str, s: Settings) -> PatientView:
    """What the Patient view shows for ``patient_id`` (who must be in ``t["patients"]``)."""
    one = {name: df.filter(pl.col("patient_id") == patient_id) for name, df in t.items()}
    flags = safety.safety_flags(one["assessments"], one["adverse_events"], one["sessions"], s)
    as_of = episodes.data_end(t)
    facts = {
        inst: maintenance_review.patient_facts(t, patient_id, s, instrument=inst, as_of=as_of)
        for inst in INSTRUMENTS
    }
    return PatientView(
        patient_id=patient_id,
        header=_header(patient_id, one["patients"].row(0, named=True)),
        records=one,
        flags=flags,
        as_of=as_of,
        facts=facts,
        headlines=_headlines(facts["pain_nrs"], s),
        facts_text=tuple(
            f"**{INSTRUMENTS[inst]}:** {maintenance_review.describe_patient(f)}."
            for inst, f in facts.items()
        ),
        rule=_rule(s),
        benefit=benefit_after_infusions(one, s),
        timeline=figures.patient_timeline(t, patient_id, s),
        summary_html=patient_summary.one_page_html(
            t, patient_id, s, facts=facts, flags=flags, as_of=as_of
        ),
    )
