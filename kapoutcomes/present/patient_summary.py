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

_CSS = """
@page { size: A4; margin: 14mm; }
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 11pt; color: #111; max-width: 190mm; margin: auto; }
h1 { font-size: 16pt; margin: 0 0 2mm 0; }
h2 { font-size: 12pt; margin: 5mm 0 1mm 0; border-bottom: 1px solid #999; }
.flags { border: 2px solid #D55E00; background: #fff3ec; padding: 2mm 4mm; }
.ok { border: 1px solid #009E73; padding: 2mm 4mm; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
td, th { border-bottom: 1px solid #ddd; padding: 1mm 2mm; text-align: left; }
.small { color: #444; font-size: 9pt; }
svg text { font-size: 9px; font-family: inherit; }
"""


def _svg_chart(
    points: list[tuple[dt.datetime, float]],
    y_max: float,
    lines: list[tuple[float, str, str]],
    doses: list[dt.datetime],
    title: str,
    width: int = 680,
    height: int = 150,
) -> str:
    """A small line chart: points, horizontal reference lines (y, label, colour), dose ticks."""
    if not points:
        return f"<p class='small'>{html.escape(title)}: no scores recorded.</p>"
    xs = [p[0] for p in points] + doses
    x0, x1 = min(xs), max(xs)
    span = max((x1 - x0).total_seconds(), 1.0)
    left, right, top, bottom = 36, 10, 16, 22

    def sx(x: dt.datetime) -> float:
        return left + (x - x0).total_seconds() / span * (width - left - right)

    def sy(y: float) -> float:
        return top + (1 - y / y_max) * (height - top - bottom)

    parts = [
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{html.escape(title)}'>",
        f"<text x='{left}' y='11' font-weight='bold'>{html.escape(title)}</text>",
        f"<line x1='{left}' y1='{sy(0):.1f}' x2='{width - right}' y2='{sy(0):.1f}' stroke='#999'/>",
        f"<text x='2' y='{sy(0):.1f}'>0</text><text x='2' y='{sy(y_max) + 4:.1f}'>{y_max:g}</text>",
    ]
    for y, label, colour in lines:
        parts.append(
            f"<line x1='{left}' y1='{sy(y):.1f}' x2='{width - right}' y2='{sy(y):.1f}' "
            f"stroke='{colour}' stroke-dasharray='4 3'/>"
            f"<text x='{width - right - 4}' y='{sy(y) - 2:.1f}' text-anchor='end' fill='{colour}'>"
            f"{html.escape(label)}</text>"
        )
    for d in doses:
        parts.append(
            f"<line x1='{sx(d):.1f}' y1='{height - bottom}' x2='{sx(d):.1f}' "
            f"y2='{height - bottom + 6}' stroke='#0072B2' stroke-width='2'/>"
        )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts.append(f"<polyline fill='none' stroke='#000' stroke-width='1.5' points='{path}'/>")
    for x, y in points:
        parts.append(f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='2.2'/>")
    parts.append(
        f"<text x='{left}' y='{height - 2}'>{x0:%Y-%m-%d}</text>"
        f"<text x='{width - right}' y='{height - 2}' text-anchor='end'>{x1:%Y-%m-%d}</text>"
        f"<text x='{width / 2:.0f}' y='{height - 2}' text-anchor='middle' fill='#0072B2'>"
        "ticks: infusions</text></svg>"
    )
    return "".join(parts)


def one_page_html(
    t: dict[str, pl.DataFrame],
    patient_id: str,
    settings: Settings,
    facts: dict[str, maintenance_review.PatientFacts] | None = None,
    flags: pl.DataFrame | None = None,
    as_of: dt.datetime | None = None,
) -> str:
    """The one-page summary of ``patient_id`` as a self-contained HTML document."""
    one = {
        name: t.get(name, tables.empty(name)).filter(pl.col("patient_id") == patient_id)
        for name in tables.MODELS
    }
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
    e = html.escape
    info = one["patients"].row(0, named=True) if one["patients"].height else {}
    dosing = one["sessions"].filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    doses = dosing.get_column("started_at").to_list()
    totals = change.totals(one["assessments"]).sort("assessed_at")
    base = change.baselines(one["assessments"], one["sessions"], settings)

    def base_of(inst: str) -> float | None:
        b = base.filter(pl.col("instrument") == inst)
        return None if b.height == 0 else b.get_column("baseline_score")[0]

    charts = []
    for inst, y_max, title, pct in (
        ("pain_nrs", 10.0, "Pain (NRS 0-10)", settings.pain_response_pct),
        ("phq9", 27.0, "PHQ-9 (0-27)", settings.depression_response_pct),
    ):
        pts = [
            (r["assessed_at"], r["score"])
            for r in totals.filter(pl.col("instrument") == inst).iter_rows(named=True)
        ]
        b = base_of(inst)
        lines = []
        if b is not None:
            lines = [
                (b, f"baseline {b:g}", "#777"),
                (b * (1 - pct / 100), f"{pct:g}% below baseline", "#E69F00"),
            ]
        charts.append(_svg_chart(pts, y_max, lines, doses, title))

    if flags.height:
        flag_html = (
            "<div class='flags'><b>Safety flags</b><ul>"
            + "".join(
                f"<li>{r['at']:%Y-%m-%d}: {e(str(r['detail']))}</li>"
                for r in flags.iter_rows(named=True)
            )
            + "</ul></div>"
        )
    else:
        flag_html = (
            "<div class='ok'>No safety flags (PHQ-9 item 9 above 0, serious adverse events, "
            "hypertensive pre-dose BP).</div>"
        )
    review = "".join(
        f"<li><b>{'Pain' if k == 'pain_nrs' else 'PHQ-9'}:</b> {e(maintenance_review.describe_patient(f))}.</li>"
        for k, f in facts.items()
    )
    recent = dosing.sort("started_at", descending=True).head(8)

    def dose_row(r: dict) -> str:
        dose = "" if r["dose_mg"] is None else f"{r['dose_mg']:g} mg"
        bp = (
            ""
            if r["bp_systolic_before"] is None
            else f"{r['bp_systolic_before']}/{r['bp_diastolic_before']}"
        )
        return (
            f"<tr><td>{r['started_at']:%Y-%m-%d}</td><td>{e(r['session_type'])}</td>"
            f"<td>{e(str(r['route'] or ''))}</td><td>{dose}</td><td>{bp}</td></tr>"
        )

    dose_rows = "".join(dose_row(r) for r in recent.iter_rows(named=True))
    ae = one["adverse_events"].sort("onset_at", descending=True).head(8)
    ae_rows = (
        "".join(
            f"<tr><td>{r['onset_at']:%Y-%m-%d}</td><td>{e(r['event'].replace('_', ' '))}</td>"
            f"<td>{e(str(r['severity'] or ''))}</td><td>{'yes' if r['serious'] else ''}</td></tr>"
            for r in ae.iter_rows(named=True)
        )
        or "<tr><td colspan='4'>none recorded</td></tr>"
    )
    header = " · ".join(
        e(str(x))
        for x in (
            patient_id,
            info.get("clinic", ""),
            str(info.get("primary_condition", "")).replace("_", " "),
            f"age band {info.get('age_band') or 'not recorded'}",
        )
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>kapoutcomes patient summary</title><style>{_CSS}</style></head><body>
<h1>Patient summary</h1>
<p>{header}<br><span class="small">As of {as_of:%Y-%m-%d} · printed from kapoutcomes ·
pseudonymous id, no direct identifiers</span></p>
{flag_html}
<h2>Maintenance review (decision support, not a verdict)</h2>
<ul>{review}</ul>
<p class="small">Rule in force: responder = at least {settings.pain_response_pct:g}% pain
reduction (PHQ-9 {settings.depression_response_pct:g}%) from baseline (last score within
{settings.baseline_window_days} days before the first dose); {e(episodes.loss_definition(settings))}.</p>
<h2>Scores</h2>
{"".join(charts)}
<h2>Recent infusions</h2>
<table><tr><th>date</th><th>type</th><th>route</th><th>dose</th><th>BP before</th></tr>
{dose_rows or "<tr><td colspan='5'>none</td></tr>"}</table>
<h2>Recent side effects</h2>
<table><tr><th>date</th><th>event</th><th>severity</th><th>serious</th></tr>{ae_rows}</table>
</body></html>
"""
