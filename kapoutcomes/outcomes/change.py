"""Per-patient outcome metrics: baseline, change from baseline, last contact and cost of care.
Dosing sessions and first doses are in ``dosing``; the response rules and severity bands in
``rules``; the induction series and end-of-induction response in ``induction``; opioid use
(daily MME over time) in ``opioid_course``.

Every function is pure: canonical tables in (long format, see ``kapoutcomes.tables``), tidy
polars frames out, thresholds and windows from a :class:`~kapoutcomes.definitions.settings.Settings`.
Nothing here loops over patients; the cohort statistics build on these frames.

Conventions used throughout
---------------------------
* A *dosing session* is a session whose type is induction, maintenance (scheduled) or
  booster (unscheduled) (``tables.DOSING_TYPES``). The *first dose* is the earliest one.
* Scores are *totals* (``item`` empty). Scores recorded *after dosing* in the same session
  (``timing == "after_dose"``) reflect the acute drug effect and are left out of change,
  response and episodes unless ``include_after_dose=True`` (project choice, documented in
  ``AFTER_DOSE_NOTE``).
* ``reduction_pct`` is the improvement in % of baseline, positive when the patient is
  better (for every instrument in the registry higher scores are worse).
* Days are floating-point days between timestamps; treatment month ``m`` covers days
  ``[30(m-1), 30m)`` after the first dose.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kapoutcomes.definitions import instruments
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import days_between, first_doses
from kapoutcomes.outcomes.rules import band_expr, response_rules

AFTER_DOSE_NOTE = (
    "scores recorded after dosing in the same session (acute drug effect) are not used for "
    "change, response or episodes (kapoutcomes default)"
)


def totals(assessments: pl.DataFrame, include_after_dose: bool = False) -> pl.DataFrame:
    """Total scores (no item answers), optionally without after-dose scores. A frame that
    holds only such rows is returned as it is (no copy), so callers may pass the totals."""
    t = assessments
    if t.get_column("item").null_count() != t.height:
        t = t.filter(pl.col("item").is_null())
    if not include_after_dose and t.select((pl.col("timing") == "after_dose").any()).item():
        t = t.filter((pl.col("timing") != "after_dose").fill_null(True))
    return t


# -- baseline --------------------------------------------------------------------------------
def baselines(
    assessments: pl.DataFrame,
    sessions: pl.DataFrame,
    settings: Settings,
    instruments_: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Baseline per dosed patient and instrument: the last total score within
    ``settings.baseline_window_days`` before the first dose (a score recorded before dosing in
    the first dosing session counts). Missing baselines are stated, never imputed.

    One row per (dosed patient, instrument recorded anywhere in ``assessments``, or in
    ``instruments_`` when given, e.g. the whole cohort's when computed for a part of it):
    patient_id, instrument, first_dose_at, baseline_score, baseline_at,
    baseline_days_before, has_baseline, baseline_status.
    """
    fd = first_doses(sessions).select("patient_id", "first_dose_at", "first_session_id")
    tot = totals(assessments)
    inst = (
        tot.select(pl.col("instrument").unique())
        if instruments_ is None
        else pl.DataFrame({"instrument": list(instruments_)}, schema={"instrument": pl.String})
    ).sort("instrument")
    grid = fd.join(inst, how="cross")
    before = (pl.col("assessed_at") <= pl.col("first_dose_at")) | (
        (pl.col("session_id") == pl.col("first_session_id"))
        & pl.col("timing").is_in(["baseline", "before_dose"])
    ).fill_null(False)
    # the latest score before the first dose (the natural key rules out two at the same
    # time); it is the baseline when it lies in the window (if any score does, it does)
    latest = (
        tot.lazy()
        .select("patient_id", "instrument", "assessed_at", "score", "session_id", "timing")
        .join(fd.lazy(), on="patient_id", how="inner")
        .filter(before)
        .group_by("patient_id", "instrument")
        .agg(
            _score=pl.col("score").get(pl.col("assessed_at").arg_max()),
            _at=pl.col("assessed_at").max(),
            _first_dose_at=pl.col("first_dose_at").first(),
            _older=pl.len(),
        )
        .collect()
    )
    in_window = pl.col("_at") >= pl.col("_first_dose_at") - pl.duration(
        days=settings.baseline_window_days
    )
    last = latest.select(
        "patient_id",
        "instrument",
        baseline_score=pl.when(in_window).then(pl.col("_score")),
        baseline_at=pl.when(in_window).then(pl.col("_at")),
        _older="_older",
    )
    out = (
        grid.join(last, on=["patient_id", "instrument"], how="left")
        .with_columns(
            baseline_days_before=days_between(pl.col("first_dose_at"), pl.col("baseline_at")),
            has_baseline=pl.col("baseline_score").is_not_null(),
        )
        .with_columns(
            baseline_status=pl.when(pl.col("has_baseline"))
            .then(pl.lit("recorded"))
            .when(pl.col("_older").is_not_null())
            .then(
                pl.lit(
                    f"missing: last score before the first dose is more than "
                    f"{settings.baseline_window_days} days earlier"
                )
            )
            .otherwise(pl.lit("missing: no score before the first dose"))
        )
        .drop("_older", "first_session_id")
        .sort("patient_id", "instrument")
    )
    return out


# -- change from baseline --------------------------------------------------------------------
#: The columns of ``changes``, in order; ``change_rows`` has the first 14 (through
#: ``responder``), ``classify_changes`` adds the rest.
CHANGE_COLUMNS = (
    "patient_id",
    "instrument",
    "assessed_at",
    "session_id",
    "timing",
    "score",
    "baseline_score",
    "days_from_first_dose",
    "treatment_month",
    "change",
    "pct_change",
    "improvement",
    "reduction_pct",
    "responder",
    "substantial",
    "remission",
    "mcid_improved",
    "rci",
    "reliable_improvement",
    "reliable_deterioration",
    "band",
    "category",
)
_ROW_COLUMNS = CHANGE_COLUMNS[: CHANGE_COLUMNS.index("responder") + 1]


def _direction() -> pl.Expr:
    return pl.when(pl.col("higher_is_worse")).then(1.0).otherwise(-1.0)


def change_rows(
    assessments: pl.DataFrame,
    sessions: pl.DataFrame,
    settings: Settings,
    base: pl.DataFrame | None = None,
    include_after_dose: bool = False,
) -> pl.DataFrame:
    """The first columns of ``changes`` (``CHANGE_COLUMNS`` through ``responder``) for every
    assessment after the first dose, in no particular order (``changes`` sorts): what the
    cohort statistics need on every row. ``classify_changes`` adds the categories, RCI and bands to
    the rows that are reported one by one (e.g. the end of induction)."""
    base = base if base is not None else baselines(assessments, sessions, settings)
    rules = response_rules(settings).select("instrument", "higher_is_worse", "response_pct")
    t = (
        totals(assessments, include_after_dose)
        .lazy()
        .join(
            base.select(
                "patient_id", "instrument", "first_dose_at", "baseline_score", "baseline_at"
            ).lazy(),
            on=["patient_id", "instrument"],
            how="inner",
        )
        .filter(
            (pl.col("assessed_at") > pl.col("first_dose_at"))
            & (pl.col("assessed_at") != pl.col("baseline_at")).fill_null(True)
        )
        .join(rules.lazy(), on="instrument", how="left")
    )
    direction = _direction()
    days = days_between(pl.col("assessed_at"), pl.col("first_dose_at"))
    b = pl.col("baseline_score")
    t = t.with_columns(
        days_from_first_dose=days,
        treatment_month=(days // settings.treatment_month_days).cast(pl.Int32) + 1,
        change=pl.col("score") - b,
        pct_change=pl.when(b != 0).then((pl.col("score") - b) / b * 100.0),
    ).with_columns(
        improvement=-direction * pl.col("change"),
        reduction_pct=-direction * pl.col("pct_change"),
    )
    t = t.with_columns(
        responder=pl.when(pl.col("response_pct").is_not_null() & b.is_not_null()).then(
            (pl.col("reduction_pct") >= pl.col("response_pct")).fill_null(False)
        ),
    )
    return t.select(_ROW_COLUMNS).collect()


def classify_changes(rows: pl.DataFrame, base: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """``change_rows`` rows (any subset, plus any further columns, kept at the end) with the
    remaining ``changes`` columns: substantial, remission, mcid_improved, rci,
    reliable_improvement, reliable_deterioration, band and category (see ``changes``);
    ``base`` is the baselines the rows were computed from (the SD of its baselines scales the
    RCI)."""
    rules = response_rules(settings)
    sd = (
        base.filter(pl.col("has_baseline"))
        .group_by("instrument")
        .agg(_baseline_sd=pl.col("baseline_score").std())
    )
    present = base.get_column("instrument").unique().to_list()
    extra = [c for c in rows.columns if c not in CHANGE_COLUMNS]
    t = (
        rows.lazy()
        .join(
            rules.drop("definition", "source").lazy(),
            on="instrument",
            how="left",
            maintain_order="left",
        )
        .join(sd.lazy(), on="instrument", how="left", maintain_order="left")
    )
    direction = _direction()
    b = pl.col("baseline_score")
    red = pl.col("reduction_pct")
    t = (
        t.with_columns(
            _sem=pl.col("_baseline_sd") * (1.0 - pl.col("reliability")).sqrt(),
        )
        .with_columns(
            substantial=pl.when(pl.col("substantial_pct").is_not_null() & b.is_not_null()).then(
                (red >= pl.col("substantial_pct")).fill_null(False)
            ),
            remission=pl.when(pl.col("remission_below").is_not_null())
            .then(pl.col("score") < pl.col("remission_below"))
            .when(pl.col("remission_at_or_below").is_not_null())
            .then(pl.col("score") <= pl.col("remission_at_or_below")),
            mcid_improved=pl.when(pl.col("mcid").is_not_null() & b.is_not_null()).then(
                pl.col("improvement") >= pl.col("mcid")
            ),
            rci=pl.when(pl.col("_sem") > 0).then(
                pl.col("change") / (pl.lit(2.0).sqrt() * pl.col("_sem"))
            ),
        )
        .with_columns(
            reliable_improvement=-direction * pl.col("rci") > instruments.RCI_CRITERION,
            reliable_deterioration=direction * pl.col("rci") > instruments.RCI_CRITERION,
        )
    )
    pain = pl.col("domain") == "pain"
    worse = pl.col("improvement") < 0
    category = (
        pl.when(b.is_null())
        .then(pl.lit("no baseline"))
        .when(pain & (red >= pl.col("substantial_pct")))
        .then(pl.lit("substantial"))
        .when(pain & (red >= pl.col("response_pct")))
        .then(pl.lit("moderate"))
        .when(pain & (red >= pl.col("minimal_pct")))
        .then(pl.lit("minimal"))
        .when(pain & worse)
        .then(pl.lit("worse"))
        .when(pain)
        .then(pl.lit("no improvement"))
        .when(pl.col("remission").fill_null(False))
        .then(pl.lit("remission"))
        .when(pl.col("responder").fill_null(False))
        .then(pl.lit("response"))
        .when(pl.col("mcid_improved").fill_null(False))
        .then(pl.lit("MCID improvement"))
        .when(pl.col("reliable_improvement").fill_null(False))
        .then(pl.lit("reliable improvement"))
        .when(worse)
        .then(pl.lit("worse"))
        .otherwise(pl.lit("no improvement"))
    )
    t = t.with_columns(category=category, band=band_expr("score", codes=present))
    return t.select(*CHANGE_COLUMNS, *extra).collect()


def changes(
    assessments: pl.DataFrame,
    sessions: pl.DataFrame,
    settings: Settings,
    base: pl.DataFrame | None = None,
    include_after_dose: bool = False,
) -> pl.DataFrame:
    """Change from baseline at every assessment after the first dose, with its category.

    Columns (``CHANGE_COLUMNS``): patient_id, instrument, assessed_at, session_id, timing,
    score, baseline_score, days_from_first_dose, treatment_month, change (score - baseline),
    pct_change (signed, % of baseline), improvement, reduction_pct (improvement in %,
    positive = better), responder, substantial, remission, mcid_improved, rci,
    reliable_improvement, reliable_deterioration, band, category; sorted by patient,
    instrument and time.

    ``rci`` (Jacobson & Truax) uses SEM = SD(baselines of this cohort) * sqrt(1 - r) with the
    registry reliability r; it is empty for instruments without a registry reliability.
    Categories: pain instruments use the IMMPACT bands (substantial / moderate / minimal /
    no improvement / worse); other instruments remission / response / MCID improvement /
    no improvement / worse, as far as the instrument defines them. Rows without a baseline
    keep their score and empty change columns.

    ``change_rows`` + ``classify_changes``: the cohort summary computes the first for every
    row and the second only for the rows it reports one by one.
    """
    base = base if base is not None else baselines(assessments, sessions, settings)
    rows = change_rows(assessments, sessions, settings, base, include_after_dose)
    return classify_changes(rows.sort("patient_id", "instrument", "assessed_at"), base, settings)


# -- contact, burden and cost ----------------------------------------------------------------
def last_contact(sessions: pl.DataFrame, assessments: pl.DataFrame) -> pl.DataFrame:
    """patient_id, last_contact_at: the latest session or assessment of each patient."""
    return (
        pl.concat(
            [
                sessions.select("patient_id", at=pl.col("started_at")),
                assessments.select("patient_id", at=pl.col("assessed_at")),
            ]
        )
        .group_by("patient_id")
        .agg(last_contact_at=pl.col("at").max())
        .sort("patient_id")
    )


def cost_per_patient(sessions: pl.DataFrame) -> pl.DataFrame:
    """patient_id, cost_usd (sum of exported session charges), sessions, costed_sessions.

    Patients whose export carries no cost at all get an empty cost_usd (unknown, not 0)."""
    return (
        sessions.group_by("patient_id")
        .agg(
            cost_usd=pl.col("cost_usd").sum(),
            sessions=pl.len(),
            costed_sessions=pl.col("cost_usd").is_not_null().sum(),
        )
        .with_columns(cost_usd=pl.when(pl.col("costed_sessions") > 0).then(pl.col("cost_usd")))
        .sort("patient_id")
    )
