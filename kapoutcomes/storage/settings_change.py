"""When the outcome definitions in force change (a settings file edited or pointed
elsewhere), the audit trail records it once: ``digest`` names the definitions, and
``change_to_record`` says what to record, if anything, given the trail so far."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl

from kapoutcomes.definitions import settings as settings_mod
from kapoutcomes.storage import audit, store

ACTION = "settings_change"


def digest(s: settings_mod.Settings) -> str:
    """A short fingerprint of every definition's value."""
    values = json.dumps([(d["setting"], d["value"]) for d in s.describe()])
    return hashlib.sha256(values.encode()).hexdigest()[:16]


def differences(s: settings_mod.Settings) -> list[dict[str, str]]:
    """The definitions (as ``Settings.describe`` rows) whose value is not the default."""
    default = {d["setting"]: d["value"] for d in settings_mod.DEFAULT.describe()}
    return [d for d in s.describe() if d["value"] != default[d["setting"]]]


def describe_change(s: settings_mod.Settings) -> str:
    """The audit detail: the digest and every definition that differs from the defaults."""
    listed = ", ".join(f"{d['setting']}={d['value']}" for d in differences(s)) or "none"
    return f"digest={digest(s)}; differs from defaults: {listed}"


def change_to_record(s: settings_mod.Settings, path: str | os.PathLike[str]) -> str | None:
    """The detail to record for the definitions ``s`` in the store at ``path``; None when
    there is no store yet, when defaults have been in force since the start, or when the
    last recorded change already names these definitions."""
    if not Path(path).exists():
        return None
    with store.Store(path) as db:
        log = audit.entries(db).filter(pl.col("action") == ACTION)
    last = log["detail"][0] if log.height else None
    if last is None and not differences(s):
        return None
    if last is not None and last.startswith(f"digest={digest(s)}"):
        return None
    return describe_change(s)
