"""Attrition through the pathway (kapoutcomes.cohort.attrition) on four patients worked by hand.

1 (South): referred only.  2 (South): a screening visit, never dosed.
3 (North): screened, 6 infusions (complete), a score on day 20 after the course ended on day
11, a maintenance infusion day 60.  4 (North): 2 induction infusions, no score afterwards.

The counts are nested (each stage a subset of the one before); a property test checks that on
random cohorts no stage ever counts more patients than the one before it.
"""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

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
    assert a.get_column("reached").to_list() == [4, 3, 2, 1, 1, 1]
    assert a.get_column("population").to_list() == [attrition.STAGE_POPULATIONS[s] for s in STAGES]
    assert set(a.get_column("denominator")) == {4}
    assert a.get_column("pct_of_referred").to_list() == [100.0, 75.0, 50.0, 25.0, 25.0, 25.0]
    # of those at the previous stage, the % at this one: 3/4, 2/3, 1/2, 1/1, 1/1
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


def test_follow_up_without_a_completed_induction_is_not_in_the_funnel():
    """Patient 5 had 2 induction infusions and a score on day 20: a follow-up score, but not
    after a completed induction. The nested count leaves them out of 'any follow-up' (and of
    maintenance, given on day 60); ``reached`` still counts them, so nobody is dropped
    silently."""
    t = tables_of(
        [patient(3), patient(5)],
        [
            *induction(3, SIX),
            session(3, 60, "maintenance", 9),
            *induction(5, [0, 2]),
            session(5, 60, "maintenance", 9),
        ],
        [score(3, -1, 8), score(3, 20, 4), score(5, -1, 8), score(5, 20, 5)],
    )
    groups = patient_groups(t["patients"], t["sessions"])
    ind = induction_series(t["sessions"], S)
    stages = attrition.patient_stages(groups, t["sessions"], t["assessments"], ind)
    a = attrition.attrition(stages, groups, S)
    assert a.get_column("n").to_list() == [2, 2, 2, 1, 1, 1]
    assert a.get_column("reached").to_list() == [2, 2, 2, 1, 2, 2]
    assert a.get_column("pct_of_previous").to_list()[1:] == [100.0, 100.0, 50.0, 100.0, 100.0]
    assert "every earlier stage" in a.get_column("definition")[4]


_row = st.tuples(st.sampled_from(["A", "B", "C"]), *[st.booleans() for _ in STAGES[1:]])


@hsettings(max_examples=60, deadline=None)
@given(st.lists(_row, min_size=1, max_size=40))
def test_nested_counts_never_rise_on_random_cohorts(rows):
    """Whatever stages each patient reached, in any order, the funnel's counts never rise
    from one stage to the next (overall and per clinic), and each stays within the patients
    who reached that stage at all."""
    ids = [f"p{i:03d}" for i in range(len(rows))]
    stages = pl.DataFrame(
        {"patient_id": ids, "referred": [True] * len(rows)}
        | {name: [r[k + 1] for r in rows] for k, name in enumerate(STAGES[1:])}
    )
    groups = pl.DataFrame({"patient_id": ids, "clinic": [r[0] for r in rows]})
    for by in (None, "clinic"):
        a = attrition.attrition(stages, groups, S, by=by)
        for _, part in a.group_by("level"):
            n = part.get_column("n").to_list()
            assert len(n) == len(STAGES)
            assert all(b <= a for a, b in itertools.pairwise(n))
            assert all(x <= r for x, r in zip(n, part.get_column("reached"), strict=True))
            assert all(
                p is None or 0 <= p <= 100 for p in part.get_column("pct_of_previous").to_list()
            )
