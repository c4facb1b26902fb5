"""Funnel-plot limits for comparing units (clinics) against a network rate
(Spiegelhalter, Stat Med 2005;24:1185)."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats


def funnel(rates: pl.DataFrame, network_rate: float | None = None) -> pl.DataFrame:
    """Funnel-plot view of unit rates (rows with level, n, denominator) against the network
    rate with 95% and 99.8% binomial control limits (Spiegelhalter, Stat Med 2005;24:1185).

    Adds network_rate, lower95, upper95, lower998, upper998 and position ("above 99.8%",
    "above 95%", "within", "below 95%", "below 99.8%")."""
    k = rates.get_column("n").to_numpy().astype(float)
    n = rates.get_column("denominator").to_numpy().astype(float)
    p = (
        float(k.sum() / n.sum())
        if network_rate is None and n.sum() > 0
        else (network_rate or float("nan"))
    )
    lim = funnel_limits(n, p)
    out = rates.with_columns(network_rate=pl.lit(p), **{c: pl.Series(v) for c, v in lim.items()})
    r = pl.col("n") / pl.col("denominator")
    return out.with_columns(
        position=pl.when(pl.col("denominator") == 0)
        .then(pl.lit("no data"))
        .when(r > pl.col("upper998"))
        .then(pl.lit("above 99.8%"))
        .when(r > pl.col("upper95"))
        .then(pl.lit("above 95%"))
        .when(r < pl.col("lower998"))
        .then(pl.lit("below 99.8%"))
        .when(r < pl.col("lower95"))
        .then(pl.lit("below 95%"))
        .otherwise(pl.lit("within"))
    )


def funnel_limits(n: np.ndarray, p: float) -> dict[str, np.ndarray]:
    """Binomial control limits (as proportions) around ``p`` for denominators ``n``,
    interpolated as in Spiegelhalter 2005 (appendix A.1.1), clipped to [0, 1]."""
    n = np.asarray(n, float)
    out = {}
    for name, q in (
        ("lower95", 0.025),
        ("upper95", 0.975),
        ("lower998", 0.001),
        ("upper998", 0.999),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = stats.binom.ppf(q, n, p)
            a = (stats.binom.cdf(r, n, p) - q) / (
                stats.binom.cdf(r, n, p) - stats.binom.cdf(r - 1, n, p)
            )
            # a proportion's limit lies in [0, 1] (the interpolation overshoots for small n)
            out[name] = np.where(n > 0, np.clip((r - a) / n, 0.0, 1.0), np.nan)
    return out
