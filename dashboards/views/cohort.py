"""Cohort review (medical director): headline figures with intervals and denominators,
attrition, response and remission, waterfall, trajectories, durability, comparisons,
opioids, improvement by month and the clinic funnel plot."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes.cohort import activity
from kapoutcomes.present import cohort_figures, figures, html_report
from kapoutcomes.stats import intervals

loaded, viewer = common.page("Cohort review")
s = common.outcome_settings()
flt = common.sidebar_filters(loaded.tables, key="cohort")
with st.sidebar:
    common.definitions_expander(
        s,
        [
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
        ],
    )
t = common.filtered(loaded, flt)
st.caption(f"Source: {loaded.source}. Cohort: {flt.describe()}.")

size = activity.cohort_size(t)
if size.patients == 0:
    st.info("No patients match these filters (or the store holds no patients yet).")
    st.stop()
if size.dosed_patients == 0:
    st.info(
        f"{size.patients} patient(s) but none has a dosing session yet: outcome figures need "
        "at least one induction, maintenance or booster infusion."
    )
    st.stop()

COMPARISONS = intervals.GROUP_DIMENSIONS
dims = [d for d in COMPARISONS if viewer.can("compare_clinics") or d != "clinic"]
if st.session_state.get("cohort-compare") not in dims:
    st.session_state["cohort-compare"] = dims[0]
dim = st.session_state["cohort-compare"]
summary = common.summary(loaded, flt, s, comparisons=(dim,))
frames = {k: sec.frames for k, sec in summary.sections.items()}


def overall(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("subgroup") == "all") if "subgroup" in frame.columns else frame


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def num(x: float | None, spec: str = ".2f") -> str:
    """A number for display; a dash when it cannot be computed (too few patients)."""
    return "—" if x is None else format(x, spec)


# -- headline -------------------------------------------------------------------------------
rates = overall(frames["response"]["rates"])
dur = overall(frames["durability"]["summary"]).filter(pl.col("instrument") == "pain_nrs")
chg = overall(frames["change"]["end_of_induction"]).filter(pl.col("instrument") == "pain_nrs")

h1, h2, h3, h4 = st.columns(4)
for col, instrument, label in (
    (h1, "pain_nrs", f"Pain responders (≥{s.pain_response_pct:g}%)"),
    (h2, "phq9", f"PHQ-9 responders (≥{s.depression_response_pct:g}%)"),
):
    resp = rates.filter((pl.col("instrument") == instrument) & (pl.col("measure") == "response"))
    if resp.height:
        r = resp.row(0, named=True)
        col.metric(label, pct(r["rate"]))
        col.caption(
            f"{pct(r['lower'])}-{pct(r['upper'])} · {r['n']}/{r['denominator']} evaluable · "
            f"ITT {pct(r['itt_rate'])} of {r['itt_denominator']}"
        )
if dur.height:
    d = dur.row(0, named=True)
    med = "not reached" if d["median_days"] is None else f"{d['median_days']:.0f} days"
    h3.metric("Median time to loss of pain response", med)
    lo = "—" if d["median_lower"] is None else f"{d['median_lower']:.0f}"
    hi = "not reached" if d["median_upper"] is None else f"{d['median_upper']:.0f}"
    h3.caption(f"95% CI {lo}-{hi} · {d['n']} episodes, {num(d['censored_pct'], '.0f')}% censored")
if chg.height:
    c = chg.row(0, named=True)
    h4.metric("Pain change at end of induction", f"{num(c['mean'], '+.2f')} points")
    h4.caption(
        f"mean, 95% CI {num(c['mean_lower'], '+.2f')} to {num(c['mean_upper'], '+.2f')} · n={c['n']}"
    )

caveats = [cv for sec in summary.sections.values() for cv in sec.caveats]
caveats += list(summary.meta.get("caveats", []))
if caveats:
    with st.expander(f"Caveats ({len(caveats)})", expanded=False):
        for cv in dict.fromkeys(caveats):
            st.markdown(f"- {cv}")

tab_out, tab_dur, tab_cmp, tab_opi, tab_act, tab_rep = st.tabs(
    ["Outcomes", "Durability", "Comparisons", "Opioids", "Activity", "Report"]
)

with tab_out:
    c1, c2 = st.columns(2)
    with c1:
        stages = overall(frames["attrition"]["stages"])
        st.plotly_chart(figures.attrition_figure(stages), width="stretch")
        common.download_csv(stages, "Attrition", "attrition.csv", key="dl-attrition")
    with c2:
        st.plotly_chart(figures.rates_figure(rates), width="stretch")
        common.download_csv(rates, "Response and remission", "response.csv", key="dl-rates")
    st.caption(summary["response"].definition)

    pf = summary.metrics  # per-patient frames the summary was computed from
    wf = cohort_figures.waterfall_figure(pf.end_of_induction, s)
    if wf is None:
        st.info(
            "No patient is evaluable at the end of induction yet (baseline and a score "
            "within the end-of-induction window are needed)."
        )
    else:
        st.plotly_chart(wf, width="stretch")
    c1, c2 = st.columns(2)
    for col, inst in ((c1, "pain_nrs"), (c2, "phq9")):
        with col:
            fig = cohort_figures.trajectory_figure(pf.changes, inst)
            if fig is None:
                st.info(f"Too few {inst} scores after the first infusion for a trajectory.")
            else:
                st.plotly_chart(fig, width="stretch")
    months = overall(frames["improvement_by_month"]["months"])
    if months.height:
        st.plotly_chart(figures.month_figure(months), width="stretch")
        st.caption(summary["improvement_by_month"].definition)
        common.download_csv(months, "Improvement by month", "months.csv", key="dl-months")
    change = overall(frames["change"]["end_of_induction"])
    st.markdown("**Change from baseline at the end of induction**")
    st.dataframe(change, width="stretch", hide_index=True)
    common.download_csv(change, "Change from baseline", "change.csv", key="dl-change")

with tab_dur:
    curves = overall(frames["durability"]["curves"])
    if curves.height == 0:
        st.info("No response episodes yet: durability needs responders with follow-up.")
    else:
        st.plotly_chart(figures.km_figure(curves), width="stretch")
        st.caption(summary["durability"].definition)
        st.markdown("**Numbers at risk**")
        at_risk = overall(frames["durability"]["at_risk"])
        st.dataframe(
            at_risk.pivot(on="week", index="instrument", values="at_risk"),
            width="stretch",
            hide_index=True,
        )
        summ = overall(frames["durability"]["summary"])
        st.dataframe(summ, width="stretch", hide_index=True)
        common.download_csv(summ, "Durability", "durability.csv", key="dl-dur")

with tab_cmp:
    comp = frames["comparisons"]
    st.selectbox(
        "Compare by", dims, format_func=lambda d: d.replace("_", " "), key="cohort-compare"
    )
    resp = comp["response"].filter(
        (pl.col("subgroup") == dim)
        & (pl.col("instrument") == "pain_nrs")
        & (pl.col("measure") == "response")
    )
    sub_fig = cohort_figures.subgroup_rates_figure(resp, dim)
    if sub_fig is not None:
        st.plotly_chart(sub_fig, width="stretch")
    lr = comp["durability_logrank"].filter(
        (pl.col("subgroup") == dim) & (pl.col("instrument") == "pain_nrs")
    )
    dcurves = comp["durability_curves"].filter(
        (pl.col("subgroup") == dim) & (pl.col("instrument") == "pain_nrs")
    )
    if dcurves.height:
        st.plotly_chart(
            figures.km_figure(
                dcurves, title=f"Time to loss of pain response by {dim.replace('_', ' ')}"
            ),
            width="stretch",
        )
    if lr.height:
        r = lr.row(0, named=True)
        st.markdown(
            f"**Log-rank test** across {r['levels']} groups: chi-square {num(r['statistic'])} "
            f"on {r['df']} df, p = {num(r['pvalue'], '.3g')} ({r['n']} episodes, "
            f"{r['events']} losses)."
        )
        if r.get("caveats"):
            st.caption(r["caveats"])
    st.dataframe(resp, width="stretch", hide_index=True)
    common.download_csv(resp, "Response by subgroup", f"response_by_{dim}.csv", key="dl-cmp")
    if viewer.can("compare_clinics"):
        fun = frames["funnel"]["clinics"]
        if fun.height:
            st.plotly_chart(figures.funnel_figure(fun), width="stretch")
            st.caption(summary["funnel"].definition)
            common.download_csv(fun, "Clinic funnel", "funnel.csv", key="dl-funnel")

with tab_opi:
    tp = overall(frames["opioids"]["timepoints"])
    if tp.height == 0:
        st.info("No opioid records in this cohort.")
    else:
        st.plotly_chart(figures.mme_figure(tp), width="stretch")
        st.caption(summary["opioids"].definition)
        st.dataframe(tp, width="stretch", hide_index=True)
        common.download_csv(tp, "Opioids", "opioids.csv", key="dl-opioids")
    cost = overall(frames["cost"]["cost"])
    if cost.height:
        st.markdown("**Cost of care** (where the export carries charges)")
        st.dataframe(cost, width="stretch", hide_index=True)

with tab_act:
    monthly = activity.sessions_by_month(t)
    fig = figures.sessions_figure(monthly) if hasattr(figures, "sessions_figure") else None
    if fig is None:
        import plotly.express as px

        fig = px.bar(
            monthly,
            x="month",
            y="sessions",
            color="session_type",
            color_discrete_sequence=list(figures.OKABE_ITO),
            title="Sessions per month by type",
            labels={
                "month": "Month",
                "sessions": "Sessions (count)",
                "session_type": "Session type",
            },
        )
    st.plotly_chart(fig, width="stretch")
    common.download_csv(monthly, "Sessions per month", "sessions_per_month.csv", key="dl-monthly")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Patients", f"{size.patients:,}")
    c2.metric("Clinics", size.clinics)
    c3.metric("Patients dosed", f"{size.dosed_patients:,}")
    c4.metric("Dosing sessions", f"{size.dosing_sessions:,}")

with tab_rep:
    st.write(
        "The whole cohort summary as a self-contained HTML report (charts included, opens "
        "without a network connection) for a board pack, or as JSON."
    )
    if st.button("Prepare the HTML report", key="cohort-report"):
        full = common.summary(loaded, flt, s, comparisons=COMPARISONS)
        st.session_state["cohort_report_html"] = html_report.to_html(full)
    html = st.session_state.get("cohort_report_html")
    if html:
        common.download(
            lambda: html.encode("utf-8"),
            "⬇ Cohort report (HTML)",
            "kapoutcomes_cohort_report.html",
            "text/html",
            "dl-report",
            target="cohort report",
            detail=flt.describe(),
        )
