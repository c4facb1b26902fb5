"""Writing one import: canonical rows, quarantine, conflicts, ledger and vital-sign updates in
one transaction, then a CHECKPOINT."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest import deid, fhir
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK
from kapoutcomes.ingest.frames import QUARANTINE_META, RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import FileReport, ImportReport
from kapoutcomes.ingest.side_effects import scrub_names
from kapoutcomes.storage import store as store_mod


def write(
    st: store_mod.Store,
    files: list[ImportFile],
    result: Resolved,
    report: ImportReport,
    audit_as: tuple[str, str] | None = None,
) -> None:
    frames = {}
    words = frozenset().union(*(f.words for f in files))
    unnamed = set().union(*(rows_without_identifiers(f) for f in files))
    for table, fr in result.frames.items():
        if fr.height:
            fr = scrub_unnamed_rows(fr, unnamed)
            frames[table] = scrub_free_text(fr.select(tables.columns(table)), words)
    # quarantine: one record per (row, column, reason) with the de-identified row
    q_parts, c_parts, ledger = [], [], []
    now = dt.datetime.now()
    rep_by_name = {r.import_id: r for r in report.files}
    for f in files:
        lo, hi = f.index * RK_BASE, (f.index + 1) * RK_BASE - 1
        name = f.safe_name or deid.scrub_file_name(f.src.name, f.words)
        probs = result.problems.filter(pl.col(RK).is_between(lo, hi))
        if probs.height:
            q_parts.append(_scope(quarantine_records(f, probs, name)))
        conf = result.conflicts.filter(pl.col(RK).is_between(lo, hi))
        if conf.height:
            c_parts.append(conflict_records(f, conf, name))
        ledger.append(ledger_entry(f, rep_by_name[f.import_id], name, now))
    corrected = corrected_rows(files, result)
    updates = result.vital_updates
    reviews = review_records(report, now)
    written = written_keys(files, result)
    first = ledger[0]["import_id"] if ledger else None

    # every import is audited (a library call without audit_as as the OS user), in the
    # import's own transaction, naming its import ids so that `audit verify` can check that
    # each ledger entry has its audit entry
    from kapoutcomes.storage import audit, keys

    audit_key = keys.for_store(st).audit
    user, role = audit_as if audit_as is not None else (_os_user(), "library call")

    def then(con: duckdb.DuckDBPyConnection) -> None:
        _audit(con, audit_key, user, role, ledger)
        record_writes(st, con, ledger, written)
        st.fill_session_vitals(con, updates, import_id=first)
        if reviews.height:
            st.append(con, "review_now", reviews)
        if corrected.height:
            st.settle_quarantine(con, corrected, import_id=first)
            st.settle_reviews(con)

    st.write_tables(
        frames,
        ledger=ledger,
        quarantine=concat(q_parts) if q_parts else None,
        conflicts=concat(c_parts) if c_parts else None,
        then=then,
    )
    st.checkpoint()
    audit.save_checkpoint(st, audit_key)


def review_records(report: ImportReport, now: dt.datetime) -> pl.DataFrame:
    """The import's review-now entries as the store's ``review_now`` rows (open)."""
    rows = [
        {
            "import_id": f.import_id,
            "file_name": r.file,
            "row_number": r.line,
            "kind": r.kind,
            "headline": r.headline,
            "seen": r.seen,
            "reason": r.reason,
            "action": r.action,
            "raised_at": now,
            "status": "open",
            "reviewed_by": None,
            "reviewed_at": None,
        }
        for f in report.files
        for r in f.review_now
    ]
    return pl.DataFrame(rows, schema=store_mod.REVIEW_SCHEMA)


def _scope(records: pl.DataFrame) -> pl.DataFrame:
    """Rows whose every problem is out of scope (before 2000, a minor) are ``out_of_scope``:
    kept and counted, not listed for correction."""
    out = pl.col("reason").str.starts_with("out of scope: ").all().over("row_number")
    return records.with_columns(
        status=pl.when(out).then(pl.lit("out_of_scope")).otherwise(pl.col("status"))
    )


def written_keys(files: list[ImportFile], result: Resolved) -> dict[str, pl.DataFrame]:
    """Per canonical table, the natural key of every row written and the import id of the
    file it came from (for an undo)."""
    ids = pl.DataFrame(
        {"_file": [f.index for f in files], "import_id": [f.import_id for f in files]},
        schema={"_file": pl.Int64, "import_id": pl.String},
    )
    out = {}
    for table, fr in result.frames.items():
        if fr.height == 0:
            continue
        keys = list(tables.NATURAL_KEYS[table])
        out[table] = (
            fr.select((pl.col(RK) // RK_BASE).cast(pl.Int64).alias("_file"), *keys)
            .join(ids, on="_file", how="left")
            .select(pl.col("import_id").fill_null(files[0].import_id), *keys)
        )
    return out


def record_writes(
    st: store_mod.Store,
    con: duckdb.DuckDBPyConnection,
    ledger: list[dict[str, Any]],
    written: dict[str, pl.DataFrame],
) -> None:
    """Record what the import writes, in its own transaction, so that it can be undone."""
    st.insert(
        con,
        "import_writes",
        pl.DataFrame(
            {
                "import_id": [e["import_id"] for e in ledger],
                "action": "file",
                "table_name": "import_ledger",
                "row_key": [e["import_id"] for e in ledger],
                "column_name": None,
            },
            schema=store_mod.WRITES_SCHEMA,
        ),
    )
    for table, keys in written.items():
        st.record_inserts(con, table, keys)


#: Free-text columns of the canonical tables: scrubbed of identifier patterns and of the
#: import's identifier words (patients' and relatives' names, MRNs) before they are written.
FREE_TEXT = ("event_text", "description", "sig", "notes", "note")


def rows_without_identifiers(f: ImportFile) -> set[int]:
    """The rows (RK) of a file with identifier columns whose own identifier cells are not all
    filled: a row cut short, or shifted, whose name may sit in its free text where the file's
    identifier words miss it (fuzz bug 11). Their free text loses name-shaped words."""
    raw = f.raw
    ident = [h for h in f.identifiers if raw is not None and h in raw.frame.columns]
    if raw is None or not ident or (f.fit is not None and f.fit.preset == "fhir"):
        return set()
    # an empty cell, a NUL left in it (``read.guard_cells``) or a placeholder ("N/A")
    empty = pl.any_horizontal(
        pl.col(h).is_null()
        | pl.col(h)
        .str.replace_all("\x00", "", literal=True)
        .str.strip_chars()
        .str.to_lowercase()
        .is_in(sorted(deid.EMPTY_IDENTIFIER))
        for h in ident
    )
    lines = raw.frame.filter(empty).get_column(rd.LINE)
    return set((lines + f.index * RK_BASE).to_list())


def scrub_unnamed_rows(frame: pl.DataFrame, unnamed: set[int]) -> pl.DataFrame:
    """``frame`` with the free text of the rows in ``unnamed`` scrubbed of name-shaped words
    (``deid.scrub_name_shaped``)."""
    cols = [c for c in FREE_TEXT if c in frame.columns and frame.schema[c] == pl.String]
    if not unnamed or not cols or RK not in frame.columns:
        return frame
    hit = pl.col(RK).is_in(sorted(unnamed)).fill_null(False)
    return frame.with_columns(
        pl.when(hit)
        .then(pl.col(c).map_elements(deid.scrub_name_shaped, return_dtype=pl.String))
        .otherwise(pl.col(c))
        .alias(c)
        for c in cols
    )


def scrub_free_text(frame: pl.DataFrame, words: frozenset[str]) -> pl.DataFrame:
    """``frame`` with its free-text columns (``FREE_TEXT``) scrubbed (``deid.scrub_kept_text``)."""
    cols = [c for c in FREE_TEXT if c in frame.columns and frame.schema[c] == pl.String]
    for c in cols:
        distinct = frame.get_column(c).drop_nulls().unique().to_list()
        if distinct:
            table = {v: deid.scrub_kept_text(v, words) for v in distinct}
            frame = frame.with_columns(
                pl.col(c).replace_strict(table, default=None, return_dtype=pl.String)
            )
    return frame


def conflict_records(f: ImportFile, conf: pl.DataFrame, name: str) -> pl.DataFrame:
    """The conflicts of one file, as the store's ``conflicts`` rows (open, for review)."""

    def scrub(col: str) -> pl.Expr:
        return pl.col(col).map_elements(
            lambda v: deid.scrub_file_words(v, f.words), return_dtype=pl.String
        )

    return conf.select(
        import_id=pl.lit(f.import_id),
        file_name=pl.lit(name),
        row_number=pl.col(RK) % RK_BASE,
        table_name="table_name",
        natural_key=scrub("natural_key"),
        stored_value=scrub("stored_value"),
        incoming_value=scrub("incoming_value"),
        status=pl.lit("open"),
    )


def ledger_entry(f: ImportFile, rep: FileReport, name: str, now: dt.datetime) -> dict[str, Any]:
    """The import ledger's entry for one file, its report kept as JSON."""
    return {
        "import_id": f.import_id,
        "file_name": name,
        "content_sha256": f.src.sha256,
        "preset": f"{rep.preset}:{rep.kind}",
        "imported_at": now,
        "rows_read": rep.rows_read,
        "accepted": rep.accepted,
        "quarantined": rep.quarantined,
        "skipped": rep.skipped,
        "duplicates": rep.duplicates,
        "conflicts": rep.conflicts,
        "report_json": store_mod.to_json(rep.to_dict()),
    }


def _audit(
    con: duckdb.DuckDBPyConnection,
    audit_key: bytes,
    user: str,
    role: str,
    ledger: list[dict[str, Any]],
) -> None:
    from kapoutcomes.storage import audit

    audit.append_entry(
        con,
        audit_key,
        user,
        role,
        "import",
        ", ".join(entry["file_name"] for entry in ledger),
        f"accepted={sum(e['accepted'] for e in ledger)} "
        f"quarantined={sum(e['quarantined'] for e in ledger)} "
        f"skipped={sum(e['skipped'] for e in ledger)} "
        f"import_ids={','.join(e['import_id'] for e in ledger)}",
    )


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def shifted_rows(f: ImportFile, rows: pl.DataFrame, probs: pl.DataFrame) -> set[int]:
    """The quarantined rows (RK) that keep no cells in the quarantine: their cells may sit in
    the wrong columns, so a name among them cannot be told from a value."""
    assert f.raw is not None and f.fit is not None
    # a record whose cells may sit in the wrong columns (too many fields, or split by a line
    # break in an unquoted cell) keeps no cells: a shifted name cannot be told from a value
    shifted = {rk for rk, line in rows.select(RK, rd.LINE).iter_rows() if line in f.raw.suspect}
    # so does a row with a person's name in a cell that failed to read as a code, a number, a
    # date or a word of a closed list (a relative's name in ``route``): its cells are shifted
    free = {h for role, h in f.fit.roles.items() if role in (*FREE_TEXT, "side_effects")}
    shifted |= {
        rk
        for rk, column, value in probs.select(RK, "column", "value").iter_rows()
        if column not in free and deid.names_a_person(value)
    }
    # and a row failing in two or more columns (evidence of a shift: a row short of cells, its
    # values moved along), or missing its own identifier cells, with a person's name in a
    # free-text cell: the name may be the row's own, moved out of its identifier column,
    # where the file's identifier words miss it
    failing = (
        probs.filter(~pl.col("column").is_in(sorted(free)))
        .group_by(RK)
        .agg(pl.col("column").n_unique().alias("n"))
    )
    several = set(failing.filter(pl.col("n") >= 2).get_column(RK).to_list())
    # as does a row whose own identifier cells are not all filled (cut short, or shifted)
    several |= rows_without_identifiers(f)
    texts = [h for h in free if h in rows.columns]
    shifted |= {
        rk
        for rk, *cells in rows.select(RK, *texts).iter_rows()
        if rk in several and any(deid.names_a_person(c) for c in cells if c is not None)
    }
    return shifted


def quarantine_records(f: ImportFile, probs: pl.DataFrame, name: str) -> pl.DataFrame:
    raw = f.raw
    ex = f.ex
    assert raw is not None and ex is not None
    fr = raw.frame.with_columns((pl.col(rd.LINE) + f.index * RK_BASE).alias(RK))
    if ex.patient_ids is not None:
        fr = fr.with_columns(ex.patient_ids.alias("_pid"))
    else:
        fr = fr.with_columns(_pid=pl.lit(None, dtype=pl.String))
    rows = fr.filter(pl.col(RK).is_in(probs.get_column(RK).unique().implode()))
    # the row's own identifier values, scrubbed from its other cells: a date of birth too,
    # whether the import reads its column or not (a shifted cell may hold it)
    births = deid.birth_date_columns(raw.headers)
    ident = [h for h in (*f.identifiers, *births) if h in rows.columns]
    keep = used_columns(f)
    words = f.words
    links = [f.fit.roles[c] for c in LINKS if c in f.fit.roles and f.fit.preset == "canonical"]
    birth_dates = deid.births_in(raw.frame, raw.headers)
    ids = deid.FileIdentifiers(ex.mrn_col, ex.dob_col, ident, words, tuple(links), birth_dates)
    js = deid.raw_rows_json(rows, keep, rows.get_column("_pid"), ids)
    if f.fit.preset == "fhir":  # a resource as the layout rows it was read into
        laid = fhir.quarantine_rows(raw, rows.get_column(rd.LINE), rows.get_column("_pid"), words)
        js = [laid.get(line, j) for line, j in zip(rows.get_column(rd.LINE), js, strict=True)]
    shifted = shifted_rows(f, rows, probs)
    js = ["{}" if rk in shifted else j for rk, j in zip(rows.get_column(RK), js, strict=True)]
    names = {
        rk: tuple(str(v) for v in vals if v) for rk, *vals in rows.select(RK, *ident).iter_rows()
    }
    rows = rows.select(RK).with_columns(raw_row=pl.Series(js, dtype=pl.String))
    # the value of the failing cell, scrubbed of identifier patterns and of this row's own
    # identifier values; the MRN never appears (its pseudonym does), a birth date as its year
    values = []
    for rk, column, value in probs.select(RK, "column", "value").iter_rows():
        if value is None or column == ex.mrn_col or rk in shifted:
            values.append(None)
        elif column == ex.dob_col:
            values.append(deid.year_only(value))
        else:
            kept = deid.scrub_file_words(scrub_names(value, names.get(rk, ()), cell=True), words)
            values.append(deid.birth_scrubbed(kept, birth_dates))
    # reasons are the importer's own words (never cell text); a file word is still removed
    reasons = [
        deid.scrub_file_words(r, words)
        for r in probs.get_column("reason").cast(pl.String).to_list()
    ]
    out = probs.with_columns(
        value=pl.Series(values, dtype=pl.String), reason=pl.Series(reasons, dtype=pl.String)
    ).join(rows, on=RK, how="left")
    return out.select(
        import_id=pl.lit(f.import_id),
        file_name=pl.lit(name),
        row_number=pl.col(RK) % RK_BASE,
        column_name="column",
        value="value",
        reason="reason",
        raw_row="raw_row",
        status=pl.lit("open"),
    )


#: Id columns of the canonical layout kept as given in a quarantined row (``FileIdentifiers``).
LINKS = ("session_id", "event_id")


def used_columns(f: ImportFile) -> list[str]:
    """The columns the preset or mapping reads (``Fit.reads``, an allow-list: the roles'
    columns and the columns the layout is recognised by): only these are kept in the
    quarantine's raw rows, so that the download is read as the same layout again; every other column (an unrecognised ``Tel``, ``Account #`` or
    ``Responsible Party``, any identifier column) is dropped before anything is written."""
    assert f.raw is not None and f.fit is not None
    # a FHIR file's raw columns are already only what the preset reads (ingest.fhir.collect)
    used = set(f.raw.headers) if f.fit.preset == "fhir" else f.fit.reads
    return [
        h
        for h in f.raw.headers
        if h in used
        and h not in f.identifiers
        and h not in (rd.LINE, rd.SHAPE)
        and h not in QUARANTINE_META
    ]


def corrected_rows(files: list[ImportFile], result: Resolved) -> pl.DataFrame:
    """Rows of a downloaded quarantine file imported again: their original quarantine entries
    become ``corrected`` (the row is now accepted or needs nothing more) or ``resubmitted``
    (quarantined again: the new entry, under the new file, is the open one)."""
    parts = []
    bad = result.problems.get_column(RK).unique()
    for f in files:
        raw = f.raw
        if raw is None or not {"quarantine_file", "quarantine_row"} <= set(raw.headers):
            continue
        fr = raw.frame.with_columns((pl.col(rd.LINE) + f.index * RK_BASE).alias(RK))
        imp = pl.col("quarantine_import") if "quarantine_import" in raw.headers else pl.lit("")
        parts.append(
            fr.select(
                import_id=imp.fill_null(""),
                file_name=pl.col("quarantine_file"),
                row_number=pl.col("quarantine_row").cast(pl.Int64, strict=False),
                status=pl.when(pl.col(RK).is_in(bad.implode()))
                .then(pl.lit("resubmitted"))
                .otherwise(pl.lit("corrected")),
            )
        )
    schema = {
        "import_id": pl.String,
        "file_name": pl.String,
        "row_number": pl.Int64,
        "status": pl.String,
    }
    return concat(parts, schema)
