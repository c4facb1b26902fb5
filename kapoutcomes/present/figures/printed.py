"""Charts for printed pages: small inline SVG (no scripts, no network), every label escaped,
in the same palette as the plotly figures."""

from __future__ import annotations

import datetime as dt
import html

from kapoutcomes.present import palette

#: the height of one line of chart text (9 px type) in px
LINE_PX = 10.0
#: a white outline under reference-line labels, so a score line crossing them stays legible
HALO = "stroke='white' stroke-width='3' paint-order='stroke'"


def spread_labels(ys: list[float], gap: float, lo: float, hi: float) -> list[float]:
    """Label baselines at least ``gap`` apart, each as near its own y as it can be, kept
    within [lo, hi] (in input order)."""
    if not ys:
        return []
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [min(max(ys[i], lo), hi) for i in order]
    for k in range(1, len(placed)):  # push down from the top
        placed[k] = max(placed[k], placed[k - 1] + gap)
    overflow = placed[-1] - hi
    if overflow > 0:  # then shift back up, keeping the gaps
        placed = [max(y - overflow, lo + k * gap) for k, y in enumerate(placed)]
    out = [0.0] * len(ys)
    for k, i in enumerate(order):
        out[i] = placed[k]
    return out


def score_chart_svg(
    points: list[tuple[dt.datetime, float]],
    y_max: float,
    lines: list[tuple[float, str, str]],
    doses: list[dt.datetime],
    title: str,
    width: int = 680,
    height: int = 150,
) -> str:
    """A small line chart: points, horizontal reference lines (y, label, colour), dose ticks.
    Labels never overlap: reference-line labels are spread at least a line apart inside the
    plot, and the axis dates sit at the ends with the tick legend in the title row."""
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
    label_ys = spread_labels(
        [sy(y) - 2 for y, _, _ in lines], LINE_PX, top + LINE_PX, height - bottom
    )
    for (y, label, colour), ly in zip(lines, label_ys, strict=True):
        parts.append(
            f"<line x1='{left}' y1='{sy(y):.1f}' x2='{width - right}' y2='{sy(y):.1f}' "
            f"stroke='{colour}' stroke-dasharray='4 3'/>"
            f"<text x='{width - right - 4}' y='{ly:.1f}' text-anchor='end' fill='{colour}' {HALO}>"
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
        f"<text x='{width - right}' y='11' text-anchor='end' fill='{palette.PRIMARY}'>"
        "ticks below the axis: infusions</text></svg>"
    )
    return "".join(parts)
