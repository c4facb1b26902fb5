"""Opioid use over the course of treatment: daily MME of the prescriptions active on a date,
each patient's MME timeline, and the MME course at baseline (first dose) and at 3 and 6
months, with the change from baseline."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.definitions import opioids
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import first_doses
from kapoutcomes.outcomes.maintenance_review import day_text

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


def patient_mme_text(
    opioid_rows: pl.DataFrame, sessions: pl.DataFrame, as_of: dt.datetime, settings: Settings
) -> str | None:
    """One patient's daily MME on the as-of date against the first infusion (the baseline of
    ``mme_course``), in words, e.g. "45 MME/day on the as-of date (12 Mar 2025), 90 at the
    first infusion (3 Jan 2025): 50% lower; prescriptions without a stop date count as still
    taken (the latest prescription record is dated 1 Feb 2025)". Buprenorphine and
    ingredients without an MME factor are named, not counted. None without opioid rows.
    """
    if opioid_rows.height == 0:
        return None
    pid = opioid_rows.get_column("patient_id")[0]
    fd = first_doses(sessions)
    first = fd.get_column("first_dose_at")[0] if fd.height else None
    dates = {"now": as_of.date()} | ({"first": first.date()} if first is not None else {})
    when = pl.DataFrame({"patient_id": [pid] * len(dates), "date": list(dates.values())})
    m = dict(zip(dates, mme_on(opioid_rows, when, settings).iter_rows(named=True), strict=True))
    now = m["now"]["daily_mme"]
    # buprenorphine taken on the as-of date is said beside the figure: "0 MME/day" alone would
    # read as off opioids (CDC 2022: excluded from MME, flagged, never silently dropped)
    bup = "; buprenorphine also taken, not counted in MME" if m["now"]["buprenorphine"] else ""
    s = f"{now:g} MME/day on the as-of date ({day_text(as_of.date())}{bup})"
    if "first" in m:
        base = m["first"]["daily_mme"]
        s += f", {base:g} at the first infusion ({day_text(dates['first'])})"
        if base > 0:
            pct = (base - now) / base * 100
            s += (
                ": no change"
                if abs(pct) < 0.5
                else f": {abs(pct):.0f}% {'lower' if pct > 0 else 'higher'}"
            )
    else:
        s += "; no infusion yet, so no baseline"
    latest = opioid_rows.select(
        pl.max_horizontal(pl.col("start_date"), pl.col("stop_date")).max()
    ).item()
    s += (
        "; prescriptions without a stop date count as still taken (the latest prescription "
        f"record is dated {day_text(latest)})"
    )
    uncounted = (
        with_mme(opioid_rows, settings)
        .filter(
            pl.col("no_factor") & ~((pl.col("ingredient") == "buprenorphine") & pl.lit(bool(bup)))
        )
        .get_column("ingredient")
        .unique()
        .sort()
        .to_list()
    )
    if uncounted:
        s += f" ({', '.join(uncounted)} recorded, not counted in MME)"
    return s


#: The opioid line of a patient with no opioid record: said, so that a missing line is never
#: read as "not on opioids" (the store may simply hold no medication export for them).
NO_OPIOID_RECORD = "no opioid prescription recorded in the store"


def patient_opioid_line(
    opioid_rows: pl.DataFrame,
    sessions: pl.DataFrame,
    as_of: dt.datetime | None,
    settings: Settings,
) -> str | None:
    """The Patient view's and printed summary's opioid line (``patient_mme_text``), or
    ``NO_OPIOID_RECORD``; None when the store holds nothing to date it by."""
    if as_of is None:
        return None
    return patient_mme_text(opioid_rows, sessions, as_of, settings) or NO_OPIOID_RECORD
