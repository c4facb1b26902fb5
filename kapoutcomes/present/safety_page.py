"""Everything the app's Safety page shows for a (filtered) cohort, from one call: adverse-event
rates per 100 dosing sessions of each route (IV infusions apart from IM, intranasal,
sublingual and oral doses) with intervals at the configured confidence level, severity and
grade as two tables (never mixed), the monthly trend, vital-sign excursions, serious events
and PHQ-9 item 9 answers with the clinician's review beside each, and what cannot be shown
(a store without dosing sessions). The page renders."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import activity, dissociation, safety
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.present import figures
from kapoutcomes.present.headline import Headline, ci_label
from kapoutcomes.storage import signal_reviews
from kapoutcomes.storage.store import SIGNAL_REVIEW_SCHEMA


@dataclass(frozen=True)
class SafetyView:
    headlines: tuple[Headline, ...]
    missing: tuple[str, ...]  # what cannot be shown for this cohort, and why
    rates: pl.DataFrame  # every adverse-event rate per route (the download)
    by_route: pl.DataFrame  # for people: events per 100 sessions of each route
    event_figures: dict[str, go.Figure]  # route words ("IV infusions") -> events by type
    by_severity: pl.DataFrame  # route x severity as recorded (mild / moderate / severe)
    by_grade: pl.DataFrame  # route x grade as recorded (1-5): never mixed with severity
    events_table: pl.DataFrame  # events by type, counted (shown without dosing sessions)
    monthly_figure: go.Figure | None
    excursions: pl.DataFrame  # for the download
    excursions_table: pl.DataFrame  # for people
    serious: pl.DataFrame  # signal_id, kind, signal_at, the event, review
    item9: pl.DataFrame  # signal_id, kind, signal_at, the patient's answers, review
    after_dose_flags: pl.DataFrame  # must-not-miss vital signs after dosing
    after_dose_limits: str  # the limits in force, in words, with their sources
    dissociation: pl.DataFrame  # after-dose CADSS per session by dose band (the download)
    dissociation_table: pl.DataFrame  # for people


#: The import report's note when a mapping's ``severity_when_unstated`` filled in severities
#: (written by ``ingest.mapping``; a test imports Riverside's visits to keep the two in step).
_ASSUMED = re.compile(r"^(\d+) side effect\(s\) had no severity in the file: recorded as (\w+)")


def assumed_severities(ledger: pl.DataFrame) -> tuple[str, ...]:
    """For each import in ``ledger`` (``Store.ledger()``: file_name, imported_at, undone_at,
    report_json) that was not undone and whose mapping recorded side effects without a
    severity as a fixed one: "riverside_visits.csv (imported 1 Dec 2026): 255 side effects
    without a severity in the file, recorded as mild". The store does not mark which events these are, so the Safety page
    says it beside the severity table: those counts are not all a clinician's grading."""
    out = []
    for name, at, undone, report in ledger.select(
        "file_name", "imported_at", "undone_at", "report_json"
    ).iter_rows():
        if undone is not None or not report:
            continue
        try:
            notes = json.loads(report).get("notes") or []
        except (ValueError, AttributeError):
            continue
        for note in notes:
            m = _ASSUMED.match(str(note))
            if m:
                out.append(
                    f"{name} (imported {at.day} {at:%b %Y}): {int(m.group(1)):,} side "
                    f"effect{'s' if m.group(1) != '1' else ''} without a severity in the file, "
                    f"recorded as {m.group(2)}"
                )
    return tuple(out)


def assumed_severity_note(lines: tuple[str, ...]) -> str | None:
    """The caveat under the severity table, or None when no import assumed a severity."""
    if not lines:
        return None
    return (
        "Not every severity here is a clinician's grading. The mapping of "
        + ("this import" if len(lines) == 1 else f"these {len(lines)} imports")
        + " recorded side effects the export gave without a severity as a fixed one "
        "(severity_when_unstated): "
        + "; ".join(lines)
        + ". Those stored (not in rows quarantined or skipped as duplicates) are counted in "
        "the table under that severity; the store does not mark which events they are."
    )


def _rate_table(rates: pl.DataFrame, dimension: str, ci: str) -> pl.DataFrame:
    """Rows of one dimension of ``safety.adverse_event_rates_by_route`` for people: the
    route's sessions in words, the rate per 100 of them with its interval, patients."""
    order = pl.col("route").replace_strict(
        {r: i for i, r in enumerate(safety.ROUTE_SESSIONS)}, default=len(safety.ROUTE_SESSIONS)
    )
    part = rates.filter(pl.col("dimension") == dimension).sort(order, "category")
    return part.select(
        pl.col("sessions_are").alias("route"),
        *([] if dimension == "overall" else [pl.col("category").alias(dimension)]),
        pl.col("events").alias("n events"),
        pl.col("sessions").alias("sessions of the route"),
        pl.col("per_100_sessions").round(1).alias("per 100 sessions of the route"),
        pl.when(pl.col("sessions") > 0)
        .then(
            pl.format("{}-{}", pl.col("per_100_lower").round(1), pl.col("per_100_upper").round(1))
        )
        .otherwise(pl.lit("no denominator"))
        .alias(f"per 100 {ci}"),
        pl.when(pl.col("denominator") > 0)
        .then(pl.format("{}/{}", "n", "denominator"))
        .otherwise(pl.col("n").cast(pl.String))
        .alias("patients"),
        (pl.col("rate") * 100).round(1).alias("% patients"),
        "caveats",
    )


def _route_headline(by_route: pl.DataFrame, ci: str) -> Headline:
    """Events per 100 IV infusions when the cohort has IV infusions, else per 100 sessions of
    its most used route; the other routes in the caption (never one mixed denominator)."""
    rated = by_route.filter(pl.col("sessions") > 0).sort(
        pl.col("route") != "IV", pl.col("sessions"), descending=[False, True]
    )
    if rated.height == 0:
        return Headline("Events per 100 sessions", "—", caption="no dosing sessions")
    o = rated.row(0, named=True)
    others = ", ".join(
        f"{r['sessions_are']} {r['per_100_sessions']:.1f}"
        for r in rated.tail(-1).iter_rows(named=True)
    )
    return Headline(
        f"Events per 100 {o['sessions_are']}",
        f"{o['per_100_sessions']:.1f}",
        caption=f"{ci} {o['per_100_lower']:.1f}-{o['per_100_upper']:.1f} "
        f"({o['events']:,} events / {o['sessions']:,})" + (f"; per 100 {others}" if others else ""),
        help=o["definition"],
    )


def _headlines(  # type: ignore[no-untyped-def]
    by_route: pl.DataFrame, overall: pl.DataFrame, t: dict, serious: pl.DataFrame, item9, ci: str
):
    if overall.height:
        o = overall.row(0, named=True)
        patients = Headline(
            "Patients with any event",
            f"{o['rate']:.0%}",
            caption=f"{ci} {o['lower']:.0%}-{o['upper']:.0%} "
            f"({o['n']:,}/{o['denominator']:,} dosed patients)",
        )
    else:
        n = t["adverse_events"].get_column("patient_id").n_unique()
        patients = Headline("Patients with any event", f"{n:,}", caption="no dosing sessions")
    open_item9 = item9.filter(pl.col("status").str.starts_with("open")).height
    unreviewed = (item9.get_column("review") == "not reviewed yet").sum() + (
        serious.get_column("review") == "not reviewed yet"
    ).sum()
    return (
        _route_headline(by_route, ci),
        patients,
        Headline("Serious adverse events", f"{serious.height:,}"),
        Headline(
            "Item 9: latest above 0",
            f"{open_item9:,}",
            caption=(
                f"PHQ-9 item 9 (thoughts of self-harm): {open_item9:,} of the "
                f"{item9.height:,} patient(s) listed below, who ever answered above 0, still "
                "have their latest answer above 0 (status 'open'); the others answered 0 since"
            ),
        ),
        Headline(
            "Signals not reviewed yet",
            f"{unreviewed:,}",
            caption="PHQ-9 item 9 and serious events without a recorded review",
        ),
    )


def monthly_figure(monthly: pl.DataFrame, ci: str, min_n: int | None = None) -> go.Figure | None:
    """Adverse events per 100 dosing sessions by month, with their intervals (the axis says
    the configured confidence level); months with fewer than ``min_n`` patients dosed greyed."""
    if monthly.height == 0:
        return None
    fig = figures.adverse_events_by_month_figure(monthly, min_n=min_n)
    fig.update_layout(yaxis_title=f"Events per 100 sessions (exact {ci})")
    return fig


def _excursions_table(exc: pl.DataFrame, ci: str) -> pl.DataFrame:
    """Each excursion by its short name (its definition goes under the table: as the first
    column it took most of a tablet's width and could not stay in view)."""
    return exc.select(
        "excursion",
        "definition",
        "n",
        "denominator",
        (pl.col("rate") * 100).round(1).alias("% of sessions"),
        pl.format(
            "{}-{}", (pl.col("lower") * 100).round(1), (pl.col("upper") * 100).round(1)
        ).alias(f"{ci} (%)"),
        pl.col("patients").alias("patients affected"),
        "caveats",
    )


def missing_parts(t: dict[str, pl.DataFrame]) -> tuple[str, ...]:
    """What the Safety page cannot show for the cohort ``t``, and why (empty: everything)."""
    dosing = t["sessions"].filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    out = []
    if dosing.height == 0:
        out.append(
            "No dosing sessions in this cohort: adverse events are counted but not rated "
            "(a rate per 100 sessions needs the sessions), and vital-sign excursions, after-dose "
            "flags and dissociation by dose need the sessions' records. Import the sessions "
            "export to see them."
        )
    if t["adverse_events"].height == 0:
        out.append("No side effects (adverse events) recorded in this cohort.")
    if t["assessments"].filter(pl.col("instrument") == "phq9").height == 0:
        out.append("No PHQ-9 answers in this cohort: item 9 (self-harm) cannot be checked.")
    return tuple(out)


def _events_table(ae: pl.DataFrame) -> pl.DataFrame:
    """Adverse events by type, counted (no rate): what the page shows without sessions."""
    return (
        ae.group_by("event")
        .agg(
            pl.len().alias("n events"),
            pl.col("patient_id").n_unique().alias("patients"),
            safety.is_serious().sum().alias("serious"),
        )
        .sort("n events", "event", descending=[True, False])
    )


def _review_first(signals: pl.DataFrame) -> pl.DataFrame:
    """The signal's identity, the patient and the review first: what a clinician scans."""
    first = ["signal_id", "kind", "signal_at", "patient_id", "review"]
    return signals.select(*first, pl.exclude(first))


def _event_figures(rates: pl.DataFrame, ci: str) -> dict[str, go.Figure]:
    """Events by type per 100 sessions of each route, IV infusions first."""
    figs = {}
    rated = rates.filter(pl.col("sessions") > 0)
    for words in [w for w in safety.ROUTE_SESSIONS.values() if w in rated["sessions_are"]]:
        part = rates.filter((pl.col("sessions_are") == words) & (pl.col("dimension") == "event"))
        if part.height:
            fig = figures.adverse_event_figure(part, f"Adverse events per 100 {words}")
            fig.update_layout(yaxis_title=f"Events per 100 {words} (exact {ci})")
            figs[words] = fig
    return figs


def safety_view(
    t: dict[str, pl.DataFrame], s: Settings, reviews: pl.DataFrame | None = None
) -> SafetyView:
    """The Safety page's content for the cohort ``t`` (``reviews``: the store's
    ``signal_reviews``, shown beside each signal). Without dosing sessions it shows what needs
    none (serious events, PHQ-9 item 9, events counted) and says what is missing."""
    ci = ci_label(s.confidence_level)
    sessions, ae = t["sessions"], t["adverse_events"]
    reviews = reviews if reviews is not None else pl.DataFrame(schema=SIGNAL_REVIEW_SCHEMA)
    missing = missing_parts(t)
    dosed = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES)).height > 0
    rates = safety.adverse_event_rates_by_route(ae, sessions, s)
    groups = patient_groups(t["patients"], sessions)
    overall = pl.DataFrame()
    if dosed:
        all_rates = safety.adverse_event_rates(ae, sessions, groups, s)
        overall = all_rates.filter(pl.col("dimension") == "overall")
    serious = _review_first(
        signal_reviews.with_reviews(safety.serious_signals(safety.serious_events(ae)), reviews)
    )
    item9 = _review_first(
        signal_reviews.with_reviews(
            safety.item9_signals(safety.item9_by_patient(t["assessments"])), reviews
        )
    )
    by_route = rates.filter(pl.col("dimension") == "overall")
    exc = safety.excursion_summary(safety.vital_excursions(sessions, s), groups, s)
    diss = dissociation.cadss_summary(t["assessments"], sessions, s)
    return SafetyView(
        headlines=_headlines(by_route, overall, t, serious, item9, ci),
        missing=missing,
        rates=rates,
        by_route=_rate_table(rates, "overall", ci),
        event_figures=_event_figures(rates, ci),
        by_severity=_rate_table(rates, "severity", ci),
        by_grade=_rate_table(rates, "grade", ci),
        events_table=_events_table(ae),
        monthly_figure=monthly_figure(
            activity.adverse_events_by_month(ae, sessions, s.confidence_level),
            ci,
            s.min_patients_per_point,
        )
        if dosed
        else None,
        excursions=exc,
        excursions_table=_excursions_table(exc, ci),
        serious=serious,
        item9=item9,
        after_dose_flags=safety.safety_flags(
            t["assessments"].clear(), ae.clear(), sessions, s
        ).filter(pl.col("flag").str.ends_with("_after_dosing")),
        after_dose_limits=after_dose_limits(s),
        dissociation=diss,
        dissociation_table=_dissociation_table(diss, s, ci),
    )


def after_dose_limits(s: Settings) -> str:
    return (
        f"Hypertensive crisis above {s.bp_crisis_systolic_above}/{s.bp_crisis_diastolic_above} "
        f"mmHg (ACC/AHA 2017), SpO2 below {s.spo2_low_pct:g}% (hypoxaemia), heart rate above "
        f"{s.heart_rate_after_above} beats/min (project default); limits in Definitions."
    )


def _dissociation_table(diss: pl.DataFrame, s: Settings, ci: str) -> pl.DataFrame:
    return diss.select(
        "dose_band",
        "sessions",
        "patients",
        "median",
        pl.format("{}-{}", "q1", "q3").alias("IQR"),
        pl.format("{}/{}", "above", "sessions").alias(f"above {s.cadss_dissociation_above:g}"),
        (pl.col("share_above") * 100).round(1).alias("% above"),
        pl.format(
            "{}-{}", (pl.col("lower") * 100).round(1), (pl.col("upper") * 100).round(1)
        ).alias(f"{ci} (%)"),
        "caveats",
    )
