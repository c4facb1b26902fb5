"""Duplicates and conflicts on natural keys (within the import and against the store), and
vital signs attached to the nearest session of the day."""

from __future__ import annotations

from collections.abc import Sequence
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


#: Differences within these limits are the same value written differently (a weight in
#: whole pounds, a rounded mg/kg); anything larger is a conflict.
TOLERANCE = {"weight_kg": 0.5, "dose_mg_per_kg": 0.01, "cost_usd": 0.01}


def ids_for(st: store_mod.Store, table: str, ids: pl.Series) -> list:
    """The ids (patients, sessions) to look up in ``table``: none when the table is empty (a
    first import), where passing 100,000 ids costs more than the lookup itself."""
    if not st.query(f'SELECT EXISTS (SELECT 1 FROM "{table}") AS x').item():
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


def _status(matched: pl.DataFrame) -> pl.DataFrame:
    """A matched row is a duplicate when its values are the same, else a conflict."""
    return matched.select(
        RK,
        status=pl.when("same_values").then(pl.lit("duplicate")).otherwise(pl.lit("conflict")),
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


def dedupe(
    table: str, fr: pl.DataFrame, st: store_mod.Store
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """(new rows, RK status, conflicts, session-id remap) for one table."""
    empty_status = pl.DataFrame(schema={RK: pl.Int64, "status": pl.String})
    empty_conf = pl.DataFrame(schema=CONFLICT_SCHEMA)
    if fr.height == 0:
        return fr, empty_status, empty_conf, {}
    key = list(tables.NATURAL_KEYS[table])
    cmp_cols = list(COMPARE[table])
    schema = dict(fr.schema)
    rk = fr.get_column(RK)
    if rk.null_count() or not rk.is_sorted():  # rows come in file order: usually sorted
        fr = fr.sort(RK, nulls_last=True)
    fr = fr.with_row_index("_pos")
    first = first_of_key(fr, key)
    firsts, rest = fr.filter(first), fr.filter(~first)
    statuses, confs = [], []
    remap: dict[str, str] = {}
    id_col = {"sessions": "session_id", "adverse_events": "event_id"}.get(table)
    if rest.height:
        j = rest.join(
            firsts.select(
                *key,
                *[pl.col(c).alias(f"{c}__stored") for c in cmp_cols],
                pl.col(RK).alias("_first_rk"),
                *([pl.col(id_col).alias("_first_id")] if id_col else []),
            ),
            on=key,
            how="left",
            nulls_equal=True,
        ).with_columns(same_values=same_values(cmp_cols, schema, "_defaulted" in fr.columns))
        statuses.append(_status(j))
        c = j.filter(~pl.col("same_values"))
        if c.height:
            confs.append(
                pl.DataFrame(
                    {
                        RK: c.get_column(RK),
                        "table_name": [table] * c.height,
                        "natural_key": json_rows(c, key),
                        "stored_value": [
                            f"another row of this import (line {(r or 0) % RK_BASE}): {v}"
                            for r, v in zip(
                                c.get_column("_first_rk"),
                                json_rows(
                                    c.select([pl.col(f"{x}__stored").alias(x) for x in cmp_cols]),
                                    cmp_cols,
                                ),
                                strict=True,
                            )
                        ],
                        "incoming_value": json_rows(c, cmp_cols),
                    },
                    schema=CONFLICT_SCHEMA,
                )
            )
        if id_col:
            remap.update(dict(zip(j.get_column(id_col), j.get_column("_first_id"), strict=True)))
    if id_col:
        # one id, two different facts (natural keys): keep the first, the other for review
        clash = firsts.filter(pl.int_range(pl.len()).over(id_col) > 0)
        ids = ids_for(st, table, firsts.get_column(id_col))
        in_store = st.query(
            f'SELECT "{id_col}" AS _sid, {", ".join(f"{chr(34)}{k}{chr(34)} AS {chr(34)}_k_{k}{chr(34)}" for k in key)} '
            f'FROM "{table}" WHERE "{id_col}" IN (SELECT unnest(?))',
            [ids],
        )
        if in_store.height:
            cmp_key = firsts.join(
                in_store.cast({f"_k_{k}": schema[k] for k in key}),
                left_on=id_col,
                right_on="_sid",
                how="inner",
            )
            differs = pl.any_horizontal([~pl.col(k).eq_missing(pl.col(f"_k_{k}")) for k in key])
            clash = pl.concat([clash, cmp_key.filter(differs).select(firsts.columns)])
        if clash.height:
            statuses.append(clash.select(RK, status=pl.lit("conflict")))
            confs.append(
                pl.DataFrame(
                    {
                        RK: clash.get_column(RK),
                        "table_name": [table] * clash.height,
                        "natural_key": json_rows(clash, [id_col]),
                        "stored_value": [
                            "another row with this id describes a different " + table[:-1]
                        ]
                        * clash.height,
                        "incoming_value": json_rows(clash, key),
                    },
                    schema=CONFLICT_SCHEMA,
                )
            )
            firsts = firsts.filter(~pl.col("_pos").is_in(clash.get_column("_pos").implode()))
    # against the store
    pids = ids_for(st, table, firsts.get_column("patient_id"))
    sel = ", ".join(
        f'"{c}"' for c in dict.fromkeys([*key, *cmp_cols, *([id_col] if id_col else [])])
    )
    stored = st.query(f'SELECT {sel} FROM "{table}" WHERE patient_id IN (SELECT unnest(?))', [pids])
    if stored.height:
        stored = stored.cast({c: schema[c] for c in stored.columns if c in schema})
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
        probe = f"{id_col}__stored" if id_col else f"{cmp_cols[0]}__stored"
        j = j.with_columns(
            _matched=pl.col(probe).is_not_null()
            if id_col
            else pl.any_horizontal([pl.col(f"{c}__stored").is_not_null() for c in cmp_cols])
        )
        if not id_col:
            # compare with a presence marker: join again to know matches exactly
            marker = stored.select(key).unique().with_columns(_hit=pl.lit(True))
            j = (
                j.drop("_matched")
                .join(marker, on=key, how="left", nulls_equal=True)
                .with_columns(_matched=pl.col("_hit").fill_null(False))
            )
        j = j.with_columns(same_values=same_values(cmp_cols, schema, "_defaulted" in fr.columns))
        hit = j.filter(matched)
        statuses.append(_status(hit))
        c = hit.filter(~pl.col("same_values"))
        if c.height:
            confs.append(
                pl.DataFrame(
                    {
                        RK: c.get_column(RK),
                        "table_name": [table] * c.height,
                        "natural_key": json_rows(c, key),
                        "stored_value": json_rows(
                            c.select([pl.col(f"{x}__stored").alias(x) for x in cmp_cols]), cmp_cols
                        ),
                        "incoming_value": json_rows(c, cmp_cols),
                    },
                    schema=CONFLICT_SCHEMA,
                )
            )
        if id_col:
            remap.update(
                dict(zip(hit.get_column(id_col), hit.get_column(f"{id_col}__stored"), strict=True))
            )
            # within-import duplicates of a stored row point at the stored id too
            remap = {k: remap.get(v, v) for k, v in remap.items()}
        firsts = j.filter(~matched).select(firsts.columns)
    statuses.append(firsts.filter(pl.col(RK).is_not_null()).select(RK, status=pl.lit("new")))
    out = firsts.drop("_pos")
    return (
        out,
        pl.concat([s.cast({RK: pl.Int64}) for s in statuses]),
        concat(confs, CONFLICT_SCHEMA),
        remap,
    )


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


def attach_vitals(
    vitals: Sequence[pl.DataFrame | None],
    sessions_new: pl.DataFrame,
    st: store_mod.Store,
    bad: set[int],
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Attach vital signs to the nearest (dosing) session of the patient on the same day.
    Returns (row status, skipped, problems, conflicts, updates of stored sessions, the new
    sessions with their vitals filled)."""
    empty_status = pl.DataFrame(schema={RK: pl.Int64, "status": pl.String})
    no_updates = pl.DataFrame(
        schema={"session_id": pl.String, "column": pl.String, "value": pl.Float64}
    )
    v = concat(vitals, extract.VITAL_SCHEMA)
    if v.height:
        v = v.filter(
            ~pl.col(RK).is_in(list(bad))
            & pl.col("patient_id").is_not_null()
            & pl.col("at").is_not_null()
        )
    if v.height == 0:
        return (
            empty_status,
            pl.DataFrame(schema=SKIP_SCHEMA),
            pl.DataFrame(schema=PROBLEM_SCHEMA),
            pl.DataFrame(schema=CONFLICT_SCHEMA),
            no_updates,
            sessions_new,
        )
    vcols = sorted(set(VITAL_COLUMNS.values()))
    pids = ids_for(st, "sessions", v.get_column("patient_id"))
    stored = st.query(
        f"SELECT session_id, patient_id, started_at, session_type, {', '.join(vcols)} FROM sessions "
        "WHERE patient_id IN (SELECT unnest(?))",
        [pids],
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
    sess = pl.concat(cand)
    no_session_reason = (
        "vital sign with no session of this patient on that day: vital signs are kept "
        "only as session vitals"
    )
    if sess.height == 0:  # no session at all: every reading is skipped (no join needed)
        return (
            empty_status,
            v.select(RK, reason=pl.lit(no_session_reason))
            .sort(RK)
            .filter(pl.col(RK).ne_missing(pl.col(RK).shift(1)))
            .cast(SKIP_SCHEMA),
            pl.DataFrame(schema=PROBLEM_SCHEMA),
            pl.DataFrame(schema=CONFLICT_SCHEMA),
            no_updates,
            sessions_new,
        )
    sess = sess.with_columns(_day=pl.col("started_at").dt.date())
    j = v.with_columns(_day=pl.col("at").dt.date()).join(
        sess, on=["patient_id", "_day"], how="left", maintain_order="left"
    )
    # a reading with no session that day joins nothing (one row, no session); only the
    # readings with sessions need the nearest one chosen
    no_session = pl.col("session_id").is_null()
    skips = [
        j.filter(no_session)
        .select(
            RK,
            reason=pl.lit(no_session_reason),
        )
        .sort(RK)
        .filter(pl.col(RK).ne_missing(pl.col(RK).shift(1)))  # one per input row
    ]
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
    first = pl.int_range(pl.len()).over("session_id", "column") == 0
    j = j.with_columns(_first=first)
    skips.append(
        j.filter(~pl.col("_first")).select(
            RK,
            reason=pl.lit(
                "another reading of this vital sign was closer to the session start and was kept"
            ),
        )
    )
    j = j.filter(pl.col("_first"))
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
    j = concat(ok_rows)
    statuses, confs, updates = [], [], []
    if j.height:
        j = j.with_columns(
            status=pl.when(pl.col("_current").is_null())
            .then(pl.lit("new"))
            .when((pl.col("_current") - pl.col("value")).abs() < 0.5)
            .then(pl.lit("duplicate"))
            .otherwise(pl.lit("conflict"))
        )
        statuses.append(j.select(RK, "status"))
        c = j.filter(pl.col("status") == "conflict")
        if c.height:
            confs.append(
                c.select(
                    RK,
                    table_name=pl.lit("sessions"),
                    natural_key=pl.format(
                        '{{"session_id": "{}", "column": "{}"}}', "session_id", "column"
                    ),
                    stored_value=pl.col("_current").cast(pl.String),
                    incoming_value=pl.col("value").cast(pl.String),
                )
            )
        fill = j.filter(pl.col("status") == "new")
        updates.append(fill.filter(pl.col("_stored")).select("session_id", "column", "value"))
        mine = fill.filter(~pl.col("_stored"))
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
    return (
        concat(statuses, {RK: pl.Int64, "status": pl.String}),
        concat(skips, SKIP_SCHEMA).cast(SKIP_SCHEMA),
        concat(probs, PROBLEM_SCHEMA).cast(PROBLEM_SCHEMA),
        concat(confs, CONFLICT_SCHEMA).cast(CONFLICT_SCHEMA),
        concat(updates, no_updates.schema),
        sessions_new,
    )


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
    stored = st.query(
        "SELECT session_id, patient_id, started_at, session_type FROM sessions "
        "WHERE patient_id IN (SELECT unnest(?))",
        [pids],
    )
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
