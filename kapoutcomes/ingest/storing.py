"""Writing one import: canonical rows, quarantine, conflicts, ledger and vital-sign updates in
one transaction, then a CHECKPOINT."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest import deid
from kapoutcomes.ingest import read as rd
from kapoutcomes.ingest.extract import RK
from kapoutcomes.ingest.frames import QUARANTINE_META, RK_BASE, ImportFile, Resolved, concat
from kapoutcomes.ingest.report import ImportReport
from kapoutcomes.ingest.side_effects import scrub_names
from kapoutcomes.storage import privacy
from kapoutcomes.storage import store as store_mod


def write(
    st: store_mod.Store,
    files: list[ImportFile],
    result: Resolved,
    report: ImportReport,
    audit_as: tuple[str, str] | None = None,
) -> None:
    by_index = {f.index: f for f in files}
    rep_by_name = {r.import_id: r for r in report.files}
    frames = {}
    for table, fr in result.frames.items():
        if fr.height:
            frames[table] = fr.select(tables.columns(table))
    # quarantine: one record per (row, column, reason) with the de-identified row
    q_parts, c_parts, ledger = [], [], []
    now = dt.datetime.now()
    for f in files:
        lo, hi = f.index * RK_BASE, (f.index + 1) * RK_BASE - 1
        rep = rep_by_name[f.import_id]
        probs = result.problems.filter(pl.col(RK).is_between(lo, hi))
        name = privacy.scrub_text(f.src.name)
        if probs.height:
            q_parts.append(quarantine_records(f, probs, name))
        conf = result.conflicts.filter(pl.col(RK).is_between(lo, hi))
        if conf.height:
            c_parts.append(
                conf.select(
                    import_id=pl.lit(f.import_id),
                    file_name=pl.lit(name),
                    row_number=pl.col(RK) % RK_BASE,
                    table_name="table_name",
                    natural_key="natural_key",
                    stored_value="stored_value",
                    incoming_value="incoming_value",
                    status=pl.lit("open"),
                )
            )
        ledger.append(
            {
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
        )
    del by_index
    corrected = corrected_rows(files, result)
    updates = result.vital_updates

    # every import is audited (a library call without audit_as as the OS user), in the
    # import's own transaction, naming its import ids so that `audit verify` can check that
    # each ledger entry has its audit entry
    from kapoutcomes.storage import audit, keys

    audit_key = keys.for_store(st).audit
    user, role = audit_as if audit_as is not None else (_os_user(), "library call")

    def then(con: duckdb.DuckDBPyConnection) -> None:
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
        for column in updates.get_column("column").unique().to_list() if updates.height else []:
            part = updates.filter(pl.col("column") == column).select("session_id", "value")
            arrow = part.to_arrow()  # noqa: F841 - scanned by DuckDB
            con.execute(
                f'UPDATE sessions SET "{column}" = CAST(round(u.value, 3) AS '
                f"{'DOUBLE' if column == 'weight_kg' else 'INTEGER'}) "
                f'FROM arrow u WHERE sessions.session_id = u.session_id AND sessions."{column}" IS NULL'
            )
        if corrected.height:
            arrow_c = corrected.to_arrow()  # noqa: F841
            con.execute(
                "UPDATE quarantine SET status = c.status FROM arrow_c c "
                "WHERE quarantine.status = 'open' AND quarantine.row_number = c.row_number "
                "AND (quarantine.import_id = c.import_id "
                "OR (c.import_id = '' AND quarantine.file_name = c.file_name))"
            )

    st.write_tables(
        frames,
        ledger=ledger,
        quarantine=concat(q_parts) if q_parts else None,
        conflicts=concat(c_parts) if c_parts else None,
        then=then,
    )
    st.con.execute("CHECKPOINT")
    audit.save_checkpoint(st, audit_key)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


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
    ident = [h for h in f.identifiers if h in rows.columns]
    keep = [
        h
        for h in raw.headers
        if h not in ident and h not in (rd.LINE, rd.SHAPE) and h not in QUARANTINE_META
    ]
    words = deid.file_identifier_words(fr, ident, ex.mrn_col)
    js = deid.raw_rows_json(
        rows, keep, ex.mrn_col, rows.get_column("_pid"), ex.dob_col, ident, words
    )
    # a record whose cells may sit in the wrong columns (too many fields, or split by a line
    # break in an unquoted cell) keeps no cells: a shifted name cannot be told from a value
    shifted = {rk for rk, line in rows.select(RK, rd.LINE).iter_rows() if line in raw.suspect}
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
            values.append(deid.scrub_file_words(scrub_names(value, names.get(rk, ())), words))
    out = probs.with_columns(value=pl.Series(values, dtype=pl.String)).join(rows, on=RK, how="left")
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
