"""Patient view (clinician, before a maintenance decision)."""

from __future__ import annotations

import streamlit as st

from dashboards import access_gate, common
from kapoutcomes.present import patient_page
from kapoutcomes.present.formatting import plain
from kapoutcomes.storage import privacy

loaded, viewer = common.page("Patient view")
s = common.outcome_settings()
patients = loaded.tables["patients"]
if patients.height == 0:
    st.info("No patients yet. Import an export on the Data page.")
    st.stop()

known = patients.get_column("patient_id").sort().to_list()
# a link from the Safety page names the patient by pseudonymous id (?patient=p_...), never by
# MRN; it chooses the patient once, and the clinician may pick another afterwards
linked = st.query_params.get("patient", "")
if linked and linked != st.session_state.get("_linked_patient"):
    st.session_state["_linked_patient"] = linked
    if linked in known:
        st.session_state["patient-pick"] = linked
        st.session_state["patient-query"] = ""
    else:
        st.warning("The linked patient is not in the data you may see.")
elif not linked:
    st.session_state.pop("_linked_patient", None)  # the next link chooses again
c1, c2 = st.columns([2, 3])
query = c1.text_input(
    "Find by MRN or patient id",
    key="patient-query",
    placeholder="MRN as in the EHR, e.g. DEMO-000012, or p_…",
    help="The MRN is hashed with this installation's key and never stored.",
)
picked = c2.selectbox("…or choose a patient id", ["", *known], key="patient-pick")

patient_id = None
if query.strip():
    key = privacy.DEMO_SECRET if loaded.is_demo else common.installation_keys().pseudonym
    patient_id = patient_page.find_patient(query, key)
    if patient_id not in known:
        st.warning(
            "No patient with that MRN or id in the data you may see. Check the MRN as written "
            "in the EHR (letters and digits; spaces and case do not matter)."
        )
        st.stop()
elif picked:
    patient_id = picked
if patient_id is None:
    st.info("Enter an MRN or choose a patient to see their timeline and maintenance review.")
    st.stop()

seen = st.session_state.setdefault("audited_views", set())
# demo patients are synthetic, no clinic's record: their views stay out of the audit trail
if not loaded.is_demo and patient_id not in seen:
    if not access_gate.record(viewer, "view_patient", patient_id):
        st.stop()  # fail closed: no record shown whose view could not be audited
    seen.add(patient_id)

# the MRN as typed goes onto the printable summary only (never stored or logged)
mrn = query.strip() if query.strip() and query.strip() != patient_id else None
view = patient_page.patient_view(loaded.tables, patient_id, s, mrn=mrn)

# Safety flags first: impossible to miss.
flags = view.flags
if flags.height:
    lines = "\n".join(
        f"- **{r['at']:%Y-%m-%d}** {plain(r['detail'])}"
        for r in flags.head(8).iter_rows(named=True)
    )
    more = f"\n- … and {flags.height - 8} more (table below)" if flags.height > 8 else ""
    st.error(
        f"**{flags.height} safety flag(s) for this patient**\n\n{lines}{more}",
        icon=":material/warning:",
    )
else:
    st.success(
        "No safety flags (PHQ-9 item 9, serious adverse events, hypertensive pre-dose BP, "
        "after-dose hypertensive crisis, hypoxaemia or tachycardia)."
    )

st.markdown(view.header)

st.subheader("Maintenance review")
st.caption(
    f"**{view.as_of_text}** Decision support: these are facts and the clinic's configured "
    "rule, not a recommendation."
)
for note in view.stale:
    st.warning(note, icon=":material/schedule:")
# metrics wrap onto more rows on a narrow screen (a tablet) instead of truncating
with st.container(horizontal=True, gap="small"):
    for h in view.headlines:
        st.metric(
            h.label,
            h.value,
            h.delta,
            delta_color=h.delta_color,
            delta_arrow="off" if h.delta_color == "off" else "auto",
            help=h.help,
            border=True,
            width=225,
        )
for line in view.facts_text:
    st.markdown(line)
st.caption(view.rule)

st.plotly_chart(view.timeline, width="stretch")

st.subheader("How long benefit lasted after each infusion")
if view.benefit.height == 0:
    st.info("No benefit spells yet (needs a baseline and assessments after dosing).")
else:
    common.table(view.benefit, "benefit")
    common.download_csv(
        view.benefit, "Benefit after each infusion", "benefit.csv", "dl-benefit", loaded.is_demo
    )

with st.expander("Sessions, scores and side effects"):
    for name, title in patient_page.RECORDS.items():
        st.markdown(f"**{title}**")
        common.table(view.records[name], f"patient_{name}")
        common.download_csv(
            view.records[name], title, f"{name}.csv", f"dl-p-{name}", demo=loaded.is_demo
        )
    if flags.height:
        st.markdown("**Safety flags**")
        common.table(flags, "patient_flags")

common.download(
    lambda: view.summary_html.encode("utf-8"),
    "⬇ One-page summary for the chart (HTML, printable)",
    f"summary_{patient_id}.html",
    "text/html",
    "dl-summary",
    target=patient_id,
    detail="one-page summary",
    demo=loaded.is_demo,
)
