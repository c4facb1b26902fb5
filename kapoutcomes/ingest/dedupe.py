"""Duplicates and conflicts on natural keys (within the import and against the store), and
vital signs attached to the nearest session of the day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest import extract
from kapoutcomes.ingest.extract import PROBLEM_SCHEMA, RK, SKIP_SCHEMA
from kapoutcomes.ingest.frames import CONFLICT_SCHEMA, RK_BASE, concat, json_rows
from kapoutcomes.storage import store as store_mod

COMPARE: dict[str, tuple[str, ...]] = {
    "patients": ("clinic", "primary_condition", "sex", "birth_year"),
    "sessions": (
        "route",
        "dose_mg",
        "dose_mg_per_kg",
        "weight_kg",
        "infusion_minutes",
        "care_model",
        "bp_systolic_before",
        "bp_diastolic_before",
        "heart_rate_before",
        "spo2_before",
        "bp_systolic_after",
        "bp_diastolic_after",
        "heart_rate_after",
        "spo2_after",
    ),
    "assessments": ("score",),
    "opioids": ("strength", "unit", "frequency_per_day", "stop_date"),
    "adverse_events": ("severity", "grade", "serious", "resolved_at", "action_taken"),
}
VITAL_COLUMNS = {
    ("systolic", True): "bp_systolic_before",
    ("systolic", False): "bp_systolic_after",
    ("diastolic", True): "bp_diastolic_before",
    ("diastolic", False): "bp_diastolic_after",
    ("heart_rate", True): "heart_rate_before",
    ("heart_rate", False): "heart_rate_after",
    ("spo2", True): "spo2_before",
    ("spo2", False): "spo2_after",
    ("weight_kg", True): "weight_kg",
    ("weight_kg", False): "weight_kg",
}
#: A vital sign taken up to this many minutes after the session start counts as "before".
BEFORE_GRACE_MINUTES = 5


#: The status of a row that differs from an earlier row of the same import on the same
#: natural key: not a conflict with the store (a dry run into an empty store has none), but
#: a disagreement within the import; the first row is kept, this one is kept for review.
DISAGREES = "disagrees"

#: Differences within these limits are the same value written differently (a weight in
#: whole pounds, a rounded mg/kg); anything larger is a conflict.
TOLERANCE = {"weight_kg": 0.5, "dose_mg_per_kg": 0.01, "cost_usd": 0.01}


def ids_for(st: store_mod.Store, table: str, ids: pl.Series) -> list:
    """The ids (patients, sessions) to look up in ``table``: none when the table is empty (a
    first import), where passing 100,000 ids costs more than the lookup itself."""
    if not st.has_rows(table):
        return []
    return ids.unique().to_list()


def first_of_key(fr: pl.DataFrame, key: list[str]) -> pl.Series:
    """Whether each row is the first with its ``key`` values (nulls equal), like
    ``unique(key, keep="first")``. Rows are told apart by a hash of their key first; only
    rows whose hash repeats (duplicates, or in theory a collision) are compared exactly."""
    h = fr.select(key).hash_rows()
    again = h.is_duplicated()
    if not again.any():
        return pl.repeat(True, fr.height, dtype=pl.Boolean, eager=True)
    exact = fr.filter(again).select(pl.struct(key).is_first_distinct()).to_series()
    return (~again).scatter(again.arg_true(), exact)


def _status(matched: pl.DataFrame, differs: str = "conflict") -> pl.DataFrame:
    """A matched row is a duplicate when its values are the same, else ``differs`` (a
    conflict with the store, or ``DISAGREES`` with an earlier row of the import)."""
    return matched.select(
        RK,
        status=pl.when("same_values").then(pl.lit("duplicate")).otherwise(pl.lit(differs)),
    )


def same_values(cols: Sequence[str], schema: dict[str, Any], defaulted: bool = False) -> pl.Expr:
    parts = []
    for c in cols:
        a, b = pl.col(c), pl.col(f"{c}__stored")
        if schema[c] == pl.Float64:
            limit = TOLERANCE[c] if c in TOLERANCE else 1e-6 * (1 + b.abs())
            eq = (a - b).abs() <= limit
        else:
            eq = a == b
        part = eq | a.is_null() | b.is_null()
        if defaulted:
            # a value the mapping supplied (not the export) never conflicts with the store
            part = part | pl.col("_defaulted").fill_null("").str.contains(f"|{c}|", literal=True)
        parts.append(part)
    return pl.all_horizontal(parts) if parts else pl.lit(True)


@dataclass(frozen=True)
class Deduped:
    """One table after de-duplication."""

    new: pl.DataFrame  # rows to write
    status: pl.DataFrame  # RK, status: new | duplicate | conflict | disagrees
    conflicts: pl.DataFrame  # CONFLICT_SCHEMA
    remap: dict[str, str]  # id of a duplicate -> the id kept (sessions, adverse events)


@dataclass(frozen=True)
class _Keys:
    """How one table's rows are told apart and compared."""

    table: str
    key: list[str]  # the natural key
    compare: list[str]  # the values that must agree for a duplicate
    schema: dict[str, Any]
    id_col: str | None  # a generated id other tables link to
    defaulted: bool  # rows carry _defaulted (values the mapping supplied)


@dataclass(frozen=True)
class _Matches:
    status: pl.DataFrame
    conflicts: pl.DataFrame | None
    remap: dict[str, str]


def dedupe(table: str, fr: pl.DataFrame, st: store_mod.Store) -> Deduped:
    """New rows, each row's status, conflicts and the id remap for one table."""
    empty_status = pl.DataFrame(schema={RK: pl.Int64, "status": pl.String})
    if fr.height == 0:
        return Deduped(fr, empty_status, pl.DataFrame(schema=CONFLICT_SCHEMA), {})
    id_col = {"sessions": "session_id", "adverse_events": "event_id"}.get(table)
    k = _Keys(
        table,
        list(tables.NATURAL_KEYS[table]),
        list(COMPARE[table]),
        dict(fr.schema),
        id_col,
        "_defaulted" in fr.columns,
    )
    rk = fr.get_column(RK)
    if rk.null_count() or not rk.is_sorted():  # rows come in file order: usually sorted
        fr = fr.sort(RK, nulls_last=True)
    fr = fr.with_row_index("_pos")
    first = first_of_key(fr, k.key)
    firsts, rest = fr.filter(first), fr.filter(~first)
    statuses, confs = [], []
    remap: dict[str, str] = {}
    if rest.height:
        found = _repeats_in_import(k, firsts, rest)
        statuses.append(found.status)
        confs.append(found.conflicts)
        remap.update(found.remap)
    if id_col:
        # one id, two different facts (natural keys): keep the first, the other for review
        clash = _id_clashes(k, firsts, st)
        if clash.height:
            statuses.append(
                clash.select(
                    RK,
                    status=pl.when("_in_store").then(pl.lit("conflict")).otherwise(DISAGREES),
                )
            )
            stored_value = "another row with this id describes a different " + table[:-1]
            confs.append(
                _conflicts(
                    table,
                    clash,
                    json_rows(clash, [id_col]),
                    [stored_value] * clash.height,
                    json_rows(clash, k.key),
                )
            )
            firsts = firsts.filter(~pl.col("_pos").is_in(clash.get_column("_pos").implode()))
    # against the store
    pids = ids_for(st, table, firsts.get_column("patient_id"))
    sel = [*k.key, *k.compare, *([id_col] if id_col else [])]
    stored = st.rows_where_in(table, sel, "patient_id", pids)
    if stored.height:
        found, firsts = _in_store(k, firsts, stored)
        statuses.append(found.status)
        confs.append(found.conflicts)
        if id_col:
            remap.update(found.remap)
            # within-import duplicates of a stored row point at the stored id too
            remap = {a: remap.get(b, b) for a, b in remap.items()}
    statuses.append(firsts.filter(pl.col(RK).is_not_null()).select(RK, status=pl.lit("new")))
    return Deduped(
        firsts.drop("_pos"),
        pl.concat([s.cast({RK: pl.Int64}) for s in statuses]),
        concat(confs, CONFLICT_SCHEMA),
        remap,
    )


def _conflicts(
    table: str, rows: pl.DataFrame, natural_key: list[str], stored: list[str], incoming: list[str]
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            RK: rows.get_column(RK),
            "table_name": [table] * rows.height,
            "natural_key": natural_key,
            "stored_value": stored,
            "incoming_value": incoming,
        },
        schema=CONFLICT_SCHEMA,
    )


def _stored_values(rows: pl.DataFrame, cols: list[str]) -> list[str]:
    return json_rows(rows.select([pl.col(f"{x}__stored").alias(x) for x in cols]), cols)


def _repeats_in_import(k: _Keys, firsts: pl.DataFrame, rest: pl.DataFrame) -> _Matches:
    """Rows repeating an earlier row's natural key in this import: duplicates when their
    values agree, else conflicts."""
    id_col = k.id_col
    j = rest.join(
        firsts.select(
            *k.key,
            *[pl.col(c).alias(f"{c}__stored") for c in k.compare],
            pl.col(RK).alias("_first_rk"),
            *([pl.col(id_col).alias("_first_id")] if id_col else []),
        ),
        on=k.key,
        how="left",
        nulls_equal=True,
    ).with_columns(same_values=same_values(k.compare, k.schema, k.defaulted))
    c = j.filter(~pl.col("same_values"))
    conflicts = None
    if c.height:
        stored = [
            f"another row of this import (line {(r or 0) % RK_BASE}): {v}"
            for r, v in zip(c.get_column("_first_rk"), _stored_values(c, k.compare), strict=True)
        ]
        conflicts = _conflicts(k.table, c, json_rows(c, k.key), stored, json_rows(c, k.compare))
    remap = (
        dict(zip(j.get_column(id_col), j.get_column("_first_id"), strict=True)) if id_col else {}
    )
    return _Matches(_status(j, DISAGREES), conflicts, remap)


def _id_clashes(k: _Keys, firsts: pl.DataFrame, st: store_mod.Store) -> pl.DataFrame:
    """Rows whose id repeats in the import, or names a stored row of other natural keys;
    ``_in_store`` tells which."""
    id_col, key = k.id_col, k.key
    assert id_col is not None
    clash = firsts.filter(pl.int_range(pl.len()).over(id_col) > 0).with_columns(
        _in_store=pl.lit(False)
    )
    ids = ids_for(st, k.table, firsts.get_column(id_col))
    in_store = st.rows_where_in(k.table, [id_col, *key], id_col, ids).select(
        pl.col(id_col).alias("_sid"), *[pl.col(c).alias(f"_k_{c}") for c in key]
    )
    if in_store.height:
        cmp_key = firsts.join(
            in_store.cast({f"_k_{c}": k.schema[c] for c in key}),
            left_on=id_col,
            right_on="_sid",
            how="inner",
        )
        differs = pl.any_horizontal([~pl.col(c).eq_missing(pl.col(f"_k_{c}")) for c in key])
        stored = cmp_key.filter(differs).select(firsts.columns).with_columns(_in_store=pl.lit(True))
        clash = pl.concat([clash, stored])
    return clash


def _in_store(
    k: _Keys, firsts: pl.DataFrame, stored: pl.DataFrame
) -> tuple[_Matches, pl.DataFrame]:
    """Rows whose natural key the store holds (duplicates or conflicts), and the rest."""
    id_col, key, cmp_cols = k.id_col, k.key, k.compare
    stored = stored.cast({c: k.schema[c] for c in stored.columns if c in k.schema})
    j = firsts.join(
        stored.rename({c: f"{c}__stored" for c in stored.columns if c not in key}),
        on=key,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    # a key may match several stored rows only if the store itself holds duplicates
    j = j.unique("_pos", keep="first", maintain_order=True)
    matched = pl.col("_matched")
    if id_col:
        j = j.with_columns(_matched=pl.col(f"{id_col}__stored").is_not_null())
    else:
        # compare with a presence marker: join again to know matches exactly
        marker = stored.select(key).unique().with_columns(_hit=pl.lit(True))
        j = j.join(marker, on=key, how="left", nulls_equal=True).with_columns(
            _matched=pl.col("_hit").fill_null(False)
        )
    j = j.with_columns(same_values=same_values(cmp_cols, k.schema, k.defaulted))
    hit = j.filter(matched)
    c = hit.filter(~pl.col("same_values"))
    conflicts = None
    if c.height:
        conflicts = _conflicts(
            k.table, c, json_rows(c, key), _stored_values(c, cmp_cols), json_rows(c, cmp_cols)
        )
    remap = (
        dict(zip(hit.get_column(id_col), hit.get_column(f"{id_col}__stored"), strict=True))
        if id_col
        else {}
    )
    return _Matches(_status(hit), conflicts, remap), j.filter(~matched).select(firsts.columns)


def vital_range(column: str) -> tuple[float, float]:
    col = tables.MODELS["sessions"].to_schema().columns[column]
    lo, hi = -float("inf"), float("inf")
    for chk in col.checks:
        stats = chk.statistics or {}
        if "min_value" in stats:
            lo = float(stats["min_value"])
        if "max_value" in stats:
            hi = float(stats["max_value"])
    return lo, hi


@dataclass(frozen=True)
class AttachedVitals:
    """Vital-sign readings after attaching them to sessions."""

    status: pl.DataFrame  # RK, status: new | duplicate | conflict
    skipped: pl.DataFrame  # SKIP_SCHEMA
    problems: pl.DataFrame  # PROBLEM_SCHEMA: out of range
    conflicts: pl.DataFrame  # CONFLICT_SCHEMA
    updates: pl.DataFrame  # session_id, column, value: stored sessions to fill
    sessions: pl.DataFrame  # the new sessions with their vital signs filled


_NO_UPDATES = {"session_id": pl.String, "column": pl.String, "value": pl.Float64}
_NO_SESSION = (
    "vital sign with no session of this patient on that day: vital signs are kept "
    "only as session vitals"
)


def _one_per_row(skips: pl.DataFrame) -> pl.DataFrame:
    return skips.sort(RK).filter(pl.col(RK).ne_missing(pl.col(RK).shift(1)))


def _nothing_attached(sessions_new: pl.DataFrame, skipped: pl.DataFrame) -> AttachedVitals:
    return AttachedVitals(
        pl.DataFrame(schema={RK: pl.Int64, "status": pl.String}),
        skipped,
        pl.DataFrame(schema=PROBLEM_SCHEMA),
        pl.DataFrame(schema=CONFLICT_SCHEMA),
        pl.DataFrame(schema=_NO_UPDATES),
        sessions_new,
    )


def attach_vitals(
    vitals: Sequence[pl.DataFrame | None],
    sessions_new: pl.DataFrame,
    st: store_mod.Store,
    bad: set[int],
) -> AttachedVitals:
    """Attach vital signs to the nearest (dosing) session of the patient on the same day."""
    v = concat(vitals, extract.VITAL_SCHEMA)
    if v.height:
        v = v.filter(
            ~pl.col(RK).is_in(list(bad))
            & pl.col("patient_id").is_not_null()
            & pl.col("at").is_not_null()
        )
    if v.height == 0:
        return _nothing_attached(sessions_new, pl.DataFrame(schema=SKIP_SCHEMA))
    sess = _day_sessions(v, sessions_new, st)
    if sess.height == 0:  # no session at all: every reading is skipped (no join needed)
        skipped = _one_per_row(v.select(RK, reason=pl.lit(_NO_SESSION))).cast(SKIP_SCHEMA)
        return _nothing_attached(sessions_new, skipped)
    j, skips = _nearest_sessions(v, sess)
    j, probs = _in_range(j)
    statuses, confs, updates = [], [], []
    if j.height:
        j = j.with_columns(
            status=pl.when(pl.col("_current").is_null())
            .then(pl.lit("new"))
            .when((pl.col("_current") - pl.col("value")).abs() < 0.5)
            .then(pl.lit("duplicate"))
            .when(pl.col("_stored"))
            .then(pl.lit("conflict"))
            .otherwise(pl.lit(DISAGREES))  # a session of this import: its own reading differs
        )
        statuses.append(j.select(RK, "status"))
        c = j.filter(pl.col("status").is_in(["conflict", DISAGREES]))
        if c.height:
            confs.append(
                c.select(
                    RK,
                    table_name=pl.lit("sessions"),
                    natural_key=pl.format(
                        '{{"session_id": "{}", "column": "{}"}}', "session_id", "column"
                    ),
                    stored_value=pl.when(pl.col("_stored"))
                    .then(pl.col("_current").cast(pl.String))
                    .otherwise(pl.format("this import's session: {}", "_current")),
                    incoming_value=pl.col("value").cast(pl.String),
                )
            )
        fill = j.filter(pl.col("status") == "new")
        updates.append(fill.filter(pl.col("_stored")).select("session_id", "column", "value"))
        sessions_new = _fill_new_sessions(sessions_new, fill.filter(~pl.col("_stored")))
    return AttachedVitals(
        concat(statuses, {RK: pl.Int64, "status": pl.String}),
        concat(skips, SKIP_SCHEMA).cast(SKIP_SCHEMA),
        concat(probs, PROBLEM_SCHEMA).cast(PROBLEM_SCHEMA),
        concat(confs, CONFLICT_SCHEMA).cast(CONFLICT_SCHEMA),
        concat(updates, _NO_UPDATES),
        sessions_new,
    )


def _day_sessions(v: pl.DataFrame, sessions_new: pl.DataFrame, st: store_mod.Store) -> pl.DataFrame:
    """The sessions a reading may belong to: stored ones of its patients and new ones, with
    their vital signs so far."""
    vcols = sorted(set(VITAL_COLUMNS.values()))
    pids = ids_for(st, "sessions", v.get_column("patient_id"))
    stored = st.rows_where_in(
        "sessions",
        ["session_id", "patient_id", "started_at", "session_type", *vcols],
        "patient_id",
        pids,
    )
    cand = [
        stored.with_columns(_stored=pl.lit(True)),
        sessions_new.select(
            "session_id", "patient_id", "started_at", "session_type", *vcols
        ).with_columns(_stored=pl.lit(False)),
    ]
    sschema = tables.empty("sessions").schema
    cand = [
        c.select(
            pl.col("session_id").cast(pl.String),
            pl.col("patient_id").cast(pl.String),
            pl.col("started_at").cast(pl.Datetime("us")),
            # vital signs are monitored at dosing sessions: prefer those on the day
            (~pl.col("session_type").cast(pl.String).is_in(list(tables.DOSING_TYPES))).alias(
                "_not_dosing"
            ),
            *[pl.col(x).cast(sschema[x]) for x in vcols],
            "_stored",
        )
        for c in cand
    ]
    return pl.concat(cand)


def _nearest_sessions(
    v: pl.DataFrame, sess: pl.DataFrame
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Each reading on the nearest session of its patient's day, named by the session column
    it fills; one reading per session and column (the closest to the start). The readings
    kept, and the skipped ones with their reasons."""
    sess = sess.with_columns(_day=pl.col("started_at").dt.date())
    j = v.with_columns(_day=pl.col("at").dt.date()).join(
        sess, on=["patient_id", "_day"], how="left", maintain_order="left"
    )
    # a reading with no session that day joins nothing (one row, no session); only the
    # readings with sessions need the nearest one chosen
    no_session = pl.col("session_id").is_null()
    skips = [_one_per_row(j.filter(no_session).select(RK, reason=pl.lit(_NO_SESSION)))]
    j = (
        j.filter(~no_session)
        .with_columns(_gap=(pl.col("at") - pl.col("started_at")).abs())
        .sort(RK, "_not_dosing", "_gap", nulls_last=True)
        .unique([RK, "vital"], keep="first", maintain_order=True)  # a BP panel: 2 per row
    )
    before = pl.col("at") <= pl.col("started_at") + pl.duration(minutes=BEFORE_GRACE_MINUTES)
    j = j.with_columns(
        column=pl.when(pl.col("vital") == "weight_kg")
        .then(pl.lit("weight_kg"))
        .otherwise(
            pl.col("vital").replace_strict(
                {
                    "systolic": "bp_systolic",
                    "diastolic": "bp_diastolic",
                    "heart_rate": "heart_rate",
                    "spo2": "spo2",
                },
                default=None,
            )
            + pl.when(before).then(pl.lit("_before")).otherwise(pl.lit("_after"))
        )
    )
    # one reading per session and column: the closest to the session start
    j = j.sort("session_id", "column", "_gap", RK)
    j = j.with_columns(_first=pl.int_range(pl.len()).over("session_id", "column") == 0)
    skips.append(
        j.filter(~pl.col("_first")).select(
            RK,
            reason=pl.lit(
                "another reading of this vital sign was closer to the session start and was kept"
            ),
        )
    )
    return j.filter(pl.col("_first")), skips


def _in_range(j: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Readings within the session column's range, each with the session's value so far
    (_current); the others as problems."""
    probs = []
    ok_rows = []
    for column in j.get_column("column").unique().to_list():
        lo, hi = vital_range(column)
        part = j.filter(pl.col("column") == column)
        out = part.filter(~pl.col("value").is_between(lo, hi))
        if out.height:
            probs.append(
                out.select(
                    RK,
                    column=pl.lit(column),
                    value=pl.col("value").cast(pl.String),
                    reason=pl.lit(f"{column}: expected a value from {lo:g} to {hi:g}"),
                )
            )
        part = part.filter(pl.col("value").is_between(lo, hi))
        current = part.get_column(column).cast(pl.Float64)
        part = part.with_columns(_current=current)
        ok_rows.append(part)
    return concat(ok_rows), probs


def _fill_new_sessions(sessions_new: pl.DataFrame, mine: pl.DataFrame) -> pl.DataFrame:
    """New sessions take the readings attached to them where they hold no value yet."""
    for column in mine.get_column("column").unique().to_list():
        vals = mine.filter(pl.col("column") == column).select("session_id", _v=pl.col("value"))
        dtype = sessions_new.schema[column]
        sessions_new = (
            sessions_new.join(vals, on="session_id", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce(
                    column, pl.col("_v").round(0 if dtype == pl.Int32 else 3).cast(dtype)
                ).alias(column)
            )
            .drop("_v")
        )
    return sessions_new


def link_to_sessions(
    fr: pl.DataFrame, sessions_new: pl.DataFrame, st: store_mod.Store
) -> pl.DataFrame:
    """Scores that arrive without a session or timing (observation layouts) join the nearest
    session of the patient on the same day: at a dosing session a score up to 5 minutes after
    the start is ``before_dose``, a later one ``after_dose``; at a screening it is the
    ``baseline``, at other sessions a ``follow_up``. Scores on days without a session stay
    unlinked."""
    free = fr.filter(pl.col("session_id").is_null() & pl.col("timing").is_null())
    if free.height == 0:
        return fr
    pids = ids_for(st, "sessions", free.get_column("patient_id"))
    cols = ("session_id", "patient_id", "started_at", "session_type")
    stored = st.rows_where_in("sessions", cols, "patient_id", pids)
    parts = [
        f.select(
            pl.col("session_id").cast(pl.String),
            pl.col("patient_id").cast(pl.String),
            pl.col("started_at").cast(pl.Datetime("us")),
            pl.col("session_type").cast(pl.String),
        )
        for f in (stored, sessions_new.select(cols))
    ]
    sess = pl.concat(parts).with_columns(_day=pl.col("started_at").dt.date())
    if sess.height == 0:
        return fr
    before = pl.col("assessed_at") <= pl.col("started_at") + pl.duration(
        minutes=BEFORE_GRACE_MINUTES
    )
    links = (
        free.select(RK, "patient_id", "assessed_at")
        .with_columns(_day=pl.col("assessed_at").dt.date())
        .join(sess, on=["patient_id", "_day"], how="inner")
        .with_columns(_gap=(pl.col("assessed_at") - pl.col("started_at")).abs())
        .sort(RK, "_gap", "session_id")
        .unique(RK, keep="first", maintain_order=True)
        .select(
            RK,
            _sid=pl.col("session_id"),
            _timing=pl.when(pl.col("session_type").is_in(list(tables.DOSING_TYPES)))
            .then(pl.when(before).then(pl.lit("before_dose")).otherwise(pl.lit("after_dose")))
            .when(pl.col("session_type") == "screening")
            .then(pl.lit("baseline"))
            .otherwise(pl.lit("follow_up")),
        )
    )
    return (
        fr.join(links, on=RK, how="left", maintain_order="left")
        .with_columns(
            session_id=pl.coalesce("session_id", "_sid"),
            timing=pl.coalesce("timing", "_timing"),
        )
        .drop("_sid", "_timing")
    )
