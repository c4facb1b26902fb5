"""Each cohort statistic that has two named entry points, one for the patients' rows and one
for their per-cell sums (``cohort.groups.rollup``), gives the same rows from both, overall and
by every comparison dimension; and cells of cells (``rollup_cells``) equal the cells."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kapoutcomes.cohort import response, safety
from kapoutcomes.cohort.groups import (
    GROUP_DIMENSIONS,
    attach_groups,
    patient_groups,
    rollup,
    rollup_cells,
)
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo import generator
from kapoutcomes.outcomes import change, episodes, induction

S = Settings()
BY = (None, *GROUP_DIMENSIONS)


@pytest.fixture(scope="module")
def cohort():
    t = generator.generate(seed=3, patients=150).tables
    groups = patient_groups(t["patients"], t["sessions"])
    base = change.baselines(t["assessments"], t["sessions"], S)
    ch = change.changes(t["assessments"], t["sessions"], S, base=base)
    ind = induction.induction_series(t["sessions"], S)
    eoi = induction.end_of_induction(ch, ind, S)
    due = induction.end_of_induction_due(groups, ind, S, episodes.data_end(t))
    itt = response.itt_population(groups, t["assessments"], S)
    return t, groups, base, eoi, response.measure_population(itt, base, due, S)


@pytest.mark.parametrize("by", BY)
def test_response_rates_from_patients_equal_those_from_cells(cohort, by):
    _t, groups, _base, eoi, population = cohort
    from_patients = response.response_rates(eoi, population, groups, S, by)
    counts = rollup(
        response.response_counts(eoi, attach_groups(population, groups)),
        ["instrument"],
        response.COUNT_COLUMNS,
    )
    from_cells = response.response_rates_from_cells(counts, S, by)
    assert from_patients.height > 0
    assert_frame_equal(from_patients, from_cells)


@pytest.mark.parametrize("by", BY)
def test_adverse_event_rates_from_tables_equal_those_from_cells(cohort, by):
    t, groups, *_ = cohort
    from_tables = safety.adverse_event_rates(t["adverse_events"], t["sessions"], groups, S, by)
    counts = safety.adverse_event_counts(t["adverse_events"], t["sessions"])
    halves = [
        safety.AdverseEventCounts(
            rollup(
                attach_groups(part(counts.events), groups), ["dimension", "category"], ["events"]
            ),
            rollup(attach_groups(part(counts.exposure), groups), ["session_route"], ["sessions"]),
        )
        for part in (lambda f: f.head(f.height // 2), lambda f: f.tail(f.height - f.height // 2))
    ]
    # the cells of two halves of the rows, summed again, are the cells of all the rows
    cells = safety.AdverseEventCounts(
        rollup_cells(pl.concat([h.events for h in halves]), ["dimension", "category"], ["events"]),
        rollup_cells(pl.concat([h.exposure for h in halves]), ["session_route"], ["sessions"]),
    )
    from_cells = safety.adverse_event_rates_from_cells(cells, S, by)
    assert from_tables.height > 0
    assert_frame_equal(from_tables, from_cells)


@pytest.mark.parametrize("by", BY)
def test_excursion_summary_from_sessions_equals_those_from_counts_and_cells(cohort, by):
    t, groups, *_ = cohort
    exc = safety.vital_excursions(t["sessions"], S)
    from_sessions = safety.excursion_summary(exc, groups, S, by)
    counts = safety.excursion_counts(exc)
    cells = rollup(attach_groups(counts, groups), ["excursion"], ["n", "denominator", "patients"])
    assert from_sessions.height > 0
    assert_frame_equal(from_sessions, safety.excursion_summary_from_counts(counts, groups, S, by))
    assert_frame_equal(from_sessions, safety.excursion_summary_from_counts(cells, groups, S, by))
