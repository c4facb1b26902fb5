"""Conflicts a data manager settles: the same fact (natural key) with another value than the
store holds is never overwritten by an import; it waits in ``conflicts`` until someone keeps
the stored value or the imported one. Each choice is one transaction with its audit entry.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.ingest.frames import json_rows
from kapoutcomes.storage import keys
from kapoutcomes.storage import store as store_mod

KEEP = ("IMPORTED", "STORED")


class ReviewError(ValueError):
    """A conflict that cannot be settled as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Settled:
    conflict_id: str
    kept: str  # IMPORTED | STORED
    table: str

    def text(self) -> str:
        which = "the imported value" if self.kept == "IMPORTED" else "the stored value"
        return f"conflict {self.conflict_id} ({self.table}): kept {which}"


def conflicts(st: store_mod.Store, status: str | None = "open") -> pl.DataFrame:
    """Conflicts with their ids, both values and where the imported one came from."""
    return st.conflict_list(status).select(
        "conflict_id",
        "table_name",
        "natural_key",
        "stored_value",
        "incoming_value",
        "file_name",
        "row_number",
        "import_id",
        "status",
    )


def keep(st: store_mod.Store, conflict_id: str, which: str, audit_as: tuple[str, str]) -> Settled:
    """Settle an open conflict by keeping the ``IMPORTED`` or the ``STORED`` value."""
    which = which.upper()
    if which not in KEEP:
        raise ReviewError(f"keep IMPORTED or STORED, not {which!r}")
    found = st.conflict_list("open").filter(pl.col("conflict_id") == conflict_id)
    if found.height == 0:
        raise ReviewError(
            f"no open conflict {conflict_id!r}; list them with `kapoutcomes conflicts`"
        )
    c = found.row(0, named=True)
    table = c["table_name"]
    row = _imported_row(st, c) if which == "IMPORTED" else None
    audit_key = keys.for_store(st).audit
    with st.transaction() as con:
        if row is not None:
            st.replace_rows(con, table, row)
        st.set_conflict_status(con, conflict_id, f"kept_{which.lower()}")
        _audit(con, audit_key, audit_as, conflict_id, table, which)
    st.checkpoint()
    _move_audit_checkpoint(st, audit_key)
    return Settled(conflict_id, which, table)


def _imported_row(st: store_mod.Store, c: dict[str, Any]) -> pl.DataFrame:
    """The stored row of the conflict with the imported values in place, validated."""
    table = c["table_name"]
    try:
        key = json.loads(c["natural_key"])
        incoming = json.loads(c["incoming_value"])
    except (TypeError, ValueError):
        key, incoming = None, None
    if isinstance(key, dict) and set(key) == {"session_id", "column"}:
        raise ReviewError(
            f"conflict {c['conflict_id']} is about a vital sign of a stored session: the "
            "stored reading is kept (--keep STORED); correct it in the EHR and export again"
        )
    # an id clash has the id as its key (and no values); a value conflict, or a row that
    # disagreed with an earlier row of its import (stored since), has the table's key
    natural = table in tables.NATURAL_KEYS and isinstance(key, dict)
    if not natural or set(key) != set(tables.NATURAL_KEYS[table]) or not isinstance(incoming, dict):
        raise ReviewError(
            f"conflict {c['conflict_id']} is about an id used for two different facts, not "
            "about a value: keep the stored row (--keep STORED) and correct the export"
        )
    cols = list(tables.NATURAL_KEYS[table])
    stored = st.rows_where_in(table, tables.columns(table), "patient_id", [key["patient_id"]])
    stored = stored.with_columns(_key=pl.Series(json_rows(stored, cols), dtype=pl.String))
    stored = stored.filter(pl.col("_key") == c["natural_key"]).drop("_key")
    if stored.height != 1:
        raise ReviewError(
            f"conflict {c['conflict_id']}: the stored row is no longer in the store (was its "
            "import undone?); keep the stored value (--keep STORED) to close it"
        )
    row = stored.row(0, named=True)
    for col, value in incoming.items():
        row[col] = _typed(value, stored.schema[col])
    frame = pl.DataFrame([row], schema=stored.schema)
    v = tables.validate(table, frame)
    if not v.ok:
        bad = v.failures.row(0, named=True)
        raise ReviewError(
            f"conflict {c['conflict_id']}: the imported value {bad['column']} = "
            f"{bad['value']!r} is not valid ({bad['reason']}); keep the stored value"
        )
    return frame


def _typed(value: Any, dtype: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if dtype == pl.Date:
        return dt.date.fromisoformat(value[:10])
    if isinstance(dtype, pl.Datetime):
        return dt.datetime.fromisoformat(value)
    return value


def _move_audit_checkpoint(st: store_mod.Store, key: bytes) -> None:
    """The chain's head moves on to the settlement's entry, so that deleting it is reported."""
    from kapoutcomes.storage import audit

    audit.save_checkpoint(st, key)


def _audit(
    con, audit_key: bytes, audit_as: tuple[str, str], conflict_id: str, table: str, which: str
) -> None:  # type: ignore[no-untyped-def]
    from kapoutcomes.storage import audit

    audit.append_entry(
        con,
        audit_key,
        audit_as[0],
        audit_as[1],
        "resolve_conflict",
        conflict_id,
        f"{table}: kept {which.lower()}",
    )
