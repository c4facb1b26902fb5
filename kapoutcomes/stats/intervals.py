"""Cohort statistics' building blocks on scipy: proportions with confidence intervals,
Poisson rate and median intervals, caveats, patient subgroups, and funnel-plot limits for
comparing clinics. The statistics built on them have their own modules: ``attrition``,
``induction_response`` (response and remission rates), ``improvement`` (change from baseline,
improvement by treatment month); opioids, cost and data completeness live in ``resources``,
``safety`` and ``completeness``.

Every result is a tidy polars frame whose rows carry ``n`` (numerator or patients
contributing), ``denominator``, the ``definition`` in force and ``caveats`` (small n, many
missing baselines, ...). Every statistic can be split by a patient attribute: pass
``by="clinic"`` (or condition, route, care_model, clinician, start_period; see
``patient_groups``) and the rows come back per ``level`` of that ``subgroup``; without
``by`` the single level is ``"all"``.

Intervals: Wilson score intervals for rates (``scipy.stats.binomtest(...).proportion_ci``,
Newcombe, Stat Med 1998;17:857), Clopper-Pearson where exact intervals are asked for,
t intervals for means, distribution-free order-statistic intervals for medians (``median_ci``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import stats

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change

WILSON_SOURCE = "Wilson 1927; Newcombe, Stat Med 1998;17:857 (method 3)"
GROUP_DIMENSIONS = ("clinic", "condition", "route", "care_model", "clinician", "start_period")
GROUP_MEANINGS = {
    "clinic": "clinic of the patient",
    "condition": "primary condition at intake",
    "route": "route of the first dose",
    "care_model": "KAP (with psychotherapy) or infusion-only, at the first dose",
    "clinician": "clinician of the first dose",
    "start_period": "calendar quarter of the first dose",
}


# -- building blocks -------------------------------------------------------------------------
def proportion_ci(
    k: int, n: int, confidence_level: float = 0.95, method: str = "wilson"
) -> tuple[float | None, float | None, float | None]:
    """(estimate, lower, upper) of k/n; ``method`` "wilson" or "exact" (Clopper-Pearson).
    All None when n == 0."""
    if n <= 0:
        return (None, None, None)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(
        confidence_level=confidence_level, method=method
    )
    return (k / n, float(ci.low), float(ci.high))


def proportion_ci_arrays(
    k: np.ndarray, n: np.ndarray, confidence_level: float = 0.95, method: str = "wilson"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised (estimate, lower, upper) for arrays of k and n: the same closed forms
    ``scipy.stats.binomtest(k, n).proportion_ci`` uses (Wilson score without continuity
    correction; Clopper-Pearson from beta quantiles), checked against it in the tests.
    NaN where n == 0."""
    k = np.asarray(k, float)
    n = np.asarray(n, float)
    ok = n > 0
    nn = np.where(ok, n, 1.0)
    p = np.where(ok, k / nn, np.nan)
    a = 1 - confidence_level
    if method == "wilson":
        z = stats.norm.ppf(1 - a / 2)
        denom = nn + z**2
        center = (k + z**2 / 2) / denom
        half = z / denom * np.sqrt(np.clip(k * (nn - k) / nn, 0, None) + z**2 / 4)
        lo, hi = center - half, center + half
    elif method == "exact":
        with np.errstate(invalid="ignore"):
            lo = np.where(k > 0, stats.beta.ppf(a / 2, np.maximum(k, 1e-12), nn - k + 1), 0.0)
            hi = np.where(k < nn, stats.beta.ppf(1 - a / 2, k + 1, np.maximum(nn - k, 1e-12)), 1.0)
    else:
        raise ValueError(f"unknown method {method!r}: use wilson or exact")
    lo = np.where(ok, np.clip(lo, 0.0, 1.0), np.nan)
    hi = np.where(ok, np.clip(hi, 0.0, 1.0), np.nan)
    return p, lo, hi


def with_proportion(
    frame: pl.DataFrame,
    k: str,
    n: str,
    confidence_level: float,
    prefix: str = "",
    method: str = "wilson",
) -> pl.DataFrame:
    """Add ``{prefix}rate``, ``{prefix}lower``, ``{prefix}upper`` (fractions) for columns
    ``k`` / ``n`` of every row (empty where n is 0)."""
    p, lo, hi = proportion_ci_arrays(
        frame.get_column(k).fill_null(0).to_numpy(),
        frame.get_column(n).fill_null(0).to_numpy(),
        confidence_level,
        method,
    )
    return frame.with_columns(
        pl.Series(f"{prefix}rate", p, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{prefix}lower", lo, dtype=pl.Float64).fill_nan(None),
        pl.Series(f"{prefix}upper", hi, dtype=pl.Float64).fill_nan(None),
    )


def poisson_rate_ci(
    events: np.ndarray, exposure: np.ndarray, confidence_level: float = 0.95, per: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate per ``per`` units of exposure with the exact (Garwood) Poisson interval."""
    k = np.asarray(events, float)
    e = np.asarray(exposure, float)
    a = 1 - confidence_level
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
        hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
        rate = np.where(e > 0, k / e * per, np.nan)
        return rate, np.where(e > 0, lo / e * per, np.nan), np.where(e > 0, hi / e * per, np.nan)


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
    see ``attach_groups``). Statistics made only of sums and counts (``row_count``) give the
    same result from the cells as from the patients, and there are far fewer cells (a few
    thousand) than patients, so each of the seven groupings is nearly free. Cells rolled up
    again (e.g. the cells of several parts of a cohort, concatenated) sum their ``rows``."""
    dims = [d for d in GROUP_DIMENSIONS if d in frame.columns]
    return frame.group_by(*dims, *keys).agg(
        *[pl.col(c).sum() for c in sums], row_count(frame).alias("rows")
    )


def row_count(frame: pl.DataFrame) -> pl.Expr:
    """The number of patient rows in a group: ``pl.len()``, or the sum of ``rows`` when the
    frame holds ``rollup`` cells."""
    return pl.col("rows").sum() if "rows" in frame.columns else pl.len().cast(pl.Int64)


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
    fd = change.first_doses(sessions).select(
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


def median_ci(x: np.ndarray, confidence_level: float = 0.95) -> tuple[float | None, float | None]:
    """Distribution-free confidence interval for the median from binomial order statistics
    (Conover, Practical Nonparametric Statistics, 3rd ed., 1999, section 3.2)."""
    x = np.sort(np.asarray(x, float))
    n = x.size
    if n == 0:
        return (None, None)
    a = 1 - confidence_level
    j = int(stats.binom.ppf(a / 2, n, 0.5))  # lower order statistic (1-based j)
    if j < 1:
        return (None, None)
    return (float(x[j - 1]), float(x[n - j]))


# -- funnel plot -----------------------------------------------------------------------------
def funnel(rates: pl.DataFrame, network_rate: float | None = None) -> pl.DataFrame:
    """Funnel-plot view of unit rates (rows with level, n, denominator) against the network
    rate with 95% and 99.8% binomial control limits (Spiegelhalter, Stat Med 2005;24:1185).

    Adds network_rate, lower95, upper95, lower998, upper998 and position ("above 99.8%",
    "above 95%", "within", "below 95%", "below 99.8%")."""
    k = rates.get_column("n").to_numpy().astype(float)
    n = rates.get_column("denominator").to_numpy().astype(float)
    p = (
        float(k.sum() / n.sum())
        if network_rate is None and n.sum() > 0
        else (network_rate or float("nan"))
    )
    lim = funnel_limits(n, p)
    out = rates.with_columns(network_rate=pl.lit(p), **{c: pl.Series(v) for c, v in lim.items()})
    r = pl.col("n") / pl.col("denominator")
    return out.with_columns(
        position=pl.when(pl.col("denominator") == 0)
        .then(pl.lit("no data"))
        .when(r > pl.col("upper998"))
        .then(pl.lit("above 99.8%"))
        .when(r > pl.col("upper95"))
        .then(pl.lit("above 95%"))
        .when(r < pl.col("lower998"))
        .then(pl.lit("below 99.8%"))
        .when(r < pl.col("lower95"))
        .then(pl.lit("below 95%"))
        .otherwise(pl.lit("within"))
    )


def funnel_limits(n: np.ndarray, p: float) -> dict[str, np.ndarray]:
    """Binomial control limits (as proportions) around ``p`` for denominators ``n``,
    interpolated as in Spiegelhalter 2005 (appendix A.1.1)."""
    n = np.asarray(n, float)
    out = {}
    for name, q in (
        ("lower95", 0.025),
        ("upper95", 0.975),
        ("lower998", 0.001),
        ("upper998", 0.999),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = stats.binom.ppf(q, n, p)
            a = (stats.binom.cdf(r, n, p) - q) / (
                stats.binom.cdf(r, n, p) - stats.binom.cdf(r - 1, n, p)
            )
            out[name] = np.where(n > 0, (r - a) / n, np.nan)
    return out
