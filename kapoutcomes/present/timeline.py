"""One patient's timeline: infusions, pain and PHQ-9 against baseline and thresholds, daily
MME, blood pressure, side effects and after-dose dissociation (CADSS) on one shared time axis
(a pure plotly builder)."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from kapoutcomes import tables
from kapoutcomes.cohort import dissociation
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, opioid_course

#: Okabe & Ito colour-blind-safe palette.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "vermillion": "#D55E00",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#777777",
}
DOSE_COLOURS = {
    "induction": OKABE_ITO["blue"],
    "maintenance": OKABE_ITO["green"],
    "booster": OKABE_ITO["vermillion"],
}
DOSE_SYMBOLS = {"induction": "triangle-up", "maintenance": "diamond", "booster": "star"}


def _patient(t: dict[str, pl.DataFrame], name: str, patient_id: str) -> pl.DataFrame:
    f = t.get(name, tables.empty(name))
    return f.filter(pl.col("patient_id") == patient_id)


def patient_timeline(t: dict[str, pl.DataFrame], patient_id: str, settings: Settings) -> go.Figure:
    """The clinician's timeline for ``patient_id`` (tables already cut or whole cohort)."""
    sessions = _patient(t, "sessions", patient_id).sort("started_at")
    assess = _patient(t, "assessments", patient_id)
    opioid_rows = _patient(t, "opioids", patient_id)
    events = _patient(t, "adverse_events", patient_id).sort("onset_at")
    dosing = sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
    base = change.baselines(assess, sessions, settings)
    totals = change.totals(assess, include_after_dose=False).sort("assessed_at")

    fig = make_subplots(
        rows=5,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.28, 0.22, 0.16, 0.2, 0.14],
        subplot_titles=(
            "Pain (NRS 0-10) with infusions",
            "Depression (PHQ-9, 0-27)",
            "Opioids (daily MME, mg/day)",
            "Blood pressure before and after dosing (mmHg)",
            "Side effects and after-dose dissociation (CADSS)",
        ),
    )

    def base_of(instrument: str) -> float | None:
        b = base.filter(pl.col("instrument") == instrument)
        return None if b.height == 0 else b.get_column("baseline_score")[0]

    # the time window: the treatment period (sessions, scores, side effects), with a margin
    x0 = sessions.get_column("started_at").min() if sessions.height else None
    x1 = sessions.get_column("started_at").max() if sessions.height else None
    for f in (totals, events):
        col = "assessed_at" if "assessed_at" in f.columns else "onset_at"
        if f.height:
            lo, hi = f.get_column(col).min(), f.get_column(col).max()
            x0 = lo if x0 is None or lo < x0 else x0  # type: ignore[operator]
            x1 = hi if x1 is None or hi > x1 else x1  # type: ignore[operator]

    if x0 is not None and x1 is not None:
        x0 = x0 - dt.timedelta(days=7)
        x1 = x1 + dt.timedelta(days=7)

    def hline(y: float, row: int, text: str, colour: str, dash: str) -> None:
        if x0 is None or x1 is None:
            return
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y, y],
                mode="lines",
                line={"color": colour, "dash": dash, "width": 1.5},
                name=text,
                hoverinfo="name",
                showlegend=True,
                legendgroup=f"row{row}",
            ),
            row=row,
            col=1,
        )

    # Row 1: pain, baseline and response lines, infusions.
    pain = totals.filter(pl.col("instrument") == "pain_nrs")
    if pain.height:
        fig.add_trace(
            go.Scatter(
                x=pain["assessed_at"].to_list(),
                y=pain["score"].to_list(),
                mode="lines+markers",
                name="Pain NRS",
                line={"color": OKABE_ITO["black"]},
                marker={"size": 6},
                legendgroup="row1",
            ),
            row=1,
            col=1,
        )
    b = base_of("pain_nrs")
    if b is not None:
        hline(b, 1, f"Pain baseline {b:g}", OKABE_ITO["grey"], "dash")
        resp = b * (1 - settings.pain_response_pct / 100)
        hline(
            resp,
            1,
            f"{settings.pain_response_pct:g}% below baseline (response)",
            OKABE_ITO["orange"],
            "dot",
        )
        subst = b * (1 - settings.pain_substantial_pct / 100)
        hline(
            subst,
            1,
            f"{settings.pain_substantial_pct:g}% below baseline (substantial)",
            OKABE_ITO["green"],
            "dot",
        )
    for kind in tables.DOSING_TYPES:
        d = dosing.filter(pl.col("session_type") == kind)
        if d.height == 0:
            continue
        fig.add_trace(
            go.Scatter(
                x=d["started_at"].to_list(),
                y=[10.6] * d.height,
                mode="markers",
                name=f"{kind.capitalize()} infusion",
                marker={
                    "symbol": DOSE_SYMBOLS[kind],
                    "size": 11,
                    "color": DOSE_COLOURS[kind],
                    "line": {"width": 0.5, "color": "#333"},
                },
                customdata=list(
                    zip(
                        d["route"].to_list(),
                        [("" if v is None else f"{v:g} mg") for v in d["dose_mg"].to_list()],
                        [
                            ("" if v is None else f"{v:g} mg/kg")
                            for v in d["dose_mg_per_kg"].to_list()
                        ],
                        strict=True,
                    )
                ),
                hovertemplate=f"{kind} %{{x|%Y-%m-%d}}<br>%{{customdata[0]}} %{{customdata[1]}} "
                "%{customdata[2]}<extra></extra>",
                legendgroup="doses",
            ),
            row=1,
            col=1,
        )
    fig.update_yaxes(title_text="Pain (0-10)", range=[-0.3, 11.2], row=1, col=1)

    # Row 2: PHQ-9 with baseline, response and remission.
    phq = totals.filter(pl.col("instrument") == "phq9")
    if phq.height:
        fig.add_trace(
            go.Scatter(
                x=phq["assessed_at"].to_list(),
                y=phq["score"].to_list(),
                mode="lines+markers",
                name="PHQ-9",
                line={"color": OKABE_ITO["purple"]},
                legendgroup="row2",
            ),
            row=2,
            col=1,
        )
    b = base_of("phq9")
    if b is not None:
        hline(b, 2, f"PHQ-9 baseline {b:g}", OKABE_ITO["grey"], "dash")
        hline(
            b * (1 - settings.depression_response_pct / 100),
            2,
            f"PHQ-9 {settings.depression_response_pct:g}% below baseline (response)",
            OKABE_ITO["orange"],
            "dot",
        )
    hline(
        settings.phq9_remission_below,
        2,
        f"PHQ-9 remission (< {settings.phq9_remission_below:g})",
        OKABE_ITO["green"],
        "dot",
    )
    fig.update_yaxes(title_text="PHQ-9 (0-27)", range=[-0.5, 27.5], row=2, col=1)

    # Row 3: daily MME as a step line.
    mme = opioid_course.mme_timeline(opioid_rows, settings)
    if mme.height and x0 is not None and x1 is not None:
        # clip the step line to the treatment period shown (prescriptions often start years
        # before the first infusion): carry the value in force at the start of the window
        start, end = x0.date(), x1.date()
        before = mme.filter(pl.col("date") <= start)
        inside = mme.filter((pl.col("date") > start) & (pl.col("date") <= end))
        xs = [start, *inside["date"].to_list(), end]
        first = before["daily_mme"][-1] if before.height else 0.0
        ys = [first, *inside["daily_mme"].to_list()]
        ys.append(ys[-1])
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"shape": "hv", "color": OKABE_ITO["vermillion"]},
                name="Daily MME",
                legendgroup="row3",
            ),
            row=3,
            col=1,
        )
    if opioid_rows.filter(pl.col("ingredient") == "buprenorphine").height:
        fig.add_annotation(
            text="buprenorphine: no MME factor (not counted)",
            xref="x3 domain",
            yref="y3 domain",
            x=0.01,
            y=0.95,
            showarrow=False,
            font={"size": 11},
        )
    fig.update_yaxes(title_text="MME/day", rangemode="tozero", row=3, col=1)

    # Row 4: blood pressure before / after dosing with the pre-dose limit.
    for col_name, label, colour, symbol in (
        ("bp_systolic_before", "Systolic before", OKABE_ITO["blue"], "circle"),
        ("bp_systolic_after", "Systolic after", OKABE_ITO["sky"], "circle-open"),
        ("bp_diastolic_before", "Diastolic before", OKABE_ITO["green"], "square"),
        ("bp_diastolic_after", "Diastolic after", OKABE_ITO["green"], "square-open"),
    ):
        v = dosing.filter(pl.col(col_name).is_not_null())
        if v.height:
            fig.add_trace(
                go.Scatter(
                    x=v["started_at"].to_list(),
                    y=v[col_name].to_list(),
                    mode="markers",
                    name=label,
                    marker={"color": colour, "symbol": symbol, "size": 7},
                    legendgroup="row4",
                ),
                row=4,
                col=1,
            )
    hline(
        settings.bp_systolic_limit,
        4,
        f"Systolic limit {settings.bp_systolic_limit}",
        OKABE_ITO["vermillion"],
        "dash",
    )
    fig.update_yaxes(title_text="mmHg", row=4, col=1)

    # Row 5: side effects by event, serious ones marked.
    if events.height:
        fig.add_trace(
            go.Scatter(
                x=events["onset_at"].to_list(),
                y=[e.replace("_", " ") for e in events["event"].to_list()],
                mode="markers",
                name="Side effect",
                marker={
                    "size": 9,
                    "color": [
                        OKABE_ITO["vermillion"] if s else OKABE_ITO["orange"]
                        for s in events["serious"].to_list()
                    ],
                    "symbol": ["x" if s else "circle" for s in events["serious"].to_list()],
                },
                customdata=list(
                    zip(
                        [s or "" for s in events["severity"].to_list()],
                        ["serious" if s else "" for s in events["serious"].to_list()],
                        strict=True,
                    )
                ),
                hovertemplate="%{y} %{x|%Y-%m-%d}<br>%{customdata[0]} %{customdata[1]}<extra></extra>",
                legendgroup="row5",
            ),
            row=5,
            col=1,
        )
    _cadss_markers(fig, dissociation.after_dose_cadss(assess, sessions), settings)
    fig.update_yaxes(title_text="Event", row=5, col=1)
    fig.update_xaxes(title_text="Date", row=5, col=1)
    if x0 is not None and x1 is not None:
        fig.update_xaxes(range=[x0, x1])
    fig.update_layout(
        title={"text": "Patient timeline"},
        height=1100,
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
        legend={"orientation": "v", "x": 1.01, "y": 1},
        hovermode="closest",
        template="plotly_white",
    )
    return fig


def _cadss_markers(fig: go.Figure, cadss: pl.DataFrame, settings: Settings) -> None:
    """After-dose CADSS totals on the side-effects row, written on each marker; totals above
    ``settings.cadss_dissociation_above`` in vermillion."""
    if cadss.height == 0:
        return
    limit = settings.cadss_dissociation_above
    above = [v > limit for v in cadss["cadss"].to_list()]
    fig.add_trace(
        go.Scatter(
            x=cadss["started_at"].to_list(),
            y=["dissociation (CADSS after dose)"] * cadss.height,
            mode="markers+text",
            text=[f"{v:g}" for v in cadss["cadss"].to_list()],
            textposition="top center",
            name="CADSS after dose",
            marker={
                "size": 9,
                "symbol": "hexagon",
                "color": [OKABE_ITO["vermillion"] if a else OKABE_ITO["sky"] for a in above],
            },
            customdata=[f"above {limit:g}" if a else f"at most {limit:g}" for a in above],
            hovertemplate="CADSS %{text} after the dose of %{x|%Y-%m-%d} (%{customdata})"
            "<extra></extra>",
            legendgroup="row5",
        ),
        row=5,
        col=1,
    )
