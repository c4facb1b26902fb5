"""Everything the app's Cohort review shows, from the cohort summary: the headline figures
(intervals labelled at the configured confidence level), caveats, and the tables and figures
of each tab. The page asks for the summary, calls these and renders."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl

from kapoutcomes.cohort import activity, durability, resources
from kapoutcomes.cohort import groups as groups_mod
from kapoutcomes.cohort.summary import CohortSummary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import episodes
from kapoutcomes.present import figures, html_report, report
from kapoutcomes.present.formatting import overall, percent
from kapoutcomes.present.headline import Headline, ci_label, number

#: the definitions shown beside the cohort figures
DEFINITIONS = (
    "baseline_window_days",
    "pain_response_pct",
    "pain_substantial_pct",
    "depression_response_pct",
    "phq9_remission_below",
    "induction_complete_infusions",
    "end_of_induction_window_days",
    "loss_consecutive_assessments",
    "loss_on_unscheduled_booster",
    "mme_table",
    "confidence_level",
)


@dataclass(frozen=True)
class CohortView:
    headlines: tuple[Headline, ...]
    caveats: tuple[str, ...]  # each once, in order
    attrition: pl.DataFrame
    attrition_figure: go.Figure
    rates: pl.DataFrame  # response and remission, whole cohort
    rates_figure: go.Figure
    who: pl.DataFrame  # who each rate is about: evaluable, ITT, completers, excluded
    waterfall: go.Figure | None  # None: nobody evaluable at the end of induction
    trajectories: dict[str, go.Figure | None]  # pain_nrs, phq9
    months: pl.DataFrame
    months_figure: go.Figure | None
    change: pl.DataFrame  # change from baseline at the end of induction
    durability_curves: pl.DataFrame
    durability_figure: go.Figure | None
    at_risk: pl.DataFrame  # numbers at risk, one column per week
    durability: pl.DataFrame
    durability_populations: tuple[str, ...]  # "pain_nrs: 133 responders of 307 evaluable ..."
    durability_caveats: tuple[str, ...]  # which curve and which median is which
    durability_secondary: pl.DataFrame  # every response episode, labelled secondary
    opioids: pl.DataFrame
    opioids_paired: pl.DataFrame  # the same patients at the first dose and later
    opioids_figure: go.Figure | None  # paired when per-patient frames exist, else labelled
    cost: pl.DataFrame
    definitions: dict[str, str]  # section -> its definition sentence


def _response_headline(rates: pl.DataFrame, instrument: str, label: str, ci: str) -> Headline:
    resp = rates.filter((pl.col("instrument") == instrument) & (pl.col("measure") == "response"))
    if resp.height == 0:
        return Headline(label, "—", caption="no patient evaluable")
    r = resp.row(0, named=True)
    return Headline(
        label,
        percent(r["rate"]),
        caption=f"{ci} {percent(r['lower'])}-{percent(r['upper'])} · "
        f"{r['n']}/{r['denominator']} evaluable · "
        f"ITT {percent(r['itt_rate'])} of {r['itt_denominator']} · completers "
        f"{r['completers_n']}/{r['completers_denominator']}"
        + (f" · {r['excluded']}" if r["excluded"] else ""),
    )


def _weeks(days: float | None, missing: str) -> str:
    """Days as weeks with one decimal, in the KM chart's unit (``figures.KM_UNIT``)."""
    return missing if days is None else f"{days / 7:.1f}"


def _durability_headline(dur: pl.DataFrame, ci: str) -> Headline:
    """The median in weeks, the unit of the durability chart's axis."""
    label = "Median time to loss of pain response"
    if dur.height == 0:
        return Headline(label, "—", caption="no response episodes yet")
    d = dur.row(0, named=True)
    med = _weeks(d["median_days"], "not reached")
    med = med if d["median_days"] is None else f"{med} {figures.KM_UNIT}"
    lo = _weeks(d["median_lower"], "—")
    hi = _weeks(d["median_upper"], "not reached")
    return Headline(
        label,
        med,
        caption=f"{ci} {lo}-{hi} {figures.KM_UNIT} · after induction, {d['responders']} "
        f"responders of {d['evaluable']} evaluable, {number(d['censored_pct'], '.0f')}% "
        "censored",
    )


def _change_headline(chg: pl.DataFrame, ci: str) -> Headline:
    label = "Pain change at end of induction"
    if chg.height == 0:
        return Headline(label, "—", caption="no patient evaluable")
    c = chg.row(0, named=True)
    return Headline(
        label,
        f"{number(c['mean'], '+.2f')} points",
        caption=f"mean, {ci} {number(c['mean_lower'], '+.2f')} to "
        f"{number(c['mean_upper'], '+.2f')} · n={c['n']}",
    )


def headlines(summary: CohortSummary, s: Settings) -> tuple[Headline, ...]:
    """Pain and PHQ-9 responders, median durability and pain change, each with its interval
    at the configured confidence level and its denominator."""
    frames = {k: sec.frames for k, sec in summary.sections.items()}
    ci = ci_label(s.confidence_level)
    rates = overall(frames["response"]["rates"])
    pain = pl.col("instrument") == "pain_nrs"
    return (
        _response_headline(
            rates, "pain_nrs", f"Pain responders (≥{s.pain_response_pct:g}%), all starters", ci
        ),
        _response_headline(
            rates, "phq9", f"PHQ-9 responders (≥{s.depression_response_pct:g}%), all starters", ci
        ),
        _durability_headline(overall(frames["durability"]["summary"]).filter(pain), ci),
        _change_headline(overall(frames["change"]["end_of_induction"]).filter(pain), ci),
    )


def who_each_rate_is_about(rates: pl.DataFrame) -> pl.DataFrame:
    """Each rate's populations side by side: evaluable, intention-to-treat, completers, and
    who was left out and why."""
    return rates.select(
        "instrument", "measure", "n", "denominator", "rate", "itt_denominator", "itt_rate",
        "completers_n", "completers_denominator", "completers_rate", "started", "excluded",
    )  # fmt: skip


def primary_km_figure(
    curves: pl.DataFrame, by: str | None = None, at_risk: pl.DataFrame | None = None
) -> go.Figure:
    """The primary durability curve: end-of-induction responders, weeks from the end of
    induction (per level of ``by`` when comparing), with the numbers at risk under it."""
    title = "Primary: time to loss of response after the end of induction"
    if by:
        title = f"Time to loss of pain response by {by.replace('_', ' ')}"
    return figures.km_figure(curves, title=title, at_risk=at_risk).update_xaxes(
        title_text=f"{figures.KM_UNIT.capitalize()} from the end of induction (1 week = 7 days)"
    )


def _opioids_figure(opioids: pl.DataFrame, paired: pl.DataFrame) -> go.Figure | None:
    """The same patients over time when anyone on opioids at the first dose was followed up
    (paired); otherwise the cross-sectional medians, labelled so; None without opioids."""
    if paired.height and int(paired.get_column("n").sum()) > 0:
        return figures.paired_mme_figure(paired)
    return figures.mme_figure(opioids) if opioids.height else None


def _instrument_named(text: str) -> str:
    """A caveat of the summary that starts with an instrument's code ("pain_nrs median time
    to loss ...") as the page names the instrument ("Pain NRS (0-10) median time ...")."""
    code, _, rest = text.partition(" ")
    return f"{figures.label(code)} {rest}" if code in figures.INSTRUMENT_LABELS else text


def cohort_view(summary: CohortSummary, s: Settings) -> CohortView:
    """The Cohort review's content for one cohort summary (whole-cohort rows)."""
    frames = {k: sec.frames for k, sec in summary.sections.items()}
    caveats = [cv for sec in summary.sections.values() for cv in sec.caveats]
    caveats += list(summary.meta.get("caveats", []))
    pf = summary.metrics
    attrition = overall(frames["attrition"]["stages"])
    rates = overall(frames["response"]["rates"])
    months = overall(frames["improvement_by_month"]["months"])
    curves = overall(frames["durability"]["curves"])
    at_risk = overall(frames["durability"]["at_risk"])
    opioids = overall(frames["opioids"]["timepoints"])
    paired = resources.paired_mme(pf.mme) if pf else pl.DataFrame()
    return CohortView(
        headlines=headlines(summary, s),
        caveats=tuple(dict.fromkeys(caveats)),
        attrition=attrition,
        attrition_figure=figures.attrition_figure(attrition),
        rates=rates,
        rates_figure=figures.rates_figure(rates),
        who=who_each_rate_is_about(rates),
        waterfall=figures.waterfall_figure(pf.end_of_induction, s) if pf else None,
        trajectories={
            inst: figures.trajectory_figure(
                pf.changes,
                inst,
                min_n=s.min_patients_per_point,
                confidence_level=s.confidence_level,
            )
            if pf
            else None
            for inst in ("pain_nrs", "phq9")
        },
        months=months,
        months_figure=figures.month_figure(
            months, min_n=s.min_patients_per_point, confidence_level=s.confidence_level
        )
        if months.height
        else None,
        change=overall(frames["change"]["end_of_induction"]),
        durability_curves=curves,
        durability_figure=primary_km_figure(curves, at_risk=at_risk) if curves.height else None,
        at_risk=at_risk.pivot(on="week", index="instrument", values="at_risk")
        if at_risk.height
        else at_risk,
        durability=(dur := overall(frames["durability"]["summary"])),
        durability_populations=tuple(
            f"**{figures.label(r['instrument'])}**: {r['population']}."
            for r in dur.iter_rows(named=True)
        ),
        durability_caveats=tuple(
            _instrument_named(cv) for cv in summary.sections["durability"].caveats
        ),
        durability_secondary=frames["durability"]["secondary_summary"],
        opioids=opioids,
        opioids_paired=paired,
        opioids_figure=_opioids_figure(opioids, paired),
        cost=overall(frames["cost"]["cost"]),
        definitions={k: sec.definition for k, sec in summary.sections.items()},
    )


@dataclass(frozen=True)
class Comparison:
    dimension: str
    response: pl.DataFrame  # pain response by level of the dimension
    response_figure: go.Figure | None
    durability_figure: go.Figure | None
    logrank: str | None  # the log-rank test in a sentence
    logrank_caveats: str
    funnel: pl.DataFrame  # clinics against the network rate
    funnel_figure: go.Figure | None  # None with fewer than FUNNEL_MIN_CLINICS clinics
    funnel_note: str | None  # why there is no funnel plot, in a sentence
    pooled_note: str | None  # which groups the charts pool as "other", in a sentence


#: a funnel plot compares clinics with the network: with one clinic the clinic is the network
FUNNEL_MIN_CLINICS = 2


def funnel_note(funnel: pl.DataFrame) -> str | None:
    """The sentence shown instead of a funnel plot with fewer than ``FUNNEL_MIN_CLINICS``
    clinics (None when there are enough to draw it)."""
    if funnel.height >= FUNNEL_MIN_CLINICS:
        return None
    if funnel.height == 0:
        return "No clinic has evaluable patients yet, so there is no clinic comparison."
    c = funnel.row(0, named=True)
    return (
        f"One clinic only ({c['clinic']}): its response rate is the network rate, so there is "
        "no funnel plot; a funnel plot compares two or more clinics with the network."
    )


def _logrank_sentence(lr: pl.DataFrame) -> tuple[str | None, str]:
    """The log-rank test (across every level, not the pooled chart groups) in a sentence."""
    if not lr.height:
        return None, ""
    r = lr.row(0, named=True)
    text = (
        f"**Log-rank test** across {r['levels']} groups: chi-square {number(r['statistic'])} "
        f"on {r['df']} df, p = {number(r['pvalue'], '.3g')} ({r['n']} episodes, "
        f"{r['events']} losses)."
    )
    return text, r.get("caveats") or ""


def _pooled_durability(
    summary: CohortSummary, pool: groups_mod.PooledGroups, s: Settings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Pain durability curves and numbers at risk per chart group (the largest groups and
    the pooled rest), from the per-patient frames."""
    pm = summary.metrics
    assert pm is not None
    d = durability.primary_durability(
        pool.apply(pm.end_of_induction),
        pool.apply(pm.episodes),
        pool.apply(pm.itt),
        pool.apply(pm.groups),
        s,
        by=pool.dimension,
        loss_rule=episodes.loss_definition(s),
    )
    pain = pl.col("instrument") == "pain_nrs"
    return d.curves.filter(pain), d.at_risk.filter(pain)


def comparison(
    summary: CohortSummary, dimension: str, settings: Settings | None = None
) -> Comparison:
    """Pain response and durability compared across the levels of one dimension: the charts
    draw the largest ``groups.COMPARED_GROUPS_SHOWN`` levels and pool the rest as "other"
    (the tables keep every level)."""
    s = settings or Settings()
    comp = summary["comparisons"].frames
    pain = (pl.col("subgroup") == dimension) & (pl.col("instrument") == "pain_nrs")
    resp = comp["response"].filter(pain & (pl.col("measure") == "response"))
    curves, at_risk = comp["durability_curves"].filter(pain), None
    pool = None
    if summary.metrics is not None:
        pool = groups_mod.largest_groups(summary.metrics.groups, dimension)
        curves, at_risk = _pooled_durability(summary, pool, s)
    shown = groups_mod.pooled_rates(resp, pool, s.confidence_level) if pool else resp
    text, caveats = _logrank_sentence(comp["durability_logrank"].filter(pain))
    funnel = summary["funnel"].frames["clinics"]
    return Comparison(
        dimension=dimension,
        response=resp,
        response_figure=figures.subgroup_rates_figure(shown, dimension),
        durability_figure=primary_km_figure(curves, dimension, at_risk) if curves.height else None,
        logrank=text,
        logrank_caveats=caveats,
        funnel=funnel,
        funnel_figure=figures.funnel_figure(funnel)
        if funnel.height >= FUNNEL_MIN_CLINICS
        else None,
        funnel_note=funnel_note(funnel),
        pooled_note=pool.sentence() if pool else None,
    )


@dataclass(frozen=True)
class Activity:
    monthly: pl.DataFrame  # sessions per month by type
    figure: go.Figure
    headlines: tuple[Headline, ...]


def activity_view(t: dict[str, pl.DataFrame]) -> Activity:
    """Sessions per month and the cohort's size."""
    size = activity.cohort_size(t)
    monthly = activity.sessions_by_month(t)
    return Activity(
        monthly=monthly,
        figure=figures.sessions_figure(monthly),
        headlines=(
            Headline("Patients", f"{size.patients:,}"),
            Headline("Clinics", f"{size.clinics}"),
            Headline("Patients dosed", f"{size.dosed_patients:,}"),
            Headline("Dosing sessions", f"{size.dosing_sessions:,}"),
        ),
    )


@dataclass(frozen=True)
class BoardReport:
    """The full cohort report, with the cohort it was prepared for (data version, filter) so
    that a report is never offered for a cohort other than the one on screen."""

    cohort: tuple[object, ...]
    html: str
    json: str


def board_report(summary: CohortSummary, *cohort: object) -> BoardReport:
    """The HTML and JSON report of a full cohort summary (every comparison)."""
    return BoardReport(tuple(cohort), html_report.to_html(summary), report.to_json(summary))
