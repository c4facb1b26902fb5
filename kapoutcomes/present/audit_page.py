"""What the app's Audit trail page shows, from one call: the entries and the chain check."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from kapoutcomes.storage import audit, exports, keys, store


@dataclass(frozen=True)
class AuditTrail:
    entries: pl.DataFrame  # newest first, with the chain's hashes
    check: audit.Verification
    csv: bytes  # the whole trail, safe to open in a spreadsheet

    def shown(self, actions: list[str]) -> pl.DataFrame:
        """The entries of the picked actions, without the hashes."""
        picked = self.entries.filter(pl.col("action").is_in(actions))
        return picked.drop("prev_hash", "entry_hash")


def audit_trail(path: str | os.PathLike[str]) -> AuditTrail | None:
    """The trail of the store at ``path`` checked with this installation's key; None when
    there is no store yet."""
    if not Path(path).exists():
        return None
    with store.Store(path) as s:
        log = audit.entries(s)
        check = audit.verify(s, keys.for_store(s).audit)
    return AuditTrail(log, check, exports.safe_csv(log))
