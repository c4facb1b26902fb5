"""The demo treatment course (kapoutcomes.demo.course): patients, dosing days and sessions
keep the rules the catalogue states."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import course
from kapoutcomes.demo.params import ANCHOR, END_DAY


def _weekday(days: np.ndarray) -> np.ndarray:
    return (np.datetime64(ANCHOR, "D") + days.astype("timedelta64[D]")).astype(
        "datetime64[D]"
    ).astype(np.int64) % 7


def test_patients_follow_the_screening_and_attrition_rules():
    p = course.draw_patients(np.random.default_rng(3), 2000)
    assert (p["n_induction"][p["screen_fail"]] == 0).all()
    assert (p["n_post"][p["n_induction"] == 0] == 0).all()
    assert p["age"].min() >= 19 and p["age"].max() <= 93
    assert ((p["age"] <= 86) | (p["age"] >= 90)).all()
    assert p["weight"].min() >= 45 and p["weight"].max() <= 160
    # about 20% stop after the first infusion (Osmind), a little more if not helped
    dosed = p["n_induction"] > 0
    assert 0.12 < (p["n_induction"][dosed] == 1).mean() < 0.30
    # screening visits on weekdays (1970-01-01 was a Thursday: Monday = 4 here)
    assert set(np.unique(_weekday(p["screening"]))) <= {4, 5, 6, 0, 1}


def test_dosing_days_are_ordered_weekdays_before_the_end():
    rng = np.random.default_rng(4)
    p = course.draw_patients(rng, 400)
    d = course.draw_dosing(rng, p)
    assert (d["day"] <= END_DAY).all()
    assert set(np.unique(_weekday(d["day"]))) <= {4, 5, 6, 0, 1}
    order = np.lexsort((d["day"], d["pid"]))
    assert (order == np.arange(len(order))).all()  # sorted by patient, then day
    # within a patient: ordinals count up and induction (kind 0) comes first
    for pid in np.unique(d["pid"])[:100]:
        m = d["pid"] == pid
        assert d["j"][m].tolist() == list(range(m.sum()))
        kinds = d["kind"][m]
        assert (np.diff((kinds != 0).astype(int)) >= 0).all()


def test_same_seed_same_draws():
    a = course.draw_patients(np.random.default_rng(9), 50)
    b = course.draw_patients(np.random.default_rng(9), 50)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_serious_events_only_at_a_patients_last_dose(small_cohort):
    t = small_cohort.tables
    ae = t["adverse_events"]
    assert set(ae.get_column("event")) <= set(tables.EVENTS)
    last = (
        t["sessions"]
        .filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
        .sort("started_at")
        .group_by("patient_id")
        .agg(pl.col("session_id").last())
    )
    serious = ae.filter(pl.col("serious"))
    linked = serious.get_column("session_id").drop_nulls()  # some events are left unlinked
    assert linked.len() > 0
    assert set(linked) <= set(last.get_column("session_id"))
    assert set(serious.get_column("event")) <= set(tables.SERIOUS_EVENTS)
