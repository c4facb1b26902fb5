"""Interval estimators on scipy: proportions (Wilson, Clopper-Pearson), Poisson rates
(Garwood) and the distribution-free median interval. No clinical meaning lives here: the
cohort statistics (``kapoutcomes.cohort``) call these with the confidence level in force.

Intervals: Wilson score intervals for rates (``scipy.stats.binomtest(...).proportion_ci``,
Newcombe, Stat Med 1998;17:857), Clopper-Pearson where exact intervals are asked for, exact
(Garwood) Poisson intervals for event rates, order-statistic intervals for medians
(``median_ci``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

WILSON_SOURCE = "Wilson 1927; Newcombe, Stat Med 1998;17:857 (method 3)"


def proportion_ci(
    k: int, n: int, confidence_level: float = 0.95, method: str = "wilson"
) -> tuple[float | None, float | None, float | None]:
    """(estimate, lower, upper) of k/n; ``method`` "wilson" or "exact" (Clopper-Pearson).
    All None when n == 0."""
    if n <= 0:
        return (None, None, None)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(
        confidence_level=confidence_level, method=method
    )
    return (k / n, float(ci.low), float(ci.high))


def proportion_ci_arrays(
    k: np.ndarray, n: np.ndarray, confidence_level: float = 0.95, method: str = "wilson"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised (estimate, lower, upper) for arrays of k and n: the same closed forms
    ``scipy.stats.binomtest(k, n).proportion_ci`` uses (Wilson score without continuity
    correction; Clopper-Pearson from beta quantiles), checked against it in the tests.
    NaN where n == 0."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    ok = n > 0
    nn = np.where(ok, n, 1.0)
    p = np.where(ok, k / nn, np.nan)
    a = 1 - confidence_level
    if method == "wilson":
        z = stats.norm.ppf(1 - a / 2)
        denom = nn + z**2
        center = (k + z**2 / 2) / denom
        half = z / denom * np.sqrt(np.clip(k * (nn - k) / nn, 0, None) + z**2 / 4)
        lo, hi = center - half, center + half
    elif method == "exact":
        with np.errstate(invalid="ignore"):
            lo = np.where(k > 0, stats.beta.ppf(a / 2, np.maximum(k, 1e-12), nn - k + 1), 0.0)
            hi = np.where(k < nn, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(nn - k, 1e-12)), 1.0)
    else:
        raise ValueError(f"unknown method {method!r}: use wilson or exact")
    # the bounds are exactly 0 with no successes and exactly 1 with no failures (the closed
    # form leaves rounding residue such as 5.6e-17)
    lo = np.where(ok, np.where(k <= 0, 0.0, np.clip(lo, 0.0, 1.0)), np.nan)
    hi = np.where(ok, np.where(k >= nn, 1.0, np.clip(hi, 0.0, 1.0)), np.nan)
    return p, lo, hi


def with_proportion(
    frame: pl.DataFrame,
    k: str,
    n: str,
    confidence_level: float,
    prefix: str = "",
    method: str = "wilson",
) -> pl.DataFrame:
    """Add ``{prefix}rate``, ``{prefix}lower``, ``{prefix}upper`` (fractions) for columns
    ``k`` / ``n`` of every row (empty where n is 0)."""
    p, lo, hi = proportion_ci_arrays(
        frame.get_column(k).fill_null(0).to_numpy(),
        frame.get_column(n).fill_null(0).to_numpy(),
        confidence_level,
        method,
    )
    return frame.with_columns(
        pl.Series(f"{prefix}rate", p, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{prefix}lower", lo, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{prefix}upper", hi, dtype=pl.Float64).fill_nan(None),
    )


def poisson_rate_ci(
    events: np.ndarray, exposure: np.ndarray, confidence_level: float = 0.95, per: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate per ``per`` units of exposure with the exact (Garwood) Poisson interval."""
    k = np.asarray(events, float)
    e = np.asarray(exposure, float)
    a = 1 - confidence_level
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
        hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
        rate = np.where(e > 0, k / e * per, np.nan)
        return rate, np.where(e > 0, lo / e * per, np.nan), np.where(e > 0, hi / e * per, np.nan)


def median_ci(x: np.ndarray, confidence_level: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free confidence interval for the median from binomial order statistics
    (Conover, Practical Nonparametric Statistics, 3rd ed., 1999, section 3.2), computed by
    ``scipy.stats.quantile_test(x, q=median, p=0.5).confidence_interval``: (x(j), x(n-j+1))
    with j the largest order such that P(Binomial(n, 1/2) < j) <= (1 - level) / 2. Both None
    when the sample is too small for the level (e.g. n <= 5 at 95%) or empty."""
    x = np.asarray(x, float)
    if x.size == 0:
        return (None, None)
    test = stats.quantile_test(x, q=float(np.median(x)), p=0.5)
    ci = test.confidence_interval(confidence_level)
    low, high = float(ci.low), float(ci.high)
    if not (np.isfinite(low) and np.isfinite(high)):
        return (None, None)
    return (low, high)
