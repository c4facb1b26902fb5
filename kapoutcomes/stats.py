"""Cohort statistics on scipy: proportions with confidence intervals, response and
remission rates, change from baseline, improvement by treatment month, attrition, opioids,
cost and data completeness.

Every result is a tidy polars frame whose rows carry ``n`` (numerator or patients
contributing), ``denominator``, the ``definition`` in force and ``caveats`` (small n, many
missing baselines, ...). Every statistic can be split by a patient attribute: pass
``by="clinic"`` (or condition, route, care_model, clinician, start_period; see
``patient_groups``) and the rows come back per ``level`` of that ``subgroup``; without
``by`` the single level is ``"all"``.

Intervals: Wilson score intervals for rates (``scipy.stats.binomtest(...).proportion_ci``,
Newcombe, Stat Med 1998;17:857), Clopper-Pearson where exact intervals are asked for,
t intervals for means, distribution-free order-statistic intervals for medians, the
paired Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) for change from baseline.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
from scipy import stats

from kapoutcomes import outcomes
from kapoutcomes.settings import Settings

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


def attach_groups(frame: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Join the patient's comparison dimensions (``patient_groups``) onto ``frame`` unless it
    already carries them (the cohort summary joins once and reuses the result)."""
    missing = [c for c in groups.columns if c != "patient_id" and c not in frame.columns]
    if not missing:
        return frame
    return frame.join(groups.select("patient_id", *missing), on="patient_id", how="left")


def patient_groups(patients: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per patient with the comparison dimensions: clinic, condition, route,
    care_model, clinician (of the first dose), start_period (quarter of the first dose,
    e.g. 2024-Q1), dosed (any dosing session), first_dose_at."""
    fd = outcomes.first_doses(sessions).select(
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


# -- attrition -------------------------------------------------------------------------------
ATTRITION_STAGES = (
    ("referred", "patients in the export (referral recorded)"),
    ("screened", "a screening session or any later session recorded"),
    ("first_infusion", "at least one dosing session (induction, maintenance or booster)"),
    ("completed_induction", "first induction course reached the complete number of infusions"),
    (
        "any_follow_up",
        "an outcome score after the end of the first induction course (or after "
        "the first dose without induction)",
    ),
    ("maintenance", "at least one maintenance or booster infusion"),
)


def patient_stages(
    groups: pl.DataFrame,
    sessions: pl.DataFrame,
    assessments: pl.DataFrame,
    induction: pl.DataFrame,
) -> pl.DataFrame:
    """Per patient: one boolean column per attrition stage (``ATTRITION_STAGES``)."""
    any_session = sessions.select("patient_id").unique().with_columns(_s=pl.lit(True))
    ind1 = induction.filter(pl.col("course") == 1).select(
        "patient_id", "induction_end", "completed"
    )
    maint = (
        sessions.filter(pl.col("session_type").is_in(["maintenance", "booster"]))
        .select("patient_id")
        .unique()
        .with_columns(_m=pl.lit(True))
    )
    ref = groups.select("patient_id", "first_dose_at").join(ind1, on="patient_id", how="left")
    after = ref.with_columns(_from=pl.coalesce("induction_end", "first_dose_at")).select(
        "patient_id", "_from"
    )
    fu = (
        outcomes.totals(assessments)
        .join(after, on="patient_id", how="inner")
        .filter(pl.col("assessed_at") > pl.col("_from"))
        .select("patient_id")
        .unique()
        .with_columns(_f=pl.lit(True))
    )
    out = (
        ref.join(any_session, on="patient_id", how="left")
        .join(maint, on="patient_id", how="left")
        .join(fu, on="patient_id", how="left")
        .select(
            "patient_id",
            referred=pl.lit(True),
            screened=pl.col("_s").fill_null(False),
            first_infusion=pl.col("first_dose_at").is_not_null(),
            completed_induction=pl.col("completed").fill_null(False),
            any_follow_up=pl.col("_f").fill_null(False),
            maintenance=pl.col("_m").fill_null(False),
        )
    )
    return out.sort("patient_id")


def attrition(
    stages: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Counts at each stage: subgroup, level, stage, n, denominator (referred), pct_of_referred,
    pct_of_previous (of the patients at the previous stage, the % who also reached this one;
    stages are counted independently, e.g. follow-up without a completed induction),
    definition, caveats."""
    s = attach_groups(stages, groups).with_columns(level_columns(by))
    names = [n for n, _ in ATTRITION_STAGES]
    g = s.group_by("subgroup", "level").agg(
        [pl.col(n).sum() for n in names]
        + [(pl.col(b) & pl.col(a)).sum().alias(f"{b}|both") for a, b in itertools.pairwise(names)]
    )
    both = g.unpivot(
        index=["subgroup", "level"],
        on=[f"{b}|both" for b in names[1:]],
        variable_name="stage",
        value_name="_both",
    ).with_columns(pl.col("stage").str.replace(r"\|both$", ""))
    long = g.select("subgroup", "level", *names).unpivot(
        index=["subgroup", "level"], on=names, variable_name="stage", value_name="n"
    )
    long = long.join(both, on=["subgroup", "level", "stage"], how="left")
    order = pl.DataFrame(
        {
            "stage": names,
            "_o": list(range(len(names))),
            "definition": [d for _, d in ATTRITION_STAGES],
        }
    )
    long = long.join(order, on="stage").sort("subgroup", "level", "_o")
    long = long.with_columns(
        denominator=pl.col("n").first().over("subgroup", "level"),
        _prev=pl.col("n").shift(1).over("subgroup", "level"),
    ).with_columns(
        pct_of_referred=pl.when(pl.col("denominator") > 0).then(
            100.0 * pl.col("n") / pl.col("denominator")
        ),
        pct_of_previous=pl.when(pl.col("_prev") > 0).then(
            100.0 * pl.col("_both") / pl.col("_prev")
        ),
        caveats=caveat_expr(pl.col("denominator"), settings),
    )
    return long.select(
        "subgroup",
        "level",
        "stage",
        pl.col("n").cast(pl.Int64),
        pl.col("denominator").cast(pl.Int64),
        "pct_of_referred",
        "pct_of_previous",
        "definition",
        "caveats",
    )


# -- response and remission ------------------------------------------------------------------
MEASURES = ("response", "substantial", "remission", "mcid_improved", "reliable_improvement")


def itt_population(
    groups: pl.DataFrame, assessments: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """Intention-to-treat population per instrument: patient_id, instrument for every dosed
    patient and every instrument with a response or remission rule recorded in the data;
    depression instruments only for patients with comorbid depression at intake or any score
    on that instrument."""
    rules = outcomes.response_rules(settings).filter(
        pl.col("response_pct").is_not_null()
        | pl.col("remission_below").is_not_null()
        | pl.col("remission_at_or_below").is_not_null()
        | pl.col("mcid").is_not_null()
        | pl.col("reliability").is_not_null()
    )
    tot = outcomes.totals(assessments)
    present = tot.select("instrument").unique()
    inst = rules.join(present, on="instrument", how="inner").select("instrument", "domain")
    dosed = groups.filter(pl.col("dosed")).select("patient_id", "comorbid_depression")
    dep = inst.filter(pl.col("domain") == "depression").get_column("instrument").to_list()
    scored = (
        tot.filter(pl.col("instrument").is_in(dep))
        .select("patient_id", "instrument")
        .unique()
        .with_columns(_scored=pl.lit(True))
    )
    grid = dosed.join(inst, how="cross").join(scored, on=["patient_id", "instrument"], how="left")
    return (
        grid.filter(
            (pl.col("domain") != "depression")
            | pl.col("comorbid_depression")
            | pl.col("_scored").fill_null(False)
        )
        .select("patient_id", "instrument")
        .sort("patient_id", "instrument")
    )


def with_baseline_flag(itt: pl.DataFrame, base: pl.DataFrame) -> pl.DataFrame:
    """``itt`` with ``has_baseline`` from ``base`` (unchanged when it already has it)."""
    if "has_baseline" in itt.columns:
        return itt
    return itt.join(
        base.select("patient_id", "instrument", "has_baseline"),
        on=["patient_id", "instrument"],
        how="left",
    )


def response_rates(
    eoi: pl.DataFrame,
    itt: pl.DataFrame,
    base: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """End-of-induction response, substantial improvement, remission, MCID and reliable
    improvement rates by instrument, among evaluable patients (baseline and an
    end-of-induction score) and intention-to-treat (every dosed patient in ``itt``;
    non-evaluable counted as non-responders), with Wilson intervals.

    Columns: subgroup, level, instrument, measure, n (patients meeting it), denominator
    (evaluable), itt_denominator, rate, lower, upper, itt_rate, itt_lower, itt_upper,
    missing_baseline, definition, caveats.
    """
    rules = outcomes.response_rules(settings)
    col = {"response": "responder"}
    e = attach_groups(eoi, groups).with_columns(level_columns(by))
    agg = []
    for m in MEASURES:
        c = pl.col(col.get(m, m))
        agg += [
            c.sum().cast(pl.Int64).alias(f"{m}|n"),
            c.is_not_null().sum().cast(pl.Int64).alias(f"{m}|d"),
        ]
    wide = e.group_by("subgroup", "level", "instrument").agg(agg)
    r = pl.concat(
        [
            wide.select(
                "subgroup",
                "level",
                "instrument",
                n=pl.col(f"{m}|n"),
                denominator=pl.col(f"{m}|d"),
                measure=pl.lit(m),
            )
            for m in MEASURES
        ]
    ).filter(pl.col("denominator") > 0)
    i = (
        attach_groups(with_baseline_flag(itt, base), groups)
        .with_columns(level_columns(by))
        .group_by("subgroup", "level", "instrument")
        .agg(
            itt_denominator=pl.len().cast(pl.Int64),
            missing_baseline=(~pl.col("has_baseline").fill_null(False)).sum().cast(pl.Int64),
        )
    )
    r = r.join(i, on=["subgroup", "level", "instrument"], how="left").with_columns(
        pl.col("itt_denominator").fill_null(0), pl.col("missing_baseline").fill_null(0)
    )
    r = r.join(
        rules.select(
            "instrument",
            "response_pct",
            "substantial_pct",
            "remission_below",
            "remission_at_or_below",
            "mcid",
            "reliability",
        ),
        on="instrument",
        how="left",
    )
    definition = (
        pl.when(pl.col("measure") == "response")
        .then(
            pl.format(
                "reduction from baseline >= {}% at the end of induction", pl.col("response_pct")
            )
        )
        .when(pl.col("measure") == "substantial")
        .then(
            pl.format(
                "reduction from baseline >= {}% at the end of induction", pl.col("substantial_pct")
            )
        )
        .when((pl.col("measure") == "remission") & pl.col("remission_below").is_not_null())
        .then(pl.format("score < {} at the end of induction", pl.col("remission_below")))
        .when(pl.col("measure") == "remission")
        .then(pl.format("score <= {} at the end of induction", pl.col("remission_at_or_below")))
        .when(pl.col("measure") == "mcid_improved")
        .then(pl.format("improvement >= {} points (MCID) at the end of induction", pl.col("mcid")))
        .otherwise(
            pl.format(
                "reliable improvement (Jacobson & Truax RCI < -1.96, r = {})", pl.col("reliability")
            )
        )
    )
    end_def = (
        f"; end of induction = first score after the last infusion of the first course, within "
        f"{settings.end_of_induction_window_days} days; evaluable = baseline (last score within "
        f"{settings.baseline_window_days} days before the first dose) and an end-of-induction "
        "score; ITT = every dosed patient (depression instruments: comorbid depression or any "
        "score), non-evaluable counted as not meeting it"
    )
    miss_pct = pl.when(pl.col("itt_denominator") > 0).then(
        100.0 * pl.col("missing_baseline") / pl.col("itt_denominator")
    )
    r = r.with_columns(
        definition=pl.concat_str([definition, pl.lit(end_def)]),
        caveats=caveat_expr(
            pl.col("denominator"),
            settings,
            pl.when(miss_pct > settings.missing_baseline_caveat_pct).then(
                pl.format("{}% of the ITT population lack a baseline", miss_pct.round(0))
            ),
            pl.when(pl.col("denominator") < 0.5 * pl.col("itt_denominator")).then(
                pl.lit("fewer than half of the ITT population are evaluable")
            ),
        ),
    ).sort("subgroup", "level", "instrument", "measure")
    r = with_proportion(r, "n", "denominator", settings.confidence_level)
    r = with_proportion(r, "n", "itt_denominator", settings.confidence_level, prefix="itt_")
    return r.select(
        "subgroup",
        "level",
        "instrument",
        "measure",
        "n",
        "denominator",
        "itt_denominator",
        "rate",
        "lower",
        "upper",
        "itt_rate",
        "itt_lower",
        "itt_upper",
        "missing_baseline",
        "definition",
        "caveats",
    )


# -- change from baseline --------------------------------------------------------------------
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


def describe_change(
    change: np.ndarray, baseline: np.ndarray, confidence_level: float = 0.95
) -> dict[str, float | None]:
    """Mean (t interval) and median (order-statistic interval) of change, the paired Wilcoxon
    signed-rank test against no change, the standardised response mean (mean / SD of change)
    and effect size (mean change / SD of baseline, Kazis 1989)."""
    c = np.asarray(change, float)
    b = np.asarray(baseline, float)
    n = c.size
    out: dict[str, float | None] = dict.fromkeys(
        (
            "mean",
            "mean_lower",
            "mean_upper",
            "sd",
            "median",
            "median_lower",
            "median_upper",
            "wilcoxon_statistic",
            "wilcoxon_p",
            "srm",
            "effect_size",
        ),
    )
    if n == 0:
        return out
    out["mean"] = float(c.mean())
    out["median"] = float(np.median(c))
    out["median_lower"], out["median_upper"] = median_ci(c, confidence_level)
    if n >= 2:
        sd = float(c.std(ddof=1))
        out["sd"] = sd
        if sd > 0:
            h = stats.t.ppf(0.5 + confidence_level / 2, n - 1) * sd / math.sqrt(n)
            out["mean_lower"], out["mean_upper"] = out["mean"] - h, out["mean"] + h
            out["srm"] = out["mean"] / sd
        else:
            out["mean_lower"] = out["mean_upper"] = out["mean"]
        bsd = float(b.std(ddof=1))
        if bsd > 0:
            out["effect_size"] = out["mean"] / bsd
        if np.any(c != 0):
            nz = c[c != 0]
            exact = nz.size <= 50 and np.unique(np.abs(nz)).size == nz.size
            w = stats.wilcoxon(c, zero_method="wilcox", method="exact" if exact else "asymptotic")
            out["wilcoxon_statistic"] = float(w.statistic)
            out["wilcoxon_p"] = float(w.pvalue)
    return out


def change_from_baseline(
    eoi: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    timepoint: str = "end of induction",
) -> pl.DataFrame:
    """Change from baseline (score - baseline; negative = better for every registry
    instrument) per instrument, one score per patient (``eoi``: end-of-induction rows, or any
    one-row-per-patient-and-instrument frame of ``outcomes.changes`` columns).

    Columns: subgroup, level, instrument, timepoint, n, denominator (patients with a score at
    the timepoint), mean_baseline, mean_score, mean, mean_lower, mean_upper, sd, median,
    median_lower, median_upper, mean_reduction_pct, wilcoxon_statistic, wilcoxon_p, srm,
    effect_size, definition, caveats.
    """
    e = attach_groups(eoi, groups).with_columns(level_columns(by))
    e2 = e.filter(pl.col("change").is_not_null())
    agg = (
        e2.group_by("subgroup", "level", "instrument")
        .agg(
            n=pl.len().cast(pl.Int64),
            mean_baseline=pl.col("baseline_score").mean(),
            mean_score=pl.col("score").mean(),
            mean_reduction_pct=pl.col("reduction_pct").mean(),
            _c=pl.col("change"),
            _b=pl.col("baseline_score"),
        )
        .join(
            e.group_by("subgroup", "level", "instrument").agg(denominator=pl.len().cast(pl.Int64)),
            on=["subgroup", "level", "instrument"],
        )
        .sort("subgroup", "level", "instrument")
    )
    rows = [
        describe_change(np.array(c), np.array(b), settings.confidence_level)
        for c, b in zip(agg.get_column("_c").to_list(), agg.get_column("_b").to_list(), strict=True)
    ]
    extra = pl.DataFrame(
        rows,
        schema=dict.fromkeys(
            (
                "mean",
                "mean_lower",
                "mean_upper",
                "sd",
                "median",
                "median_lower",
                "median_upper",
                "wilcoxon_statistic",
                "wilcoxon_p",
                "srm",
                "effect_size",
            ),
            pl.Float64,
        ),
    )
    out = pl.concat([agg.drop("_c", "_b"), extra], how="horizontal")
    definition = (
        f"change = score at {timepoint} - baseline (negative = improvement); mean with t "
        f"interval, median with order-statistic interval ({settings.confidence_level:.0%}); "
        "paired Wilcoxon signed-rank test; SRM = mean change / SD of change; effect size = "
        "mean change / SD of baseline"
    )
    return out.with_columns(
        timepoint=pl.lit(timepoint),
        definition=pl.lit(definition),
        caveats=caveat_expr(pl.col("n"), settings),
    ).select(
        "subgroup",
        "level",
        "instrument",
        "timepoint",
        "n",
        "denominator",
        "mean_baseline",
        "mean_score",
        "mean",
        "mean_lower",
        "mean_upper",
        "sd",
        "median",
        "median_lower",
        "median_upper",
        "mean_reduction_pct",
        "wilcoxon_statistic",
        "wilcoxon_p",
        "srm",
        "effect_size",
        "definition",
        "caveats",
    )


def monthly_scores(change: pl.DataFrame, max_month: int = 12) -> pl.DataFrame:
    """Each patient's last score with a baseline in every 30-day treatment month (up to
    ``max_month``): the ``outcomes.changes`` columns, one row per patient, instrument and
    month."""
    return (
        change.filter(pl.col("change").is_not_null() & (pl.col("treatment_month") <= max_month))
        .select(
            "patient_id",
            "instrument",
            "treatment_month",
            "assessed_at",
            "change",
            "reduction_pct",
            "responder",
        )
        .sort("assessed_at")
        .group_by("patient_id", "instrument", "treatment_month")
        .agg(pl.all().last())
    )


def improvement_by_month(
    monthly: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Improvement by treatment month (30-day months from the first dose) from
    ``monthly_scores`` (each patient's last score in the month).

    Columns: subgroup, level, instrument, treatment_month, n (responders; empty for
    instruments without a response threshold), denominator (patients with a score and a
    baseline that month), mean_change, median_change, mean_reduction_pct, rate / lower /
    upper (share responding, Wilson), definition, caveats.
    """
    c = attach_groups(monthly, groups).with_columns(level_columns(by))
    g = (
        c.group_by("subgroup", "level", "instrument", "treatment_month")
        .agg(
            n=pl.col("responder").fill_null(False).sum().cast(pl.Int64),
            denominator=pl.len().cast(pl.Int64),
            mean_change=pl.col("change").mean(),
            median_change=pl.col("change").median(),
            mean_reduction_pct=pl.col("reduction_pct").mean(),
            _has_rule=pl.col("responder").is_not_null().any(),
        )
        .sort("subgroup", "level", "instrument", "treatment_month")
    )
    g = with_proportion(g, "n", "denominator", settings.confidence_level)
    g = g.with_columns(
        [
            pl.when(pl.col("_has_rule")).then(pl.col(x)).alias(x)
            for x in ("n", "rate", "lower", "upper")
        ]
    ).drop("_has_rule")
    return g.with_columns(
        definition=pl.lit(
            "last score in each 30-day treatment month after the first dose; change = score - "
            "baseline; rate = share at or above the instrument's response threshold"
        ),
        caveats=caveat_expr(pl.col("denominator"), settings),
    )


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
