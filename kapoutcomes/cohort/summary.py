"""The full cohort summary: one function computing every section.

``cohort_summary(tables, settings)`` runs the per-patient metrics once (baseline, change,
induction, episodes, MME, cost, safety) and every cohort statistic on them, overall and by
each comparison dimension (clinic, condition, route, care model, clinician, treatment-start
period). Everything is vectorised polars; no per-patient Python loops.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import (
    attrition,
    dissociation,
    durability,
    improvement,
    resources,
    response,
    safety,
)
from kapoutcomes.cohort import completeness as completeness_mod
from kapoutcomes.cohort.groups import GROUP_DIMENSIONS, GROUP_MEANINGS, rollup
from kapoutcomes.cohort.metrics import PatientMetrics, patient_metrics
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import episodes
from kapoutcomes.stats import intervals, survival, turnbull
from kapoutcomes.stats.funnel import funnel

#: Columns the cohort summary does not read (dosing details, heart rate, demographics and
#: contraindications, prescription details, event ids): ``REPORT_COLUMNS`` leaves them out,
#: so that the report reads and carries less (``Store.read_all(columns=REPORT_COLUMNS)``).
UNUSED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": ("dose_mg", "weight_kg", "infusion_minutes", "heart_rate_before"),
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


Frames = dict[str, pl.DataFrame]


@dataclass(frozen=True)
class SummaryInputs:
    """What the section specs read: the per-patient metrics, the cells the statistics made
    only of sums and counts are computed from, and the tables and settings in force."""

    settings: Settings
    metrics: PatientMetrics
    primary_instrument: str
    comparisons: tuple[str, ...]
    loss_definition: str
    assessments: pl.DataFrame
    adverse_events: pl.DataFrame
    codes: IdCodes
    response_cells: pl.DataFrame
    costs: pl.DataFrame
    caveats: tuple[str, ...]  # the cohort's (small cohort, missing baselines)


@dataclass(frozen=True)
class Computed:
    """The split statistics of every section: ``overall[key]`` and ``by_dimension[dim][key]``
    (frames by name), for the sections built from them (comparisons, funnel)."""

    overall: dict[str, Frames]
    by_dimension: dict[str, dict[str, Frames]]


def _no_caveats(i: SummaryInputs, frames: Frames) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class SectionSpec:
    """How one section is built. ``split(inputs, by)``: the frames computed overall and per
    comparison dimension; ``whole(inputs, computed)``: frames computed once; ``shown``: the
    section's frames in order; ``compared``: split frame -> its key in the comparisons
    section; ``caveats(inputs, frames)``: the section's caveats."""

    key: str
    title: str
    definition: Callable[[SummaryInputs], str]
    shown: tuple[str, ...]
    split: Callable[[SummaryInputs, str | None], Frames] | None = None
    whole: Callable[[SummaryInputs, Computed], Frames] | None = None
    compared: dict[str, str] = field(default_factory=dict)
    caveats: Callable[[SummaryInputs, Frames], tuple[str, ...]] = _no_caveats


# -- the statistics of each section, overall or by a comparison dimension --------------------
def _attrition(i: SummaryInputs, by: str | None) -> Frames:
    return {"stages": attrition.attrition(i.metrics.stages, i.metrics.groups, i.settings, by)}


def _response(i: SummaryInputs, by: str | None) -> Frames:
    rates = response.response_rates_from_cells(i.response_cells, i.settings, by)
    any_time = improvement.any_time_rates(i.metrics.ever, i.metrics.groups, i.settings, by)
    return {"rates": rates, "any_time": any_time}


def _change(i: SummaryInputs, by: str | None) -> Frames:
    pm = i.metrics
    eoi = improvement.change_from_baseline(pm.end_of_induction, pm.groups, i.settings, by)
    return {"end_of_induction": eoi}


def _by_month(i: SummaryInputs, by: str | None) -> Frames:
    pm = i.metrics
    return {"months": improvement.improvement_by_month(pm.monthly, pm.groups, i.settings, by)}


def _durability(i: SummaryInputs, by: str | None) -> Frames:
    """The primary curve (end-of-induction responders, from the end of induction) overall
    and per dimension; the secondary (every episode, from its dose) overall only."""
    pm = i.metrics
    d = durability.primary_durability(
        pm.end_of_induction,
        pm.episodes,
        pm.itt,
        pm.groups,
        i.settings,
        by=by,
        loss_rule=i.loss_definition,
    )
    frames = {"summary": d.summary, "curves": d.curves, "at_risk": d.at_risk, "logrank": d.logrank}
    if by is None:
        e = durability.episode_durability(
            pm.episodes, pm.groups, i.settings, loss_rule=i.loss_definition
        )
        frames |= {"secondary_summary": e.summary, "secondary_curves": e.curves}
    return frames


def _opioids(i: SummaryInputs, by: str | None) -> Frames:
    pm = i.metrics
    return {"timepoints": resources.opioid_summary(pm.mme, pm.groups, i.settings, by)}


def _safety(i: SummaryInputs, by: str | None) -> Frames:
    pm = i.metrics
    return {
        "adverse_events": safety.adverse_event_rates_from_cells(pm.adverse_events, i.settings, by),
        "excursions": safety.excursion_summary_from_counts(
            pm.excursion_counts, pm.groups, i.settings, by
        ),
    }


def _cost(i: SummaryInputs, by: str | None) -> Frames:
    return {"cost": resources.cost_summary(i.costs, i.settings, by)}


def _completeness(i: SummaryInputs, by: str | None) -> Frames:
    pm = i.metrics
    return {
        "completeness": completeness_mod.completeness(pm.completeness, pm.groups, i.settings, by)
    }


# -- frames computed once ---------------------------------------------------------------------
def _flag_counts(i: SummaryInputs) -> pl.DataFrame:
    """Occurrences and patients per must-not-miss flag, every flag listed (0 when none)."""
    pm = i.metrics
    flags = safety.safety_flags(
        i.assessments, i.adverse_events, pm.dosing, i.settings, excursions=pm.excursions
    )
    counts = (
        flags.group_by("flag")
        .agg(
            occurrences=pl.len().cast(pl.Int64),
            patients=pl.col("patient_id").n_unique().cast(pl.Int64),
        )
        .sort("flag")
    )
    return (
        pl.DataFrame(
            {"flag": list(safety.FLAG_SOURCES), "definition": list(safety.FLAG_SOURCES.values())}
        )
        .join(counts, on="flag", how="left")
        .with_columns(pl.col("occurrences").fill_null(0), pl.col("patients").fill_null(0))
        .select("flag", "occurrences", "patients", "definition")
    )


def _safety_lists(i: SummaryInputs, c: Computed) -> Frames:
    return {
        "serious_events": i.codes.decode(safety.serious_events(i.adverse_events)),
        "flags": _flag_counts(i),
        "open_item9": i.codes.decode(safety.item9_by_patient(i.assessments)),
        "dissociation": dissociation.cadss_summary(i.assessments, i.metrics.dosing, i.settings),
    }


def _comparisons(i: SummaryInputs, c: Computed) -> Frames:
    """Every split frame of every section, concatenated over the comparison dimensions."""
    if not i.comparisons:
        return {}
    return {
        name: pl.concat(
            [c.by_dimension[dim][spec.key][frame] for dim in i.comparisons],
            how="diagonal_relaxed",
        )
        for spec in SECTION_SPECS
        for frame, name in spec.compared.items()
    }


def _funnel(i: SummaryInputs, c: Computed) -> Frames:
    """The primary instrument's end-of-induction response rate of each clinic against the
    network's (empty without clinics)."""
    if "clinic" not in i.comparisons:
        return {"clinics": pl.DataFrame()}
    primary = (pl.col("instrument") == i.primary_instrument) & (pl.col("measure") == "response")
    r = c.by_dimension["clinic"]["response"]["rates"].filter(primary)
    net = c.overall["response"]["rates"].filter(primary)
    p = net.get_column("rate")[0] if net.height else None
    if not r.height or p is None:
        return {"clinics": pl.DataFrame()}
    rows = r.select("level", "n", "denominator", "rate", "definition", "caveats")
    return {"clinics": funnel(rows, p).rename({"level": "clinic"})}


# -- caveats ----------------------------------------------------------------------------------
def _cohort_caveats(i: SummaryInputs, frames: Frames) -> tuple[str, ...]:
    return i.caveats


def _item9_caveats(i: SummaryInputs, frames: Frames) -> tuple[str, ...]:
    n = frames["open_item9"].height
    return (f"{n} patient(s) with a PHQ-9 item 9 answer above 0: see the list",) if n else ()


def _durability_caveats(i: SummaryInputs, frames: Frames) -> tuple[str, ...]:
    """Which curve answers the question, and which median is which."""
    out = [
        "the primary curve answers 'after a successful induction, how long does benefit "
        "last?': end-of-induction responders only, from the end of induction; its denominator "
        "is in the summary (population); the secondary curve (every response episode, from "
        "the dose that started it) is not that answer"
    ]
    out += [
        c
        for inst in frames["summary"].get_column("instrument").unique(maintain_order=True)
        if (c := durability.interval_caveat(frames["summary"], inst)) is not None
    ]
    return tuple(out)


def _cost_caveats(i: SummaryInputs, frames: Frames) -> tuple[str, ...]:
    cost = i.metrics.cost
    costed = int(cost.get_column("costed_sessions").sum()) if cost.height else 0
    return () if costed else ("the export carries no cost",)


#: The sections of the summary, in report order: each listed once, with everything it needs.
SECTION_SPECS: tuple[SectionSpec, ...] = (
    SectionSpec(
        "attrition",
        "Attrition from referral to maintenance",
        lambda i: (
            "patients reaching each stage: "
            + "; ".join(f"{n} = {d}" for n, d in attrition.ATTRITION_STAGES)
        ),
        shown=("stages",),
        split=_attrition,
        compared={"stages": "attrition"},
    ),
    SectionSpec(
        "response",
        "Response and remission at the end of induction",
        lambda i: (
            "rates among eligible patients (baseline in the instrument's elevated range) whose "
            "end-of-induction window has closed by the data end: evaluable (all starters), "
            "intention-to-treat and completers of the induction series; patients left out are "
            "counted beside each rate with the reason; Wilson intervals ("
            + intervals.WILSON_SOURCE
            + ")"
        ),
        shown=("rates", "any_time"),
        split=_response,
        compared={"rates": "response", "any_time": "response_any_time"},
        caveats=_cohort_caveats,
    ),
    SectionSpec(
        "change",
        "Change from baseline at the end of induction",
        lambda i: "score - baseline per instrument; negative = improvement",
        shown=("end_of_induction",),
        split=_change,
        compared={"end_of_induction": "change"},
    ),
    SectionSpec(
        "improvement_by_month",
        "Improvement by treatment month",
        lambda i: (
            f"last score in each {i.settings.treatment_month_days}-day month after the "
            f"first dose, up to month {i.settings.max_treatment_month}"
        ),
        shown=("months",),
        split=_by_month,
        compared={"months": "improvement_by_month"},
    ),
    SectionSpec(
        "durability",
        "Durability: time to loss of response after a successful induction",
        lambda i: (
            durability.primary_definition(i.loss_definition)
            + "; secondary: "
            + durability.episode_definition("").removeprefix("secondary: ").rstrip("; ")
            + "; "
            + survival.SOURCE
            + "; interval-censored sensitivity: "
            + turnbull.SOURCE
        ),
        shown=("summary", "curves", "at_risk", "secondary_summary", "secondary_curves"),
        split=_durability,
        compared={
            "summary": "durability",
            "logrank": "durability_logrank",
            "curves": "durability_curves",
        },
        caveats=_durability_caveats,
    ),
    SectionSpec(
        "opioids",
        "Opioid use (daily MME)",
        lambda i: (
            f"daily MME from the {i.settings.mme_table} factor table at the first dose "
            "and 3 and 6 months after; buprenorphine excluded from MME and counted separately"
        ),
        shown=("timepoints",),
        split=_opioids,
        compared={"timepoints": "opioids"},
    ),
    SectionSpec(
        "safety",
        "Safety",
        lambda i: (
            "adverse events per 100 dosing sessions and % of patients (exact intervals); "
            "vital-sign excursions; must-not-miss flags; after-dose dissociation (CADSS)"
        ),
        shown=(
            "adverse_events",
            "serious_events",
            "excursions",
            "flags",
            "open_item9",
            "dissociation",
        ),
        split=_safety,
        whole=_safety_lists,
        compared={"adverse_events": "adverse_events", "excursions": "excursions"},
        caveats=_item9_caveats,
    ),
    SectionSpec(
        "cost",
        "Cost of care",
        lambda i: (
            "exported session charges; per patient treated and per end-of-induction "
            f"responder ({i.primary_instrument})"
        ),
        shown=("cost",),
        split=_cost,
        compared={"cost": "cost"},
        caveats=_cost_caveats,
    ),
    SectionSpec(
        "completeness",
        "Data completeness",
        lambda i: "scores recorded at dosing sessions, missing baselines, follow-up coverage",
        shown=("completeness",),
        split=_completeness,
        compared={"completeness": "completeness"},
    ),
    SectionSpec(
        "comparisons",
        "Comparisons by clinic, condition, route, care model, clinician and start period",
        lambda i: (
            "every statistic split by: "
            + "; ".join(f"{k} = {GROUP_MEANINGS[k]}" for k in i.comparisons)
        ),
        shown=(),
        whole=_comparisons,
    ),
    SectionSpec(
        "funnel",
        "Clinic response rates against the network",
        lambda i: (
            f"end-of-induction {i.primary_instrument} response rate of each clinic "
            "(evaluable patients) against the network rate with 95% and 99.8% binomial limits "
            "(Spiegelhalter, Stat Med 2005;24:1185)"
        ),
        shown=("clinics",),
        whole=_funnel,
    ),
)
#: Section keys in report order (the JSON top-level keys below ``meta`` and ``definitions``).
SECTIONS = tuple(spec.key for spec in SECTION_SPECS)


def _split_statistics(i: SummaryInputs, by: str | None) -> dict[str, Frames]:
    return {spec.key: spec.split(i, by) for spec in SECTION_SPECS if spec.split is not None}


def build_sections(i: SummaryInputs) -> dict[str, Section]:
    """Every section of ``SECTION_SPECS``: the split statistics overall and per comparison
    dimension, then each section's frames (``shown``; every frame when ``shown`` is empty),
    definition and caveats."""
    computed = Computed(
        overall=_split_statistics(i, None),
        by_dimension={d: _split_statistics(i, d) for d in i.comparisons},
    )
    sections = {}
    for spec in SECTION_SPECS:
        frames = {
            **computed.overall.get(spec.key, {}),
            **(spec.whole(i, computed) if spec.whole is not None else {}),
        }
        if spec.shown:
            frames = {name: frames[name] for name in spec.shown}
        sections[spec.key] = Section(
            spec.key, spec.title, spec.definition(i), frames, spec.caveats(i, frames)
        )
    return sections


def _cohort_caveats_of(pm: PatientMetrics, settings: Settings, primary: str) -> list[str]:
    """Small cohort, and many dosed patients without a baseline on the primary instrument."""
    dosed = int(pm.groups.get_column("dosed").sum())
    out = []
    if dosed < settings.small_n:
        out.append(f"small cohort: {dosed} dosed patients (< {settings.small_n})")
    b = pm.baselines.filter(pl.col("instrument") == primary)
    if b.height == 0:
        return [*out, f"no {primary} scores in the data"]
    pct = 100.0 * (1 - b.get_column("has_baseline").mean())  # type: ignore[operator]
    if pct > settings.missing_baseline_caveat_pct:
        out.append(f"{pct:.0f}% of dosed patients lack a {primary} baseline")
    return out


def _inputs(
    tabs: dict[str, pl.DataFrame],
    codes: IdCodes,
    pm: PatientMetrics,
    settings: Settings,
    primary_instrument: str,
    comparisons: tuple[str, ...],
) -> SummaryInputs:
    """The section specs' inputs. Statistics made of sums and counts only are computed from
    per-cell sums (a cell = one combination of the comparison dimensions): the same figures
    from far fewer rows (the completeness, adverse-event and excursion cells come summed from
    ``patient_metrics``)."""
    counts = response.response_counts(pm.end_of_induction, pm.itt)
    # responders as the response rates count them (eligible, due, responding)
    responders = counts.filter(pl.col("instrument") == primary_instrument).select(
        "patient_id", responder=pl.col("response|n") == 1
    )
    return SummaryInputs(
        settings=settings,
        metrics=pm,
        primary_instrument=primary_instrument,
        comparisons=comparisons,
        loss_definition=episodes.loss_definition(settings),
        assessments=_table(tabs, "assessments"),
        adverse_events=_table(tabs, "adverse_events"),
        codes=codes,
        response_cells=rollup(counts, ["instrument"], response.COUNT_COLUMNS),
        costs=resources.cost_frame(pm.cost, responders, pm.groups),
        caveats=tuple(_cohort_caveats_of(pm, settings, primary_instrument)),
    )


def cohort_summary(
    tabs: dict[str, pl.DataFrame],
    settings: Settings | None = None,
    as_of: dt.datetime | None = None,
    primary_instrument: str = "pain_nrs",
    comparisons: tuple[str, ...] = GROUP_DIMENSIONS,
) -> CohortSummary:
    """Compute every section of the cohort summary (``SECTION_SPECS``) from the canonical
    tables.

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
    t_patient = time.perf_counter() - t0
    inputs = _inputs(tabs, codes, pm, settings, primary_instrument, comparisons)
    sections = build_sections(inputs)
    sessions = _table(tabs, "sessions")
    span = sessions.select(
        pl.col("started_at").min().alias("a"), pl.col("started_at").max().alias("b")
    )
    n_patients = pm.groups.height
    meta = {
        "generated_by": "kapoutcomes",
        "as_of": as_of,
        "patients": n_patients,
        "dosed_patients": int(pm.groups.get_column("dosed").sum()),
        "sessions": sessions.height,
        "assessments": inputs.assessments.height,
        "adverse_events": inputs.adverse_events.height,
        "first_session": span.item(0, "a") if sessions.height else None,
        "last_session": span.item(0, "b") if sessions.height else None,
        "clinics": pm.groups.get_column("clinic").n_unique() if n_patients else 0,
        "primary_instrument": primary_instrument,
        "comparisons": list(comparisons),
        "caveats": list(inputs.caveats),
        "seconds_patient_metrics": round(t_patient, 3),
        "seconds_total": round(time.perf_counter() - t0, 3),
        "empty": n_patients == 0,
    }
    return CohortSummary(meta=meta, definitions=settings.describe(), sections=sections, metrics=pm)
