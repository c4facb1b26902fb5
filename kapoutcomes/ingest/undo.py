"""Undoing an import: everything one import command wrote is removed in one transaction.

The unit is the command: its files were written in one transaction and de-duplicated
against each other, so they are undone together. Imports are undone newest first (a later
import may have skipped facts as duplicates of this one's, or filled its sessions). The
ledger entries stay, marked undone (``import_undone``), so the history of what was
imported and undone is kept; the audit trail records the undo. A file whose import was
undone can be imported again (with other options).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kapoutcomes.storage import keys
from kapoutcomes.storage import store as store_mod


class UndoError(ValueError):
    """An import that cannot be undone; the message says why and what to do."""


@dataclass(frozen=True)
class UndoResult:
    import_ids: tuple[str, ...]  # every ledger entry of the command undone
    files: tuple[str, ...]
    removed: tuple[tuple[str, int], ...]  # table -> rows removed

    def text(self) -> str:
        shown = [(t, n) for t, n in self.removed if n and t not in _BOOKKEEPING_ONLY]
        removed = ", ".join(f"{_WORDS.get(t, t)} {n:,}" for t, n in shown) or "nothing"
        return (
            f"undone: {len(self.files)} file(s) ({', '.join(self.files)}); removed: {removed}. "
            "The files can be imported again."
        )


#: Tables of the undo's own bookkeeping, not named to people.
_BOOKKEEPING_ONLY = ("import_writes",)
#: Table names in the words of the Data page.
_WORDS = {
    "assessments": "scores",
    "adverse_events": "side effects",
    "opioids": "opioid prescriptions",
    "quarantine": "quarantined rows",
    "conflicts": "conflicts",
}


def undo_import(
    st: store_mod.Store,
    import_id: str,
    audit_as: tuple[str, str] = ("unknown", "unknown"),
) -> UndoResult:
    """Undo the import command that wrote ledger entry ``import_id``; see the module doc."""
    batch = st.import_batch(import_id)
    if batch.height == 0:
        raise UndoError(
            f"no import {import_id!r} in the ledger; see the import ids with "
            "`kapoutcomes import --history` or the Data page's Import history"
        )
    if batch.get_column("undone").any():
        raise UndoError(f"import {import_id} was already undone")
    if not batch.get_column("recorded").all():
        raise UndoError(
            f"import {import_id} was made by a version that did not record what it wrote, so "
            "it cannot be undone exactly; nothing was changed"
        )
    later = st.later_imports(import_id)
    if later.height:
        newest = later.row(0, named=True)
        raise UndoError(
            f"import {import_id} has {later.height} later import(s), which may rely on what it "
            f"wrote; undo them first, newest first (newest: {newest['import_id']}, "
            f"{newest['file_name']}); nothing was changed"
        )
    ids = batch.get_column("import_id").to_list()
    if st.kept_imported(ids):
        raise UndoError(
            f"import {import_id}: {st.kept_imported(ids)} of its conflicts were settled by "
            "keeping the imported value, which replaced what an earlier import stored; an "
            "undo cannot restore it; nothing was changed"
        )
    files = tuple(batch.get_column("file_name").to_list())
    key = keys.for_store(st).audit  # the audit chain's key, as an import's entry
    with st.transaction() as con:
        removed = st.undo_writes(con, ids)
        st.mark_undone(con, ids, dt.datetime.now(), *audit_as)
        _audit(con, key, audit_as, ids, removed)
    st.checkpoint()
    _move_audit_checkpoint(st, key)
    return UndoResult(tuple(ids), files, tuple(removed.items()))


def _move_audit_checkpoint(st: store_mod.Store, key: bytes) -> None:
    """The chain's head moves on to the undo's entry, so that deleting it is reported."""
    from kapoutcomes.storage import audit

    audit.save_checkpoint(st, key)


def _audit(con, key: bytes, audit_as: tuple[str, str], ids: list[str], removed: dict) -> None:  # type: ignore[no-untyped-def]
    from kapoutcomes.storage import audit

    audit.append_entry(
        con,
        key,
        audit_as[0],
        audit_as[1],
        "undo_import",
        ", ".join(ids),
        " ".join(f"{t}={n}" for t, n in removed.items() if n) or "nothing removed",
    )
