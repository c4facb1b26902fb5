"""How the cohort report writes its numbers, shared by the text digest and the HTML page:
percentages for rates, intervals and survival, p-values to two significant figures below
0.001, thousands separators for counts; and the overall (not per-subgroup) rows of a frame."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl


def percent(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def format_value(v: Any, col: str) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if col in {
            "rate",
            "lower",
            "upper",
            "share_above",
            "itt_rate",
            "itt_lower",
            "itt_upper",
            "network_rate",
            "lower95",
            "upper95",
            "lower998",
            "upper998",
        } or col.startswith("s_"):
            return f"{100 * v:.1f}%"
        if col.endswith("pvalue") or col.endswith("_p"):
            return f"{v:.2g}" if v < 0.001 else f"{v:.3f}"
        return f"{v:,.2f}"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def overall(f: pl.DataFrame) -> pl.DataFrame:
    return f.filter(pl.col("subgroup") == "all") if "subgroup" in f.columns else f
