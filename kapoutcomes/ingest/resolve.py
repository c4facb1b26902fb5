"""Resolving the candidates of all files of one import: patient rows (explicit or derived),
row-level validation against the table models, relations between tables, then duplicates,
conflicts and vital signs (``dedupe``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest import extract, safety_signals
from kapoutcomes.ingest.dedupe import attach_vitals, dedupe, link_to_sessions
from kapoutcomes.ingest.extract import PROBLEM_SCHEMA, RK, SKIP_SCHEMA, Options
from kapoutcomes.ingest.frames import CONFLICT_SCHEMA, UNIQUENESS, ImportFile, Resolved, concat
from kapoutcomes.storage import privacy
from kapoutcomes.storage import store as store_mod

FLAGS = (
    "psychosis_history",
    "cardiovascular_disease",
    "raised_intracranial_pressure",
    "substance_use_disorder",
    "interacting_medication",
)


def store_patients(st: store_mod.Store) -> set[str]:
    return st.patient_ids()


CHILD_TABLES = ("sessions", "assessments", "opioids", "adverse_events")
NO_PATIENT = (
    "the patient is not in the store and this export does not describe the patient: import "
    "the patients file first, or import with --clinic NAME to create patient rows"
)


def _problems(rks: list[int], column: str, value: str | None, reason: str) -> pl.DataFrame:
    n = len(rks)
    return pl.DataFrame(
        {RK: rks, "column": [column] * n, "value": [value] * n, "reason": [reason] * n},
        schema=PROBLEM_SCHEMA,
    )


def _bad(problems: list[pl.DataFrame]) -> set[int]:
    allp = concat(problems, PROBLEM_SCHEMA)
    return set(allp.get_column(RK).drop_nulls().to_list()) if allp.height else set()


def _without(frame: pl.DataFrame, bad: set[int]) -> pl.DataFrame:
    """Candidates minus those of input rows with a problem (a row is all-or-nothing)."""
    if frame.height == 0 or not bad:
        return frame
    return frame.filter(pl.col(RK).is_null() | ~pl.col(RK).is_in(list(bad)))


#: Quarantine reasons for records outside what kapoutcomes tracks: kept and counted, not
#: listed for correction (their quarantine entries have status ``out_of_scope``).
OUT_OF_SCOPE = "out of scope: "
OUT_OF_SCOPE_BEFORE_2000 = (
    OUT_OF_SCOPE + "dated before 2000 (kapoutcomes tracks treatment from 2000 on); kept, "
    "nothing to correct"
)
OUT_OF_SCOPE_MINOR = (
    OUT_OF_SCOPE + "the patient was a child (under 12) at referral; kept, nothing to correct"
)


#: Records dated from this year to 1999 are the EHR's history, out of scope (see above).
EARLIEST_IN_SCOPE_HISTORY = 1950


def _out_of_scope(problems: list[pl.DataFrame], patients: pl.DataFrame) -> set[str]:
    """Give the problems that are out of scope (records before 2000; patients under 18)
    their out-of-scope reason, in place; the ids of the patients under 18."""
    # a record of the EHR's history (1950-1999): out of scope; a session before 2000 or a
    # date before 1950 is more likely a typo (1924 for 2024): it needs correction
    year = pl.col("value").str.slice(0, 4).cast(pl.Int64, strict=False)
    early = (
        pl.col("reason").str.starts_with("expected a value of at least 2000-01-01")
        & (pl.col("column") != "started_at")
        & (year >= EARLIEST_IN_SCOPE_HISTORY)
    )
    minor = pl.col("reason").str.starts_with("birth year gives an age outside") & (
        pl.col("value").cast(pl.Int64, strict=False) >= dt.date.today().year - 17
    )
    minor_rks: list[int] = []
    for i, p in enumerate(problems):
        if p.height == 0:
            continue
        minor_rks += p.filter(minor).get_column(RK).drop_nulls().to_list()
        problems[i] = p.with_columns(
            reason=pl.when(early)
            .then(pl.lit(OUT_OF_SCOPE_BEFORE_2000))
            .when(minor)
            .then(pl.lit(OUT_OF_SCOPE_MINOR))
            .otherwise("reason")
        )
    if not minor_rks or patients.height == 0:
        return set()
    young = patients.filter(pl.col(RK).is_in(minor_rks))
    return set(young.get_column("patient_id").to_list())


def _without_patient(
    valid: dict[str, pl.DataFrame], pids_ok: set[str], minors: set[str]
) -> list[pl.DataFrame]:
    """Problems of the rows whose patient has no valid patient row (the store's or this
    import's); rows of a child patient are out of scope."""
    out = []
    for table in CHILD_TABLES:
        fr = valid[table]
        if fr.height == 0:
            continue
        miss = fr.filter(~pl.col("patient_id").is_in(list(pids_ok)))
        minor = pl.col("patient_id").is_in(list(minors))
        out.append(
            _problems(
                miss.filter(~minor).get_column(RK).to_list(),
                "patient_id",
                None,
                "the patient has no valid patient row (see the patient's other rows)",
            )
        )
        out.append(
            _problems(
                miss.filter(minor).get_column(RK).to_list(), "patient_id", None, OUT_OF_SCOPE_MINOR
            )
        )
    return out


def resolve(files: list[ImportFile], st: store_mod.Store, opts: Options) -> Resolved:
    """Patients, validation, relations, duplicates and conflicts, vital signs - for the
    candidates of all files of one import together."""
    exs = [f.ex for f in files if f.ex is not None]
    problems: list[pl.DataFrame] = [p for ex in exs for p in ex.problems]
    skipped: list[pl.DataFrame] = [s for ex in exs for s in ex.skipped]
    notes = {f.index: list(f.ex.notes) for f in files if f.ex is not None}
    known = store_patients(st)

    patients, derived_rks = _patient_candidates(exs, known, opts, problems, skipped)
    cand: dict[str, pl.DataFrame] = {"patients": patients}
    for table in CHILD_TABLES:
        cand[table] = concat([ex.outputs.get(table) for ex in exs])
    valid = _validate(cand, problems, derived_rks)
    minors = _out_of_scope(problems, patients)

    bad = _bad(problems)
    valid = {t: _without(fr, bad) for t, fr in valid.items()}
    # relations: every row's patient must exist (store or a valid patient row of this import)
    pids_ok = known | set(valid["patients"].get_column("patient_id").to_list())
    problems += _without_patient(valid, pids_ok, minors)
    bad = _bad(problems)
    valid = {t: _without(fr, bad) for t, fr in valid.items()}
    valid["patients"] = _patients_in_use(valid, exs, bad)

    status: list[pl.DataFrame] = []
    conflicts: list[pl.DataFrame] = []
    new: dict[str, pl.DataFrame] = {}
    # sessions before the tables that link to them, so links can follow duplicates
    remap: dict[str, str] = {}
    for table in ("patients", *CHILD_TABLES):
        fr = valid[table]
        if remap and table != "sessions" and "session_id" in fr.columns and fr.height:
            fr = fr.with_columns(pl.col("session_id").replace(remap))
        if table == "assessments" and fr.height:
            fr = link_to_sessions(fr, new["sessions"], st)
        if table in ("assessments", "adverse_events") and fr.height:
            fr, orphans = _check_session_links(fr, new["sessions"], st)
            problems.append(orphans)
        deduped = dedupe(table, fr, st)
        new[table] = deduped.new
        status.append(deduped.status)
        conflicts.append(deduped.conflicts)
        if table == "sessions":
            remap = deduped.remap

    vitals = attach_vitals([ex.vitals for ex in exs], new["sessions"], st, _bad(problems))
    new["sessions"] = vitals.sessions
    status.append(vitals.status)
    skipped.append(vitals.skipped)
    problems.append(vitals.problems)
    conflicts.append(vitals.conflicts)
    # problems found late (a missing session link, a vital sign out of range) still take the
    # whole input row out: nothing of a quarantined row is written
    bad = _bad(problems)
    new = {t: _without(fr, bad) for t, fr in new.items()}

    return Resolved(
        frames=new,
        problems=concat(problems, PROBLEM_SCHEMA).unique(maintain_order=True),
        skipped=concat(skipped, SKIP_SCHEMA),
        status=concat(status, {RK: pl.Int64, "status": pl.String}),
        conflicts=concat(conflicts, CONFLICT_SCHEMA),
        vital_updates=vitals.updates,
        notes=notes,
        vitals_filled=_without(vitals.status.filter(pl.col("status") == "new"), bad).select(RK),
        signals=concat([s for ex in exs for s in ex.signals], safety_signals.SIGNAL_SCHEMA),
    )


_DEMOGRAPHICS = ("clinic", "primary_condition", "sex", "birth_date", "comorbid_depression")


class _RowsOfPatient:
    """Per derived patient, the input rows that need it (``dict``-like); grouped only when
    first asked for, since a derived patient row rarely fails."""

    def __init__(self, need: pl.DataFrame) -> None:
        self.need = need
        self._by: dict[str, list[int]] | None = None

    def _map(self) -> dict[str, list[int]]:
        if self._by is None:
            g = self.need.group_by("patient_id").agg(pl.col(RK)) if self.need.height else None
            self._by = dict(g.iter_rows()) if g is not None else {}
        return self._by

    def get(self, pid: str, default: list[int] | None = None) -> list[int] | None:
        return self._map().get(pid, default)

    def __getitem__(self, pid: str) -> list[int]:
        return self._map()[pid]


def _patient_candidates(
    exs: list, known: set[str], opts: Options, problems: list, skipped: list
) -> tuple[pl.DataFrame, _RowsOfPatient]:
    """Patient rows: explicit (a patients file) and derived (patients only mentioned by other
    rows). Returns the candidates and, per derived patient, the input rows that need it."""
    acts = concat([ex.activity for ex in exs], extract.ACTIVITY_SCHEMA)
    if acts.height == 0:
        acts = pl.DataFrame(schema=extract.ACTIVITY_SCHEMA)
    explicit = _explicit_patients(exs, acts, skipped)
    frames: list[pl.DataFrame] = [explicit] if explicit.height else []
    explicit_ids = (
        set(explicit.get_column("patient_id").drop_nulls().to_list()) if explicit.height else set()
    )
    # derived rows for patients nobody describes
    need = acts.filter(
        pl.col("patient_id").is_not_null() & ~pl.col("patient_id").is_in(list(known | explicit_ids))
    )
    derived_rks = _RowsOfPatient(need)
    if need.height:
        agg = _derived_patients(need, opts)
        for pid in agg.filter(pl.col("clinic").is_null()).get_column("patient_id").to_list():
            problems.append(_problems(derived_rks[pid], "(patient)", None, NO_PATIENT))
        agg = agg.filter(pl.col("clinic").is_not_null()).with_columns(
            pl.lit(None, dtype=pl.Int64).alias(RK)
        )
        frames.append(agg)
    patients = concat(frames)
    if patients.height:
        patients = complete_patients(patients)
    return patients, derived_rks


def _plausible() -> pl.Expr:
    """A plausible activity date (a visit typed as 1924 must not become the referral date)."""
    return pl.col("at_date").is_between(tables.EARLIEST_DATE, dt.date.today())


def _explicit_patients(exs: list, acts: pl.DataFrame, skipped: list) -> pl.DataFrame:
    """Patient rows of a patients file; the referral date from the first activity when
    absent, a row with neither skipped."""
    explicit = concat([ex.patient_rows for ex in exs])
    if not explicit.height:
        return explicit
    first_seen = (
        acts.filter(_plausible()).group_by("patient_id").agg(first_date=pl.col("at_date").min())
    )
    explicit = explicit.join(first_seen, on="patient_id", how="left", maintain_order="left")
    explicit = explicit.with_columns(referral_date=pl.coalesce("referral_date", "first_date"))
    no_ref = explicit.filter(pl.col("referral_date").is_null() & pl.col(RK).is_not_null())
    skipped.append(
        no_ref.select(
            RK,
            reason=pl.lit(
                "no referral date, and no sessions, assessments or prescriptions of "
                "this patient in this import: nothing to anchor the patient row"
            ),
        ).cast(SKIP_SCHEMA)
    )
    return explicit.filter(pl.col("referral_date").is_not_null())


def _derived_patients(need: pl.DataFrame, opts: Options) -> pl.DataFrame:
    """One patient row per patient only mentioned by other rows; a null clinic when neither
    the rows nor the import name one."""
    plausible = _plausible()
    if not need.get_column(RK).is_sorted():  # rows come in file order: usually sorted
        need = need.sort(RK)
    # one pass over the rows: the first plausible activity of each patient (in row
    # order), its demographics, and the patient's first row of all (the owner)
    empty = [c for c in _DEMOGRAPHICS if need.get_column(c).null_count() == need.height]
    return (
        need.group_by("patient_id", maintain_order=True)
        .agg(
            pl.col(RK).min().alias("_owner"),
            pl.col(RK).filter(plausible).min().alias("_first_rk"),
            pl.col("at_date").filter(plausible).min().alias("referral_date"),
            # a column no row fills (an observation export has no demographics) stays
            # null without being aggregated
            *[
                pl.col(c).filter(plausible).drop_nulls().first()
                for c in _DEMOGRAPHICS
                if c not in empty
            ],
        )
        .filter(pl.col("_first_rk").is_not_null())  # patients with a plausible activity
        .sort("_first_rk")
        .with_columns(pl.lit(None, dtype=need.schema[c]).alias(c) for c in empty)
        .select("patient_id", "referral_date", *_DEMOGRAPHICS, "_owner")
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


def _validate(
    cand: dict[str, pl.DataFrame], problems: list, derived_rks: _RowsOfPatient
) -> dict[str, pl.DataFrame]:
    """Row-level validation against the table models; failures become problems of the input
    rows they came from (a derived patient row's failure: of every row of that patient)."""
    valid: dict[str, pl.DataFrame] = {}
    early = _bad(problems)
    for table, frame in cand.items():
        # rows that already failed to parse are not validated again (one reason each)
        frame = _without(frame, early)
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
        if v.failures.height == 0:
            continue
        fails = v.failures.with_columns(
            pl.col("row").map_elements(lambda i, rk=rk: rk[i], return_dtype=pl.Int64).alias(RK)
        )
        if table == "patients":
            pid_of = frame.get_column("patient_id")
            for rec in fails.filter(pl.col(RK).is_null()).iter_rows(named=True):
                rks = derived_rks.get(pid_of[rec["row"]], [])
                problems.append(
                    _problems(rks, rec["column"], rec["value"], f"patient row: {rec['reason']}")
                )
            fails = fails.filter(pl.col(RK).is_not_null())
        problems.append(fails.select(RK, "column", "value", "reason").cast(PROBLEM_SCHEMA))
    return valid


def _patients_in_use(valid: dict[str, pl.DataFrame], exs: list, bad: set[int]) -> pl.DataFrame:
    """Derived patient rows are written only when some row of the patient survives."""
    patients = valid["patients"]
    if patients.height == 0:
        return patients
    used = [valid[t].select("patient_id") for t in CHILD_TABLES]
    vital_rows = concat([ex.vitals for ex in exs])
    if vital_rows.height:
        used.append(_without(vital_rows, bad).select("patient_id"))
    alive = pl.concat([u.cast({"patient_id": pl.String}) for u in used]).get_column("patient_id")
    return patients.filter(
        pl.col(RK).is_not_null() | pl.col("patient_id").is_in(alive.unique().implode())
    )


def _check_session_links(
    fr: pl.DataFrame, sessions_new: pl.DataFrame, st: store_mod.Store
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose session_id is in neither the store nor this import become problems."""
    linked = fr.filter(pl.col("session_id").is_not_null())
    if linked.height == 0:
        return fr, pl.DataFrame(schema=PROBLEM_SCHEMA)
    sids = set(sessions_new.get_column("session_id").to_list())
    wanted = list(set(linked.get_column("session_id").to_list()) - sids)
    stored: set[str] = set()
    if wanted:
        stored = set(
            st.rows_where_in("sessions", ["session_id"], "session_id", wanted)
            .get_column("session_id")
            .to_list()
        )
    orphan = linked.filter(~pl.col("session_id").is_in(list(sids | stored)))
    problems = orphan.select(
        RK,
        column=pl.lit("session_id"),
        value=pl.col("session_id"),
        reason=pl.lit("session_id not found in sessions (store or this import)"),
    ).cast(PROBLEM_SCHEMA)
    return fr.filter(~pl.col(RK).is_in(orphan.get_column(RK).to_list())), problems


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
