"""Data completeness (kapoutcomes.cohort.completeness) on two dosed patients worked by hand,
as of day 100.

1: induction days 0, 2, 4; pain scores day -1 (baseline), one linked to the day-2 session,
   one later on day 4 (same day as that infusion), and day 30.
2: one induction infusion day 0; a single pain score on day 95 (no baseline).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.cohort import completeness as cp
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change
from tests.builders import D0, induction, patient, score, tables_of

S = Settings()
AS_OF = D0 + dt.timedelta(days=100)


@pytest.fixture(scope="module")
def cohort():
    t = tables_of(
        [patient(1), patient(2, "South")],
        [*induction(1, [0, 2, 4]), *induction(2, [0])],
        [
            score(1, -1, 8),
            score(1, 2.01, 6, sid="s1_1"),
            score(1, 4.1, 5),
            score(1, 30, 4),
            score(2, 95, 6),
        ],
    )
    base = change.baselines(t["assessments"], t["sessions"], S)
    groups = patient_groups(t["patients"], t["sessions"])
    items = cp.completeness_items(t["sessions"], t["assessments"], base, groups, S, AS_OF)
    return items, groups


def test_items_per_patient(cohort):
    items, _ = cohort
    got = {
        (p[-1], m): (n, d)
        for p, m, n, d in items.select("patient_id", "measure", "n", "denominator").rows()
    }
    assert got == {
        ("1", "sessions_with_score"): (2, 3),  # day 2 linked, day 4 same day; day 0 none
        ("1", "no_baseline"): (0, 1),
        ("1", "follow_up_day_28"): (1, 1),  # latest score day 30
        ("1", "follow_up_day_91"): (0, 1),
        ("2", "sessions_with_score"): (0, 1),
        ("2", "no_baseline"): (1, 1),
        ("2", "follow_up_day_28"): (1, 1),  # day 95
        ("2", "follow_up_day_91"): (1, 1),
    }
    # day 183 is after the data end for both: no item; PHQ-9 was never recorded: left out
    assert set(items.get_column("instrument")) == {"pain_nrs"}


def test_counts_with_wilson_intervals(cohort):
    items, groups = cohort
    c = cp.completeness(items, groups, S)
    rows = {m: (n, d) for m, n, d in c.select("measure", "n", "denominator").rows()}
    assert rows == {
        "sessions_with_score": (2, 4),
        "no_baseline": (1, 2),
        "follow_up_day_28": (2, 2),
        "follow_up_day_91": (1, 2),
    }
    swc = c.filter(pl.col("measure") == "sessions_with_score").row(0, named=True)
    # Wilson 95% interval for 2/4: 0.5 -/+ 0.3500 (Newcombe 1998, method 3)
    assert swc["rate"] == 0.5
    assert (swc["lower"], swc["upper"]) == (pytest.approx(0.1500, abs=1e-4),
                                            pytest.approx(0.8500, abs=1e-4))  # fmt: skip
    assert "linked to the session or on the same day" in swc["definition"]
    fu = c.filter(pl.col("measure") == "follow_up_day_91").row(0, named=True)
    assert "on or after day 91" in fu["definition"]


def test_by_clinic_and_empty(cohort):
    items, groups = cohort
    c = cp.completeness(items, groups, S, by="clinic")
    south = c.filter((pl.col("level") == "South") & (pl.col("measure") == "no_baseline"))
    assert south.select("n", "denominator").row(0) == (1, 1)
    assert cp.completeness(items.clear(), groups, S).columns == list(cp._SCHEMA)
