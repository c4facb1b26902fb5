"""Kaplan-Meier estimates and log-rank tests, on scipy.stats.

:func:`kaplan_meier` is the public building block: durations and event flags in, a
:class:`KaplanMeier` result out (survival curve with pointwise confidence band, numbers at
risk, median with its confidence interval, ``survival_at(t)``). The estimate and the band
come from ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``; the band uses the log-log
("exponential Greenwood") transform, as lifelines and R's survival package do by default.

:func:`logrank` compares two groups with ``scipy.stats.logrank`` (which returns a signed z
statistic; the chi-square is its square) and :func:`logrank_k` compares k groups with the
classic k-sample log-rank chi-square on k - 1 degrees of freedom.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

SOURCE = (
    "Kaplan & Meier, J Am Stat Assoc 1958;53:457; Greenwood variance with log-log transform "
    "(Kalbfleisch & Prentice 1980); median CI from the band (Brookmeyer & Crowley 1982); "
    "computed with scipy.stats.ecdf on CensoredData"
)
LOGRANK_SOURCE = "Mantel 1966; Peto & Peto 1972 (log-rank test); scipy.stats.logrank for two groups"


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier survival estimate.

    ``times`` are the distinct observed times (events and censorings) in increasing order;
    ``survival[i]`` is S(t) just after ``times[i]``; ``lower``/``upper`` the pointwise
    confidence band (equal to S where S is 1 or 0, as in lifelines and R); ``at_risk[i]`` the number
    still under observation just before ``times[i]``; ``events[i]`` and ``censored[i]`` the
    counts at ``times[i]``. ``median`` is the first time S(t) <= 0.5 (None if never reached);
    ``median_ci`` the times at which the lower and upper band first reach 0.5 (None where they
    do not).
    """

    n: int
    n_events: int
    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    median: float | None
    median_ci: tuple[float | None, float | None]
    confidence_level: float
    caveats: tuple[str, ...] = field(default=())

    def survival_at(self, t: float) -> float:
        """S(t): the probability of no event by time ``t`` (1 before the first event)."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return 1.0 if i < 0 else float(self.survival[i])

    def band_at(self, t: float) -> tuple[float, float]:
        """The (lower, upper) confidence band at time ``t``."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        if i < 0:
            return (1.0, 1.0)
        return (float(self.lower[i]), float(self.upper[i]))

    def at_risk_at(self, t: float) -> int:
        """Number still at risk at time ``t`` (observed time >= t)."""
        i = int(np.searchsorted(self.times, t, side="left"))
        return int(self.at_risk[i]) if i < len(self.times) else 0

    @property
    def censored_pct(self) -> float:
        return 100.0 * (self.n - self.n_events) / self.n if self.n else float("nan")


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, level: float) -> float | None:
    ok = np.flatnonzero(np.nan_to_num(curve, nan=np.inf) <= level + 1e-12)
    return None if ok.size == 0 else float(times[ok[0]])


def _estimate_with_band(
    d: np.ndarray, e: np.ndarray, times: np.ndarray, confidence_level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S(t) and its log-log band at ``times`` (the distinct observed times) from
    ``scipy.stats.ecdf`` on CensoredData; at least one event is observed."""
    res = stats.ecdf(stats.CensoredData(uncensored=d[e], right=d[~e]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = res.sf.confidence_interval(confidence_level, method="log-log")
    # scipy lists censored times too; align on ``times``
    idx = np.searchsorted(res.sf.quantiles, times)
    surv = res.sf.probabilities[idx]
    lower = ci.low.probabilities[idx].copy()
    upper = ci.high.probabilities[idx].copy()
    # the log-log band is undefined where S is 1 (before the first event) or 0; like
    # lifelines and R, the band equals the estimate there
    for edge in (1.0, 0.0):
        at = surv == edge
        lower[at] = edge
        upper[at] = edge
    return surv, lower, upper


def kaplan_meier(
    durations: Sequence[float] | np.ndarray,
    events: Sequence[bool] | np.ndarray,
    confidence_level: float = 0.95,
) -> KaplanMeier:
    """Kaplan-Meier estimate of the survival function.

    ``durations``: time from origin to event or censoring (any unit, >= 0); ``events``: True
    where the event (e.g. loss of response) was observed, False where censored.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if d.shape != e.shape:
        raise ValueError("durations and events must have the same length")
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("durations must be non-negative numbers")
    n = int(d.size)
    if n == 0:
        empty = np.array([], dtype=float)
        return KaplanMeier(
            0, 0, *[empty] * 7, None, (None, None), confidence_level, ("no observations",)
        )
    times, inv = np.unique(d, return_inverse=True)
    ev = np.bincount(inv, weights=e.astype(float), minlength=times.size)
    tot = np.bincount(inv, minlength=times.size).astype(float)
    cens = tot - ev
    at_risk = n - np.concatenate([[0.0], np.cumsum(tot)[:-1]])
    n_events = int(e.sum())
    if n_events == 0:
        surv = np.ones(times.size)
        lower = np.full(times.size, np.nan)
        upper = np.full(times.size, np.nan)
    else:
        surv, lower, upper = _estimate_with_band(d, e, times, confidence_level)
    median = _first_at_or_below(times, surv, 0.5) if n_events else None
    lo = _first_at_or_below(times, lower, 0.5) if n_events else None
    hi = _first_at_or_below(times, upper, 0.5) if n_events else None
    caveats = []
    if n_events == 0:
        caveats.append("no events observed: every duration is censored")
    if median is None:
        caveats.append("median not reached: more than half still event-free at the last time")
    return KaplanMeier(
        n=n,
        n_events=n_events,
        times=times,
        survival=np.asarray(surv, dtype=float),
        lower=np.asarray(lower, dtype=float),
        upper=np.asarray(upper, dtype=float),
        at_risk=at_risk.astype(int),
        events=ev.astype(int),
        censored=cens.astype(int),
        median=median,
        median_ci=(lo, hi),
        confidence_level=confidence_level,
        caveats=tuple(caveats),
    )


@dataclass(frozen=True)
class LogRank:
    """A log-rank comparison. ``statistic`` is the chi-square (for two groups the square of
    scipy's signed ``z``); ``df`` = groups - 1."""

    groups: tuple[str, ...]
    n: tuple[int, ...]
    events: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    df: int
    pvalue: float
    z: float | None = None  # signed z (two groups): negative = first group has fewer events
    source: str = LOGRANK_SOURCE


def logrank(
    durations_a: np.ndarray,
    events_a: np.ndarray,
    durations_b: np.ndarray,
    events_b: np.ndarray,
    names: tuple[str, str] = ("a", "b"),
) -> LogRank:
    """Two-group log-rank test via ``scipy.stats.logrank`` (two-sided). Without any event
    there is nothing to compare: statistic, p and z are NaN (scipy is not called, so it prints
    no division warning)."""
    da, ea = np.asarray(durations_a, float), np.asarray(events_a, bool)
    db, eb = np.asarray(durations_b, float), np.asarray(events_b, bool)
    k = logrank_k([da, db], [ea, eb], names)
    if not (ea.any() or eb.any()):
        nan = float("nan")
        return LogRank(names, k.n, k.events, k.expected, nan, 1, nan, z=nan)
    x = stats.CensoredData(uncensored=da[ea], right=da[~ea])
    y = stats.CensoredData(uncensored=db[eb], right=db[~eb])
    res = stats.logrank(x, y)
    return LogRank(
        groups=names,
        n=k.n,
        events=k.events,
        expected=k.expected,
        statistic=float(res.statistic) ** 2,
        df=1,
        pvalue=float(res.pvalue),
        z=float(res.statistic),
    )


def logrank_k(
    durations: Sequence[np.ndarray],
    events: Sequence[np.ndarray],
    names: Sequence[str],
) -> LogRank:
    """k-sample log-rank test: chi-square = U' V^- U on k - 1 degrees of freedom, with U the
    observed minus expected events per group and V their hypergeometric covariance."""
    k = len(durations)
    d_all = np.concatenate([np.asarray(x, float) for x in durations])
    e_all = np.concatenate([np.asarray(x, bool) for x in events])
    g_all = np.concatenate([np.full(len(x), i) for i, x in enumerate(durations)])
    times, inv = np.unique(d_all, return_inverse=True)
    m = times.size
    d_tg = np.zeros((m, k))
    n_tg = np.zeros((m, k))
    np.add.at(d_tg, (inv, g_all), e_all.astype(float))
    np.add.at(n_tg, (inv, g_all), 1.0)
    # at risk before each time: total minus those with earlier times
    r_tg = n_tg.sum(axis=0) - np.vstack([np.zeros(k), np.cumsum(n_tg, axis=0)[:-1]])
    d_t = d_tg.sum(axis=1)
    r_t = r_tg.sum(axis=1)
    ok = r_t > 0
    frac = np.divide(r_tg, r_t[:, None], out=np.zeros_like(r_tg), where=ok[:, None])
    expected = (d_t[:, None] * frac).sum(axis=0)
    observed = d_tg.sum(axis=0)
    u = observed - expected
    w = np.divide(d_t * (r_t - d_t), r_t - 1, out=np.zeros_like(d_t), where=r_t > 1)
    v = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            delta = 1.0 if i == j else 0.0
            v[i, j] = (w * frac[:, i] * (delta - frac[:, j])).sum()
    if k < 2:
        stat, pval = float("nan"), float("nan")
    else:
        vi = np.linalg.pinv(v[:-1, :-1])
        stat = float(u[:-1] @ vi @ u[:-1])
        pval = float(stats.chi2.sf(stat, k - 1)) if math.isfinite(stat) else float("nan")
    return LogRank(
        groups=tuple(names),
        n=tuple(len(x) for x in durations),
        events=tuple(int(x) for x in observed),
        expected=tuple(float(x) for x in expected),
        statistic=stat,
        df=k - 1,
        pvalue=pval,
    )
