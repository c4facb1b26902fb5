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
from dashboards.navigation import PAGES  # noqa: E402

st.set_page_config(
    page_title="kapoutcomes",
    page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
    layout="wide",
)

viewer = access_gate.gate()
st.session_state["viewer"] = viewer

HERE = Path(__file__).resolve().parent
pages = [
    st.Page(str(HERE / "views" / f"{key}.py"), title=title, icon=icon, url_path=key)
    for key, (title, icon) in PAGES.items()
    if key in viewer.pages and (HERE / "views" / f"{key}.py").exists()
]


def open_first_page() -> None:
    """The app's root URL: open the first page this viewer may see, at that page's own URL.
    Streamlit serves its default page at the root only, so a page made the default would not
    answer at /cohort ("Page not found"); every page keeps its url_path and the root, a hidden
    page, moves on to the first of them."""
    if not pages:
        st.error("Your role gives you no page of this app. Ask the clinic's administrator.")
        st.stop()
    st.switch_page(pages[0])


start = st.Page(
    open_first_page, title="kapoutcomes", url_path="start", default=True, visibility="hidden"
)
nav = st.navigation([start, *pages])
# the browser tab names the page, so a clinician with several tabs open can tell them apart
st.set_page_config(page_title=f"{nav.title} · kapoutcomes" if nav is not start else "kapoutcomes")
nav.run()
