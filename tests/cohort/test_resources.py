"""Opioid use and cost across the cohort (kapoutcomes.cohort.resources), worked by hand on
four dosed patients.

Daily MME at baseline (day 0): 90, 30, 0, 60 (patient 3 also on buprenorphine); at day 91:
40 (a 55.6% reduction), 0 (discontinued), 0, and patient 3 not followed that far.
Charges: 3,000, 1,500, none, 4,500 USD; end-of-induction responders: patients 0 and 3.
"""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.cohort import resources
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from tests.builders import induction, patient, pid, tables_of

S = Settings()


@pytest.fixture(scope="module")
def groups():
    t = tables_of([patient(i) for i in range(4)], [s for i in range(4) for s in induction(i, [0])])
    return patient_groups(t["patients"], t["sessions"])


def _mme() -> pl.DataFrame:
    rows = []
    base = [90.0, 30.0, 0.0, 60.0]
    for i, (b, later) in enumerate(zip(base, [40.0, 0.0, 0.0, None], strict=True)):
        for tp, day, v in (("baseline", 0, b), ("3 months", 91, later)):
            rows.append(
                {
                    "patient_id": pid(i),
                    "timepoint": tp,
                    "day": day,
                    "observed": v is not None,
                    "daily_mme": v,
                    "on_opioids": bool(v),
                    "buprenorphine": i == 3,
                    "baseline_mme": b,
                    "reduction_pct": None if v is None or b == 0 else 100 * (b - v) / b,
                }
            )
    return pl.DataFrame(rows)


def _values(out: pl.DataFrame, day: int) -> dict[str, tuple]:
    f = out.filter(pl.col("timepoint") == ("baseline" if day == 0 else "3 months"))
    return {m: (n, d, v) for m, n, d, v in f.select("measure", "n", "denominator", "value").rows()}


def test_cost_per_patient_and_per_responder(groups):
    cost = pl.DataFrame(
        {"patient_id": [pid(0), pid(1), pid(3)], "cost_usd": [3000.0, 1500.0, 4500.0]}
    )
    responders = pl.DataFrame(
        {"patient_id": [pid(0), pid(1), pid(3)], "responder": [True, False, True]}
    )
    prepared = resources.cost_frame(cost, responders, groups)
    assert prepared.height == 4  # one row per dosed patient, patient 2 without a cost
    out = resources.cost_summary(prepared, S)
    v = {m: (n, d, x) for m, n, d, x in out.select("measure", "n", "denominator", "value").rows()}
    assert v == {
        "total_cost": (3, 4, 9000.0),
        "cost_per_patient_treated": (3, 3, 3000.0),
        "median_cost_per_patient": (3, 3, 3000.0),
        "cost_per_responder": (2, 3, 4500.0),
    }
    assert all("1 of 4 treated patients have no cost in the export" in c for c in out["caveats"])


def test_no_cost_in_the_export(groups):
    empty = pl.DataFrame(schema={"patient_id": pl.String, "cost_usd": pl.Float64})
    resp = pl.DataFrame(schema={"patient_id": pl.String, "responder": pl.Boolean})
    out = resources.cost_summary(resources.cost_frame(empty, resp, groups), S)
    per = out.filter(pl.col("measure") == "cost_per_patient_treated").row(0, named=True)
    assert per["value"] is None and per["denominator"] == 0
    assert "the export carries no cost" in per["caveats"]


def test_paired_mme_follows_the_same_patients():
    """a: 60 -> 30 at 3 months; b: 90 -> 0 (stopped); c: not on opioids at the first dose
    (left out); d: on 40 but not followed to 3 months (left out). Paired n = 2: median at
    the first dose (60 + 90) / 2 = 75, at 3 months (30 + 0) / 2 = 15. Nobody reached 6
    months: n = 0, no medians."""
    from kapoutcomes.cohort import resources as res

    mme = pl.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "a", "b", "c", "d", "a", "b", "c", "d"],
            "timepoint": ["baseline"] * 4 + ["3 months"] * 4 + ["6 months"] * 4,
            "day": [0] * 4 + [91] * 4 + [183] * 4,
            "daily_mme": [60.0, 90.0, 0.0, 40.0, 30.0, 0.0, 10.0, None] + [None] * 4,
            "observed": [True] * 4 + [True, True, True, False] + [False] * 4,
            "baseline_mme": [60.0, 90.0, 0.0, 40.0] * 3,
        }
    )
    p = res.paired_mme(mme)
    assert p.select("timepoint", "n").rows() == [("3 months", 2), ("6 months", 0)]
    three = p.row(0, named=True)
    assert (three["baseline_median"], three["median"]) == (75.0, 15.0)
    assert p.row(1, named=True)["median"] is None
