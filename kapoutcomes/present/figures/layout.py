"""What every plotly chart shares: the title and axis titles with units, the white template,
the palette's colour order, the legend under the plot, and the instruments' display names."""

from __future__ import annotations

import plotly.graph_objects as go

from kapoutcomes.present import palette

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
