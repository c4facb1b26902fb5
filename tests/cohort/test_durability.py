"""The durability section against an independent Kaplan-Meier (scipy.stats.ecdf on
CensoredData) of the same episodes."""

from __future__ import annotations

import numpy as np
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
