"""``kapoutcomes store check``: verify the whole store file.

Opens the store read-only (a store held by an import is reported busy, never waited for),
checks its key, reads every row of every table (DuckDB checks each block's checksum as it
reads it, so a damaged block is found), validates the canonical tables against their models,
compares each table's row count with what the import ledger recorded writing, and verifies
the audit trail (chain, checkpoint, ledger cross-check). Each finding is one line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import duckdb

from kapoutcomes import tables
from kapoutcomes.storage import audit, keys
from kapoutcomes.storage import store as store_mod


@dataclass
class StoreCheck:
    lines: list[str] = field(default_factory=list)  # what was checked
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _read_every_table(st: store_mod.Store, result: StoreCheck) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in (*store_mod.CANONICAL, *store_mod.BOOKKEEPING):
        try:
            frame = st.read(table, validate=table in tables.MODELS)
        except (duckdb.Error, store_mod.StoreError) as e:
            result.problems.append(f"table {table}: cannot be read ({_one_line(e)})")
            continue
        counts[table] = frame.height
    result.lines.append(
        "read every row: " + ", ".join(f"{t} {n:,}" for t, n in counts.items() if n)
        or "read every row: the store is empty"
    )
    return counts


def _ledger_written(st: store_mod.Store, result: StoreCheck) -> dict[str, int]:
    written: dict[str, int] = {}
    for text in st.read("import_ledger")["report_json"].to_list():
        try:
            report = json.loads(text or "{}")
        except ValueError:
            result.problems.append("import ledger: an entry's report is not valid JSON")
            continue
        for table, n in (report.get("written") or {}).items():
            written[table] = written.get(table, 0) + int(n)
    return written


def check_store(path: str | os.PathLike[str]) -> StoreCheck:
    result = StoreCheck()
    try:
        st, k = keys.open_store(path, read_only=True, create=False)
    except store_mod.StoreError as e:
        result.problems.append(_one_line(e))
        return result
    with st:
        result.lines.append(f"key: secret.key matches the store (key id {k.key_id})")
        counts = _read_every_table(st, result)
        if result.problems:
            return result
        for table, n in sorted(_ledger_written(st, result).items()):
            have = counts.get(table, 0)
            if have < n:
                result.problems.append(
                    f"table {table}: holds {have:,} rows but the import ledger recorded writing "
                    f"{n:,} (rows were removed outside kapoutcomes)"
                )
        result.lines.append("row counts agree with the import ledger")
        check = audit.verify(st, k.audit)
        result.problems += [f"audit trail: {p}" for p in check.problems]
        result.lines.append(f"audit trail: {check.entries} entries checked")
    return result
