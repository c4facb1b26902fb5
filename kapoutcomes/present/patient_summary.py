"""A printable one-page patient summary for the chart: self-contained HTML with small inline
SVG charts (no scripts, no network), every data value escaped."""

from __future__ import annotations

import datetime as dt
import html

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import safety
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, episodes, maintenance_review, opioid_course
from kapoutcomes.present import palette
from kapoutcomes.present.figures.printed import score_chart_svg
from kapoutcomes.present.headline import ci_label
from kapoutcomes.present.table_display import html_table
from kapoutcomes.present.table_specs import shown

#: no page size: the browser's print dialog (A4 or Letter) decides, and the content fits the
#: smaller of the two (A4 width, Letter height) within the margins
_CSS = f"""
@page {{ margin: 10mm; }}
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       font-size: 9.5pt; line-height: 1.2; color: {palette.INK}; max-width: 188mm; margin: auto; }}
h1 {{ font-size: 14pt; margin: 0 0 1mm 0; }}
h2 {{ font-size: 10.5pt; margin: 2.5mm 0 1mm 0; border-bottom: 1px solid {palette.AXIS}; }}
p, ul {{ margin: 1mm 0; }}
ul {{ padding-left: 5mm; }}
.flags {{ border: 2px solid {palette.HARM}; background: {palette.HARM_TINT}; padding: 1mm 3mm; }}
.ok {{ border: 1px solid {palette.SUBSTANTIAL}; padding: 1mm 3mm; }}
.stale {{ border: 1px solid {palette.HARM}; padding: 1mm 3mm; margin: 1mm 0; }}
.ids {{ font-size: 10.5pt; }}
.charts {{ display: flex; gap: 2mm; }}
table {{ border-collapse: collapse; width: 100%; font-size: 8.5pt; }}
td, th {{ border-bottom: 1px solid {palette.RULE}; padding: 0.5mm 1.5mm; text-align: left; }}
td.num, th.num {{ text-align: right; white-space: nowrap; }}
.small {{ color: {palette.NOTE}; font-size: 8pt; }}
svg text {{ font-size: 9px; font-family: inherit; }}
"""
#: the charts on the page: (instrument, top of the scale, title)
_CHARTS = (("pain_nrs", 10.0, "Pain (NRS 0-10)"), ("phq9", 27.0, "PHQ-9 (0-27)"))
#: rows listed at most, so that the page stays one page (the app lists them all)
MAX_FLAGS, MAX_INFUSIONS, MAX_SIDE_EFFECTS, MAX_DETAIL = 4, 6, 4, 100
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
        charts.append(score_chart_svg(pts, y_max, lines, doses, title, width=350, height=120))
    return f"<div class='charts'>{''.join(charts)}</div>"


def _short(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _flags_box(flags: pl.DataFrame) -> str:
    if flags.height == 0:
        return (
            "<div class='ok'>No safety flags (PHQ-9 item 9 above 0, serious adverse events, "
            "hypertensive pre-dose BP).</div>"
        )
    items = "".join(
        f"<li>{r['at']:%Y-%m-%d}: {_e(_short(str(r['detail'])))}</li>"
        for r in flags.head(MAX_FLAGS).iter_rows(named=True)
    )
    more = flags.height - MAX_FLAGS
    if more > 0:
        items += f"<li>… and {more} more (all are listed in the app's Patient view)</li>"
    return f"<div class='flags'><b>Safety flags ({flags.height})</b><ul>{items}</ul></div>"


def _review(facts: dict[str, maintenance_review.PatientFacts]) -> str:
    return "".join(
        f"<li><b>{'Pain' if k == 'pain_nrs' else 'PHQ-9'}:</b> "
        f"{_e(maintenance_review.describe_patient(f, dosing=i == 0))}.</li>"
        for i, (k, f) in enumerate(facts.items())
    )


def _opioid_item(
    one: dict[str, pl.DataFrame], as_of: dt.datetime | None, settings: Settings
) -> str:
    """The opioid line of the review (MME now against the first infusion, or none recorded)."""
    said = opioid_course.patient_opioid_line(one["opioids"], one["sessions"], as_of, settings)
    return f"<li><b>Opioids:</b> {_e(said)}.</li>" if said else ""


def _pair(systolic: str, diastolic: str) -> pl.Expr:
    """Blood pressure as written on a chart, "120/80" (missing when the systolic is)."""
    return pl.when(pl.col(systolic).is_not_null()).then(
        pl.concat_str(
            pl.col(systolic).cast(pl.String),
            pl.lit("/"),
            pl.col(diastolic).cast(pl.String).fill_null("—"),
        )
    )


def _recent_infusions(sessions: pl.DataFrame, ci: str) -> str:
    """The latest infusions with the vitals before and after dosing (BP, heart rate, SpO2),
    formatted by the shared table declaration ``summary_infusions``."""
    dosing = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    if dosing.height == 0:
        return "<p>No infusions recorded.</p>"
    recent = (
        dosing.sort("started_at", descending=True)
        .head(MAX_INFUSIONS)
        .with_columns(
            bp_before=_pair("bp_systolic_before", "bp_diastolic_before"),
            bp_after=_pair("bp_systolic_after", "bp_diastolic_after"),
        )
    )
    out = html_table(shown(recent, "summary_infusions", ci=ci))
    if dosing.height > MAX_INFUSIONS:
        out += f"<p class='small'>The latest {MAX_INFUSIONS} of {dosing.height} infusions.</p>"
    return out


def _recent_side_effects(events: pl.DataFrame, ci: str) -> str:
    if events.height == 0:
        return "<p>No side effects recorded.</p>"
    recent = events.sort("onset_at", descending=True).head(MAX_SIDE_EFFECTS)
    out = html_table(shown(recent, "summary_side_effects", ci=ci))
    if events.height > MAX_SIDE_EFFECTS:
        out += (
            f"<p class='small'>The latest {MAX_SIDE_EFFECTS} of {events.height} side effects "
            "(all are listed in the app's Patient view).</p>"
        )
    return out


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


def _identity(patient_id: str, patients: pl.DataFrame, mrn: str | None) -> str:
    """The MRN the clinician typed (or a line to write it on) above the pseudonymous id."""
    shown = _e(mrn.strip()) if mrn and mrn.strip() else "________________"
    return (
        f"<p class='ids'><b>MRN {shown}</b> · {_header(patient_id, patients)}</p>"
        "<p class='small'>The MRN is the one typed to find the patient (printed here only, "
        "never stored); the id is the pseudonymous id in kapoutcomes.</p>"
    )


def _stale_box(facts: dict[str, maintenance_review.PatientFacts]) -> str:
    items = [
        f"{'Pain' if k == 'pain_nrs' else 'PHQ-9'}: {_e(n)}"
        for k, f in facts.items()
        for n in maintenance_review.stale_notes(f)
    ]
    if not items:
        return ""
    return "<div class='stale'><b>Old or missing scores</b><br>" + "<br>".join(items) + "</div>"


def one_page_html(
    t: dict[str, pl.DataFrame],
    patient_id: str,
    settings: Settings,
    facts: dict[str, maintenance_review.PatientFacts] | None = None,
    flags: pl.DataFrame | None = None,
    as_of: dt.datetime | None = None,
    mrn: str | None = None,
    as_of_text: str | None = None,
) -> str:
    """The one-page summary of ``patient_id`` as a self-contained HTML document (one A4 or
    Letter page when printed). ``mrn`` is printed as given, never stored."""
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
    ci = ci_label(settings.confidence_level)
    when = as_of_text or (
        "As of —" if as_of is None else f"As of {as_of:%Y-%m-%d} (the latest record in the store)"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>kapoutcomes patient summary</title><style>{_CSS}</style></head><body>
<h1>Patient summary</h1>
{_identity(patient_id, one["patients"], mrn)}
<p class="small">{_e(when)} · printed from kapoutcomes</p>
{_flags_box(flags)}
<h2>Maintenance review (decision support, not a verdict)</h2>
{_stale_box(facts)}
<ul>{_review(facts)}{_opioid_item(one, as_of, settings)}</ul>
<p class="small">Rule in force: responder = at least {settings.pain_response_pct:g}% pain
reduction (PHQ-9 {settings.depression_response_pct:g}%) from baseline (last score within
{settings.baseline_window_days} days before the first dose); {_e(episodes.loss_definition(settings))}.</p>
<h2>Scores</h2>
{_score_charts(one, settings)}
<h2>Recent infusions and vitals before and after dosing</h2>
{_recent_infusions(one["sessions"], ci)}
<h2>Recent side effects</h2>
{_recent_side_effects(one["adverse_events"], ci)}
</body></html>
"""
