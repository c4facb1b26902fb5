"""The audit trail: append-only, each entry chained to the previous one by a keyed hash.

Entries record sign-ins, patient record views, imports, exports and settings changes with
user, role, time and what was touched (pseudonymous ids only, never names or scores). Each
entry's hash is HMAC-SHA256 under the installation secret over the previous hash and the
entry's fields, so an edited, inserted or deleted entry breaks the chain and ``verify`` says
where; without the secret a tamperer cannot recompute the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

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
    """Append one entry (in its own transaction) and return it."""
    with store.transaction() as con:
        return append_entry(con, key, user, role, action, target, detail, at)


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]


def verify(store: Store, key: bytes) -> Verification:
    """Walk the chain; report every break (edited, inserted or deleted entries)."""
    log = store.read("audit_log").sort("seq")
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
    return Verification(ok=not problems, entries=log.height, problems=tuple(problems))


def entries(store: Store) -> pl.DataFrame:
    return store.read("audit_log").sort("seq", descending=True)
