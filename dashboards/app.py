"""kapoutcomes dashboards: `streamlit run dashboards/app.py` (or `make run`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.umask(0o077)  # the store, its WAL and the audit checkpoint are the owner's only

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboards import access_gate  # noqa: E402

st.set_page_config(
    page_title="kapoutcomes",
    page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
    layout="wide",
)

viewer = access_gate.gate()
st.session_state["viewer"] = viewer

HERE = Path(__file__).resolve().parent
PAGES = {
    "cohort": ("Cohort review", ":material/bar_chart:"),
    "patient": ("Patient view", ":material/person:"),
    "safety": ("Safety", ":material/health_and_safety:"),
    "data": ("Data", ":material/upload_file:"),
    "audit": ("Audit trail", ":material/policy:"),
    "definitions": ("Definitions", ":material/menu_book:"),
}
pages = [
    st.Page(str(HERE / "views" / f"{key}.py"), title=title, icon=icon, url_path=key)
    for key, (title, icon) in PAGES.items()
    if key in viewer.pages and (HERE / "views" / f"{key}.py").exists()
]
nav = st.navigation(pages)
nav.run()
