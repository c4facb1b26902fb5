"""Cohort review (medical director): headline figures with intervals and denominators,
attrition, response and remission, waterfall, trajectories, durability, comparisons,
opioids, improvement by month and the clinic funnel plot."""

from __future__ import annotations

import streamlit as st

from dashboards import common
from kapoutcomes.cohort import activity
from kapoutcomes.cohort.groups import GROUP_DIMENSIONS
from kapoutcomes.present import cohort_page
from kapoutcomes.present.formatting import plain

loaded, viewer = common.page("Cohort review")
demo = (
    loaded.is_demo
)  # the bundled demo cohort is no clinic's record: its downloads are not audited
s = common.outcome_settings()
flt = common.sidebar_filters(loaded.tables, key="cohort")
with st.sidebar:
    common.definitions_expander(s, list(cohort_page.DEFINITIONS))
t = common.filtered(loaded, flt)
st.caption(f"Source: {plain(loaded.source)}. Cohort: {plain(flt.describe())}.")

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

dims = [d for d in GROUP_DIMENSIONS if viewer.can("compare_clinics") or d != "clinic"]
if st.session_state.get("cohort-compare") not in dims:
    st.session_state["cohort-compare"] = dims[0]
dim = st.session_state["cohort-compare"]
view = common.cohort_view(loaded, flt, s, dim)


# each headline a fixed-width card: they wrap onto more rows on a tablet instead of truncating
with st.container(horizontal=True, gap="small"):
    for h in view.headlines:
        with st.container(width=300, border=True):
            st.metric(h.label, h.value)
            st.caption(h.caption)
if view.caveats:
    with st.expander(f"Caveats ({len(view.caveats)})", expanded=False):
        st.markdown("\n".join(f"- {plain(cv)}" for cv in view.caveats))

tab_out, tab_dur, tab_cmp, tab_opi, tab_act, tab_rep = st.tabs(
    ["Outcomes", "Durability", "Comparisons", "Opioids", "Activity", "Report"]
)
with tab_out:
    # charts one under another: side by side they are unreadable on a tablet (820 px)
    common.chart(view.attrition_figure)
    common.download_csv(view.attrition, "Attrition", "attrition.csv", key="dl-attrition", demo=demo)
    common.chart(view.rates_figure)
    common.download_csv(
        view.rates, "Response and remission", "response.csv", key="dl-rates", demo=demo
    )
    st.caption(view.definitions["response"])
    st.markdown(
        "**Who each rate is about**: eligible patients (baseline in the instrument's elevated "
        "range) whose end-of-induction window has closed; who was left out is under the table."
    )
    common.table(view.who, "who")
    common.chart(
        view.waterfall,
        "No patient is evaluable at the end of induction yet (baseline and a score within the "
        "end-of-induction window are needed).",
    )
    for inst, fig in view.trajectories.items():
        common.chart(fig, f"Too few {inst} scores after the first infusion for a trajectory.")
    if view.months_figure is not None:
        common.chart(view.months_figure)
        st.caption(view.definitions["improvement_by_month"])
        common.download_csv(
            view.months, "Improvement by month", "months.csv", key="dl-months", demo=demo
        )
    st.markdown("**Change from baseline at the end of induction**")
    common.table(view.change, "change")
    common.download_csv(
        view.change, "Change from baseline", "change.csv", key="dl-change", demo=demo
    )

with tab_dur:
    if view.durability_figure is None:
        st.info("No response episodes yet: durability needs responders with follow-up.")
    else:
        common.chart(view.durability_figure)
        for line in view.durability_populations:
            st.markdown(line)
        for cv in view.durability_caveats:
            st.caption(plain(cv))
        st.caption(view.definitions["durability"])
        st.markdown("**Numbers at risk**")
        common.table(view.at_risk, "at_risk")
        common.table(view.durability, "durability")
        common.download_csv(
            view.durability, "Durability", "durability.csv", key="dl-dur", demo=demo
        )
        with st.expander("Secondary: every response episode, from the dose that started it"):
            common.table(view.durability_secondary, "durability_secondary")

with tab_cmp:
    st.selectbox(
        "Compare by", dims, format_func=lambda d: d.replace("_", " "), key="cohort-compare"
    )
    cmp = common.comparison(loaded, flt, s, dim)
    if cmp.pooled_note:
        st.caption(cmp.pooled_note)
    common.chart(cmp.response_figure)
    common.chart(cmp.durability_figure)
    if cmp.logrank:
        st.markdown(cmp.logrank)
        if cmp.logrank_caveats:
            st.caption(plain(cmp.logrank_caveats))
    # "compared by" is the box above: the group names the row (and stays in view)
    common.table(cmp.response.drop("subgroup"), "response_by_subgroup")
    common.download_csv(
        cmp.response, "Response by subgroup", f"response_by_{dim}.csv", "dl-cmp", demo=demo
    )
    if viewer.can("compare_clinics") and cmp.funnel_figure is not None:
        common.chart(cmp.funnel_figure)
        st.caption(view.definitions["funnel"])
        common.download_csv(cmp.funnel, "Clinic funnel", "funnel.csv", key="dl-funnel", demo=demo)
    elif viewer.can("compare_clinics") and cmp.funnel_note:
        st.info(cmp.funnel_note)

with tab_opi:
    if view.opioids_figure is None:
        st.info("No opioid records in this cohort.")
    else:
        common.chart(view.opioids_figure)
        st.caption(view.definitions["opioids"])
        common.table(view.opioids, "opioids")
        common.download_csv(view.opioids, "Opioids", "opioids.csv", key="dl-opioids", demo=demo)
    if view.cost.height:
        st.markdown("**Cost of care** (where the export carries charges)")
        common.table(view.cost, "cost")

with tab_act:
    act = common.activity(loaded, flt)
    common.chart(act.figure)
    common.download_csv(
        act.monthly, "Sessions per month", "sessions_per_month.csv", "dl-monthly", demo=demo
    )
    for col, h in zip(st.columns(len(act.headlines)), act.headlines, strict=True):
        col.metric(h.label, h.value)

with tab_rep:
    st.write(
        "The whole cohort summary as a self-contained HTML report (charts included, opens "
        "without a network connection) for a board pack, or as JSON."
    )
    if st.button("Prepare the HTML report", key="cohort-report"):
        full = common.summary(loaded, flt, s, comparisons=GROUP_DIMENSIONS)
        st.session_state["cohort_report"] = cohort_page.board_report(full, loaded.version, flt)
    rep = st.session_state.get("cohort_report")
    if rep is not None and rep.cohort != (loaded.version, flt):
        st.info("The filters changed since the report was prepared: prepare it again.")
    elif rep is not None:
        for fmt, data, mime in (
            ("HTML", rep.html, "text/html"),
            ("JSON", rep.json, "application/json"),
        ):
            common.download(
                lambda d=data: d.encode("utf-8"),
                f"⬇ Cohort report ({fmt})",
                f"kapoutcomes_cohort_report.{fmt.lower()}",
                mime,
                f"dl-report-{fmt.lower()}",
                target=f"cohort report ({fmt})",
                detail=flt.describe(),
                demo=demo,
            )
