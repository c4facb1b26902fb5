"""kapoutcomes dashboards: `streamlit run dashboards/app.py` (or `make run`)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="kapoutcomes", page_icon="📈", layout="wide")

HERE = Path(__file__).resolve().parent
pages = [
    st.Page(str(HERE / "pages" / "cohort.py"), title="Cohort review", icon="📊", default=True),
]
nav = st.navigation(pages)
nav.run()
