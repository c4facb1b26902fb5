"""The audit trail: append-only, each entry chained to the previous one by a keyed hash.

Entries record sign-ins, patient record views, imports, exports and settings changes with
user, role, time and what was touched (pseudonymous ids only, never names or scores). Each
entry's hash is HMAC-SHA256 under the installation secret over the previous hash and the
entry's fields, so an edited, inserted or deleted entry breaks the chain and ``verify`` says
where; without the secret a tamperer cannot recompute the chain.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from kapoutcomes.storage.store import AUDIT_SCHEMA, Store

GENESIS = "0" * 64
ACTIONS = (
    "sign_in",
    "sign_out",
    "view_patient",
    "view_page",
    "import",
    "undo_import",
    "resolve_conflict",
    "export",
    "report",
    "settings_change",
    "access_denied",
    "review_now_reviewed",
    "review_signal",
)


def _digest(key: bytes, prev_hash: str, fields: dict[str, object]) -> str:
    body = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hmac.new(key, (prev_hash + body).encode("utf-8"), hashlib.sha256).hexdigest()


def _fields(row: dict[str, object]) -> dict[str, object]:
    at = row["at"]
    return {
        "seq": row["seq"],
        "at": at.isoformat() if isinstance(at, dt.datetime) else str(at),
        "user_name": row["user_name"],
        "role": row["role"],
        "action": row["action"],
        "target": row["target"],
        "detail": row["detail"],
    }


def append_entry(
    con: duckdb.DuckDBPyConnection,
    key: bytes,
    user: str,
    role: str,
    action: str,
    target: str = "",
    detail: str = "",
    at: dt.datetime | None = None,
) -> dict[str, object]:
    """Append one entry on ``con`` inside the caller's transaction (an import writes its
    audit entry in its own transaction, so both land or neither does)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    last = Store.last_audit_link(con)
    seq = 1 if last is None else last[0] + 1
    prev = GENESIS if last is None else last[1]
    row: dict[str, object] = {
        "seq": seq,
        "at": (at or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0),
        "user_name": user,
        "role": role,
        "action": action,
        "target": target,
        "detail": detail,
    }
    row["prev_hash"] = prev
    row["entry_hash"] = _digest(key, prev, _fields(row))
    Store.insert(con, "audit_log", pl.DataFrame([row], schema=AUDIT_SCHEMA))
    return row


def record(
    store: Store,
    key: bytes,
    user: str,
    role: str,
    action: str,
    target: str = "",
    detail: str = "",
    at: dt.datetime | None = None,
) -> dict[str, object]:
    """Append one entry (in its own transaction), move the checkpoint on, return the entry."""
    with store.transaction() as con:
        row = append_entry(con, key, user, role, action, target, detail, at)
    save_checkpoint(store, key)
    return row


# -- the checkpoint: the chain's head kept outside the store ---------------------------------
CHECKPOINT_SUFFIX = ".audit-checkpoint"


def checkpoint_path(store: Store) -> Path | None:
    """The checkpoint file beside the store (None for an in-memory store)."""
    return None if store.in_memory else Path(store.path + CHECKPOINT_SUFFIX)


def _checkpoint_mac(key: bytes, body: dict[str, object]) -> str:
    text = "checkpoint|" + json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _head(store: Store) -> tuple[int, int, str]:
    """(entries, last seq, last hash) of the chain in the store."""
    n, seq, digest = store.audit_head()
    return n, seq, digest or GENESIS


def _hash_at(store: Store, seq: int) -> str | None:
    return store.audit_hash_at(seq)


@dataclass(frozen=True)
class Checkpoint:
    entries: int
    last_seq: int
    last_hash: str


def read_checkpoint(store: Store, key: bytes) -> Checkpoint | None:
    """The recorded head; None when there is no file; ``ValueError`` when it was altered."""
    path = checkpoint_path(store)
    if path is None or not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        body = {k: data[k] for k in ("entries", "last_seq", "last_hash")}
        mac = data["mac"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"{path}: the audit checkpoint is unreadable (damaged or edited)"
        ) from None
    if not hmac.compare_digest(str(mac), _checkpoint_mac(key, body)):
        raise ValueError(f"{path}: the audit checkpoint does not match its key (edited)")
    return Checkpoint(int(body["entries"]), int(body["last_seq"]), str(body["last_hash"]))


def _open_lock(path: Path) -> int:
    """The lock file, opened without following a link planted at its name (a link is
    removed: the lock file holds nothing, and following it would create or lock the file
    it points to)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags, 0o600)
    except OSError as e:
        if e.errno != errno.ELOOP:
            raise
        os.unlink(path)
        return os.open(path, flags | os.O_EXCL, 0o600)


def save_checkpoint(store: Store, key: bytes) -> None:
    """Record the chain's head beside the store (mode 0600, under a lock, atomically). The
    checkpoint only moves forward along the chain it recorded: when the store no longer holds
    the entry it names (entries were deleted or edited) it is left as it is, as evidence."""
    path = checkpoint_path(store)
    if path is None:
        return
    lock_path = path.with_name(path.name + ".lock")
    fd = _open_lock(lock_path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries, last_seq, last_hash = _head(store)
        try:
            old = read_checkpoint(store, key)
        except ValueError:
            return  # an altered checkpoint stays for verify to report
        if old is not None and (
            last_seq < old.last_seq or _hash_at(store, old.last_seq) != old.last_hash
        ):
            return
        if old is not None and last_seq == old.last_seq:
            return
        body: dict[str, object] = {
            "entries": entries,
            "last_seq": last_seq,
            "last_hash": last_hash,
        }
        text = json.dumps({**body, "mac": _checkpoint_mac(key, body)}, indent=1) + "\n"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # never follow a link planted at the predictable name
        tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(tfd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        if store.meta("audit_checkpoint") is None:
            with contextlib.suppress(duckdb.Error), store.transaction():
                store.set_meta("audit_checkpoint", path.name)
    finally:
        os.close(fd)


def start_checkpoint(store: Store, key: bytes) -> int:
    """For a store from before checkpoints (entries, no checkpoint file, none ever written):
    start one at its current head and return that entry number; otherwise 0."""
    path = checkpoint_path(store)
    if path is None or path.exists() or store.meta("audit_checkpoint") is not None:
        return 0
    entries, last_seq, _ = _head(store)
    if not entries:
        return 0
    save_checkpoint(store, key)
    return last_seq


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]


def verify(store: Store, key: bytes) -> Verification:
    """Walk the chain and report every break (edited, inserted or deleted entries); compare
    the head with the checkpoint beside the store (newest entries, all entries or the table
    removed) and check that every import in the ledger has its audit entry."""
    try:
        log = store.read("audit_log").sort("seq")
    except duckdb.Error:
        return Verification(False, 0, ("the audit_log table is missing (deleted)",))
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    for row in log.iter_rows(named=True):
        if row["seq"] != expected_seq:
            problems.append(
                f"entry {row['seq']}: expected entry {expected_seq} (an entry was deleted or inserted)"
            )
        if row["prev_hash"] != prev:
            problems.append(f"entry {row['seq']}: does not follow the previous entry's hash")
        if row["entry_hash"] != _digest(key, row["prev_hash"], _fields(row)):
            problems.append(f"entry {row['seq']}: contents do not match its hash (edited)")
        prev = row["entry_hash"]
        expected_seq = row["seq"] + 1
    problems += _checkpoint_problems(store, key, log)
    problems += _ledger_problems(store, log)
    return Verification(ok=not problems, entries=log.height, problems=tuple(problems))


def _checkpoint_problems(store: Store, key: bytes, log: pl.DataFrame) -> list[str]:
    path = checkpoint_path(store)
    if path is None:
        return []
    try:
        cp = read_checkpoint(store, key)
    except ValueError as e:
        return [str(e)]
    if cp is None:
        if store.meta("audit_checkpoint") is not None:
            return [f"{path.name}: the audit checkpoint file is missing (deleted)"]
        return []  # a store from before checkpoints: start_checkpoint adopts it
    hashes = dict(zip(log["seq"].to_list(), log["entry_hash"].to_list(), strict=True))
    last = max(hashes) if hashes else 0
    if last < cp.last_seq:
        return [
            f"the checkpoint records {cp.entries} entries up to entry {cp.last_seq}, but the "
            f"store ends at entry {last}: the newest entries were deleted"
        ]
    if hashes.get(cp.last_seq) != cp.last_hash:
        return [f"entry {cp.last_seq}: differs from the checkpoint (replaced or rewritten)"]
    return []


def _ledger_problems(store: Store, log: pl.DataFrame) -> list[str]:
    """Every import in the ledger must have its audit entry: the entry names the import ids
    (``import_ids=...`` in its detail); entries from before that name the files instead."""
    imports = log.filter(pl.col("action") == "import")
    details = " ".join(imports["detail"].to_list())
    files = {f for t in imports["target"].to_list() for f in t.split(", ")}
    ledger = store.read("import_ledger")
    missing = [
        f"{r['import_id']} ({r['file_name']})"
        for r in ledger.iter_rows(named=True)
        if r["import_id"] not in details and r["file_name"] not in files
    ]
    if not missing:
        return []
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return [f"import(s) in the ledger without an audit entry (entries deleted?): {shown}"]


def entries(store: Store) -> pl.DataFrame:
    return store.read("audit_log").sort("seq", descending=True)
