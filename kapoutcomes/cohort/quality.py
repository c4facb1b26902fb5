"""Data quality for the Data page: completeness by clinic and instrument, patients without a
baseline, and assessments that fall outside the windows the outcome definitions use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import completeness
from kapoutcomes.cohort.groups import patient_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, dosing, episodes


@dataclass(frozen=True)
class DataQuality:
    completeness: pl.DataFrame  # by clinic: measure, instrument, n, denominator, rate, CI
    no_baseline: pl.DataFrame  # patient_id, clinic, instrument, baseline_status
    outside_windows: pl.DataFrame  # patient_id, clinic, instrument, assessed_at, reason
    outside_counts: pl.DataFrame  # clinic, instrument, reason, assessments


def data_quality(
    t: dict[str, pl.DataFrame], settings: Settings, as_of: dt.datetime | None = None
) -> DataQuality:
    patients = t.get("patients", tables.empty("patients"))
    sessions = t.get("sessions", tables.empty("sessions"))
    assessments = t.get("assessments", tables.empty("assessments"))
    as_of = as_of or episodes.data_end(t) or dt.datetime(2000, 1, 1)
    groups = patient_groups(patients, sessions)
    base = change.baselines(assessments, sessions, settings)
    items = completeness.completeness_items(sessions, assessments, base, groups, settings, as_of)
    comp = completeness.completeness(items, groups, settings, by="clinic")
    clinic = patients.select("patient_id", "clinic")
    no_base = (
        base.filter(~pl.col("has_baseline"))
        .join(clinic, on="patient_id", how="left")
        .select("patient_id", "clinic", "instrument", "baseline_status")
        .sort("clinic", "instrument", "patient_id")
    )
    fd = dosing.first_doses(sessions).select("patient_id", "first_dose_at")
    tot = (
        change.totals(assessments, include_after_dose=True)
        .join(fd, on="patient_id", how="left")
        .join(patients.select("patient_id", "clinic", "referral_date"), on="patient_id", how="left")
    )
    window_start = pl.col("first_dose_at") - pl.duration(days=settings.baseline_window_days)
    reason = (
        pl.when(pl.col("assessed_at").dt.date() < pl.col("referral_date"))
        .then(pl.lit("before the referral date"))
        .when(pl.col("first_dose_at").is_null())
        .then(pl.lit("patient never dosed: no baseline or follow-up window"))
        .when(pl.col("assessed_at") < window_start)
        .then(
            pl.lit(
                f"before the first dose but more than {settings.baseline_window_days} days "
                "before it: too old for a baseline"
            )
        )
        .otherwise(None)
    )
    outside = (
        tot.with_columns(reason=reason)
        .filter(pl.col("reason").is_not_null())
        .select("patient_id", "clinic", "instrument", "assessed_at", "reason")
        .sort("clinic", "patient_id", "assessed_at")
    )
    counts = (
        outside.group_by("clinic", "instrument", "reason")
        .agg(assessments=pl.len().cast(pl.Int64))
        .sort("clinic", "instrument", "reason")
    )
    return DataQuality(comp, no_base, outside, counts)


#: What each completeness measure is called on the heatmap, in the one direction the heatmap
#: uses: every row is "% complete", so higher = better on every row.
MEASURE_LABELS = {
    "sessions_with_score": "dosing sessions with a score",
    "no_baseline": "dosed patients with a baseline",
    "follow_up_day_28": "follow-up at 4 weeks",
    "follow_up_day_91": "follow-up at 3 months",
    "follow_up_day_183": "follow-up at 6 months",
}
#: Measures whose rate counts what is missing (higher = worse): the heatmap shows 100 - rate
#: and the complete count (denominator - n) for them.
MISSING_MEASURES = frozenset({"no_baseline"})


def completeness_cells(comp: pl.DataFrame) -> pl.DataFrame:
    """The heatmap's cells, every one in the same direction (higher = more complete =
    better): label (measure and instrument), clinic, pct_complete, complete, denominator.
    Measures counting what is missing (``MISSING_MEASURES``) are turned round."""
    missing = pl.col("measure").is_in(list(MISSING_MEASURES))
    return comp.select(
        label=pl.format(
            "{} ({})",
            pl.col("measure").replace_strict(MEASURE_LABELS, default=pl.col("measure")),
            pl.col("instrument"),
        ),
        clinic=pl.col("level"),
        pct_complete=pl.when(missing)
        .then(100 * (1 - pl.col("rate")))
        .otherwise(100 * pl.col("rate"))
        .round(0),
        complete=pl.when(missing)
        .then(pl.col("denominator") - pl.col("n"))
        .otherwise(pl.col("n"))
        .cast(pl.Int64),
        denominator=pl.col("denominator").cast(pl.Int64),
    ).sort("label", "clinic")
