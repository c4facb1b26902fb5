"""Improvement from baseline (kapoutcomes.cohort.improvement), worked by hand.

Four patients' change at the end of induction: -4, -3, -2, -1 from baselines 8, 7, 9, 6.
mean -2.5; SD of change sqrt(5/3) = 1.29099; t(0.975, 3) = 3.18245, so the 95% interval is
-2.5 -/+ 3.18245 * 1.29099 / 2 = (-4.55426, -0.44574); SRM = -2.5 / 1.29099 = -1.93649; the
baselines have the same SD, so the effect size (Kazis 1989) is also -1.93649. Wilcoxon
signed-rank: every change negative, W+ = 0, exact two-sided p = 2 / 2^4 = 0.125.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kapoutcomes.cohort import improvement
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from tests.builders import induction, patient, pid, tables_of

S = Settings()
CHANGE = [-4.0, -3.0, -2.0, -1.0]
BASE = [8.0, 7.0, 9.0, 6.0]


def test_describe_change_hand_worked():
    d = improvement.describe_change(np.array(CHANGE), np.array(BASE))
    assert d["mean"] == -2.5 and d["median"] == -2.5
    assert d["sd"] == pytest.approx(1.290994, abs=1e-6)
    assert d["mean_lower"] == pytest.approx(-4.554256, abs=1e-5)
    assert d["mean_upper"] == pytest.approx(-0.445744, abs=1e-5)
    assert d["srm"] == pytest.approx(-1.936492, abs=1e-6)
    assert d["effect_size"] == pytest.approx(-1.936492, abs=1e-6)
    assert d["wilcoxon_statistic"] == 0.0
    assert d["wilcoxon_p"] == pytest.approx(0.125)
    # order-statistic interval: (min, max) of 4 values covers the median with probability
    # 1 - 2 / 2^4 = 0.875 < 0.95, so there is no 95% interval from 4 values
    assert (d["median_lower"], d["median_upper"]) == (None, None)
    six = improvement.describe_change(np.arange(-6.0, 0.0), np.arange(6.0))
    # 6 values: (min, max) covers it with 1 - 2 / 64 = 0.969 >= 0.95
    assert (six["median_lower"], six["median_upper"]) == (-6.0, -1.0)


def test_describe_change_small_and_constant_groups():
    assert set(improvement.describe_change(np.array([]), np.array([])).values()) == {None}
    one = improvement.describe_change(np.array([-2.0]), np.array([7.0]))
    assert one["mean"] == -2.0 and one["sd"] is None and one["wilcoxon_p"] is None
    same = improvement.describe_change(np.array([-2.0, -2.0]), np.array([7.0, 7.0]))
    # no spread: the interval collapses to the mean; no SRM or effect size to divide by
    assert (same["mean_lower"], same["mean_upper"]) == (-2.0, -2.0)
    assert same["srm"] is None and same["effect_size"] is None
    none = improvement.describe_change(np.array([0.0, 0.0]), np.array([7.0, 8.0]))
    assert none["wilcoxon_p"] is None  # no change at all: nothing to test


@pytest.fixture(scope="module")
def groups():
    t = tables_of(
        [patient(i, "North" if i < 3 else "South") for i in range(4)],
        [s for i in range(4) for s in induction(i, [0])],
    )
    return patient_groups(t["patients"], t["sessions"])


def test_change_from_baseline_table(groups):
    eoi = pl.DataFrame(
        {
            "patient_id": [pid(i) for i in range(4)] + [pid(0)],
            "instrument": ["pain_nrs"] * 4 + ["phq9"],
            "baseline_score": [*BASE, 20.0],
            "score": [b + c for b, c in zip(BASE, CHANGE, strict=True)] + [None],
            "change": [*CHANGE, None],  # the PHQ-9 row has no score: counted, not described
            "reduction_pct": [50.0, 3 / 7 * 100, 2 / 9 * 100, 1 / 6 * 100, None],
        }
    )
    out = improvement.change_from_baseline(eoi, groups, S)
    pain = out.filter(pl.col("instrument") == "pain_nrs").row(0, named=True)
    assert (pain["n"], pain["denominator"]) == (4, 4)
    assert pain["mean_baseline"] == 7.5 and pain["mean_score"] == 5.0
    assert pain["mean"] == -2.5
    assert pain["mean_reduction_pct"] == pytest.approx((50 + 300 / 7 + 200 / 9 + 100 / 6) / 4)
    assert pain["wilcoxon_p"] == pytest.approx(0.125)
    assert pain["timepoint"] == "end of induction"
    phq = out.filter(pl.col("instrument") == "phq9")
    assert phq.height == 0  # no patient with a change
    south = improvement.change_from_baseline(eoi, groups, S, by="clinic").filter(
        pl.col("level") == "South"
    )
    assert south.select("n", "mean").row(0) == (1, -1.0)


def test_monthly_mean_reduction_has_a_t_interval():
    """Month 1: reductions 10, 20, 30 % -> mean 20, SD 10, t(0.975, 2) = 4.302653, so the
    95% interval is 20 -/+ 4.302653 * 10 / sqrt(3) = 20 -/+ 24.8414; month 2 has one patient
    (no interval)."""
    monthly = pl.DataFrame(
        {
            "patient_id": ["a", "b", "c", "a"],
            "instrument": ["pain_nrs"] * 4,
            "treatment_month": [1, 1, 1, 2],
            "change": [-1.0, -2.0, -3.0, -4.0],
            "reduction_pct": [10.0, 20.0, 30.0, 40.0],
            "responder": [False, False, True, True],
            "remission": [None, None, None, None],
            "eligible": [True] * 4,
        },
        schema_overrides={"remission": pl.Boolean},
    )
    groups = pl.DataFrame({"patient_id": ["a", "b", "c"], "clinic": ["N", "N", "N"]})
    m = improvement.improvement_by_month(monthly, groups, S).sort("treatment_month")
    assert m.get_column("mean_reduction_lower")[0] == pytest.approx(20 - 24.8414, abs=1e-3)
    assert m.get_column("mean_reduction_upper")[0] == pytest.approx(20 + 24.8414, abs=1e-3)
    assert m.get_column("mean_reduction_lower")[1] is None
