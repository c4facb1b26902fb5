"""Dissociation after dosing: the after-dose CADSS total per dosing session, and its
distribution overall and by dose band (mg/kg).

* One value per dosing session: the highest after-dose CADSS total linked to the session
  (the peak, as the esketamine trials report it). CADSS totals run 0-92 (23 items x 0-4;
  Bremner et al., J Trauma Stress 1998;11:125).
* Distribution: sessions, patients, median and interquartile range (linear interpolation
  between order statistics), and the share of sessions above ``settings.cadss_dissociation_above``
  (default 4: the esketamine trial analyses' marker of dissociation; a descriptive share,
  since no cut-off separated reported dissociation well) with its Clopper-Pearson interval.
* Dose bands (``DOSE_BANDS``) are the project's own (no published banding): below the
  0.5 mg/kg antidepressant dose (0.5 mg/kg over 40 min: clinical reference, treatment being
  tracked), at 0.5 up to 1, 1 up to 2, and 2 mg/kg or more (pain and oral protocols);
  sessions without a dose per kg are counted under "not recorded".
"""

from __future__ import annotations

import polars as pl

from kapoutcomes.cohort.groups import caveat_expr
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import dosing
from kapoutcomes.stats.intervals import with_proportion

#: (label, lower bound inclusive, upper bound exclusive) in mg/kg; a project choice.
DOSE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("below 0.5 mg/kg", 0.0, 0.5),
    ("0.5 to <1 mg/kg", 0.5, 1.0),
    ("1 to <2 mg/kg", 1.0, 2.0),
    ("2 mg/kg or more", 2.0, float("inf")),
)
NOT_RECORDED = "not recorded"
ALL_DOSES = "all doses"
DOSE_BAND_SOURCE = (
    "kapoutcomes default (no published banding; configurable in code): 0.5 mg/kg over 40 min "
    "is the usual antidepressant infusion dose; chronic-pain and oral protocols go higher"
)
COLUMNS = (
    "dose_band",
    "sessions",
    "patients",
    "median",
    "q1",
    "q3",
    "above",
    "threshold",
    "share_above",
    "lower",
    "upper",
    "definition",
    "caveats",
)


def dose_band(per_kg: pl.Expr) -> pl.Expr:
    """The ``DOSE_BANDS`` label of a dose in mg/kg; "not recorded" when missing."""
    expr = pl.when(per_kg.is_null()).then(pl.lit(NOT_RECORDED))
    for label, lo, hi in DOSE_BANDS:
        expr = expr.when((per_kg >= lo) & (per_kg < hi)).then(pl.lit(label))
    return expr.otherwise(pl.lit(NOT_RECORDED))


def after_dose_cadss(assessments: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per dosing session with an after-dose CADSS total: patient_id, session_id,
    started_at, dose_mg_per_kg, dose_band, cadss (the session's highest after-dose total),
    sorted by patient and time."""
    d = dosing.dosing_sessions(sessions)
    per_kg = pl.col("dose_mg_per_kg") if "dose_mg_per_kg" in d.columns else pl.lit(None, pl.Float64)
    c = (
        assessments.filter(
            (pl.col("instrument") == "cadss")
            & pl.col("item").is_null()
            & (pl.col("timing") == "after_dose")
            & pl.col("session_id").is_not_null()
        )
        .group_by("session_id")
        .agg(cadss=pl.col("score").max())
    )
    return (
        d.select("patient_id", "session_id", "started_at", dose_mg_per_kg=per_kg)
        .join(c, on="session_id", how="inner")
        .with_columns(dose_band=dose_band(pl.col("dose_mg_per_kg")))
        .sort("patient_id", "started_at", "session_id")
    )


def cadss_summary(
    assessments: pl.DataFrame, sessions: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """After-dose CADSS per dosing session: overall ("all doses") and per dose band (bands
    without sessions left out). Columns (``COLUMNS``): dose_band, sessions, patients, median,
    q1, q3, above (sessions with a total above the threshold), threshold, share_above, lower,
    upper (Clopper-Pearson), definition, caveats."""
    per = after_dose_cadss(assessments, sessions)
    limit = settings.cadss_dissociation_above
    stats = [
        pl.len().cast(pl.Int64).alias("sessions"),
        pl.col("patient_id").n_unique().cast(pl.Int64).alias("patients"),
        pl.col("cadss").median().alias("median"),
        pl.col("cadss").quantile(0.25, "linear").alias("q1"),
        pl.col("cadss").quantile(0.75, "linear").alias("q3"),
        (pl.col("cadss") > limit).sum().cast(pl.Int64).alias("above"),
    ]
    order = {label: i for i, (label, _, _) in enumerate(DOSE_BANDS)}
    order.update({ALL_DOSES: -1, NOT_RECORDED: len(DOSE_BANDS)})
    out = pl.concat(
        [
            per.select(pl.lit(ALL_DOSES).alias("dose_band"), *stats),
            per.group_by("dose_band").agg(stats),
        ]
    )
    out = (
        out.filter(pl.col("sessions") > 0)
        .with_columns(_o=pl.col("dose_band").replace_strict(order, return_dtype=pl.Int64))
        .sort("_o")
        .drop("_o")
    )
    out = with_proportion(out, "above", "sessions", settings.confidence_level, method="exact")
    return out.with_columns(
        threshold=pl.lit(limit, dtype=pl.Float64),
        share_above=pl.col("rate"),
        definition=pl.lit(
            f"after-dose CADSS total (0-92) per dosing session, the highest when several; "
            f"median and IQR; share of sessions above {limit:g} (a descriptive marker of "
            f"dissociation); dose bands: {DOSE_BAND_SOURCE}"
        ),
        caveats=caveat_expr(pl.col("patients"), settings),
    ).select(COLUMNS)
