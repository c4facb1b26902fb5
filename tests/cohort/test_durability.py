"""The durability section against an independent Kaplan-Meier (scipy.stats.ecdf on
CensoredData) of the same episodes."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from kapoutcomes.cohort import durability
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, episodes
from tests.builders import SIX, induction, patient, score, tables_of


def test_overall_median_equals_scipy_kaplan_meier():
    # five patients, complete induction (ends day 11), baseline pain 8; each responds (4) on
    # day 14 and loses response (two scores of 7) at day 14 + 7k, or stays responding.
    rows, sess, pats = [], [], []
    for i, lose in enumerate([21, 28, 35, None, 42], start=1):
        pats.append(patient(i))
        sess += induction(i, SIX)
        rows += [score(i, -1, 8), score(i, 14, 4)]
        if lose is None:
            rows += [score(i, 30, 4)]
        else:
            rows += [score(i, lose, 7), score(i, lose + 2, 7)]
    t = tables_of(pats, sess, rows)
    s = Settings()
    ep = episodes.response_episodes(
        change.changes(t["assessments"], t["sessions"], s), t["sessions"], s
    )
    pain = ep.filter(ep["instrument"] == "pain_nrs")
    d = durability.durability(pain, patient_groups(t["patients"], t["sessions"]), s)
    row = d.summary.filter(d.summary["instrument"] == "pain_nrs").row(0, named=True)
    dur = pain.get_column("duration_days").to_numpy()
    ev = pain.get_column("event").to_numpy()
    ref = stats.ecdf(stats.CensoredData(uncensored=dur[ev], right=dur[~ev])).sf
    # the first time the survival function reaches 0.5 or below
    q = ref.quantiles[np.argmax(ref.probabilities <= 0.5)]
    assert row["median_days"] == q


def test_primary_curve_counts_the_response_rates_patients_only():
    # Independent hand count (docs/definitions.md, "Eligible" and "Durability"): PHQ-9
    # response = >= 50% below baseline, eligible = baseline >= 10 (HEDIS DRR-E, NQF 0710).
    # Complete induction, ends day 11; end-of-induction (EOI) score = day 14.
    # 1: baseline 16, EOI 6 (62.5%): responder; lost day 42 (42 and 56 below): 31 days.
    # 2: baseline 4 (not eligible), EOI 1 (75%): not a responder of the rates, so not on
    #    the curve (it was counted as a responder before).
    # 3: baseline 12, EOI 10 (16.7%): non-responder.
    # 4: baseline 18, no score after induction: ITT, not evaluable.
    # 5: no baseline (first score day 14): counted as not evaluable, as before.
    # Rates and curve alike: 1 responder of 2 evaluable. Rates' ITT: 1, 3, 4; the curve's
    # also counts 5 (no baseline): 4. Patient 2 is in neither (not eligible).
    from kapoutcomes.cohort.summary import cohort_summary

    phq9 = {
        1: [(-2, 16), (14, 6), (28, 6), (42, 12), (56, 12)],
        2: [(-2, 4), (14, 1), (28, 1), (56, 1)],
        3: [(-2, 12), (14, 10), (56, 10)],
        4: [(-2, 18)],
        5: [(14, 8), (56, 8)],
    }
    rows = [score(i, d, v, inst="phq9") for i, pts in phq9.items() for d, v in pts]
    sess = [s for i in phq9 for s in induction(i, SIX)]
    t = tables_of([patient(i) for i in phq9], sess, rows)
    summary = cohort_summary(t, comparisons=())
    rate = (
        summary["response"]
        .frames["rates"]
        .filter((pl.col("instrument") == "phq9") & (pl.col("measure") == "response"))
        .row(0, named=True)
    )
    assert (rate["n"], rate["denominator"], rate["itt_denominator"]) == (1, 2, 3)
    dur = summary["durability"].frames["summary"].filter(pl.col("instrument") == "phq9")
    row = dur.row(0, named=True)
    assert (row["responders"], row["evaluable"], row["itt_denominator"]) == (1, 2, 4)
    assert (row["non_responders"], row["not_evaluable"], row["n"], row["events"]) == (1, 2, 1, 1)
    assert row["median_days"] == 31.0  # day 42 - day 11, the only patient on the curve
