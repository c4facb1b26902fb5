"""Safety: review-now signals imports could not store, adverse events by type, severity and
route, per 100 sessions and per patient, trends over time, vital-sign excursions and
after-dose flags, dissociation (CADSS), serious events and open PHQ-9 item 9 flags."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboards import common
from kapoutcomes.cohort import activity, dissociation, filters, safety
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.present import figures

loaded, viewer = common.page("Safety")
s = common.outcome_settings()
flt = common.sidebar_filters(loaded.tables, key="safety")
t = filters.apply(loaded.tables, flt)
st.caption(f"Cohort: {flt.describe()}. Confidence level {s.confidence_level:.0%}.")

common.review_now_panel(viewer)

sessions, ae = t["sessions"], t["adverse_events"]
dosing = sessions.filter(pl.col("session_type").is_in(["induction", "maintenance", "booster"]))
if dosing.height == 0:
    st.info("No dosing sessions in this cohort yet, so there is nothing to rate.")
    st.stop()

groups = patient_groups(t["patients"], sessions)
rates = safety.adverse_event_rates(ae, sessions, groups, s)
overall = rates.filter(pl.col("dimension") == "overall")
serious = safety.serious_events(ae)
item9 = safety.item9_by_patient(t["assessments"])

c1, c2, c3, c4 = st.columns(4)
if overall.height:
    o = overall.row(0, named=True)
    c1.metric(
        "Events per 100 infusions",
        f"{o['per_100_sessions']:.1f}",
        help=o["definition"],
    )
    c1.caption(
        f"{o['per_100_lower']:.1f}-{o['per_100_upper']:.1f} ({o['events']:,} events / "
        f"{o['sessions']:,} sessions)"
    )
    c2.metric("Patients with any event", f"{o['rate']:.0%}")
    c2.caption(f"{o['lower']:.0%}-{o['upper']:.0%} ({o['n']:,}/{o['denominator']:,} patients)")
else:
    c1.metric("Events per 100 infusions", "0")
    c2.metric("Patients with any event", "0%")
c3.metric("Serious adverse events", f"{serious.height:,}")
open_item9 = item9.filter(pl.col("status").str.starts_with("open")).height
c4.metric("Open PHQ-9 item 9 flags", f"{open_item9:,}")
c4.caption(f"{item9.height:,} patient(s) ever answered above 0")

if rates.filter(pl.col("dimension") == "event").height:
    st.plotly_chart(figures.adverse_event_figure(rates), width="stretch")

cols = st.columns(2)
for col, dim, title in ((cols[0], "severity", "By severity"), (cols[1], "route", "By route")):
    with col:
        st.markdown(f"**{title}**")
        f = rates.filter(pl.col("dimension") == dim).select(
            "category",
            "events",
            "sessions",
            pl.col("per_100_sessions").round(1),
            pl.when(pl.col("sessions") > 0)
            .then(
                pl.format(
                    "{}-{}", pl.col("per_100_lower").round(1), pl.col("per_100_upper").round(1)
                )
            )
            .otherwise(pl.lit("no linked infusions"))
            .alias("per_100 CI"),
            pl.format("{}/{}", "n", "denominator").alias("patients"),
            (pl.col("rate") * 100).round(1).alias("% patients"),
            "caveats",
        )
        st.dataframe(f, width="stretch", hide_index=True)
common.download_csv(rates, "Adverse event rates", "adverse_event_rates.csv", key="dl-ae-rates")

monthly = activity.adverse_events_by_month(ae, sessions, s.confidence_level)
if monthly.height:
    fig = go.Figure(
        go.Scatter(
            x=monthly["month"].to_list(),
            y=monthly["per_100_sessions"].to_list(),
            mode="lines+markers",
            line={"color": "#CC79A7"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (monthly["per_100_upper"] - monthly["per_100_sessions"]).to_list(),
                "arrayminus": (monthly["per_100_sessions"] - monthly["per_100_lower"]).to_list(),
                "color": "#999",
            },
            customdata=list(zip(monthly["events"], monthly["sessions"], strict=True)),
            hovertemplate="%{x|%b %Y}: %{y:.1f} per 100 (%{customdata[0]} events / "
            "%{customdata[1]} sessions)<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": "Adverse events per 100 dosing sessions, by month"},
        xaxis_title="Month of the dosing session",
        yaxis_title="Events per 100 sessions (95% exact CI)",
        template="plotly_white",
    )
    st.plotly_chart(fig, width="stretch")

st.subheader("Blood pressure and oxygen excursions")
exc = safety.excursion_summary(safety.vital_excursions(sessions, s), groups, s)
st.dataframe(
    exc.select(
        "definition",
        "n",
        "denominator",
        (pl.col("rate") * 100).round(1).alias("% of sessions"),
        pl.format(
            "{}-{}", (pl.col("lower") * 100).round(1), (pl.col("upper") * 100).round(1)
        ).alias("95% CI (%)"),
        pl.col("patients").alias("patients affected"),
        "caveats",
    ),
    width="stretch",
    hide_index=True,
)
common.download_csv(exc, "Vital-sign excursions", "excursions.csv", key="dl-exc")

st.subheader("After-dose vital signs: must-not-miss flags")
after = safety.safety_flags(t["assessments"].clear(), ae.clear(), sessions, s).filter(
    pl.col("flag").str.ends_with("_after_dosing")
)
st.caption(
    f"Hypertensive crisis above {s.bp_crisis_systolic_above}/{s.bp_crisis_diastolic_above} mmHg "
    f"(ACC/AHA 2017), SpO2 below {s.spo2_low_pct:g}% (hypoxaemia), heart rate above "
    f"{s.heart_rate_after_above} beats/min (project default); limits in Definitions."
)
if after.height:
    st.dataframe(
        after.select("at", "patient_id", "flag", "value", "detail", "session_id"),
        width="stretch",
        hide_index=True,
    )
    common.download_csv(after, "After-dose vital-sign flags", "after_dose_flags.csv", key="dl-adf")
else:
    st.success("No after-dose vital-sign flags in this cohort.")

st.subheader("Dissociation after dosing (CADSS per session)")
diss = dissociation.cadss_summary(t["assessments"], sessions, s)
if diss.height:
    st.dataframe(
        diss.select(
            "dose_band",
            "sessions",
            "patients",
            "median",
            pl.format("{}-{}", "q1", "q3").alias("IQR"),
            pl.format("{}/{}", "above", "sessions").alias(f"above {s.cadss_dissociation_above:g}"),
            (pl.col("share_above") * 100).round(1).alias("% above"),
            pl.format(
                "{}-{}", (pl.col("lower") * 100).round(1), (pl.col("upper") * 100).round(1)
            ).alias("95% CI (%)"),
            "caveats",
        ),
        width="stretch",
        hide_index=True,
    )
    st.caption(diss.get_column("definition")[0])
    common.download_csv(diss, "Dissociation (CADSS)", "dissociation.csv", key="dl-cadss")
else:
    st.info("No after-dose CADSS scores linked to dosing sessions in this cohort.")

st.subheader("Serious adverse events")
if serious.height:
    st.dataframe(serious, width="stretch", hide_index=True)
    common.download_csv(serious, "Serious adverse events", "serious_events.csv", key="dl-sae")
else:
    st.success("No serious adverse events in this cohort.")

st.subheader("PHQ-9 item 9 (thoughts of self-harm) answered above 0")
st.caption(
    "Any answer above 0 needs clinician follow-up (Simon et al., Psychiatr Serv 2013). "
    "Every patient who ever answered above 0 is listed; none is dropped."
)
if item9.height:
    st.dataframe(item9, width="stretch", hide_index=True)
    common.download_csv(item9, "PHQ-9 item 9 flags", "phq9_item9.csv", key="dl-item9")
else:
    st.success("No PHQ-9 item 9 answers above 0.")
