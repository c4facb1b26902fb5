"""Attrition through the clinic's pathway: referred, screened, first infusion, completed
induction, follow-up after induction, maintenance; counted per patient and per subgroup.

The stages are nested: a patient is counted at a stage only when they also reached every
earlier stage, so each stage is a subset of the one before and a later count can never
exceed an earlier one (a funnel). Who reached a stage out of order (e.g. a score after the
first dose without a completed induction) is counted beside it (``reached``), never dropped
silently."""

from __future__ import annotations

import polars as pl

from kapoutcomes.cohort.groups import (
    attach_groups,
    caveat_expr,
    level_agg,
)
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change

#: The stages in pathway order, each with what a patient must have to reach it. Counts are
#: nested (``attrition``): a stage's patients also reached every stage above it.
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
#: Who each nested stage is about, in the clinic's words (the label under each funnel bar).
STAGE_POPULATIONS = {
    "referred": "all patients in the export",
    "screened": "referred and screened",
    "first_infusion": "screened and dosed at least once",
    "completed_induction": "dosed and completed the induction series",
    "any_follow_up": "completed induction and scored after it",
    "maintenance": "followed up after induction and given maintenance",
}


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
        change.totals(assessments)
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


def nested_stages(stages: pl.DataFrame) -> pl.DataFrame:
    """``patient_stages`` rows with each stage column true only when the patient also reached
    every earlier stage (a running AND in ``ATTRITION_STAGES`` order)."""
    names = [n for n, _ in ATTRITION_STAGES]
    running = [pl.col(names[0])]
    for name in names[1:]:
        running.append(running[-1] & pl.col(name))
    return stages.with_columns(r.alias(n) for r, n in zip(running, names, strict=True))


def attrition(
    stages: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Nested counts at each stage (a funnel: each stage's patients also reached every earlier
    one, so ``n`` never rises from one stage to the next): subgroup, level, stage, population
    (who the stage is about), n, reached (patients who reached the stage whatever the
    earlier stages, e.g. follow-up without a completed induction), denominator (referred),
    pct_of_referred, pct_of_previous (n / n of the previous stage), definition, caveats."""
    names = [n for n, _ in ATTRITION_STAGES]
    s = attach_groups(stages, groups)
    nested = nested_stages(s.select("patient_id", *names)).select(
        "patient_id", *[pl.col(n).alias(f"{n}|nested") for n in names]
    )
    s = s.join(nested, on="patient_id", how="left")
    g = level_agg(
        s,
        by,
        [],
        [pl.col(f"{n}|nested").sum().alias(n) for n in names]
        + [pl.col(n).sum().alias(f"{n}|reached") for n in names],
    )
    reached = g.unpivot(
        index=["subgroup", "level"],
        on=[f"{n}|reached" for n in names],
        variable_name="stage",
        value_name="reached",
    ).with_columns(pl.col("stage").str.replace(r"\|reached$", ""))
    long = g.select("subgroup", "level", *names).unpivot(
        index=["subgroup", "level"], on=names, variable_name="stage", value_name="n"
    )
    long = long.join(reached, on=["subgroup", "level", "stage"], how="left")
    order = pl.DataFrame(
        {
            "stage": names,
            "_o": list(range(len(names))),
            "population": [STAGE_POPULATIONS[n] for n in names],
            "definition": [
                d if i == 0 else f"{d}, and every earlier stage (nested)"
                for i, (_, d) in enumerate(ATTRITION_STAGES)
            ],
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
        pct_of_previous=pl.when(pl.col("_prev") > 0).then(100.0 * pl.col("n") / pl.col("_prev")),
        caveats=caveat_expr(pl.col("denominator"), settings),
    )
    return long.select(
        "subgroup",
        "level",
        "stage",
        "population",
        pl.col("n").cast(pl.Int64),
        pl.col("reached").cast(pl.Int64),
        pl.col("denominator").cast(pl.Int64),
        "pct_of_referred",
        "pct_of_previous",
        "definition",
        "caveats",
    )
