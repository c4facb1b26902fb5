"""Everything the app's Safety page shows for a (filtered) cohort, from one call: adverse-event
rates with intervals at the configured confidence level, the monthly trend, vital-sign
excursions, serious events and PHQ-9 item 9 answers. The page renders."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import activity, dissociation, safety
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.present import figures
from kapoutcomes.present.headline import Headline, ci_label


@dataclass(frozen=True)
class SafetyView:
    headlines: tuple[Headline, ...]
    rates: pl.DataFrame  # every adverse-event rate (overall, by event, severity, route)
    rates_figure: go.Figure | None
    by_severity: pl.DataFrame  # for people: rounded, interval as text
    by_route: pl.DataFrame
    monthly_figure: go.Figure | None
    excursions: pl.DataFrame  # for the download
    excursions_table: pl.DataFrame  # for people
    serious: pl.DataFrame
    item9: pl.DataFrame
    after_dose_flags: pl.DataFrame  # must-not-miss vital signs after dosing
    after_dose_limits: str  # the limits in force, in words, with their sources
    dissociation: pl.DataFrame  # after-dose CADSS per session by dose band (the download)
    dissociation_table: pl.DataFrame  # for people


def _rate_table(rates: pl.DataFrame, dimension: str, ci: str) -> pl.DataFrame:
    return rates.filter(pl.col("dimension") == dimension).select(
        "category",
        "events",
        "sessions",
        pl.col("per_100_sessions").round(1),
        pl.when(pl.col("sessions") > 0)
        .then(
            pl.format("{}-{}", pl.col("per_100_lower").round(1), pl.col("per_100_upper").round(1))
        )
        .otherwise(pl.lit("no linked infusions"))
        .alias(f"per_100 {ci}"),
        pl.format("{}/{}", "n", "denominator").alias("patients"),
        (pl.col("rate") * 100).round(1).alias("% patients"),
        "caveats",
    )


def _headlines(rates: pl.DataFrame, serious: pl.DataFrame, item9: pl.DataFrame, ci: str):  # type: ignore[no-untyped-def]
    overall = rates.filter(pl.col("dimension") == "overall")
    if overall.height:
        o = overall.row(0, named=True)
        events = Headline(
            "Events per 100 infusions",
            f"{o['per_100_sessions']:.1f}",
            caption=f"{ci} {o['per_100_lower']:.1f}-{o['per_100_upper']:.1f} "
            f"({o['events']:,} events / {o['sessions']:,} sessions)",
            help=o["definition"],
        )
        patients = Headline(
            "Patients with any event",
            f"{o['rate']:.0%}",
            caption=f"{ci} {o['lower']:.0%}-{o['upper']:.0%} "
            f"({o['n']:,}/{o['denominator']:,} patients)",
        )
    else:
        events = Headline("Events per 100 infusions", "0")
        patients = Headline("Patients with any event", "0%")
    open_item9 = item9.filter(pl.col("status").str.starts_with("open")).height
    return (
        events,
        patients,
        Headline("Serious adverse events", f"{serious.height:,}"),
        Headline(
            "Open PHQ-9 item 9 flags",
            f"{open_item9:,}",
            caption=f"{item9.height:,} patient(s) ever answered above 0",
        ),
    )


def monthly_figure(monthly: pl.DataFrame, ci: str) -> go.Figure | None:
    """Adverse events per 100 dosing sessions by month, with their intervals (the axis says
    the configured confidence level)."""
    if monthly.height == 0:
        return None
    fig = figures.adverse_events_by_month_figure(monthly)
    fig.update_layout(yaxis_title=f"Events per 100 sessions (exact {ci})")
    return fig


def _excursions_table(exc: pl.DataFrame, ci: str) -> pl.DataFrame:
    return exc.select(
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


def safety_view(t: dict[str, pl.DataFrame], s: Settings) -> SafetyView | None:
    """The Safety page's content for the cohort ``t``; None when it has no dosing session,
    so that there is nothing to rate."""
    ci = ci_label(s.confidence_level)
    sessions, ae = t["sessions"], t["adverse_events"]
    if sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES)).height == 0:
        return None
    groups = patient_groups(t["patients"], sessions)
    rates = safety.adverse_event_rates(ae, sessions, groups, s)
    serious = safety.serious_events(ae)
    item9 = safety.item9_by_patient(t["assessments"])
    exc = safety.excursion_summary(safety.vital_excursions(sessions, s), groups, s)
    has_events = rates.filter(pl.col("dimension") == "event").height > 0
    return SafetyView(
        headlines=_headlines(rates, serious, item9, ci),
        rates=rates,
        rates_figure=figures.adverse_event_figure(rates) if has_events else None,
        by_severity=_rate_table(rates, "severity", ci),
        by_route=_rate_table(rates, "route", ci),
        monthly_figure=monthly_figure(
            activity.adverse_events_by_month(ae, sessions, s.confidence_level), ci
        ),
        excursions=exc,
        excursions_table=_excursions_table(exc, ci),
        serious=serious,
        item9=item9,
        after_dose_flags=safety.safety_flags(
            t["assessments"].clear(), ae.clear(), sessions, s
        ).filter(pl.col("flag").str.ends_with("_after_dosing")),
        after_dose_limits=after_dose_limits(s),
        dissociation=(diss := dissociation.cadss_summary(t["assessments"], sessions, s)),
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
