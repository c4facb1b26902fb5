"""Cohort review (medical director)."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import common
from kapoutcomes import activity, filters

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

loaded, viewer = common.page("Cohort review")
flt = common.sidebar_filters(loaded.tables, key="cohort")
t = filters.apply(loaded.tables, flt)
st.caption(f"Source: {loaded.source}. Cohort: {flt.describe()}.")

size = activity.cohort_size(t)
if size.patients == 0:
    st.info("No patients match these filters (or the store holds no patients yet).")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric("Patients", f"{size.patients:,}")
c2.metric("Clinics", size.clinics)
c3.metric("Patients dosed", f"{size.dosed_patients:,}")
c4.metric("Dosing sessions", f"{size.dosing_sessions:,}")
st.caption(f"Sessions from {size.first_session} to {size.last_session}.")

monthly = activity.sessions_by_month(t)
fig = px.bar(
    monthly,
    x="month",
    y="sessions",
    color="session_type",
    color_discrete_sequence=OKABE_ITO,
    title="Sessions per month by type",
    labels={"month": "Month", "sessions": "Sessions (count)", "session_type": "Session type"},
)
st.plotly_chart(fig, width="stretch")
common.download_csv(monthly, "Sessions per month", "sessions_per_month.csv", key="dl-monthly")
