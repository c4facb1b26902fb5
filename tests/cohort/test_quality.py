"""Data quality for the Data page (kapoutcomes.cohort.quality), three patients by hand
(referral 2023-12-01, first dose 2024-01-01 = day 0, baseline window 30 days):

1 (North, referred 2023-10-01): scores day -45 (after the referral, but too old for a
   baseline), day -1 (baseline), day 10.
2 (South): never dosed; a score on day 5.
3 (North): dosed day 0; one score on day -40 = 2023-11-22, before the referral date, so no
   baseline either.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.cohort import quality
from kapoutcomes.definitions.settings import Settings
from tests.builders import induction, patient, pid, score, session, tables_of

S = Settings()


@pytest.fixture(scope="module")
def dq():
    t = tables_of(
        [patient(1, referral_date=dt.date(2023, 10, 1)), patient(2, "South"), patient(3)],
        [*induction(1, [0]), session(2, 0, "screening", 0), *induction(3, [0])],
        [score(1, -45, 9), score(1, -1, 8), score(1, 10, 5), score(2, 5, 6), score(3, -40, 7)],
    )
    return quality.data_quality(t, S)


def test_assessments_outside_the_windows_with_their_reason(dq):
    got = dq.outside_windows.select("patient_id", "clinic", "reason").rows()
    assert got == [
        (pid(1), "North", "before the first dose but more than 30 days before it: too old for a baseline"),
        (pid(3), "North", "before the referral date"),
        (pid(2), "South", "patient never dosed: no baseline or follow-up window"),
    ]  # fmt: skip
    counts = dq.outside_counts.select("clinic", "assessments").rows()
    assert counts == [("North", 1), ("North", 1), ("South", 1)]


def test_dosed_patients_without_a_baseline(dq):
    nb = dq.no_baseline
    assert nb.select("patient_id", "clinic", "instrument").rows() == [(pid(3), "North", "pain_nrs")]
    assert nb.get_column("baseline_status")[0].startswith("missing")


def test_completeness_by_clinic(dq):
    c = dq.completeness.filter(pl.col("measure") == "no_baseline")
    # North: 1 of the 2 dosed patients has no baseline; South has no dosed patient
    assert c.select("level", "n", "denominator").rows() == [("North", 1, 2)]


def test_completeness_cells_all_point_one_way(dq):
    """Every heatmap cell is % complete (higher = better): the missing-baseline measure is
    turned round into 'with a baseline'."""
    cells = quality.completeness_cells(dq.completeness)
    row = cells.filter(pl.col("label") == "dosed patients with a baseline (pain_nrs)")
    assert row.select("clinic", "pct_complete", "complete", "denominator").rows() == [
        ("North", 50.0, 1, 2)
    ]
    assert quality.completeness_cells(dq.completeness.clear()).height == 0
