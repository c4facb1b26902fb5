"""Audit trail: who looked at or changed what, with the chain check."""

from __future__ import annotations

import streamlit as st

from dashboards import common
from kapoutcomes.storage import audit, keys, store

_, viewer = common.page("Audit trail")
st.write(
    "Sign-ins, patient record views, imports, exports and settings changes, each chained to "
    "the previous entry by a keyed hash so that an edited or deleted entry is detected."
)
path = store.default_path()
if not path.exists():
    st.info("No store yet, so nothing has been recorded. Import data on the Data page.")
    st.stop()
try:
    s, k = keys.open_store(path)
except store.StoreError as e:
    common.stop_with(e)
    raise
with s:
    log = audit.entries(s)
    check = audit.verify(s, k.audit)
if check.ok:
    st.success(f"Chain intact: {check.entries} entries verified.", icon=":material/verified:")
else:
    st.error(
        f"The audit chain is broken ({len(check.problems)} problem(s)): "
        + "; ".join(check.problems[:5]),
        icon=":material/gpp_bad:",
    )
if log.height == 0:
    st.info("No entries yet.")
    st.stop()
actions = sorted(log.get_column("action").unique().to_list())
picked = st.multiselect("Actions", actions, default=actions)
shown = log.filter(log["action"].is_in(picked)).drop("prev_hash", "entry_hash")
st.dataframe(shown, width="stretch", hide_index=True)
common.download(
    lambda: common.exports.safe_csv(log),
    "⬇ Audit trail (CSV)",
    "audit_trail.csv",
    "text/csv",
    "dl-audit",
    detail=f"rows={log.height}",
)
