"""The demo cohort's outcomes: instrument scores over the course (at baseline, before and
after doses, at follow-up), following each patient's hidden response, and the opioid
prescriptions behind the daily-MME course."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import opioids
from kapoutcomes.demo.draws import (
    Draws,
    day_dates,
    first_of_each_key,
    gather_or_null,
    minute_times,
    nan_to_null,
    pick,
    relief_kept,
)
from kapoutcomes.demo.params import DAY_MINUTES, END_DAY, OPIOID_PRODUCTS, OPIOID_SHARE


def draw_assessments(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, extra: Draws
) -> pl.DataFrame:
    """Pain NRS, PHQ-9 (with item 9 answers) and GAD-7 at baseline, around doses, follow-ups."""
    n, m = len(ids), len(d["pid"])
    pid, j = d["pid"], d["j"]
    dur = p["durability"][pid]
    r_after = p["relief"][pid] * (1 - 0.55 ** (j + 1))
    dep_after = p["dep_effect"][pid] * (1 - 0.55 ** (j + 1))
    t = extra["dose_minute"] / DAY_MINUTES
    prev = np.r_[0, np.arange(m - 1)] if m else np.zeros(0, int)
    since = t - t[prev]
    r_before = np.where(j == 0, 0.0, r_after[prev] * relief_kept(since, dur))
    dep_before = np.where(j == 0, 0.0, dep_after[prev] * relief_kept(since, 1.5 * dur))
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
        f_t.append((day * DAY_MINUTES + 9 * 60 + rng.integers(0, 480, n))[keep])
    fp = np.concatenate(f_pid).astype(np.int64)
    ft = np.concatenate(f_t).astype(np.int64)
    inside = ft < (END_DAY + 1) * DAY_MINUTES
    fp, ft = fp[inside], ft[inside]
    span = (END_DAY + 400) * DAY_MINUTES
    dose_key = pid * span + extra["dose_minute"]
    idx = np.searchsorted(dose_key, fp * span + ft, side="right") - 1
    fdur = p["durability"][fp]
    fsince = ft / DAY_MINUTES - t[idx]
    f_relief = r_after[idx] * relief_kept(fsince, fdur)
    f_dep = dep_after[idx] * relief_kept(fsince, 1.5 * fdur)
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
    frame = first_of_each_key(frame.sort(keys, nulls_last=False, maintain_order=True), keys)
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        assessed_at=minute_times(frame.get_column("minute").to_numpy()),
        session_id=gather_or_null(session_ids, frame.get_column("sidx").to_numpy()),
    )
    return frame.select(tables.columns("assessments"))


def draw_opioids(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, referral_day: np.ndarray
) -> pl.DataFrame:
    n = len(ids)
    on = rng.random(n) < 0.42
    who = np.r_[np.flatnonzero(on), np.flatnonzero(on & (rng.random(n) < 0.12))]
    ingredient = pick(rng, tuple(OPIOID_SHARE), tuple(OPIOID_SHARE.values()), len(who))
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
    frame = nan_to_null(frame).with_columns(
        start_date=day_dates(frame["start"].to_numpy()),
        stop_date=pl.when(pl.col("stop") >= 0).then(
            day_dates(np.maximum(frame["stop"].to_numpy(), 0))
        ),
    )
    frame = opioids.add_daily_mme(frame).with_columns(pl.col("daily_mme").round(4))
    keys = ["pid", "start_date", "ingredient", "daily_dose"]
    frame = first_of_each_key(frame.sort(keys, maintain_order=True), keys)
    return frame.select(tables.columns("opioids"))
