"""Draw plumbing of the demo cohort (kapoutcomes.demo.draws), values worked by hand.
The anchor day 0 is Tuesday 2 January 2024."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from kapoutcomes.demo import draws
from kapoutcomes.demo.params import ANCHOR


def test_days_and_minutes_from_the_anchor():
    assert dt.date(2024, 1, 2) == ANCHOR and ANCHOR.weekday() == 1  # Tuesday
    assert draws.day_dates(np.array([0, 30])).to_list() == [
        dt.date(2024, 1, 2),
        dt.date(2024, 2, 1),
    ]
    got = draws.minute_times(np.array([9 * 60 + 30, 1440 + 8 * 60]))
    assert got.to_list() == [dt.datetime(2024, 1, 2, 9, 30), dt.datetime(2024, 1, 3, 8, 0)]


def test_clinic_weekday_moves_off_the_weekend_then_on():
    # day 4 = Saturday 6 Jan -> Friday (day 3); day 5 = Sunday -> Monday 8 Jan (day 6)
    assert draws.clinic_weekday(np.array([0, 3, 4, 5])).tolist() == [0, 3, 3, 6]
    # Friday (day 3) plus 1 weekday is Monday (day 6); Tuesday plus 5 weekdays is Tuesday
    assert draws.clinic_weekday(np.array([3, 0]), np.array([1, 5])).tolist() == [6, 7]


def test_group_ordinal_and_group_cumsum():
    groups = np.array([0, 0, 0, 1, 2, 2])
    assert draws.group_ordinal(groups).tolist() == [0, 1, 2, 0, 0, 1]
    assert draws.group_ordinal(np.array([])).tolist() == []
    start = np.array([0, 0, 0, 3, 4, 4])
    steps = np.array([1, 2, 3, 10, 5, 5])
    assert draws.group_cumsum(steps, start).tolist() == [1, 3, 6, 10, 5, 10]


def test_clock_minutes_on_the_half_hour_in_clinic_hours():
    m = draws.clock_minutes(np.random.default_rng(1), 500)
    assert set(np.unique(m % 30)) == {0}
    assert m.min() >= 8 * 60 and m.max() <= 8 * 60 + 16 * 30  # 08:00 to 16:00


def test_relief_kept_full_then_fading_over_two_weeks():
    kept = draws.relief_kept(np.array([0.0, 20.0, 34.0]), np.array([20.0, 20.0, 20.0]))
    assert kept.tolist() == [1.0, 1.0, pytest.approx(np.exp(-1))]


def test_pick_follows_the_weights():
    got = draws.pick(np.random.default_rng(2), ("a", "b"), (1.0, 0.0), 5)
    assert got.tolist() == ["a"] * 5


def test_frame_helpers():
    f = pl.DataFrame({"x": [1.0, float("nan")], "s": ["a", "b"]})
    assert draws.nan_to_null(f).get_column("x").to_list() == [1.0, None]
    rows = pl.DataFrame({"k": [1, 1, 2, 2, 2, 3], "v": [1, 2, 3, 4, 5, 6]})
    assert draws.first_of_each_key(rows, ["k"]).get_column("v").to_list() == [1, 3, 6]
    assert draws.first_of_each_key(rows.clear(), ["k"]).height == 0
    ids = pl.DataFrame({"_idx": [0, 2], "session_id": ["s0", "s2"]})
    assert draws.lookup(ids, 3).to_list() == ["s0", None, "s2"]
    vals = pl.Series("v", [10, 20, 30])
    assert draws.gather_or_null(vals, np.array([2, -1, 0])).to_list() == [30, None, 10]
    empty = pl.Series("v", [], dtype=pl.Int64)
    assert draws.gather_or_null(empty, np.array([-1])).to_list() == [None]
