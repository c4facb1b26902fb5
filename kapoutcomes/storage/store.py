"""The embedded store: a DuckDB file holding the canonical tables, the import ledger, the
quarantine, review conflicts and the audit log. Every write is one transaction; reading back
yields frames that pass the table models.

Location: ``--store`` flag, else ``$KAPOUTCOMES_STORE``, else ``~/.kapoutcomes/store.duckdb``
(``$KAPOUTCOMES_HOME`` moves the folder). The file is created readable by the owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from kapoutcomes import tables
from kapoutcomes.storage import privacy

STORE_ENV = "KAPOUTCOMES_STORE"
CANONICAL = tuple(tables.MODELS)

_DUCK_TYPES = {
    pl.String: "VARCHAR",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
}

LEDGER_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "file_name": pl.String,
    "content_sha256": pl.String,
    "preset": pl.String,
    "imported_at": pl.Datetime("us"),
    "rows_read": pl.Int64,
    "accepted": pl.Int64,
    "quarantined": pl.Int64,
    "skipped": pl.Int64,
    "duplicates": pl.Int64,
    "conflicts": pl.Int64,
    "report_json": pl.String,
}

QUARANTINE_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "file_name": pl.String,
    "row_number": pl.Int64,
    "column_name": pl.String,
    "value": pl.String,
    "reason": pl.String,
    "raw_row": pl.String,  # the de-identified input row as JSON, for correction
    "status": pl.String,  # open | corrected
}

CONFLICT_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "file_name": pl.String,
    "row_number": pl.Int64,
    "table_name": pl.String,
    "natural_key": pl.String,
    "stored_value": pl.String,
    "incoming_value": pl.String,
    "status": pl.String,  # open | resolved
}

AUDIT_SCHEMA: dict[str, Any] = {
    "seq": pl.Int64,
    "at": pl.Datetime("us"),
    "user_name": pl.String,
    "role": pl.String,
    "action": pl.String,
    "target": pl.String,
    "detail": pl.String,
    "prev_hash": pl.String,
    "entry_hash": pl.String,
}

BOOKKEEPING: dict[str, dict[str, Any]] = {
    "import_ledger": LEDGER_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "conflicts": CONFLICT_SCHEMA,
    "audit_log": AUDIT_SCHEMA,
}


def _duck_type(dtype: Any) -> str:
    if isinstance(dtype, pl.Datetime) or dtype == pl.Datetime:
        return "TIMESTAMP"
    for k, v in _DUCK_TYPES.items():
        if dtype == k:
            return v
    raise TypeError(f"no DuckDB type for {dtype}")


def _schema_of(table: str) -> dict[str, Any]:
    if table in BOOKKEEPING:
        return BOOKKEEPING[table]
    return dict(tables.empty(table).schema)


def default_path() -> Path:
    env = os.environ.get(STORE_ENV)
    return Path(env) if env else privacy.home() / "store.duckdb"


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says why and what to do."""


#: Settings applied at every connection: no extension is ever downloaded or loaded behind
#: the user's back (opening a store must never reach the network).
SAFE_SETTINGS = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}


def problem(path: str, error: BaseException) -> str:
    """One line saying what is wrong with the store file and what to do."""
    text = " ".join(str(error).split())
    low = text.lower()
    if "lock" in low and ("conflicting" in low or "could not set lock" in low):
        return (
            f"{path}: the store is busy (another kapoutcomes process, such as an import, holds "
            "it); try again when it has finished"
        )
    if any(w in low for w in ("no space left", "disk full", "enospc", "file too large")):
        return (
            f"{path}: the disk is full (or the file-size limit was reached): {text[:160]}; "
            "free space and try again (the unfinished write was rolled back)"
        )
    if "not a valid duckdb" in low or "duckdb database file" in low or "magic" in low:
        return (
            f"{path}: not a kapoutcomes store (not a DuckDB database file); check the path, or "
            "restore the store from its backup"
        )
    if "corrupt" in low or "checksum" in low or "truncat" in low or "serializ" in low:
        return (
            f"{path}: the store file is damaged ({text[:200]}); restore it and secret.key from "
            "the last backup (see docs/security.md)"
        )
    return f"{path}: the store cannot be used ({text[:300]})"


def _connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    # owner-only from the first byte: DuckDB creates the file with the process umask
    previous = os.umask(0o077)
    try:
        return duckdb.connect(path, read_only=read_only, config=dict(SAFE_SETTINGS))
    except (duckdb.Error, OSError) as e:
        raise StoreError(problem(path, e)) from None
    finally:
        os.umask(previous)


def owner_only(path: str | os.PathLike[str]) -> None:
    """Mode 0600 for a file kapoutcomes wrote (and the store's write-ahead log, if any)."""
    for p in (Path(path), Path(f"{path}.wal")):
        with contextlib.suppress(OSError):
            os.chmod(p, 0o600)


class Store:
    """A kapoutcomes store. ``Store(":memory:")`` gives a throw-away in-memory store."""

    def __init__(self, path: str | os.PathLike[str] | None = None, read_only: bool = False):
        self.path = str(path) if path is not None else str(default_path())
        self.in_memory = self.path == ":memory:"
        self.read_only = read_only
        if not self.in_memory:
            p = Path(self.path)
            p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            new = not p.exists()
            if read_only and new:
                raise StoreError(f"{p}: no store here yet; import data or run `kapoutcomes sample`")
            if not new and p.is_dir():
                raise StoreError(f"{p}: this is a folder, not a store file")
        self.con = _connect(self.path, read_only)
        if not self.in_memory:
            owner_only(self.path)
        if not read_only:
            self._create()

    # -- schema -----------------------------------------------------------------------------
    def _create(self) -> None:
        try:
            for table in (*CANONICAL, *BOOKKEEPING):
                cols = ", ".join(
                    f'"{name}" {_duck_type(dtype)}' for name, dtype in _schema_of(table).items()
                )
                self.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS store_meta (name VARCHAR PRIMARY KEY, value VARCHAR)"
            )
        except duckdb.Error as e:
            self.con.close()
            raise StoreError(problem(self.path, e)) from None

    # -- facts about the store itself (key id, key derivation) ------------------------------
    def meta(self, name: str) -> str | None:
        try:
            rows = self.con.execute(
                "SELECT value FROM store_meta WHERE name = ?", [name]
            ).fetchall()
        except duckdb.CatalogException:  # a store from before store_meta, opened read-only
            return None
        return str(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", [name, value])

    def holds_data(self) -> bool:
        """True when any table holds a row (patients, ledger, quarantine or audit trail)."""
        return any(n > 0 for n in self.counts().values())

    # -- transactions -----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: everything inside commits together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def append(self, con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
        """Insert ``frame`` into ``table`` on ``con`` (call inside ``transaction``)."""
        if frame.height == 0:
            return 0
        schema = _schema_of(table)
        missing = [c for c in schema if c not in frame.columns]
        if missing:
            raise StoreError(f"{table}: frame lacks columns {', '.join(missing)}")
        frame = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        arrow = frame.to_arrow()  # noqa: F841 - scanned by DuckDB below
        cols = ", ".join(f'"{c}"' for c in schema)
        con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM arrow')
        return frame.height

    def write_tables(
        self,
        frames: dict[str, pl.DataFrame],
        ledger: dict[str, Any] | list[dict[str, Any]] | None = None,
        quarantine: pl.DataFrame | None = None,
        conflicts: pl.DataFrame | None = None,
        then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    ) -> None:
        """Write canonical frames plus bookkeeping in one transaction. ``ledger`` may be one
        entry or a list (one per file); ``then`` runs further statements (e.g. filling session
        vitals) inside the same transaction."""
        with self.transaction() as con:
            for table, frame in frames.items():
                self.append(con, table, frame)
            if quarantine is not None:
                self.append(con, "quarantine", quarantine)
            if conflicts is not None:
                self.append(con, "conflicts", conflicts)
            if ledger is not None:
                entries = ledger if isinstance(ledger, list) else [ledger]
                self.append(con, "import_ledger", pl.DataFrame(entries, schema=LEDGER_SCHEMA))
            if then is not None:
                then(con)

    def replace_all(self, frames: dict[str, pl.DataFrame]) -> None:
        """Replace every canonical table with ``frames`` in one transaction (demo loading)."""
        with self.transaction() as con:
            for table in CANONICAL:
                con.execute(f'DELETE FROM "{table}"')
                if table in frames:
                    self.append(con, table, frames[table])

    # -- reading ----------------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params or None).pl()

    def read(
        self, table: str, validate: bool = True, columns: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """A canonical or bookkeeping table; canonical tables are checked against the model
        unless ``validate=False``. ``columns`` reads only those (in the table's order; with
        ``validate`` every column is read and checked first)."""
        schema = _schema_of(table)
        if columns is not None:
            unknown = [c for c in columns if c not in schema]
            if unknown:
                raise StoreError(f"{table}: no columns {', '.join(unknown)}")
            if validate and table in tables.MODELS:
                return self.read(table).select([c for c in schema if c in columns])
            schema = {c: t for c, t in schema.items() if c in columns}
        cols = ", ".join(f'"{c}"' for c in schema)
        frame = self.con.sql(f'SELECT {cols} FROM "{table}"').pl()
        frame = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        if validate and table in tables.MODELS and frame.height:
            v = tables.validate(table, frame)
            if not v.ok:
                first = v.failures.row(0, named=True)
                raise StoreError(
                    f"{self.path}: table {table} holds {v.failures.height} invalid value(s), "
                    f"first at row {first['row']}, column {first['column']} = {first['value']!r}: "
                    f"{first['reason']}"
                )
            frame = v.valid
        return frame

    def read_all(
        self, validate: bool = True, columns: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, pl.DataFrame]:
        """Every canonical table. Every row was validated when it was written (imports,
        corrections and demo loading all go through the table models), so analytics (the
        report, the dashboards) read with ``validate=False``; validating again costs more
        than reading (1.1 s of 1.5 s for 100,000 patients). ``columns`` (table -> columns)
        reads only those columns of the tables it names (e.g. ``cohort.REPORT_COLUMNS``)."""
        cols = columns or {}
        return {t: self.read(t, validate=validate, columns=cols.get(t)) for t in CANONICAL}

    def counts(self) -> dict[str, int]:
        return {
            t: int(self.con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0])  # type: ignore[index]
            for t in (*CANONICAL, *BOOKKEEPING)
        }

    def is_empty(self) -> bool:
        return all(self.counts()[t] == 0 for t in CANONICAL)

    def has_import(self, content_sha256: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM import_ledger WHERE content_sha256 = ?", [content_sha256]
        ).fetchall()[0]
        return bool(row and row[0])

    def ledger(self) -> pl.DataFrame:
        return self.read("import_ledger").sort("imported_at", descending=True)

    def info(self) -> dict[str, Any]:
        c = self.counts()
        span = self.con.execute("SELECT min(started_at), max(started_at) FROM sessions").fetchall()[
            0
        ]
        clinics = self.con.execute("SELECT count(DISTINCT clinic) FROM patients").fetchall()[0]
        return {
            "store": self.path,
            "rows": c,
            "clinics": int(clinics[0]) if clinics else 0,
            "first_session": None if not span or span[0] is None else str(span[0]),
            "last_session": None if not span or span[1] is None else str(span[1]),
        }

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_json(obj: Any) -> str:
    return json.dumps(obj, default=str, sort_keys=True)
