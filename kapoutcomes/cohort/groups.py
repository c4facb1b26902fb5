"""The populations every cohort statistic is split by: the comparison dimensions of each
patient (clinic, condition, route, care model, clinician, start period), the ``subgroup`` /
``level`` columns, per-cell sums (``rollup``) and the caveats column.

Every statistic can be split by a patient attribute: pass ``by="clinic"`` (or condition,
route, care_model, clinician, start_period; see ``patient_groups``) and the rows come back
per ``level`` of that ``subgroup``; without ``by`` the single level is ``"all"``. Every
result row carries ``n``, ``denominator``, the ``definition`` in force and ``caveats`` (small
n, many missing baselines, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import dosing
from kapoutcomes.stats.intervals import with_proportion

GROUP_DIMENSIONS = ("clinic", "condition", "route", "care_model", "clinician", "start_period")
GROUP_MEANINGS = {
    "clinic": "clinic of the patient",
    "condition": "primary condition at intake",
    "route": "route of the first dose",
    "care_model": "KAP (with psychotherapy) or infusion-only, at the first dose",
    "clinician": "clinician of the first dose",
    "start_period": "calendar quarter of the first dose",
}


def caveat_expr(n: pl.Expr, settings: Settings, *extra: pl.Expr) -> pl.Expr:
    """A '; '-joined caveats column: small n plus any extra (nullable) string expressions."""
    small = pl.when(n < settings.small_n).then(
        pl.format("small n ({} < {}): imprecise", n, pl.lit(settings.small_n))
    )
    return (
        pl.concat_list([small.cast(pl.String), *[x.cast(pl.String) for x in extra]])
        .list.drop_nulls()
        .list.join("; ")
    )


def level_columns(by: str | None) -> list[pl.Expr]:
    """``subgroup`` and ``level`` columns: ("all", "all") without ``by``, else (by, value)."""
    if by is None:
        return [pl.lit("all").alias("subgroup"), pl.lit("all").alias("level")]
    return [
        pl.lit(by).alias("subgroup"),
        pl.col(by).cast(pl.String).fill_null("unknown").alias("level"),
    ]


def level_agg(
    frame: pl.DataFrame, by: str | None, keys: Sequence[str], aggs: Sequence[pl.Expr]
) -> pl.DataFrame:
    """``frame.with_columns(level_columns(by)).group_by("subgroup", "level", *keys).agg(aggs)``
    (columns in that order), but grouped on the dimension column itself and with ``subgroup``
    and ``level`` added to the (small) result: a Categorical dimension without nulls (as the
    cohort summary attaches them, nulls already read "unknown") is grouped on its integer
    codes, so no string column per row is built or hashed. Categorical ``keys`` likewise
    come back as strings."""
    if by is None:
        level = pl.lit("all")
    elif frame.schema[by] in (pl.Categorical, pl.Enum) and frame.get_column(by).null_count() == 0:
        level = pl.col(by)
    else:
        level = pl.col(by).cast(pl.String).fill_null("unknown")
    out = frame.group_by(level.alias("level"), *keys).agg(aggs)
    return out.select(
        pl.lit("all" if by is None else by).alias("subgroup"),
        pl.col("level").cast(pl.String),
        *[
            pl.col(c).cast(pl.String) if c in keys and out.schema[c] == pl.Categorical else c
            for c in out.columns
            if c != "level"
        ],
    )


def rollup(frame: pl.DataFrame, keys: Sequence[str], sums: Sequence[str]) -> pl.DataFrame:
    """Per-patient rows summed per combination of the comparison dimensions (a "cell") and
    ``keys``: ``sums`` summed, ``rows`` = patient rows (``frame`` must carry the dimensions,
    see ``attach_groups``). Statistics made only of sums and counts (patients counted as the
    sum of ``rows``) give the same result from the cells as from the patients, and there are
    far fewer cells (a few thousand) than patients, so each of the seven groupings is nearly
    free. Cells are summed again with ``rollup_cells``."""
    return _sum_cells(frame, keys, sums, pl.len().cast(pl.Int64))


def rollup_cells(cells: pl.DataFrame, keys: Sequence[str], sums: Sequence[str]) -> pl.DataFrame:
    """``rollup`` cells (e.g. those of several parts of a cohort, concatenated) summed per cell
    again: ``sums`` and ``rows`` summed."""
    return _sum_cells(cells, keys, sums, pl.col("rows").sum())


def _sum_cells(
    frame: pl.DataFrame, keys: Sequence[str], sums: Sequence[str], rows: pl.Expr
) -> pl.DataFrame:
    dims = [d for d in GROUP_DIMENSIONS if d in frame.columns]
    return frame.group_by(*dims, *keys).agg(*[pl.col(c).sum() for c in sums], rows.alias("rows"))


def attach_groups(frame: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Join the patient's comparison dimensions (``GROUP_DIMENSIONS`` of ``patient_groups``)
    onto ``frame`` unless it already carries them (the cohort summary joins once and reuses
    the result)."""
    missing = [c for c in GROUP_DIMENSIONS if c in groups.columns and c not in frame.columns]
    if not missing:
        return frame
    return frame.join(groups.select("patient_id", *missing), on="patient_id", how="left")


def patient_groups(patients: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per patient with the comparison dimensions: clinic, condition, route,
    care_model, clinician (of the first dose), start_period (quarter of the first dose,
    e.g. 2024-Q1), dosed (any dosing session), first_dose_at."""
    fd = dosing.first_doses(sessions).select(
        "patient_id", "first_dose_at", "route", "care_model", "clinician"
    )
    return (
        patients.select(
            "patient_id",
            "clinic",
            condition=pl.col("primary_condition"),
            comorbid_depression=pl.col("comorbid_depression"),
        )
        .join(fd, on="patient_id", how="left")
        .with_columns(
            dosed=pl.col("first_dose_at").is_not_null(),
            start_period=pl.when(pl.col("first_dose_at").is_not_null()).then(
                pl.format(
                    "{}-Q{}",
                    pl.col("first_dose_at").dt.year(),
                    pl.col("first_dose_at").dt.quarter(),
                )
            ),
        )
        .sort("patient_id")
    )


#: Comparison charts draw at most this many groups, the largest by dosed patients; the rest
#: are pooled into one "other" group. More lines than this cannot be told apart on one chart
#: (the colour-blind-safe palette has eight colours, and curves cross and hide each other).
COMPARED_GROUPS_SHOWN = 6


@dataclass(frozen=True)
class PooledGroups:
    """The levels of one comparison dimension as a chart shows them: the largest
    ``COMPARED_GROUPS_SHOWN`` kept, the rest pooled. ``shown`` maps every level to the label
    drawn (its own name, or ``other``); ``other`` is None when nothing was pooled."""

    dimension: str
    shown: dict[str, str]
    other: str | None
    pooled_levels: int
    pooled_patients: int

    def apply(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the dimension column replaced by the label drawn."""
        col = pl.col(self.dimension).cast(pl.String).fill_null("unknown")
        return frame.with_columns(col.replace_strict(self.shown).alias(self.dimension))

    def sentence(self) -> str | None:
        """What was pooled, in words (None when nothing was)."""
        if self.other is None:
            return None
        return (
            f"The {COMPARED_GROUPS_SHOWN} largest {self.dimension.replace('_', ' ')} groups "
            f"(by dosed patients) are drawn; the other {self.pooled_levels} groups "
            f"({self.pooled_patients} dosed patients) are pooled as '{self.other}'."
        )


def largest_groups(
    groups: pl.DataFrame, by: str, keep: int = COMPARED_GROUPS_SHOWN
) -> PooledGroups:
    """The ``keep`` levels of ``by`` with the most dosed patients (``patient_groups`` rows;
    ties by name), the others pooled as "other (k groups, n patients)"."""
    sizes = (
        groups.select(
            level=pl.col(by).cast(pl.String).fill_null("unknown"),
            dosed=pl.col("dosed").fill_null(False) if "dosed" in groups.columns else pl.lit(True),
        )
        .group_by("level")
        .agg(patients=pl.col("dosed").sum().cast(pl.Int64))
        .sort(["patients", "level"], descending=[True, False])
    )
    levels = sizes.get_column("level").to_list()
    if len(levels) <= keep:
        return PooledGroups(by, {lv: lv for lv in levels}, None, 0, 0)
    rest = sizes.slice(keep)
    n = int(rest.get_column("patients").sum())
    other = f"other ({rest.height} groups, {n} patients)"
    shown = {lv: (lv if i < keep else other) for i, lv in enumerate(levels)}
    return PooledGroups(by, shown, other, rest.height, n)


def pooled_rates(rates: pl.DataFrame, pool: PooledGroups, confidence_level: float) -> pl.DataFrame:
    """Rate rows per level (``n``, ``denominator``, ``itt_denominator``) with the pooled
    levels summed into one row and its Wilson intervals recomputed: level, n, denominator,
    itt_denominator, rate, lower, upper, itt_rate, itt_lower, itt_upper."""
    summed = (
        rates.with_columns(
            level=pl.col("level").replace_strict(pool.shown, default=pl.col("level"))
        )
        .group_by("level", maintain_order=True)
        .agg(pl.col("n", "denominator", "itt_denominator").sum())
    )
    out = with_proportion(summed, "n", "denominator", confidence_level)
    return with_proportion(out, "n", "itt_denominator", confidence_level, prefix="itt_")
