"""Patient view (clinician, before a maintenance decision)."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import access_gate, common
from kapoutcomes import ingest
from kapoutcomes.cohort import safety
from kapoutcomes.outcomes import change, episodes, maintenance_review
from kapoutcomes.present import patient_summary, timeline
from kapoutcomes.storage import privacy

loaded, viewer = common.page("Patient view")
s = common.outcome_settings()
t = loaded.tables
patients = t["patients"]
if patients.height == 0:
    st.info("No patients yet. Import an export on the Data page.")
    st.stop()

known = patients.get_column("patient_id").sort().to_list()
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
    q = query.strip()
    if privacy.looks_like_patient_id(q):
        patient_id = q
    else:
        key = privacy.DEMO_SECRET if loaded.is_demo else common.installation_keys().pseudonym
        patient_id = ingest.find_patient_id(q, key)
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
if patient_id not in seen:
    if not access_gate.record(viewer, "view_patient", patient_id):
        st.stop()  # fail closed: no record shown whose view could not be audited
    seen.add(patient_id)

one = {name: df.filter(pl.col("patient_id") == patient_id) for name, df in t.items()}
info = one["patients"].row(0, named=True)

# Safety flags first: impossible to miss.
flags = safety.safety_flags(one["assessments"], one["adverse_events"], one["sessions"], s)
if flags.height:
    lines = "\n".join(
        f"- **{r['at']:%Y-%m-%d}** {r['detail']}" for r in flags.head(8).iter_rows(named=True)
    )
    more = f"\n- … and {flags.height - 8} more (table below)" if flags.height > 8 else ""
    st.error(
        f"**{flags.height} safety flag(s) for this patient**\n\n{lines}{more}",
        icon=":material/warning:",
    )
else:
    st.success("No safety flags (PHQ-9 item 9, serious adverse events, hypertensive pre-dose BP).")

st.markdown(
    f"**{patient_id}** · {info['clinic']} · {info['primary_condition'].replace('_', ' ')} · "
    f"{info['sex']} · age band {info['age_band'] or 'not recorded'}"
    + (" · comorbid depression" if info["comorbid_depression"] else "")
)

as_of = episodes.data_end(t)
st.subheader("Maintenance review")
st.caption(
    "Decision support: these are facts and the clinic's configured rule, not a recommendation. "
    f"As of {as_of:%Y-%m-%d} (latest data)."
    if as_of
    else "Decision support, not a verdict."
)
facts = {
    inst: maintenance_review.patient_facts(t, patient_id, s, instrument=inst, as_of=as_of)
    for inst in ("pain_nrs", "phq9")
}
pain = facts["pain_nrs"]
m1, m2, m3, m4 = st.columns(4)
delta = None
if pain.reduction_pct is not None and abs(pain.reduction_pct) >= 0.5:
    delta = f"{-pain.reduction_pct:.0f}% vs baseline"
m1.metric(
    "Pain now (0-10)",
    "—" if pain.latest_score is None else f"{pain.latest_score:g}",
    delta,
    delta_color="inverse",
)
m2.metric(
    f"Responding (≥{s.pain_response_pct:g}% below baseline)",
    "no baseline"
    if pain.baseline is None
    else "—"
    if pain.responding is None
    else ("Yes" if pain.responding else "No"),
)
m3.metric(
    "Days since last infusion",
    "—" if pain.days_since_last_dose is None else f"{pain.days_since_last_dose:.0f}",
)
m4.metric(
    f"Pain trend ({pain.trend_weeks} weeks)",
    "—" if pain.slope_per_week is None else f"{pain.slope_per_week:+.1f}/week",
)
for inst, f in facts.items():
    label = "Pain" if inst == "pain_nrs" else "PHQ-9"
    st.markdown(f"**{label}:** {maintenance_review.describe_patient(f)}.")
st.caption(
    f"Rule in force: responder = at least {s.pain_response_pct:g}% pain reduction "
    f"(PHQ-9: {s.depression_response_pct:g}%) from the baseline (last score within "
    f"{s.baseline_window_days} days before the first dose); {episodes.loss_definition(s)}."
)

st.plotly_chart(timeline.patient_timeline(t, patient_id, s), width="stretch")

st.subheader("How long benefit lasted after each infusion")
ep = episodes.response_episodes(
    change.changes(
        one["assessments"],
        one["sessions"],
        s,
        base=change.baselines(one["assessments"], one["sessions"], s),
    ),
    one["sessions"],
    s,
)
ben = episodes.benefit_durations(ep, one["sessions"], s)
if ben.height == 0:
    st.info("No benefit spells yet (needs a baseline and assessments after dosing).")
else:
    st.dataframe(ben, width="stretch", hide_index=True)
    common.download_csv(ben, "Benefit after each infusion", "benefit.csv", key="dl-benefit")

with st.expander("Sessions, scores and side effects"):
    for name, title in (
        ("sessions", "Sessions"),
        ("assessments", "Assessments"),
        ("adverse_events", "Side effects"),
        ("opioids", "Opioids"),
    ):
        st.markdown(f"**{title}**")
        st.dataframe(one[name], width="stretch", hide_index=True)
        common.download_csv(one[name], title, f"{name}.csv", key=f"dl-p-{name}")
    if flags.height:
        st.markdown("**Safety flags**")
        st.dataframe(flags, width="stretch", hide_index=True)

html = patient_summary.one_page_html(t, patient_id, s, facts=facts, flags=flags, as_of=as_of)
common.download(
    lambda: html.encode("utf-8"),
    "⬇ One-page summary for the chart (HTML, printable)",
    f"summary_{patient_id}.html",
    "text/html",
    "dl-summary",
    target=patient_id,
    detail="one-page summary",
)
