"""Charts for printed pages: small inline SVG (no scripts, no network), every label escaped,
in the same palette as the plotly figures."""

from __future__ import annotations

import datetime as dt
import html

from kapoutcomes.present import palette


def score_chart_svg(
    points: list[tuple[dt.datetime, float]],
    y_max: float,
    lines: list[tuple[float, str, str]],
    doses: list[dt.datetime],
    title: str,
    width: int = 680,
    height: int = 150,
) -> str:
    """A small line chart: points, horizontal reference lines (y, label, colour), dose ticks."""
    if not points:
        return f"<p class='small'>{html.escape(title)}: no scores recorded.</p>"
    xs = [p[0] for p in points] + doses
    x0, x1 = min(xs), max(xs)
    span = max((x1 - x0).total_seconds(), 1.0)
    left, right, top, bottom = 36, 10, 16, 22

    def sx(x: dt.datetime) -> float:
        return left + (x - x0).total_seconds() / span * (width - left - right)

    def sy(y: float) -> float:
        return top + (1 - y / y_max) * (height - top - bottom)

    parts = [
        f"<svg width='{width}' height='{height}' viewBox='0 0 {width} {height}' role='img' "
        f"aria-label='{html.escape(title)}'>",
        f"<text x='{left}' y='11' font-weight='bold'>{html.escape(title)}</text>",
        f"<line x1='{left}' y1='{sy(0):.1f}' x2='{width - right}' y2='{sy(0):.1f}' stroke='{palette.AXIS}'/>",
        f"<text x='2' y='{sy(0):.1f}'>0</text><text x='2' y='{sy(y_max) + 4:.1f}'>{y_max:g}</text>",
    ]
    for y, label, colour in lines:
        parts.append(
            f"<line x1='{left}' y1='{sy(y):.1f}' x2='{width - right}' y2='{sy(y):.1f}' "
            f"stroke='{colour}' stroke-dasharray='4 3'/>"
            f"<text x='{width - right - 4}' y='{sy(y) - 2:.1f}' text-anchor='end' fill='{colour}'>"
            f"{html.escape(label)}</text>"
        )
    for d in doses:
        parts.append(
            f"<line x1='{sx(d):.1f}' y1='{height - bottom}' x2='{sx(d):.1f}' "
            f"y2='{height - bottom + 6}' stroke='{palette.PRIMARY}' stroke-width='2'/>"
        )
    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    parts.append(
        f"<polyline fill='none' stroke='{palette.SCORE}' stroke-width='1.5' points='{path}'/>"
    )
    for x, y in points:
        parts.append(f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='2.2'/>")
    parts.append(
        f"<text x='{left}' y='{height - 2}'>{x0:%Y-%m-%d}</text>"
        f"<text x='{width - right}' y='{height - 2}' text-anchor='end'>{x1:%Y-%m-%d}</text>"
        f"<text x='{width / 2:.0f}' y='{height - 2}' text-anchor='middle' fill='{palette.PRIMARY}'>"
        "ticks: infusions</text></svg>"
    )
    return "".join(parts)
