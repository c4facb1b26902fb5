"""The cohort report: JSON (keys documented in docs/report-json.md) and a plain-text digest.

The self-contained HTML page is ``report_html``; ``to_html`` and ``write_html`` are importable
from here too (bench/ and older callers use ``report.to_html``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import polars as pl

from kapoutcomes.cohort.summary import SECTIONS, CohortSummary
from kapoutcomes.present.formatting import format_value, overall, percent
from kapoutcomes.present.html_report import to_html, write_html

SCHEMA_VERSION = 1


# -- JSON ------------------------------------------------------------------------------------
def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    return v


def frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON-safe rows (NaN -> null, dates -> ISO 8601 text)."""
    return [_clean(r) for r in frame.to_dicts()]


def to_dict(summary: CohortSummary) -> dict[str, Any]:
    """The summary as a JSON-safe dict: schema_version, meta, definitions and one key per
    section (``cohort.SECTIONS``), each {title, definition, caveats, tables: {name: rows}}."""
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": _clean(summary.meta),
        "definitions": summary.definitions,
    }
    for key in SECTIONS:
        sec = summary.sections.get(key)
        if sec is None:
            continue
        out[key] = {
            "title": sec.title,
            "definition": sec.definition,
            "caveats": list(sec.caveats),
            "tables": {name: frame_rows(f) for name, f in sec.frames.items()},
        }
    return out


def to_json(summary: CohortSummary, indent: int | None = 2) -> str:
    return json.dumps(to_dict(summary), indent=indent, ensure_ascii=False)


def to_text(summary: CohortSummary) -> str:
    """A short plain-text digest for the terminal (the JSON and HTML carry everything)."""
    m = summary.meta
    s = summary.sections
    lines = [
        f"kapoutcomes cohort report, data up to {format_value(m.get('as_of'), 'as_of')}",
        f"patients {m['patients']:,}, dosed {m['dosed_patients']:,}, sessions {m['sessions']:,}, "
        f"clinics {m['clinics']}",
    ]
    lines += [f"caveat: {c}" for c in m.get("caveats", [])]
    lines.append("")
    lines.append("attrition:")
    for r in overall(s["attrition"].frames["stages"]).iter_rows(named=True):
        lines.append(
            f"  {r['stage']:<22} {r['n']:>8,}  ({r['pct_of_referred'] or 0:.0f}% of referred)"
        )
    lines.append(
        "response at the end of induction, eligible patients whose window has closed "
        "(all starters, evaluable | intention-to-treat | completers, evaluable):"
    )
    for r in overall(s["response"].frames["rates"]).iter_rows(named=True):
        lines.append(
            f"  {r['instrument']:<10} {r['measure']:<21} {r['n']:>6}/{r['denominator']:<6} "
            f"{percent(r['rate'])} ({percent(r['lower'])}-{percent(r['upper'])}) | "
            f"ITT {percent(r['itt_rate'])} of {r['itt_denominator']} | "
            f"completers {r['completers_n']}/{r['completers_denominator']}"
            + (f"  ({r['excluded']})" if r["excluded"] else "")
            + (f"  [{r['caveats']}]" if r["caveats"] else "")
        )
    lines.append("durability (time to loss of response after the end of induction):")
    for r in overall(s["durability"].frames["summary"]).iter_rows(named=True):
        med = "not reached" if r["median_days"] is None else f"{r['median_days']:.0f} days"
        t = r["turnbull_median_days"]
        tb = "not reached" if t is None else f"{t:.0f} days"
        lines.append(
            f"  {r['instrument']:<10} {r['responders']} responders of {r['evaluable']} "
            f"evaluable, events={r['events']} median {med} (interval-censored {tb}); "
            f"4 wk {percent(r['s_4w'])}, 8 wk {percent(r['s_8w'])}, 12 wk {percent(r['s_12w'])}"
            + (f"  [{r['caveats']}]" if r["caveats"] else "")
        )
    lines.append("safety flags (must not be missed):")
    for r in s["safety"].frames["flags"].iter_rows(named=True):
        lines.append(
            f"  {r['flag']:<33} {r['patients']:>6} patients, {r['occurrences']} occurrences"
        )
    diss = s["safety"].frames["dissociation"]
    if diss.height:
        lines.append("dissociation after dosing (CADSS per session):")
        for r in diss.iter_rows(named=True):
            lines.append(
                f"  {r['dose_band']:<18} {r['sessions']:>6} sessions, median {r['median']:g} "
                f"(IQR {r['q1']:g}-{r['q3']:g}), above {r['threshold']:g}: "
                f"{percent(r['share_above'])}" + (f"  [{r['caveats']}]" if r["caveats"] else "")
            )
    lines.append("")
    lines.append("Full report: --json or --html FILE.")
    return "\n".join(lines)


__all__ = [
    "SCHEMA_VERSION",
    "frame_rows",
    "to_dict",
    "to_html",
    "to_json",
    "to_text",
    "write_html",
]
