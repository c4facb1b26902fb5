"""Lakeshore's messy export of the demo cohort: (b) the long observation export, one row per
patient / time / LOINC code (UTF-8 with BOM, comma, UTC timestamps)."""

from __future__ import annotations

import numpy as np
import polars as pl

from kapoutcomes.definitions import instruments
from kapoutcomes.demo import params
from kapoutcomes.demo.files import (
    CLINIC_TZ,
    EXPORT_PATIENTS,
    Entry,
    ExportRows,
    clinic_patients,
    csv_text,
)
from kapoutcomes.demo.sample import SampleCohort

LONG_HEADER = [
    "patient_mrn", "encounter_id", "observed_at", "loinc_code", "description", "value", "unit",
    "note",
]  # fmt: skip


#: code -> (description, unit). The first block maps to the canonical tables.
LOINC = {
    "72514-3": ("Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}"),
    "44261-6": ("Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", "{score}"),
    "44260-8": (
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        "{score}",
    ),
    "70274-6": (
        "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
        "{score}",
    ),
    "55758-7": ("Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]", "{score}"),
    "8480-6": ("Systolic Blood Pressure", "mm[Hg]"),
    "8462-4": ("Diastolic Blood Pressure", "mm[Hg]"),
    "8867-4": ("Heart rate", "/min"),
    "59408-5": ("Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "29463-7": ("Body Weight", "kg"),
    # Not tracked by kapoutcomes: an importer skips these with a reason.
    "8302-2": ("Body Height", "cm"),
    "39156-5": ("Body mass index (BMI) [Ratio]", "kg/m2"),
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL"),
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
    "72166-2": ("Tobacco smoking status", ""),
}
UNTRACKED = ("8302-2", "39156-5", "2093-3", "4548-4", "72166-2")
TOTAL_LOINC = {code: inst.loinc for code, inst in instruments.INSTRUMENTS.items() if inst.loinc}


def to_utc(frame: pl.DataFrame, col: str, out: str) -> pl.DataFrame:
    """Clinic-local naive times -> UTC text with a Z."""
    return frame.with_columns(
        pl.col(col)
        .dt.replace_time_zone(CLINIC_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias(out)
    )


def observation_rows(cohort: SampleCohort, pts: list[str], seed_stream: int) -> pl.DataFrame:
    """Long rows (patient_id, session_id, at, code, value) for the given patients: assessments
    exactly as in the canonical table, vitals around each dose, and untracked codes."""
    rng = np.random.default_rng([cohort.seed, seed_stream])
    a = cohort.tables["assessments"].filter(pl.col("patient_id").is_in(pts))
    s = cohort.tables["sessions"].filter(pl.col("patient_id").is_in(pts))
    coded = coded_observations(a, s)
    screening = s.filter(pl.col("session_type") == "screening").sort("patient_id")
    k = screening.height
    height_cm = np.clip(rng.normal(170, 9, k), 148, 198).round()
    weight = screening.get_column("weight_kg").fill_null(75.0).to_numpy()
    extra = [
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=4),
            code=pl.lit("8302-2"), value=pl.Series([f"{h:.0f}" for h in height_cm]),
        ),
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=4),
            code=pl.lit("39156-5"),
            value=pl.Series([f"{w / (h / 100) ** 2:.1f}" for w, h in zip(weight, height_cm, strict=True)]),
        ),
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=3),
            code=pl.lit("72166-2"),
            value=pl.Series(
                np.asarray(["Never smoked tobacco (finding)", "Former smoker (finding)", "Smokes tobacco daily (finding)"])[rng.choice(3, k, p=(0.6, 0.28, 0.12))].tolist(),
                dtype=pl.String,
            ),
        ),
    ]  # fmt: skip
    # Some patients bring labs from two days before screening: cholesterol, then HbA1c.
    for share, minutes, code, mean, sd, decimals in (
        (0.4, -30, "2093-3", 195, 35, 0),
        (0.15, -31, "4548-4", 5.7, 0.6, 1),
    ):
        lab = screening.filter(pl.Series(rng.random(k) < share))
        extra.append(
            lab.select(
                "patient_id", "session_id", at=pl.col("started_at") - pl.duration(days=2, minutes=minutes),
                code=pl.lit(code),
                value=pl.Series([f"{v:.{decimals}f}" for v in rng.normal(mean, sd, lab.height)], dtype=pl.String),
            )
        )  # fmt: skip
    return pl.concat([*coded, *extra], how="vertical_relaxed").sort(
        "patient_id", "at", "code", "value", maintain_order=True
    )


#: free-text notes the long export carries on a few rows (the first has an embedded newline)
_NOTES = (
    'pt says pain "8, maybe 9"\nafter a bad week',
    "repeat reading after 5 min rest",
    "taken on the left arm",
    "pt reported via portal",
)
#: what is deliberately messy in the long export (CATALOG.md)
_LONG_MESS = [
    "observed_at in UTC with a Z (2024-03-02T15:26:00Z); the clinic is in "
    f"{CLINIC_TZ}, so convert to local time to match the canonical tables",
    "scores, vitals and weights as text values with UCUM units ({score}, mm[Hg], /min, %, kg)",
    "PHQ-9 item 9 as its own code 44260-8 beside the 44261-6 total",
    "codes the product does not track, to be skipped with a reason: "
    + ", ".join(f"{c} {LOINC[c][0]}" for c in UNTRACKED),
    "encounter_id blank for follow-up observations outside a visit",
    "a free-text note column, mostly blank; a quoted note with an embedded newline, a "
    "comma and doubled quotes",
    "a few pain rows with a blank value (note 'patient asleep')",
    "vitals before (5 min before the start) and after (20 min after the end) each dose "
    "share the code: the time says which",
]


def _long_row(rng: np.random.Generator, v: dict, encounter: str, counts: dict[str, int]) -> list:
    """One observation as written: a few notes, a few blank pain values (counted)."""
    r = rng.random(3)
    desc, unit = LOINC[v["code"]]
    value = v["value"]
    if v["code"] in UNTRACKED:
        counts["untracked_code_rows"] += 1
    note = ""
    if r[0] < 0.05 and v["code"] == "72514-3" and counts["embedded_newline_rows"] < 3:
        note = _NOTES[0]
        counts["embedded_newline_rows"] += 1
        counts["noted_rows"] += 1
    elif r[0] < 0.01 and v["code"] in ("8480-6", "8462-4"):
        note = _NOTES[1 + int(r[1] * 3)]
        counts["noted_rows"] += 1
    if r[2] < 0.004 and v["code"] == "72514-3":
        value, note = "", "patient asleep"
        counts["blank_value_rows"] += 1
    return [v["mrn"], encounter, v["observed_at"], v["code"], desc, value, unit, note]


def _long_rows(rng: np.random.Generator, obs: pl.DataFrame) -> ExportRows:
    enc = {
        sid: f"LKC-E{i + 1:07d}"
        for i, sid in enumerate(obs.get_column("session_id").drop_nulls().unique().sort().to_list())
    }
    mess = dict.fromkeys(
        ("untracked_code_rows", "blank_value_rows", "embedded_newline_rows", "noted_rows"), 0
    )
    rows = [
        _long_row(rng, v, enc.get(v["session_id"], ""), mess) for v in obs.iter_rows(named=True)
    ]
    counts: dict[str, int | str] = {**mess}
    for code in LOINC:
        k = sum(r[3] == code for r in rows)
        if k:
            counts[f"rows with code {code}"] = k
    return ExportRows(rows, counts)


def long_export(cohort: SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 102])
    clinic = params.CLINICS[1]
    pts = clinic_patients(cohort, clinic)
    obs = observation_rows(cohort, pts, 103).join(ids.select("patient_id", "mrn"), on="patient_id")
    obs = to_utc(obs, "at", "observed_at").sort(
        "mrn", "observed_at", "code", "value", maintain_order=True
    )
    out = _long_rows(rng, obs)
    text = csv_text(LONG_HEADER, out.rows, ",", "\n")
    entry = Entry(
        path="exports/lakeshore_observations.csv",
        what=(
            f"Long observation export from {clinic}: one row per patient / time / LOINC code for "
            f"{len(pts)} patients (first {EXPORT_PATIENTS} by MRN)"
        ),
        rows=len(out.rows),
        encoding="UTF-8 with BOM, LF line endings",
        delimiter=", (comma)",
        mess=list(_LONG_MESS),
        counts=out.counts,
    )
    return "\ufeff" + text, entry


#: Vital signs exported as LOINC observations: column, code, before or after dosing.
VITAL_CODES = (
    ("bp_systolic_before", "8480-6", "before"),
    ("bp_diastolic_before", "8462-4", "before"),
    ("heart_rate_before", "8867-4", "before"),
    ("spo2_before", "59408-5", "before"),
    ("weight_kg", "29463-7", "before"),
    ("bp_systolic_after", "8480-6", "after"),
    ("bp_diastolic_after", "8462-4", "after"),
    ("heart_rate_after", "8867-4", "after"),
    ("spo2_after", "59408-5", "after"),
)


def coded_observations(assessments: pl.DataFrame, sessions: pl.DataFrame) -> list[pl.DataFrame]:
    """Scores (totals by LOINC code, PHQ-9 item 9 by its own code) and vital signs around each
    dose as (patient_id, session_id, at, code, value) frames: scores first, then one frame per
    vital sign. Before-dose vitals 5 minutes before the start, after-dose ones 20 minutes after
    the infusion ends."""
    a = assessments.with_columns(
        code=pl.when(pl.col("item").is_null())
        .then(pl.col("instrument").replace_strict(TOTAL_LOINC, default=None))
        .when((pl.col("instrument") == "phq9") & (pl.col("item") == instruments.PHQ9_ITEM9))
        .then(pl.lit(instruments.PHQ9_ITEM9_LOINC)),
        value=pl.col("score").cast(pl.Int64).cast(pl.String),
    ).select("patient_id", "session_id", at="assessed_at", code="code", value="value")
    end = pl.col("started_at") + pl.duration(minutes=pl.col("infusion_minutes").fill_null(40) + 20)
    parts = [a]
    for col, code, when in VITAL_CODES:
        at = pl.col("started_at") - pl.duration(minutes=5) if when == "before" else end
        parts.append(
            sessions.filter(pl.col(col).is_not_null()).select(
                "patient_id",
                "session_id",
                at=at,
                code=pl.lit(code),
                value=pl.col(col).cast(pl.String),
            )
        )
    return parts
