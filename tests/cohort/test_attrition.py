"""Attrition through the pathway (kapoutcomes.cohort.attrition) on four patients worked by hand.

1 (South): referred only.  2 (South): a screening visit, never dosed.
3 (North): screened, 6 infusions (complete), a score on day 20 after the course ended on day
11, a maintenance infusion day 60.  4 (North): 2 induction infusions, no score afterwards.
"""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.cohort import attrition
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.induction import induction_series
from tests.builders import SIX, induction, patient, score, session, tables_of

S = Settings()
STAGES = [name for name, _ in attrition.ATTRITION_STAGES]


@pytest.fixture(scope="module")
def stages_and_groups():
    t = tables_of(
        [patient(1, "South"), patient(2, "South"), patient(3), patient(4)],
        [
            session(2, 0, "screening", 0),
            session(3, -7, "screening", 0),
            *induction(3, SIX),
            session(3, 60, "maintenance", 9),
            *induction(4, [0, 2]),
        ],
        [score(3, -1, 8), score(3, 20, 4), score(4, -1, 7)],
    )
    groups = patient_groups(t["patients"], t["sessions"])
    ind = induction_series(t["sessions"], S)
    return attrition.patient_stages(groups, t["sessions"], t["assessments"], ind), groups


def test_patient_stages(stages_and_groups):
    stages, _ = stages_and_groups
    assert stages.columns == ["patient_id", *STAGES]
    assert stages.select(STAGES).rows() == [
        (True, False, False, False, False, False),
        (True, True, False, False, False, False),
        (True, True, True, True, True, True),
        (True, True, True, False, False, False),
    ]


def test_overall_counts_and_percentages(stages_and_groups):
    stages, groups = stages_and_groups
    a = attrition.attrition(stages, groups, S)
    assert a.get_column("stage").to_list() == STAGES
    assert a.get_column("n").to_list() == [4, 3, 2, 1, 1, 1]
    assert set(a.get_column("denominator")) == {4}
    assert a.get_column("pct_of_referred").to_list() == [100.0, 75.0, 50.0, 25.0, 25.0, 25.0]
    # of those at the previous stage, who also reached this one: 3/4, 2/3, 1/2, 1/1, 1/1
    prev = a.get_column("pct_of_previous").to_list()
    assert prev[0] is None
    assert prev[1:] == [75.0, pytest.approx(200 / 3), 50.0, 100.0, 100.0]
    assert all("small n" in c for c in a.get_column("caveats"))


def test_by_clinic(stages_and_groups):
    stages, groups = stages_and_groups
    a = attrition.attrition(stages, groups, S, by="clinic")
    south = a.filter(pl.col("level") == "South")
    assert south.get_column("n").to_list() == [2, 1, 0, 0, 0, 0]
    # nobody dosed in South: no percentage of an empty previous stage
    assert south.get_column("pct_of_previous").to_list() == [None, 50.0, 0.0, None, None, None]
    north = a.filter(pl.col("level") == "North")
    assert north.get_column("n").to_list() == [2, 2, 2, 1, 1, 1]
    assert set(a.get_column("subgroup")) == {"clinic"}
