"""Definitions: the outcome settings in force, the instrument registry and MME factors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes.definitions import instruments, opioids

common.page("Definitions in force")
s = common.outcome_settings()
st.write(
    "Every threshold and window kapoutcomes uses, with its source. Where no published "
    "standard exists the source says so: those defaults are the project's own choice and can "
    "be changed in the clinic's settings file (docs/settings.md)."
)
DEFINITIONS_MD = Path(__file__).resolve().parents[2] / "docs" / "definitions.md"
with st.expander("Who is counted, from when to when (one page of definitions)", expanded=True):
    if DEFINITIONS_MD.exists():
        st.markdown(DEFINITIONS_MD.read_text(encoding="utf-8"))
    else:
        st.info("docs/definitions.md is not installed with this copy of the app.")
st.subheader("Settings in force")
defs = pl.DataFrame(s.describe())
common.table(defs, "settings")
common.download_csv(defs, "Definitions", "definitions.csv", key="dl-defs")

st.subheader("Outcome instruments")
reg = instruments.registry_frame()
common.table(reg, "instruments")
common.download_csv(reg, "Instruments", "instruments.csv", key="dl-instruments")

st.subheader("Morphine milligram equivalents")
st.caption(opioids.RISK_BANDS_SOURCE + ". MME is a risk measure, not a dose-conversion tool.")
table = st.selectbox("Factor table", list(opioids.TABLES), index=0)
mme = opioids.factor_frame(table)
common.table(mme, "mme_factors")
common.download_csv(mme, "MME factors", f"mme_factors_{table}.csv", key="dl-mme")
