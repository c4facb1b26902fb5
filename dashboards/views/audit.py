"""Audit trail: who looked at or changed what, with the chain check."""

from __future__ import annotations

import streamlit as st

from dashboards import common
from kapoutcomes.present import audit_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import store

_, viewer = common.page("Audit trail")
st.write(
    "Sign-ins, patient record views, imports, exports and settings changes, each chained to "
    "the previous entry by a keyed hash so that an edited or deleted entry is detected."
)
trail = audit_page.audit_trail(store.default_path())
if trail is None:
    st.info("No store yet, so nothing has been recorded. Import data on the Data page.")
    st.stop()
check = trail.check
if check.ok:
    st.success(f"Chain intact: {check.entries} entries verified.", icon=":material/verified:")
else:
    st.error(
        f"The audit chain is broken ({len(check.problems)} problem(s)): "
        + plain("; ".join(check.problems[:5])),
        icon=":material/gpp_bad:",
    )
if trail.entries.height == 0:
    st.info("No entries yet.")
    st.stop()
actions = sorted(trail.entries.get_column("action").unique().to_list())
picked = st.multiselect(
    "Actions", actions, default=actions, format_func=lambda a: a.replace("_", " ")
)
common.table(trail.shown(picked), "audit")
common.download(
    lambda: trail.csv,
    "⬇ Audit trail (CSV)",
    "audit_trail.csv",
    "text/csv",
    "dl-audit",
    detail=f"rows={trail.entries.height}",
)
