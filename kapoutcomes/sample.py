"""Seeded synthetic clinic cohort: three clinics treating chronic pain with ketamine.

``generate(seed, patients)`` builds the canonical tables (``tables.MODELS``) for a demo cohort
whose shape follows the published figures in the clinical reference: ~20% stop after the first
infusion and about half never complete six (Osmind real-world data); induction series of 4-8
infusions over 1-4 weeks, longer for CRPS (Cohen et al. 2018); a mean short-term pain change
near -1.8 points (Orhurhu 2019); a median durability of a few weeks (Murrough 2013: 18 days);
adverse events led by dissociation (OKAPI: 50% at week 1). Everything is drawn from one numpy
Generator seeded with ``seed`` and a fixed calendar anchor, never from today's date, and draws
are vectorised per patient / per session so 100,000 patients are feasible.

``write_sample`` writes the tables as CSV plus messy EHR-style exports of the same cohort
(see ``sample_exports``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from kapoutcomes import opioids, privacy, tables

#: Fixed calendar anchor: referrals start here; nothing depends on today's date.
ANCHOR = dt.date(2024, 1, 2)
#: Referrals fall in the first REFERRAL_DAYS days; nothing is dated after END_DAY.
REFERRAL_DAYS = 456
END_DAY = 700  # 2025-12-02
CLINICS = ("Riverside Pain Clinic", "Lakeshore Ketamine Center", "Summit KAP Institute")
CLINIC_CODES = ("RPC", "LKC", "SKI")
CLINIC_SHARE = (0.40, 0.33, 0.27)
#: Lakeshore's export carries no charges.
CLINIC_HAS_COST = (True, False, True)
KAP_SHARE = (0.15, 0.10, 0.85)
ROUTE_SHARE = {  # per clinic, over tables.ROUTES[:5]: IV, IM, intranasal, sublingual, oral
    0: (0.85, 0.10, 0.05, 0.0, 0.0),
    1: (0.80, 0.05, 0.15, 0.0, 0.0),
    2: (0.35, 0.20, 0.10, 0.25, 0.10),
}
CONDITION_SHARE = (0.18, 0.24, 0.22, 0.06, 0.14, 0.16)  # order of tables.CONDITIONS
RESPONSE_CLASSES = ("responder", "partial", "non_responder")
RESPONSE_SHARE = (0.46, 0.27, 0.27)
#: Charges by route (USD per dosing session); a CRPS 4-hour infusion costs more.
PRICE = {"IV": 550.0, "IM": 400.0, "intranasal": 650.0, "sublingual": 350.0, "oral": 350.0}
PRICE_CRPS_IV = 1150.0

_DAY = 1440  # minutes
#: Per-patient or per-session draws: name -> array (one element per patient / session).
Draws = dict[str, np.ndarray]


@dataclass(frozen=True)
class SampleCohort:
    """The demo cohort: canonical tables plus the truth the generator used.

    ``mrns`` maps patient_id -> demo MRN (DEMO-000001...), which pseudonymises to the id with
    ``privacy.DEMO_SECRET``. ``truth`` holds one row per patient with the hidden response class,
    maximum pain relief, durability and depression effect (for checking analytics).
    """

    seed: int
    patients: int
    tables: dict[str, pl.DataFrame]
    mrns: dict[str, str] = field(repr=False)
    truth: pl.DataFrame = field(repr=False)


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(np.datetime64(ANCHOR, "D") + days.astype("timedelta64[D]"))


def _times(minutes: np.ndarray) -> pl.Series:
    base = np.datetime64(dt.datetime.combine(ANCHOR, dt.time()), "us")
    return pl.Series(base + (minutes.astype(np.int64) * 60_000_000).astype("timedelta64[us]"))


def _pick(rng: np.random.Generator, options: tuple, p: tuple | np.ndarray, n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p))]


def _group_ordinal(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within runs of equal values of a sorted array."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def _clock(rng: np.random.Generator, n: int, first: int = 8 * 60, slots: int = 17) -> np.ndarray:
    """Start times on the half hour within clinic hours (minutes after midnight)."""
    return first + 30 * rng.integers(0, slots, n)


def _patients(rng: np.random.Generator, n: int) -> Draws:
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
    flags = {
        "psychosis_history": rng.random(n) < 0.02,
        "cardiovascular_disease": rng.random(n) < 0.04,
        "raised_intracranial_pressure": rng.random(n) < 0.005,
        "substance_use_disorder": rng.random(n) < 0.06,
        "interacting_medication": rng.random(n) < 0.05,
    }
    screen_fail = flags["psychosis_history"] | flags["raised_intracranial_pressure"]
    screen_fail |= flags["cardiovascular_disease"] & (rng.random(n) < 0.5)
    screen_fail |= rng.random(n) < 0.02  # declined after consultation
    response = rng.choice(3, size=n, p=RESPONSE_SHARE)
    response[is_crps & (response == 2) & (rng.random(n) < 0.3)] = 0
    relief = np.select(
        [response == 0, response == 1],
        [rng.uniform(0.38, 0.75, n), rng.uniform(0.15, 0.32, n)],
        rng.uniform(0.0, 0.10, n),
    )
    durability = np.exp(rng.normal(np.log(24), 0.9, n))  # days of full relief after a dose
    dep_effect = np.where(
        depressed & (rng.random(n) < 0.65), rng.uniform(0.4, 0.8, n), rng.uniform(0, 0.2, n)
    )
    plan = np.where(is_crps, rng.integers(5, 11, n), rng.integers(4, 9, n))
    # Attrition (Osmind: ~20% stop after the first infusion, ~half never reach six), a little
    # more often in patients who are not helped.
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
    n_induction = np.where(screen_fail, 0, n_induction)
    n_post = np.where(screen_fail, 0, n_post)
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
        "screen_fail": screen_fail,
        "response": response,
        "relief": relief,
        "durability": durability,
        "dep_effect": dep_effect,
        "n_induction": n_induction,
        "n_post": n_post,
        "pain0": np.clip(rng.normal(6.8, 1.3, n), 3.5, 10),
        "phq0": np.where(
            depressed, np.clip(rng.normal(15, 4, n), 8, 26), np.clip(rng.normal(6, 3, n), 0, 12)
        ),
        "gad_tracked": rng.random(n) < np.where(kap, 0.75, 0.3),
        "no_baseline": rng.random(n) < 0.06,
        "sbp0": rng.normal(121, 11, n) + 10 * flags["cardiovascular_disease"],
        "hr0": rng.normal(74, 9, n),
        "dose_factor": rng.uniform(0.7, 1.5, n),
        "screening": _weekday(referral + rng.integers(5, 36, n)),
        **flags,
    }


def _dosing(rng: np.random.Generator, p: Draws) -> Draws:
    """One row per dosing session, sorted by patient then time."""
    n_dose = p["n_induction"] + p["n_post"]
    pid = np.repeat(np.arange(len(n_dose)), n_dose)
    j = _group_ordinal(pid)  # dose ordinal within patient
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
    first = _weekday(p["screening"] + rng.integers(4, 22, len(n_dose)))
    start = np.repeat(np.r_[0, np.cumsum(n_dose)[:-1]], n_dose) if m else np.zeros(0, int)
    ind_day = _weekday(first[pid], _group_cumsum(np.where(induction & (j > 0), ind_gap, 0), start))
    ind_end = np.full(len(n_dose), -1)
    np.maximum.at(ind_end, pid[induction], ind_day[induction])
    post = _group_cumsum(np.where(induction, 0, post_gap), start)
    day = np.where(induction, ind_day, _weekday(ind_end[pid] + post))
    keep = day <= END_DAY
    kind = np.where(induction, 0, np.where(booster, 2, 1))  # induction, maintenance, booster
    out = {"pid": pid, "j": j, "day": day, "kind": kind, "keep": keep}
    return {k: v[keep] for k, v in out.items()}


def _weekday(day: np.ndarray, weekdays: np.ndarray | int = 0) -> np.ndarray:
    """Day indexes moved off the weekend (Saturday to Friday, Sunday to Monday), then moved on
    ``weekdays`` weekdays."""
    dates = np.datetime64(ANCHOR, "D") + np.asarray(day).astype("timedelta64[D]")
    dow = (dates.astype(np.int64) + 3) % 7  # Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)
    dates = dates + np.select([dow == 5, dow == 6], [-1, 1], 0).astype("timedelta64[D]")
    moved = np.busday_offset(dates, weekdays, roll="forward")
    return (moved - np.datetime64(ANCHOR, "D")).astype(np.int64)


def _group_cumsum(steps: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sum of ``steps`` restarting at each group (``start``: first row of its group)."""
    cum = np.cumsum(steps)
    return cum - (cum[start] - steps[start]) if len(steps) else cum


def _decay(since_days: np.ndarray, durability: np.ndarray) -> np.ndarray:
    """Relief kept ``since_days`` after a dose: full until ``durability``, then fading."""
    return np.where(since_days <= durability, 1.0, np.exp(-(since_days - durability) / 14.0))


def _nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    return frame.with_columns(pl.col(c).fill_nan(None) for c in floats)


def _sessions(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series
) -> tuple[pl.DataFrame, Draws]:
    """All sessions; returns the frame and, per dosing row, the derived values."""
    n = len(ids)
    m = len(d["pid"])
    pid = d["pid"]
    dose_clock = _clock(rng, m, slots=11)  # dosing 08:00-13:00
    route = np.asarray(tables.ROUTES[:5], dtype=object)[p["route"][pid]]
    crps_iv = (p["condition"][pid] == 0) & (route == "IV")
    true_weight = p["weight"][pid] + rng.normal(0, 0.8, m)
    weight = np.where(rng.random(m) < 0.08, np.nan, true_weight.round(1))
    escalation = 1 + 0.05 * np.minimum(d["j"], 4)
    per_kg = np.where(crps_iv, 1.0, np.where(route == "IM", 0.6, 0.5))
    per_kg = per_kg * p["dose_factor"][pid] * escalation
    dose = np.round(per_kg * true_weight / 5) * 5
    dose = np.where(route == "intranasal", np.where(d["j"] < 2, 56.0, 84.0), dose)
    dose = np.where(route == "sublingual", rng.choice([100.0, 150, 200, 250, 300], m), dose)
    dose = np.where(route == "oral", rng.choice([100.0, 150, 200, 250], m), dose)
    dose = np.maximum(dose, 5.0)
    minutes = np.where(
        route == "IV",
        np.where(crps_iv, rng.choice([120, 180, 240], m), rng.choice([40, 40, 40, 45, 60], m)),
        -1,
    )
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
    clinic = p["clinic"][pid]
    price = np.asarray([PRICE[r] for r in tables.ROUTES[:5]])[p["route"][pid]]
    price = np.where(crps_iv, PRICE_CRPS_IV, price)
    price = np.where((d["kind"] != 0) & (route == "IV") & ~crps_iv, 475.0, price)
    cost = np.where(np.asarray(CLINIC_HAS_COST)[clinic] & (rng.random(m) > 0.03), price, np.nan)
    dosing = {
        "pid": pid,
        "minute": d["day"] * _DAY + dose_clock,
        "stype": d["kind"] + 1,  # index into tables.SESSION_TYPES: induction, maintenance, booster
        "route_code": p["route"][pid],
        "dose_mg": dose,
        "dose_mg_per_kg": np.round(dose / weight, 3),
        "weight_kg": weight,
        "infusion_minutes": minutes,
        "bp_systolic_before": np.where(no_before, -1, sbp_b),
        "bp_diastolic_before": np.where(no_before, -1, dbp_b),
        "heart_rate_before": np.where(no_before, -1, np.clip(hr_b, 45, 140).round()),
        "spo2_before": np.where(no_before, -1, spo2_b),
        "bp_systolic_after": np.where(no_after, -1, sbp_a),
        "bp_diastolic_after": np.where(no_after, -1, dbp_a),
        "heart_rate_after": np.where(no_after, -1, np.clip(hr_a, 45, 160).round()),
        "spo2_after": np.where(no_after, -1, spo2_a),
        "cost_usd": cost,
    }
    # Screening: every patient, with weight and vitals at rest.
    screening = {
        "pid": np.arange(n),
        "minute": p["screening"] * _DAY + _clock(rng, n, first=13 * 60 + 30, slots=8),
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
    # KAP: preparation before the first dose, integration after doses, psychotherapy.
    first = np.full(n, -1)
    last = np.full(n, -1)
    first[pid[d["j"] == 0]] = d["day"][d["j"] == 0]
    np.maximum.at(last, pid, d["day"])
    kap_treated = p["kap"] & (first >= 0)
    n_prep = np.where(kap_treated, rng.integers(1, 3, n), 0)
    prep_pid = np.repeat(np.arange(n), n_prep)
    span = first[prep_pid] - p["screening"][prep_pid] - 1
    prep_day = p["screening"][prep_pid] + 1 + (rng.random(len(prep_pid)) * span).astype(int)
    prep_day = np.minimum(_weekday(prep_day), _weekday(first[prep_pid], -1))
    integ = p["kap"][pid] & (rng.random(m) < 0.6)
    integ_day = _weekday(d["day"][integ] + rng.integers(1, 4, int(integ.sum())))
    n_psy = np.where(kap_treated, rng.integers(0, 7, n), 0)
    psy_pid = np.repeat(np.arange(n), n_psy)
    psy_span = last[psy_pid] + 60 - first[psy_pid]
    psy_day = _weekday(first[psy_pid] + (rng.random(len(psy_pid)) * psy_span).astype(int))
    other_pid = np.r_[prep_pid, pid[integ], psy_pid]
    other_day = np.r_[prep_day, integ_day, psy_day]
    other = {
        "pid": other_pid,
        "minute": other_day * _DAY + _clock(rng, len(other_pid), first=13 * 60 + 30, slots=8),
        "stype": np.r_[  # preparation, integration, psychotherapy
            np.full(len(prep_pid), 4), np.full(int(integ.sum()), 5), np.full(len(psy_pid), 6)
        ].astype(np.int64),
    }
    parts = []
    for src, part in enumerate((screening, dosing, other)):
        cols = dict(part)
        cols["_src"] = np.full(len(part["pid"]), src)
        cols["_idx"] = np.arange(len(part["pid"]))
        parts.append(pl.DataFrame(cols, strict=False))
    frame = pl.concat(parts, how="diagonal_relaxed")
    frame = frame.filter(pl.col("minute") < (END_DAY + 1) * _DAY)
    frame = _first_of_each_key(
        frame.sort("pid", "minute", "_src", "stype"), ["pid", "minute", "stype"]
    )
    ordinal = _group_ordinal(frame.get_column("pid").to_numpy()) + 1
    int_cols = [c for c in frame.columns if c.startswith(("bp_", "heart", "spo2", "infusion"))]
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        started_at=_times(frame.get_column("minute").to_numpy()),
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
    frame = _nan_to_null(frame)
    ids_by_src = {
        src: frame.filter(pl.col("_src") == src).sort("_idx").select("_idx", "session_id")
        for src in (0, 1)
    }
    extra = {
        "screening_session": _lookup(ids_by_src[0], n),
        "dosing_session": _lookup(ids_by_src[1], m),
        "dose_minute": dosing["minute"],
        "infusion_minutes": minutes,
        "sbp_after": np.where(no_after, 0, sbp_a),
        "screening_minute": screening["minute"],
    }
    return frame.select(tables.columns("sessions")), extra


def _lookup(frame: pl.DataFrame, size: int) -> pl.Series:
    """Session ids by source row (``_idx``), null where a row was dropped."""
    rows = pl.DataFrame({"_idx": np.arange(size)})
    joined = rows.join(frame, on="_idx", how="left", maintain_order="left")
    return joined.get_column("session_id")


def _first_of_each_key(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A frame sorted by ``keys`` without the rows repeating the previous row's key."""
    if frame.height == 0:
        return frame
    differs = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
    return frame.filter(differs.fill_null(True) | (pl.int_range(pl.len()) == 0))


def _gather_or_null(values: pl.Series, index: np.ndarray) -> pl.Series:
    """``values[index]``, null where index is negative."""
    got = (
        values.gather(np.maximum(index, 0))
        if len(values)
        else pl.repeat(None, len(index), dtype=values.dtype, eager=True)
    )
    return pl.select(pl.when(pl.Series(index) >= 0).then(got)).to_series().alias(values.name)


def _assessments(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, extra: Draws
) -> pl.DataFrame:
    """Pain NRS, PHQ-9 (with item 9 answers) and GAD-7 at baseline, around doses, follow-ups."""
    n, m = len(ids), len(d["pid"])
    pid, j = d["pid"], d["j"]
    dur = p["durability"][pid]
    r_after = p["relief"][pid] * (1 - 0.55 ** (j + 1))
    dep_after = p["dep_effect"][pid] * (1 - 0.55 ** (j + 1))
    t = extra["dose_minute"] / _DAY
    prev = np.r_[0, np.arange(m - 1)] if m else np.zeros(0, int)
    since = t - t[prev]
    r_before = np.where(j == 0, 0.0, r_after[prev] * _decay(since, dur))
    dep_before = np.where(j == 0, 0.0, dep_after[prev] * _decay(since, 1.5 * dur))
    rows: list[pl.DataFrame] = []
    # Session of each assessment as an index into the screening then the dosing session ids.
    session_ids = pl.concat([extra["screening_session"], extra["dosing_session"]])

    def add(who, minute, inst, score, session, timing, keep) -> None:
        rows.append(
            pl.DataFrame(
                {
                    "pid": who[keep].astype(np.int64),
                    "minute": minute[keep].astype(np.int64),
                    "score": score[keep].astype(np.float64),
                    "sidx": session[keep].astype(np.int64),
                }
            ).with_columns(instrument=pl.lit(inst), timing=pl.lit(timing))
        )

    def pain(level: np.ndarray) -> np.ndarray:
        return np.clip(np.round(level + rng.normal(0, 0.6, len(level))), 0, 10)

    def phq(base, relief, dep) -> np.ndarray:
        frac = np.clip(0.45 * relief + dep, 0, 0.95)
        return np.clip(np.round(base * (1 - frac) + rng.normal(0, 1.5, len(base))), 0, 27)

    def gad(base, relief, dep) -> np.ndarray:
        g = 0.6 * base * 21 / 27 + 1.5
        return np.clip(
            np.round(g * (1 - np.clip(0.4 * relief + dep, 0, 0.9)) + rng.normal(0, 1.5, len(g))),
            0,
            21,
        )

    allp = np.arange(n)
    zero = np.zeros(n)
    base_t = extra["screening_minute"] + 20
    s_sess = np.arange(n)
    has_base = ~p["no_baseline"]
    add(
        allp,
        base_t,
        "pain_nrs",
        pain(p["pain0"]),
        s_sess,
        "baseline",
        has_base & (rng.random(n) < 0.93),
    )
    add(
        allp,
        base_t,
        "phq9",
        phq(p["phq0"], zero, zero),
        s_sess,
        "baseline",
        has_base & (rng.random(n) < 0.88),
    )
    add(
        allp,
        base_t,
        "gad7",
        gad(p["phq0"], zero, zero),
        s_sess,
        "baseline",
        p["gad_tracked"] & has_base,
    )
    # Around each dose.
    d_sess = n + np.arange(m)
    before_t = extra["dose_minute"] - 10
    after_t = (
        extra["dose_minute"]
        + np.where(extra["infusion_minutes"] > 0, extra["infusion_minutes"], 40)
        + 30
    )
    pain0 = p["pain0"][pid]
    skip_first = p["no_baseline"][pid] & (j == 0)
    add(
        pid,
        before_t,
        "pain_nrs",
        pain(pain0 * (1 - r_before)),
        d_sess,
        "before_dose",
        ~skip_first & (rng.random(m) < 0.9),
    )
    acute = rng.uniform(0.3, 1.5, m) * (p["response"][pid] < 2)
    add(
        pid,
        after_t,
        "pain_nrs",
        pain(pain0 * (1 - r_after) - acute),
        d_sess,
        "after_dose",
        rng.random(m) < 0.8,
    )
    phq_at = ~skip_first & (rng.random(m) < np.where(j == 0, 0.8, 0.25))
    add(
        pid,
        before_t,
        "phq9",
        phq(p["phq0"][pid], r_before, dep_before),
        d_sess,
        "before_dose",
        phq_at,
    )
    # Follow-ups after the end of the induction series (some late, many missed).
    ind_end = np.full(n, -1.0)
    is_ind = np.asarray(d["kind"]) == 0
    np.maximum.at(ind_end, pid[is_ind], t[is_ind])
    treated = ind_end >= 0
    single = p["n_induction"] == 1
    f_pid, f_t = [], []
    for offset, prob in ((7, 0.85), (14, 0.8), (28, 0.7), (56, 0.6), (90, 0.5), (180, 0.4)):
        keep = treated & (rng.random(n) < prob * np.where(single, 0.5, 1.0))
        late = np.where(rng.random(n) < 0.1, rng.integers(7, 26, n), rng.integers(0, 4, n))
        day = np.floor(ind_end) + offset + late
        f_pid.append(allp[keep])
        f_t.append((day * _DAY + 9 * 60 + rng.integers(0, 480, n))[keep])
    fp = np.concatenate(f_pid).astype(np.int64)
    ft = np.concatenate(f_t).astype(np.int64)
    inside = ft < (END_DAY + 1) * _DAY
    fp, ft = fp[inside], ft[inside]
    span = (END_DAY + 400) * _DAY
    dose_key = pid * span + extra["dose_minute"]
    idx = np.searchsorted(dose_key, fp * span + ft, side="right") - 1
    fdur = p["durability"][fp]
    fsince = ft / _DAY - t[idx]
    f_relief = r_after[idx] * _decay(fsince, fdur)
    f_dep = dep_after[idx] * _decay(fsince, 1.5 * fdur)
    k = len(fp)
    none = np.full(k, -1)
    add(
        fp,
        ft,
        "pain_nrs",
        pain(p["pain0"][fp] * (1 - f_relief)),
        none,
        "follow_up",
        np.ones(k, bool),
    )
    add(fp, ft, "phq9", phq(p["phq0"][fp], f_relief, f_dep), none, "follow_up", rng.random(k) < 0.7)
    add(
        fp,
        ft,
        "gad7",
        gad(p["phq0"][fp], f_relief, f_dep),
        none,
        "follow_up",
        p["gad_tracked"][fp] & (rng.random(k) < 0.6),
    )
    frame = pl.concat(rows, how="vertical_relaxed")
    frame = frame.with_columns(item=pl.lit(None, dtype=pl.Int32))
    # PHQ-9 item 9 beside half the PHQ-9 totals; answers above 0 are rare and track severity.
    phq_rows = frame.filter(pl.col("instrument") == "phq9")
    total = phq_rows.get_column("score").to_numpy()
    q = len(total)
    positive = rng.random(q) < 0.02 + 0.02 * np.maximum(total - 10, 0)
    answer = np.minimum(np.where(positive, rng.choice([1, 1, 1, 2, 2, 3], q), 0), total)
    item9 = phq_rows.with_columns(
        item=pl.lit(9, dtype=pl.Int32), score=pl.Series(answer.astype(float))
    ).filter(pl.Series(rng.random(q) < 0.5))
    frame = pl.concat([frame, item9], how="vertical_relaxed")
    keys = ["pid", "minute", "instrument", "item"]
    frame = _first_of_each_key(frame.sort(keys, nulls_last=False, maintain_order=True), keys)
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        assessed_at=_times(frame.get_column("minute").to_numpy()),
        session_id=_gather_or_null(session_ids, frame.get_column("sidx").to_numpy()),
    )
    return frame.select(tables.columns("assessments"))


#: Per dosing session: event, probability, severity weights (mild, moderate, severe),
#: actions and their weights, share left unresolved.
ADVERSE_EVENT_RATES = (
    (
        "dissociation",
        0.22,
        (0.75, 0.22, 0.03),
        ("none", "observation_extended", "infusion_slowed"),
        (0.6, 0.25, 0.15),
    ),
    (
        "nausea_vomiting",
        0.09,
        (0.7, 0.27, 0.03),
        ("medication_given", "none", "infusion_slowed"),
        (0.6, 0.3, 0.1),
    ),
    ("dizziness", 0.07, (0.8, 0.18, 0.02), ("none", "observation_extended"), (0.6, 0.4)),
    ("sedation", 0.06, (0.75, 0.22, 0.03), ("observation_extended", "none"), (0.6, 0.4)),
    ("headache", 0.04, (0.7, 0.27, 0.03), ("medication_given", "none"), (0.5, 0.5)),
    (
        "anxiety_panic",
        0.035,
        (0.6, 0.33, 0.07),
        ("none", "medication_given", "infusion_slowed"),
        (0.4, 0.3, 0.3),
    ),
    ("raised_heart_rate", 0.02, (0.8, 0.18, 0.02), ("none", "infusion_slowed"), (0.6, 0.4)),
    ("vivid_dreams", 0.025, (0.85, 0.15, 0.0), ("none", "next_dose_reduced"), (0.8, 0.2)),
    ("visual_disturbance", 0.025, (0.85, 0.15, 0.0), ("none",), (1.0,)),
    (
        "hallucinations",
        0.012,
        (0.5, 0.4, 0.1),
        ("infusion_slowed", "none", "next_dose_reduced"),
        (0.5, 0.3, 0.2),
    ),
    ("memory_effects", 0.004, (0.8, 0.2, 0.0), ("none",), (1.0,)),
    ("other", 0.004, (0.9, 0.1, 0.0), ("none",), (1.0,)),
    ("psychosis", 0.0005, (0.0, 0.0, 1.0), ("infusion_stopped", "hospital_transfer"), (0.5, 0.5)),
    (
        "respiratory_depression",
        0.0004,
        (0.0, 0.0, 1.0),
        ("infusion_stopped", "hospital_transfer"),
        (0.6, 0.4),
    ),
)
_OTHER_TEXT = (
    "dry mouth",
    "tingling in fingers",
    "slurred speech",
    "itching at the IV site",
    "chills",
)
_EVENT_TEXT = {
    "dissociation": ("felt floaty", "out of body feeling", "dissociated, settled with reassurance"),
    "nausea_vomiting": ("nauseous, zofran given", "vomited once"),
    "anxiety_panic": ("panicky at onset", "anxious, midazolam 1 mg"),
    "vivid_dreams": ("vivid dreams",),
    "visual_disturbance": ("blurred vision",),
}


def _adverse_events(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, extra: Draws
) -> pl.DataFrame:
    m = len(d["pid"])
    pid, start = d["pid"], extra["dose_minute"]
    dur = np.where(extra["infusion_minutes"] > 0, extra["infusion_minutes"], 40)
    parts = []
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
    cols: dict[str, list] = {k: [] for k in ("row", "event", "severity", "action")}
    for event, rows_, sev_p, actions, act_p in parts:
        k = len(rows_)
        cols["row"].append(rows_)
        cols["event"].append(np.full(k, event, dtype=object))
        cols["severity"].append(_pick(rng, tables.SEVERITIES, sev_p, k))
        cols["action"].append(_pick(rng, actions, act_p, k))
    row = np.concatenate(cols["row"]).astype(np.int64)
    event = np.concatenate(cols["event"])
    severity = np.concatenate(cols["severity"])
    action = np.concatenate(cols["action"])
    k = len(row)
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
    onset = start[row] + (rng.random(k) * (dur[row] + 30)).astype(np.int64) + 5
    lasting = np.isin(event, ("memory_effects", "urinary_symptoms")) | (rng.random(k) < 0.03)
    resolved = np.where(lasting, -1, onset + rng.integers(10, 240, k))
    text = np.full(k, None, dtype=object)
    for ev, options in _EVENT_TEXT.items():
        sel = (event == ev) & (rng.random(k) < 0.3)
        text[sel] = _pick(rng, options, np.full(len(options), 1 / len(options)), int(sel.sum()))
    sel = event == "other"
    text[sel] = _pick(rng, _OTHER_TEXT, np.full(len(_OTHER_TEXT), 0.2), int(sel.sum()))
    action = np.where(rng.random(k) < 0.05, None, action)
    # Abuse or misuse is noticed between visits: not tied to a session.
    n = len(ids)
    last = np.full(n, -1)
    np.maximum.at(last, pid, extra["dose_minute"])
    misuse = np.flatnonzero((last >= 0) & (rng.random(n) < 0.004))
    m_onset = last[misuse] + _DAY * rng.integers(3, 30, len(misuse))
    m_onset = np.minimum(m_onset, END_DAY * _DAY + 600)
    frame = pl.DataFrame(
        {
            "pid": np.r_[pid[row], misuse],
            "session_id": pl.concat(
                [
                    extra["dosing_session"].gather(row),
                    pl.Series([None] * len(misuse), dtype=pl.String),
                ]
            ),
            "event": event.tolist() + ["abuse_misuse"] * len(misuse),
            "event_text": text.tolist() + ["early refill request, lost lozenges"] * len(misuse),
            "severity": severity.tolist() + ["severe"] * len(misuse),
            "grade": np.r_[grade, np.full(len(misuse), 3)],
            "serious": np.r_[serious, np.ones(len(misuse), bool)],
            "onset": np.r_[onset, m_onset],
            "resolved": np.r_[resolved, np.full(len(misuse), -1)],
            "action_taken": action.tolist() + ["other"] * len(misuse),
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
        onset_at=_times(frame["onset"].to_numpy()),
        resolved_at=pl.when(pl.col("resolved") >= 0).then(
            _times(np.maximum(frame["resolved"].to_numpy(), 0))
        ),
        grade=pl.when(pl.col("grade") > 0).then(pl.col("grade")).cast(pl.Int32),
    )
    keys = ["pid", "onset", "event"]
    frame = _first_of_each_key(frame.sort(keys, maintain_order=True), keys)
    ordinal = _group_ordinal(frame["pid"].to_numpy()) + 1
    frame = frame.with_columns(
        event_id=pl.format("{}-ae{}", "patient_id", pl.Series(ordinal).cast(pl.String).str.zfill(3))
    )
    return frame.select(tables.columns("adverse_events"))


#: Opioid products: ingredient -> (strength, RxNorm product code, description, usual
#: units per day). Codes and texts as Synthea and RxNorm write them; where no product code is
#: given the ingredient's RxNorm code is exported, as some clinics do.
OPIOID_PRODUCTS: dict[str, tuple[tuple[float, str, str, tuple[int, ...]], ...]] = {
    "oxycodone": (
        (
            5.0,
            "1049221",
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG Oral Tablet",
            (3, 4, 6),
        ),
        (
            10.0,
            "1049625",
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet",
            (2, 3, 4),
        ),
        (
            15.0,
            "1860154",
            "Abuse-Deterrent 12 HR Oxycodone Hydrochloride 15 MG Extended Release Oral Tablet",
            (2,),
        ),
    ),
    "hydrocodone": (
        (
            5.0,
            "856987",
            "Acetaminophen 300 MG / Hydrocodone Bitartrate 5 MG Oral Tablet",
            (3, 4, 6),
        ),
        (
            7.5,
            "857005",
            "Acetaminophen 325 MG / Hydrocodone Bitartrate 7.5 MG Oral Tablet",
            (2, 3, 4),
        ),
        (10.0, "1860491", "12 HR Hydrocodone Bitartrate 10 MG Extended Release Oral Capsule", (2,)),
    ),
    "tramadol": (
        (50.0, "835603", "tramadol hydrochloride 50 MG Oral Tablet", (2, 3, 4)),
        (100.0, "2179635", "tramadol hydrochloride 100 MG Oral Tablet", (1, 2, 3)),
    ),
    "codeine": (
        (15.0, "993770", "Acetaminophen 300 MG / Codeine Phosphate 15 MG Oral Tablet", (3, 4, 6)),
    ),
    "fentanyl": (
        (25.0, "245134", "72 HR Fentanyl 0.025 MG/HR Transdermal System", (0,)),
        (50.0, "245135", "72 HR Fentanyl 0.05 MG/HR Transdermal System", (0,)),
    ),
    "morphine": ((15.0, "7052", "morphine sulfate 15 MG Extended Release Oral Tablet", (2, 3)),),
    "hydromorphone": ((2.0, "3423", "hydromorphone hydrochloride 2 MG Oral Tablet", (3, 4)),),
    "methadone": ((10.0, "6813", "methadone hydrochloride 10 MG Oral Tablet", (2, 3)),),
    "tapentadol": ((50.0, "787390", "tapentadol 50 MG Oral Tablet", (2, 3, 4)),),
    "oxymorphone": ((5.0, "7814", "oxymorphone hydrochloride 5 MG Oral Tablet", (2, 3)),),
    "buprenorphine": (
        (2.0, "351266", "buprenorphine 2 MG / naloxone 0.5 MG Sublingual Tablet", (2, 3)),
        (8.0, "1010604", "buprenorphine 8 MG / naloxone 2 MG Sublingual Film", (1, 2)),
    ),
}
OPIOID_SHARE = {
    "oxycodone": 0.30,
    "hydrocodone": 0.22,
    "tramadol": 0.16,
    "morphine": 0.08,
    "fentanyl": 0.06,
    "hydromorphone": 0.06,
    "tapentadol": 0.04,
    "methadone": 0.03,
    "codeine": 0.03,
    "oxymorphone": 0.02,
}


def _opioids(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, referral_day: np.ndarray
) -> pl.DataFrame:
    n = len(ids)
    on = rng.random(n) < 0.42
    who = np.r_[np.flatnonzero(on), np.flatnonzero(on & (rng.random(n) < 0.12))]
    ingredient = _pick(rng, tuple(OPIOID_SHARE), tuple(OPIOID_SHARE.values()), len(who))
    n_bup = max(1, round(n * 0.004)) if n >= 20 else 0
    bup = rng.choice(n, size=n_bup, replace=False)
    who = np.r_[who, bup]
    ingredient = np.r_[ingredient, np.full(n_bup, "buprenorphine", dtype=object)]
    k = len(who)
    strength, rxnorm, text, freq = (np.empty(k, dtype=object) for _ in range(4))
    for ing, products in OPIOID_PRODUCTS.items():
        sel = np.flatnonzero(ingredient == ing)
        choice = rng.integers(0, len(products), len(sel))
        for c, (s, code, desc, freqs) in enumerate(products):
            rows_ = sel[choice == c]
            strength[rows_], rxnorm[rows_], text[rows_] = s, code, desc
            freq[rows_] = rng.choice(freqs, len(rows_))
    strength, freq = strength.astype(float), freq.astype(float)
    start = referral_day[who] - rng.integers(60, 1500, k)
    # Tapering after treatment: more often in responders who completed induction.
    ind_end = np.full(n, -1)
    is_ind = d["kind"] == 0
    np.maximum.at(ind_end, d["pid"][is_ind], d["day"][is_ind])
    resp = p["response"][who]
    p_taper = np.select([resp == 0, resp == 1], [0.45, 0.2], 0.05)
    taper = (ind_end[who] >= 0) & (rng.random(k) < p_taper) & (p["n_induction"][who] >= 4)
    stop = np.where(taper, ind_end[who] + rng.integers(7, 60, k), -1)
    stop = np.where(
        ~taper & (rng.random(k) < 0.08), referral_day[who] + rng.integers(30, 200, k), stop
    )
    stop = np.where(stop > END_DAY, -1, stop)
    taper &= stop >= 0
    step_freq = np.where(freq > 1, freq - rng.integers(1, 3, k), 0)
    step_strength = np.where((ingredient == "fentanyl") & (strength > 25), 25.0, strength)
    step_freq = np.where(ingredient == "fentanyl", np.where(strength > 25, 0, -1), step_freq)
    follow = (
        taper & (step_freq != -1) & ((step_freq > 0) | (ingredient == "fentanyl") & (strength > 25))
    )
    follow &= ~((ingredient != "fentanyl") & (step_freq <= 0))
    f = np.flatnonzero(follow)
    f_start = stop[f] + 1
    f_stop = np.where(rng.random(len(f)) < 0.3, f_start + rng.integers(30, 120, len(f)), -1)
    f_stop = np.where(f_stop > END_DAY, -1, f_stop)
    f_fent = ingredient[f] == "fentanyl"
    f_strength = np.where(f_fent, step_strength[f], strength[f])
    f_freq = np.where(f_fent, 0, step_freq[f])
    all_strength = np.r_[strength, f_strength]
    all_freq = np.r_[freq, f_freq]
    fent = np.r_[ingredient, ingredient[f]] == "fentanyl"
    daily = np.where(fent, all_strength, all_strength * all_freq)
    fentanyl_text = {25.0: ("245134", "72 HR Fentanyl 0.025 MG/HR Transdermal System")}
    f_rx = np.where(f_fent, fentanyl_text[25.0][0], rxnorm[f])
    f_text = np.where(f_fent, fentanyl_text[25.0][1], text[f])
    frame = pl.DataFrame(
        {
            "pid": np.r_[who, who[f]],
            "patient_id": ids.gather(np.r_[who, who[f]]),
            "ingredient": np.r_[ingredient, ingredient[f]].tolist(),
            "strength": all_strength,
            "unit": np.where(fent, "mcg/hr", "mg").tolist(),
            "frequency_per_day": np.where(fent, np.nan, all_freq),
            "daily_dose": daily,
            "start": np.r_[start, f_start],
            "stop": np.r_[stop, f_stop],
            "rxnorm": np.r_[rxnorm, f_rx].tolist(),
            "description": np.r_[text, f_text].tolist(),
        },
        schema_overrides={
            "patient_id": pl.String,
            "ingredient": pl.String,
            "unit": pl.String,
            "rxnorm": pl.String,
            "description": pl.String,
        },
    )
    frame = _nan_to_null(frame).with_columns(
        start_date=_dates(frame["start"].to_numpy()),
        stop_date=pl.when(pl.col("stop") >= 0).then(
            _dates(np.maximum(frame["stop"].to_numpy(), 0))
        ),
    )
    frame = opioids.add_daily_mme(frame).with_columns(pl.col("daily_mme").round(4))
    keys = ["pid", "start_date", "ingredient", "daily_dose"]
    frame = _first_of_each_key(frame.sort(keys, maintain_order=True), keys)
    return frame.select(tables.columns("opioids"))


def _patient_frame(
    p: Draws, ids: pl.Series, first_minute: np.ndarray
) -> tuple[pl.DataFrame, pl.Series]:
    referral = _dates(p["referral"])
    ref_year = referral.dt.year().to_numpy()
    birth_year = ref_year - p["age"]
    jan1 = np.asarray([np.datetime64(f"{y}-01-01") for y in range(1890, 2031)])
    birth = pl.Series(
        jan1[birth_year - 1890] + np.minimum(p["birth_doy"], 364).astype("timedelta64[D]")
    )
    first = pl.Series(_times(first_minute)).dt.date()
    frame = pl.DataFrame({"birth": birth, "first": first}).with_columns(
        age=pl.col("first").dt.year()
        - pl.col("birth").dt.year()
        - (
            (pl.col("first").dt.month() < pl.col("birth").dt.month())
            | (
                (pl.col("first").dt.month() == pl.col("birth").dt.month())
                & (pl.col("first").dt.day() < pl.col("birth").dt.day())
            )
        ).cast(pl.Int32)
    )
    age = frame["age"].to_numpy()
    low = np.minimum(age // 10 * 10, 90)
    band = np.where(
        age >= 90,
        "90+",
        np.char.add(np.char.add(np.char.zfill(low.astype(str), 2), "-"), (low + 9).astype(str)),
    )
    out = pl.DataFrame(
        {
            "patient_id": ids,
            "clinic": np.asarray(CLINICS)[p["clinic"]].tolist(),
            "primary_condition": np.asarray(tables.CONDITIONS)[p["condition"]].tolist(),
            "comorbid_depression": p["depressed"],
            "sex": np.asarray(tables.SEXES)[p["sex"]].tolist(),
            "birth_year": pl.Series(np.where(age >= 90, -1, frame["birth"].dt.year().to_numpy())),
            "age_band": band.tolist(),
            "referral_date": referral,
            **{
                k: p[k]
                for k in (
                    "psychosis_history",
                    "cardiovascular_disease",
                    "raised_intracranial_pressure",
                    "substance_use_disorder",
                    "interacting_medication",
                )
            },
        }
    ).with_columns(
        birth_year=pl.when(pl.col("birth_year") > 0).then(pl.col("birth_year")).cast(pl.Int32)
    )
    return out.select(tables.columns("patients")), birth


def _build(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series
) -> tuple[dict[str, pl.DataFrame], pl.Series]:
    sessions, extra = _sessions(rng, p, d, ids)
    n = len(ids)
    first_minute = extra["screening_minute"].copy()
    if len(d["pid"]):
        first_dose = np.full(n, -1)
        sel = d["j"] == 0
        first_dose[d["pid"][sel]] = extra["dose_minute"][sel]
        first_minute = np.where(first_dose >= 0, first_dose, first_minute)
    patients, birth = _patient_frame(p, ids, first_minute)
    built = {
        "patients": patients,
        "sessions": sessions,
        "assessments": _assessments(rng, p, d, ids, extra),
        "opioids": _opioids(rng, p, d, ids, p["referral"]),
        "adverse_events": _adverse_events(rng, p, d, ids, extra),
    }
    return built, birth


def generate(seed: int = 7, patients: int = 360) -> SampleCohort:
    """The seeded demo cohort (deterministic for ``seed``)."""
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    rng = np.random.default_rng(seed)
    p = _patients(rng, patients)
    d = _dosing(rng, p)
    mrn = [f"DEMO-{i + 1:06d}" for i in range(patients)]
    ids = pl.Series(
        "patient_id", [privacy.pseudonymise(m, privacy.DEMO_SECRET) for m in mrn], pl.String
    )
    built, birth = _build(rng, p, d, ids)
    truth = pl.DataFrame(
        {
            "patient_id": ids,
            "mrn": mrn,
            "birth_date": birth,
            "response_class": np.asarray(RESPONSE_CLASSES)[p["response"]].tolist(),
            "pain_relief_max": p["relief"].round(3),
            "durability_days": p["durability"].round(1),
            "depression_effect": p["dep_effect"].round(3),
            "screen_fail": p["screen_fail"],
        }
    )
    return SampleCohort(
        seed=seed,
        patients=patients,
        tables=built,
        mrns=dict(zip(ids.to_list(), mrn, strict=True)),
        truth=truth,
    )


def write_sample(out: Path, seed: int = 7, patients: int = 360) -> list[Path]:
    """Write the demo tables, the messy exports and CATALOG.md under ``out``; return the paths."""
    from kapoutcomes import sample_exports

    return sample_exports.write_all(Path(out), generate(seed=seed, patients=patients))


__all__ = ["CLINICS", "SampleCohort", "generate", "write_sample"]
