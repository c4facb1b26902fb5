"""A small demo cohort shared by the demo tests (generating it once per session)."""

from __future__ import annotations

import pytest

from kapoutcomes.demo import generator


@pytest.fixture(scope="session")
def small_cohort() -> generator.SampleCohort:
    return generator.generate(seed=5, patients=80)
