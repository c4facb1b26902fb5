"""One patient's charts: the clinician's timeline (infusions, pain and PHQ-9 against baseline
and thresholds, daily MME, blood pressure and side effects on one shared time axis) and a
single instrument's scores over time (pure plotly builders)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from kapoutcomes import tables
from kapoutcomes.cohort import dissociation
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, opioid_course
from kapoutcomes.present import palette
from kapoutcomes.present.figures.layout import TEMPLATE, label, titled
from kapoutcomes.present.formatting import words

#: the timeline's rows, top to bottom: (subplot title, share of the height)
ROWS = (
    ("Pain (NRS 0-10) with infusions", 0.28),
    ("Depression (PHQ-9, 0-27)", 0.22),
    ("Opioids (daily MME, mg/day)", 0.16),
    ("Blood pressure before and after dosing (mmHg)", 0.2),
    ("Side effects and after-dose dissociation (CADSS)", 0.14),
)
#: the timeline's height: each row stays readable at any width (a legend below wraps into it)
HEIGHT_PX = 1250
#: blood pressure series: (column, legend name, colour, marker symbol)
BLOOD_PRESSURE = (
    ("bp_systolic_before", "Systolic before", palette.BLUE, "circle"),
    ("bp_systolic_after", "Systolic after", palette.SKY, "circle-open"),
    ("bp_diastolic_before", "Diastolic before", palette.GREEN, "square"),
    ("bp_diastolic_after", "Diastolic after", palette.GREEN, "square-open"),
)


@dataclass(frozen=True)
class PatientRows:
    """One patient's rows as the timeline draws them."""

    dosing: pl.DataFrame  # dosing sessions, by start
    totals: pl.DataFrame  # total scores before any dose of the day, by date
    baselines: pl.DataFrame  # change.baselines rows
    opioids: pl.DataFrame
    events: pl.DataFrame  # adverse events, by onset

    def baseline(self, instrument: str) -> float | None:
        b = self.baselines.filter(pl.col("instrument") == instrument)
        return None if b.height == 0 else b.get_column("baseline_score")[0]


@dataclass(frozen=True)
class Window:
    """The time shown: the treatment period (sessions, scores, side effects) with a week's
    margin either side."""

    start: dt.datetime
    end: dt.datetime


def _patient(t: dict[str, pl.DataFrame], name: str, patient_id: str) -> pl.DataFrame:
    f = t.get(name, tables.empty(name))
    return f.filter(pl.col("patient_id") == patient_id)


def patient_rows(t: dict[str, pl.DataFrame], patient_id: str, settings: Settings) -> PatientRows:
    sessions = _patient(t, "sessions", patient_id).sort("started_at")
    assess = _patient(t, "assessments", patient_id)
    return PatientRows(
        dosing=sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES)),
        totals=change.totals(assess, include_after_dose=False).sort("assessed_at"),
        baselines=change.baselines(assess, sessions, settings),
        opioids=_patient(t, "opioids", patient_id),
        events=_patient(t, "adverse_events", patient_id).sort("onset_at"),
    )


def treatment_window(sessions: pl.DataFrame, rows: PatientRows) -> Window | None:
    """The window around every session, score and side effect; None when there are none."""
    x0 = sessions.get_column("started_at").min() if sessions.height else None
    x1 = sessions.get_column("started_at").max() if sessions.height else None
    for f, col in ((rows.totals, "assessed_at"), (rows.events, "onset_at")):
        if f.height:
            lo, hi = f.get_column(col).min(), f.get_column(col).max()
            x0 = lo if x0 is None or lo < x0 else x0  # type: ignore[operator]
            x1 = hi if x1 is None or hi > x1 else x1  # type: ignore[operator]
    if x0 is None or x1 is None:
        return None
    week = dt.timedelta(days=7)
    return Window(x0 - week, x1 + week)  # type: ignore[operator]


def _reference_line(
    fig: go.Figure, window: Window | None, y: float, row: int, text: str, colour: str, dash: str
) -> None:
    """A labelled horizontal line across the window on ``row`` (a trace, so it has a legend)."""
    if window is None:
        return
    fig.add_trace(
        go.Scatter(
            x=[window.start, window.end],
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


def _scores(fig: go.Figure, rows: PatientRows, instrument: str, row: int, **style: object) -> None:
    f = rows.totals.filter(pl.col("instrument") == instrument)
    if f.height:
        fig.add_trace(
            go.Scatter(
                x=f["assessed_at"].to_list(),
                y=f["score"].to_list(),
                mode="lines+markers",
                legendgroup=f"row{row}",
                **style,
            ),
            row=row,
            col=1,
        )


def _infusions(fig: go.Figure, dosing: pl.DataFrame) -> None:
    """Each kind of dosing session as markers along the top of the pain row."""
    for kind in tables.DOSING_TYPES:
        d = dosing.filter(pl.col("session_type") == kind)
        if d.height == 0:
            continue
        mg = [("" if v is None else f"{v:g} mg") for v in d["dose_mg"].to_list()]
        per_kg = [("" if v is None else f"{v:g} mg/kg") for v in d["dose_mg_per_kg"].to_list()]
        fig.add_trace(
            go.Scatter(
                x=d["started_at"].to_list(),
                y=[10.6] * d.height,
                mode="markers",
                name=f"{kind.capitalize()} infusion",
                marker={
                    "symbol": palette.DOSE_SYMBOLS[kind],
                    "size": 11,
                    "color": palette.DOSE_COLOURS[kind],
                    "line": {"width": 0.5, "color": palette.INK},
                },
                customdata=list(zip(d["route"].to_list(), mg, per_kg, strict=True)),
                hovertemplate=f"{kind} %{{x|%Y-%m-%d}}<br>%{{customdata[0]}} %{{customdata[1]}} "
                "%{customdata[2]}<extra></extra>",
                legendgroup="doses",
            ),
            row=1,
            col=1,
        )


def _pain_row(fig: go.Figure, rows: PatientRows, window: Window | None, s: Settings) -> None:
    """Row 1: pain, its baseline and the response and substantial lines, infusions."""
    _scores(
        fig, rows, "pain_nrs", 1, name="Pain NRS", line={"color": palette.SCORE}, marker={"size": 6}
    )
    b = rows.baseline("pain_nrs")
    if b is not None:
        _reference_line(fig, window, b, 1, f"Pain baseline {b:g}", palette.BASELINE, "dash")
        for pct, words, colour in (
            (s.pain_response_pct, "response", palette.RESPONSE),
            (s.pain_substantial_pct, "substantial", palette.SUBSTANTIAL),
        ):
            text = f"{pct:g}% below baseline ({words})"
            _reference_line(fig, window, b * (1 - pct / 100), 1, text, colour, "dot")
    _infusions(fig, rows.dosing)
    fig.update_yaxes(title_text="Pain (0-10)", range=[-0.3, 11.2], row=1, col=1)


def _depression_row(fig: go.Figure, rows: PatientRows, window: Window | None, s: Settings) -> None:
    """Row 2: PHQ-9 with its baseline, the response line and remission."""
    _scores(fig, rows, "phq9", 2, name="PHQ-9", line={"color": palette.DEPRESSION})
    b = rows.baseline("phq9")
    pct = s.depression_response_pct
    if b is not None:
        _reference_line(fig, window, b, 2, f"PHQ-9 baseline {b:g}", palette.BASELINE, "dash")
        text = f"PHQ-9 {pct:g}% below baseline (response)"
        _reference_line(fig, window, b * (1 - pct / 100), 2, text, palette.RESPONSE, "dot")
    below = s.phq9_remission_below
    text = f"PHQ-9 remission (< {below:g})"
    _reference_line(fig, window, below, 2, text, palette.SUBSTANTIAL, "dot")
    fig.update_yaxes(title_text="PHQ-9 (0-27)", range=[-0.5, 27.5], row=2, col=1)


def _opioid_row(fig: go.Figure, rows: PatientRows, window: Window | None, s: Settings) -> None:
    """Row 3: daily MME as a step line clipped to the window (prescriptions often start
    years before the first infusion: the value in force at the window's start is carried)."""
    mme = opioid_course.mme_timeline(rows.opioids, s)
    if mme.height and window is not None:
        start, end = window.start.date(), window.end.date()
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
                line={"shape": "hv", "color": palette.OPIOIDS},
                name="Daily MME",
                legendgroup="row3",
            ),
            row=3,
            col=1,
        )
    if rows.opioids.filter(pl.col("ingredient") == "buprenorphine").height:
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


def _blood_pressure_row(
    fig: go.Figure, rows: PatientRows, window: Window | None, s: Settings
) -> None:
    """Row 4: blood pressure before and after dosing, with the pre-dose systolic limit."""
    for col_name, name, colour, symbol in BLOOD_PRESSURE:
        v = rows.dosing.filter(pl.col(col_name).is_not_null())
        if v.height:
            fig.add_trace(
                go.Scatter(
                    x=v["started_at"].to_list(),
                    y=v[col_name].to_list(),
                    mode="markers",
                    name=name,
                    marker={"color": colour, "symbol": symbol, "size": 7},
                    legendgroup="row4",
                ),
                row=4,
                col=1,
            )
    limit = s.bp_systolic_limit
    _reference_line(fig, window, limit, 4, f"Systolic limit {limit}", palette.HARM, "dash")
    fig.update_yaxes(title_text="mmHg", row=4, col=1)


def _side_effect_row(fig: go.Figure, events: pl.DataFrame) -> None:
    """Row 5: side effects by event; serious ones marked with an x in the harm colour."""
    if events.height:
        serious = events["serious"].to_list()
        fig.add_trace(
            go.Scatter(
                x=events["onset_at"].to_list(),
                y=[words(e) for e in events["event"].to_list()],
                mode="markers",
                name="Side effect",
                marker={
                    "size": 9,
                    "color": [palette.HARM if x else palette.MILD_HARM for x in serious],
                    "symbol": ["x" if x else "circle" for x in serious],
                },
                customdata=list(
                    zip(
                        [v or "" for v in events["severity"].to_list()],
                        ["serious" if x else "" for x in serious],
                        strict=True,
                    )
                ),
                hovertemplate="%{y} %{x|%Y-%m-%d}<br>%{customdata[0]} %{customdata[1]}<extra></extra>",
                legendgroup="row5",
            ),
            row=5,
            col=1,
        )
    fig.update_yaxes(title_text="Event", row=5, col=1)


def patient_timeline(t: dict[str, pl.DataFrame], patient_id: str, settings: Settings) -> go.Figure:
    """The clinician's timeline for ``patient_id`` (tables already cut or whole cohort)."""
    rows = patient_rows(t, patient_id, settings)
    window = treatment_window(_patient(t, "sessions", patient_id), rows)
    fig = make_subplots(
        rows=len(ROWS),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[h for _, h in ROWS],
        subplot_titles=[title for title, _ in ROWS],
    )
    _pain_row(fig, rows, window, settings)
    _depression_row(fig, rows, window, settings)
    _opioid_row(fig, rows, window, settings)
    _blood_pressure_row(fig, rows, window, settings)
    _side_effect_row(fig, rows.events)
    cadss = dissociation.after_dose_cadss(
        _patient(t, "assessments", patient_id), _patient(t, "sessions", patient_id)
    )
    _cadss_markers(fig, cadss, settings)
    # every row is a date axis, even with no sessions or no point on a row (an empty row
    # would otherwise fall back to a numeric axis)
    fig.update_xaxes(type="date")
    fig.update_xaxes(title_text="Date", row=5, col=1)
    if window is not None:
        fig.update_xaxes(range=[window.start, window.end])
    fig.update_layout(
        title={"text": "Patient timeline"},
        height=HEIGHT_PX,
        margin={"l": 70, "r": 20, "t": 80, "b": 50},
        # below the plot, wrapping: a legend at the side takes the plot's width on a tablet
        legend={"orientation": "h", "x": 0, "y": -0.06, "yanchor": "top"},
        hovermode="closest",
        template=TEMPLATE,
    )
    return fig


def patient_figure(
    change: pl.DataFrame,
    doses: pl.DataFrame | None = None,
    instrument: str = "pain_nrs",
    title: str | None = None,
) -> go.Figure:
    """One patient's scores over time (``outcomes.changes`` rows), with the baseline as a
    horizontal line and dosing sessions (``outcomes.dosing_sessions`` rows) as markers."""
    f = change.filter(pl.col("instrument") == instrument).sort("assessed_at")
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=f.get_column("assessed_at").to_list(),
            y=f.get_column("score").to_list(),
            mode="lines+markers",
            name=label(instrument),
            line={"color": palette.PRIMARY},
        )
    )
    if f.height and f.get_column("baseline_score")[0] is not None:
        b = f.get_column("baseline_score")[0]
        fig.add_hline(
            y=b, line_dash="dash", line_color=palette.BASELINE, annotation_text=f"baseline {b:g}"
        )
    if doses is not None and doses.height:
        for kind in ("induction", "maintenance", "booster"):
            d = doses.filter(pl.col("session_type") == kind)
            if d.height:
                fig.add_trace(
                    go.Scatter(
                        x=d.get_column("started_at").to_list(),
                        y=[0] * d.height,
                        mode="markers",
                        marker={
                            "symbol": palette.DOSE_SYMBOLS[kind],
                            "size": 10,
                            "color": palette.DOSE_COLOURS[kind],
                        },
                        name=f"{kind} infusion",
                    )
                )
    return titled(
        fig,
        title or f"{label(instrument)} over time",
        "Date",
        f"{label(instrument)} score (points)",
    )


def _cadss_markers(fig: go.Figure, cadss: pl.DataFrame, settings: Settings) -> None:
    """After-dose CADSS totals on the side-effects row, written on each marker; totals above
    ``settings.cadss_dissociation_above`` in the harm colour."""
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
                "color": [palette.HARM if a else palette.SKY for a in above],
            },
            customdata=[f"above {limit:g}" if a else f"at most {limit:g}" for a in above],
            hovertemplate="CADSS %{text} after the dose of %{x|%Y-%m-%d} (%{customdata})"
            "<extra></extra>",
            legendgroup="row5",
        ),
        row=5,
        col=1,
    )
