"""An independent Turnbull NPMLE, for tests only: written from the definitions in Turnbull
(J R Stat Soc B 1976;38:290) and Gentleman & Geyer (Biometrika 1994;81:618), sharing no code
and no algorithm with ``kapoutcomes.stats.turnbull``.

Where the library sorts endpoints and runs self-consistency iterations, this module

1. cuts the time line at every endpoint into elementary cells (each endpoint as a single
   point, each open gap between consecutive endpoints, and the gap beyond the last one) and
   tests, cell by cell, which patients' sets contain it (at a representative time);
2. takes as Turnbull intervals the maximal cliques: the cells whose set of containing
   patients is not strictly inside another cell's, runs of adjacent such cells with the same
   patients merged into one interval;
3. maximises the log-likelihood sum_i log(sum_j a_ij p_j) directly over the probability
   simplex with scipy.optimize (SLSQP, analytic gradient).

Sets are read as in the library: (L, R] when L < R, {L} when L == R, (L, inf) when R = inf.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize


def _contains(lo: float, hi: float, t: float) -> bool:
    if lo == hi:
        return t == lo
    return lo < t <= hi


def _cells(lo: np.ndarray, hi: np.ndarray) -> list[tuple[float, float, float]]:
    """Cells as (start, end, representative time): points (v, v, v) and gaps (a, b, mid)."""
    values = sorted({*lo.tolist(), *hi[np.isfinite(hi)].tolist()})
    cells = []
    for k, v in enumerate(values):
        cells.append((v, v, v))
        nxt = values[k + 1] if k + 1 < len(values) else np.inf
        cells.append((v, nxt, v + 1.0 if np.isinf(nxt) else (v + nxt) / 2))
    return cells


def clique_matrix(lower, upper) -> tuple[list[tuple[float, float]], np.ndarray]:
    """Turnbull intervals [(left, right), ...] (left == right for a single time, else the
    interval (left, right]) and the n x m matrix a_ij = 1 if interval j lies in set i."""
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    cells = _cells(lo, hi)
    cover = np.array([[_contains(a, b, c[2]) for c in cells] for a, b in zip(lo, hi, strict=True)])
    keep = []
    for j in range(len(cells)):
        col = cover[:, j]
        if not col.any():
            continue
        inside_other = any(
            (cover[:, k] >= col).all() and (cover[:, k] != col).any() for k in range(len(cells))
        )
        if not inside_other:
            keep.append(j)
    intervals: list[tuple[float, float]] = []
    columns: list[np.ndarray] = []
    for j in keep:
        start, end, _ = cells[j]
        if columns and j - 1 in keep and (columns[-1] == cover[:, j]).all():
            intervals[-1] = (intervals[-1][0], end)  # merge with the run
            continue
        intervals.append((start, end))
        columns.append(cover[:, j])
    return intervals, np.column_stack(columns).astype(float)


def npmle(lower, upper) -> tuple[list[tuple[float, float]], np.ndarray, np.ndarray]:
    """(Turnbull intervals, probabilities, clique matrix) by direct likelihood maximisation."""
    intervals, a = clique_matrix(lower, upper)
    m = a.shape[1]
    if m == 1:
        return intervals, np.ones(1), a
    n = a.shape[0]

    def negative_log_likelihood(p):
        fitted = np.maximum(a @ p, 1e-300)
        return -np.log(fitted).sum() / n, -(a / fitted[:, None]).sum(axis=0) / n

    res = optimize.minimize(
        negative_log_likelihood,
        np.full(m, 1.0 / m),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda p: p.sum() - 1.0, "jac": lambda p: np.ones(m)}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    p = np.clip(res.x, 0.0, None)
    return intervals, p / p.sum(), a


def log_likelihood(a: np.ndarray, p: np.ndarray) -> float:
    return float(np.log(a @ p).sum())


def optimality_gap(a: np.ndarray, p: np.ndarray) -> float:
    """Gentleman & Geyer (1994): p is the NPMLE iff d_j = sum_i a_ij / (a p)_i / n <= 1 for
    every interval j (with equality where p_j > 0). Returns max_j d_j - 1 (<= ~0 at the NPMLE)."""
    d = (a / (a @ p)[:, None]).sum(axis=0) / a.shape[0]
    return float(d.max() - 1.0)
