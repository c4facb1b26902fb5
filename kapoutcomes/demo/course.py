"""The demo cohort's treatment course: who is referred (clinic, care model, condition,
response class), their dosing calendar (induction, boosters, drop-out), every session with its
vitals and charges, and the adverse events seen at dosing sessions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo.draws import (
    Draws,
    clinic_weekday,
    clock_minutes,
    first_of_each_key,
    group_cumsum,
    group_ordinal,
    lookup,
    minute_times,
    nan_to_null,
    pick,
)
from kapoutcomes.demo.params import (
    ADVERSE_EVENT_RATES,
    CLINIC_CODES,
    CLINIC_HAS_COST,
    CLINIC_SHARE,
    CONDITION_SHARE,
    DAY_MINUTES,
    DEPRESSION_EFFECT_LARGE,
    DEPRESSION_EFFECT_SHARE,
    DEPRESSION_EFFECT_SMALL,
    END_DAY,
    EVENT_TEXT,
    KAP_SHARE,
    OTHER_EVENT_TEXT,
    PRICE,
    PRICE_CRPS_IV,
    REFERRAL_DAYS,
    RESPONSE_SHARE,
    ROUTE_SHARE,
)


def _draw_who(rng: np.random.Generator, n: int) -> Draws:
    """Who is referred: clinic, condition, care model, route, referral day, age, sex, weight,
    depression."""
    clinic = rng.choice(3, size=n, p=CLINIC_SHARE)
    condition = rng.choice(len(tables.CONDITIONS), size=n, p=CONDITION_SHARE)
    is_crps = condition == 0
    kap = rng.random(n) < np.asarray(KAP_SHARE)[clinic]
    route = np.zeros(n, dtype=np.int64)
    for c, share in ROUTE_SHARE.items():
        m = clinic == c
        route[m] = rng.choice(5, size=int(m.sum()), p=share)
    route[is_crps & (rng.random(n) < 0.9)] = 0  # CRPS protocols are IV infusions
    referral = rng.integers(0, REFERRAL_DAYS, n)
    age = np.clip(rng.normal(47, 13, n), 19, 86).round().astype(np.int64)
    very_old = rng.random(n) < 0.004
    age[very_old] = rng.integers(90, 94, int(very_old.sum()))
    birth_doy = rng.integers(0, 365, n)
    sex = rng.choice(4, size=n, p=(0.62, 0.36, 0.01, 0.01))
    weight = np.where(sex == 1, rng.normal(88, 16, n), rng.normal(75, 16, n))
    depressed = rng.random(n) < np.where(condition == 2, 0.6, 0.42)
    return {
        "clinic": clinic,
        "condition": condition,
        "kap": kap,
        "route": route,
        "referral": referral,
        "age": age,
        "birth_doy": birth_doy,
        "sex": sex,
        "weight": np.clip(weight, 45, 160),
        "depressed": depressed,
    }


def _draw_contraindications(rng: np.random.Generator, n: int) -> Draws:
    return {
        "psychosis_history": rng.random(n) < 0.02,
        "cardiovascular_disease": rng.random(n) < 0.04,
        "raised_intracranial_pressure": rng.random(n) < 0.005,
        "substance_use_disorder": rng.random(n) < 0.06,
        "interacting_medication": rng.random(n) < 0.05,
    }


def _draw_screen_fail(rng: np.random.Generator, n: int, flags: Draws) -> np.ndarray:
    screen_fail = flags["psychosis_history"] | flags["raised_intracranial_pressure"]
    screen_fail |= flags["cardiovascular_disease"] & (rng.random(n) < 0.5)
    screen_fail |= rng.random(n) < 0.02  # declined after consultation
    return screen_fail


def _draw_response(
    rng: np.random.Generator, n: int, is_crps: np.ndarray, depressed: np.ndarray
) -> Draws:
    """The hidden response class, maximum relief, durability and depression effect."""
    response = rng.choice(3, size=n, p=RESPONSE_SHARE)
    response[is_crps & (response == 2) & (rng.random(n) < 0.3)] = 0
    relief = np.select(
        [response == 0, response == 1],
        [rng.uniform(0.38, 0.75, n), rng.uniform(0.15, 0.32, n)],
        rng.uniform(0.0, 0.10, n),
    )
    durability = np.exp(rng.normal(np.log(24), 0.9, n))  # days of full relief after a dose
    dep_effect = np.where(
        depressed & (rng.random(n) < DEPRESSION_EFFECT_SHARE),
        rng.uniform(*DEPRESSION_EFFECT_LARGE, n),
        rng.uniform(*DEPRESSION_EFFECT_SMALL, n),
    )
    return {
        "response": response,
        "relief": relief,
        "durability": durability,
        "dep_effect": dep_effect,
    }


def _draw_series(
    rng: np.random.Generator,
    n: int,
    is_crps: np.ndarray,
    response: np.ndarray,
    screen_fail: np.ndarray,
) -> Draws:
    """How many induction doses each patient gets and how many after it. Attrition (Osmind:
    ~20% stop after the first infusion, ~half never reach six), a little more often in
    patients who are not helped."""
    plan = np.where(is_crps, rng.integers(5, 11, n), rng.integers(4, 9, n))
    u = rng.random(n)
    stop_first = np.asarray([0.16, 0.20, 0.27])[response]
    n_induction = np.where(
        u < stop_first, 1, np.where(u < stop_first + 0.32, rng.integers(2, 9, n), plan)
    )
    n_induction = np.minimum(n_induction, plan)
    completed = n_induction == plan
    n_post = np.select(
        [response == 0, response == 1],
        [rng.integers(0, 10, n), rng.integers(0, 3, n)],
        (rng.random(n) < 0.2).astype(np.int64),
    )
    n_post = np.where(completed, n_post, 0)
    return {
        "n_induction": np.where(screen_fail, 0, n_induction),
        "n_post": np.where(screen_fail, 0, n_post),
    }


def _draw_starting_state(rng: np.random.Generator, n: int, who: Draws, flags: Draws) -> Draws:
    """Baseline pain and PHQ-9, what is tracked, resting vitals, dose factor, screening day."""
    depressed, kap = who["depressed"], who["kap"]
    return {
        "pain0": np.clip(rng.normal(6.8, 1.3, n), 3.5, 10),
        "phq0": np.where(
            depressed, np.clip(rng.normal(15, 4, n), 8, 26), np.clip(rng.normal(6, 3, n), 0, 12)
        ),
        "gad_tracked": rng.random(n) < np.where(kap, 0.75, 0.3),
        "no_baseline": rng.random(n) < 0.06,
        "sbp0": rng.normal(121, 11, n) + 10 * flags["cardiovascular_disease"],
        "hr0": rng.normal(74, 9, n),
        "dose_factor": rng.uniform(0.7, 1.5, n),
        "screening": clinic_weekday(who["referral"] + rng.integers(5, 36, n)),
    }


def draw_patients(rng: np.random.Generator, n: int) -> Draws:
    who = _draw_who(rng, n)
    flags = _draw_contraindications(rng, n)
    screen_fail = _draw_screen_fail(rng, n, flags)
    is_crps = who["condition"] == 0
    response = _draw_response(rng, n, is_crps, who["depressed"])
    series = _draw_series(rng, n, is_crps, response["response"], screen_fail)
    return {
        **who,
        "screen_fail": screen_fail,
        **response,
        **series,
        **_draw_starting_state(rng, n, who, flags),
        **flags,
    }


def draw_dosing(rng: np.random.Generator, p: Draws) -> Draws:
    """One row per dosing session, sorted by patient then time."""
    n_dose = p["n_induction"] + p["n_post"]
    pid = np.repeat(np.arange(len(n_dose)), n_dose)
    j = group_ordinal(pid)  # dose ordinal within patient
    m = len(pid)
    induction = j < p["n_induction"][pid]
    consecutive = (p["condition"][pid] == 0) | (p["n_induction"][pid] > 6)
    # Induction on weekdays: daily (CRPS protocols, longer series) or 2-3 times a week.
    ind_gap = np.where(consecutive, rng.choice([1, 1, 1, 1, 2], m), rng.integers(2, 4, m))
    # After induction: scheduled maintenance every 3.5-7 weeks, or an unscheduled booster
    # when relief wanes first (durability plus a few days to get an appointment).
    sched = rng.integers(24, 50, m)
    wane = p["durability"][pid] * np.exp(rng.normal(0, 0.3, m)) + rng.integers(3, 15, m)
    booster = ~induction & (wane < sched)
    post_gap = np.where(booster, np.ceil(wane), sched).astype(np.int64)
    first = clinic_weekday(p["screening"] + rng.integers(4, 22, len(n_dose)))
    start = np.repeat(np.r_[0, np.cumsum(n_dose)[:-1]], n_dose) if m else np.zeros(0, int)
    ind_day = clinic_weekday(
        first[pid], group_cumsum(np.where(induction & (j > 0), ind_gap, 0), start)
    )
    ind_end = np.full(len(n_dose), -1)
    np.maximum.at(ind_end, pid[induction], ind_day[induction])
    post = group_cumsum(np.where(induction, 0, post_gap), start)
    day = np.where(induction, ind_day, clinic_weekday(ind_end[pid] + post))
    keep = day <= END_DAY
    kind = np.where(induction, 0, np.where(booster, 2, 1))  # induction, maintenance, booster
    out = {"pid": pid, "j": j, "day": day, "kind": kind, "keep": keep}
    return {k: v[keep] for k, v in out.items()}


@dataclass(frozen=True)
class DosingRows:
    """The dosing sessions' columns, plus what the adverse events and scores are drawn from."""

    columns: Draws
    infusion_minutes: np.ndarray  # -1 where not an IV infusion
    sbp_after: np.ndarray  # systolic pressure after dosing, 0 where not measured


def _draw_doses(
    rng: np.random.Generator, p: Draws, d: Draws, route: np.ndarray, crps_iv: np.ndarray
) -> Draws:
    """Weight, dose (by route, weight and escalation) and infusion length of each dose."""
    pid = d["pid"]
    m = len(pid)
    true_weight = p["weight"][pid] + rng.normal(0, 0.8, m)
    weight = np.where(rng.random(m) < 0.08, np.nan, true_weight.round(1))
    escalation = 1 + 0.05 * np.minimum(d["j"], 4)
    per_kg = np.where(crps_iv, 1.0, np.where(route == "IM", 0.6, 0.5))
    per_kg = per_kg * p["dose_factor"][pid] * escalation
    dose = np.round(per_kg * true_weight / 5) * 5
    dose = np.where(route == "intranasal", np.where(d["j"] < 2, 56.0, 84.0), dose)
    dose = np.where(route == "sublingual", rng.choice([100.0, 150, 200, 250, 300], m), dose)
    dose = np.where(route == "oral", rng.choice([100.0, 150, 200, 250], m), dose)
    minutes = np.where(
        route == "IV",
        np.where(crps_iv, rng.choice([120, 180, 240], m), rng.choice([40, 40, 40, 45, 60], m)),
        -1,
    )
    return {"dose": np.maximum(dose, 5.0), "weight": weight, "minutes": minutes}


def _draw_dosing_vitals(rng: np.random.Generator, p: Draws, pid: np.ndarray) -> Draws:
    """Blood pressure, heart rate and SpO2 before and after each dose (-1: not measured)."""
    m = len(pid)
    sbp_b = p["sbp0"][pid] + rng.normal(0, 9, m)
    dbp_b = 0.5 * sbp_b + rng.normal(17, 6, m)
    hr_b = p["hr0"][pid] + rng.normal(0, 6, m)
    spo2_b = rng.choice([95, 96, 97, 97, 98, 98, 98, 99, 99, 100], m)
    sbp_a = sbp_b + rng.normal(13, 9, m)
    dbp_a = dbp_b + rng.normal(7, 5, m)
    hr_a = hr_b + rng.normal(7, 7, m)
    spo2_a = spo2_b - rng.choice([0, 0, 0, 1, 1, 2], m) - 4 * (rng.random(m) < 0.015)
    sbp_b, sbp_a = np.clip(sbp_b, 92, 230).round(), np.clip(sbp_a, 90, 240).round()
    dbp_b = np.minimum(np.clip(dbp_b, 45, 130).round(), sbp_b - 20)
    dbp_a = np.minimum(np.clip(dbp_a, 45, 140).round(), sbp_a - 20)
    no_before = rng.random(m) < 0.02
    no_after = rng.random(m) < 0.06
    return {
        "bp_systolic_before": np.where(no_before, -1, sbp_b),
        "bp_diastolic_before": np.where(no_before, -1, dbp_b),
        "heart_rate_before": np.where(no_before, -1, np.clip(hr_b, 45, 140).round()),
        "spo2_before": np.where(no_before, -1, spo2_b),
        "bp_systolic_after": np.where(no_after, -1, sbp_a),
        "bp_diastolic_after": np.where(no_after, -1, dbp_a),
        "heart_rate_after": np.where(no_after, -1, np.clip(hr_a, 45, 160).round()),
        "spo2_after": np.where(no_after, -1, spo2_a),
    }


def _draw_charges(
    rng: np.random.Generator, p: Draws, d: Draws, route: np.ndarray, crps_iv: np.ndarray
) -> np.ndarray:
    """The charge of each dose where the clinic's export carries charges (NaN otherwise)."""
    pid = d["pid"]
    clinic = p["clinic"][pid]
    price = np.asarray([PRICE[r] for r in tables.ROUTES[:5]])[p["route"][pid]]
    price = np.where(crps_iv, PRICE_CRPS_IV, price)
    price = np.where((d["kind"] != 0) & (route == "IV") & ~crps_iv, 475.0, price)
    return np.where(
        np.asarray(CLINIC_HAS_COST)[clinic] & (rng.random(len(pid)) > 0.03), price, np.nan
    )


def _draw_dosing_rows(rng: np.random.Generator, p: Draws, d: Draws) -> DosingRows:
    pid = d["pid"]
    dose_clock = clock_minutes(rng, len(pid), slots=11)  # dosing 08:00-13:00
    route = np.asarray(tables.ROUTES[:5], dtype=object)[p["route"][pid]]
    crps_iv = (p["condition"][pid] == 0) & (route == "IV")
    doses = _draw_doses(rng, p, d, route, crps_iv)
    vitals = _draw_dosing_vitals(rng, p, pid)
    columns = {
        "pid": pid,
        "minute": d["day"] * DAY_MINUTES + dose_clock,
        "stype": d["kind"] + 1,  # index into tables.SESSION_TYPES: induction, maintenance, booster
        "route_code": p["route"][pid],
        "dose_mg": doses["dose"],
        "dose_mg_per_kg": np.round(doses["dose"] / doses["weight"], 3),
        "weight_kg": doses["weight"],
        "infusion_minutes": doses["minutes"],
        **vitals,
        "cost_usd": _draw_charges(rng, p, d, route, crps_iv),
    }
    sbp_after = np.where(vitals["bp_systolic_after"] == -1, 0, vitals["bp_systolic_after"])
    return DosingRows(columns, doses["minutes"], sbp_after)


def _draw_screening(rng: np.random.Generator, p: Draws, n: int) -> Draws:
    """Screening: every patient, with weight and vitals at rest."""
    screening = {
        "pid": np.arange(n),
        "minute": p["screening"] * DAY_MINUTES + clock_minutes(rng, n, first=13 * 60 + 30, slots=8),
        "stype": np.zeros(n, dtype=np.int64),
        "weight_kg": p["weight"].round(1),
        "bp_systolic_before": np.clip(p["sbp0"] + rng.normal(0, 9, n), 92, 230).round(),
        "heart_rate_before": np.clip(p["hr0"], 45, 140).round(),
        "spo2_before": rng.choice([96, 97, 98, 99], n),
    }
    screening["bp_diastolic_before"] = np.minimum(
        (0.5 * screening["bp_systolic_before"] + rng.normal(19, 6, n)).round(),
        screening["bp_systolic_before"] - 20,
    )
    return screening


def _draw_therapy_sessions(rng: np.random.Generator, p: Draws, d: Draws, n: int) -> Draws:
    """KAP: preparation before the first dose, integration after doses, psychotherapy."""
    pid = d["pid"]
    first = np.full(n, -1)
    last = np.full(n, -1)
    first[pid[d["j"] == 0]] = d["day"][d["j"] == 0]
    np.maximum.at(last, pid, d["day"])
    kap_treated = p["kap"] & (first >= 0)
    n_prep = np.where(kap_treated, rng.integers(1, 3, n), 0)
    prep_pid = np.repeat(np.arange(n), n_prep)
    span = first[prep_pid] - p["screening"][prep_pid] - 1
    prep_day = p["screening"][prep_pid] + 1 + (rng.random(len(prep_pid)) * span).astype(int)
    prep_day = np.minimum(clinic_weekday(prep_day), clinic_weekday(first[prep_pid], -1))
    integ = p["kap"][pid] & (rng.random(len(pid)) < 0.6)
    integ_day = clinic_weekday(d["day"][integ] + rng.integers(1, 4, int(integ.sum())))
    n_psy = np.where(kap_treated, rng.integers(0, 7, n), 0)
    psy_pid = np.repeat(np.arange(n), n_psy)
    psy_span = last[psy_pid] + 60 - first[psy_pid]
    psy_day = clinic_weekday(first[psy_pid] + (rng.random(len(psy_pid)) * psy_span).astype(int))
    other_pid = np.r_[prep_pid, pid[integ], psy_pid]
    other_day = np.r_[prep_day, integ_day, psy_day]
    return {
        "pid": other_pid,
        "minute": other_day * DAY_MINUTES
        + clock_minutes(rng, len(other_pid), first=13 * 60 + 30, slots=8),
        "stype": np.r_[  # preparation, integration, psychotherapy
            np.full(len(prep_pid), 4), np.full(int(integ.sum()), 5), np.full(len(psy_pid), 6)
        ].astype(np.int64),
    }


def _session_frame(
    rng: np.random.Generator, p: Draws, ids: pl.Series, parts: tuple[Draws, ...]
) -> pl.DataFrame:
    """The sessions of every source (``_src`` is the position in ``parts``) as one frame: one
    session per patient, minute and type, with ids, times, care model, type, route and
    clinician; ``_src`` and ``_idx`` (the row in its source) are kept."""
    frames = []
    for src, part in enumerate(parts):
        cols = dict(part)
        cols["_src"] = np.full(len(part["pid"]), src)
        cols["_idx"] = np.arange(len(part["pid"]))
        frames.append(pl.DataFrame(cols, strict=False))
    frame = pl.concat(frames, how="diagonal_relaxed")
    frame = frame.filter(pl.col("minute") < (END_DAY + 1) * DAY_MINUTES)
    frame = first_of_each_key(
        frame.sort("pid", "minute", "_src", "stype"), ["pid", "minute", "stype"]
    )
    ordinal = group_ordinal(frame.get_column("pid").to_numpy()) + 1
    int_cols = [c for c in frame.columns if c.startswith(("bp_", "heart", "spo2", "infusion"))]
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        started_at=minute_times(frame.get_column("minute").to_numpy()),
        session_id=pl.Series(ordinal).cast(pl.String).str.zfill(3),
        care_model=pl.when(pl.Series(p["kap"][frame["pid"].to_numpy()]))
        .then(pl.lit("KAP"))
        .otherwise(pl.lit("infusion_only")),
        _code=pl.Series(p["clinic"][frame["pid"].to_numpy()]).replace_strict(
            dict(enumerate(CLINIC_CODES)), return_dtype=pl.String
        ),
        session_type=pl.col("stype").replace_strict(
            dict(enumerate(tables.SESSION_TYPES)), return_dtype=pl.String
        ),
        route=pl.col("route_code").replace_strict(
            dict(enumerate(tables.ROUTES)), default=None, return_dtype=pl.String
        ),
        _k=pl.Series(rng.integers(1, 5, frame.height)),
        _r=pl.Series(rng.random(frame.height)),
        **{c: pl.when(pl.col(c) >= 0).then(pl.col(c)).cast(pl.Int32) for c in int_cols},
    ).with_columns(
        session_id=pl.format("{}-s{}", "patient_id", "session_id"),
        clinician=pl.when(pl.col("_r") >= 0.03).then(pl.format("{}-0{}", "_code", "_k")),
    )
    return nan_to_null(frame)


def draw_sessions(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series
) -> tuple[pl.DataFrame, Draws]:
    """All sessions; returns the frame and, per dosing row, the derived values."""
    n, m = len(ids), len(d["pid"])
    dosing = _draw_dosing_rows(rng, p, d)
    screening = _draw_screening(rng, p, n)
    therapy = _draw_therapy_sessions(rng, p, d, n)
    frame = _session_frame(rng, p, ids, (screening, dosing.columns, therapy))
    ids_by_src = {
        src: frame.filter(pl.col("_src") == src).sort("_idx").select("_idx", "session_id")
        for src in (0, 1)
    }
    extra = {
        "screening_session": lookup(ids_by_src[0], n),
        "dosing_session": lookup(ids_by_src[1], m),
        "dose_minute": dosing.columns["minute"],
        "infusion_minutes": dosing.infusion_minutes,
        "sbp_after": dosing.sbp_after,
        "screening_minute": screening["minute"],
    }
    return frame.select(tables.columns("sessions")), extra


#: (event, rows of the dosing sessions it happened at, severity shares, actions, action shares)
EventDraw = tuple[str, np.ndarray, tuple, tuple, tuple]


def _draw_session_events(rng: np.random.Generator, d: Draws, extra: Draws) -> list[EventDraw]:
    """Which dosing sessions each kind of event happened at."""
    pid = d["pid"]
    m = len(pid)
    parts: list[EventDraw] = []
    # A serious event ends treatment: it can only happen at a patient's last dose.
    last_dose = np.r_[pid[1:] != pid[:-1], True] if m else np.zeros(0, bool)
    for event, prob, sev_p, actions, act_p in ADVERSE_EVENT_RATES:
        hit = rng.random(m) < prob
        if event in tables.SERIOUS_EVENTS:
            hit = last_dose & (rng.random(m) < prob * 8)
        parts.append((event, np.flatnonzero(hit), sev_p, actions, act_p))
    # Raised BP follows the vitals: a large rise after dosing is usually recorded as an event.
    sbp = extra["sbp_after"]
    bp_hit = np.flatnonzero(((sbp >= 170) & (rng.random(m) < 0.8)) | (rng.random(m) < 0.01))
    parts.append(
        (
            "raised_blood_pressure",
            bp_hit,
            (0.6, 0.35, 0.05),
            ("medication_given", "infusion_paused", "infusion_slowed", "none"),
            (0.4, 0.3, 0.2, 0.1),
        )
    )
    crisis = np.flatnonzero(last_dose & ((sbp >= 190) | (rng.random(m) < 0.004)))
    parts.append(
        (
            "hypertensive_crisis",
            crisis,
            (0.0, 0.0, 1.0),
            ("infusion_stopped", "hospital_transfer", "medication_given"),
            (0.4, 0.3, 0.3),
        )
    )
    # Urinary symptoms only with repeated use.
    urinary = np.flatnonzero((d["j"] >= 6) & (rng.random(m) < 0.01))
    parts.append(("urinary_symptoms", urinary, (0.7, 0.3, 0.0), ("none",), (1.0,)))
    return parts


def _draw_event_details(rng: np.random.Generator, parts: list[EventDraw]) -> Draws:
    """One entry per event: the session row, event, severity, grade, seriousness, action."""
    cols: dict[str, list] = {k: [] for k in ("row", "event", "severity", "action")}
    for event, rows_, sev_p, actions, act_p in parts:
        k = len(rows_)
        cols["row"].append(rows_)
        cols["event"].append(np.full(k, event, dtype=object))
        cols["severity"].append(pick(rng, tables.SEVERITIES, sev_p, k))
        cols["action"].append(pick(rng, actions, act_p, k))
    event = np.concatenate(cols["event"])
    severity = np.concatenate(cols["severity"])
    k = len(event)
    serious = np.isin(event, tables.SERIOUS_EVENTS)
    grade = np.select(
        [severity == "mild", severity == "moderate"],
        [1, 2],
        np.where(serious, rng.integers(3, 5, k), 3),
    )
    r = rng.random(k)
    grade = np.where(r < 0.3, -1, grade)  # grade often not recorded
    severity = np.where((r > 0.95) & ~serious, None, severity)  # severity missing, grade kept
    grade = np.where(severity == None, np.maximum(grade, 1), grade)  # noqa: E711
    return {
        "row": np.concatenate(cols["row"]).astype(np.int64),
        "event": event,
        "severity": severity,
        "grade": grade,
        "serious": serious,
        "action": np.concatenate(cols["action"]),
    }


def _draw_event_course(rng: np.random.Generator, ev: Draws, extra: Draws) -> Draws:
    """Onset during or after the session, resolution (some last), free text, missing action."""
    row, event, k = ev["row"], ev["event"], len(ev["row"])
    start = extra["dose_minute"]
    dur = np.where(extra["infusion_minutes"] > 0, extra["infusion_minutes"], 40)
    onset = start[row] + (rng.random(k) * (dur[row] + 30)).astype(np.int64) + 5
    lasting = np.isin(event, ("memory_effects", "urinary_symptoms")) | (rng.random(k) < 0.03)
    resolved = np.where(lasting, -1, onset + rng.integers(10, 240, k))
    text = np.full(k, None, dtype=object)
    for name, options in EVENT_TEXT.items():
        sel = (event == name) & (rng.random(k) < 0.3)
        text[sel] = pick(rng, options, np.full(len(options), 1 / len(options)), int(sel.sum()))
    sel = event == "other"
    text[sel] = pick(rng, OTHER_EVENT_TEXT, np.full(len(OTHER_EVENT_TEXT), 0.2), int(sel.sum()))
    action = np.where(rng.random(k) < 0.05, None, ev["action"])
    return {**ev, "onset": onset, "resolved": resolved, "text": text, "action": action}


def _draw_misuse(rng: np.random.Generator, d: Draws, n: int, extra: Draws) -> Draws:
    """Abuse or misuse is noticed between visits: not tied to a session."""
    last = np.full(n, -1)
    np.maximum.at(last, d["pid"], extra["dose_minute"])
    misuse = np.flatnonzero((last >= 0) & (rng.random(n) < 0.004))
    m_onset = last[misuse] + DAY_MINUTES * rng.integers(3, 30, len(misuse))
    return {"pid": misuse, "onset": np.minimum(m_onset, END_DAY * DAY_MINUTES + 600)}


def _adverse_event_frame(
    ids: pl.Series, pid: np.ndarray, ev: Draws, misuse: Draws, extra: Draws
) -> pl.DataFrame:
    """The events at sessions and the misuse reports as adverse_events rows (one per patient,
    onset and event), numbered per patient."""
    k = len(misuse["pid"])
    frame = pl.DataFrame(
        {
            "pid": np.r_[pid[ev["row"]], misuse["pid"]],
            "session_id": pl.concat(
                [
                    extra["dosing_session"].gather(ev["row"]),
                    pl.Series([None] * k, dtype=pl.String),
                ]
            ),
            "event": ev["event"].tolist() + ["abuse_misuse"] * k,
            "event_text": ev["text"].tolist() + ["early refill request, lost lozenges"] * k,
            "severity": ev["severity"].tolist() + ["severe"] * k,
            "grade": np.r_[ev["grade"], np.full(k, 3)],
            "serious": np.r_[ev["serious"], np.ones(k, bool)],
            "onset": np.r_[ev["onset"], misuse["onset"]],
            "resolved": np.r_[ev["resolved"], np.full(k, -1)],
            "action_taken": ev["action"].tolist() + ["other"] * k,
        },
        schema_overrides={
            "session_id": pl.String,
            "event_text": pl.String,
            "severity": pl.String,
            "action_taken": pl.String,
        },
    )
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        onset_at=minute_times(frame["onset"].to_numpy()),
        resolved_at=pl.when(pl.col("resolved") >= 0).then(
            minute_times(np.maximum(frame["resolved"].to_numpy(), 0))
        ),
        grade=pl.when(pl.col("grade") > 0).then(pl.col("grade")).cast(pl.Int32),
    )
    keys = ["pid", "onset", "event"]
    frame = first_of_each_key(frame.sort(keys, maintain_order=True), keys)
    ordinal = group_ordinal(frame["pid"].to_numpy()) + 1
    frame = frame.with_columns(
        event_id=pl.format("{}-ae{}", "patient_id", pl.Series(ordinal).cast(pl.String).str.zfill(3))
    )
    return frame.select(tables.columns("adverse_events"))


def draw_adverse_events(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, extra: Draws
) -> pl.DataFrame:
    parts = _draw_session_events(rng, d, extra)
    ev = _draw_event_course(rng, _draw_event_details(rng, parts), extra)
    misuse = _draw_misuse(rng, d, len(ids), extra)
    return _adverse_event_frame(ids, d["pid"], ev, misuse, extra)
