"""Attrition through the clinic's pathway: referred, screened, first infusion, completed
induction, any follow-up, maintenance; counted per patient and per subgroup."""

from __future__ import annotations

import itertools

import polars as pl

from kapoutcomes.cohort.groups import (
    attach_groups,
    caveat_expr,
    level_agg,
)
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change

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


def attrition(
    stages: pl.DataFrame, groups: pl.DataFrame, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Counts at each stage: subgroup, level, stage, n, denominator (referred), pct_of_referred,
    pct_of_previous (of the patients at the previous stage, the % who also reached this one;
    stages are counted independently, e.g. follow-up without a completed induction),
    definition, caveats."""
    s = attach_groups(stages, groups)
    names = [n for n, _ in ATTRITION_STAGES]
    g = level_agg(
        s,
        by,
        [],
        [pl.col(n).sum() for n in names]
        + [(pl.col(b) & pl.col(a)).sum().alias(f"{b}|both") for a, b in itertools.pairwise(names)],
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
