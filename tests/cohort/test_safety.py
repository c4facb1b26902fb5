"""Safety: must-not-miss flags, vital-sign excursions and adverse-event rates, hand-worked."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.cohort import safety
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from tests.builders import (
    D0,
    _frame,
    induction,
    patient,
    pid,
    score,
    session,
    tables_of,
)

S = Settings()


def _event(
    i: int,
    n: int,
    event: str,
    day: float,
    sid: str | None = None,
    severity: str = "mild",
    serious: bool = False,
) -> dict:
    return {
        "event_id": f"e{i}_{n}",
        "patient_id": pid(i),
        "session_id": sid,
        "event": event,
        "event_text": "text" if event == "other" else None,
        "severity": severity,
        "serious": serious,
        "onset_at": D0 + dt.timedelta(days=day),
    }


def _cohort():
    # patient 1: BP 150/85 before dose 1 (hypertensive), 140/90 before dose 2 (not: limit is
    # "above" 140/90), systolic 120 -> 145 after dose 3 (rise 25 >= 20), SpO2 88 after dose 4.
    # patient 2: PHQ-9 item 9 answers 0, 2, then 0; a psychosis event marked not serious
    # (psychosis is always serious); item 9 of GAD-7 (does not exist) is never a flag.
    ses = [
        session(1, 0, "induction", 0, bp_systolic_before=150, bp_diastolic_before=85),
        session(1, 2, "induction", 1, bp_systolic_before=140, bp_diastolic_before=90),
        session(
            1,
            4,
            "induction",
            2,
            bp_systolic_before=120,
            bp_diastolic_before=80,
            bp_systolic_after=145,
            bp_diastolic_after=85,
        ),
        session(1, 7, "induction", 3, spo2_before=97, spo2_after=88),
        *induction(2, [0, 2, 4, 7]),
        session(2, 1, "integration", 99),
    ]
    asm = [
        score(2, 1, 0, "phq9", item=9),
        score(2, 3, 2, "phq9", item=9),
        score(2, 5, 0, "phq9", item=9),
        score(1, 3, 1, "phq9", item=1),
    ]
    ev = [
        _event(1, 1, "nausea_vomiting", 0.1, "s1_0"),
        _event(1, 2, "nausea_vomiting", 2.1, "s1_1"),
        _event(1, 3, "dissociation", 2.1, "s1_1", severity="moderate"),
        _event(2, 1, "psychosis", 4.2, "s2_2", severity="severe", serious=False),
    ]
    return tables_of([patient(1), patient(2)], ses, asm, (), ev)


def test_vital_excursions_hand_worked():
    t = _cohort()
    v = safety.vital_excursions(t["sessions"], S).filter(pl.col("patient_id") == pid(1))
    assert v.get_column("hypertensive_before").to_list() == [True, False, False, None]
    assert v.get_column("bp_rise").to_list() == [None, None, True, None]
    assert v.get_column("desaturation").to_list() == [None, None, None, True]
    # limits come from settings
    v2 = safety.vital_excursions(
        t["sessions"], Settings(bp_systolic_limit=130, bp_diastolic_limit=85)
    )
    assert v2.filter(pl.col("patient_id") == pid(1)).get_column("hypertensive_before").to_list()[
        :3
    ] == [True, True, False]


def test_safety_flags_never_missed():
    t = _cohort()
    f = safety.safety_flags(t["assessments"], t["adverse_events"], t["sessions"], S)
    got = sorted(f.select("patient_id", "flag", "value").rows())
    assert got == [
        (pid(1), "hypertensive_before_dosing", "150/85"),
        (pid(1), "hypoxaemia_after_dosing", "88"),  # SpO2 88 after dose 4
        (pid(2), "phq9_item9", "2.0"),
        (pid(2), "serious_adverse_event", "psychosis"),
    ]
    assert f.get_column("source").null_count() == 0
    item9 = safety.item9_by_patient(t["assessments"])
    row = item9.row(0, named=True)
    assert row["patient_id"] == pid(2) and row["highest"] == 2 and row["latest_answer"] == 0
    assert row["status"].startswith("latest answer 0")


def test_adverse_event_rates_hand_worked():
    # 8 dosing sessions in 2 dosed patients; 4 events: overall 4 / 8 = 50 per 100 sessions,
    # exact Poisson 95% limits for 4 events (1.0899, 10.2416) / 8 * 100; patients with any
    # event 2 / 2. Nausea: 2 events (25 per 100), 1 patient of 2.
    t = _cohort()
    groups = patient_groups(t["patients"], t["sessions"])
    r = safety.adverse_event_rates(t["adverse_events"], t["sessions"], groups, S)
    overall = r.filter(pl.col("dimension") == "overall").row(0, named=True)
    assert overall["events"] == 4 and overall["sessions"] == 8
    assert overall["per_100_sessions"] == pytest.approx(50.0)
    assert overall["per_100_lower"] == pytest.approx(1.0899 / 8 * 100, abs=1e-2)
    assert overall["per_100_upper"] == pytest.approx(10.2416 / 8 * 100, abs=1e-2)
    assert overall["n"] == 2 and overall["denominator"] == 2
    nausea = r.filter(
        (pl.col("dimension") == "event") & (pl.col("category") == "nausea_vomiting")
    ).row(0, named=True)
    assert nausea["per_100_sessions"] == pytest.approx(25.0) and nausea["n"] == 1
    assert nausea["lower"] == pytest.approx(0.0126, abs=1e-4)  # Clopper-Pearson 1/2
    serious = r.filter((pl.col("dimension") == "seriousness") & (pl.col("category") == "serious"))
    assert serious.get_column("events").to_list() == [1]
    assert safety.serious_events(t["adverse_events"]).get_column("event").to_list() == ["psychosis"]
    burden = safety.adverse_event_burden(t["adverse_events"], t["sessions"])
    assert burden.get_column("events_per_100_sessions").to_list() == [75.0, 25.0]


def test_excursion_summary_counts_sessions_with_readings():
    t = _cohort()
    groups = patient_groups(t["patients"], t["sessions"])
    x = safety.excursion_summary(safety.vital_excursions(t["sessions"], S), groups, S)
    h = x.filter(pl.col("excursion") == "hypertensive_before").row(0, named=True)
    assert (h["n"], h["denominator"], h["patients"]) == (1, 3, 1)


def test_item9_of_any_patient_in_a_large_frame_is_listed():
    rows = [score(i, 1, 0, "phq9", item=9) for i in range(1, 300)] + [
        score(177, 2, 1, "phq9", item=9)
    ]
    a = _frame("assessments", rows)
    assert safety.item9_by_patient(a).get_column("patient_id").to_list() == [pid(177)]


def test_adverse_event_rates_by_route_use_session_route_exposure():
    # by="route" splits patients by the route of their first dose while the route dimension
    # counts the route of the session each event followed: the two must not be confused
    # (regression found by bench agreement: sessions were 0 for overall rows)
    t = _cohort()
    t["sessions"] = t["sessions"].with_columns(
        route=pl.when(pl.col("session_id") == "s1_3").then(pl.lit("IM")).otherwise(pl.col("route"))
    )
    groups = patient_groups(t["patients"], t["sessions"])
    r = safety.adverse_event_rates(t["adverse_events"], t["sessions"], groups, S, by="route")
    iv = r.filter((pl.col("level") == "IV") & (pl.col("dimension") == "overall")).row(0, named=True)
    assert (iv["events"], iv["sessions"], iv["denominator"]) == (4, 8, 2)
    im = r.filter(
        (pl.col("level") == "IV") & (pl.col("dimension") == "route") & (pl.col("category") == "IM")
    )
    assert im.height == 0  # no event followed the IM session
    iv_route = r.filter(
        (pl.col("level") == "IV") & (pl.col("dimension") == "route") & (pl.col("category") == "IV")
    ).row(0, named=True)
    assert (iv_route["events"], iv_route["sessions"]) == (4, 7)


def _after_dose_cohort():
    # patient 3, after-dose readings (limits: crisis above 180/120, SpO2 below 90, HR above 120):
    # dose 0: 181/100 -> crisis (systolic); dose 1: 180/120 -> none (at the limits, not above);
    # dose 2: 150/121 -> crisis (diastolic); dose 3: SpO2 89 -> hypoxaemia; dose 4: SpO2 90 ->
    # none; dose 5: HR 121 -> tachycardia; dose 6: HR 120 -> none; dose 7: nothing recorded.
    after = [
        {"bp_systolic_after": 181, "bp_diastolic_after": 100},
        {"bp_systolic_after": 180, "bp_diastolic_after": 120},
        {"bp_systolic_after": 150, "bp_diastolic_after": 121},
        {"spo2_after": 89},
        {"spo2_after": 90},
        {"heart_rate_after": 121},
        {"heart_rate_after": 120},
        {},
    ]
    ses = [session(3, n, "induction", n, **kw) for n, kw in enumerate(after)]
    return tables_of([patient(3)], ses, (), (), ())


def test_after_dose_vital_flags_hand_worked():
    t = _after_dose_cohort()
    v = safety.vital_excursions(t["sessions"], S)
    assert v.get_column("crisis_after").to_list() == [True, False, True, *[None] * 5]
    assert v.get_column("hypoxaemia_after").to_list() == [None] * 3 + [True, False] + [None] * 3
    assert v.get_column("tachycardia_after").to_list() == [None] * 5 + [True, False, None]
    f = safety.safety_flags(t["assessments"], t["adverse_events"], t["sessions"], S)
    got = sorted(f.select("session_id", "flag", "value").rows())
    assert got == [
        ("s3_0", "hypertensive_crisis_after_dosing", "181/100"),
        ("s3_2", "hypertensive_crisis_after_dosing", "150/121"),
        ("s3_3", "hypoxaemia_after_dosing", "89"),
        ("s3_5", "tachycardia_after_dosing", "121"),
    ]
    assert f.get_column("source").null_count() == 0
    assert "ACC/AHA 2017" in f.filter(pl.col("session_id") == "s3_0")["source"][0]
    # the limits come from settings: at 179/119, 95% and 100 beats/min every reading above flags
    strict = Settings(
        bp_crisis_systolic_above=179,
        bp_crisis_diastolic_above=119,
        spo2_low_pct=95.0,
        heart_rate_after_above=100,
    )
    f2 = safety.safety_flags(t["assessments"], t["adverse_events"], t["sessions"], strict)
    assert f2.group_by("flag").len().sort("flag").rows() == [
        ("hypertensive_crisis_after_dosing", 3),
        ("hypoxaemia_after_dosing", 2),
        ("tachycardia_after_dosing", 2),
    ]


def test_after_dose_excursion_rates_hand_worked():
    # crisis: 2 of the 3 sessions with an after-dose BP; hypoxaemia 1 of 2 with an SpO2 after
    t = _after_dose_cohort()
    groups = patient_groups(t["patients"], t["sessions"])
    x = safety.excursion_summary(safety.vital_excursions(t["sessions"], S), groups, S)
    got = {r["excursion"]: (r["n"], r["denominator"]) for r in x.iter_rows(named=True)}
    assert got["crisis_after"] == (2, 3)
    assert got["hypoxaemia_after"] == (1, 2)
    assert got["tachycardia_after"] == (1, 2)


def _mixed_routes():
    """Patient 1: 3 IV infusions, 2 events after them (one graded only, one with both
    scales); patient 2: 4 IM injections, 1 event after one of them; an event of patient 2
    linked to no session."""
    t = _cohort()
    t["sessions"] = t["sessions"].with_columns(
        route=pl.when(pl.col("patient_id") == pid(2)).then(pl.lit("IM")).otherwise(pl.lit("IV"))
    )
    ev = [
        {**_event(1, 1, "nausea_vomiting", 0.1, "s1_0"), "severity": None, "grade": 2},
        {**_event(1, 2, "dissociation", 2.1, "s1_1", severity="moderate"), "grade": 2},
        _event(1, 3, "headache", 2.2, "s1_2"),
        _event(2, 1, "nausea_vomiting", 4.2, "s2_2"),
        _event(2, 2, "headache", 9.0, None, severity="severe"),
    ]
    t["adverse_events"] = _frame("adverse_events", ev)
    return t


def test_rates_by_route_use_that_routes_sessions_only():
    # IV: 3 events after 4 IV infusions (patient 1 has 4 induction sessions) -> 75 per 100;
    # IM: 1 event after 4 IM injections -> 25 per 100 (never 4 / 8 across both routes);
    # exact Poisson 95% limits for 3 events: (0.6187, 8.7673)
    t = _mixed_routes()
    r = safety.adverse_event_rates_by_route(t["adverse_events"], t["sessions"], S)
    overall = {
        row["route"]: row
        for row in r.filter(pl.col("dimension") == "overall").iter_rows(named=True)
    }
    iv, im, unlinked = overall["IV"], overall["IM"], overall["unknown"]
    assert (iv["events"], iv["sessions"], iv["sessions_are"]) == (3, 4, "IV infusions")
    assert iv["per_100_sessions"] == pytest.approx(75.0)
    assert iv["per_100_lower"] == pytest.approx(0.6187 / 4 * 100, abs=1e-2)
    assert iv["per_100_upper"] == pytest.approx(8.7673 / 4 * 100, abs=1e-2)
    assert (im["events"], im["sessions"], im["sessions_are"]) == (1, 4, "IM injections")
    assert im["per_100_sessions"] == pytest.approx(25.0) and (im["n"], im["denominator"]) == (1, 1)
    assert (unlinked["events"], unlinked["sessions"]) == (1, 0)  # counted, never dropped
    assert unlinked["per_100_sessions"] is None and "no denominator" in unlinked["caveats"]
    assert r.get_column("events").filter(r["dimension"] == "overall").sum() == 5


def test_severity_and_grade_are_never_mixed():
    t = _mixed_routes()
    r = safety.adverse_event_rates_by_route(t["adverse_events"], t["sessions"], S)
    iv = r.filter(pl.col("route") == "IV")
    sev = dict(iv.filter(pl.col("dimension") == "severity").select("category", "events").rows())
    grade = dict(iv.filter(pl.col("dimension") == "grade").select("category", "events").rows())
    assert sev == {"mild": 1, "moderate": 1}  # the grade-only event is not a severity
    assert grade == {"grade 2": 2}  # the event with both scales counts on both
    cohort = safety.adverse_event_rates(
        t["adverse_events"], t["sessions"], patient_groups(t["patients"], t["sessions"]), S
    )
    categories = cohort.filter(pl.col("dimension") == "severity").get_column("category")
    assert not categories.str.starts_with("grade").any()
    assert set(cohort.filter(pl.col("dimension") == "grade")["category"]) == {"grade 2"}


def test_rates_by_route_without_sessions_count_every_event():
    t = _mixed_routes()
    r = safety.adverse_event_rates_by_route(t["adverse_events"], t["sessions"].clear(), S)
    overall = r.filter(pl.col("dimension") == "overall")
    assert overall.select("route", "events", "sessions").rows() == [("unknown", 5, 0)]


def test_signal_ids_name_kind_patient_and_time():
    t = _cohort()
    item9 = safety.item9_signals(safety.item9_by_patient(t["assessments"]))
    row = item9.row(0, named=True)
    when = row["last_above_0_at"].isoformat(timespec="seconds")
    assert row["signal_id"] == f"phq9_item9/{pid(2)}/{when}" and row["kind"] == "phq9_item9"
    sae = safety.serious_signals(safety.serious_events(t["adverse_events"])).row(0, named=True)
    assert sae["signal_id"].startswith(f"serious_adverse_event/{pid(2)}/")
    assert sae["signal_id"].endswith("/psychosis") and sae["signal_at"] == sae["onset_at"]
