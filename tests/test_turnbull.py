"""Turnbull's NPMLE (kapoutcomes.stats.turnbull) against lifelines' NPMLE on published data,
against an independent implementation written here (tests/reference/turnbull_reference.py:
clique matrix from elementary cells, likelihood maximised with scipy.optimize) on generated
data, against Kaplan-Meier (scipy.stats.ecdf) where there is no interval censoring, and for
the properties every survival estimate must have."""

from __future__ import annotations

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import turnbull_reference as ref
from scipy import stats as sps

from kapoutcomes.stats import turnbull as tb
from kapoutcomes.stats.turnbull import turnbull

INF = math.inf

# Breast cosmesis data (Finkelstein 1986, Biometrics 42:845; Finkelstein & Wolfe 1985,
# Biometrics 41:933): months to breast retraction, interval-censored between visits, "." =
# right-censored. Transcribed from the SAS/STAT User's Guide, PROC ICLIFETEST, "Getting
# Started" (data sets RT and RCT); the same data are R's interval::bcos and
# MLEcens::cosmesis, read there, as here, as (L, R] intervals.
_RT = """45 . 25 37 37 . 6 10 46 . 0 5 0 7 26 40 18 . 46 . 46 . 24 . 46 . 27 34 36 .
7 16 36 44 5 11 17 . 46 . 19 35 7 14 36 48 17 25 37 44 37 . 24 . 0 8 40 . 32 . 4 11
17 25 33 . 15 . 46 . 19 26 11 15 11 18 37 . 22 . 38 . 34 . 46 . 5 12 36 . 46 ."""
_RCT = """8 12 0 5 30 34 0 22 5 8 13 . 24 31 12 20 10 17 17 27 11 . 8 21 17 23 33 40 4 9
24 30 31 . 11 . 16 24 13 39 14 19 13 . 19 32 4 8 11 13 34 . 34 . 16 20 13 . 30 36
18 25 16 24 18 24 17 26 35 . 16 60 32 . 15 22 35 39 23 . 11 17 21 . 44 48 22 32 11 20
14 17 10 35 48 ."""


def _pairs(text: str) -> tuple[np.ndarray, np.ndarray]:
    v = [INF if x == "." else float(x) for x in text.split()]
    return np.array(v[0::2]), np.array(v[1::2])


RT = _pairs(_RT)
RCT = _pairs(_RCT)
BOTH = (np.concatenate([RT[0], RCT[0]]), np.concatenate([RT[1], RCT[1]]))


def _clinic_like(seed: int, n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Loss of response seen at 4-weekly assessments (days, +-3 days jitter, missed visits):
    interval-censored, left-censored (lost by the first assessment, L = 0), right-censored
    and a few exact (the day an unscheduled booster was given)."""
    rng = np.random.default_rng(seed)
    lo, hi = [], []
    for t in rng.weibull(1.3, n) * 70:
        visits = np.arange(28, 365, 28) + rng.integers(-3, 4, 13)
        visits = np.concatenate([[0], visits[rng.random(13) > 0.2]])[: rng.integers(2, 14)]
        if rng.random() < 0.08:
            lo.append(round(t))
            hi.append(round(t))
        elif t > visits[-1]:
            lo.append(visits[-1])
            hi.append(INF)
        else:
            k = int(np.searchsorted(visits, t))
            lo.append(visits[k - 1])
            hi.append(visits[k])
    return np.array(lo, dtype=float), np.array(hi, dtype=float)


# -- (a) against lifelines ------------------------------------------------------------------
def _lifelines(lo, hi, timeline):
    """lifelines' KaplanMeierFitter.fit_interval_censoring treats bounds as closed [L, R]; its
    documented way to make the left end open is to add a small amount, done here for (L, R]
    (exact times stay [t, t]). Returns its survival_function_ (columns upper and lower bound,
    indexed by the timeline) and its median columns."""
    from lifelines import KaplanMeierFitter

    eps = 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = KaplanMeierFitter().fit_interval_censoring(
            np.where(lo < hi, lo + eps, lo), hi, timeline=timeline, tol=1e-11
        )
    return kmf


def _probe_times(lo, hi) -> np.ndarray:
    """Times between every pair of consecutive endpoints and beyond the last one: where the
    curve is either determined or strictly inside a Turnbull interval."""
    grid = np.unique(np.concatenate([lo, hi[np.isfinite(hi)]]))
    return np.concatenate([(grid[:-1] + grid[1:]) / 2, [grid[-1] + 1.0]])


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cosmesis RT", RT),
        ("cosmesis RCT", RCT),
        ("cosmesis both arms", BOTH),
        ("clinic-like 1", _clinic_like(1, n=60)),
        ("clinic-like 2", _clinic_like(2, n=100)),
    ],
)
def test_curve_and_probabilities_match_lifelines_npmle(name, data):
    lo, hi = data
    fit = turnbull(lo, hi)
    assert fit.converged, name
    probes = _probe_times(lo, hi)
    sf = _lifelines(lo, hi, probes).survival_function_
    upper, lower = sf["NPMLE_estimate_upper"], sf["NPMLE_estimate_lower"]
    for t in probes:
        ours = fit.bounds_at(t)
        assert ours == (
            pytest.approx(lower.loc[t], abs=2e-5),
            pytest.approx(upper.loc[t], abs=2e-5),
        ), (name, t)


@pytest.mark.parametrize(("name", "lo", "hi"), [("RT", *RT), ("RCT", *RCT)])
def test_turnbull_intervals_and_probabilities_match_lifelines(name, lo, hi):
    """lifelines.fitters.npmle (behind fit_interval_censoring) returns the probabilities per
    Turnbull interval, its intervals closed [L + shift, R]."""
    fit = turnbull(lo, hi)
    from lifelines.fitters.npmle import npmle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, intervals = npmle(np.where(lo < hi, lo + 1e-7, lo), hi, tol=1e-11)
    theirs = {(round(a, 5), b): q for (a, b), q in zip(intervals, p, strict=True)}
    ours = {(a, b): q for a, b, q in zip(fit.left, fit.right, fit.probabilities, strict=True)}
    shifted = {(a if a == b else round(a + 1e-7, 5), b): q for (a, b), q in ours.items()}
    assert shifted.keys() == theirs.keys()
    for key, q in shifted.items():
        assert q == pytest.approx(theirs[key], abs=2e-5), (name, key)


def test_cosmesis_radiotherapy_alone_turnbull_intervals_and_median():
    """The RT arm's 14 Turnbull intervals; the curve falls below 0.5 in (38, 40] months, and
    lifelines reports that interval's right end, 40 (the first time S is surely <= 0.5) for
    both its columns; 21 of 46 deteriorations seen."""
    fit = turnbull(*RT)
    assert list(zip(fit.left, fit.right, strict=True)) == [
        (4, 5), (6, 7), (7, 8), (11, 12), (15, 16), (17, 18), (24, 25), (25, 26),
        (33, 34), (34, 35), (36, 37), (38, 40), (40, 44), (46, 48),
    ]  # fmt: skip
    assert (fit.n, fit.n_events) == (46, 21)
    assert fit.median == (38.0, 40.0)
    assert fit.median_midpoint == 39.0
    kmf = _lifelines(*RT, None)  # default timeline: the endpoints
    med = kmf.median_survival_time_
    assert med.loc[0.5, "NPMLE_estimate_lower"] == pytest.approx(40.0, abs=1e-6)
    assert med.loc[0.5, "NPMLE_estimate_upper"] == pytest.approx(40.0, abs=1e-6)
    # intervals the NPMLE leaves empty get exactly 0, and the curve is known (flat) there
    assert ((fit.probabilities == 0) | (fit.probabilities > 1e-3)).all()
    assert (fit.probabilities == 0).sum() == 6
    assert fit.survival_at(36.5) == pytest.approx(fit.survival_at(34.5))
    # no patient lost response with certainty after 48 months, so nothing lies beyond it
    assert fit.mass_at_infinity == 0.0
    assert fit.survival_at(50) == pytest.approx(0.0, abs=1e-9)


def test_sets_are_half_open_unlike_lifelines_closed_intervals():
    """(2, 4] and (4, 6] share no time (responding at day 4 in the second patient), so the
    two Turnbull intervals get half each; read as closed [2, 4] and [4, 6] (lifelines without
    the shift) they would share day 4 and all the mass would go there."""
    fit = turnbull([2, 4], [4, 6])
    assert list(zip(fit.left, fit.right, strict=True)) == [(2, 4), (4, 6)]
    assert fit.probabilities == pytest.approx([0.5, 0.5])
    from lifelines.fitters.npmle import npmle

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines' log-odds line search meets p = 1
        p, intervals = npmle(np.array([2.0, 4.0]), np.array([4.0, 6.0]))
    assert [tuple(i) for i in intervals] == [(4.0, 4.0)]
    assert p == pytest.approx([1.0])


# -- (b) against the independent implementation, on generated data --------------------------
@st.composite
def interval_data(draw, max_n: int = 18):
    """(L, R) pairs on a coarse grid (many ties), with exact, left-, right- and
    interval-censored patients."""
    n = draw(st.integers(1, max_n))
    lo = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    width = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    censored = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    scale = draw(st.sampled_from([1.0, 0.5, 7.0]))
    lows = np.array(lo, dtype=float) * scale
    highs = np.where(censored, INF, lows + np.array(width) * scale)
    return lows, highs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interval_data())
def test_matches_direct_likelihood_maximisation(data):
    lo, hi = data
    fit = turnbull(lo, hi)
    intervals, p_ref, a = ref.npmle(lo, hi)
    # the innermost intervals, found two different ways
    assert list(zip(fit.left.tolist(), fit.right.tolist(), strict=True)) == intervals
    assert fit.converged
    # optimality (Gentleman & Geyer's conditions, computed from the reference's matrix) and a
    # likelihood at least as high as scipy's
    assert ref.optimality_gap(a, fit.probabilities) <= 1e-9
    assert ref.log_likelihood(a, fit.probabilities) >= ref.log_likelihood(a, p_ref) - 1e-9
    assert fit.log_likelihood == pytest.approx(ref.log_likelihood(a, fit.probabilities))
    # each patient's fitted probability is unique even where the NPMLE is not
    assert a @ fit.probabilities == pytest.approx(a @ p_ref, abs=1e-6)
    # and so is p: each Turnbull interval is a maximal clique, so some set ends at it, and the
    # set-by-interval matrix of univariate data has full column rank
    assert np.linalg.matrix_rank(a) == a.shape[1]
    assert fit.probabilities == pytest.approx(p_ref, abs=1e-5)


# -- (c) Kaplan-Meier where nothing is interval-censored -------------------------------------
def _km(times, events):
    data = sps.CensoredData(
        uncensored=np.asarray(times)[events], right=np.asarray(times)[~np.asarray(events)]
    )
    return sps.ecdf(data).sf


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=30).filter(
        lambda rows: any(e for _, e in rows)
    )
)
def test_exact_and_right_censored_times_give_kaplan_meier(rows):
    times = np.array([t for t, _ in rows], dtype=float)
    events = np.array([e for _, e in rows])
    fit = turnbull(times, np.where(events, times, INF))
    km = _km(times, events)
    last = times.max()
    for t in np.concatenate([np.unique(times), np.unique(times) + 0.5]):
        lower, upper = fit.bounds_at(t)
        assert upper == pytest.approx(float(km.evaluate(t)), abs=1e-8), t
        if t <= last or events[times == last].all():
            assert lower == pytest.approx(upper, abs=1e-8), t
        else:  # after the largest time, when it is censored, the NPMLE says nothing more
            assert fit.survival_at(t) is None or fit.mass_at_infinity < 1e-12


@pytest.mark.parametrize(
    "times", [[3.0], [1.0, 2.0, 2.0, 5.0, 9.0], [0.0, 4.0, 4.0, 4.0, 7.0, 7.5]]
)
def test_all_exact_is_the_empirical_survival_function(times):
    fit = turnbull(times, times)
    km = _km(times, np.ones(len(times), dtype=bool))
    for t in np.unique(times):
        assert fit.survival_at(t) == pytest.approx(float(km.evaluate(t)))
    values, counts = np.unique(times, return_counts=True)
    assert fit.probabilities == pytest.approx(counts / len(times))
    assert fit.left.tolist() == fit.right.tolist() == values.tolist()


def test_km_median_convention_with_exact_times():
    """With exact times the median is the first time S(t) <= 0.5 (as lifelines and
    scipy's quantile): here S(2) = 0.5 exactly, so 2 (R's survfit would say 2.5)."""
    fit = turnbull([1, 2, 2, 3], [1, 2, INF, 3])
    assert fit.probabilities == pytest.approx([0.25, 0.25, 0.5])
    assert (fit.median, fit.median_midpoint) == ((2.0, 2.0), 2.0)


# -- (d) properties ---------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(interval_data(max_n=25))
def test_survival_is_a_proper_curve(data):
    lo, hi = data
    fit = turnbull(lo, hi)
    assert fit.probabilities.min() >= 0
    assert fit.probabilities.sum() == pytest.approx(1.0)
    finite = np.isfinite(fit.right)
    assert fit.probabilities[finite].sum() + fit.mass_at_infinity == pytest.approx(1.0)
    assert (fit.survival_lower >= -1e-12).all() and (fit.survival_upper <= 1 + 1e-12).all()
    assert (fit.survival_lower <= fit.survival_upper + 1e-12).all()
    assert (np.diff(fit.survival_upper) <= 1e-12).all()
    assert (np.diff(fit.survival_lower) <= 1e-12).all()
    assert (np.diff(fit.times) > 0).all() and fit.times[0] == 0
    # S is undefined exactly inside the Turnbull intervals with probability
    for a, b, q in zip(fit.left, fit.right, fit.probabilities, strict=True):
        if a < b and q > 1e-9:
            inside = (a + min(b, a + 1)) / 2
            assert fit.survival_at(inside) is None
            low, up = fit.bounds_at(inside)
            assert up - low == pytest.approx(q, abs=1e-9)
    # every patient's set gets positive probability (else the likelihood would be 0)
    assert np.isfinite(fit.log_likelihood)
    # more time units, same curve: multiplying every time by 3 scales the intervals
    scaled = turnbull(lo * 3, hi * 3)
    assert scaled.left == pytest.approx(fit.left * 3)
    assert scaled.probabilities == pytest.approx(fit.probabilities, abs=1e-7)


@settings(max_examples=60, deadline=None)
@given(interval_data(), st.permutations(range(18)))
def test_order_of_patients_does_not_matter(data, order):
    lo, hi = data
    idx = [i for i in order if i < len(lo)]
    a, b = turnbull(lo, hi), turnbull(lo[idx], hi[idx])
    assert a.left.tolist() == b.left.tolist()
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-9)


# -- edge cases -------------------------------------------------------------------------------
def test_no_patients():
    fit = turnbull([], [])
    assert (fit.n, fit.n_events, fit.converged, fit.iterations) == (0, 0, True, 0)
    assert fit.median is None and fit.survival_at(5) == 1.0
    assert len(fit.probabilities) == 0 and fit.caveats


@pytest.mark.parametrize(
    ("lo", "hi", "interval", "median"),
    [
        (3.0, 5.0, (3.0, 5.0), (3.0, 5.0)),
        (3.0, 3.0, (3.0, 3.0), (3.0, 3.0)),
        (0.0, 4.0, (0.0, 4.0), (0.0, 4.0)),  # left-censored: lost by the first assessment
        (3.0, INF, (3.0, INF), None),  # still responding at the last assessment
    ],
)
def test_one_patient(lo, hi, interval, median):
    fit = turnbull([lo], [hi])
    assert list(zip(fit.left, fit.right, strict=True)) == [interval]
    assert fit.probabilities.tolist() == [1.0]
    assert fit.median == median
    assert fit.n_events == (0 if hi == INF else 1)
    assert fit.survival_at(lo - 0.5 if lo > 0 else 0.0) in (1.0, None)


def test_everyone_still_responding():
    fit = turnbull([2, 5, 7, 7], [INF] * 4)
    assert list(zip(fit.left, fit.right, strict=True)) == [(7.0, INF)]
    assert fit.mass_at_infinity == 1.0
    assert fit.survival_at(6.9) == 1.0 and fit.survival_at(8) is None
    assert fit.median is None and fit.median_midpoint is None
    assert any("median not reached" in c for c in fit.caveats)


def test_left_censored_and_exact_ties():
    """Two lost by day 4 (0, 4], one in (2, 6]: all three can share (2, 4]; an exact loss at
    day 4 is {4}, inside (0, 4] and (2, 6] too."""
    fit = turnbull([0, 0, 2], [4, 4, 6])
    assert list(zip(fit.left, fit.right, strict=True)) == [(2.0, 4.0)]
    fit = turnbull([0, 0, 2, 4], [4, 4, 6, 4])
    assert list(zip(fit.left, fit.right, strict=True)) == [(4.0, 4.0)]
    assert fit.survival_at(4) == 0.0 and fit.survival_at(3.9) == 1.0


@pytest.mark.parametrize(
    ("lo", "hi", "message"),
    [
        ([1, 2], [0, 3], "row 0 (lower=1.0, upper=0.0): the upper bound is before"),
        ([0, -1], [1, 2], "row 1 (lower=-1.0, upper=2.0): the lower bound is negative"),
        ([np.nan], [1], "missing"),
        ([INF], [INF], "lower bound is infinite"),
        ([1, 2], [3], "differ in length"),
    ],
)
def test_bad_bounds_say_which_row_and_what_to_do(lo, hi, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        turnbull(lo, hi)


@pytest.mark.parametrize(("tolerance", "cap"), [(0.0, 10), (-1e-9, 10), (1e-9, 0)])
def test_bad_fit_settings_are_refused(tolerance, cap):
    with pytest.raises(ValueError, match="tolerance must be positive"):
        turnbull([1], [2], tolerance=tolerance, max_iterations=cap)


def test_iteration_cap_is_reported():
    fit = turnbull(*RT, max_iterations=3)
    assert not fit.converged and fit.iterations == 3
    assert fit.optimality_gap > fit.tolerance
    assert any("did not converge" in c for c in fit.caveats)
    assert fit.probabilities.sum() == pytest.approx(1.0)


def test_curve_breaks_inside_turnbull_intervals():
    fit = turnbull(*RT)
    xs, ys = fit.curve()
    assert len(xs) == len(ys) and ys[0] == 1.0
    gaps = [x for x, y in zip(xs, ys, strict=True) if y is None]
    assert gaps == [a for a, q in zip(fit.left, fit.probabilities, strict=True) if q > 1e-9]
    xs, ys = fit.curve(linear=True)
    assert None not in ys
    assert (np.diff(xs) >= 0).all() and (np.diff(np.array(ys, dtype=float)) <= 1e-9).all()


def test_estimator_module_imports_only_numpy_and_the_standard_library():
    tree = ast.parse(Path(tb.__file__).read_text(encoding="utf-8"))
    imported = {
        (n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for a in n.names
    }
    assert imported <= {
        "__future__",
        "bisect",
        "itertools",
        "math",
        "collections",
        "dataclasses",
        "numpy",
    }
