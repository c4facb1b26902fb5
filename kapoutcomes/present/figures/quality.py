"""The data-quality heatmap of the Data page: completeness by clinic, every row in one
direction (% complete: higher = better), one colour scale stated in its legend."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import polars as pl

from kapoutcomes.present.figures.layout import INSTRUMENT_LABELS, TEMPLATE, plain_label

#: one sequential, colour-blind-safe scale: dark = little complete, light = complete
COMPLETENESS_SCALE = "Cividis"
COMPLETENESS_TITLE = "Completeness by clinic: % complete on every row (higher = better)"


_WITH_CODE = re.compile(r"(?P<measure>.*) \((?P<code>[a-z0-9_]+)\)")


def _row_label(text: str) -> str:
    """ "follow-up at 6 months (phq9)" as a reader says it: "follow-up at 6 months, PHQ-9"."""
    m = _WITH_CODE.fullmatch(text)
    if m is None or m["code"] not in INSTRUMENT_LABELS:
        return text
    return f"{m['measure']}, {INSTRUMENT_LABELS[m['code']].split(' (')[0]}"


def completeness_figure(cells: pl.DataFrame) -> go.Figure | None:
    """Heatmap clinic x measure of ``quality.completeness_cells`` (every cell % complete,
    so higher is better on every row); None without cells."""
    if cells.height == 0:
        return None
    labels = cells.get_column("label").unique(maintain_order=True).to_list()
    clinics = cells.get_column("clinic").unique().sort().to_list()
    at = {(r["label"], r["clinic"]): r for r in cells.iter_rows(named=True)}
    z = [
        [at[(lab, c)]["pct_complete"] if (lab, c) in at else None for c in clinics]
        for lab in labels
    ]
    text = [
        [
            f"{at[(lab, c)]['pct_complete']:.0f}% ({at[(lab, c)]['complete']}/"
            f"{at[(lab, c)]['denominator']})"
            if (lab, c) in at and at[(lab, c)]["pct_complete"] is not None
            else ""
            for c in clinics
        ]
        for lab in labels
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[plain_label(c) for c in clinics],
            y=[_row_label(lab) for lab in labels],
            text=text,
            texttemplate="%{text}",
            colorscale=COMPLETENESS_SCALE,
            zmin=0,
            zmax=100,
            colorbar={"title": {"text": "% complete<br>(higher = better)"}},
        )
    )
    fig.update_layout(
        title={"text": COMPLETENESS_TITLE},
        xaxis_title="Clinic",
        yaxis_title="Measure (instrument)",
        height=120 + 32 * len(labels),
        margin={"l": 20, "r": 20, "t": 60, "b": 40},
        template=TEMPLATE,
    )
    return fig
