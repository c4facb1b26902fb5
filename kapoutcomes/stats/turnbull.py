"""Turnbull's nonparametric maximum-likelihood estimate (NPMLE) for interval-censored times.

Loss of response is only seen at assessments: it happened after the last responding
assessment ``L`` and no later than the first non-responding one ``R``. Each patient therefore
gives a set that contains their unseen time:

- ``0 <= L < R < inf``: the half-open interval ``(L, R]`` (interval-censored; ``L == 0`` is
  left-censored, "lost by the first assessment");
- ``L == R``: the single time ``{L}`` (exact);
- ``R == inf``: ``(L, inf)``, still responding at the last assessment ``L`` (right-censored).

:func:`turnbull` finds the innermost (Turnbull) intervals, the pieces of the time line that
are the intersection of some sets and contain no endpoint of another, and estimates the
probability of each by Turnbull's self-consistency (EM) iterations, until the optimality
gap of Gentleman & Geyer (1994) is within ``tolerance`` (``converged``; otherwise
``max_iterations`` was reached). Where EM crawls (it is sublinear when a probability tends to
0 with a zero derivative) Newton steps on the intervals keeping probability finish the fit.
The NPMLE says how much probability lies in each Turnbull interval but not where inside it,
so the survival curve is a step function that is *undefined* within each Turnbull interval:
the result carries a lower and an upper step bound, equal wherever the curve is determined.
The probabilities themselves are unique: each Turnbull interval is a maximal clique, so some
patient's set ends at it, and the set-by-interval matrix has full column rank.

The median is reported as the Turnbull interval in which the curve crosses 0.5 (``median``),
plus that interval's midpoint (``median_midpoint``; the midpoint convention) for a single
number; it is ``None`` when the curve is not known to reach 0.5.

With only exact and right-censored times the NPMLE is the Kaplan-Meier estimate.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SOURCE = (
    "Turnbull, J R Stat Soc B 1976;38:290 (innermost intervals, self-consistency algorithm); "
    "Gentleman & Geyer, Biometrika 1994;81:618 (optimality conditions of the NPMLE)"
)
DEFAULT_TOLERANCE = 1e-12
DEFAULT_MAX_ITERATIONS = 100_000


@dataclass(frozen=True)
class Turnbull:
    """Turnbull's NPMLE of the survival function from interval-censored times.

    ``left[j]``/``right[j]`` are the Turnbull intervals in increasing order: the single time
    ``{left[j]}`` when ``left[j] == right[j]``, otherwise ``(left[j], right[j]]`` (``right[j]``
    may be ``inf``: probability beyond the last assessment of right-censored patients).
    ``probabilities[j]`` is the estimated probability of the event in interval ``j``; they
    sum to 1, and ``mass_at_infinity`` is the part in an interval reaching ``inf``.

    ``times`` are 0 and the finite interval endpoints; ``survival_upper[i]`` and
    ``survival_lower[i]`` bound S(t) for ``times[i] < t < times[i + 1]`` (after the last time:
    to infinity). Where they are equal S is known there (and, as Kaplan-Meier is, at
    ``times[i]`` itself when ``times[i]`` is the right end of an interval); where they differ
    ``t`` lies inside a Turnbull interval and S is only known to be between them.

    ``n`` patients, ``n_events`` of them with a finite upper bound (loss of response seen).
    ``median`` is the Turnbull interval (left, right) in which S falls to 0.5 (the first with
    cumulative probability >= 0.5; as Kaplan-Meier medians in lifelines and scipy, the first
    time S <= 0.5), ``median_midpoint`` its midpoint; both None if S is not known to reach
    0.5. ``converged`` is True when the optimality gap (max_j d_j - 1, Gentleman & Geyer
    1994; 0 at the exact NPMLE, and the log-likelihood is within n * gap of its maximum) is
    within ``tolerance``; ``iterations`` counts self-consistency and Newton steps.
    ``caveats`` are sentences to show next to the curve (non-convergence, median not
    reached, small sample).
    """

    n: int
    n_events: int
    left: np.ndarray
    right: np.ndarray
    probabilities: np.ndarray
    times: np.ndarray
    survival_lower: np.ndarray
    survival_upper: np.ndarray
    converged: bool
    iterations: int
    log_likelihood: float
    optimality_gap: float
    median: tuple[float, float] | None
    median_midpoint: float | None
    tolerance: float
    caveats: tuple[str, ...] = field(default=())

    @property
    def mass_at_infinity(self) -> float:
        """Probability placed beyond the largest finite endpoint (never seen to be lost)."""
        return float(self.probabilities[np.isinf(self.right)].sum())

    def bounds_at(self, t: float) -> tuple[float, float]:
        """(lower, upper) bound of S(t) = P(T > t); equal where the estimate is determined."""
        before = self.probabilities[self.right <= t].sum()
        started = np.where(self.left == self.right, self.left <= t, self.left < t)
        return (float(1.0 - self.probabilities[started].sum()), float(1.0 - before))

    def survival_at(self, t: float) -> float | None:
        """S(t), or None where ``t`` lies inside a Turnbull interval (S not determined)."""
        lower, upper = self.bounds_at(t)
        return upper if math.isclose(lower, upper, abs_tol=1e-12) else None

    def curve(self, *, linear: bool = False) -> tuple[list[float], list[float | None]]:
        """Points (x, y) to draw the curve: flat steps where S is known and, inside each
        Turnbull interval, a gap (``None``, a break in the line) or, with ``linear=True``,
        a straight line from S at its left end to S at its right end (a display convention;
        the NPMLE does not say how the probability is spread inside the interval)."""
        xs: list[float] = []
        ys: list[float | None] = []
        before: float | None = 1.0  # S on the stretch before the current time
        for t, lo, up in zip(self.times, self.survival_lower, self.survival_upper, strict=True):
            x, s = float(t), float(up)
            if before is not None:
                xs.append(x)
                ys.append(before)
            xs.append(x)  # S at x itself: known at the ends of Turnbull intervals
            ys.append(s)
            known = math.isclose(float(lo), s, abs_tol=1e-12)
            if not known and not linear:
                xs.append(x)
                ys.append(None)
            before = s if known else None
        return xs, ys


def turnbull(
    lower: Sequence[float] | np.ndarray,
    upper: Sequence[float] | np.ndarray,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
) -> Turnbull:
    """Turnbull's NPMLE from each patient's last time without the event (``lower``, L) and
    first time with it (``upper``, R; ``inf`` if never seen). See the module docstring for
    how (L, R) pairs are read. Raises ValueError (saying which row) on negative, missing or
    reversed bounds."""
    if not (tolerance > 0 and max_iterations >= 1):
        raise ValueError(
            f"tolerance must be positive and max_iterations at least 1 "
            f"(got {tolerance!r} and {max_iterations!r})"
        )
    lo, hi = _checked(lower, upper)
    n = len(lo)
    if n == 0:
        return _empty(tolerance)
    obs, weights = np.unique(np.column_stack([lo, hi]), axis=0, return_counts=True)
    left, right = turnbull_intervals(obs[:, 0], obs[:, 1])
    first, last = _contained(obs[:, 0], obs[:, 1], left, right)
    sets = _Sets(first, last, weights.astype(float), len(left))
    p, iterations, gap = _fit(sets, tolerance, max_iterations)
    converged = gap <= tolerance
    times, s_lower, s_upper = _steps(left, right, p)
    median = _median(left, right, p)
    caveats = []
    if not converged:
        caveats.append(f"did not converge in {iterations} iterations (tolerance {tolerance:g})")
    if median is None:
        caveats.append("median not reached: the curve is not known to fall to 0.5")
    if n < 10:
        caveats.append(f"small sample (n = {n}): the curve is imprecise")
    return Turnbull(
        n=n,
        n_events=int(np.isfinite(hi).sum()),
        left=left,
        right=right,
        probabilities=p,
        times=times,
        survival_lower=s_lower,
        survival_upper=s_upper,
        converged=converged,
        iterations=iterations,
        log_likelihood=sets.log_likelihood(p),
        optimality_gap=gap,
        median=median,
        median_midpoint=None if median is None else (median[0] + median[1]) / 2,
        tolerance=tolerance,
        caveats=tuple(caveats),
    )


def turnbull_intervals(
    lower: Sequence[float] | np.ndarray, upper: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The innermost intervals of the sets (L, R] / {L} / (L, inf), as (left, right) arrays
    (left == right for a single time). Turnbull's rule: sort all endpoints and keep each left
    endpoint that is immediately followed by a right endpoint. Where endpoints tie, the order
    follows which sets contain the tied time: {t} and (., t] contain t, (t, .) does not, so a
    set ending at t comes before one that starts just after t."""
    lo, hi = _checked(lower, upper)
    # (value, offset, kind): offset 1 = "just after the value" (an open left end); kind 0 =
    # left end, 1 = right end, so at the very same point a left end sorts first (they overlap)
    ends = [(v, 0 if v == r else 1, 0) for v, r in zip(lo, hi, strict=True)]
    ends += [(r, 0, 1) for r in hi]
    ends.sort()
    pairs = [(a[0], b[0]) for a, b in itertools.pairwise(ends) if a[2] == 0 and b[2] == 1]
    return (
        np.array([a for a, _ in pairs], dtype=float),
        np.array([b for _, b in pairs], dtype=float),
    )


def _checked(lower, upper) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(lower, dtype=float).reshape(-1)
    hi = np.asarray(upper, dtype=float).reshape(-1)
    if lo.shape != hi.shape:
        raise ValueError(
            f"lower and upper bounds differ in length ({len(lo)} and {len(hi)}): "
            "give one (last time without the event, first time with it) pair per patient"
        )
    problems = [
        (np.isnan(lo) | np.isnan(hi), "a bound is missing (NaN); use inf for 'not yet lost'"),
        (np.isinf(lo), "the lower bound is infinite; it must be the last assessment time"),
        (lo < 0, "the lower bound is negative; times count from the origin (0)"),
        (hi < lo, "the upper bound is before the lower bound"),
    ]
    for bad, why in problems:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"row {i} (lower={lo[i]}, upper={hi[i]}): {why}")
    return lo, hi


def _contained(
    lo: np.ndarray, hi: np.ndarray, left: np.ndarray, right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each set, the first and last index of the Turnbull intervals inside it (they are
    consecutive, as the intervals are disjoint and sorted)."""
    starts = [(a, 0 if a == b else 1) for a, b in zip(left, right, strict=True)]
    first = np.empty(len(lo), dtype=np.int64)
    last = np.empty(len(lo), dtype=np.int64)
    for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
        # an interval lies inside (a, b] when it starts at (a, open) or later and ends by b;
        # inside {a} when it is {a}
        first[i] = bisect.bisect_left(starts, (a, 0 if a == b else 1))
        last[i] = int(np.searchsorted(right, b, side="right")) - 1
    if (last < first).any():  # cannot happen: every set contains an innermost interval
        raise AssertionError("a set contains no Turnbull interval")
    return first, last


@dataclass(frozen=True)
class _Sets:
    """The patients' sets as consecutive runs [first, last] of Turnbull intervals, with the
    number of patients sharing each set (``weights``) over ``m`` intervals."""

    first: np.ndarray
    last: np.ndarray
    weights: np.ndarray
    m: int

    def probability(self, p: np.ndarray) -> np.ndarray:
        return _set_probabilities(p, self.first, self.last)

    def log_likelihood(self, p: np.ndarray) -> float:
        return float(np.sum(self.weights * np.log(self.probability(p))))

    def gradient(self, p: np.ndarray) -> np.ndarray:
        """d_j = sum_i w_i a_ij / P(set i) / n: 1 on the support at the NPMLE, <= 1 elsewhere
        (Gentleman & Geyer 1994), by a difference array over each run [first, last]."""
        share = self.weights / self.probability(p)
        ends = np.bincount(self.first, share, minlength=self.m + 1)
        ends -= np.bincount(self.last + 1, share, minlength=self.m + 1)
        return np.cumsum(ends)[: self.m] / self.weights.sum()

    def matrix(self) -> np.ndarray:
        j = np.arange(self.m)
        return ((j >= self.first[:, None]) & (j <= self.last[:, None])).astype(float)


def _fit(sets: _Sets, tolerance: float, max_iterations: int) -> tuple[np.ndarray, int, float]:
    """Turnbull's self-consistency iterations p_j <- p_j d_j from equal probabilities, stopped
    when the optimality gap max_j d_j - 1 is within ``tolerance`` (then p is the NPMLE to
    that tolerance: the log-likelihood is within n * gap of its maximum). Where the
    iterations crawl (a probability creeping to 0 whose d_j tends to 1, where EM is known to
    be sublinear), Newton steps on the intervals that keep probability finish the job; they
    also end every fit, so that intervals the NPMLE leaves empty get exactly 0 rather than
    the iterations' residue (kept only if the optimality gap stays within ``tolerance``).
    Returns (p, iterations (self-consistency plus Newton steps), final gap)."""
    p = np.full(sets.m, 1.0 / sets.m)
    polished_at = 0
    for iteration in range(1, max_iterations + 1):
        d = sets.gradient(p)
        gap = float(d.max() - 1.0)
        if gap <= tolerance:
            polished, steps = _newton(sets, p, tolerance)
            polished_gap = float(sets.gradient(polished).max() - 1.0)
            if polished_gap <= tolerance:
                return polished, iteration - 1 + steps, polished_gap
            return p, iteration - 1, gap
        new = p * d
        new /= new.sum()
        stalled = float(np.max(np.abs(new - p))) <= tolerance * 1e-2
        p = new
        if (stalled and iteration - polished_at >= 100) or iteration % 1000 == 0:
            polished_at = iteration
            polished, steps = _newton(sets, p, tolerance)
            if float(sets.gradient(polished).max() - 1.0) <= tolerance:
                return polished, iteration + steps, float(sets.gradient(polished).max() - 1.0)
    return p, max_iterations, float(sets.gradient(p).max() - 1.0)


def _newton(
    sets: _Sets, p: np.ndarray, tolerance: float, steps: int = 50
) -> tuple[np.ndarray, int]:
    """Newton's method for the log-likelihood on the likely support (probability above 1e-8 of
    the largest and d_j within 1e-3 of 1), keeping the sum at 1 (Lagrange system; the
    Hessian is definite there, the clique matrix having full column rank) and every
    probability non-negative (steps shortened at the boundary; an interval reaching 0 is
    dropped). Stops once the optimality gap is within ``tolerance``. Returns the last point
    and the number of steps; the caller checks optimality."""
    a_all = sets.matrix()
    q = np.where((p > 1e-8 * p.max()) & (sets.gradient(p) > 1.0 - 1e-3), p, 0.0)
    q /= q.sum()
    for step in range(1, steps + 1):
        on = q > 0
        a = a_all[:, on]
        fitted = a @ q[on]
        grad = a.T @ (sets.weights / fitted)
        hess = -(a.T * (sets.weights / fitted**2)) @ a
        k = int(on.sum())
        kkt = np.block([[hess, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
        rhs = np.concatenate([-grad, [0.0]])
        try:
            move = np.linalg.solve(kkt, rhs)[:k]
        except np.linalg.LinAlgError:
            move = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:k]
        shrinking = move < 0
        reach = np.min(-q[on][shrinking] / move[shrinking]) if shrinking.any() else np.inf
        size, old = min(1.0, reach), sets.log_likelihood(q)
        while size > 1e-12:
            trial = q.copy()
            trial[on] = np.clip(q[on] + size * move, 0.0, None)
            trial[trial < 1e-15] = 0.0
            trial /= trial.sum()
            if sets.log_likelihood(trial) >= old:
                q = trial
                break
            size /= 2
        else:
            return q, step
        if float(sets.gradient(q).max() - 1.0) <= tolerance:
            return q, step
    return q, steps


def _set_probabilities(p: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """P(the time lies in set i) = sum of p over its Turnbull intervals [first_i, last_i]:
    by cumulative sums, re-summed directly where rounding could swamp a small value."""
    cum = np.concatenate([[0.0], np.cumsum(p)])
    total = cum[last + 1] - cum[first]
    for i in np.flatnonzero(total < 1e-8):
        total[i] = p[first[i] : last[i] + 1].sum()
    return total


def _steps(
    left: np.ndarray, right: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper bounds of S on each open stretch after 0 and each finite endpoint."""
    ends = np.concatenate([[0.0], left, right])
    times = np.unique(ends[np.isfinite(ends)])
    # just after t, the intervals ending at or before t have surely happened (upper bound of
    # S) and those starting at or before t may have happened (lower bound)
    done = np.array([p[right <= t].sum() for t in times])
    begun = np.array([p[left <= t].sum() for t in times])
    return times, np.clip(1.0 - begun, 0.0, 1.0), np.clip(1.0 - done, 0.0, 1.0)


def _median(left: np.ndarray, right: np.ndarray, p: np.ndarray) -> tuple[float, float] | None:
    """The Turnbull interval in which S falls to 0.5 or below (first with cumulative
    probability >= 0.5); None when that happens only beyond the last finite endpoint."""
    reached = np.flatnonzero(np.cumsum(p) >= 0.5 - 1e-12)
    if len(reached) == 0 or not np.isfinite(right[reached[0]]):
        return None
    j = int(reached[0])
    return (float(left[j]), float(right[j]))


def _empty(tolerance: float) -> Turnbull:
    none = np.array([], dtype=float)
    return Turnbull(
        n=0,
        n_events=0,
        left=none,
        right=none,
        probabilities=none,
        times=np.array([0.0]),
        survival_lower=np.array([1.0]),
        survival_upper=np.array([1.0]),
        converged=True,
        iterations=0,
        log_likelihood=0.0,
        optimality_gap=0.0,
        median=None,
        median_midpoint=None,
        tolerance=tolerance,
        caveats=("no patients: nothing to estimate",),
    )
