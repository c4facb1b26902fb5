"""What every plotly chart shares: the title and axis titles with units, the white template,
the palette's colour order, the legend under the plot, and the instruments' display names."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from kapoutcomes.present import palette
from kapoutcomes.present.formatting import BIDI_CONTROLS

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

TEMPLATE = "plotly_white"


def label(instrument: str) -> str:
    """The display name of ``instrument`` with its range (the code itself when unknown)."""
    return INSTRUMENT_LABELS.get(instrument, instrument)


def titled(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    """``fig`` with its title, axis titles, template, colour order, legend and margins."""
    fig.update_layout(
        title={"text": title},
        xaxis_title=x,
        yaxis_title=y,
        template=TEMPLATE,
        colorway=list(palette.OKABE_ITO),
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    return fig


#: rows of counts written under a chart's x axis (numbers at risk, patients per month):
#: pixels per row, the first row's offset below the plot, label length shown at most
COUNT_ROW_PX = 18
COUNT_ROWS_TOP_PX = 52
COUNT_LABEL_CHARS = 24


def short(text: str, limit: int = COUNT_LABEL_CHARS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count_rows(
    fig: go.Figure,
    heading: str,
    rows: list[tuple[str, str, list[tuple[float, int]]]],
    name: str,
) -> int:
    """Counts under the x axis, one row per series: ``rows`` = (label, colour, [(x, count)]);
    the heading and labels sit in the left margin, each count under its x. The count
    annotations are named ``name`` (tests find them by it). Returns the pixels used."""
    note = {"x": 0, "xref": "paper", "xanchor": "right", "y": 0, "yref": "paper"}
    fig.add_annotation(
        **note, yanchor="top", yshift=-COUNT_ROWS_TOP_PX, text=f"<b>{heading}</b>",
        showarrow=False, font={"size": 11},
    )  # fmt: skip
    for i, (text, colour, counts) in enumerate(rows):
        shift = -COUNT_ROWS_TOP_PX - COUNT_ROW_PX * (i + 1)
        font = {"size": 11, "color": colour}
        fig.add_annotation(
            **note, yanchor="top", yshift=shift, text=short(text), showarrow=False, font=font
        )
        for x, n in counts:
            fig.add_annotation(
                x=x, xref="x", y=0, yref="paper", yanchor="top", yshift=shift, text=f"{n}",
                showarrow=False, font=font, name=name,
            )  # fmt: skip
    return COUNT_ROWS_TOP_PX + COUNT_ROW_PX * (len(rows) + 1)


def note_under(fig: go.Figure, text: str, shift_px: int) -> None:
    """A sentence under the chart (a rule the reader needs, e.g. which points are greyed)."""
    fig.add_annotation(
        x=0, xref="paper", xanchor="left", y=0, yref="paper", yanchor="top",
        yshift=-shift_px, text=text, showarrow=False, align="left",
        font={"size": 11, "color": palette.NOTE}, name="rule",
    )  # fmt: skip


def room_for_rows(fig: go.Figure, rows_px: int, labels: list[str], extra_px: int = 0) -> None:
    """Margins and height for count rows under the plot (``rows_px``) and labels in the left
    margin; the legend moves above the plot, out of their way."""
    longest = max((len(short(t)) for t in labels), default=0)
    fig.update_layout(
        height=440 + rows_px + extra_px,
        # room above the plot for a legend that wraps to two rows on a tablet
        margin={"l": max(60, 7 * longest), "b": 40 + rows_px + extra_px, "t": 140},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    )


def plain_label(text: object) -> str:
    """A clinic's own words (a clinic, clinician or group name) for a chart: Plotly reads
    ``<a href>``, ``<b>``, ``<br>`` and entities in trace names, category labels and text,
    so ``<``, ``>`` and ``&`` are written as entities and shown as typed, never as a link;
    bidirectional overrides are dropped (``formatting.plain``)."""
    return html.escape(BIDI_CONTROLS.sub("", str(text)), quote=False)
