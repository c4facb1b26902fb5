"""Safety: review-now signals imports could not store, the must-not-miss signals (PHQ-9 item 9,
serious events) with a link to each patient and the clinician's review, adverse events per 100
dosing sessions of each route, severity and grade as recorded, trends over time, vital-sign
excursions and after-dose flags, dissociation (CADSS). Works without dosing sessions."""

from __future__ import annotations

import streamlit as st

from dashboards import common, signal_review
from kapoutcomes.cohort import safety
from kapoutcomes.present import safety_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.present.headline import ci_label

loaded, viewer = common.page("Safety")
demo = loaded.is_demo
s = common.outcome_settings()
flt = common.sidebar_filters(loaded.tables, key="safety")
st.caption(f"Cohort: {plain(flt.describe())}. Intervals: {ci_label(s.confidence_level)}.")
common.review_now_panel(viewer)
reviews = signal_review.stored_reviews(demo)
view = safety_page.safety_view(common.filtered(loaded, flt), s, reviews)
for note in view.missing:
    st.info(note, icon=":material/info:")

with st.container(horizontal=True, gap="small"):
    for h in view.headlines:
        st.metric(h.label, h.value, help=h.help, border=True, width=230)
captions = [f"**{h.label}**: {h.caption}" for h in view.headlines if h.caption]
st.caption("  \n".join(captions))

st.subheader("PHQ-9 item 9 (thoughts of self-harm) answered above 0")
st.caption(
    "Any answer above 0 needs clinician follow-up (Simon et al., Psychiatr Serv 2013). "
    "Every patient who ever answered above 0 is listed; none is dropped."
)
if view.item9.height:
    common.table(view.item9.drop("signal_id", "kind", "signal_at"), "item9")
    common.download_csv(view.item9, "PHQ-9 item 9 flags", "phq9_item9.csv", "dl-item9", demo)
else:
    st.success("No PHQ-9 item 9 answers above 0.")

st.subheader("Serious adverse events")
if view.serious.height:
    common.table(view.serious.drop("signal_id", "kind", "signal_at"), "serious_events")
    common.download_csv(
        view.serious, "Serious adverse events", "serious_events.csv", "dl-sae", demo
    )
else:
    st.success("No serious adverse events in this cohort.")
signal_review.review_panel(view.item9, view.serious, viewer, demo)

st.subheader("Adverse events per 100 dosing sessions of each route")
st.caption(safety.ROUTE_RATE_DEFINITION)
common.table(view.by_route, "adverse_events_by_route")
if view.event_figures:
    route = st.selectbox("Events by type for", list(view.event_figures), key="safety-fig-route")
    st.plotly_chart(view.event_figures[route], width="stretch")
elif view.events_table.height:
    st.markdown("**Adverse events recorded, by type** (counted; no rate without sessions)")
    common.table(view.events_table, "adverse_events_by_type")
for scale, table in (("severity", view.by_severity), ("grade", view.by_grade)):
    st.markdown(f"**By {scale}** ({safety.SEVERITY_SCALES[scale]})")
    common.table(table, f"adverse_events_by_{scale}")
    if scale == "severity" and (
        assumed := safety_page.assumed_severity_note(
            safety_page.assumed_severities(common.stored_ledger(demo))
        )
    ):
        st.warning(plain(assumed), icon=":material/info:")
common.download_csv(view.rates, "Adverse event rates", "adverse_event_rates.csv", "dl-ae-rates")
if view.monthly_figure is not None:
    st.plotly_chart(view.monthly_figure, width="stretch")

st.subheader("Blood pressure and oxygen excursions")
if view.excursions.height:
    common.table(view.excursions_table, "excursions_table")
    common.download_csv(view.excursions, "Vital-sign excursions", "excursions.csv", key="dl-exc")
else:
    st.info("No vital signs recorded at dosing sessions in this cohort.")

st.subheader("After-dose vital signs: must-not-miss flags")
st.caption(view.after_dose_limits)
after = view.after_dose_flags
if after.height:
    common.table(after.select("at", "patient_id", "flag", "value", "detail"), "after_dose_flags")
    common.download_csv(
        after, "After-dose vital-sign flags", "after_dose_flags.csv", "dl-adf", demo
    )
else:
    st.success("No after-dose vital-sign flags in this cohort.")

st.subheader("Dissociation after dosing (CADSS per session)")
if view.dissociation.height:
    common.table(view.dissociation, "dissociation")
    st.caption(view.dissociation.get_column("definition")[0])
    common.download_csv(view.dissociation, "Dissociation (CADSS)", "dissociation.csv", "dl-cadss")
else:
    st.info("No after-dose CADSS scores linked to dosing sessions in this cohort.")
