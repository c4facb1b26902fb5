"""Headline figures as the app shows them: a label, the value, an optional change and a line
of context (interval, denominator). Pages render these; they compute nothing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headline:
    label: str
    value: str
    delta: str | None = None
    caption: str = ""
    help: str | None = None
    #: how st.metric colours the delta: "normal", "inverse" (lower is better) or "off" (a fact)
    delta_color: str = "normal"


def ci_label(confidence_level: float) -> str:
    """The interval's name at the configured level: 0.95 -> "95% CI", 0.975 -> "97.5% CI"."""
    return f"{100 * confidence_level:g}% CI"


def number(x: float | None, spec: str = ".2f") -> str:
    """A number for display; a dash when it cannot be computed (too few patients)."""
    return "—" if x is None else format(x, spec)
