"""Cohort figures drawn patient by patient, from per-patient frames (``cohort.PatientMetrics``):
the end-of-induction waterfall and score trajectories over weeks from the first infusion."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from kapoutcomes.definitions.settings import DEFAULT, Settings
from kapoutcomes.present import palette
from kapoutcomes.present.figures.layout import count_rows, label, note_under, room_for_rows, titled
from kapoutcomes.stats.intervals import median_ci

#: Individual lines drawn on a trajectory chart at most (the rest summarised by median/IQR).
MAX_LINES = 60
#: Weeks with fewer patients than this get no median point (too few to summarise): the
#: ``min_patients_per_point`` setting, the one rule of every chart by month or week.
MIN_PER_WEEK = DEFAULT.min_patients_per_point
#: A trajectory writes its n under the axis every this many weeks (and at baseline).
COUNT_EVERY_WEEKS = 4


def waterfall_figure(
    eoi: pl.DataFrame, settings: Settings, instrument: str = "pain_nrs"
) -> go.Figure | None:
    """Each evaluable patient's end-of-induction % reduction from baseline, best first, with
    the response and substantial-improvement lines. None when no patient is evaluable."""
    f = (
        eoi.filter((pl.col("instrument") == instrument) & pl.col("reduction_pct").is_not_null())
        .sort("reduction_pct", descending=True)
        .with_row_index("rank", offset=1)
    )
    if f.height == 0:
        return None
    resp, subst = settings.pain_response_pct, settings.pain_substantial_pct
    if instrument != "pain_nrs":
        resp = subst = settings.depression_response_pct
    groups = {
        f">= {subst:g}% (substantial)": palette.SUBSTANTIAL,
        f"{resp:g}-{subst:g}% (responder)": palette.PRIMARY,
        f"0-{resp:g}% (below threshold)": palette.BELOW_THRESHOLD,
        "no change or worse": palette.HARM,
    }
    names = list(groups)
    r = pl.col("reduction_pct")
    f = f.with_columns(
        group=pl.when(r >= subst)
        .then(pl.lit(names[0]))
        .when(r >= resp)
        .then(pl.lit(names[1]))
        .when(r > 0)
        .then(pl.lit(names[2]))
        .otherwise(pl.lit(names[3]))
    )
    fig = go.Figure()
    for g in f.get_column("group").unique(maintain_order=True).to_list():
        part = f.filter(pl.col("group") == g)
        fig.add_trace(
            go.Bar(
                x=part["rank"].to_list(),
                y=part["reduction_pct"].to_list(),
                name=g,
                marker_color=groups[g],
                hovertemplate="%{y:.0f}% reduction<extra></extra>",
            )
        )
    for y, text in ((resp, f"{resp:g}% response"), (subst, f"{subst:g}% substantial")):
        fig.add_hline(y=y, line_dash="dash", line_color=palette.REFERENCE, annotation_text=text)
    fig.update_layout(bargap=0, barmode="overlay")
    return titled(
        fig,
        f"End-of-induction change per patient, {label(instrument)} (n = {f.height})",
        "Patients, best to worst",
        "% reduction from baseline (positive = better)",
    )


def trajectory_frame(
    changes: pl.DataFrame,
    instrument: str,
    max_weeks: int = 26,
    min_n: int = MIN_PER_WEEK,
    confidence_level: float = 0.95,
) -> pl.DataFrame:
    """Median and interquartile range of scores by whole week from the first infusion, with
    the patients' baselines as week -1: week, n, median, q1, q3, median_lower, median_upper
    (order-statistic interval of the median, ``stats.intervals.median_ci``; empty when n is
    too small for the level). Weeks with fewer than ``min_n`` patients are left out."""
    c = changes.filter(pl.col("instrument") == instrument).with_columns(
        week=(pl.col("days_from_first_dose") // 7).cast(pl.Int64)
    )
    c = c.filter(pl.col("week").is_between(0, max_weeks))
    base = (
        changes.filter(pl.col("instrument") == instrument)
        .group_by("patient_id")
        .agg(score=pl.col("baseline_score").first())
        .drop_nulls("score")
        .with_columns(week=pl.lit(-1, pl.Int64))
    )
    c = pl.concat(
        [base.select("patient_id", "week", "score"), c.select("patient_id", "week", "score")]
    )
    g = (
        c.group_by("week")
        .agg(
            n=pl.col("patient_id").n_unique().cast(pl.Int64),
            median=pl.col("score").median(),
            q1=pl.col("score").quantile(0.25, interpolation="linear"),
            q3=pl.col("score").quantile(0.75, interpolation="linear"),
            _scores=pl.col("score"),
        )
        .filter(pl.col("n") >= min_n)
        .sort("week")
    )
    ci = [median_ci(v.to_numpy(), confidence_level) for v in g.get_column("_scores")]
    return g.drop("_scores").with_columns(
        median_lower=pl.Series([lo for lo, _ in ci], dtype=pl.Float64),
        median_upper=pl.Series([hi for _, hi in ci], dtype=pl.Float64),
    )


def _patient_lines(
    fig: go.Figure, changes: pl.DataFrame, instrument: str, max_weeks: int, seed: int
) -> None:
    """Up to ``MAX_LINES`` individual patients (a fixed random sample), faint grey."""
    c = changes.filter(
        (pl.col("instrument") == instrument)
        & (pl.col("days_from_first_dose") / 7).is_between(-4, max_weeks)
    )
    ids = c.get_column("patient_id").unique().sort()
    shown = ids.sample(min(MAX_LINES, ids.len()), seed=seed) if ids.len() else ids
    lines = c.filter(pl.col("patient_id").is_in(shown.implode())).sort(
        "patient_id", "days_from_first_dose"
    )
    xs: list[float | None] = []
    ys: list[float | None] = []
    for _, part in lines.group_by("patient_id", maintain_order=True):
        xs += [*(part["days_from_first_dose"] / 7).to_list(), None]
        ys += [*part["score"].to_list(), None]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": palette.translucent(palette.BASELINE, 0.25), "width": 1},
            name=f"patients ({shown.len()} of {ids.len()})",
            hoverinfo="skip",
        )
    )


def _arms(summary: pl.DataFrame) -> dict[str, object]:
    """Error bars of the median from its order-statistic interval (none where empty)."""
    m = summary["median"]
    return {
        "type": "data",
        "symmetric": False,
        "array": (summary["median_upper"] - m).to_list(),
        "arrayminus": (m - summary["median_lower"]).to_list(),
        "color": palette.PRIMARY,
    }


def trajectory_figure(
    changes: pl.DataFrame,
    instrument: str,
    max_weeks: int = 26,
    seed: int = 0,
    min_n: int = MIN_PER_WEEK,
    confidence_level: float = 0.95,
) -> go.Figure | None:
    """Scores over weeks from the first infusion: up to ``MAX_LINES`` individual patients
    (faint) under the weekly median with its interval and the interquartile band; the
    patients each week written under the axis, and the rule for weeks left out (fewer than
    ``min_n`` patients) under the chart. None when no week has enough patients."""
    summary = trajectory_frame(changes, instrument, max_weeks, min_n, confidence_level)
    if summary.height == 0:
        return None
    fig = go.Figure()
    _patient_lines(fig, changes, instrument, max_weeks, seed)
    w = summary["week"].to_list()
    fig.add_trace(
        go.Scatter(
            x=w + w[::-1],
            y=summary["q3"].to_list() + summary["q1"].to_list()[::-1],
            fill="toself",
            fillcolor=palette.translucent(palette.PRIMARY, 0.2),
            line={"width": 0},
            name="IQR",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=w,
            y=summary["median"].to_list(),
            mode="lines+markers",
            line={"color": palette.PRIMARY, "width": 3},
            name=f"median ({confidence_level:.0%} CI)",
            error_y=_arms(summary),
            customdata=summary["n"].to_list(),
            hovertemplate="week %{x}: median %{y:.1f} (n=%{customdata})<extra></extra>",
        )
    )
    fig.add_vline(
        x=0, line_dash="dot", line_color=palette.REFERENCE, annotation_text="first infusion"
    )
    fig = titled(
        fig,
        f"{label(instrument)} over weeks from the first infusion",
        "Weeks from the first infusion (B = baseline)",
        f"{label(instrument)} score",
    )
    # n at baseline and every COUNT_EVERY_WEEKS weeks under the axis (week 0 sits too close
    # to baseline to write both), ticks at the same weeks; every week's n is in the hover
    rows = summary.select("week", "n").rows()
    counts = [(wk, k) for wk, k in rows if wk == -1 or (wk > 0 and wk % COUNT_EVERY_WEEKS == 0)]
    ticks = list(range(0, int(summary["week"].max()) + 1, COUNT_EVERY_WEEKS))
    fig.update_xaxes(tickvals=[-1, *ticks], ticktext=["B", *[str(t) for t in ticks]])
    px = count_rows(fig, "Patients (n)", [("scored", palette.PRIMARY, counts)], "patients")
    note_under(
        fig,
        f"B = baseline. Weeks with fewer than {min_n} patients<br>(setting "
        "min_patients_per_point) are left out. Not a fixed<br>cohort: each week counts the "
        "patients scored in it.",
        px + 4,
    )
    room_for_rows(fig, px, ["scored"], extra_px=56)
    return fig
