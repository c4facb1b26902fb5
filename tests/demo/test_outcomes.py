"""The demo cohort's scores and opioids (kapoutcomes.demo.outcomes): within the instruments'
ranges, after referral, and with MME only where a factor exists."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes.definitions import instruments
from kapoutcomes.demo import course, outcomes
from kapoutcomes.demo.draws import nan_to_null
from kapoutcomes.demo.params import ANCHOR


def test_scores_within_each_instruments_range(small_cohort):
    a = small_cohort.tables["assessments"]
    totals = a.filter(pl.col("item").is_null())
    for inst, (lo, hi) in {"pain_nrs": (0, 10), "phq9": (0, 27), "gad7": (0, 21)}.items():
        s = totals.filter(pl.col("instrument") == inst).get_column("score")
        assert s.len() > 0 and s.min() >= lo and s.max() <= hi, inst
    item9 = a.filter(pl.col("item") == instruments.PHQ9_ITEM9).get_column("score")
    assert item9.len() > 0 and set(item9.unique()) <= {0.0, 1.0, 2.0, 3.0}


def test_opioids_have_mme_except_buprenorphine(small_cohort):
    op = small_cohort.tables["opioids"]
    no_mme = op.filter(pl.col("daily_mme").is_null()).get_column("ingredient")
    assert set(no_mme) == {"buprenorphine"}  # at least one patient on it when n >= 20
    assert (op.filter(pl.col("stop_date").is_not_null())
              .select((pl.col("stop_date") >= pl.col("start_date")).all()).item())  # fmt: skip


def test_draw_opioids_directly_is_reproducible():
    def run() -> pl.DataFrame:
        rng = np.random.default_rng(12)
        p = course.draw_patients(rng, 30)
        d = course.draw_dosing(rng, p)
        ids = pl.Series([f"p_{i:016x}" for i in range(30)])
        return nan_to_null(outcomes.draw_opioids(rng, p, d, ids, p["referral"]))

    a, b = run(), run()
    assert a.equals(b) and a.height > 0
    assert a.get_column("start_date").min() >= ANCHOR.replace(year=ANCHOR.year - 20)
