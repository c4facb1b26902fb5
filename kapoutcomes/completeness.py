"""Data completeness: scores recorded at dosing sessions, missing baselines, follow-up.

``completeness_items`` builds one row per thing that could be complete (a dosing session, a
dosed patient's baseline, a dosed patient's follow-up at day d) with a boolean ``complete``;
``completeness`` counts them, overall or by a comparison dimension.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from kapoutcomes import outcomes, stats
from kapoutcomes.settings import Settings

FOLLOW_UP_DAYS = (28, 91, 183)

_SCHEMA = {
    "subgroup": pl.String,
    "level": pl.String,
    "measure": pl.String,
    "instrument": pl.String,
    "n": pl.Int64,
    "denominator": pl.Int64,
    "rate": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "definition": pl.String,
    "caveats": pl.String,
}


def completeness_items(
    sessions: pl.DataFrame,
    assessments: pl.DataFrame,
    base: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    as_of: dt.datetime,
    instruments_: Sequence[str] = ("pain_nrs", "phq9"),
    follow_up_days: Sequence[int] = FOLLOW_UP_DAYS,
) -> pl.DataFrame:
    """One row per item that could be complete: patient_id, instrument, measure, complete,
    definition.

    * ``sessions_with_score``: each dosing session, complete when a total of the instrument
      is linked to it or recorded the same day for the patient;
    * ``no_baseline``: each dosed patient, "complete" (counted) when the baseline is missing;
    * ``follow_up_day_{d}``: each dosed patient whose first dose is at least d days before
      ``as_of``, complete with a score on or after day d.
    """
    dos = outcomes.dosing_sessions(sessions).select(
        "patient_id", "session_id", day=pl.col("started_at").dt.date()
    )
    t = outcomes.totals(assessments, include_after_dose=True).filter(
        pl.col("instrument").is_in(list(instruments_))
    )
    present = sorted(t.get_column("instrument").unique().to_list())
    pieces = []
    if not present:
        return pl.DataFrame(
            schema={
                "patient_id": pl.String,
                "instrument": pl.String,
                "measure": pl.String,
                "complete": pl.Boolean,
                "definition": pl.String,
            }
        )
    inst = pl.DataFrame({"instrument": present})
    by_sid = (
        t.select("session_id", "instrument").drop_nulls().unique().with_columns(_a=pl.lit(True))
    )
    by_day = (
        t.select("patient_id", "instrument", day=pl.col("assessed_at").dt.date())
        .unique()
        .with_columns(_b=pl.lit(True))
    )
    s = (
        dos.join(inst, how="cross")
        .join(by_sid, on=["session_id", "instrument"], how="left")
        .join(by_day, on=["patient_id", "instrument", "day"], how="left")
    )
    pieces.append(
        s.select(
            "patient_id",
            "instrument",
            measure=pl.lit("sessions_with_score"),
            complete=pl.col("_a").fill_null(False) | pl.col("_b").fill_null(False),
            definition=pl.format(
                "dosing sessions with a {} total linked to the session or on the same day",
                pl.col("instrument"),
            ),
        )
    )
    b = base.filter(pl.col("instrument").is_in(present))
    pieces.append(
        b.select(
            "patient_id",
            "instrument",
            measure=pl.lit("no_baseline"),
            complete=~pl.col("has_baseline"),
            definition=pl.format(
                "dosed patients without a {} baseline within {} days before the first dose",
                pl.col("instrument"),
                pl.lit(settings.baseline_window_days),
            ),
        )
    )
    fd = groups.filter(pl.col("dosed")).select("patient_id", "first_dose_at")
    last = (
        t.join(fd, on="patient_id", how="inner")
        .group_by("patient_id", "instrument")
        .agg(_maxd=outcomes.days_between(pl.col("assessed_at"), pl.col("first_dose_at")).max())
    )
    g2 = (
        fd.join(inst, how="cross")
        .join(last, on=["patient_id", "instrument"], how="left")
        .with_columns(_avail=outcomes.days_between(pl.lit(as_of), pl.col("first_dose_at")))
    )
    for d in follow_up_days:
        pieces.append(
            g2.filter(pl.col("_avail") >= d).select(
                "patient_id",
                "instrument",
                measure=pl.lit(f"follow_up_day_{d}"),
                complete=(pl.col("_maxd") >= d).fill_null(False),
                definition=pl.format(
                    "a {} score on or after day {} after the first dose, among patients whose "
                    "first dose was at least {} days before the data end",
                    pl.col("instrument"),
                    pl.lit(d),
                    pl.lit(d),
                ),
            )
        )
    return pl.concat(pieces)


def completeness(
    items: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Counts of ``completeness_items``: subgroup, level, measure, instrument, n (complete;
    for no_baseline: missing), denominator, rate, lower, upper (Wilson), definition,
    caveats."""
    if items.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    x = stats.attach_groups(items, groups).with_columns(stats.level_columns(by))
    out = (
        x.group_by("subgroup", "level", "measure", "instrument")
        .agg(
            n=pl.col("complete").sum().cast(pl.Int64),
            denominator=pl.len().cast(pl.Int64),
            definition=pl.col("definition").first(),
        )
        .sort("subgroup", "level", "instrument", "measure")
    )
    out = stats.with_proportion(out, "n", "denominator", settings.confidence_level)
    return out.with_columns(caveats=stats.caveat_expr(pl.col("denominator"), settings)).select(
        list(_SCHEMA)
    )
