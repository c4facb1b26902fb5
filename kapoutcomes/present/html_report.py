"""The cohort report as one self-contained HTML page for a board pack.

The page embeds the plotly.js bundle once, inline (``include_plotlyjs=True``), so it opens
without a network; every number sits beside its n, denominator, definition and caveats;
every text that came from the data is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from kapoutcomes.cohort.summary import CohortSummary
from kapoutcomes.present import figures, palette
from kapoutcomes.present.formatting import format_value, overall
from kapoutcomes.present.headline import ci_label
from kapoutcomes.present.table_display import MISSING, DisplayTable, html_table
from kapoutcomes.present.table_specs import READING_TABLES, shown

_CSS = f"""
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:{palette.INK};line-height:1.4;padding:0 1rem}}
h1{{font-size:1.6rem;margin-bottom:.2rem}}h2{{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid {palette.PRIMARY}}}
h3{{font-size:1.05rem;margin-top:1.4rem}}
table{{border-collapse:collapse;width:100%;font-size:.82rem;margin:.5rem 0 1rem}}
th,td{{border:1px solid {palette.RULE};padding:.25rem .4rem;text-align:left;vertical-align:top}}
th{{background:{palette.PRIMARY_TINT}}}td.num,th.num{{text-align:right;white-space:nowrap}}
td.txt{{font-size:.74rem;color:{palette.NOTE};min-width:14rem}}.wrap{{overflow-x:auto}}
.def{{color:{palette.NOTE};font-size:.85rem}}.cav{{color:{palette.HARM_TEXT};font-size:.85rem}}
.meta td{{border:none;padding:.1rem .6rem .1rem 0}}.kpi{{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}}
.kpi div{{border:1px solid {palette.RULE};border-radius:6px;padding:.6rem .9rem;min-width:12rem}}
.kpi b{{font-size:1.4rem;display:block}}.small{{font-size:.8rem;color:{palette.REFERENCE}}}
@media print{{.plotly-graph-div{{page-break-inside:avoid}}h2{{page-break-before:auto}}}}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _table(table: DisplayTable, limit: int = 200) -> str:
    """A table formatted by its declaration (present.table_specs), at most ``limit`` rows."""
    if table.height == 0:
        return "<p class='small'>No rows.</p>"
    more = (
        f"<p class='small'>Showing {limit} of {table.height:,} rows; the JSON report has all.</p>"
        if table.height > limit
        else ""
    )
    return f"<div class='wrap'>{html_table(table, limit)}</div>{more}"


class _Figs:
    """The page being written: embeds plotly figures (the first carries the full plotly.js
    bundle inline) and writes tables with intervals labelled at the configured level."""

    def __init__(self, ci: str = "95% CI") -> None:
        self.first = True
        self.ci = ci

    def table(self, frame: pl.DataFrame, name: str, limit: int = 200) -> str:
        return _table(shown(frame, name, ci=self.ci), limit)

    def __call__(self, fig: Any) -> str:
        out = fig.to_html(
            full_html=False, include_plotlyjs=self.first, config={"displaylogo": False}
        )
        self.first = False
        return out


_COMMON = "; baseline = "


def _short_definitions(f: pl.DataFrame) -> pl.DataFrame:
    """The per-row part of response definitions (the shared part is printed once)."""
    if "definition" not in f.columns:
        return f
    return f.with_columns(pl.col("definition").str.split(_COMMON).list.first())


def _common_definition(f: pl.DataFrame) -> str:
    if f.height == 0 or "definition" not in f.columns:
        return ""
    d = f.get_column("definition")[0] or ""
    return d[d.index(_COMMON) + 2 :] if _COMMON in d else ""


#: the facts at the head of the report, in words
_META = {
    "as_of": "Data up to",
    "patients": "Patients",
    "dosed_patients": "Patients dosed",
    "sessions": "Sessions",
    "assessments": "Assessments",
    "adverse_events": "Adverse events",
    "clinics": "Clinics",
    "first_session": "First session",
    "last_session": "Last session",
    "primary_instrument": "Primary instrument",
}


def _meta_value(v: Any, key: str) -> str:
    if key == "primary_instrument" and v is not None:
        return figures.label(str(v))
    text = format_value(v, key)
    return MISSING if text == "–" else text


def _overview(summary: CohortSummary, title: str) -> list[str]:
    """The page head: title, what the data covers, caveats and the key figures."""
    m = summary.meta
    s = summary.sections
    out: list[str] = []
    out.append(f"<h1>{_e(title)}</h1>")
    out.append(
        "<table class='meta'>"
        + "".join(
            f"<tr><td>{_e(label)}</td><td>{_e(_meta_value(m.get(k), k))}</td></tr>"
            for k, label in _META.items()
        )
        + "</table>"
    )
    if m.get("empty"):
        out.append("<p class='cav'>The store holds no patients: nothing to report.</p>")
    for c in m.get("caveats", []):
        out.append(f"<p class='cav'>Caveat: {_e(c)}</p>")
    kpis = []
    resp = overall(s["response"].frames["rates"])
    prim = m.get("primary_instrument", "pain_nrs")
    for inst, meas, words in (
        (prim, "response", "pain response"),
        ("phq9", "response", "PHQ-9 response"),
        ("phq9", "remission", "PHQ-9 remission"),
    ):
        r = resp.filter((pl.col("instrument") == inst) & (pl.col("measure") == meas))
        if r.height and r.get_column("rate")[0] is not None:
            x = r.row(0, named=True)
            kpis.append(
                f"<div>{_e(words)}, all starters<b>{100 * x['rate']:.0f}%</b>"
                f"<span class='small'>{x['n']} of {x['denominator']} evaluable "
                f"(95% CI {100 * x['lower']:.0f}-{100 * x['upper']:.0f}%); ITT "
                f"{100 * (x['itt_rate'] or 0):.0f}% of {x['itt_denominator']}; completers "
                f"{x['completers_n']} of {x['completers_denominator']}"
                + (f"; {_e(x['excluded'])}" if x["excluded"] else "")
                + "</span></div>"
            )
    dur = overall(s["durability"].frames["summary"])
    d = dur.filter(pl.col("instrument") == prim)
    if d.height:
        x = d.row(0, named=True)
        med = "not reached" if x["median_days"] is None else f"{x['median_days']:.0f} days"
        kpis.append(
            f"<div>median time to loss of response after induction<b>{_e(med)}</b>"
            f"<span class='small'>{x['responders']} responders of {x['evaluable']} evaluable, "
            f"{x['events']} losses</span></div>"
        )
    flags = s["safety"].frames["flags"]
    for row in flags.iter_rows(named=True):
        kpis.append(
            f"<div>{_e(row['flag'].replace('_', ' '))}<b>{row['patients']}</b>"
            f"<span class='small'>patients ({row['occurrences']} occurrences)</span></div>"
        )
    out.append("<div class='kpi'>" + "".join(kpis) + "</div>")
    return out


def _comparisons(comp: dict[str, pl.DataFrame], prim: str, fig: _Figs) -> list[str]:
    """The primary instrument's statistics by subgroup (the JSON report has every other)."""
    parts: list[str] = []
    cr = comp["response"].filter((pl.col("instrument") == prim) & (pl.col("measure") == "response"))
    parts.append(
        f"<h3>{_e(figures.label(prim))} response at the end of induction, by subgroup</h3>"
    )
    parts.append(fig.table(cr, "response_by_subgroup", limit=400))
    cc = comp["change"].filter(pl.col("instrument") == prim)
    parts.append(f"<h3>{_e(figures.label(prim))} change from baseline, by subgroup</h3>")
    parts.append(fig.table(cc, "change_by_subgroup", limit=400))
    cd = comp["durability"].filter(pl.col("instrument") == prim)
    parts.append("<h3>Durability by subgroup</h3>")
    care = comp["durability_curves"].filter(
        (pl.col("subgroup") == "care_model") & (pl.col("instrument") == prim)
    )
    if care.height:
        km = figures.km_figure(care, "Time to loss of response: KAP vs infusion-only")
        parts.append(fig(km.update_xaxes(title_text="Weeks from the end of induction")))
    parts.append(fig.table(cd, "durability_by_subgroup", limit=400))
    parts.append("<h3>Log-rank comparisons</h3>")
    parts.append(fig.table(comp["durability_logrank"], "logrank", limit=400))
    ca = comp["adverse_events"].filter(pl.col("dimension") == "overall")
    parts.append("<h3>Adverse events by subgroup</h3>")
    parts.append(fig.table(ca, "adverse_events_by_subgroup", limit=400))
    at = comp["attrition"].filter(
        pl.col("stage").is_in(["first_infusion", "completed_induction", "maintenance"])
    )
    parts.append("<h3>Attrition by subgroup</h3>")
    parts.append(fig.table(at, "attrition_by_subgroup", limit=400))
    parts.append(
        "<p class='small'>Every other statistic by subgroup is in the JSON report "
        "(key comparisons).</p>"
    )
    return parts


def _heading(summary: CohortSummary, key: str) -> list[str]:
    """A section's heading, definition and caveats."""
    sec = summary.sections[key]
    return [
        f"<h2 id='{_e(key)}'>{_e(sec.title)}</h2>",
        f"<p class='def'>Definition: {_e(sec.definition)}</p>",
        *(f"<p class='cav'>Caveat: {_e(c)}</p>" for c in sec.caveats),
    ]


def _section(
    summary: CohortSummary,
    key: str,
    frame: pl.DataFrame,
    table: str,
    fig: _Figs,
    figure: Callable[[pl.DataFrame], Any] | None = None,
) -> list[str]:
    """A section's heading, then its figure of ``frame`` (if any), then its table (declared
    as ``table`` in present.table_specs)."""
    parts = _heading(summary, key)
    if figure is not None:
        parts.append(fig(figure(frame)))
    parts.append(fig.table(frame, table))
    return parts


def _response(summary: CohortSummary, fig: _Figs) -> list[str]:
    resp = overall(summary.sections["response"].frames["rates"])
    parts = _heading(summary, "response")
    parts.append(fig(figures.rates_figure(resp)))
    parts.append(fig.table(_short_definitions(resp), "response"))
    common = _common_definition(resp)
    if common:
        parts.append(f"<p class='def'>For every row: {_e(common)}</p>")
    return parts


def _durability(summary: CohortSummary, fig: _Figs) -> list[str]:
    frames = summary.sections["durability"].frames
    dur = overall(frames["summary"])
    parts = _heading(summary, "durability")
    km = figures.km_figure(
        overall(frames["curves"]),
        "Primary: time to loss of response after the end of induction "
        "(end-of-induction responders)",
        at_risk=overall(frames["at_risk"]),
    )
    parts.append(
        fig(km.update_xaxes(title_text="Weeks from the end of induction (1 week = 7 days)"))
    )
    parts.append(fig.table(dur, "durability"))
    ar = overall(frames["at_risk"])
    if ar.height:
        wide = ar.pivot(on="week", index="instrument", values="at_risk")
        parts.append("<h3>Numbers at risk (by week)</h3>" + fig.table(wide, "at_risk"))
    parts.append(f"<p class='def'>{_e(dur.get_column('definition')[0] if dur.height else '')}</p>")
    sec = frames["secondary_summary"]
    if sec.height:
        parts.append("<h3>Secondary: every response episode, from the dose that started it</h3>")
        parts.append(fig.table(sec, "durability_secondary"))
        parts.append(f"<p class='def'>{_e(sec.get_column('definition')[0])}</p>")
    return parts


def _safety(summary: CohortSummary, fig: _Figs) -> list[str]:
    frames = summary.sections["safety"].frames
    ae = overall(frames["adverse_events"])
    parts = _section(summary, "safety", ae, "adverse_events", fig, figures.adverse_event_figure)
    parts.append(f"<p class='def'>{_e(ae.get_column('definition')[0] if ae.height else '')}</p>")
    parts.append("<h3>Must-not-miss safety flags</h3>" + fig.table(frames["flags"], "flags"))
    parts.append("<h3>Patients with a PHQ-9 item 9 answer above 0</h3>")
    parts.append(fig.table(frames["open_item9"], "item9", limit=1000))
    serious = fig.table(frames["serious_events"], "serious_events", limit=500)
    parts.append("<h3>Serious adverse events</h3>" + serious)
    parts.append("<h3>Vital-sign excursions</h3>")
    parts.append(fig.table(overall(frames["excursions"]), "excursions"))
    diss = frames["dissociation"]
    parts.append("<h3>Dissociation after dosing (CADSS per session)</h3>")
    parts.append(fig.table(diss, "dissociation"))
    if diss.height:
        parts.append(f"<p class='def'>{_e(diss.get_column('definition')[0])}</p>")
    return parts


def _funnel(summary: CohortSummary, fig: _Figs) -> list[str]:
    parts = _heading(summary, "funnel")
    fun = summary.sections["funnel"].frames["clinics"]
    if fun.height > 1:
        parts.append(fig(figures.funnel_figure(fun)))
        parts.append(fig.table(fun, "funnel"))
    elif fun.height:  # one clinic: its rate is the network rate, nothing to compare
        parts.append(
            "<p class='small'>One clinic only: its response rate is the network rate, so "
            "there is no funnel plot.</p>"
        )
        parts.append(fig.table(fun, "funnel"))
    else:
        parts.append("<p class='small'>No clinic rates to compare.</p>")
    return parts


def _sections(summary: CohortSummary, fig: _Figs) -> list[str]:
    """Every section after the overview, in the report's order."""
    s = summary.sections
    prim = summary.meta.get("primary_instrument", "pain_nrs")
    parts = ["<h3>Definitions in force</h3>"]
    parts.append(fig.table(pl.DataFrame(summary.definitions), "definitions"))
    frame = overall(s["attrition"].frames["stages"])
    parts += _section(summary, "attrition", frame, "attrition", fig, figures.attrition_figure)
    parts += _response(summary, fig)
    frame = overall(s["change"].frames["end_of_induction"])
    parts += _section(summary, "change", frame, "change", fig)
    frame = overall(s["improvement_by_month"].frames["months"])
    parts += _section(summary, "improvement_by_month", frame, "months", fig, figures.month_figure)
    parts += _durability(summary, fig)
    frame = overall(s["opioids"].frames["timepoints"])
    parts += _section(summary, "opioids", frame, "opioids", fig, figures.mme_figure)
    parts += _safety(summary, fig)
    frame = overall(s["cost"].frames["cost"])
    parts += _section(summary, "cost", frame, "cost", fig)
    frame = overall(s["completeness"].frames["completeness"])
    parts += _section(summary, "completeness", frame, "completeness", fig)
    parts += _heading(summary, "comparisons")
    comp = s["comparisons"].frames
    if comp:
        parts += _comparisons(comp, prim, fig)
    parts += _funnel(summary, fig)
    return parts


def _ci_label(summary: CohortSummary) -> str:
    """The interval label at the confidence level the summary was computed with."""
    level = next(
        (d["value"] for d in summary.definitions if d.get("setting") == "confidence_level"), 0.95
    )
    return ci_label(float(level))


def to_html(summary: CohortSummary, title: str = "Ketamine outcomes: cohort report") -> str:
    """The whole summary as one self-contained HTML page."""
    fig = _Figs(_ci_label(summary))
    as_of = format_value(summary.meta.get("as_of"), "as_of")
    parts = [
        *_overview(summary, title),
        *_sections(summary, fig),
        f"<p class='small'>{_e(READING_TABLES.format(ci=fig.ci))}</p>",
        f"<p class='small'>Generated by kapoutcomes from data up to {_e(as_of)}. "
        "Decision support: figures with their definitions, not verdicts.</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def write_html(summary: CohortSummary, path: str | Path, title: str | None = None) -> Path:
    from kapoutcomes.storage import exports

    html = to_html(summary, **({"title": title} if title else {}))
    return exports.write_private(path, html.encode("utf-8"))  # 0600: it may hold patient data
