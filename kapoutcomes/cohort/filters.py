"""Cohort filters shared by the dashboards, the CLI and reports.

A filter selects patients; every table is then cut to those patients, so every figure on a
page sees the same cohort. Route, care model and clinician are those of the patient's first
dosing session (the treatment they started on); the treatment-start date is that session's
date. Patients who never had a dosing session keep a null start and are dropped by a date
filter only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables


@dataclass(frozen=True)
class CohortFilter:
    """Empty tuples mean "all"."""

    clinics: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    care_models: tuple[str, ...] = ()
    clinicians: tuple[str, ...] = ()
    start_from: dt.date | None = None
    start_to: dt.date | None = None

    def is_empty(self) -> bool:
        return not (
            self.clinics
            or self.conditions
            or self.routes
            or self.care_models
            or self.clinicians
            or self.start_from
            or self.start_to
        )

    def describe(self) -> str:
        parts = []
        for label, values in (
            ("clinic", self.clinics),
            ("condition", self.conditions),
            ("route", self.routes),
            ("care model", self.care_models),
            ("clinician", self.clinicians),
        ):
            if values:
                parts.append(f"{label}: {', '.join(values)}")
        if self.start_from or self.start_to:
            parts.append(f"treatment start {self.start_from or '…'} to {self.start_to or '…'}")
        return "; ".join(parts) if parts else "all patients"


def patient_attributes(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per patient: clinic, condition, and route / care model / clinician / date of
    the first dosing session (null when the patient was never dosed)."""
    sessions = t.get("sessions", tables.empty("sessions"))
    first = (
        sessions.filter(pl.col("session_type").is_in(tables.DOSING_TYPES))
        .sort("patient_id", "started_at", "session_id")
        .group_by("patient_id", maintain_order=True)
        .first()
        .select(
            "patient_id",
            pl.col("route"),
            pl.col("care_model"),
            pl.col("clinician"),
            pl.col("started_at").dt.date().alias("treatment_start"),
        )
    )
    patients = t.get("patients", tables.empty("patients"))
    return (
        patients.select("patient_id", "clinic", "primary_condition", "comorbid_depression")
        .join(first, on="patient_id", how="left", maintain_order="left")
        .sort("patient_id")
    )


def _isin(col: str, values: Sequence[str]) -> pl.Expr:
    return pl.col(col).is_in(list(values)) if values else pl.lit(True)


def apply(t: dict[str, pl.DataFrame], f: CohortFilter) -> dict[str, pl.DataFrame]:
    """Every table cut to the patients that pass ``f`` (tables not given stay absent)."""
    if f.is_empty():
        return dict(t)
    attrs = patient_attributes(t)
    keep = attrs.filter(
        _isin("clinic", f.clinics)
        & _isin("primary_condition", f.conditions)
        & _isin("route", f.routes)
        & _isin("care_model", f.care_models)
        & _isin("clinician", f.clinicians)
        & (pl.lit(True) if f.start_from is None else pl.col("treatment_start") >= f.start_from)
        & (pl.lit(True) if f.start_to is None else pl.col("treatment_start") <= f.start_to)
    ).get_column("patient_id")
    ids = keep.implode()
    return {name: df.filter(pl.col("patient_id").is_in(ids)) for name, df in t.items()}


def choices(t: dict[str, pl.DataFrame]) -> dict[str, list[str]]:
    """The values each filter can take in these tables, sorted, for the sidebar."""
    attrs = patient_attributes(t)

    def vals(col: str) -> list[str]:
        return sorted(v for v in attrs.get_column(col).unique().to_list() if v is not None)

    return {
        "clinics": vals("clinic"),
        "conditions": vals("primary_condition"),
        "routes": vals("route"),
        "care_models": vals("care_model"),
        "clinicians": vals("clinician"),
    }


def start_range(t: dict[str, pl.DataFrame]) -> tuple[dt.date | None, dt.date | None]:
    s = patient_attributes(t).get_column("treatment_start").drop_nulls()
    if s.len() == 0:
        return None, None
    return s.min(), s.max()  # type: ignore[return-value]
