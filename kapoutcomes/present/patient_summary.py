"""A printable one-page patient summary for the chart: self-contained HTML with small inline
SVG charts (no scripts, no network), every data value escaped."""

from __future__ import annotations

import datetime as dt
import html

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import safety
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, episodes, maintenance_review
from kapoutcomes.present import palette
from kapoutcomes.present.figures.printed import score_chart_svg

_CSS = f"""
@page {{ size: A4; margin: 14mm; }}
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 11pt; color: {palette.INK}; max-width: 190mm; margin: auto; }}
h1 {{ font-size: 16pt; margin: 0 0 2mm 0; }}
h2 {{ font-size: 12pt; margin: 5mm 0 1mm 0; border-bottom: 1px solid {palette.AXIS}; }}
.flags {{ border: 2px solid {palette.HARM}; background: {palette.HARM_TINT}; padding: 2mm 4mm; }}
.ok {{ border: 1px solid {palette.SUBSTANTIAL}; padding: 2mm 4mm; }}
table {{ border-collapse: collapse; width: 100%; font-size: 9.5pt; }}
td, th {{ border-bottom: 1px solid {palette.RULE}; padding: 1mm 2mm; text-align: left; }}
.small {{ color: {palette.NOTE}; font-size: 9pt; }}
svg text {{ font-size: 9px; font-family: inherit; }}
"""
#: the charts on the page: (instrument, top of the scale, title)
_CHARTS = (("pain_nrs", 10.0, "Pain (NRS 0-10)"), ("phq9", 27.0, "PHQ-9 (0-27)"))
_e = html.escape


def _one_patient(t: dict[str, pl.DataFrame], patient_id: str) -> dict[str, pl.DataFrame]:
    return {
        name: t.get(name, tables.empty(name)).filter(pl.col("patient_id") == patient_id)
        for name in tables.MODELS
    }


def _score_charts(one: dict[str, pl.DataFrame], settings: Settings) -> str:
    """Pain and PHQ-9 over time with the baseline, the response line and infusion ticks."""
    doses = (
        one["sessions"]
        .filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
        .get_column("started_at")
        .to_list()
    )
    totals = change.totals(one["assessments"]).sort("assessed_at")
    base = change.baselines(one["assessments"], one["sessions"], settings)
    charts = []
    for inst, y_max, title in _CHARTS:
        pct = settings.pain_response_pct if inst == "pain_nrs" else settings.depression_response_pct
        pts = [
            (r["assessed_at"], r["score"])
            for r in totals.filter(pl.col("instrument") == inst).iter_rows(named=True)
        ]
        b = base.filter(pl.col("instrument") == inst)
        v = b.get_column("baseline_score")[0] if b.height else None
        lines = []
        if v is not None:
            lines = [
                (v, f"baseline {v:g}", palette.BASELINE),
                (v * (1 - pct / 100), f"{pct:g}% below baseline", palette.RESPONSE),
            ]
        charts.append(score_chart_svg(pts, y_max, lines, doses, title))
    return "".join(charts)


def _flags_box(flags: pl.DataFrame) -> str:
    if flags.height == 0:
        return (
            "<div class='ok'>No safety flags (PHQ-9 item 9 above 0, serious adverse events, "
            "hypertensive pre-dose BP).</div>"
        )
    items = "".join(
        f"<li>{r['at']:%Y-%m-%d}: {_e(str(r['detail']))}</li>" for r in flags.iter_rows(named=True)
    )
    return f"<div class='flags'><b>Safety flags</b><ul>{items}</ul></div>"


def _review(facts: dict[str, maintenance_review.PatientFacts]) -> str:
    return "".join(
        f"<li><b>{'Pain' if k == 'pain_nrs' else 'PHQ-9'}:</b> "
        f"{_e(maintenance_review.describe_patient(f))}.</li>"
        for k, f in facts.items()
    )


def _dose_row(r: dict) -> str:
    dose = "" if r["dose_mg"] is None else f"{r['dose_mg']:g} mg"
    bp = (
        ""
        if r["bp_systolic_before"] is None
        else f"{r['bp_systolic_before']}/{r['bp_diastolic_before']}"
    )
    return (
        f"<tr><td>{r['started_at']:%Y-%m-%d}</td><td>{_e(r['session_type'])}</td>"
        f"<td>{_e(str(r['route'] or ''))}</td><td>{dose}</td><td>{bp}</td></tr>"
    )


def _recent_infusions(sessions: pl.DataFrame) -> str:
    recent = (
        sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
        .sort("started_at", descending=True)
        .head(8)
    )
    return "".join(_dose_row(r) for r in recent.iter_rows(named=True))


def _recent_side_effects(events: pl.DataFrame) -> str:
    ae = events.sort("onset_at", descending=True).head(8)
    return (
        "".join(
            f"<tr><td>{r['onset_at']:%Y-%m-%d}</td><td>{_e(r['event'].replace('_', ' '))}</td>"
            f"<td>{_e(str(r['severity'] or ''))}</td><td>{'yes' if r['serious'] else ''}</td></tr>"
            for r in ae.iter_rows(named=True)
        )
        or "<tr><td colspan='4'>none recorded</td></tr>"
    )


def _header(patient_id: str, patients: pl.DataFrame) -> str:
    info = patients.row(0, named=True) if patients.height else {}
    return " · ".join(
        _e(str(x))
        for x in (
            patient_id,
            info.get("clinic", ""),
            str(info.get("primary_condition", "")).replace("_", " "),
            f"age band {info.get('age_band') or 'not recorded'}",
        )
    )


def one_page_html(
    t: dict[str, pl.DataFrame],
    patient_id: str,
    settings: Settings,
    facts: dict[str, maintenance_review.PatientFacts] | None = None,
    flags: pl.DataFrame | None = None,
    as_of: dt.datetime | None = None,
) -> str:
    """The one-page summary of ``patient_id`` as a self-contained HTML document."""
    one = _one_patient(t, patient_id)
    as_of = as_of or episodes.data_end(t)
    if facts is None:
        facts = {
            inst: maintenance_review.patient_facts(
                t, patient_id, settings, instrument=inst, as_of=as_of
            )
            for inst in ("pain_nrs", "phq9")
        }
    if flags is None:
        flags = safety.safety_flags(
            one["assessments"], one["adverse_events"], one["sessions"], settings
        )
    dose_rows = _recent_infusions(one["sessions"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>kapoutcomes patient summary</title><style>{_CSS}</style></head><body>
<h1>Patient summary</h1>
<p>{_header(patient_id, one["patients"])}<br><span class="small">As of {as_of:%Y-%m-%d} · printed from kapoutcomes ·
pseudonymous id, no direct identifiers</span></p>
{_flags_box(flags)}
<h2>Maintenance review (decision support, not a verdict)</h2>
<ul>{_review(facts)}</ul>
<p class="small">Rule in force: responder = at least {settings.pain_response_pct:g}% pain
reduction (PHQ-9 {settings.depression_response_pct:g}%) from baseline (last score within
{settings.baseline_window_days} days before the first dose); {_e(episodes.loss_definition(settings))}.</p>
<h2>Scores</h2>
{_score_charts(one, settings)}
<h2>Recent infusions</h2>
<table><tr><th>date</th><th>type</th><th>route</th><th>dose</th><th>BP before</th></tr>
{dose_rows or "<tr><td colspan='5'>none</td></tr>"}</table>
<h2>Recent side effects</h2>
<table><tr><th>date</th><th>event</th><th>severity</th><th>serious</th></tr>{_recent_side_effects(one["adverse_events"])}</table>
</body></html>
"""
