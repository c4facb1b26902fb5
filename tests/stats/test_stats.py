"""Cohort statistics against published textbook values and against lifelines (test-only
dependency) on generated data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats as sps

from kapoutcomes.cohort import durability, improvement
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.stats import funnel, intervals, survival

# Freireich et al., Blood 1963;21:699 - remission times (weeks) of leukaemia patients, as
# tabulated in Kleinbaum & Klein, Survival Analysis: A Self-Learning Text (3rd ed., 2012),
# chapter 1-2 (also lifelines.datasets.load_leukemia / R's MASS::gehan).
MP6_T = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP6_E = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO_T = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


# -- Wilson and exact intervals ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # Newcombe, Stat Med 1998;17:857, Table II, method 3 (Wilson score, no correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998(k, n, lo, hi):
    est, a, b = intervals.proportion_ci(k, n)
    assert est == pytest.approx(k / n)
    assert (a, b) == (pytest.approx(lo, abs=5e-5), pytest.approx(hi, abs=5e-5))
    _p, va, vb = intervals.proportion_ci_arrays(np.array([k]), np.array([n]))
    assert (va[0], vb[0]) == (pytest.approx(lo, abs=5e-5), pytest.approx(hi, abs=5e-5))


@pytest.mark.parametrize("method", ["wilson", "exact"])
def test_vectorised_intervals_equal_scipy_binomtest(method):
    ks, ns = [], []
    for n in (1, 2, 5, 13, 40, 250):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            ks.append(k)
            ns.append(n)
    _, lo, hi = intervals.proportion_ci_arrays(np.array(ks), np.array(ns), 0.95, method)
    for k, n, a, b in zip(ks, ns, lo, hi, strict=True):
        ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method=method)
        assert a == pytest.approx(ci.low, abs=1e-9)
        assert b == pytest.approx(ci.high, abs=1e-9)


def test_poisson_exact_interval():
    # Garwood 1936 exact limits for 0 and 5 events (e.g. Ulm, Am J Epidemiol 1990;131:373):
    # 0 -> (0, 3.689); 5 -> (1.6235, 11.6683)
    rate, lo, hi = intervals.poisson_rate_ci(np.array([0, 5]), np.array([100, 100]), 0.95, per=100)
    assert rate.tolist() == [0.0, 5.0]
    assert lo.tolist() == pytest.approx([0.0, 1.6235], abs=1e-4)
    assert hi.tolist() == pytest.approx([3.6889, 11.6683], abs=1e-4)


# -- Kaplan-Meier and log-rank: textbook -------------------------------------------------------
def test_kaplan_meier_freireich_6mp_kleinbaum_klein():
    km = survival.kaplan_meier(MP6_T, MP6_E)
    # Kleinbaum & Klein table: S(t) after each event time of the 6-MP group
    expected = {6: 0.8571, 7: 0.8067, 10: 0.7529, 13: 0.6902, 16: 0.6275, 22: 0.5378, 23: 0.4482}
    for t, s in expected.items():
        assert km.survival_at(t) == pytest.approx(s, abs=5e-5)
    assert km.survival_at(5.9) == 1.0
    assert km.median == 23.0
    assert km.n == 21 and km.n_events == 9
    assert km.at_risk_at(6) == 21 and km.at_risk_at(7) == 17 and km.at_risk_at(10) == 15
    assert km.censored_pct == pytest.approx(100 * 12 / 21)


def test_logrank_freireich_6mp_vs_placebo():
    # Kleinbaum & Klein, chapter 2: log-rank statistic 16.79 (1 df), P < 0.0001; observed
    # events 9 vs 21, expected 19.25 vs 10.75
    lr = survival.logrank(
        np.array(MP6_T),
        np.array(MP6_E, bool),
        np.array(PLACEBO_T),
        np.ones(21, bool),
        ("6-MP", "placebo"),
    )
    assert lr.statistic == pytest.approx(16.79, abs=0.005)
    assert lr.pvalue < 1e-4
    assert lr.events == (9, 21)
    assert lr.expected == pytest.approx((19.25, 10.75), abs=0.005)
    assert lr.z < 0  # the 6-MP group has fewer events than expected
    k = survival.logrank_k(
        [np.array(MP6_T), np.array(PLACEBO_T)],
        [np.array(MP6_E, bool), np.ones(21, bool)],
        ["a", "b"],
    )
    assert k.statistic == pytest.approx(lr.statistic, rel=1e-9)


# -- against lifelines on generated data ------------------------------------------------------
def _generated(seed: int, n: int = 300):
    rng = np.random.default_rng(seed)
    t_event = rng.exponential(40, n).round(0)
    t_cens = rng.uniform(5, 120, n).round(0)
    d = np.minimum(t_event, t_cens)
    e = t_event <= t_cens
    g = rng.integers(0, 3, n)
    d = d + 2.0 * g * e  # make groups differ a little
    return d, e, g


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kaplan_meier_agrees_with_lifelines(seed):
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d, e, _ = _generated(seed)
    km = survival.kaplan_meier(d, e, 0.95)
    kmf = KaplanMeierFitter().fit(d, e, alpha=0.05)
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    for i, t in enumerate(km.times):
        assert km.survival[i] == pytest.approx(sf.loc[t], abs=1e-10)
        if not np.isnan(km.lower[i]):
            assert km.lower[i] == pytest.approx(ci.iloc[:, 0].loc[t], abs=1e-8)
            assert km.upper[i] == pytest.approx(ci.iloc[:, 1].loc[t], abs=1e-8)
    assert km.median == pytest.approx(kmf.median_survival_time_)
    mci = median_survival_times(ci)
    lo, hi = mci.iloc[0, 0], mci.iloc[0, 1]
    assert km.median_ci[0] == (None if np.isinf(lo) else pytest.approx(lo))
    assert km.median_ci[1] == (None if np.isinf(hi) else pytest.approx(hi))
    et = kmf.event_table
    for i, t in enumerate(km.times):
        assert km.at_risk[i] == et.loc[t, "at_risk"]
        assert km.events[i] == et.loc[t, "observed"]


@pytest.mark.parametrize("seed", [4, 5])
def test_logrank_agrees_with_lifelines(seed):
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    d, e, g = _generated(seed)
    a, b = g == 0, g == 1
    lr = survival.logrank(d[a], e[a], d[b], e[b])
    ref = logrank_test(d[a], d[b], e[a], e[b])
    assert lr.statistic == pytest.approx(ref.test_statistic, rel=1e-8)
    assert lr.pvalue == pytest.approx(ref.p_value, rel=1e-6)
    k = survival.logrank_k(
        [d[g == i] for i in range(3)], [e[g == i] for i in range(3)], ["0", "1", "2"]
    )
    mref = multivariate_logrank_test(d, g, e)
    assert k.statistic == pytest.approx(mref.test_statistic, rel=1e-8)
    assert k.df == 2
    assert k.pvalue == pytest.approx(mref.p_value, rel=1e-6)


def test_kaplan_meier_edge_cases():
    km = survival.kaplan_meier([], [])
    assert km.n == 0 and km.median is None
    km = survival.kaplan_meier([5, 7, 9], [False, False, False])
    assert km.n_events == 0 and km.median is None and km.survival_at(100) == 1.0
    assert any("no events" in c for c in km.caveats)
    with pytest.raises(ValueError):
        survival.kaplan_meier([1, -1], [True, True])


def test_durability_table_and_caveats():
    d, e, g = _generated(7, 40)
    ep = pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(40)],
            "instrument": ["pain_nrs"] * 40,
            "episode": [1] * 40,
            "duration_days": d,
            "event": e,
        }
    )
    groups = pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(40)],
            "care_model": ["KAP" if x else "infusion_only" for x in g % 2],
        }
    )
    s = Settings()
    dur = durability.durability(ep, groups, s)
    row = dur.summary.row(0, named=True)
    km = survival.kaplan_meier(d, e)
    assert row["n"] == 40 and row["median_days"] == km.median
    assert row["s_4w"] == pytest.approx(km.survival_at(28))
    assert dur.at_risk.filter(pl.col("week") == 0).get_column("at_risk").to_list() == [40]
    by = durability.durability(ep, groups, s, by="care_model")
    assert by.logrank.height == 1 and by.logrank.get_column("df").to_list() == [1]
    assert by.summary.height == 2
    for n, c in by.summary.select("n", "caveats").rows():
        assert ("small n" in c) == (n < s.small_n)


# -- change from baseline ----------------------------------------------------------------------
def test_describe_change_against_scipy():
    rng = np.random.default_rng(3)
    base = rng.integers(5, 10, 80).astype(float)
    change = rng.integers(-5, 2, 80).astype(float)
    r = improvement.describe_change(change, base)
    assert r["mean"] == pytest.approx(change.mean())
    t = sps.ttest_1samp(change, 0).confidence_interval(0.95)
    assert (r["mean_lower"], r["mean_upper"]) == (pytest.approx(t.low), pytest.approx(t.high))
    w = sps.wilcoxon(change, zero_method="wilcox", method="asymptotic")
    assert r["wilcoxon_p"] == pytest.approx(w.pvalue)
    assert r["srm"] == pytest.approx(change.mean() / change.std(ddof=1))
    assert r["effect_size"] == pytest.approx(change.mean() / base.std(ddof=1))


def test_median_ci_order_statistics():
    # n = 10, 95%: binomial(10, 0.5) 2.5% quantile is 2 -> (x(2), x(9)) (Conover 1999,
    # exact coverage 97.9%)
    x = np.arange(1.0, 11.0)
    assert intervals.median_ci(x) == (2.0, 9.0)
    assert intervals.median_ci(np.array([1.0, 2.0])) == (None, None)


def _median_ci_by_binomial_quantile(x, confidence_level=0.95):
    """The textbook order-statistic interval written out (the implementation before
    ``scipy.stats.quantile_test``): j = binomial(n, 1/2) quantile at (1 - level) / 2,
    interval (x(j), x(n - j + 1)) (Conover 1999, section 3.2)."""
    x = np.sort(np.asarray(x, float))
    n = x.size
    if n == 0:
        return (None, None)
    j = int(sps.binom.ppf((1 - confidence_level) / 2, n, 0.5))
    if j < 1:
        return (None, None)
    return (float(x[j - 1]), float(x[n - j]))


def _median_samples():
    rng = np.random.default_rng(11)
    fixed = [
        [3.0],  # n = 1
        [1.0, 2.0],  # n = 2
        [1.0, 2.0, 3.0, 4.0, 5.0],  # n = 5: too small for 95%
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # n = 6, even
        list(range(1, 10)),  # n = 9, odd
        [1, 2, 2, 2, 3, 3, 4, 5, 5, 9],  # ties
        [2.0] * 8,  # all tied
        [0, 0, 0, 1, 1, 1, 1, 2, 2, -1, 5],  # ties around the median, odd n
    ]
    drawn = [rng.integers(-3, 4, size=n) for n in (7, 8, 12, 25, 40, 101)]
    drawn += [rng.normal(size=n) for n in (6, 13, 16, 30, 57, 100)]
    return [np.asarray(x, float) for x in fixed + drawn]


@pytest.mark.parametrize("confidence_level", [0.9, 0.95, 0.99])
def test_median_ci_from_quantile_test_equals_the_order_statistic_interval(confidence_level):
    for x in _median_samples():
        expected = _median_ci_by_binomial_quantile(x, confidence_level)
        assert intervals.median_ci(x, confidence_level) == expected, x


def test_funnel_limits_and_positions():
    rates = pl.DataFrame(
        {"level": ["A", "B", "C"], "n": [50, 20, 5], "denominator": [100, 100, 10]}
    )
    f = funnel.funnel(rates, 0.4)
    pos = dict(
        zip(f.get_column("level").to_list(), f.get_column("position").to_list(), strict=True)
    )
    # A: 50/100 vs 40%: z = 2.04 (beyond 95%, inside 99.8%); B: 20/100: z = -4.1
    assert pos == {"A": "above 95%", "B": "below 99.8%", "C": "within"}
    # limits bracket the network rate and narrow as n grows
    lim = funnel.funnel_limits(np.array([10, 100, 1000]), 0.4)
    assert (lim["lower95"] < 0.4).all() and (lim["upper95"] > 0.4).all()
    assert np.all(np.diff(lim["upper998"]) < 0)


def test_band_equals_estimate_where_survival_is_one_or_zero():
    # first duration censored (S = 1 there) and last an event (S = 0): scipy leaves the
    # log-log band undefined at both; lifelines / R set it to the estimate, and the median
    # interval must not start at the censored time (regression found by bench agreement)
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d, e = [1, 2, 3, 4, 5], [False, True, True, True, True]
    km = survival.kaplan_meier(d, e)
    assert (km.lower[0], km.upper[0]) == (1.0, 1.0)
    assert (km.lower[-1], km.upper[-1]) == (0.0, 0.0)
    ref = median_survival_times(KaplanMeierFitter().fit(d, e).confidence_interval_)
    assert km.median_ci == (ref.iloc[0, 0], ref.iloc[0, 1]) == (2.0, 5.0)
