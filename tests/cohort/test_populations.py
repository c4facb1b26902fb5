"""Who each end-of-induction measure is about (issue 12 items 1-3): eligible populations
(baseline in the instrument's elevated range), ITT fair to recent starters (not yet due) and
completers beside all starters. Hand-worked cohorts (arithmetic in the comments) and property
tests (hypothesis). Self-contained builders, so the file can move with the tests layout."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from kapoutcomes import tables
from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings, load_settings

D0 = dt.datetime(2024, 1, 1, 9, 0)
S = Settings()
SIX = [0, 2, 4, 7, 9, 11]  # a complete 6-infusion induction ending on day 11


def _pid(i: int) -> str:
    return f"p_{i:016x}"


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = tables.empty(table).schema
    return pl.DataFrame([{c: r.get(c) for c in schema} for r in rows], schema=schema)


def _patient(i: int, clinic: str = "North") -> dict:
    return {
        "patient_id": _pid(i),
        "clinic": clinic,
        "primary_condition": "CRPS",
        "comorbid_depression": True,
        "referral_date": dt.date(2023, 6, 1),
    }


def _infusions(i: int, days: list[float], kind: str = "induction") -> list[dict]:
    return [
        {
            "session_id": f"s{i}_{n}",
            "patient_id": _pid(i),
            "started_at": D0 + dt.timedelta(days=d),
            "session_type": kind,
            "route": "IV",
            "dose_mg": 35.0,
            "care_model": "infusion_only",
            "clinician": "c1",
        }
        for n, d in enumerate(days)
    ]


def _score(i: int, day: float, value: float, inst: str) -> dict:
    return {
        "patient_id": _pid(i),
        "assessed_at": D0 + dt.timedelta(days=day),
        "instrument": inst,
        "score": float(value),
        "timing": "follow_up",
    }


def _tables(patients, sessions, scores) -> dict[str, pl.DataFrame]:
    return {
        "patients": _frame("patients", patients),
        "sessions": _frame("sessions", sessions),
        "assessments": _frame("assessments", scores),
        "opioids": tables.empty("opioids"),
        "adverse_events": tables.empty("adverse_events"),
    }


def _rates(t, s: Settings = S, **kw) -> pl.DataFrame:
    return cohort_summary(t, s, comparisons=(), **kw)["response"].frames["rates"]


def _row(rates: pl.DataFrame, inst: str, measure: str) -> dict:
    r = rates.filter((pl.col("instrument") == inst) & (pl.col("measure") == measure))
    assert r.height == 1, r
    return r.row(0, named=True)


# -- item 1: eligible populations -------------------------------------------------------------
def _phq9_cohort() -> dict[str, pl.DataFrame]:
    """Seven patients, PHQ-9 baseline on day -1 and the end-of-induction score on day 14.

    p1 12 -> 4: 66.7% reduction, response; 4 < 5 remission      (complete series)
    p2 20 -> 9: 55%, response, not remission                     (complete)
    p3 10 -> 6: 40%, neither                                     (4 infusions: not complete)
    p4  6 -> 2: baseline below 10: NOT ELIGIBLE (before: a responder in remission)
    p5  0 -> 0: baseline 0: NOT ELIGIBLE (never a silent non-responder)
    p6  none -> 3: NO BASELINE
    p7 15 -> no score in the window: ITT, not evaluable         (complete)
    p1 has a score on day 60, so the data end is after every window (day 11 + 31 = 42).
    """
    base = {1: 12, 2: 20, 3: 10, 4: 6, 5: 0, 7: 15}
    end = {1: 4, 2: 9, 3: 6, 4: 2, 5: 0, 6: 3}
    sessions = [s for i in range(1, 8) for s in _infusions(i, [0, 2, 4, 7] if i == 3 else SIX)]
    scores = [_score(i, -1, v, "phq9") for i, v in base.items()]
    scores += [_score(i, 14, v, "phq9") for i, v in end.items()]
    scores.append(_score(1, 60, 5, "phq9"))
    return _tables([_patient(i) for i in range(1, 8)], sessions, scores)


def test_phq9_response_and_remission_only_for_a_baseline_of_10_or_more():
    r = _rates(_phq9_cohort())
    resp, rem = _row(r, "phq9", "response"), _row(r, "phq9", "remission")
    # started 7 = ITT 4 (p1, p2, p3, p7) + 2 not eligible (p4, p5) + 1 without a baseline (p6)
    for x in (resp, rem):
        assert (x["started"], x["itt_denominator"], x["not_eligible"]) == (7, 4, 2)
        assert (x["missing_baseline"], x["not_yet_due"]) == (1, 0)
        assert x["not_eligible_reason"] == "baseline PHQ-9 below 10"
        assert x["excluded"] == "2 not eligible: baseline PHQ-9 below 10; 1 without a baseline"
        assert x["denominator"] == 3  # p1, p2, p3 (p7 has no end-of-induction score)
        assert "eligible = baseline >= 10" in x["definition"]
    # response: p1, p2 -> 2 of 3 evaluable, 2 of 4 ITT; remission: p1 -> 1 of 3, 1 of 4
    assert (resp["n"], resp["rate"], resp["itt_rate"]) == (2, 2 / 3, 2 / 4)
    assert (rem["n"], rem["rate"], rem["itt_rate"]) == (1, 1 / 3, 1 / 4)
    assert rem["n"] <= resp["n"]


def test_completers_and_all_starters_side_by_side():
    r = _rates(_phq9_cohort())
    resp, rem = _row(r, "phq9", "response"), _row(r, "phq9", "remission")
    # completers (6 infusions): p1, p2 evaluable, p7 not; p3 had 4 infusions
    assert (resp["completers_n"], resp["completers_denominator"]) == (2, 2)
    assert resp["completers_rate"] == 1.0 and resp["completers_itt_denominator"] == 3
    assert (rem["completers_n"], rem["completers_denominator"]) == (1, 2)
    # all starters: 2 of 3 (p3, not a completer, did not respond)
    assert (resp["n"], resp["denominator"]) == (2, 3)


def test_the_eligible_baseline_is_a_setting():
    # with phq9_baseline_min = 5, p4 (6 -> 2: 66.7%, remission) joins: 3 of 4 respond, 2 in
    # remission; only p5 (baseline 0) stays outside
    r = _rates(_phq9_cohort(), load_settings(phq9_baseline_min=5.0))
    resp, rem = _row(r, "phq9", "response"), _row(r, "phq9", "remission")
    assert (resp["n"], resp["denominator"], resp["not_eligible"]) == (3, 4, 1)
    assert (rem["n"], rem["denominator"]) == (2, 4)
    assert resp["not_eligible_reason"] == "baseline PHQ-9 below 5"


def test_pain_response_needs_a_baseline_of_4_and_the_vas_scales_it():
    # pain NRS: p1 8 -> 4 (50%), p2 3 -> 1 (66.7%, but baseline 3 < 4: not eligible),
    # p3 4 -> 2 (50%, baseline exactly 4: eligible). VAS (0-100): p1 35 -> 10 (not eligible,
    # below 40), p2 60 -> 30 (50%). Data end day 60.
    scores = [
        _score(1, -1, 8, "pain_nrs"),
        _score(1, 14, 4, "pain_nrs"),
        _score(2, -1, 3, "pain_nrs"),
        _score(2, 14, 1, "pain_nrs"),
        _score(3, -1, 4, "pain_nrs"),
        _score(3, 14, 2, "pain_nrs"),
        _score(1, -1, 35, "pain_vas"),
        _score(1, 14, 10, "pain_vas"),
        _score(2, -1, 60, "pain_vas"),
        _score(2, 14, 30, "pain_vas"),
        _score(3, 60, 2, "pain_nrs"),
    ]
    t = _tables([_patient(i) for i in (1, 2, 3)], [*_infusions(1, SIX), *_infusions(2, SIX), *_infusions(3, SIX)], scores)  # fmt: skip
    r = _rates(t)
    nrs = _row(r, "pain_nrs", "response")
    assert (nrs["n"], nrs["denominator"], nrs["not_eligible"]) == (2, 2, 1)
    assert nrs["excluded"] == "1 not eligible: baseline pain NRS below 4"
    vas = _row(r, "pain_vas", "response")
    # p3 has no VAS score at all: started 3 = 1 eligible + 1 not eligible + 1 without baseline
    assert (vas["n"], vas["denominator"], vas["not_eligible"], vas["missing_baseline"]) == (
        1,
        1,
        1,
        1,
    )
    assert vas["not_eligible_reason"] == "baseline pain VAS below 40"


# -- item 2: ITT fair to recent starters --------------------------------------------------------
def _recent_cohort(extra_day: float | None = None) -> dict[str, pl.DataFrame]:
    """Pain NRS; the data end is day 30 (q1's last score) unless ``extra_day`` moves it.

    q1 induction days 0-11: window closes day 42 > 30: NOT YET DUE (8 -> 4 on day 14, 50%)
    q2 induction days -60..-49 (closes day -18): due; 7 -> 3 on day -40 (57%): responder
    q3 one infusion on day -60, then stopped (closes day -29): due, no score: ITT only
    q4 induction days -60..-49, baseline 3: not eligible
    """
    early = [d - 60 for d in SIX]
    sessions = [*_infusions(1, SIX), *_infusions(2, early), *_infusions(3, [-60])]
    sessions += _infusions(4, early)
    scores = [
        _score(1, -1, 8, "pain_nrs"),
        _score(1, 14, 4, "pain_nrs"),
        _score(1, 30, 5, "pain_nrs"),
        _score(2, -61, 7, "pain_nrs"),
        _score(2, -40, 3, "pain_nrs"),
        _score(3, -61, 6, "pain_nrs"),
        _score(4, -61, 3, "pain_nrs"),
    ]
    if extra_day is not None:
        scores.append(_score(4, extra_day, 3, "pain_nrs"))
    return _tables([_patient(i) for i in range(1, 5)], sessions, scores)


def test_itt_leaves_out_patients_whose_window_is_still_open():
    x = _row(_rates(_recent_cohort()), "pain_nrs", "response")
    # started 4 = ITT 2 (q2, q3) + 1 not yet due (q1) + 1 not eligible (q4)
    assert (x["started"], x["itt_denominator"], x["not_yet_due"], x["not_eligible"]) == (
        4,
        2,
        1,
        1,
    )
    # evaluable: q2 only (q1 is not yet due although scored): 1 of 1; ITT 1 of 2
    assert (x["n"], x["denominator"], x["itt_rate"]) == (1, 1, 0.5)
    # completers: q2 (6 infusions); q3 stopped after one
    assert (x["completers_n"], x["completers_denominator"], x["completers_itt_denominator"]) == (
        1,
        1,
        1,
    )
    assert "1 not yet due" in x["excluded"]


def test_itt_counts_the_patient_once_the_window_has_closed():
    # a score on day 42 (= day 11 + 31) closes q1's window: q1 is due, evaluable and responds
    x = _row(_rates(_recent_cohort(extra_day=42)), "pain_nrs", "response")
    assert (x["itt_denominator"], x["not_yet_due"], x["n"], x["denominator"]) == (3, 0, 2, 2)
    # the same with an explicit as_of instead of a later record
    y = _row(_rates(_recent_cohort(), as_of=D0 + dt.timedelta(days=42)), "pain_nrs", "response")
    assert (y["itt_denominator"], y["n"]) == (3, 2)


# -- property tests -----------------------------------------------------------------------------
_phq9 = st.integers(0, 27)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), _phq9), st.one_of(st.none(), _phq9), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_remission_never_exceeds_response_and_a_baseline_of_0_is_never_silent(patients):
    """(baseline or none, end-of-induction score or none, complete series) per patient."""
    sessions, scores = [], []
    for i, (b, e, complete) in enumerate(patients, 1):
        sessions += _infusions(i, SIX if complete else [0, 2])
        if b is not None:
            scores.append(_score(i, -1, b, "phq9"))
        if e is not None:
            scores.append(_score(i, 14, e, "phq9"))
    scores.append(_score(1, 90, 5, "phq9"))  # data end after every window
    t = _tables([_patient(i, "A" if i % 2 else "B") for i in range(1, len(patients) + 1)], sessions, scores)  # fmt: skip
    full = cohort_summary(t, S, comparisons=("clinic",))
    rates = pl.concat(
        [full["response"].frames["rates"], full["comparisons"].frames["response"]],
        how="diagonal_relaxed",
    ).filter(pl.col("instrument") == "phq9")
    for (_sub, _lvl), g in rates.group_by("subgroup", "level"):
        resp = g.filter(pl.col("measure") == "response").row(0, named=True)
        rem = g.filter(pl.col("measure") == "remission").row(0, named=True)
        assert rem["n"] <= resp["n"], (resp, rem)  # remission implies response from >= 10
        assert rem["denominator"] == resp["denominator"]
        assert resp["started"] == (
            resp["itt_denominator"]
            + resp["missing_baseline"]
            + resp["not_eligible"]
            + resp["not_yet_due"]
        )
    overall = rates.filter(pl.col("subgroup") == "all")
    resp = overall.filter(pl.col("measure") == "response").row(0, named=True)
    # every baseline below 10 (0 included) is counted as not eligible, never in a denominator
    below = sum(1 for b, _e, _c in patients if b is not None and b < 10)
    assert resp["not_eligible"] == below
    assert resp["itt_denominator"] == sum(1 for b, _e, _c in patients if b is not None and b >= 10)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 120), st.integers(1, 6), st.integers(0, 10), st.integers(1, 45)),
        min_size=1,
        max_size=10,
    ),
    st.integers(20, 160),
)
def test_itt_never_counts_a_not_yet_due_patient(patients, end_day):
    """(start day, infusions every 2 days, baseline pain, days from the last infusion to the
    end-of-induction score) per patient; nothing is recorded after ``end_day`` (data end)."""
    sessions, scores, expected_itt, expected_not_due = [], [], 0, 0
    for i, (start, k, b, after) in enumerate(patients, 1):
        days = [start + 2 * j for j in range(k) if start + 2 * j <= end_day]
        if not days:
            continue  # never dosed by the data end: not a starter
        sessions += _infusions(i, days)
        scores.append(_score(i, start - 1, b, "pain_nrs"))
        if days[-1] + after <= end_day:
            scores.append(_score(i, days[-1] + after, max(0, b - 3), "pain_nrs"))
        if b >= 4:  # eligible
            if days[-1] + S.end_of_induction_window_days <= end_day:
                expected_itt += 1
            else:
                expected_not_due += 1
    if not sessions:
        return
    t = _tables([_patient(i) for i in range(1, len(patients) + 1)], sessions, scores)
    rates = _rates(t, as_of=D0 + dt.timedelta(days=end_day))
    x = _row(rates, "pain_nrs", "response")
    assert x["itt_denominator"] == expected_itt
    assert x["not_yet_due"] == expected_not_due
    assert x["denominator"] <= x["itt_denominator"]


def test_a_baseline_at_the_floor_is_not_eligible_for_an_instrument_without_a_cut_off():
    # BPI interference has no published cut-off: p1 baseline 0 -> 0 cannot improve by the
    # 1-point MCID: not eligible (stated), not a non-responder; p2 3 -> 1.5 (MCID met), p3
    # 0.5 -> 0.5 (eligible, not met): 1 of 2. Data end day 60.
    scores = [
        _score(1, -1, 0, "bpi_interference"),
        _score(1, 14, 0, "bpi_interference"),
        _score(2, -1, 3, "bpi_interference"),
        _score(2, 14, 1.5, "bpi_interference"),
        _score(3, -1, 0.5, "bpi_interference"),
        _score(3, 14, 0.5, "bpi_interference"),
        _score(3, 60, 0.5, "bpi_interference"),
    ]
    t = _tables([_patient(i) for i in (1, 2, 3)], [s for i in (1, 2, 3) for s in _infusions(i, SIX)], scores)  # fmt: skip
    x = _row(_rates(t), "bpi_interference", "mcid_improved")
    assert (x["n"], x["denominator"], x["not_eligible"], x["eligible_from"]) == (1, 2, 1, None)
    assert x["excluded"] == (
        "1 not eligible: baseline BPI interference at the best possible score (no room to improve)"
    )
