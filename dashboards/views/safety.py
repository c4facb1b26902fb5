"""Safety: review-now signals imports could not store, adverse events by type, severity and
route, per 100 sessions and per patient, trends over time, vital-sign excursions and
after-dose flags, dissociation (CADSS), serious events and open PHQ-9 item 9 flags."""

from __future__ import annotations

import streamlit as st

from dashboards import common
from kapoutcomes.present import safety_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.present.headline import ci_label

loaded, viewer = common.page("Safety")
s = common.outcome_settings()
flt = common.sidebar_filters(loaded.tables, key="safety")
st.caption(f"Cohort: {plain(flt.describe())}. Intervals: {ci_label(s.confidence_level)}.")
common.review_now_panel(viewer)
view = safety_page.safety_view(common.filtered(loaded, flt), s)
if view is None:
    st.info("No dosing sessions in this cohort yet, so there is nothing to rate.")
    st.stop()

for col, h in zip(st.columns(len(view.headlines)), view.headlines, strict=True):
    col.metric(h.label, h.value, help=h.help)
    if h.caption:
        col.caption(h.caption)

if view.rates_figure is not None:
    st.plotly_chart(view.rates_figure, width="stretch")
for col, title, table in zip(
    st.columns(2), ("By severity", "By route"), (view.by_severity, view.by_route), strict=True
):
    with col:
        st.markdown(f"**{title}**")
        common.table(table, "adverse_event_rates_by")
common.download_csv(view.rates, "Adverse event rates", "adverse_event_rates.csv", "dl-ae-rates")
if view.monthly_figure is not None:
    st.plotly_chart(view.monthly_figure, width="stretch")

st.subheader("Blood pressure and oxygen excursions")
common.table(view.excursions_table, "excursions_table")
common.download_csv(view.excursions, "Vital-sign excursions", "excursions.csv", key="dl-exc")

st.subheader("After-dose vital signs: must-not-miss flags")
st.caption(view.after_dose_limits)
after = view.after_dose_flags
if after.height:
    common.table(after, "after_dose_flags")
    common.download_csv(after, "After-dose vital-sign flags", "after_dose_flags.csv", key="dl-adf")
else:
    st.success("No after-dose vital-sign flags in this cohort.")

st.subheader("Dissociation after dosing (CADSS per session)")
if view.dissociation.height:
    common.table(view.dissociation, "dissociation")
    st.caption(view.dissociation.get_column("definition")[0])
    common.download_csv(view.dissociation, "Dissociation (CADSS)", "dissociation.csv", "dl-cadss")
else:
    st.info("No after-dose CADSS scores linked to dosing sessions in this cohort.")

st.subheader("Serious adverse events")
if view.serious.height:
    common.table(view.serious, "serious_events")
    common.download_csv(view.serious, "Serious adverse events", "serious_events.csv", "dl-sae")
else:
    st.success("No serious adverse events in this cohort.")

st.subheader("PHQ-9 item 9 (thoughts of self-harm) answered above 0")
st.caption(
    "Any answer above 0 needs clinician follow-up (Simon et al., Psychiatr Serv 2013). "
    "Every patient who ever answered above 0 is listed; none is dropped."
)
if view.item9.height:
    common.table(view.item9, "item9")
    common.download_csv(view.item9, "PHQ-9 item 9 flags", "phq9_item9.csv", key="dl-item9")
else:
    st.success("No PHQ-9 item 9 answers above 0.")
