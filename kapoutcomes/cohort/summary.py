"""The full cohort summary: one function computing every section.

``cohort_summary(tables, settings)`` runs the per-patient metrics once (baseline, change,
induction, episodes, MME, cost, safety) and every cohort statistic on them, overall and by
each comparison dimension (clinic, condition, route, care model, clinician, treatment-start
period). Everything is vectorised polars; no per-patient Python loops.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import attrition, durability, improvement, resources, response, safety
from kapoutcomes.cohort import completeness as completeness_mod
from kapoutcomes.cohort.groups import GROUP_DIMENSIONS, GROUP_MEANINGS, rollup
from kapoutcomes.cohort.metrics import PatientMetrics, patient_metrics
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import episodes
from kapoutcomes.stats import intervals, survival
from kapoutcomes.stats.funnel import funnel

#: Section keys in report order (the JSON top-level keys below ``meta`` and ``definitions``).
SECTIONS = (
    "attrition",
    "response",
    "change",
    "improvement_by_month",
    "durability",
    "opioids",
    "safety",
    "cost",
    "completeness",
    "comparisons",
    "funnel",
)


#: Columns the cohort summary does not read (dosing details, heart rate, demographics and
#: contraindications, prescription details, event ids): ``REPORT_COLUMNS`` leaves them out,
#: so that the report reads and carries less (``Store.read_all(columns=REPORT_COLUMNS)``).
UNUSED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": (
        "dose_mg",
        "dose_mg_per_kg",
        "weight_kg",
        "infusion_minutes",
        "heart_rate_before",
        "heart_rate_after",
        "bp_diastolic_after",
    ),
    "patients": (
        "sex",
        "birth_year",
        "age_band",
        "referral_date",
        "psychosis_history",
        "cardiovascular_disease",
        "raised_intracranial_pressure",
        "substance_use_disorder",
        "interacting_medication",
    ),
    "opioids": ("strength", "unit", "frequency_per_day", "description"),
    "adverse_events": ("event_id",),
}
REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c for c in tables.empty(name).columns if c not in UNUSED_COLUMNS.get(name, ()))
    for name in tables.MODELS
}


@dataclass(frozen=True)
class Section:
    """One section of the summary: tidy frames plus its definition and caveats."""

    key: str
    title: str
    definition: str
    frames: dict[str, pl.DataFrame]
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True)
class CohortSummary:
    """Every section of the cohort summary (``SECTIONS``), the metadata (counts, data span,
    timings) and the definitions in force (``Settings.describe()``)."""

    meta: dict[str, Any]
    definitions: list[dict[str, str]]
    sections: dict[str, Section] = field(default_factory=dict)
    #: the per-patient frames the sections were computed from (patient ids as integer
    #: codes), for figures drawn per patient; not part of the JSON or HTML report
    metrics: PatientMetrics | None = field(default=None, repr=False, compare=False)

    def __getitem__(self, key: str) -> Section:
        return self.sections[key]


def _table(tabs: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    f = tabs.get(name)
    return tables.empty(name) if f is None else f


@dataclass(frozen=True)
class IdCodes:
    """Patient and session ids replaced by 64-bit hash codes (joins and sorts on integers
    are several times faster than on strings); ``decode`` turns codes back into ids."""

    patient_ids: pl.DataFrame  # code, id
    session_ids: pl.DataFrame

    def decode(self, frame: pl.DataFrame) -> pl.DataFrame:
        out = frame
        for col, m in (("patient_id", self.patient_ids), ("session_id", self.session_ids)):
            if col in out.columns and out.schema[col] == pl.UInt64:
                # the map narrowed to the codes present first (the frames decoded are
                # small, the session map of a large cohort is not)
                used = m.filter(pl.col("code").is_in(out.get_column(col).drop_nulls().implode()))
                out = (
                    out.with_row_index("_r")
                    .join(used.rename({"code": col}), on=col, how="left")
                    .sort("_r")
                    .with_columns(pl.col("id").alias(col))
                    .drop("_r", "id")
                )
        return out


def encode_ids(tabs: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], IdCodes]:
    """The canonical tables with patient_id and session_id replaced by UInt64 hash codes
    (empty session ids stay empty). Raises ValueError in the astronomically unlikely case
    of two ids of the patients or sessions table sharing a hash."""
    frames = {name: _table(tabs, name) for name in tables.MODELS}
    maps = {}
    for col, primary in (("patient_id", "patients"), ("session_id", "sessions")):
        m = frames[primary].select(code=pl.col(col).hash(), id=pl.col(col))
        # ids are unique in their table (the models check it on write), so distinct codes
        # mean no collision; otherwise drop repeated ids (slow path) and check again
        if m.get_column("code").n_unique() != m.height:
            m = m.unique("id")
            if m.get_column("code").n_unique() != m.height:
                raise ValueError(f"{col}: hash collision while encoding ids")
        maps[col] = m
    out = {}
    for name, f in frames.items():
        cols = [
            pl.when(pl.col(c).is_not_null()).then(pl.col(c).hash()).alias(c)
            for c in ("patient_id", "session_id")
            if c in f.columns
        ]
        out[name] = f.with_columns(cols)
    return out, IdCodes(maps["patient_id"], maps["session_id"])


def cohort_summary(
    tabs: dict[str, pl.DataFrame],
    settings: Settings | None = None,
    as_of: dt.datetime | None = None,
    primary_instrument: str = "pain_nrs",
    comparisons: tuple[str, ...] = GROUP_DIMENSIONS,
) -> CohortSummary:
    """Compute every section of the cohort summary from the canonical tables.

    ``as_of`` defaults to the latest session or assessment in the data (never the wall
    clock, so the summary is reproducible); ``primary_instrument`` (default the pain NRS) is
    the instrument for the funnel plot and cost per responder; ``comparisons`` the patient
    dimensions every statistic is also split by.
    """
    settings = settings or Settings()
    t0 = time.perf_counter()
    as_of = as_of or episodes.data_end(tabs) or dt.datetime(2000, 1, 1)
    tabs, codes = encode_ids(tabs)
    pm = patient_metrics(tabs, settings, as_of)
    sessions = _table(tabs, "sessions")
    assessments = _table(tabs, "assessments")
    aes = _table(tabs, "adverse_events")
    t_patient = time.perf_counter() - t0
    loss_def = episodes.loss_definition(settings)
    responders = pm.end_of_induction.filter(pl.col("instrument") == primary_instrument).select(
        "patient_id", "responder"
    )

    # statistics made of sums and counts only: computed from the per-cell sums (a cell = one
    # combination of the comparison dimensions), the same figures from far fewer rows (the
    # completeness, adverse-event and excursion cells come summed from patient_metrics)
    comp_cells = pm.completeness
    ae_cells = pm.adverse_events
    costs = resources.cost_frame(pm.cost, responders, pm.groups)
    exc_cells = pm.excursion_counts
    resp_cells = rollup(
        response.response_counts(pm.end_of_induction),
        ["instrument"],
        response.COUNT_COLUMNS,
    )
    itt_cells = rollup(response.itt_counts(pm.itt), ["instrument"], ["missing_baseline"])

    def stat_frames(by: str | None) -> dict[str, Any]:
        dur = durability.durability(pm.episodes, pm.groups, settings, by=by, definition=loss_def)
        return {
            "attrition": attrition.attrition(pm.stages, pm.groups, settings, by),
            "response": response.response_rates_from_cells(resp_cells, itt_cells, settings, by),
            "change": improvement.change_from_baseline(
                pm.end_of_induction, pm.groups, settings, by
            ),
            "improvement_by_month": improvement.improvement_by_month(
                pm.monthly, pm.groups, settings, by
            ),
            "durability": dur,
            "opioids": resources.opioid_summary(pm.mme, pm.groups, settings, by),
            "adverse_events": safety.adverse_event_rates_from_cells(ae_cells, settings, by),
            "excursions": safety.excursion_summary_from_counts(exc_cells, pm.groups, settings, by),
            "cost": resources.cost_summary(costs, settings, by),
            "completeness": completeness_mod.completeness(comp_cells, pm.groups, settings, by),
        }

    overall = stat_frames(None)
    by_dim = {d: stat_frames(d) for d in comparisons}
    flags = safety.safety_flags(assessments, aes, pm.dosing, settings, excursions=pm.excursions)
    flag_counts = (
        flags.group_by("flag")
        .agg(
            occurrences=pl.len().cast(pl.Int64),
            patients=pl.col("patient_id").n_unique().cast(pl.Int64),
        )
        .sort("flag")
    )
    flag_counts = (
        pl.DataFrame(
            {"flag": list(safety.FLAG_SOURCES), "definition": list(safety.FLAG_SOURCES.values())}
        )
        .join(flag_counts, on="flag", how="left")
        .with_columns(pl.col("occurrences").fill_null(0), pl.col("patients").fill_null(0))
        .select("flag", "occurrences", "patients", "definition")
    )
    dosed = int(pm.groups.get_column("dosed").sum())
    n_patients = pm.groups.height

    def cav_missing_baseline() -> list[str]:
        b = pm.baselines.filter(pl.col("instrument") == primary_instrument)
        if b.height == 0:
            return [f"no {primary_instrument} scores in the data"]
        pct = 100.0 * (1 - b.get_column("has_baseline").mean())  # type: ignore[operator]
        if pct > settings.missing_baseline_caveat_pct:
            return [f"{pct:.0f}% of dosed patients lack a {primary_instrument} baseline"]
        return []

    global_caveats = []
    if dosed < settings.small_n:
        global_caveats.append(f"small cohort: {dosed} dosed patients (< {settings.small_n})")
    global_caveats += cav_missing_baseline()

    sections: dict[str, Section] = {}
    sections["attrition"] = Section(
        "attrition",
        "Attrition from referral to maintenance",
        "patients reaching each stage: "
        + "; ".join(f"{n} = {d}" for n, d in attrition.ATTRITION_STAGES),
        {"stages": overall["attrition"]},
    )
    sections["response"] = Section(
        "response",
        "Response and remission at the end of induction",
        "rates among evaluable patients and intention-to-treat, Wilson intervals ("
        + intervals.WILSON_SOURCE
        + ")",
        {"rates": overall["response"]},
        tuple(global_caveats),
    )
    sections["change"] = Section(
        "change",
        "Change from baseline at the end of induction",
        "score - baseline per instrument; negative = improvement",
        {"end_of_induction": overall["change"]},
    )
    sections["improvement_by_month"] = Section(
        "improvement_by_month",
        "Improvement by treatment month",
        f"last score in each {settings.treatment_month_days}-day month after the first dose, "
        f"up to month {settings.max_treatment_month}",
        {"months": overall["improvement_by_month"]},
    )
    d: durability.Durability = overall["durability"]
    sections["durability"] = Section(
        "durability",
        "Durability: time to loss of response",
        loss_def + "; " + survival.SOURCE,
        {"summary": d.summary, "curves": d.curves, "at_risk": d.at_risk},
    )
    sections["opioids"] = Section(
        "opioids",
        "Opioid use (daily MME)",
        f"daily MME from the {settings.mme_table} factor table at the first dose and 3 and 6 "
        "months after; buprenorphine excluded from MME and counted separately",
        {"timepoints": overall["opioids"]},
    )
    item9 = codes.decode(safety.item9_by_patient(assessments))
    sections["safety"] = Section(
        "safety",
        "Safety",
        "adverse events per 100 dosing sessions and % of patients (exact intervals); vital-sign "
        "excursions; must-not-miss flags",
        {
            "adverse_events": overall["adverse_events"],
            "serious_events": codes.decode(safety.serious_events(aes)),
            "excursions": overall["excursions"],
            "flags": flag_counts,
            "open_item9": item9,
        },
        tuple(
            [f"{item9.height} patient(s) with a PHQ-9 item 9 answer above 0: see the list"]
            if item9.height
            else []
        ),
    )
    costed = int(pm.cost.get_column("costed_sessions").sum()) if pm.cost.height else 0
    sections["cost"] = Section(
        "cost",
        "Cost of care",
        "exported session charges; per patient treated and per end-of-induction responder "
        f"({primary_instrument})",
        {"cost": overall["cost"]},
        () if costed else ("the export carries no cost",),
    )
    sections["completeness"] = Section(
        "completeness",
        "Data completeness",
        "scores recorded at dosing sessions, missing baselines, follow-up coverage",
        {"completeness": overall["completeness"]},
    )
    comp_frames: dict[str, pl.DataFrame] = {}
    keys = (
        "attrition",
        "response",
        "change",
        "improvement_by_month",
        "opioids",
        "adverse_events",
        "excursions",
        "cost",
        "completeness",
    )
    if comparisons:
        for k in keys:
            comp_frames[k] = pl.concat(
                [by_dim[dim][k] for dim in comparisons], how="diagonal_relaxed"
            )
        comp_frames["durability"] = pl.concat(
            [by_dim[dim]["durability"].summary for dim in comparisons], how="diagonal_relaxed"
        )
        comp_frames["durability_logrank"] = pl.concat(
            [by_dim[dim]["durability"].logrank for dim in comparisons], how="diagonal_relaxed"
        )
        comp_frames["durability_curves"] = pl.concat(
            [by_dim[dim]["durability"].curves for dim in comparisons], how="diagonal_relaxed"
        )
    sections["comparisons"] = Section(
        "comparisons",
        "Comparisons by clinic, condition, route, care model, clinician and start period",
        "every statistic split by: " + "; ".join(f"{k} = {GROUP_MEANINGS[k]}" for k in comparisons),
        comp_frames,
    )
    fun = pl.DataFrame()
    if "clinic" in comparisons:
        r = comp_frames["response"].filter(
            (pl.col("subgroup") == "clinic")
            & (pl.col("instrument") == primary_instrument)
            & (pl.col("measure") == "response")
        )
        net = overall["response"].filter(
            (pl.col("instrument") == primary_instrument) & (pl.col("measure") == "response")
        )
        p = net.get_column("rate")[0] if net.height else None
        if r.height and p is not None:
            fun = funnel(
                r.select("level", "n", "denominator", "rate", "definition", "caveats"), p
            ).rename({"level": "clinic"})
    sections["funnel"] = Section(
        "funnel",
        "Clinic response rates against the network",
        f"end-of-induction {primary_instrument} response rate of each clinic (evaluable patients) "
        "against the network rate with 95% and 99.8% binomial limits (Spiegelhalter, Stat Med "
        "2005;24:1185)",
        {"clinics": fun},
    )
    span = sessions.select(
        pl.col("started_at").min().alias("a"), pl.col("started_at").max().alias("b")
    )
    meta = {
        "generated_by": "kapoutcomes",
        "as_of": as_of,
        "patients": n_patients,
        "dosed_patients": dosed,
        "sessions": sessions.height,
        "assessments": assessments.height,
        "adverse_events": aes.height,
        "first_session": span.item(0, "a") if sessions.height else None,
        "last_session": span.item(0, "b") if sessions.height else None,
        "clinics": pm.groups.get_column("clinic").n_unique() if n_patients else 0,
        "primary_instrument": primary_instrument,
        "comparisons": list(comparisons),
        "caveats": global_caveats,
        "seconds_patient_metrics": round(t_patient, 3),
        "seconds_total": round(time.perf_counter() - t0, 3),
        "empty": n_patients == 0,
    }
    return CohortSummary(meta=meta, definitions=settings.describe(), sections=sections, metrics=pm)
