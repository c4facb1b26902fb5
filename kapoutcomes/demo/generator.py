"""Seeded synthetic clinic cohort: three clinics treating chronic pain with ketamine.

``generate(seed, patients)`` builds the canonical tables (``tables.MODELS``) for a demo cohort
whose shape follows the published figures in the clinical reference: ~20% stop after the first
infusion and about half never complete six (Osmind real-world data); induction series of 4-8
infusions over 1-4 weeks, longer for CRPS (Cohen et al. 2018); a mean short-term pain change
near -1.8 points (Orhurhu 2019); a median durability of a few weeks (Murrough 2013: 18 days);
PHQ-9 response and remission near ORKA-1 (53.6% / 28.9%) and Mindbloom (62.8% / 32.6%) among
the depressed, their benefit kept longer than pain relief (ORKA-1: ~80% at 4 weeks, ~60% at
8); adverse events in about half the patients in their first week, led by dissociation (OKAPI:
50% at week 1). The cited numbers sit beside each parameter in ``params``. Everything is drawn
from one numpy Generator seeded with ``seed`` and a fixed calendar anchor, never from
today's date, and draws are vectorised per patient / per session so 100,000 patients are
feasible.

The draws live by idea: ``params`` (the clinical and real-world parameters), ``course``
(referrals, dosing calendar, sessions, adverse events), ``outcomes`` (scores and opioid use)
and ``draws`` (calendar and grouping plumbing); this module
assembles them into a ``sample.SampleCohort``. ``exports.write_sample`` writes the tables as CSV
plus messy EHR-style exports of the same cohort.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo.course import (
    draw_adverse_events,
    draw_dosing,
    draw_patients,
    draw_sessions,
)
from kapoutcomes.demo.draws import Draws, day_dates, minute_times
from kapoutcomes.demo.outcomes import draw_assessments, draw_opioids
from kapoutcomes.demo.params import CLINICS, RESPONSE_CLASSES
from kapoutcomes.demo.sample import SampleCohort
from kapoutcomes.storage import privacy


def _patient_frame(
    p: Draws, ids: pl.Series, first_minute: np.ndarray
) -> tuple[pl.DataFrame, pl.Series]:
    referral = day_dates(p["referral"])
    ref_year = referral.dt.year().to_numpy()
    birth_year = ref_year - p["age"]
    jan1 = np.asarray([np.datetime64(f"{y}-01-01") for y in range(1890, 2031)])
    birth = pl.Series(
        jan1[birth_year - 1890] + np.minimum(p["birth_doy"], 364).astype("timedelta64[D]")
    )
    first = pl.Series(minute_times(first_minute)).dt.date()
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
    sessions, extra = draw_sessions(rng, p, d, ids)
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
        "assessments": draw_assessments(rng, p, d, ids, extra),
        "opioids": draw_opioids(rng, p, d, ids, p["referral"]),
        "adverse_events": draw_adverse_events(rng, p, d, ids, extra),
    }
    return built, birth


def generate(seed: int = 7, patients: int = 360) -> SampleCohort:
    """The seeded demo cohort (deterministic for ``seed``)."""
    if patients < 1:
        raise ValueError(f"patients must be at least 1, got {patients}")
    rng = np.random.default_rng(seed)
    p = draw_patients(rng, patients)
    d = draw_dosing(rng, p)
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


__all__ = ["CLINICS", "SampleCohort", "generate"]
