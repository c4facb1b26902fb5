"""Cohort section figures: tidy frames from the cohort statistics in, plotly figures out
(durability curves, attrition, response rates overall and by subgroup, improvement by month,
the clinic funnel plot, adverse events and opioid doses, activity by month)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions.settings import DEFAULT
from kapoutcomes.present import palette
from kapoutcomes.present.figures.layout import (
    count_rows,
    label,
    note_under,
    plain_label,
    room_for_rows,
    titled,
)
from kapoutcomes.present.formatting import words

#: the KM time axis: one unit, stated (the Cohort page's durability headline uses it too)
KM_UNIT = "weeks"
KM_AXIS = "Weeks from origin (end of induction or restoring infusion; 1 week = 7 days)"


def _curve_name(level: str, instrument: str, one_instrument: bool = False) -> str:
    """A curve's legend name: the instrument overall; the group when comparing groups on one
    instrument (the y axis names it); both otherwise."""
    if level == "all":
        return label(instrument)
    return plain_label(level) if one_instrument else f"{plain_label(level)}: {label(instrument)}"


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


def _at_risk_rows(
    fig: go.Figure, at_risk: pl.DataFrame, keys: list[tuple[str, str]], ends: list[float]
) -> int:
    """Numbers at risk under the x axis: one row per curve, in the curve's colour, at each
    week of ``at_risk`` up to the end of that curve (``ends``, weeks); the x ticks at those
    weeks. Returns the pixels used."""
    rows = []
    for i, ((lv, inst), end) in enumerate(zip(keys, ends, strict=True)):
        f = at_risk.filter(
            (pl.col("level") == lv) & (pl.col("instrument") == inst) & (pl.col("week") <= end)
        ).sort("week")
        one = len({k[1] for k in keys}) == 1
        name = _curve_name(lv, inst, one)
        rows.append((name, palette.series(i), f.select("week", "at_risk").rows()))
    ticks = sorted({int(w) for _, _, counts in rows for w, _ in counts})
    if ticks:
        fig.update_xaxes(tickvals=ticks)
    return count_rows(fig, "Numbers at risk", rows, "at risk")


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
    one = len({inst for _, inst in keys}) == 1
    ends = []
    for i, (lv, inst) in enumerate(keys):
        f = curves.filter((pl.col("level") == lv) & (pl.col("instrument") == inst))
        f = f.sort("time_days")
        ends.append(float(f.get_column("time_days").max() or 0.0) / 7)  # type: ignore[operator]
        _km_traces(fig, f, _curve_name(lv, inst, one), palette.series(i))
    fig.update_yaxes(range=[0, 102])
    fig = titled(fig, title, KM_AXIS, "Still responding (%)")
    if one and keys[0][0] != "all":
        # groups compared on one instrument: the y axis names it (a legend title would sit
        # on the chart title when the legend wraps on a tablet)
        fig.update_yaxes(title_text=f"Still responding (%), {label(keys[0][1])}")
    if at_risk is not None and at_risk.height:
        px = _at_risk_rows(fig, at_risk, keys, ends)
        room_for_rows(fig, px, [_curve_name(lv, inst, one) for lv, inst in keys])
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
    stage, labelled with who it counts, n and % of referred; the % of the previous bar and
    the patients who reached the stage in any order (``reached``) are in the hover."""
    f = stages.filter(pl.col("level") == "all") if "level" in stages.columns else stages
    if f.height == 0:
        f = stages
    pops = f.get_column("population").to_list() if "population" in f.columns else [None] * f.height
    n = f.get_column("n").to_list()
    pct = f.get_column("pct_of_referred").to_list()
    prev = (
        f.get_column("pct_of_previous").to_list()
        if "pct_of_previous" in f.columns
        else [None] * f.height
    )
    reached = f.get_column("reached").to_list() if "reached" in f.columns else n
    fig = go.Figure(
        go.Bar(
            x=n,
            y=[_stage_label(s, p) for s, p in zip(f["stage"].to_list(), pops, strict=True)],
            orientation="h",
            marker_color=palette.PRIMARY,
            text=[
                f"{k:,}" if p is None else f"{k:,} ({p:.0f}%)" for k, p in zip(n, pct, strict=True)
            ],
            textposition="auto",
            customdata=[
                ("" if q is None else f"{q:.0f}% of the bar above; ") + f"{r:,}"
                for q, r in zip(prev, reached, strict=True)
            ],
            hovertemplate="%{x:,} patients: %{customdata} reached this stage in any order"
            "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(360, 90 + 56 * f.height))
    return titled(fig, title, "Patients (n, % of referred)", "Stage (who the bar counts)")


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


def _month_traces(fig: go.Figure, f: pl.DataFrame, name: str, c: str, min_n: int) -> None:
    """One instrument's monthly mean % reduction: months with at least ``min_n`` patients
    scored as a line with t-interval bars, the others as grey open markers, not joined."""
    every = pl.DataFrame(
        {"treatment_month": range(f["treatment_month"].min(), f["treatment_month"].max() + 1)}
    )
    # a month without scores is a gap in the line, never bridged
    f = every.join(f, on="treatment_month", how="left").with_columns(pl.col("scored").fill_null(0))
    n = f.get_column("scored").to_list()
    ok = [k >= min_n for k in n]
    have = [k > 0 for k in n]
    y = f.get_column("mean_reduction_pct").to_list()
    lo = (
        f.get_column("mean_reduction_lower").to_list()
        if "mean_reduction_lower" in f
        else [None] * f.height
    )
    hi = (
        f.get_column("mean_reduction_upper").to_list()
        if "mean_reduction_upper" in f
        else [None] * f.height
    )
    x = f.get_column("treatment_month").to_list()

    def arm(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a - b

    fig.add_trace(
        go.Scatter(
            x=x,
            y=[v if k else None for v, k in zip(y, ok, strict=True)],
            mode="lines+markers",
            name=name,
            line={"color": c},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [arm(h, v) if k else None for h, v, k in zip(hi, y, ok, strict=True)],
                "arrayminus": [
                    arm(v, lw) if k else None for lw, v, k in zip(lo, y, ok, strict=True)
                ],
            },
            customdata=list(zip(n, lo, hi, strict=True)),
            hovertemplate="month %{x}: %{y:.0f}% (CI %{customdata[1]:.0f} to "
            "%{customdata[2]:.0f}; n=%{customdata[0]})<extra></extra>",
        )
    )
    few = [i for i, k in enumerate(ok) if not k and have[i]]
    _too_few(
        fig,
        few,
        x,
        y,
        n,
        f"fewer than {min_n} patients (greyed)",
        "month %{x}: %{y:.0f}% from only %{customdata} patients, too few to read<extra>"
        + name
        + "</extra>",
    )


def _too_few(
    fig: go.Figure,
    few: list[int],
    x: list,
    y: list,
    data: list,
    name: str,
    hovertemplate: str,
) -> None:
    """The points at indices ``few`` (too few patients to read) as grey open markers, not
    joined to the line; one legend entry for every such trace of the figure."""
    if not few:
        return
    fig.add_trace(
        go.Scatter(
            x=[x[i] for i in few],
            y=[y[i] for i in few],
            mode="markers",
            name=name,
            legendgroup="too few",
            showlegend=not any(t.legendgroup == "too few" for t in fig.data),
            marker={"color": palette.AXIS, "symbol": "circle-open", "size": 9},
            customdata=[data[i] for i in few],
            hovertemplate=hovertemplate,
        )
    )


def month_figure(
    months: pl.DataFrame,
    title: str = "Improvement by treatment month",
    min_n: int | None = None,
    confidence_level: float | None = None,
) -> go.Figure:
    """Mean % reduction from baseline by 30-day treatment month, one line per instrument
    (``improvement.improvement_by_month`` rows), with its t interval and the patients scored
    each month written under the axis. Months with fewer than ``min_n`` patients (default
    the ``min_patients_per_point`` setting) are greyed, not joined, and the rule is written
    under the chart."""
    min_n = DEFAULT.min_patients_per_point if min_n is None else min_n
    level = DEFAULT.confidence_level if confidence_level is None else confidence_level
    if "scored" not in months.columns:
        months = months.with_columns(scored=pl.col("denominator"))
    fig = go.Figure()
    rows = []
    for i, inst in enumerate(months.get_column("instrument").unique(maintain_order=True).to_list()):
        f = months.filter(pl.col("instrument") == inst).sort("treatment_month")
        _month_traces(fig, f, label(inst), palette.series(i), min_n)
        rows.append(
            (
                label(inst),
                palette.series(i),
                f.filter(pl.col("scored") > 0).select("treatment_month", "scored").rows(),
            )
        )
    fig = titled(
        fig,
        title,
        "Treatment month (30-day months from the first dose)",
        f"Mean reduction from baseline (%), {level:.0%} CI",
    )
    fig.update_xaxes(dtick=1)
    px = count_rows(fig, "Patients scored", rows, "patients scored")
    note_under(
        fig,
        f"Greyed, not joined: months with fewer than {min_n} patients scored<br>(setting "
        "min_patients_per_point), too few to read. Not a fixed cohort:<br>each month counts "
        "the patients scored in it.",
        px + 4,
    )
    room_for_rows(fig, px, [r[0] for r in rows], extra_px=56)
    return fig


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
            text=[plain_label(c) for c in clinics.get_column("clinic").to_list()],
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
            x=[words(e) for e in f.get_column("category").to_list()],
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
    opioids_: pl.DataFrame,
    title: str = "Daily MME among patients on opioids at each timepoint "
    "(cross-sectional: not the same patients)",
) -> go.Figure:
    """Median daily MME (IQR as error bars) at each timepoint (``resources.opioid_summary``):
    cross-sectional, each timepoint's patients on opioids then (``paired_mme_figure`` follows
    the same patients)."""
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
    return titled(fig, title, "Time from the first dose", "Median MME per day (IQR)")


def _iqr_bar(x: list[str], f: pl.DataFrame, col: str, name: str, colour: str) -> go.Bar:
    """Bars of the median ``{col}median`` with the IQR (``{col}q1``-``{col}q3``) as arms."""
    v = f.get_column(f"{col}median").fill_null(float("nan"))
    return go.Bar(
        x=x,
        y=v.to_list(),
        name=name,
        marker_color=colour,
        error_y={
            "type": "data",
            "symmetric": False,
            "array": (f.get_column(f"{col}q3").fill_null(float("nan")) - v).to_list(),
            "arrayminus": (v - f.get_column(f"{col}q1").fill_null(float("nan"))).to_list(),
        },
        hovertemplate="%{x}: median %{y:.0f} MME/day<extra>" + name + "</extra>",
    )


def paired_mme_figure(
    paired: pl.DataFrame,
    title: str = "Daily MME of the same patients: at the first dose and later (paired)",
) -> go.Figure:
    """For each later timepoint (``resources.paired_mme`` rows), the same patients' median
    daily MME at the first dose and at the timepoint, IQR as arms, n under each pair."""
    f = paired.sort("day")
    x = [f"{t}<br>n = {n} patients" for t, n in f.select("timepoint", "n").rows()]
    fig = go.Figure(
        [
            _iqr_bar(x, f, "baseline_", "at the first dose", palette.BASELINE),
            _iqr_bar(x, f, "", "at the timepoint", palette.OPIOIDS),
        ]
    )
    fig.update_layout(barmode="group")
    fig = titled(
        fig,
        title,
        "Timepoint after the first dose (n = the same patients in both bars)",
        "Median MME per day (IQR)",
    )
    note_under(
        fig,
        # three short lines: as one line it ran off a tablet's chart (820 px)
        "Paired: each pair of bars is the same patients,<br>on MME-counted opioids at the first "
        "dose and followed up<br>to the timepoint; 0 MME/day for those who stopped.",
        64,
    )
    fig.update_layout(margin={"b": 140}, legend={"y": 1.0, "yanchor": "bottom", "x": 0})
    return fig


def subgroup_rates_figure(rates: pl.DataFrame, dimension: str) -> go.Figure | None:
    """Response rate per subgroup level (evaluable and intention-to-treat) with Wilson
    intervals, from ``induction_response.response_rates`` rows of one subgroup, instrument and measure."""
    if rates.height == 0:
        return None
    # levels by name, a pooled "other (k groups, n patients)" last
    f = rates.sort(pl.col("level").cast(pl.String).str.starts_with("other ("), "level")
    levels = [plain_label(v) for v in f["level"].to_list()]
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
    monthly: pl.DataFrame,
    title: str = "Adverse events per 100 dosing sessions, by month",
    min_n: int | None = None,
) -> go.Figure:
    """Events per 100 dosing sessions by calendar month with exact Poisson intervals
    (``activity.adverse_events_by_month`` rows), the patients dosed each month written under
    the axis. Months with fewer than ``min_n`` patients dosed (default the
    ``min_patients_per_point`` setting, the rule of every chart by month) are greyed, not
    joined, and the rule is written under the chart."""
    min_n = DEFAULT.min_patients_per_point if min_n is None else min_n
    if "patients" not in monthly.columns:
        monthly = monthly.with_columns(patients=pl.col("sessions"))
    ok = (monthly.get_column("patients") >= min_n).to_list()
    x = monthly.get_column("month").to_list()
    r = monthly.get_column("per_100_sessions").to_list()
    up = (monthly.get_column("per_100_upper") - monthly.get_column("per_100_sessions")).to_list()
    down = (monthly.get_column("per_100_sessions") - monthly.get_column("per_100_lower")).to_list()
    data = list(zip(monthly["events"], monthly["sessions"], monthly["patients"], strict=True))
    hover = "%{x|%b %Y}: %{y:.1f} per 100 (%{customdata[0]} events / %{customdata[1]} sessions, "
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=[v if k else None for v, k in zip(r, ok, strict=True)],
            mode="lines+markers",
            name="events per 100 sessions",
            line={"color": palette.HARM},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [v if k else None for v, k in zip(up, ok, strict=True)],
                "arrayminus": [v if k else None for v, k in zip(down, ok, strict=True)],
                "color": palette.AXIS,
            },
            customdata=data,
            hovertemplate=hover + "%{customdata[2]} patients)<extra></extra>",
        )
    )
    few = [i for i, k in enumerate(ok) if not k and data[i][1] > 0]
    _too_few(
        fig,
        few,
        x,
        r,
        data,
        f"fewer than {min_n} patients dosed (greyed)",
        hover + "only %{customdata[2]} patients, too few to read)<extra></extra>",
    )
    fig = titled(
        fig, title, "Month of the dosing session", "Events per 100 sessions (95% exact CI)"
    )
    counts = [(m, int(n)) for m, n in zip(x, monthly["patients"], strict=True) if n]
    rows = [("", palette.HARM, counts)]  # one row: the heading names it
    px = count_rows(fig, "Patients dosed", rows, "patients dosed")
    note_under(
        fig,
        f"Greyed, not joined: months with fewer than {min_n} patients dosed<br>(setting "
        "min_patients_per_point), too few to read.",
        px + 4,
    )
    room_for_rows(fig, px, ["Patients dosed"], extra_px=40)
    return fig
