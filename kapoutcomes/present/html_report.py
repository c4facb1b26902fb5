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

_CSS = f"""
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:{palette.INK};line-height:1.4;padding:0 1rem}}
h1{{font-size:1.6rem;margin-bottom:.2rem}}h2{{font-size:1.25rem;margin-top:2.2rem;border-bottom:2px solid {palette.PRIMARY}}}
h3{{font-size:1.05rem;margin-top:1.4rem}}
table{{border-collapse:collapse;width:100%;font-size:.82rem;margin:.5rem 0 1rem}}
th,td{{border:1px solid {palette.RULE};padding:.25rem .4rem;text-align:left;vertical-align:top}}
th{{background:{palette.PRIMARY_TINT}}}td.num{{text-align:right;white-space:nowrap}}
td.txt{{font-size:.74rem;color:{palette.NOTE};min-width:14rem}}.wrap{{overflow-x:auto}}
.def{{color:{palette.NOTE};font-size:.85rem}}.cav{{color:{palette.HARM_TEXT};font-size:.85rem}}
.meta td{{border:none;padding:.1rem .6rem .1rem 0}}.kpi{{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}}
.kpi div{{border:1px solid {palette.RULE};border-radius:6px;padding:.6rem .9rem;min-width:12rem}}
.kpi b{{font-size:1.4rem;display:block}}.small{{font-size:.8rem;color:{palette.REFERENCE}}}
@media print{{.plotly-graph-div{{page-break-inside:avoid}}h2{{page-break-before:auto}}}}
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


_DISSOCIATION = (
    "dose_band",
    "sessions",
    "patients",
    "median",
    "q1",
    "q3",
    "above",
    "share_above",
    "lower",
    "upper",
    "caveats",
)


def _table(frame: pl.DataFrame, columns: list[str] | None = None, limit: int = 200) -> str:
    if frame.height == 0:
        return "<p class='small'>No rows.</p>"
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in cols)
    body = []
    for row in frame.head(limit).iter_rows(named=True):
        cells = []
        for c in cols:
            v = row[c]
            cls = " class='num'" if isinstance(v, int | float) and not isinstance(v, bool) else ""
            if c in ("definition", "caveats"):
                cls = " class='txt'"
            cells.append(f"<td{cls}>{_e(format_value(v, c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f"<p class='small'>Showing {limit} of {frame.height:,} rows; the JSON report has all.</p>"
        if frame.height > limit
        else ""
    )
    return (
        f"<div class='wrap'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


class _Figs:
    """Embeds plotly figures; the first carries the full plotly.js bundle inline."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig: Any) -> str:
        out = fig.to_html(
            full_html=False, include_plotlyjs=self.first, config={"displaylogo": False}
        )
        self.first = False
        return out


#: Column groups of the report's tables: a rate with its 95% interval, per-100-session rates,
#: a median duration with its interval, subgroup labels, and the notes every row carries.
_INTERVAL = ["rate", "lower", "upper"]
_RATE = ["n", "denominator", *_INTERVAL]
_PER_100 = ["events", "sessions", "per_100_sessions", "per_100_lower", "per_100_upper"]
_MEDIAN = ["median_days", "median_lower", "median_upper"]
_TURNBULL = ["turnbull_median_days", "turnbull_median_from", "turnbull_median_to"]
_SUBGROUP = ["subgroup", "level"]
_NOTES = ["definition", "caveats"]


def _ci(name: str) -> list[str]:
    """A statistic and its interval: ``name``, ``name_lower``, ``name_upper``."""
    return [name, f"{name}_lower", f"{name}_upper"]


_RATE_COLS = [
    "instrument",
    "measure",
    *_RATE,
    "itt_denominator",
    "itt_rate",
    "itt_lower",
    "itt_upper",
    "completers_n",
    "completers_denominator",
    "completers_rate",
    "started",
    "excluded",
    *_NOTES,
]
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


def _overview(summary: CohortSummary, title: str) -> list[str]:
    """The page head: title, what the data covers, caveats and the key figures."""
    m = summary.meta
    s = summary.sections
    out: list[str] = []
    out.append(f"<h1>{_e(title)}</h1>")
    out.append(
        "<table class='meta'>"
        + "".join(
            f"<tr><td>{_e(k.replace('_', ' '))}</td><td>{_e(format_value(m.get(k), k))}</td></tr>"
            for k in (
                "as_of",
                "patients",
                "dosed_patients",
                "sessions",
                "assessments",
                "adverse_events",
                "clinics",
                "first_session",
                "last_session",
                "primary_instrument",
            )
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
    parts.append(
        _table(
            cr,
            [*_SUBGROUP, *_RATE, "itt_denominator", "itt_rate", "caveats"],
            limit=400,
        )
    )
    cc = comp["change"].filter(pl.col("instrument") == prim)
    parts.append(f"<h3>{_e(figures.label(prim))} change from baseline, by subgroup</h3>")
    parts.append(
        _table(
            cc,
            [*_SUBGROUP, "n", *_ci("mean"), "median", "wilcoxon_p", "caveats"],
            limit=400,
        )
    )
    cd = comp["durability"].filter(pl.col("instrument") == prim)
    parts.append("<h3>Durability by subgroup</h3>")
    care = comp["durability_curves"].filter(
        (pl.col("subgroup") == "care_model") & (pl.col("instrument") == prim)
    )
    if care.height:
        km = figures.km_figure(care, "Time to loss of response: KAP vs infusion-only")
        parts.append(fig(km.update_xaxes(title_text="Weeks from the end of induction")))
    parts.append(
        _table(
            cd,
            [
                *_SUBGROUP,
                "responders",
                "evaluable",
                "events",
                *_MEDIAN,
                "s_12w",
                "caveats",
            ],
            limit=400,
        )
    )
    parts.append("<h3>Log-rank comparisons</h3>")
    parts.append(_table(comp["durability_logrank"], limit=400))
    ca = comp["adverse_events"].filter(pl.col("dimension") == "overall")
    parts.append("<h3>Adverse events by subgroup</h3>")
    parts.append(
        _table(
            ca,
            [*_SUBGROUP, *_PER_100, "n", "denominator", "rate", "caveats"],
            limit=400,
        )
    )
    at = comp["attrition"].filter(
        pl.col("stage").is_in(["first_infusion", "completed_induction", "maintenance"])
    )
    parts.append("<h3>Attrition by subgroup</h3>")
    parts.append(
        _table(
            at,
            [*_SUBGROUP, "stage", "n", "denominator", "pct_of_referred", "caveats"],
            limit=400,
        )
    )
    parts.append(
        "<p class='small'>Every other statistic by subgroup is in the JSON report "
        "(key comparisons).</p>"
    )
    return parts


_ATTRITION_COLS = ["stage", "n", "denominator", "pct_of_referred", "pct_of_previous", *_NOTES]
_CHANGE_COLS = [
    "instrument",
    "n",
    "denominator",
    "mean_baseline",
    "mean_score",
    *_ci("mean"),
    *_ci("median"),
    "mean_reduction_pct",
    "wilcoxon_p",
    "srm",
    "effect_size",
    *_NOTES,
]
_MONTH_COLS = [
    "instrument",
    "treatment_month",
    "n",
    "denominator",
    "mean_change",
    "mean_reduction_pct",
    *_INTERVAL,
    "caveats",
]
_DURABILITY_COLS = [
    "instrument",
    "n",
    "events",
    "censored_pct",
    *_MEDIAN,
    *_ci("s_4w"),
    *_ci("s_8w"),
    *_ci("s_12w"),
    "caveats",
]
_OPIOID_COLS = [
    "timepoint",
    "measure",
    "n",
    "denominator",
    "value",
    "lower",
    "upper",
    "unit",
    *_NOTES,
]
_FUNNEL_COLS = [
    "clinic",
    "n",
    "denominator",
    "rate",
    "network_rate",
    "lower95",
    "upper95",
    "lower998",
    "upper998",
    "position",
    "caveats",
]


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
    columns: list[str],
    fig: _Figs,
    figure: Callable[[pl.DataFrame], Any] | None = None,
) -> list[str]:
    """A section's heading, then its figure of ``frame`` (if any), then its table."""
    parts = _heading(summary, key)
    if figure is not None:
        parts.append(fig(figure(frame)))
    parts.append(_table(frame, columns))
    return parts


def _response(summary: CohortSummary, fig: _Figs) -> list[str]:
    resp = overall(summary.sections["response"].frames["rates"])
    parts = _heading(summary, "response")
    parts.append(fig(figures.rates_figure(resp)))
    parts.append(_table(_short_definitions(resp), _RATE_COLS))
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
    parts.append(_table(dur, _DURABILITY_COLS))
    ar = overall(frames["at_risk"])
    if ar.height:
        wide = ar.pivot(on="week", index="instrument", values="at_risk")
        parts.append("<h3>Numbers at risk (by week)</h3>" + _table(wide))
    parts.append(f"<p class='def'>{_e(dur.get_column('definition')[0] if dur.height else '')}</p>")
    sec = frames["secondary_summary"]
    if sec.height:
        parts.append("<h3>Secondary: every response episode, from the dose that started it</h3>")
        cols = ["instrument", "n", "events", "censored_pct", *_MEDIAN, *_TURNBULL, "caveats"]
        parts.append(_table(sec, cols))
        parts.append(f"<p class='def'>{_e(sec.get_column('definition')[0])}</p>")
    return parts


def _safety(summary: CohortSummary, fig: _Figs) -> list[str]:
    frames = summary.sections["safety"].frames
    ae = overall(frames["adverse_events"])
    columns = ["dimension", "category", *_PER_100, *_RATE, "caveats"]
    parts = _section(summary, "safety", ae, columns, fig, figures.adverse_event_figure)
    parts.append(f"<p class='def'>{_e(ae.get_column('definition')[0] if ae.height else '')}</p>")
    parts.append("<h3>Must-not-miss safety flags</h3>" + _table(frames["flags"]))
    parts.append("<h3>Patients with a PHQ-9 item 9 answer above 0</h3>")
    parts.append(_table(frames["open_item9"], limit=1000))
    parts.append("<h3>Serious adverse events</h3>" + _table(frames["serious_events"], limit=500))
    parts.append("<h3>Vital-sign excursions</h3>")
    parts.append(_table(overall(frames["excursions"]), ["excursion", *_RATE, "patients", *_NOTES]))
    diss = frames["dissociation"]
    parts.append("<h3>Dissociation after dosing (CADSS per session)</h3>")
    parts.append(_table(diss, list(_DISSOCIATION)))
    if diss.height:
        parts.append(f"<p class='def'>{_e(diss.get_column('definition')[0])}</p>")
    return parts


def _funnel(summary: CohortSummary, fig: _Figs) -> list[str]:
    parts = _heading(summary, "funnel")
    fun = summary.sections["funnel"].frames["clinics"]
    if fun.height > 1:
        parts.append(fig(figures.funnel_figure(fun)))
        parts.append(_table(fun, _FUNNEL_COLS))
    elif fun.height:  # one clinic: its rate is the network rate, nothing to compare
        parts.append(
            "<p class='small'>One clinic only: its response rate is the network rate, so "
            "there is no funnel plot.</p>"
        )
        parts.append(_table(fun, _FUNNEL_COLS))
    else:
        parts.append("<p class='small'>No clinic rates to compare.</p>")
    return parts


def _sections(summary: CohortSummary, fig: _Figs) -> list[str]:
    """Every section after the overview, in the report's order."""
    s = summary.sections
    prim = summary.meta.get("primary_instrument", "pain_nrs")
    parts = ["<h3>Definitions in force</h3>", _table(pl.DataFrame(summary.definitions))]
    frame = overall(s["attrition"].frames["stages"])
    parts += _section(summary, "attrition", frame, _ATTRITION_COLS, fig, figures.attrition_figure)
    parts += _response(summary, fig)
    frame = overall(s["change"].frames["end_of_induction"])
    parts += _section(summary, "change", frame, _CHANGE_COLS, fig)
    frame = overall(s["improvement_by_month"].frames["months"])
    parts += _section(
        summary, "improvement_by_month", frame, _MONTH_COLS, fig, figures.month_figure
    )
    parts += _durability(summary, fig)
    frame = overall(s["opioids"].frames["timepoints"])
    parts += _section(summary, "opioids", frame, _OPIOID_COLS, fig, figures.mme_figure)
    parts += _safety(summary, fig)
    frame = overall(s["cost"].frames["cost"])
    columns = ["measure", "n", "denominator", "value", "unit", *_NOTES]
    parts += _section(summary, "cost", frame, columns, fig)
    frame = overall(s["completeness"].frames["completeness"])
    parts += _section(
        summary, "completeness", frame, ["instrument", "measure", *_RATE, *_NOTES], fig
    )
    parts += _heading(summary, "comparisons")
    comp = s["comparisons"].frames
    if comp:
        parts += _comparisons(comp, prim, fig)
    parts += _funnel(summary, fig)
    return parts


def to_html(summary: CohortSummary, title: str = "Ketamine outcomes: cohort report") -> str:
    """The whole summary as one self-contained HTML page."""
    fig = _Figs()
    as_of = format_value(summary.meta.get("as_of"), "as_of")
    parts = [
        *_overview(summary, title),
        *_sections(summary, fig),
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
