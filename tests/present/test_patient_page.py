"""The Patient view's dating and staleness rules, worked by hand on tiny patients
(present.patient_page, outcomes.maintenance_review's words). D0 = 1 Jan 2024 09:00."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.present import patient_page
from tests.builders import D0, SIX, induction, maintenance_patient, patient, pid, score, session
from tests.builders import tables_of as tables

S = Settings()
TODAY = dt.date(2026, 12, 1)


def view(t, i: int = 1, s: Settings = S, **kw):
    return patient_page.patient_view(t, pid(i), s, today=TODAY, **kw)


def with_late_session(t: dict[str, pl.DataFrame], day: int) -> dict[str, pl.DataFrame]:
    """Another patient's session on ``day`` moves the store's data end (the as-of date)."""
    other = tables([patient(2)], [session(2, day, "induction", 0)])
    return {k: pl.concat([t[k], other[k]]) for k in t}


def test_a_score_14_months_old_is_dated_and_flagged_stale():
    # patient 1's last pain score: day 80 = 21 Mar 2024 (3 points). Data end: day 505 =
    # 20 May 2025 (21 Mar 2025 + 60 days), 425 days later (about 14 months) -> stale (default 30 days).
    v = view(with_late_session(maintenance_patient(), 505))
    pain = v.facts["pain_nrs"]
    assert pain.latest_at == dt.datetime(2024, 3, 21, 9) and pain.latest_age_days == 425
    assert pain.stale
    shown = {h.label: (h.value, h.delta) for h in v.headlines}
    assert shown["Pain (0-10) ⚠ stale"] == ("3", "21 Mar 2024 · 425 days old")
    assert shown["Pain trend (6 wk) ⚠ stale"][1] == "to 21 Mar 2024 · 425 days old"
    assert v.facts_text[0].startswith("**Pain:** pain 3 on 21 Mar 2024 (stale: 425 days")
    assert any("is 425 days before the as-of date (stale after 30 days" in n for n in v.stale)
    assert v.as_of_text.startswith("As of 20 May 2025: the latest record in the store")
    assert "not today (1 Dec 2026" in v.as_of_text


def test_a_recent_score_is_dated_not_stale_and_benefit_in_whole_days():
    # data end = day 80 (the last score) -> 0 days old. Benefit after the induction's last
    # infusion (day 11, lost day 28) = 17 days; after the booster (day 40, lost day 70) = 30.
    # Last infusion: maintenance on day 75 = 16 Mar 2024 -> day 5.
    v = view(maintenance_patient(), s=Settings(stale_score_days=30))
    pain = v.facts["pain_nrs"]
    assert pain.latest_age_days == 0 and not pain.stale
    assert [n for n in v.stale if n.startswith("Pain")] == []
    shown = {h.label: (h.value, h.delta) for h in v.headlines}
    assert shown["Pain (0-10)"] == ("3", "21 Mar 2024")
    assert shown["Responding (≥30%)"] == ("Yes", "62% below baseline 8")
    assert shown["Since last infusion"] == ("day 5", "maintenance · 16 Mar 2024")
    assert shown["Benefit lasted"] == ("17-30 days", "after the last 2 infusions")
    assert (
        "benefit after the last two infusions lasted 17-30 days; day 5 since the last "
        in (v.facts_text[0])
    )
    assert v.benefit.get_column("benefit_days").dtype == pl.Int32
    assert v.benefit.filter(pl.col("measure") == "Pain")["benefit_days"].to_list() == [17, 30, 5]


def test_a_booster_without_a_later_score_says_no_score_since():
    # induction days 0-11, pain 8 on day -2 (baseline), 4 on day 14 (50% below: responding);
    # booster on day 40 = 10 Feb 2024 with no score after it (data end = the booster).
    t = tables(
        [patient(1)],
        [*induction(1, SIX), session(1, 40, "booster", 7)],
        [score(1, -2, 8), score(1, 14, 4)],
    )
    v = view(t)
    pain = v.facts["pain_nrs"]
    assert pain.score_since_last_dose is False
    assert "no pain score since this booster" in v.facts_text[0]
    assert "Pain: no pain score since the booster on 10 Feb 2024." in v.stale
    booster = v.benefit.filter((pl.col("measure") == "Pain") & (pl.col("type") == "booster"))
    assert booster["status"].to_list() == ["no score since"]
    assert "no response" not in v.benefit["status"].to_list()


def test_induction_one_of_six():
    t = tables([patient(1)], [session(1, 0, "induction", 0)], [score(1, -1, 7), score(1, 3, 5)])
    v = view(t)
    ind = next(h for h in v.headlines if h.label == "Induction infusions")
    assert (ind.value, ind.delta) == ("1 of 6", "incomplete")
    assert "induction: 1 of 6 infusions (incomplete)" in v.facts_text[0]


def test_a_patient_without_sessions_has_dated_scores_a_date_axis_and_the_baseline_reason():
    # 16 weekly pain scores, no session: the latest score is shown (dated), the baseline
    # cannot be set (the rule needs a first infusion) and the reason is stated.
    scores = [score(1, 7 * k, 6 + (k % 3)) for k in range(16)]
    v = view(tables([patient(1)], [], scores))
    pain = v.facts["pain_nrs"]
    assert pain.latest_score == 6 + (15 % 3) and pain.latest_at == dt.datetime(2024, 4, 15, 9)
    assert pain.baseline is None and "no infusion recorded" in pain.baseline_status
    assert "no baseline: no infusion recorded" in v.facts_text[0]
    assert pain.slope_per_week is not None  # the trend of the scores alone
    fig = v.timeline
    assert all(fig.layout[f"xaxis{k if k > 1 else ''}"].type == "date" for k in range(1, 6))
    assert v.benefit.height == 0


def test_as_of_today_when_the_store_holds_todays_records():
    t = tables([patient(1)], [session(1, 0, "induction", 0)], [score(1, -1, 7)])
    v = patient_page.patient_view(t, pid(1), S, today=dt.date(2024, 1, 1))
    assert v.as_of_text.startswith("As of today, 1 Jan 2024")
    assert not any("store's latest record" in n for n in v.stale)


def test_benefit_still_running_at_each_next_infusion_is_stated_as_at_least():
    # baseline 8 (day -2); 3 on days 14, 45 and 85 (62.5% below: responding throughout);
    # maintenance on days 40 and 80. Induction end (day 11) -> day 40: 29 days and day 40 ->
    # day 80: 40 days, both still responding at the next infusion: "at least 29-40 days".
    t = tables(
        [patient(1)],
        [*induction(1, SIX), session(1, 40, "maintenance", 7), session(1, 80, "maintenance", 8)],
        [score(1, -2, 8), score(1, 14, 3), score(1, 45, 3), score(1, 85, 3)],
    )
    v = view(t)
    shown = {h.label: (h.value, h.delta) for h in v.headlines}
    assert shown["Benefit lasted"] == ("≥ 29-40 days", "response not lost")
    assert "benefit lasted at least 29-40 days (still responding" in v.facts_text[0]


def test_induction_longer_than_a_course_is_not_written_8_of_6():
    # a clinic store showed "Induction infusions 8 of 6": the course ran longer than the
    # setting's 6, which reads as a typo; the count and what is beyond the course are stated
    eight = [*SIX, SIX[-1] + 2, SIX[-1] + 4]
    t = tables([patient(1)], induction(1, eight), [score(1, -1, 7), score(1, eight[-1] + 3, 5)])
    v = view(t)
    ind = next(h for h in v.headlines if h.label == "Induction infusions")
    assert (ind.value, ind.delta) == ("8", "complete · 2 beyond the course")
    assert "induction: 8 infusions (complete; 2 beyond a course of 6)" in v.facts_text[0]


def test_a_score_stamped_at_the_next_infusions_start_counts_for_the_infusion_before():
    """Clinical check (issue 14): a wide export stamps the before-dose score with the visit
    time, the session's start; the score tells what the previous dose did. By hand (response
    = >= 30% below the baseline 8, i.e. <= 5.6): induction days 0-11, boosters day 30 and
    day 50 at 09:00; pain 4 on day 14; 5 before dosing at 09:00 on day 30; 4 before dosing at
    09:00 on day 50, and nothing after. After the induction: responding until the day-30
    booster ended it, 30 - 11 = 19 days. After the day-30 booster: the day-50 score (4) shows
    response until the day-50 booster, 20 days (it read "no score since"). After the day-50
    booster: no score since."""
    sess = [*induction(1, SIX), session(1, 30, "booster", 6), session(1, 50, "booster", 7)]
    pain = [
        score(1, -2, 8, timing="baseline"),
        score(1, 14, 4),
        score(1, 30, 5, timing="before_dose", sid="s1_6"),
        score(1, 50, 4, timing="before_dose", sid="s1_7"),
    ]
    t = tables([patient(1)], sess, pain)
    ben = patient_page.benefit_after_infusions(t, Settings())
    assert ben.select("infusion", "type", "benefit_days", "status").rows() == [
        ("2024-01-12", "induction", 19, "booster"),
        ("2024-01-31", "booster", 20, "booster"),
        ("2024-02-20", "booster", None, "no score since"),
    ]


def test_day_since_the_last_infusion_counts_calendar_days():
    """Clinical check (issue 14): "day N" is counted on the calendar, as a score's age is.
    By hand: the last infusion on day 11 at 09:00 (12 Jan 2024), the data end (a score) on
    day 18 at 21:30: 7 calendar days, though 7.52 days of time (rounding said "day 8")."""
    sess = induction(1, SIX)
    pain = [score(1, -2, 8, timing="baseline"), score(1, 18 + 12.5 / 24, 4)]
    v = view(tables([patient(1)], sess, pain))
    shown = {h.label: (h.value, h.delta) for h in v.headlines}
    assert shown["Since last infusion"] == ("day 7", "induction · 12 Jan 2024")
    assert "day 7 since the last infusion (induction, 12 Jan 2024)" in v.facts_text[0]
    assert v.facts["pain_nrs"].latest_age_days == 0


def test_the_review_lines_add_phq9_remission_and_opioids_once_each():
    """Left alone last session, now built: the Patient view said nothing of PHQ-9 remission
    or of opioids now against baseline. Patient 1: PHQ-9 20 before the first dose (day -2),
    4 on day 14: 80% below baseline and in remission (below 5). Oxycodone 40 mg/day from
    before the first infusion (60 MME), 20 mg/day (30 MME) from day 50 with the first
    stopped on day 49: 30 MME/day at the data end (day 80), 50% lower. The PHQ-9 line does
    not repeat the day since the last infusion or the induction (the pain line says them)."""
    t = maintenance_patient()
    t["assessments"] = pl.concat(
        [t["assessments"], tables([], [], [score(1, -2, 20, "phq9"), score(1, 14, 4, "phq9")])[
            "assessments"
        ]]
    )  # fmt: skip
    rx = [("oxycodone", 40.0, -100, 49), ("oxycodone", 20.0, 50, None)]
    t["opioids"] = tables([], [], [], [
        {"patient_id": pid(1), "ingredient": ing, "unit": "mg", "daily_dose": dose,
         "start_date": (D0 + dt.timedelta(days=a)).date(),
         "stop_date": None if b is None else (D0 + dt.timedelta(days=b)).date(),
         "mme_table": "CDC-2022"}
        for ing, dose, a, b in rx
    ])["opioids"]  # fmt: skip
    v = view(t)
    pain, phq, opioids = v.facts_text
    assert "day 5 since the last infusion" in pain and "induction: 6 of 6" in pain
    assert phq.startswith("**PHQ-9:** PHQ-9 depression 4 on 15 Jan 2024")
    assert "80% below baseline (20); in remission (score below 5" in phq
    assert "since the last infusion" not in phq and "induction" not in phq
    assert opioids.startswith(
        "**Opioids:** 30 MME/day on the as-of date (21 Mar 2024), 60 at the first infusion "
        "(1 Jan 2024): 50% lower;"
    )
    assert "Opioids:</b> 30 MME/day" in v.summary_html


def test_a_patient_without_opioid_records_is_said_to_have_none_recorded():
    """Found by the clinical review: with no opioid record the line was left out, which a
    clinician could read as "not on opioids". It now says none is recorded in the store (the
    clinic may not have imported its medication export), on the page and the printout."""
    v = view(maintenance_patient())
    assert v.facts_text[-1] == "**Opioids:** no opioid prescription recorded in the store."
    assert "Opioids:</b> no opioid prescription recorded in the store." in v.summary_html
