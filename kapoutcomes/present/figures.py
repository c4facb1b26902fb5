"""Plotly figure builders: tidy frames in, figures out (no data access, no Streamlit).

Every chart has a title and axis titles with units, uses the Okabe-Ito colour-blind-safe
palette, and takes the frames the statistics functions return, so the dashboards and the
HTML report draw the same pictures.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

INSTRUMENT_LABELS = {
    "pain_nrs": "Pain NRS (0-10)",
    "pain_vas": "Pain VAS (0-100 mm)",
    "peg": "PEG (0-10)",
    "bpi_severity": "BPI severity (0-10)",
    "bpi_interference": "BPI interference (0-10)",
    "phq9": "PHQ-9 (0-27)",
    "gad7": "GAD-7 (0-21)",
    "bdi2": "BDI-II (0-63)",
    "madrs": "MADRS (0-60)",
}


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title={"text": title},
        xaxis_title=x,
        yaxis_title=y,
        template="plotly_white",
        colorway=list(OKABE_ITO),
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    return fig


def label(instrument: str) -> str:
    return INSTRUMENT_LABELS.get(instrument, instrument)


def km_figure(curves: pl.DataFrame, title: str = "Time to loss of response") -> go.Figure:
    """Kaplan-Meier step curves with confidence bands, one per (level, instrument) in
    ``curves`` (``survival.Durability.curves``); x in weeks."""
    fig = go.Figure()
    if curves.height == 0:
        return _layout(fig, title + " (no episodes)", "Weeks from origin", "Still responding (%)")
    keys = curves.select("level", "instrument").unique(maintain_order=True).rows()
    for i, (lv, inst) in enumerate(keys):
        c = OKABE_ITO[i % len(OKABE_ITO)]
        f = curves.filter((pl.col("level") == lv) & (pl.col("instrument") == inst)).sort(
            "time_days"
        )
        weeks = (f.get_column("time_days") / 7).to_list()
        name = label(inst) if lv == "all" else f"{lv}: {label(inst)}"
        fig.add_trace(
            go.Scatter(
                x=weeks + weeks[::-1],
                y=[100 * v if v is not None else None for v in f.get_column("upper").to_list()]
                + [
                    100 * v if v is not None else None
                    for v in f.get_column("lower").to_list()[::-1]
                ],
                fill="toself",
                fillcolor=_rgba(c, 0.15),
                line={"width": 0, "shape": "hv"},
                hoverinfo="skip",
                showlegend=False,
                name=f"{name} band",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=weeks,
                y=(100 * f.get_column("survival")).to_list(),
                mode="lines",
                line={"color": c, "shape": "hv", "width": 2},
                name=name,
                customdata=f.select("at_risk").to_numpy(),
                hovertemplate="week %{x:.1f}: %{y:.0f}% still responding, %{customdata[0]} at risk",
            )
        )
    fig.update_yaxes(range=[0, 102])
    return _layout(
        fig,
        title,
        "Weeks from origin (end of induction or restoring infusion)",
        "Still responding (%)",
    )


def attrition_figure(stages: pl.DataFrame, title: str = "Attrition from referral") -> go.Figure:
    """Horizontal bars of patients at each attrition stage (``attrition.attrition`` rows)."""
    f = stages.filter(pl.col("level") == "all") if "level" in stages.columns else stages
    if f.height == 0:
        f = stages
    fig = go.Figure(
        go.Bar(
            x=f.get_column("n").to_list(),
            y=[s.replace("_", " ") for s in f.get_column("stage").to_list()],
            orientation="h",
            marker_color=OKABE_ITO[0],
            text=[
                f"{n:,} ({p:.0f}%)" if p is not None else f"{n:,}"
                for n, p in zip(
                    f.get_column("n").to_list(),
                    f.get_column("pct_of_referred").to_list(),
                    strict=True,
                )
            ],
            textposition="auto",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Patients (n)", "Stage")


def rates_figure(
    rates: pl.DataFrame, title: str = "Response and remission at the end of induction"
) -> go.Figure:
    """Evaluable and intention-to-treat rates with Wilson intervals (``induction_response.response_rates``),
    as horizontal bars so that long instrument and measure names stay readable."""
    f = rates.filter(pl.col("denominator") > 0)
    cats = [
        f"{label(i)}: {m.replace('_', ' ')}" for i, m in f.select("instrument", "measure").rows()
    ]
    fig = go.Figure()
    for j, (prefix, name, den) in enumerate(
        (("", "evaluable", "denominator"), ("itt_", "intention-to-treat", "itt_denominator"))
    ):
        r = f.get_column(f"{prefix}rate").fill_null(float("nan")) * 100
        lo = f.get_column(f"{prefix}lower").fill_null(float("nan")) * 100
        hi = f.get_column(f"{prefix}upper").fill_null(float("nan")) * 100
        fig.add_trace(
            go.Bar(
                y=cats,
                x=r.to_list(),
                orientation="h",
                name=name,
                marker_color=OKABE_ITO[j],
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (hi - r).to_list(),
                    "arrayminus": (r - lo).to_list(),
                },
                customdata=list(zip(f["n"].to_list(), f[den].to_list(), strict=True)),
                hovertemplate="%{y}: %{x:.0f}% (%{customdata[0]}/%{customdata[1]})<extra>"
                + name
                + "</extra>",
            )
        )
    fig.update_layout(barmode="group", height=max(320, 70 + 44 * len(cats)))
    fig.update_xaxes(range=[0, 100])
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, "Patients (%) with 95% CI", "Instrument and measure")


def month_figure(months: pl.DataFrame, title: str = "Improvement by treatment month") -> go.Figure:
    """Mean % reduction from baseline by 30-day treatment month, one line per instrument
    (``improvement.improvement_by_month`` rows)."""
    fig = go.Figure()
    for i, inst in enumerate(months.get_column("instrument").unique(maintain_order=True).to_list()):
        f = months.filter(pl.col("instrument") == inst).sort("treatment_month")
        fig.add_trace(
            go.Scatter(
                x=f.get_column("treatment_month").to_list(),
                y=f.get_column("mean_reduction_pct").to_list(),
                mode="lines+markers",
                name=label(inst),
                line={"color": OKABE_ITO[i % len(OKABE_ITO)]},
                customdata=f.select(
                    "scored" if "scored" in f.columns else "denominator"
                ).to_numpy(),
                hovertemplate="month %{x}: %{y:.0f}% (n=%{customdata[0]})",
            )
        )
    return _layout(
        fig,
        title,
        "Treatment month (30-day months from the first dose)",
        "Mean reduction from baseline (%)",
    )


def funnel_figure(
    clinics: pl.DataFrame, title: str = "Clinic response rates against the network"
) -> go.Figure:
    """Funnel plot: each clinic's rate against its number of evaluable patients, with the
    network rate and 95% / 99.8% limits (``stats.funnel`` rows; column ``clinic``)."""
    from kapoutcomes.stats.funnel import funnel_limits

    fig = go.Figure()
    if clinics.height == 0:
        return _layout(fig, title + " (no data)", "Evaluable patients (n)", "Response rate (%)")
    p = clinics.get_column("network_rate")[0]
    top = max(int(clinics.get_column("denominator").max() or 1) * 1.2, 10)  # type: ignore[operator]
    ns = [max(1, int(top * k / 200)) for k in range(1, 201)]
    lim = funnel_limits(pl.Series(ns).to_numpy(), p)
    for key, name, dash, c in (
        ("95", "95% limits", "dash", OKABE_ITO[1]),
        ("998", "99.8% limits", "dot", OKABE_ITO[3]),
    ):
        for side in ("lower", "upper"):
            fig.add_trace(
                go.Scatter(
                    x=ns,
                    y=(100 * lim[f"{side}{key}"]).tolist(),
                    mode="lines",
                    line={"dash": dash, "color": c},
                    name=name,
                    showlegend=side == "lower",
                    hoverinfo="skip",
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[1, top],
            y=[100 * p, 100 * p],
            mode="lines",
            line={"color": OKABE_ITO[7]},
            name=f"network {100 * p:.0f}%",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=clinics.get_column("denominator").to_list(),
            y=(100 * clinics.get_column("rate").fill_null(float("nan"))).to_list(),
            mode="markers+text",
            text=clinics.get_column("clinic").to_list(),
            textposition="top center",
            marker={"size": 10, "color": OKABE_ITO[0]},
            name="clinics",
        )
    )
    fig.update_yaxes(range=[0, 100])
    return _layout(fig, title, "Evaluable patients (n)", "Response rate (%)")


def adverse_event_figure(
    ae: pl.DataFrame, title: str = "Adverse events per 100 dosing sessions"
) -> go.Figure:
    """Bars with exact Poisson intervals, one per event (``safety.adverse_event_rates`` rows
    with dimension "event")."""
    f = ae.filter(pl.col("dimension") == "event").sort("per_100_sessions", descending=True)
    r = f.get_column("per_100_sessions")
    fig = go.Figure(
        go.Bar(
            x=[e.replace("_", " ") for e in f.get_column("category").to_list()],
            y=r.to_list(),
            marker_color=OKABE_ITO[3],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (f.get_column("per_100_upper") - r).to_list(),
                "arrayminus": (r - f.get_column("per_100_lower")).to_list(),
            },
        )
    )
    return _layout(fig, title, "Event", "Events per 100 dosing sessions (95% exact CI)")


def mme_figure(
    opioids_: pl.DataFrame, title: str = "Daily MME among patients on opioids"
) -> go.Figure:
    """Median daily MME (IQR as error bars) at each timepoint (``resources.opioid_summary``)."""
    f = opioids_.filter(pl.col("measure") == "median_mme_on_opioids")
    v = f.get_column("value").fill_null(float("nan"))
    fig = go.Figure(
        go.Bar(
            x=f.get_column("timepoint").to_list(),
            y=v.to_list(),
            marker_color=OKABE_ITO[2],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (f.get_column("upper").fill_null(float("nan")) - v).to_list(),
                "arrayminus": (v - f.get_column("lower").fill_null(float("nan"))).to_list(),
            },
            text=[f"n={n}" for n in f.get_column("n").to_list()],
            textposition="auto",
        )
    )
    return _layout(
        fig, title, "Time from the first dose", "Median daily MME (mg/day morphine equivalent), IQR"
    )


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
            line={"color": OKABE_ITO[0]},
        )
    )
    if f.height and f.get_column("baseline_score")[0] is not None:
        b = f.get_column("baseline_score")[0]
        fig.add_hline(
            y=b, line_dash="dash", line_color=OKABE_ITO[7], annotation_text=f"baseline {b:g}"
        )
    if doses is not None and doses.height:
        for i, kind in enumerate(("induction", "maintenance", "booster")):
            d = doses.filter(pl.col("session_type") == kind)
            if d.height:
                fig.add_trace(
                    go.Scatter(
                        x=d.get_column("started_at").to_list(),
                        y=[0] * d.height,
                        mode="markers",
                        marker={"symbol": "triangle-up", "size": 10, "color": OKABE_ITO[1 + i]},
                        name=f"{kind} infusion",
                    )
                )
    return _layout(
        fig,
        title or f"{label(instrument)} over time",
        "Date",
        f"{label(instrument)} score (points)",
    )
