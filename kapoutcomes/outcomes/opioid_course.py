"""Opioid use over the course of treatment: daily MME of the prescriptions active on a date,
each patient's MME timeline, and the MME course at baseline (first dose) and at 3 and 6
months, with the change from baseline."""

from __future__ import annotations

import polars as pl

from kapoutcomes.definitions import opioids
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import first_doses

MME_MONTHS_DAYS = {"3 months": 91, "6 months": 183}


def with_mme(opioid_rows: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The opioid rows with daily MME recomputed from ``settings.mme_table`` (buprenorphine
    and any ingredient without a factor get an empty MME and ``no_factor = True``)."""
    o = opioids.replace_daily_mme(opioid_rows, settings.mme_table)
    return o.with_columns(no_factor=pl.col("mme_factor").is_null())


def mme_on(opioid_rows: pl.DataFrame, when: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Daily MME on given dates. ``when``: patient_id, date (pl.Date) plus any other columns.

    Adds daily_mme (sum over prescriptions active that day, 0 when none; buprenorphine
    excluded), on_opioids (any MME-counted opioid active) and buprenorphine (active that day).
    """
    o = with_mme(opioid_rows, settings).select(
        "patient_id", "ingredient", "daily_mme", "start_date", "stop_date"
    )
    keyed = when.with_row_index("_w")
    active = (
        keyed.select("_w", "patient_id", "date")
        .join(o, on="patient_id", how="inner")
        .filter(
            (pl.col("start_date") <= pl.col("date"))
            & ((pl.col("stop_date") >= pl.col("date")) | pl.col("stop_date").is_null())
        )
        .group_by("_w")
        .agg(
            daily_mme=pl.col("daily_mme").sum(),
            on_opioids=pl.col("daily_mme").is_not_null().any(),
            buprenorphine=(pl.col("ingredient") == "buprenorphine").any(),
        )
    )
    return (
        keyed.join(active, on="_w", how="left")
        .with_columns(
            pl.col("daily_mme").fill_null(0.0),
            pl.col("on_opioids").fill_null(False),
            pl.col("buprenorphine").fill_null(False),
        )
        .sort("_w")
        .drop("_w")
    )


def mme_timeline(opioid_rows: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Daily MME over time as a step function: patient_id, date, daily_mme (total from that
    date on, buprenorphine excluded). A stop date is the last day of use."""
    o = with_mme(opioid_rows, settings).filter(pl.col("daily_mme").is_not_null())
    starts = o.select("patient_id", date=pl.col("start_date"), delta=pl.col("daily_mme"))
    stops = o.filter(pl.col("stop_date").is_not_null()).select(
        "patient_id",
        date=pl.col("stop_date") + pl.duration(days=1),
        delta=-pl.col("daily_mme"),
    )
    return (
        pl.concat([starts, stops])
        .group_by("patient_id", "date")
        .agg(pl.col("delta").sum())
        .sort("patient_id", "date")
        .with_columns(daily_mme=pl.col("delta").cum_sum().over("patient_id").round(6))
        .drop("delta")
    )


def mme_course(
    opioid_rows: pl.DataFrame,
    sessions: pl.DataFrame,
    follow_up: pl.DataFrame | None = None,
    settings: Settings | None = None,
    timepoints: dict[str, int] | None = None,
) -> pl.DataFrame:
    """Daily MME per dosed patient at the first dose (baseline) and at fixed times after it
    (default 3 months = day 91 and 6 months = day 183, ``MME_MONTHS_DAYS``).

    ``follow_up``: patient_id, last_contact_at (datetime); a timepoint after the patient's
    last contact is unknown (empty), not zero. Without it every timepoint is used.
    Columns: patient_id, timepoint ("baseline", "3 months", ...), day, date, daily_mme,
    on_opioids, buprenorphine, observed, baseline_mme, change_mme, reduction_pct.
    """
    settings = settings or Settings()
    points = {"baseline": 0, **(timepoints or MME_MONTHS_DAYS)}
    fd = first_doses(sessions).select("patient_id", "first_dose_at")
    tp = pl.DataFrame(
        {"timepoint": list(points), "day": list(points.values())},
        schema={"timepoint": pl.String, "day": pl.Int64},
    )
    grid = fd.join(tp, how="cross").with_columns(
        date=(pl.col("first_dose_at") + pl.duration(days=pl.col("day"))).dt.date()
    )
    if follow_up is not None:
        grid = (
            grid.join(follow_up, on="patient_id", how="left")
            .with_columns(
                observed=(pl.col("day") == 0)
                | (pl.col("last_contact_at").dt.date() >= pl.col("date")).fill_null(False)
            )
            .drop("last_contact_at")
        )
    else:
        grid = grid.with_columns(observed=pl.lit(True))
    m = mme_on(opioid_rows, grid, settings)
    m = m.with_columns(
        pl.when(pl.col("observed")).then(pl.col(c)).alias(c)
        for c in ("daily_mme", "on_opioids", "buprenorphine")
    )
    base = m.filter(pl.col("day") == 0).select("patient_id", baseline_mme=pl.col("daily_mme"))
    return (
        m.join(base, on="patient_id", how="left")
        .with_columns(change_mme=pl.col("daily_mme") - pl.col("baseline_mme"))
        .with_columns(
            reduction_pct=pl.when(pl.col("baseline_mme") > 0).then(
                -pl.col("change_mme") / pl.col("baseline_mme") * 100.0
            )
        )
        .drop("first_dose_at")
        .sort("patient_id", "day")
    )
