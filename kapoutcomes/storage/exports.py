"""Exports that are safe to open in a spreadsheet.

A cell beginning with =, +, -, @, a tab or a carriage return can be run as a formula by
Excel, LibreOffice or Google Sheets (CSV / formula injection, OWASP). Every CSV kapoutcomes
writes goes through ``safe_csv``, which prefixes such cells with a single quote so that they
are shown as text. A spreadsheet set up for a semicolon list separator (most of continental
Europe) splits an unquoted cell at each ";", so the same quote also goes after a ";" that a
formula character follows (";=cmd" is written ";'=cmd"). Files written for people
(``write_private``) are readable by their owner only: they may hold patient-level data.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: where a semicolon-separated reading starts a new cell with a formula (spaces allowed: a
#: spreadsheet that trims the spaces of an imported cell, as some do, reads " =1+1" as a formula)
AFTER_SEMICOLON = r";(\s*[=+\-@]|[\t\r])"


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, with formula-looking cells prefixed by a single quote.

    Numbers are written as text too, so a negative number such as -3 is shown as '-3: a
    spreadsheet cannot tell a harmless minus sign from a formula, and being safe wins.
    """
    starts = "^" + AFTER_SEMICOLON.removeprefix(";")  # spaces before the sign too
    out = []
    for name in frame.columns:
        col = pl.col(name)
        dtype = frame.schema[name]
        text = col.cast(pl.String) if dtype != pl.String else col
        if dtype.is_temporal():
            text = col.cast(pl.String)
        text = text.str.replace_all(AFTER_SEMICOLON, ";'${1}")
        out.append(
            pl.when(text.str.contains(starts)).then(pl.lit("'") + text).otherwise(text).alias(name)
        )
    return frame.select(out)


def safe_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM, so Excel reads accents) with formula injection neutralised."""
    body = neutralise(frame).write_csv()
    return ("\ufeff" + body).encode("utf-8")


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write an export that may hold patient data: mode 0600 (a folder made for it 0700),
    written to a temporary file first so that a full disk never leaves half a file."""
    p = Path(path)
    if not p.parent.exists():
        p.parent.mkdir(parents=True, mode=0o700)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    # the temporary name is predictable: whatever sits there (a stale file, or a symbolic
    # link planted in a shared folder to catch the export) is removed, never followed, and
    # the file is created anew (O_EXCL: a link planted again in between is refused)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return p
