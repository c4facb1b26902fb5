"""The demo cohort's outcomes: instrument scores over the course (at baseline, before and
after doses, at follow-up), following each patient's hidden response, and the opioid
prescriptions behind the daily-MME course."""

from __future__ import annotations

from dataclasses import dataclass

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
from kapoutcomes.demo.params import (
    DAY_MINUTES,
    DEPRESSION_DURABILITY_FACTOR,
    END_DAY,
    OPIOID_PRODUCTS,
    OPIOID_SHARE,
    PAIN_RELIEF_IN_PHQ9,
)


@dataclass(frozen=True)
class ReliefCourse:
    """Per dosing row: the day of the dose and the pain relief and depression effect just
    before and just after it, from the patient's hidden response."""

    day: np.ndarray  # the dose's time in days
    relief_before: np.ndarray
    relief_after: np.ndarray
    dep_before: np.ndarray
    dep_after: np.ndarray


def relief_course(p: Draws, d: Draws, extra: Draws) -> ReliefCourse:
    m = len(d["pid"])
    pid, j = d["pid"], d["j"]
    dur = p["durability"][pid]
    r_after = p["relief"][pid] * (1 - 0.55 ** (j + 1))
    dep_after = p["dep_effect"][pid] * (1 - 0.55 ** (j + 1))
    t = extra["dose_minute"] / DAY_MINUTES
    prev = np.r_[0, np.arange(m - 1)] if m else np.zeros(0, int)
    since = t - t[prev]
    r_before = np.where(j == 0, 0.0, r_after[prev] * relief_kept(since, dur))
    dep_before = np.where(
        j == 0, 0.0, dep_after[prev] * relief_kept(since, DEPRESSION_DURABILITY_FACTOR * dur)
    )
    return ReliefCourse(t, r_before, r_after, dep_before, dep_after)


def _score_rows(who, minute, inst, score, session, timing, keep) -> pl.DataFrame:
    """The kept scores of one instrument and timing; ``session`` indexes the screening then
    the dosing session ids (-1: no session)."""
    return pl.DataFrame(
        {
            "pid": who[keep].astype(np.int64),
            "minute": minute[keep].astype(np.int64),
            "score": score[keep].astype(np.float64),
            "sidx": session[keep].astype(np.int64),
        }
    ).with_columns(instrument=pl.lit(inst), timing=pl.lit(timing))


def _pain(rng: np.random.Generator, level: np.ndarray) -> np.ndarray:
    return np.clip(np.round(level + rng.normal(0, 0.6, len(level))), 0, 10)


def _phq(rng: np.random.Generator, base, relief, dep) -> np.ndarray:
    frac = np.clip(PAIN_RELIEF_IN_PHQ9 * relief + dep, 0, 0.95)
    return np.clip(np.round(base * (1 - frac) + rng.normal(0, 1.5, len(base))), 0, 27)


def _gad(rng: np.random.Generator, base, relief, dep) -> np.ndarray:
    g = 0.6 * base * 21 / 27 + 1.5
    return np.clip(
        np.round(g * (1 - np.clip(0.4 * relief + dep, 0, 0.9)) + rng.normal(0, 1.5, len(g))),
        0,
        21,
    )


def _baseline_scores(rng: np.random.Generator, p: Draws, extra: Draws) -> list[pl.DataFrame]:
    """Scores at the screening visit (none for patients without a baseline)."""
    n = len(p["pain0"])
    allp = np.arange(n)
    zero = np.zeros(n)
    base_t = extra["screening_minute"] + 20
    s_sess = np.arange(n)
    has_base = ~p["no_baseline"]
    return [
        _score_rows(
            allp,
            base_t,
            "pain_nrs",
            _pain(rng, p["pain0"]),
            s_sess,
            "baseline",
            has_base & (rng.random(n) < 0.93),
        ),
        _score_rows(
            allp,
            base_t,
            "phq9",
            _phq(rng, p["phq0"], zero, zero),
            s_sess,
            "baseline",
            has_base & (rng.random(n) < 0.88),
        ),
        _score_rows(
            allp,
            base_t,
            "gad7",
            _gad(rng, p["phq0"], zero, zero),
            s_sess,
            "baseline",
            p["gad_tracked"] & has_base,
        ),
    ]


def _dose_scores(
    rng: np.random.Generator, p: Draws, d: Draws, extra: Draws, c: ReliefCourse
) -> list[pl.DataFrame]:
    """Pain before and after each dose, PHQ-9 before some doses."""
    n, m = len(p["pain0"]), len(d["pid"])
    pid, j = d["pid"], d["j"]
    d_sess = n + np.arange(m)
    before_t = extra["dose_minute"] - 10
    after_t = (
        extra["dose_minute"]
        + np.where(extra["infusion_minutes"] > 0, extra["infusion_minutes"], 40)
        + 30
    )
    pain0 = p["pain0"][pid]
    skip_first = p["no_baseline"][pid] & (j == 0)
    before = _score_rows(
        pid,
        before_t,
        "pain_nrs",
        _pain(rng, pain0 * (1 - c.relief_before)),
        d_sess,
        "before_dose",
        ~skip_first & (rng.random(m) < 0.9),
    )
    acute = rng.uniform(0.3, 1.5, m) * (p["response"][pid] < 2)
    after = _score_rows(
        pid,
        after_t,
        "pain_nrs",
        _pain(rng, pain0 * (1 - c.relief_after) - acute),
        d_sess,
        "after_dose",
        rng.random(m) < 0.8,
    )
    phq_at = ~skip_first & (rng.random(m) < np.where(j == 0, 0.8, 0.25))
    phq = _score_rows(
        pid,
        before_t,
        "phq9",
        _phq(rng, p["phq0"][pid], c.relief_before, c.dep_before),
        d_sess,
        "before_dose",
        phq_at,
    )
    return [before, after, phq]


def _follow_up_times(
    rng: np.random.Generator, p: Draws, d: Draws, c: ReliefCourse
) -> tuple[np.ndarray, np.ndarray]:
    """Patients and minutes of the follow-ups after the end of the induction series (some
    late, many missed; none after the end of the data)."""
    n = len(p["pain0"])
    pid = d["pid"]
    ind_end = np.full(n, -1.0)
    is_ind = np.asarray(d["kind"]) == 0
    np.maximum.at(ind_end, pid[is_ind], c.day[is_ind])
    treated = ind_end >= 0
    single = p["n_induction"] == 1
    f_pid, f_t = [], []
    for offset, prob in ((7, 0.85), (14, 0.8), (28, 0.7), (56, 0.6), (90, 0.5), (180, 0.4)):
        keep = treated & (rng.random(n) < prob * np.where(single, 0.5, 1.0))
        late = np.where(rng.random(n) < 0.1, rng.integers(7, 26, n), rng.integers(0, 4, n))
        day = np.floor(ind_end) + offset + late
        f_pid.append(np.arange(n)[keep])
        f_t.append((day * DAY_MINUTES + 9 * 60 + rng.integers(0, 480, n))[keep])
    fp = np.concatenate(f_pid).astype(np.int64)
    ft = np.concatenate(f_t).astype(np.int64)
    inside = ft < (END_DAY + 1) * DAY_MINUTES
    return fp[inside], ft[inside]


def _follow_up_scores(
    rng: np.random.Generator, p: Draws, d: Draws, extra: Draws, c: ReliefCourse
) -> list[pl.DataFrame]:
    """Scores at follow-up, from the relief left of the patient's last dose before it."""
    fp, ft = _follow_up_times(rng, p, d, c)
    span = (END_DAY + 400) * DAY_MINUTES
    dose_key = d["pid"] * span + extra["dose_minute"]
    idx = np.searchsorted(dose_key, fp * span + ft, side="right") - 1
    fdur = p["durability"][fp]
    fsince = ft / DAY_MINUTES - c.day[idx]
    f_relief = c.relief_after[idx] * relief_kept(fsince, fdur)
    f_dep = c.dep_after[idx] * relief_kept(fsince, DEPRESSION_DURABILITY_FACTOR * fdur)
    k = len(fp)
    none = np.full(k, -1)
    pain = _pain(rng, p["pain0"][fp] * (1 - f_relief))
    return [
        _score_rows(fp, ft, "pain_nrs", pain, none, "follow_up", np.ones(k, bool)),
        _score_rows(
            fp,
            ft,
            "phq9",
            _phq(rng, p["phq0"][fp], f_relief, f_dep),
            none,
            "follow_up",
            rng.random(k) < 0.7,
        ),
        _score_rows(
            fp,
            ft,
            "gad7",
            _gad(rng, p["phq0"][fp], f_relief, f_dep),
            none,
            "follow_up",
            p["gad_tracked"][fp] & (rng.random(k) < 0.6),
        ),
    ]


def _with_item9(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """PHQ-9 item 9 beside half the PHQ-9 totals; answers above 0 are rare and track
    severity."""
    frame = frame.with_columns(item=pl.lit(None, dtype=pl.Int32))
    phq_rows = frame.filter(pl.col("instrument") == "phq9")
    total = phq_rows.get_column("score").to_numpy()
    q = len(total)
    positive = rng.random(q) < 0.02 + 0.02 * np.maximum(total - 10, 0)
    answer = np.minimum(np.where(positive, rng.choice([1, 1, 1, 2, 2, 3], q), 0), total)
    item9 = phq_rows.with_columns(
        item=pl.lit(9, dtype=pl.Int32), score=pl.Series(answer.astype(float))
    ).filter(pl.Series(rng.random(q) < 0.5))
    return pl.concat([frame, item9], how="vertical_relaxed")


def draw_assessments(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, extra: Draws
) -> pl.DataFrame:
    """Pain NRS, PHQ-9 (with item 9 answers) and GAD-7 at baseline, around doses, follow-ups."""
    course = relief_course(p, d, extra)
    rows = [
        *_baseline_scores(rng, p, extra),
        *_dose_scores(rng, p, d, extra, course),
        *_follow_up_scores(rng, p, d, extra, course),
    ]
    frame = _with_item9(rng, pl.concat(rows, how="vertical_relaxed"))
    keys = ["pid", "minute", "instrument", "item"]
    frame = first_of_each_key(frame.sort(keys, nulls_last=False, maintain_order=True), keys)
    session_ids = pl.concat([extra["screening_session"], extra["dosing_session"]])
    frame = frame.with_columns(
        patient_id=ids.gather(frame.get_column("pid")),
        assessed_at=minute_times(frame.get_column("minute").to_numpy()),
        session_id=gather_or_null(session_ids, frame.get_column("sidx").to_numpy()),
    )
    return frame.select(tables.columns("assessments"))


#: the fentanyl patch a taper steps down to
_FENTANYL_STEP = ("245134", "72 HR Fentanyl 0.025 MG/HR Transdermal System")


def _draw_who_takes_opioids(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Patients on opioids (some on two) and each prescription's ingredient, with a few on
    buprenorphine."""
    on = rng.random(n) < 0.42
    who = np.r_[np.flatnonzero(on), np.flatnonzero(on & (rng.random(n) < 0.12))]
    ingredient = pick(rng, tuple(OPIOID_SHARE), tuple(OPIOID_SHARE.values()), len(who))
    n_bup = max(1, round(n * 0.004)) if n >= 20 else 0
    bup = rng.choice(n, size=n_bup, replace=False)
    return np.r_[who, bup], np.r_[ingredient, np.full(n_bup, "buprenorphine", dtype=object)]


def _draw_products(rng: np.random.Generator, ingredient: np.ndarray) -> Draws:
    """Strength, RxNorm code, description and doses a day of each prescription."""
    k = len(ingredient)
    strength, rxnorm, text, freq = (np.empty(k, dtype=object) for _ in range(4))
    for ing, products in OPIOID_PRODUCTS.items():
        sel = np.flatnonzero(ingredient == ing)
        choice = rng.integers(0, len(products), len(sel))
        for c, (s, code, desc, freqs) in enumerate(products):
            rows_ = sel[choice == c]
            strength[rows_], rxnorm[rows_], text[rows_] = s, code, desc
            freq[rows_] = rng.choice(freqs, len(rows_))
    return {
        "strength": strength.astype(float),
        "rxnorm": rxnorm,
        "text": text,
        "freq": freq.astype(float),
    }


def _draw_dates(
    rng: np.random.Generator, p: Draws, d: Draws, who: np.ndarray, referral_day: np.ndarray
) -> Draws:
    """Start and stop days (-1: still taking it); tapering after treatment is more common in
    responders who completed induction."""
    k = len(who)
    start = referral_day[who] - rng.integers(60, 1500, k)
    ind_end = np.full(len(p["response"]), -1)
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
    return {"start": start, "stop": stop, "taper": taper & (stop >= 0)}


def _draw_taper_steps(
    rng: np.random.Generator, ingredient: np.ndarray, rx: Draws, dates: Draws
) -> Draws:
    """The lower dose a tapered prescription continues at: one or two doses a day fewer, or
    the 25 mcg/hr fentanyl patch (``f``: the rows it follows)."""
    strength, freq, stop = rx["strength"], rx["freq"], dates["stop"]
    k = len(ingredient)
    step_freq = np.where(freq > 1, freq - rng.integers(1, 3, k), 0)
    step_strength = np.where((ingredient == "fentanyl") & (strength > 25), 25.0, strength)
    step_freq = np.where(ingredient == "fentanyl", np.where(strength > 25, 0, -1), step_freq)
    follow = (
        dates["taper"]
        & (step_freq != -1)
        & ((step_freq > 0) | (ingredient == "fentanyl") & (strength > 25))
    )
    follow &= ~((ingredient != "fentanyl") & (step_freq <= 0))
    f = np.flatnonzero(follow)
    f_start = stop[f] + 1
    f_stop = np.where(rng.random(len(f)) < 0.3, f_start + rng.integers(30, 120, len(f)), -1)
    f_fent = ingredient[f] == "fentanyl"
    return {
        "f": f,
        "start": f_start,
        "stop": np.where(f_stop > END_DAY, -1, f_stop),
        "strength": np.where(f_fent, step_strength[f], strength[f]),
        "freq": np.where(f_fent, 0, step_freq[f]),
        "rxnorm": np.where(f_fent, _FENTANYL_STEP[0], rx["rxnorm"][f]),
        "text": np.where(f_fent, _FENTANYL_STEP[1], rx["text"][f]),
    }


def _opioid_frame(
    ids: pl.Series, who: np.ndarray, ingredient: np.ndarray, rx: Draws, dates: Draws, step: Draws
) -> pl.DataFrame:
    f = step["f"]
    all_strength = np.r_[rx["strength"], step["strength"]]
    all_freq = np.r_[rx["freq"], step["freq"]]
    fent = np.r_[ingredient, ingredient[f]] == "fentanyl"
    frame = pl.DataFrame(
        {
            "pid": np.r_[who, who[f]],
            "patient_id": ids.gather(np.r_[who, who[f]]),
            "ingredient": np.r_[ingredient, ingredient[f]].tolist(),
            "strength": all_strength,
            "unit": np.where(fent, "mcg/hr", "mg").tolist(),
            "frequency_per_day": np.where(fent, np.nan, all_freq),
            "daily_dose": np.where(fent, all_strength, all_strength * all_freq),
            "start": np.r_[dates["start"], step["start"]],
            "stop": np.r_[dates["stop"], step["stop"]],
            "rxnorm": np.r_[rx["rxnorm"], step["rxnorm"]].tolist(),
            "description": np.r_[rx["text"], step["text"]].tolist(),
        },
        schema_overrides={
            "patient_id": pl.String,
            "ingredient": pl.String,
            "unit": pl.String,
            "rxnorm": pl.String,
            "description": pl.String,
        },
    )
    return nan_to_null(frame).with_columns(
        start_date=day_dates(frame["start"].to_numpy()),
        stop_date=pl.when(pl.col("stop") >= 0).then(
            day_dates(np.maximum(frame["stop"].to_numpy(), 0))
        ),
    )


def draw_opioids(
    rng: np.random.Generator, p: Draws, d: Draws, ids: pl.Series, referral_day: np.ndarray
) -> pl.DataFrame:
    who, ingredient = _draw_who_takes_opioids(rng, len(ids))
    rx = _draw_products(rng, ingredient)
    dates = _draw_dates(rng, p, d, who, referral_day)
    step = _draw_taper_steps(rng, ingredient, rx, dates)
    frame = _opioid_frame(ids, who, ingredient, rx, dates, step)
    frame = opioids.add_daily_mme(frame).with_columns(pl.col("daily_mme").round(4))
    keys = ["pid", "start_date", "ingredient", "daily_dose"]
    frame = first_of_each_key(frame.sort(keys, maintain_order=True), keys)
    return frame.select(tables.columns("opioids"))
