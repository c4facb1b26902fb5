"""The embedded store: a DuckDB file holding the canonical tables, the import ledger, the
quarantine, review conflicts and the audit log. Every write is one transaction; reading back
yields frames that pass the table models.

Location: ``--store`` flag, else ``$KAPOUTCOMES_STORE``, else ``~/.kapoutcomes/store.duckdb``
(``$KAPOUTCOMES_HOME`` moves the folder). The file is created readable by the owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from kapoutcomes import tables
from kapoutcomes.storage import privacy

STORE_ENV = "KAPOUTCOMES_STORE"
CANONICAL = tuple(tables.MODELS)

#: One store's tables are created by one thread at a time: the app's sessions and its deferred
#: downloads open the store from several threads of one process, which share one DuckDB
#: database, and two ``CREATE TABLE IF NOT EXISTS`` of the same new table in two threads end
#: in a write-write conflict (a download that sends nothing, a page that says "cannot be used").
_CREATING = threading.Lock()

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

#: Safety signals an import could not store (a PHQ-9 item 9 answer not known to be 0, a
#: serious adverse event, on a quarantined row): listed on the Safety page until the row is
#: corrected or a clinician marks the entry reviewed. Never holds an identifier.
REVIEW_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "file_name": pl.String,
    "row_number": pl.Int64,
    "kind": pl.String,  # phq9_item9 | serious_adverse_event
    "headline": pl.String,
    "seen": pl.String,
    "reason": pl.String,
    "action": pl.String,
    "raised_at": pl.Datetime("us"),
    "status": pl.String,  # open | corrected | reviewed
    "reviewed_by": pl.String,
    "reviewed_at": pl.Datetime("us"),
}

#: What a clinician recorded about a must-not-miss safety signal on the Safety page (a PHQ-9
#: item 9 answer above 0, a serious adverse event): append-only, one row per review, the
#: newest shown beside the signal; each written in one transaction with its audit entry
#: (``signal_reviews.record``). The patient is named by pseudonym only and the note is
#: scrubbed of identifier-shaped text.
SIGNAL_REVIEW_SCHEMA: dict[str, Any] = {
    "signal_id": pl.String,  # kind/patient_id/date-time[/event]: cohort.safety.signal_id
    "kind": pl.String,  # phq9_item9 | serious_adverse_event
    "patient_id": pl.String,
    "signal_at": pl.Datetime("us"),
    "outcome": pl.String,  # reviewed | action taken
    "note": pl.String,
    "reviewed_by": pl.String,
    "role": pl.String,
    "reviewed_at": pl.Datetime("us"),
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

#: What each import wrote, so that it can be undone exactly: ``insert`` (a canonical row,
#: ``row_key`` = md5 of its natural key as DuckDB writes it), ``fill`` (a vital sign filled
#: into a stored session: ``row_key`` = session id, ``column_name``), ``settle`` (another
#: import's quarantine entry closed: ``row_key`` = its import id, file name and row number
#: as JSON, ``column_name`` = the status it had) and ``file`` (one per ledger entry: the
#: import was recorded, even when it wrote nothing).
WRITES_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "action": pl.String,  # insert | fill | settle | file
    "table_name": pl.String,
    "row_key": pl.String,
    "column_name": pl.String,
}

#: Imports undone: the ledger entry stays (history), marked by a row here.
UNDONE_SCHEMA: dict[str, Any] = {
    "import_id": pl.String,
    "undone_at": pl.Datetime("us"),
    "user_name": pl.String,
    "role": pl.String,
}

BOOKKEEPING: dict[str, dict[str, Any]] = {
    "import_ledger": LEDGER_SCHEMA,
    "quarantine": QUARANTINE_SCHEMA,
    "conflicts": CONFLICT_SCHEMA,
    "audit_log": AUDIT_SCHEMA,
    "review_now": REVIEW_SCHEMA,
    "signal_reviews": SIGNAL_REVIEW_SCHEMA,
    "import_writes": WRITES_SCHEMA,
    "import_undone": UNDONE_SCHEMA,
}


#: A quarantine entry's key in ``import_writes`` (import id, file name, row number).
_QUARANTINE_KEY = (
    "concat_ws('\x02', quarantine.import_id, quarantine.file_name, "
    "CAST(quarantine.row_number AS VARCHAR))"
)


#: A conflict's id: the first 12 hex digits of the md5 of its import, row, table and key.
_CONFLICT_ID = (
    "substr(md5(concat_ws('\x02', import_id, CAST(row_number AS VARCHAR), table_name, "
    "natural_key)), 1, 12)"
)


def _key_sql(table: str, alias: str = "") -> str:
    """The md5 of a canonical row's natural key, computed by DuckDB (the same expression
    when an import records its rows and when an undo finds them)."""
    prefix = f"{alias}." if alias else ""
    parts = ", ".join(
        f"coalesce(CAST({prefix}\"{c}\" AS VARCHAR), '\x01')" for c in tables.NATURAL_KEYS[table]
    )
    return f"md5(concat_ws('\x02', {parts}))"


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
    # a SQLite (or other foreign) database: DuckDB names the extension it would need, which
    # is never installed (SAFE_SETTINGS), so the file is simply not a store
    foreign = "extension" in low and ("sqlite" in low or "install" in low)
    if "not a valid duckdb" in low or "duckdb database file" in low or "magic" in low or foreign:
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
        with _CREATING:
            self._create_tables()

    def _create_tables(self) -> None:
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
        return self.insert(con, table, frame)

    @staticmethod
    def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
        """Insert ``frame`` into ``table`` on ``con``, for a caller holding only the
        connection of a transaction (the audit chain)."""
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

    @staticmethod
    def fill_session_vitals(
        con: duckdb.DuckDBPyConnection, updates: pl.DataFrame, import_id: str | None = None
    ) -> None:
        """Fill stored sessions' missing vital signs on ``con`` (inside ``transaction``) from
        ``updates`` (session_id, column, value); a value the session already holds is kept.
        With ``import_id``, each filled (session, column) is recorded for an undo."""
        columns = updates.get_column("column").unique().to_list() if updates.height else []
        for column in columns:
            part = updates.filter(pl.col("column") == column).select("session_id", "value")
            arrow = part.to_arrow()  # noqa: F841 - scanned by DuckDB
            filled = con.execute(
                f'UPDATE sessions SET "{column}" = CAST(round(u.value, 3) AS '
                f"{'DOUBLE' if column == 'weight_kg' else 'INTEGER'}) "
                f'FROM arrow u WHERE sessions.session_id = u.session_id AND sessions."{column}" IS NULL '
                "RETURNING sessions.session_id"
            ).fetchall()
            if import_id is not None and filled:
                Store.insert(
                    con,
                    "import_writes",
                    pl.DataFrame(
                        {
                            "import_id": import_id,
                            "action": "fill",
                            "table_name": "sessions",
                            "row_key": [r[0] for r in filled],
                            "column_name": column,
                        }
                    ),
                )

    @staticmethod
    def settle_quarantine(
        con: duckdb.DuckDBPyConnection, statuses: pl.DataFrame, import_id: str | None = None
    ) -> None:
        """Give open quarantine entries their new status on ``con`` (inside ``transaction``):
        ``statuses`` has import_id ('' = match on file_name), file_name, row_number, status.
        With ``import_id``, each entry settled is recorded for an undo."""
        arrow_c = statuses.to_arrow()  # noqa: F841 - scanned by DuckDB
        settled = con.execute(
            "UPDATE quarantine SET status = c.status FROM arrow_c c "
            "WHERE quarantine.status = 'open' AND quarantine.row_number = c.row_number "
            "AND (quarantine.import_id = c.import_id "
            "OR (c.import_id = '' AND quarantine.file_name = c.file_name)) "
            f"RETURNING {_QUARANTINE_KEY}"
        ).fetchall()
        if import_id is not None and settled:
            keys = [r[0] for r in settled]
            Store.insert(
                con,
                "import_writes",
                pl.DataFrame(
                    {
                        "import_id": import_id,
                        "action": "settle",
                        "table_name": "quarantine",
                        "row_key": keys,
                        "column_name": "open",
                    }
                ),
            )

    @staticmethod
    def record_inserts(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
        """Record, on ``con`` inside the import's transaction, the canonical rows of
        ``table`` an import wrote: ``rows`` holds import_id and the table's natural key."""
        if rows.height == 0:
            return
        schema = _schema_of(table)
        keys = tables.NATURAL_KEYS[table]
        arrow_k = rows.select(  # noqa: F841 - scanned by DuckDB
            pl.col("import_id").cast(pl.String), *[pl.col(c).cast(schema[c]) for c in keys]
        ).to_arrow()
        con.execute(
            "INSERT INTO import_writes (import_id, action, table_name, row_key, column_name) "
            f"SELECT import_id, 'insert', '{table}', {_key_sql(table)}, NULL FROM arrow_k"
        )

    def import_batch(self, import_id: str) -> pl.DataFrame:
        """The ledger entries written together with ``import_id`` (the files of one command
        share their ``imported_at``), with ``undone`` and ``recorded`` (whether the import
        recorded what it wrote); empty for an unknown id."""
        return self.query(
            "SELECT l.import_id, l.file_name, l.imported_at, l.accepted, "
            "u.import_id IS NOT NULL AS undone, "
            "EXISTS (SELECT 1 FROM import_writes w WHERE w.import_id = l.import_id "
            "AND w.action = 'file') AS recorded "
            "FROM import_ledger l LEFT JOIN import_undone u ON u.import_id = l.import_id "
            "WHERE l.imported_at = (SELECT imported_at FROM import_ledger WHERE import_id = ?) "
            "ORDER BY l.file_name",
            [import_id],
        )

    def later_imports(self, import_id: str) -> pl.DataFrame:
        """Ledger entries written after ``import_id`` and not undone (newest first)."""
        return self.query(
            "SELECT l.import_id, l.file_name, l.imported_at FROM import_ledger l "
            "WHERE l.imported_at > (SELECT imported_at FROM import_ledger WHERE import_id = ?) "
            "AND l.import_id NOT IN (SELECT import_id FROM import_undone) "
            "ORDER BY l.imported_at DESC",
            [import_id],
        )

    def conflict_list(self, status: str | None = "open") -> pl.DataFrame:
        """Conflicts kept for review (``status`` None: all), each with ``conflict_id``: a
        short stable id from its import, row, table and natural key."""
        where = "" if status is None else "WHERE status = ?"
        return self.query(
            f"SELECT {_CONFLICT_ID} AS conflict_id, * FROM conflicts {where} "
            "ORDER BY import_id, row_number, table_name, natural_key",
            [] if status is None else [status],
        )

    @staticmethod
    def set_conflict_status(con: duckdb.DuckDBPyConnection, conflict_id: str, status: str) -> None:
        """Give one conflict its status (on ``con``, inside a transaction)."""
        con.execute(
            f"UPDATE conflicts SET status = ? WHERE {_CONFLICT_ID} = ?", [status, conflict_id]
        )

    @staticmethod
    def replace_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pl.DataFrame) -> None:
        """Replace the canonical rows with the natural keys of ``rows`` by ``rows`` (on
        ``con``, inside a transaction): a data manager's choice of the imported values."""
        schema = _schema_of(table)
        arrow_r = rows.select([pl.col(c).cast(t) for c, t in schema.items()]).to_arrow()  # noqa: F841
        con.execute(
            f'DELETE FROM "{table}" WHERE {_key_sql(table)} IN '
            f"(SELECT {_key_sql(table)} FROM arrow_r)"
        )
        Store.insert(con, table, rows)

    def kept_imported(self, import_ids: list[str]) -> int:
        """How many conflicts of these imports were settled by keeping the imported value."""
        return int(
            self.query(
                "SELECT count(*) AS n FROM conflicts WHERE import_id IN (SELECT unnest(?)) "
                "AND status = 'kept_imported'",
                [import_ids],
            ).item()
        )

    @staticmethod
    def mark_undone(
        con: duckdb.DuckDBPyConnection, import_ids: list[str], at: Any, user: str, role: str
    ) -> None:
        """Mark ledger entries undone (the entries themselves stay, as history)."""
        Store.insert(
            con,
            "import_undone",
            pl.DataFrame(
                {"import_id": import_ids, "undone_at": at, "user_name": user, "role": role},
                schema=UNDONE_SCHEMA,
            ),
        )

    @staticmethod
    def undo_writes(con: duckdb.DuckDBPyConnection, import_ids: list[str]) -> dict[str, int]:
        """Remove, on ``con`` inside a transaction, everything the imports ``import_ids``
        wrote: their canonical rows, vital signs filled, quarantine entries they settled
        (open again), their own quarantine and conflict rows and their write records. The
        rows removed per table."""
        ids = list(import_ids)
        removed: dict[str, int] = {}
        sel = "SELECT row_key FROM import_writes WHERE import_id IN (SELECT unnest(?)) "
        for table in CANONICAL:
            n = con.execute(
                f'DELETE FROM "{table}" WHERE {_key_sql(table)} IN '
                f"({sel}AND action = 'insert' AND table_name = '{table}')",
                [ids],
            ).fetchall()
            removed[table] = int(n[0][0]) if n else 0
        fills = con.execute(
            "SELECT DISTINCT column_name FROM import_writes WHERE import_id IN (SELECT unnest(?)) "
            "AND action = 'fill'",
            [ids],
        ).fetchall()
        for (column,) in fills:
            if column not in _schema_of("sessions"):
                raise StoreError(f"import_writes: unknown sessions column {column!r}")
            con.execute(
                f'UPDATE sessions SET "{column}" = NULL WHERE session_id IN '
                f"({sel}AND action = 'fill' AND column_name = ?)",
                [ids, column],
            )
        con.execute(
            f"UPDATE quarantine SET status = 'open' WHERE {_QUARANTINE_KEY} IN "
            f"({sel}AND action = 'settle')",
            [ids],
        )
        for table in ("quarantine", "conflicts", "import_writes"):
            n = con.execute(
                f'DELETE FROM "{table}" WHERE import_id IN (SELECT unnest(?))', [ids]
            ).fetchall()
            removed[table] = int(n[0][0]) if n else 0
        return removed

    @staticmethod
    def settle_reviews(con: duckdb.DuckDBPyConnection) -> None:
        """Close open review-now entries whose quarantined row is no longer open (corrected
        or resubmitted: a resubmitted row raises its own entry under the new import). Entries
        of rows kept as conflicts (never quarantined) stay open until marked reviewed."""
        con.execute(
            "UPDATE review_now SET status = 'corrected' WHERE status = 'open' AND EXISTS "
            "(SELECT 1 FROM quarantine q WHERE q.import_id = review_now.import_id "
            "AND q.row_number = review_now.row_number) AND NOT EXISTS "
            "(SELECT 1 FROM quarantine q WHERE q.status = 'open' "
            "AND q.import_id = review_now.import_id AND q.row_number = review_now.row_number)"
        )

    def open_reviews(self) -> pl.DataFrame:
        """Open review-now entries, newest first."""
        return (
            self.read("review_now")
            .filter(pl.col("status") == "open")
            .sort(["raised_at", "file_name", "row_number"], descending=[True, False, False])
        )

    def mark_reviewed(self, import_id: str, row_number: int, kind: str, user: str) -> None:
        """A clinician has reviewed one review-now entry: it leaves the open list."""
        with self.transaction() as con:
            con.execute(
                "UPDATE review_now SET status = 'reviewed', reviewed_by = ?, "
                "reviewed_at = now()::TIMESTAMP WHERE import_id = ? AND row_number = ? "
                "AND kind = ? AND status = 'open'",
                [user, import_id, row_number, kind],
            )

    def signal_reviews(self) -> pl.DataFrame:
        """Every review recorded of a safety signal, newest first (empty for a store opened
        read-only from before the table)."""
        if "signal_reviews" not in self._tables():
            return pl.DataFrame(schema=SIGNAL_REVIEW_SCHEMA)
        return self.read("signal_reviews").sort("reviewed_at", "signal_id", descending=True)

    def _tables(self) -> set[str]:
        rows = self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        return {str(r[0]) for r in rows}

    @staticmethod
    def last_audit_link(con: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
        """The newest audit entry's (seq, entry_hash) on ``con``, or None for an empty log."""
        # max(), not ORDER BY seq DESC LIMIT 1: DuckDB 2.0.1's top-N misses rows inserted after
        # a DELETE on the same table (seen here: three appends all took seq 4)
        rows = con.execute(
            "SELECT seq, entry_hash FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)"
        ).fetchall()
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def audit_head(self) -> tuple[int, int, str | None]:
        """(entries, last seq, last entry hash) of the audit chain; (0, 0, None) when empty."""
        rows = self.con.execute(
            "SELECT count(*), max(seq), arg_max(entry_hash, seq) FROM audit_log"
        ).fetchall()
        n, seq, digest = rows[0] if rows else (0, None, None)
        return int(n or 0), int(seq or 0), None if digest is None else str(digest)

    def audit_hash_at(self, seq: int) -> str | None:
        """The entry hash of audit entry ``seq``; None when there is no such entry."""
        rows = self.con.execute("SELECT entry_hash FROM audit_log WHERE seq = ?", [seq]).fetchall()
        return str(rows[0][0]) if rows else None

    def checkpoint(self) -> None:
        """Write the write-ahead log into the store file."""
        self.con.execute("CHECKPOINT")

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

    def rows_where_in(
        self, table: str, columns: Sequence[str], column: str, values: list[Any]
    ) -> pl.DataFrame:
        """``columns`` of the rows of ``table`` whose ``column`` is one of ``values``."""
        cols = ", ".join(f'"{c}"' for c in dict.fromkeys(columns))
        return self.query(
            f'SELECT {cols} FROM "{table}" WHERE "{column}" IN (SELECT unnest(?))', [values]
        )

    def has_rows(self, table: str) -> bool:
        """Whether ``table`` holds any row."""
        return bool(self.query(f'SELECT EXISTS (SELECT 1 FROM "{table}") AS x').item())

    def patient_ids(self) -> set[str]:
        """Every stored patient id."""
        return set(self.query("SELECT patient_id FROM patients").get_column("patient_id").to_list())

    def counts(self) -> dict[str, int]:
        """Rows per table; a table an older store (opened read-only) lacks counts 0."""
        present = {
            r[0]
            for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return {
            t: int(self.con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0])  # type: ignore[index]
            if t in present
            else 0
            for t in (*CANONICAL, *BOOKKEEPING)
        }

    def is_empty(self) -> bool:
        return all(self.counts()[t] == 0 for t in CANONICAL)

    def content_version(self) -> str:
        """A fingerprint of the canonical tables' rows (per table: the row count and the sum
        of the rows' hashes), "" when they hold no row. It changes whenever a canonical row is
        added, removed or changed, and not when only bookkeeping changes (an audit entry, a
        page view): the app keys what it computes from the tables on it. About 0.1 s for
        10,000 patients."""
        parts = [
            f"(SELECT count(*) || ':' || coalesce(sum(hash(canonical_row)), 0) "
            f'FROM "{table}" canonical_row)'
            for table in CANONICAL
        ]
        row = self.con.execute(f"SELECT concat_ws('/', {', '.join(parts)})").fetchall()[0]
        counts_and_sums = str(row[0])
        if all(p.startswith("0:") for p in counts_and_sums.split("/")):
            return ""
        return hashlib.sha256(counts_and_sums.encode()).hexdigest()[:16]

    def has_import(self, content_sha256: str) -> bool:
        """Whether a file with this content was imported (and not undone)."""
        row = self.con.execute(
            "SELECT count(*) FROM import_ledger WHERE content_sha256 = ? "
            "AND import_id NOT IN (SELECT import_id FROM import_undone)",
            [content_sha256],
        ).fetchall()[0]
        return bool(row and row[0])

    def ledger(self) -> pl.DataFrame:
        """The import ledger, newest first, with ``undone_at`` (null unless undone)."""
        undone = self.read("import_undone").select("import_id", "undone_at")
        return (
            self.read("import_ledger")
            .join(undone, on="import_id", how="left")
            .sort("imported_at", descending=True)
        )

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
