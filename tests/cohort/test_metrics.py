"""Per-patient metrics for the cohort (kapoutcomes.cohort.metrics): computed in parts of a few
patients they equal the whole-cohort computation, and the hand-worked maintenance patient's
figures come through."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.cohort import metrics, summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo import generator
from tests.builders import D0, maintenance_patient

S = Settings()


def _sorted(f: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in f.columns if f.schema[c] != pl.List]
    return f.sort(cols, nulls_last=True)


@pytest.fixture(scope="module")
def cohort():
    tabs, _ = summary.encode_ids(generator.generate(seed=21, patients=40).tables)
    from kapoutcomes.outcomes import episodes

    return tabs, episodes.data_end(tabs)


def test_parts_equal_the_whole(cohort):
    tabs, as_of = cohort
    whole = metrics.patient_metrics(tabs, S, as_of)
    parts = metrics.patient_metrics(tabs, S, as_of, part_patients=7)  # 6 parts
    for name in metrics.PatientMetrics.__dataclass_fields__:
        a, b = getattr(whole, name), getattr(parts, name)
        if name == "adverse_events":
            for f in ("events", "exposure"):
                x, y = getattr(a, f), getattr(b, f)
                assert _sorted(x).equals(_sorted(y.select(x.columns))), (name, f)
            continue
        assert a.height == b.height, name
        assert _sorted(a).equals(_sorted(b.select(a.columns))), name
    assert whole.groups.height == 40


def test_maintenance_patient_through_patient_metrics():
    tabs, _ = summary.encode_ids(maintenance_patient(1))
    pm = metrics.patient_metrics(tabs, S, D0 + dt.timedelta(days=90))
    eoi = pm.end_of_induction.filter(pl.col("instrument") == "pain_nrs")
    assert eoi.select("score", "reduction_pct", "responder").row(0) == (4.0, 50.0, True)
    # episodes as worked in test_outcomes.py: 17, 30 and 5 days, the last censored
    ep = pm.episodes.sort("episode")
    assert ep.get_column("duration_days").to_list() == [17.0, 30.0, 5.0]
    assert ep.get_column("end_reason").to_list() == ["loss", "loss", None]
    assert pm.baselines.get_column("baseline_score").to_list() == [8.0]
    assert pm.induction.select("infusions", "completed").row(0) == (6, True)
