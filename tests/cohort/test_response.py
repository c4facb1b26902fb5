"""End-of-induction response (kapoutcomes.cohort.response), five patients worked by hand.

Everyone: 6 infusions, days 0-11. Pain baseline 8 (day -1) and a day-14 score:
0: 4 (50%: response), 1: 5 (37.5%: response), 2: 7 (12.5%: no), 3: a day-14 score but no
baseline, 4: baseline but no score after the course. Evaluable: 0, 1, 2 -> 2/3; ITT: all five
dosed -> 2/5, one of them (3) without a baseline.
PHQ-9: patient 0 has comorbid depression, baseline 20 and 4 on day 14 (response and
remission, < 5); patient 1 has only a day-14 PHQ-9 (10). ITT for PHQ-9: 0 (comorbid
depression) and 1 (a score); response 1/1 evaluable (half the ITT without a baseline),
remission 1/2 (a score alone tells remission).
Wilson 95% intervals (Newcombe 1998): 2/3 -> (0.2077, 0.9385); 2/5 -> (0.1176, 0.7693).
"""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.cohort import response
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change
from kapoutcomes.outcomes.induction import end_of_induction, induction_series
from tests.builders import SIX, induction, patient, pid, score, tables_of

S = Settings()


@pytest.fixture(scope="module")
def parts():
    pain = [[(-1, 8), (14, 4)], [(-1, 8), (14, 5)], [(-1, 8), (14, 7)], [(14, 3)], [(-1, 8)]]
    t = tables_of(
        [patient(0)] + [patient(i, dep=False) for i in range(1, 5)],
        [s for i in range(5) for s in induction(i, SIX)],
        [score(i, d, v) for i, rows in enumerate(pain) for d, v in rows]
        + [score(0, -1, 20, "phq9"), score(0, 14, 4, "phq9"), score(1, 14, 10, "phq9")],
    )
    base = change.baselines(t["assessments"], t["sessions"], S)
    ch = change.changes(t["assessments"], t["sessions"], S, base=base)
    eoi = end_of_induction(ch, induction_series(t["sessions"], S), S)
    groups = patient_groups(t["patients"], t["sessions"])
    itt = response.itt_population(groups, t["assessments"], S)
    return eoi, itt, base, groups


def test_itt_population(parts):
    _, itt, _, _ = parts
    pain = itt.filter(pl.col("instrument") == "pain_nrs").get_column("patient_id").to_list()
    assert pain == [pid(i) for i in range(5)]
    phq = itt.filter(pl.col("instrument") == "phq9").get_column("patient_id").to_list()
    assert phq == [pid(0), pid(1)]


def _row(rates: pl.DataFrame, inst: str, measure: str) -> dict:
    return rates.filter((pl.col("instrument") == inst) & (pl.col("measure") == measure)).row(
        0, named=True
    )
