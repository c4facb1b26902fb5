"""The per-patient frames the cohort summary is computed from (``PatientMetrics``): every
per-patient metric run once over the canonical tables, part by part for large cohorts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort import attrition, improvement, response, safety
from kapoutcomes.cohort import completeness as completeness_mod
from kapoutcomes.cohort.groups import (
    GROUP_DIMENSIONS,
    attach_groups,
    patient_groups,
    rollup,
    rollup_cells,
)
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import change, dosing, episodes, induction, opioid_course


@dataclass(frozen=True)
class PatientMetrics:
    """The per-patient frames the cohort statistics are computed from (each already carrying
    the comparison dimensions of ``groups.patient_groups``, as Categorical). ``changes`` holds
    the ``change.change_rows`` columns; ``end_of_induction`` every ``change.changes``
    column; ``itt`` who each end-of-induction measure is about
    (``response.measure_population``: eligible, due, completed, status); ``ever`` response
    and remission at any time (``improvement.ever_scores``). ``adverse_events`` (events and exposure), ``excursion_counts`` (with
    ``patients``: patients with the excursion) and ``completeness`` are ``groups.rollup``
    cells: the per-patient counts summed per combination of the comparison dimensions (the
    statistics on them are sums and counts only), part by part, so that the per-patient rows
    (ten per patient for completeness alone) never exist for the whole cohort."""

    groups: pl.DataFrame
    dosing: pl.DataFrame
    baselines: pl.DataFrame
    changes: pl.DataFrame
    monthly: pl.DataFrame
    ever: pl.DataFrame
    induction: pl.DataFrame
    end_of_induction: pl.DataFrame
    episodes: pl.DataFrame
    stages: pl.DataFrame
    mme: pl.DataFrame
    cost: pl.DataFrame
    excursions: pl.DataFrame
    itt: pl.DataFrame
    adverse_events: safety.AdverseEventCounts
    excursion_counts: pl.DataFrame
    completeness: pl.DataFrame


def _table(tabs: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    f = tabs.get(name)
    return tables.empty(name) if f is None else f


#: Patients per part in ``patient_metrics``: larger cohorts are computed part by part (every
#: metric there is per patient), so that each part's frames and hash tables stay small
#: enough for the CPU caches (1,000,000 patients at once cost twice as much per row) and
#: its buffers are recycled by the allocator rather than mapped afresh (1,000,000 patients
#: in parts of 200,000: 6.2 million page faults and 15 s of system time in patient_metrics;
#: in parts of 100,000: 3.3 million and 7 s, the same user time). On an idle machine the
#: whole 1,000,000-patient report took 52.9 s in parts of 200,000 and 61.1 s in parts of
#: 100,000 (one run each, 2026-11-22), so parts stay at 200,000.
PART_PATIENTS = 200_000


def _part_keys(tabs: dict[str, pl.DataFrame], parts: int) -> dict[str, pl.Series]:
    """The part of every row of every table: its (hash-coded) patient modulo ``parts``,
    computed once (the 64-bit modulo of every row cost more than the comparison with it)."""
    dtype = pl.UInt8 if parts <= 256 else pl.UInt32
    return {n: (f.get_column("patient_id") % parts).cast(dtype) for n, f in tabs.items()}


def _part(
    tabs: dict[str, pl.DataFrame], keys: dict[str, pl.Series], i: int
) -> dict[str, pl.DataFrame]:
    """The rows of every table in part ``i`` (``keys`` from ``_part_keys``)."""
    return {n: f.filter(keys[n] == i) for n, f in tabs.items()}


def _recorded(assessments: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Instruments with a total score (for baselines and ITT: not counting after-dose
    scores; for completeness: counting them) in the whole cohort."""
    t = (
        assessments.lazy()
        .filter(pl.col("item").is_null())
        .group_by("instrument")
        .agg(_before=(pl.col("timing") != "after_dose").fill_null(True).any())
        .collect()
    )
    every = sorted(t.get_column("instrument").to_list())
    before = sorted(t.filter(pl.col("_before")).get_column("instrument").to_list())
    return before, every


def patient_metrics(
    tabs: dict[str, pl.DataFrame],
    settings: Settings,
    as_of: dt.datetime,
    part_patients: int | None = None,
) -> PatientMetrics:
    """Run every per-patient metric once over the canonical tables (patient ids encoded by
    ``cohort.encode_ids``), in parts of at most ``part_patients`` (default
    ``PART_PATIENTS``) patients, concatenated. The cohort-wide inputs (the instruments
    recorded, the SD of baselines behind the RCI) come from the whole cohort."""
    n = _table(tabs, "patients").height
    size = max(1, part_patients or PART_PATIENTS)
    parts = max(1, -(-n // size))
    if parts == 1:  # each metric finds the instruments recorded itself
        pieces = [_part_metrics(tabs, settings, as_of, None)]
    else:
        recorded = _recorded(_table(tabs, "assessments"))
        keys = _part_keys(tabs, parts)
        pieces = [
            _part_metrics(_part(tabs, keys, i), settings, as_of, recorded) for i in range(parts)
        ]
        del keys
    cat = {k: pl.concat([p[k] for p in pieces]) for k in pieces[0]}
    if parts > 1:  # the parts' cells summed into the cohort's
        cat.update({k: rollup_cells(cat[k], keys, sums) for k, (keys, sums) in _CELLS.items()})
    base = cat["baselines"]
    # categories, RCI (SD of the whole cohort's baselines) and bands for the end-of-induction
    # rows only (every other row keeps the slim change_rows columns)
    eoi = change.classify_changes(cat["end_of_induction"], base, settings)
    return PatientMetrics(
        groups=cat["groups"],
        dosing=cat["dosing"],
        baselines=base,
        changes=cat["changes"],
        monthly=cat["monthly"],
        ever=cat["ever"],
        induction=cat["induction"],
        end_of_induction=eoi,
        episodes=cat["episodes"],
        stages=cat["stages"],
        mme=cat["mme"],
        cost=cat["cost"],
        excursions=cat["excursions"],
        itt=cat["itt"],
        adverse_events=safety.AdverseEventCounts(cat["ae_events"], cat["ae_exposure"]),
        excursion_counts=cat["excursion_counts"],
        completeness=cat["completeness"],
    )


#: The frames of ``_part_metrics`` that are ``groups.rollup`` cells: keys and summed columns.
_CELLS = {
    "completeness": (["measure", "instrument"], ["n", "denominator"]),
    "ae_events": (["dimension", "category"], ["events"]),
    "ae_exposure": (["session_route"], ["sessions"]),
    "excursion_counts": (["excursion"], ["n", "denominator", "patients"]),
}


def _part_metrics(
    tabs: dict[str, pl.DataFrame],
    settings: Settings,
    as_of: dt.datetime,
    recorded: tuple[list[str], list[str]] | None,
) -> dict[str, pl.DataFrame]:
    """The per-patient frames of ``PatientMetrics`` for the patients of ``tabs`` (the
    end-of-induction rows not yet classified)."""
    patients = _table(tabs, "patients")
    sessions = _table(tabs, "sessions")
    assessments = _table(tabs, "assessments")
    dos = dosing.dosing_sessions(sessions)
    # comparison dimensions as Categorical ("unknown" for missing, as the statistics show
    # it): attaching and grouping on them then moves integer codes, not strings
    groups = patient_groups(patients, dos).with_columns(
        pl.col(d).cast(pl.String).fill_null("unknown").cast(pl.Categorical)
        for d in GROUP_DIMENSIONS
    )
    # the total scores (no items, no after-dose scores), filtered once: passed as the
    # assessments of the metrics that only read totals (change.totals returns them as is)
    tot = change.totals(assessments)
    before, every = recorded or (None, None)
    base = change.baselines(tot, dos, settings, instruments_=before)
    ch = change.change_rows(tot, dos, settings, base=base)
    ind = induction.induction_series(dos, settings)
    eoi = induction.end_of_induction(ch, ind, settings)
    ep = episodes.response_episodes(ch, dos, settings)
    st = attrition.patient_stages(groups, sessions, tot, ind)
    contact = change.last_contact(sessions, assessments)
    mme = opioid_course.mme_course(_table(tabs, "opioids"), dos, contact, settings)
    cost = change.cost_per_patient(sessions)
    exc = safety.vital_excursions(dos, settings)
    itt = response.itt_population(groups, tot, settings, instruments_=before)
    due = induction.end_of_induction_due(groups, ind, settings, as_of)
    aes = safety.adverse_event_counts(_table(tabs, "adverse_events"), dos)
    comp = completeness_mod.completeness_items(
        dos, assessments, base, groups, settings, as_of, recorded=every
    )
    monthly = improvement.monthly_scores(ch, settings.max_treatment_month, settings)

    def g(f: pl.DataFrame, *keys: str) -> pl.DataFrame:
        # the string columns the statistics group by as Categorical as well: every grouping
        # then hashes integer codes (level_agg returns them as strings)
        return attach_groups(f, groups).with_columns(pl.col(k).cast(pl.Categorical) for k in keys)

    def cells(f: pl.DataFrame, name: str) -> pl.DataFrame:
        keys, sums = _CELLS[name]
        return rollup(g(f, *keys), keys, sums)

    exc_counts = safety.excursion_counts(exc)
    return {
        "groups": groups,
        "dosing": dos,
        "baselines": base,
        "changes": ch,
        "monthly": g(monthly, "instrument"),
        "ever": g(improvement.ever_scores(ch, settings), "instrument"),
        "induction": ind,
        "end_of_induction": g(eoi),
        "episodes": g(ep),
        "stages": g(st),
        "mme": g(mme, "timepoint"),
        "cost": cost,
        "excursions": exc,
        "itt": g(response.measure_population(itt, base, due, settings), "instrument"),
        "ae_events": cells(aes.events, "ae_events"),
        "ae_exposure": cells(aes.exposure, "ae_exposure"),
        "excursion_counts": cells(exc_counts, "excursion_counts"),
        "completeness": cells(comp, "completeness"),
    }
