"""Cohort section figures: tidy frames from the cohort statistics in, plotly figures out
(durability curves, attrition, response rates overall and by subgroup, improvement by month,
the clinic funnel plot, adverse events and opioid doses, activity by month)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from kapoutcomes import tables
from kapoutcomes.present import palette
from kapoutcomes.present.figures.layout import label, titled

#: the KM time axis: one unit, stated (the Cohort page's durability headline uses it too)
KM_UNIT = "weeks"
KM_AXIS = "Weeks from origin (end of induction or restoring infusion; 1 week = 7 days)"
#: the numbers-at-risk rows under a KM chart: pixels per row, label length shown at most
_RISK_ROW_PX = 18
_RISK_LABEL_CHARS = 24


def _curve_name(level: str, instrument: str) -> str:
    return label(instrument) if level == "all" else f"{level}: {label(instrument)}"


def _km_traces(fig: go.Figure, f: pl.DataFrame, name: str, c: str) -> None:
    """One curve's confidence band and step line (x in weeks)."""
    weeks = (f.get_column("time_days") / 7).to_list()
    pct = [100 * v if v is not None else None for v in f.get_column("upper").to_list()]
    low = [100 * v if v is not None else None for v in f.get_column("lower").to_list()]
    fig.add_trace(
        go.Scatter(
            x=weeks + weeks[::-1],
            y=pct + low[::-1],
            fill="toself",
            fillcolor=palette.translucent(c, 0.15),
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


def _short(text: str) -> str:
    return text if len(text) <= _RISK_LABEL_CHARS else text[: _RISK_LABEL_CHARS - 1] + "…"


def _at_risk_rows(
    fig: go.Figure, at_risk: pl.DataFrame, keys: list[tuple[str, str]], ends: list[float]
) -> int:
    """Numbers at risk under the x axis: one row per curve, in the curve's colour, at each
    week of ``at_risk`` up to the end of that curve (``ends``, weeks). Returns the rows."""
    fig.add_annotation(
        x=0, xref="paper", xanchor="right", y=0, yref="paper", yanchor="top", yshift=-52,
        text="<b>Numbers at risk</b>", showarrow=False, font={"size": 11},
    )  # fmt: skip
    ticks: set[int] = set()
    for i, ((lv, inst), end) in enumerate(zip(keys, ends, strict=True)):
        rows = at_risk.filter((pl.col("level") == lv) & (pl.col("instrument") == inst))
        rows = rows.filter(pl.col("week") <= end + 1e-9).sort("week")
        shift = -52 - _RISK_ROW_PX * (i + 1)
        c = palette.series(i)
        fig.add_annotation(
            x=0, xref="paper", xanchor="right", y=0, yref="paper", yanchor="top",
            yshift=shift, text=_short(_curve_name(lv, inst)), showarrow=False,
            font={"size": 11, "color": c},
        )  # fmt: skip
        for w, n in rows.select("week", "at_risk").rows():
            ticks.add(int(w))
            fig.add_annotation(
                x=w, xref="x", y=0, yref="paper", yanchor="top", yshift=shift, text=f"{n}",
                showarrow=False, font={"size": 11, "color": c}, name="at risk",
            )  # fmt: skip
    if ticks:
        fig.update_xaxes(tickvals=sorted(ticks))
    return len(keys)


def km_figure(
    curves: pl.DataFrame,
    title: str = "Time to loss of response",
    at_risk: pl.DataFrame | None = None,
) -> go.Figure:
    """Kaplan-Meier step curves with confidence bands, one per (level, instrument) in
    ``curves`` (``survival.Durability.curves``); x in weeks (``KM_UNIT``). With ``at_risk``
    (``Durability.at_risk`` rows) the numbers at risk are written under the x axis, one row
    per curve, up to the end of each curve."""
    fig = go.Figure()
    if curves.height == 0:
        return titled(fig, title + " (no episodes)", KM_AXIS, "Still responding (%)")
    keys = curves.select("level", "instrument").unique(maintain_order=True).rows()
    ends = []
    for i, (lv, inst) in enumerate(keys):
        f = curves.filter((pl.col("level") == lv) & (pl.col("instrument") == inst))
        f = f.sort("time_days")
        ends.append(float(f.get_column("time_days").max() or 0.0) / 7)  # type: ignore[operator]
        _km_traces(fig, f, _curve_name(lv, inst), palette.series(i))
    fig.update_yaxes(range=[0, 102])
    fig = titled(fig, title, KM_AXIS, "Still responding (%)")
    if at_risk is not None and at_risk.height:
        rows = _at_risk_rows(fig, at_risk, keys, ends)
        longest = max(len(_short(_curve_name(lv, inst))) for lv, inst in keys)
        fig.update_layout(
            height=460 + _RISK_ROW_PX * rows,
            margin={"l": max(60, 7 * longest), "b": 70 + _RISK_ROW_PX * (rows + 1), "t": 90},
            legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
        )
    return fig


def _stage_label(stage: str, population: str | None) -> str:
    """A funnel bar's label: the stage, and under it who the bar counts."""
    name = stage.replace("_", " ").capitalize()
    return name if not population else f"{name}<br><sup>{population}</sup>"


def attrition_figure(
    stages: pl.DataFrame,
    title: str = "Attrition from referral: each bar is a subset of the bar above",
) -> go.Figure:
    """The nested attrition funnel (``attrition.attrition`` rows): one horizontal bar per
    stage, labelled with who it counts, n, % of referred and % of the previous bar; the
    patients who reached a stage out of order are in the hover (``reached``)."""
    f = stages.filter(pl.col("level") == "all") if "level" in stages.columns else stages
    if f.height == 0:
        f = stages
    pops = f.get_column("population").to_list() if "population" in f.columns else [None] * f.height
    prev = f.get_column("pct_of_previous").to_list() if "pct_of_previous" in f.columns else []
    text = []
    for i, (n, p) in enumerate(
        zip(f.get_column("n").to_list(), f.get_column("pct_of_referred").to_list(), strict=True)
    ):
        words = f"{n:,}" if p is None else f"{n:,} ({p:.0f}% of referred"
        if p is not None and i > 0 and i < len(prev) and prev[i] is not None:
            words += f", {prev[i]:.0f}% of the bar above"
        text.append(words + (")" if p is not None else ""))
    reached = f.get_column("reached").to_list() if "reached" in f.columns else f["n"].to_list()
    fig = go.Figure(
        go.Bar(
            x=f.get_column("n").to_list(),
            y=[_stage_label(s, p) for s, p in zip(f["stage"].to_list(), pops, strict=True)],
            orientation="h",
            marker_color=palette.PRIMARY,
            text=text,
            textposition="auto",
            customdata=reached,
            hovertemplate="%{x} patients; %{customdata} reached this stage in any order"
            "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(360, 90 + 56 * f.height))
    return titled(fig, title, "Patients (n)", "Stage (who the bar counts)")


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
                marker_color=(palette.PRIMARY, palette.SECONDARY)[j],
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
    return titled(fig, title, "Patients (%) with 95% CI", "Instrument and measure")


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
                line={"color": palette.series(i)},
                customdata=f.select(
                    "scored" if "scored" in f.columns else "denominator"
                ).to_numpy(),
                hovertemplate="month %{x}: %{y:.0f}% (n=%{customdata[0]})",
            )
        )
    return titled(
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
        return titled(fig, title + " (no data)", "Evaluable patients (n)", "Response rate (%)")
    p = clinics.get_column("network_rate")[0]
    top = max(int(clinics.get_column("denominator").max() or 1) * 1.2, 10)  # type: ignore[operator]
    ns = [max(1, int(top * k / 200)) for k in range(1, 201)]
    lim = funnel_limits(pl.Series(ns).to_numpy(), p)
    for key, name, dash, c in (
        ("95", "95% limits", "dash", palette.ORANGE),
        ("998", "99.8% limits", "dot", palette.VERMILLION),
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
            line={"color": palette.NETWORK},
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
            marker={"size": 10, "color": palette.PRIMARY},
            name="clinics",
        )
    )
    fig.update_yaxes(range=[0, 100])
    return titled(fig, title, "Evaluable patients (n)", "Response rate (%)")


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
            marker_color=palette.HARM,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (f.get_column("per_100_upper") - r).to_list(),
                "arrayminus": (r - f.get_column("per_100_lower")).to_list(),
            },
        )
    )
    return titled(fig, title, "Event", "Events per 100 dosing sessions (95% exact CI)")


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
            marker_color=palette.OPIOIDS,
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
    return titled(
        fig, title, "Time from the first dose", "Median daily MME (mg/day morphine equivalent), IQR"
    )


def subgroup_rates_figure(rates: pl.DataFrame, dimension: str) -> go.Figure | None:
    """Response rate per subgroup level (evaluable and intention-to-treat) with Wilson
    intervals, from ``induction_response.response_rates`` rows of one subgroup, instrument and measure."""
    if rates.height == 0:
        return None
    f = rates.sort("level")
    levels = [str(v) for v in f["level"].to_list()]
    fig = go.Figure()
    for col, lo, hi, name, colour, den in (
        ("rate", "lower", "upper", "evaluable", palette.PRIMARY, "denominator"),
        (
            "itt_rate",
            "itt_lower",
            "itt_upper",
            "intention-to-treat",
            palette.SECONDARY,
            "itt_denominator",
        ),
    ):
        r = f[col].fill_null(float("nan"))
        fig.add_trace(
            go.Bar(
                x=levels,
                y=(r * 100).to_list(),
                name=name,
                marker_color=colour,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": ((f[hi].fill_null(float("nan")) - r) * 100).to_list(),
                    "arrayminus": ((r - f[lo].fill_null(float("nan"))) * 100).to_list(),
                },
                customdata=list(zip(f["n"].to_list(), f[den].to_list(), strict=True)),
                hovertemplate="%{x}: %{y:.0f}% (%{customdata[0]}/%{customdata[1]})<extra>"
                + name
                + "</extra>",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 100])
    return titled(
        fig,
        f"Response rate by {dimension.replace('_', ' ')}",
        dimension.replace("_", " ").capitalize(),
        "Patients responding (%), 95% Wilson CI",
    )


def sessions_figure(monthly: pl.DataFrame, title: str = "Sessions per month by type") -> go.Figure:
    """Stacked bars of sessions per calendar month, one colour per session type
    (``activity.sessions_by_month`` rows: month, session_type, sessions)."""
    present = set(monthly.get_column("session_type").to_list())
    kinds = [k for k in tables.SESSION_TYPES if k in present] + sorted(
        present - set(tables.SESSION_TYPES)
    )
    fig = go.Figure()
    for kind in kinds:
        f = monthly.filter(pl.col("session_type") == kind).sort("month")
        fig.add_trace(
            go.Bar(
                x=f.get_column("month").to_list(),
                y=f.get_column("sessions").to_list(),
                name=kind.replace("_", " "),
                marker_color=palette.SESSION_COLOURS.get(kind, palette.BASELINE),
                hovertemplate="%{x|%b %Y}: %{y} sessions<extra>" + kind + "</extra>",
            )
        )
    fig.update_layout(barmode="stack")
    return titled(fig, title, "Month", "Sessions (count)")


def adverse_events_by_month_figure(
    monthly: pl.DataFrame, title: str = "Adverse events per 100 dosing sessions, by month"
) -> go.Figure:
    """Events per 100 dosing sessions by calendar month with exact Poisson intervals
    (``activity.adverse_events_by_month`` rows)."""
    r = monthly.get_column("per_100_sessions")
    fig = go.Figure(
        go.Scatter(
            x=monthly.get_column("month").to_list(),
            y=r.to_list(),
            mode="lines+markers",
            name="events per 100 sessions",
            line={"color": palette.HARM},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (monthly.get_column("per_100_upper") - r).to_list(),
                "arrayminus": (r - monthly.get_column("per_100_lower")).to_list(),
                "color": palette.AXIS,
            },
            customdata=list(zip(monthly["events"], monthly["sessions"], strict=True)),
            hovertemplate="%{x|%b %Y}: %{y:.1f} per 100 (%{customdata[0]} events / "
            "%{customdata[1]} sessions)<extra></extra>",
        )
    )
    return titled(
        fig, title, "Month of the dosing session", "Events per 100 sessions (95% exact CI)"
    )
