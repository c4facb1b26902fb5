"""Exports that are safe to open in a spreadsheet.

A cell beginning with =, +, -, @, a tab or a carriage return can be run as a formula by
Excel, LibreOffice or Google Sheets (CSV / formula injection, OWASP). Every CSV kapoutcomes
writes goes through ``safe_csv``, which prefixes such cells with a single quote so that they
are shown as text.
"""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, with formula-looking cells prefixed by a single quote.

    Numbers are written as text too, so a negative number such as -3 is shown as '-3: a
    spreadsheet cannot tell a harmless minus sign from a formula, and being safe wins.
    """
    starts = (
        "^["
        + "".join("\\t" if c == "\t" else "\\r" if c == "\r" else "\\" + c for c in FORMULA_STARTS)
        + "]"
    )
    out = []
    for name in frame.columns:
        col = pl.col(name)
        dtype = frame.schema[name]
        text = col.cast(pl.String) if dtype != pl.String else col
        if dtype.is_temporal():
            text = col.cast(pl.String)
        out.append(
            pl.when(text.str.contains(starts)).then(pl.lit("'") + text).otherwise(text).alias(name)
        )
    return frame.select(out)


def safe_csv(frame: pl.DataFrame) -> bytes:
    """CSV bytes (UTF-8 with BOM, so Excel reads accents) with formula injection neutralised."""
    body = neutralise(frame).write_csv()
    return ("\ufeff" + body).encode("utf-8")
