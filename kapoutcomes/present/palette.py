"""The one palette of every chart and printed page: the Okabe & Ito (2008) colour-blind-safe
colours, each named once by what it shows, plus the greys for text and reference lines.

Figures (``present.figures``), the HTML report and the one-page patient summary take their
colours from here and nowhere else, so a threshold line, an infusion or a harm looks the same
on every page. Meaning never rests on colour alone: lines also differ by dash and markers by
symbol.
"""

from __future__ import annotations

# --- the Okabe-Ito colours ----------------------------------------------------------------
BLUE = "#0072B2"
ORANGE = "#E69F00"
GREEN = "#009E73"  # bluish green
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"  # reddish purple
SKY = "#56B4E9"
YELLOW = "#F0E442"
BLACK = "#000000"

#: The order series take on a chart (plotly's colorway): blue, orange, green, vermillion ...
OKABE_ITO: tuple[str, ...] = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, BLACK)

# --- greys (not colours of meaning) -------------------------------------------------------
INK = "#111111"  # body text
NOTE = "#444444"  # definitions, captions and other small print
REFERENCE = "#555555"  # threshold and event lines on cohort charts
BASELINE = "#777777"  # a patient's baseline, and other neutral reference lines
AXIS = "#999999"  # axis lines of the printed charts
RULE = "#CCCCCC"  # table borders

# --- roles: what a colour means wherever it is drawn ----------------------------------------
PRIMARY = BLUE  # the main series of a chart (evaluable rates, medians, clinics)
SECONDARY = ORANGE  # the second series (intention-to-treat)
SCORE = BLACK  # one patient's pain scores
DEPRESSION = PURPLE  # one patient's PHQ-9 scores
RESPONSE = ORANGE  # the response threshold
SUBSTANTIAL = GREEN  # substantial improvement, remission: the good side of a threshold
BELOW_THRESHOLD = ORANGE  # improved, but less than the response threshold
HARM = VERMILLION  # adverse events, limits, serious events, worse than baseline
MILD_HARM = ORANGE  # a side effect that was not serious
OPIOIDS = VERMILLION  # daily MME
NETWORK = BLACK  # the network rate on a funnel plot
#: how each kind of dosing session is drawn (colour and marker symbol)
DOSE_COLOURS = {"induction": BLUE, "maintenance": GREEN, "booster": VERMILLION}
DOSE_SYMBOLS = {"induction": "triangle-up", "maintenance": "diamond", "booster": "star"}
#: every kind of session: the dosing kinds as above, the others in the colours left over
SESSION_COLOURS = {
    **DOSE_COLOURS,
    "screening": BASELINE,
    "preparation": ORANGE,
    "integration": PURPLE,
    "psychotherapy": SKY,
}

# --- page tints (light backgrounds behind a role) -------------------------------------------
HARM_TINT = "#FFF3EC"  # behind safety flags
HARM_TEXT = "#8A3B00"  # caveat text: vermillion darkened to pass WCAG AA on white
PRIMARY_TINT = "#EEF4FA"  # table headings


def translucent(colour: str, alpha: float) -> str:
    """``colour`` (#RRGGBB) as a CSS rgba() with opacity ``alpha`` (bands behind lines)."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def series(i: int) -> str:
    """The colour of the ``i``-th series on a chart (cycling through ``OKABE_ITO``)."""
    return OKABE_ITO[i % len(OKABE_ITO)]
