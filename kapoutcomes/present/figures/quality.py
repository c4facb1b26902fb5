"""The data-quality heatmap of the Data page: completeness by clinic, every row in one
direction (% complete: higher = better), one colour scale stated in its legend."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import polars as pl

from kapoutcomes.present.figures.layout import INSTRUMENT_LABELS, TEMPLATE, plain_label

#: one sequential, colour-blind-safe scale: dark = little complete, light = complete
COMPLETENESS_SCALE = "Cividis"
COMPLETENESS_TITLE = "Completeness by clinic: % complete (higher = better)"


_WITH_CODE = re.compile(r"(?P<measure>.*) \((?P<code>[a-z0-9_]+)\)")


def _row_label(text: str) -> str:
    """ "follow-up at 6 months (phq9)" as a reader says it, on two short lines so the
    labels leave the cells room on a tablet: "follow-up at 6 months<br>PHQ-9"."""
    m = _WITH_CODE.fullmatch(text)
    if m is None or m["code"] not in INSTRUMENT_LABELS:
        return plain_label(text)
    return f"{plain_label(m['measure'])}<br>{INSTRUMENT_LABELS[m['code']].split(' (')[0]}"


def _column_label(clinic: str) -> str:
    """A clinic's name on at most two lines at the middle space ("Lakeshore<br>Ketamine
    Center"), read level rather than slanted."""
    words = str(clinic).split()
    if len(words) < 2:
        return plain_label(clinic)
    cut = min(
        range(1, len(words)),
        key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))),
    )
    return plain_label(" ".join(words[:cut])) + "<br>" + plain_label(" ".join(words[cut:]))


#: how far under the cells the colour bar starts, in px (below the clinics' names and title)
_COLOURBAR_BELOW = 95


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
    # the share on the first line, its count on the second: narrow enough for a tablet
    text = [
        [
            f"{at[(lab, c)]['pct_complete']:.0f}%<br>{at[(lab, c)]['complete']}/"
            f"{at[(lab, c)]['denominator']}"
            if (lab, c) in at and at[(lab, c)]["pct_complete"] is not None
            else ""
            for c in clinics
        ]
        for lab in labels
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[_column_label(c) for c in clinics],
            y=[_row_label(lab) for lab in labels],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 12},
            hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>",
            colorscale=COMPLETENESS_SCALE,
            zmin=0,
            zmax=100,
            # under the chart, across it: beside it, it took a fifth of a tablet's width
            colorbar={
                "title": {"text": "% complete (higher = better)", "side": "top"},
                "orientation": "h",
                "y": -_COLOURBAR_BELOW / (44 * len(labels)),  # under the clinics' names
                "yanchor": "top",
                "len": 0.6,
                "thickness": 12,
            },
        )
    )
    fig.update_layout(
        title={"text": COMPLETENESS_TITLE},
        xaxis={"title": {"text": "Clinic"}, "tickangle": 0},
        yaxis_title="Measure (instrument)",
        height=230 + 44 * len(labels),
        margin={"l": 20, "r": 20, "t": 60, "b": 150},
        template=TEMPLATE,
    )
    return fig
