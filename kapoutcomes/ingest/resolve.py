"""Resolving the candidates of all files of one import: patient rows (explicit or derived),
row-level validation against the table models, relations between tables, then duplicates,
conflicts and vital signs (``dedupe``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from kapoutcomes import privacy, tables
from kapoutcomes import store as store_mod
from kapoutcomes.ingest import extract
from kapoutcomes.ingest.dedupe import attach_vitals, dedupe, link_to_sessions
from kapoutcomes.ingest.extract import PROBLEM_SCHEMA, RK, SKIP_SCHEMA, Options
from kapoutcomes.ingest.frames import CONFLICT_SCHEMA, UNIQUENESS, ImportFile, Resolved, concat

FLAGS = (
    "psychosis_history",
    "cardiovascular_disease",
    "raised_intracranial_pressure",
    "substance_use_disorder",
    "interacting_medication",
)


def store_patients(st: store_mod.Store) -> set[str]:
    return set(st.query("SELECT patient_id FROM patients").get_column("patient_id").to_list())


def resolve(files: list[ImportFile], st: store_mod.Store, opts: Options) -> Resolved:
    exs = [f.ex for f in files if f.ex is not None]
    problems: list[pl.DataFrame] = [p for ex in exs for p in ex.problems]
    skipped: list[pl.DataFrame] = [s for ex in exs for s in ex.skipped]
    notes = {f.index: list(f.ex.notes) for f in files if f.ex is not None}
    known = store_patients(st)
    acts = concat([ex.activity for ex in exs], extract.ACTIVITY_SCHEMA)
    if acts.height == 0:
        acts = pl.DataFrame(schema=extract.ACTIVITY_SCHEMA)
    # first plausible activity (a visit typed as 1924 must not become the referral date)
    plausible = pl.col("at_date").is_between(tables.EARLIEST_DATE, dt.date.today())
    first_seen = (
        acts.filter(plausible).group_by("patient_id").agg(first_date=pl.col("at_date").min())
    )

    # explicit patient rows (a patients file); referral date from first activity if absent
    explicit = concat([ex.patient_rows for ex in exs])
    patient_frames: list[pl.DataFrame] = []
    if explicit.height:
        explicit = explicit.join(first_seen, on="patient_id", how="left", maintain_order="left")
        explicit = explicit.with_columns(referral_date=pl.coalesce("referral_date", "first_date"))
        no_ref = explicit.filter(pl.col("referral_date").is_null() & pl.col(RK).is_not_null())
        if no_ref.height:
            skipped.append(
                no_ref.select(
                    RK,
                    reason=pl.lit(
                        "no referral date, and no sessions, assessments or prescriptions of "
                        "this patient in this import: nothing to anchor the patient row"
                    ),
                ).cast(SKIP_SCHEMA)
            )
        explicit = explicit.filter(pl.col("referral_date").is_not_null())
        patient_frames.append(explicit)
    explicit_ids = (
        set(explicit.get_column("patient_id").drop_nulls().to_list()) if explicit.height else set()
    )

    # derived patient rows for activity of patients nobody describes
    need = acts.filter(
        pl.col("patient_id").is_not_null() & ~pl.col("patient_id").is_in(list(known | explicit_ids))
    )
    derived_rks: dict[str, list[int]] = {}
    if need.height:
        for pid, rks in need.group_by("patient_id").agg(pl.col(RK)).iter_rows():
            derived_rks[pid] = rks
        agg = (
            need.filter(plausible)
            .sort(RK)
            .group_by("patient_id", maintain_order=True)
            .agg(
                referral_date=pl.col("at_date").min(),
                clinic=pl.col("clinic").drop_nulls().first(),
                primary_condition=pl.col("primary_condition").drop_nulls().first(),
                sex=pl.col("sex").drop_nulls().first(),
                birth_date=pl.col("birth_date").drop_nulls().first(),
                comorbid_depression=pl.col("comorbid_depression").drop_nulls().first(),
            )
            .with_columns(
                clinic=pl.coalesce("clinic", pl.lit(opts.clinic, dtype=pl.String)),
                primary_condition=pl.coalesce(
                    "primary_condition", pl.lit(opts.condition, dtype=pl.String)
                ),
                sex=pl.coalesce("sex", pl.lit("unknown")),
                comorbid_depression=pl.coalesce("comorbid_depression", pl.lit(False)),
                first_date=pl.col("referral_date"),
            )
        )
        no_clinic = agg.filter(pl.col("clinic").is_null())
        for pid in no_clinic.get_column("patient_id").to_list():
            problems.append(
                pl.DataFrame(
                    {
                        RK: derived_rks[pid],
                        "column": ["(patient)"] * len(derived_rks[pid]),
                        "value": [None] * len(derived_rks[pid]),
                        "reason": [
                            "the patient is not in the store and this export does not describe "
                            "the patient: import the patients file first, or import with "
                            "--clinic NAME to create patient rows"
                        ]
                        * len(derived_rks[pid]),
                    },
                    schema=PROBLEM_SCHEMA,
                )
            )
        owners = need.group_by("patient_id").agg(_owner=pl.col(RK).min())
        agg = (
            agg.filter(pl.col("clinic").is_not_null())
            .with_columns(pl.lit(None, dtype=pl.Int64).alias(RK))
            .join(owners, on="patient_id", how="left")
        )
        patient_frames.append(agg)
    patients = concat(patient_frames)
    if patients.height:
        patients = complete_patients(patients)

    cand: dict[str, pl.DataFrame] = {"patients": patients}
    for table in ("sessions", "assessments", "opioids", "adverse_events"):
        cand[table] = concat([ex.outputs.get(table) for ex in exs])

    # validation (row level) --------------------------------------------------------------
    valid: dict[str, pl.DataFrame] = {}
    early = concat(problems, PROBLEM_SCHEMA)
    early_bad = (
        early.get_column(RK).unique().implode()
        if early.height
        else pl.Series([], dtype=pl.Int64).implode()
    )
    for table, frame in cand.items():
        if frame.height:
            # rows that already failed to parse are not validated again (one reason each)
            frame = frame.filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(early_bad))
        if "_owner" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("_owner"))
        if frame.height == 0:
            valid[table] = tables.empty(table).with_columns(
                pl.lit(None, dtype=pl.Int64).alias(RK), pl.lit(None, dtype=pl.Int64).alias("_owner")
            )
            continue
        rk = frame.get_column(RK)
        v = tables.validate(table, frame.select(tables.columns(table)))
        # repeated ids (the same visit exported twice) are duplicates, settled by dedupe
        v = dataclasses.replace(
            v, failures=v.failures.filter(~pl.col("reason").is_in(list(UNIQUENESS)))
        )
        bad_pos = set(v.failures.get_column("row").to_list())
        keep = pl.Series([i not in bad_pos for i in range(frame.height)])
        coerced = frame.select(tables.columns(table)).cast(
            dict(tables.empty(table).schema), strict=False
        )
        valid[table] = coerced.filter(keep).with_columns(
            [frame.get_column(c).filter(keep) for c in frame.columns if c.startswith("_")]
        )
        if v.failures.height:
            fails = v.failures.with_columns(
                pl.col("row").map_elements(lambda i, rk=rk: rk[i], return_dtype=pl.Int64).alias(RK)
            )
            if table == "patients":
                # derived rows (no RK): the failure belongs to every row of that patient
                pid_of = frame.get_column("patient_id")
                for rec in fails.iter_rows(named=True):
                    if rec[RK] is not None:
                        continue
                    pid = pid_of[rec["row"]]
                    rks = derived_rks.get(pid, [])
                    problems.append(
                        pl.DataFrame(
                            {
                                RK: rks,
                                "column": [rec["column"]] * len(rks),
                                "value": [rec["value"]] * len(rks),
                                "reason": [f"patient row: {rec['reason']}"] * len(rks),
                            },
                            schema=PROBLEM_SCHEMA,
                        )
                    )
                fails = fails.filter(pl.col(RK).is_not_null())
            problems.append(fails.select(RK, "column", "value", "reason").cast(PROBLEM_SCHEMA))

    def bad_set() -> set[int]:
        allp = concat(problems, PROBLEM_SCHEMA)
        return set(allp.get_column(RK).drop_nulls().to_list()) if allp.height else set()

    bad = bad_set()
    # an input row is all-or-nothing: drop every candidate of a row with any problem
    for table in valid:
        if valid[table].height:
            valid[table] = valid[table].filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(list(bad)))
    # relations: patients
    pids_ok = known | set(valid["patients"].get_column("patient_id").to_list())
    for table in ("sessions", "assessments", "opioids", "adverse_events"):
        fr = valid[table]
        if fr.height == 0:
            continue
        miss = fr.filter(~pl.col("patient_id").is_in(list(pids_ok)))
        if miss.height:
            problems.append(
                miss.select(
                    RK,
                    column=pl.lit("patient_id"),
                    value=pl.lit(None, dtype=pl.String),
                    reason=pl.lit(
                        "the patient has no valid patient row (see the patient's other rows)"
                    ),
                ).cast(PROBLEM_SCHEMA)
            )
    bad = bad_set()
    for table in valid:
        if valid[table].height:
            valid[table] = valid[table].filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(list(bad)))
    # derived patients only when some row of theirs survives
    if valid["patients"].height:
        alive = set()
        for t in ("sessions", "assessments", "opioids", "adverse_events"):
            alive |= set(valid[t].get_column("patient_id").to_list())
        vital_rows = concat([ex.vitals for ex in exs])
        if vital_rows.height:
            alive |= set(
                vital_rows.filter(~pl.col(RK).is_in(list(bad))).get_column("patient_id").to_list()
            )
        valid["patients"] = valid["patients"].filter(
            pl.col(RK).is_not_null() | pl.col("patient_id").is_in(list(alive))
        )

    status: list[pl.DataFrame] = []
    conflicts: list[pl.DataFrame] = []
    new: dict[str, pl.DataFrame] = {}
    # sessions first so that links from assessments / events can follow duplicates
    remap: dict[str, str] = {}
    for table in ("patients", "sessions", "assessments", "opioids", "adverse_events"):
        fr = valid[table]
        if remap and "session_id" in fr.columns and table != "sessions" and fr.height:
            fr = fr.with_columns(pl.col("session_id").replace(remap))
        if table == "assessments" and fr.height:
            fr = link_to_sessions(fr, new["sessions"], st)
        if table in ("assessments", "adverse_events") and fr.height:
            # session links must exist (store or this import)
            sids = set(
                new.get("sessions", tables.empty("sessions")).get_column("session_id").to_list()
            )
            linked = fr.filter(pl.col("session_id").is_not_null())
            if linked.height:
                wanted = list(set(linked.get_column("session_id").to_list()) - sids)
                stored = set()
                if wanted:
                    stored = set(
                        st.query(
                            "SELECT session_id FROM sessions WHERE session_id IN (SELECT unnest(?))",
                            [wanted],
                        )
                        .get_column("session_id")
                        .to_list()
                    )
                orphan = linked.filter(~pl.col("session_id").is_in(list(sids | stored)))
                if orphan.height:
                    problems.append(
                        orphan.select(
                            RK,
                            column=pl.lit("session_id"),
                            value=pl.col("session_id"),
                            reason=pl.lit(
                                "session_id not found in sessions (store or this import)"
                            ),
                        ).cast(PROBLEM_SCHEMA)
                    )
                    fr = fr.filter(~pl.col(RK).is_in(orphan.get_column(RK).to_list()))
        n, stt, conf, rm = dedupe(table, fr, st)
        new[table] = n
        status.append(stt)
        conflicts.append(conf)
        if table == "sessions":
            remap = rm

    vit_status, vit_skip, vit_prob, vit_conf, updates, new["sessions"] = attach_vitals(
        [ex.vitals for ex in exs], new["sessions"], st, bad_set()
    )
    status.append(vit_status)
    skipped.append(vit_skip)
    problems.append(vit_prob)
    conflicts.append(vit_conf)
    # problems found late (a missing session link, a vital sign out of range) still take the
    # whole input row out: nothing of a quarantined row is written
    bad = list(bad_set())
    for table, fr in new.items():
        if fr.height:
            new[table] = fr.filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(bad))

    return Resolved(
        frames=new,
        problems=concat(problems, PROBLEM_SCHEMA).unique(maintain_order=True),
        skipped=concat(skipped, SKIP_SCHEMA),
        status=concat(status, {RK: pl.Int64, "status": pl.String}),
        conflicts=concat(conflicts, CONFLICT_SCHEMA),
        vital_updates=updates,
        notes=notes,
    )


def complete_patients(p: pl.DataFrame) -> pl.DataFrame:
    """Birth year and age band (at first treatment, else referral) and default flags."""
    n = p.height
    for c in FLAGS:
        if c not in p.columns:
            p = p.with_columns(pl.lit(False).alias(c))
        else:
            p = p.with_columns(pl.col(c).fill_null(False))
    if "birth_date" not in p.columns:
        p = p.with_columns(birth_date=pl.lit(None, dtype=pl.Date))
    if "first_date" not in p.columns:
        p = p.with_columns(first_date=pl.lit(None, dtype=pl.Date))
    years: list[int | None] = []
    bands: list[str | None] = []
    for birth, first, ref, by, band in p.select(
        "birth_date",
        "first_date",
        "referral_date",
        pl.col("birth_year")
        if "birth_year" in p.columns
        else pl.lit(None, dtype=pl.Int32).alias("by"),
        pl.col("age_band")
        if "age_band" in p.columns
        else pl.lit(None, dtype=pl.String).alias("ab"),
    ).iter_rows():
        anchor = first or ref
        if birth is not None and anchor is not None:
            y, b = privacy.birth_year_and_band(birth, anchor)
            years.append(y)
            bands.append(b)
        elif by is not None and anchor is not None and band is None:
            years.append(by)
            bands.append(privacy.age_band(anchor.year - by))
        else:
            years.append(by)
            bands.append(band)
    p = p.with_columns(
        birth_year=pl.Series(years, dtype=pl.Int32), age_band=pl.Series(bands, dtype=pl.String)
    )
    for c, t in tables.empty("patients").schema.items():
        if c not in p.columns:
            p = p.with_columns(pl.lit(None, dtype=t).alias(c))
    assert p.height == n
    if "_owner" not in p.columns:
        p = p.with_columns(pl.lit(None, dtype=pl.Int64).alias("_owner"))
    return p.select(*tables.columns("patients"), RK, "_owner")
