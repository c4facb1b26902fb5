"""Small numeric honesty (issue 12 item 9): funnel limits are proportions in [0, 1], a Wilson
bound that is 0 (or 1) is exactly 0 (or 1), and a log-rank test without events prints no
scipy warning."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

from kapoutcomes.stats.funnel import funnel, funnel_limits
from kapoutcomes.stats.intervals import proportion_ci_arrays, with_proportion
from kapoutcomes.stats.survival import logrank


def test_funnel_limits_are_clipped_to_proportions():
    # p = 0.02 at n = 1: the 97.5% quantile of Binomial(1, 0.02) is 0 and the interpolation
    # gives (0 - 0.255) / 1 = -0.005 before clipping (Spiegelhalter A.1.1); p = 0.95 at n = 1
    # gives a lower 95% limit of -0.5 before clipping
    for p in (0.02, 0.5, 0.95):
        lim = funnel_limits(np.array([1, 2, 5, 50, 500]), p)
        for v in lim.values():
            assert np.all((v >= 0) & (v <= 1)), (p, lim)
    lim = funnel_limits(np.array([1]), 0.02)
    assert lim["upper95"][0] == 0.0
    assert funnel_limits(np.array([1]), 0.95)["lower95"][0] == 0.0


def test_funnel_positions_with_clipped_limits():
    # a clinic of one patient, no responder, network 2%: 0/1 lies on the (clipped) limit 0,
    # not above a negative upper limit
    rows = pl.DataFrame({"level": ["a"], "n": [0], "denominator": [1]})
    out = funnel(rows, 0.02)
    assert out.get_column("upper95")[0] == 0.0
    assert out.get_column("position")[0] == "within"


def test_wilson_bounds_are_exact_at_0_and_n():
    n = np.arange(1, 2000)
    # 0 of n: the closed form leaves 5.6e-17 for some n without the exact rule
    _, lo, _ = proportion_ci_arrays(np.zeros_like(n), n)
    assert np.all(lo == 0.0)
    _, _, hi = proportion_ci_arrays(n, n)
    assert np.all(hi == 1.0)
    f = with_proportion(pl.DataFrame({"k": [0, 3], "n": [3, 3]}), "k", "n", 0.95)
    assert f.get_column("lower").to_list()[0] == 0.0
    assert f.get_column("upper").to_list()[1] == 1.0


def test_logrank_without_events_is_silent_and_undefined():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning from scipy fails the test
        r = logrank(np.array([1.0, 2, 3]), np.zeros(3), np.array([2.0, 4]), np.zeros(2))
    assert r.events == (0, 0)
    assert np.isnan(r.statistic) and np.isnan(r.pvalue) and np.isnan(r.z)
    # with events the test still runs through scipy: one event in each group
    r = logrank(np.array([1.0, 2]), np.array([1, 0]), np.array([3.0, 4]), np.array([1, 0]))
    assert r.df == 1 and np.isfinite(r.statistic)
