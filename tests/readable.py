"""What every table a person reads must satisfy (issue 14, item 3), for the app's dataframes
and the HTML report's tables alike: headers in words (no snake_case), no internal keys, no
"None"/"nan"/"null" cells, at most two decimals (p-values excepted), no hashes or import ids.

The quarantine table's "(file column)" headers are the export's own column names, shown as the
file writes them so that the data manager can find the cell to correct."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

FILE_COLUMN = "(file column)"
PATIENT_ID = "Patient"  # the pseudonymous id (its column help says so)
_MISSING_WORDS = {"none", "nan", "null", "nat", "<na>"}
_KEY_HEADER = re.compile(r"(_id\b|\bid\b|hash|sha\d*)", re.IGNORECASE)
_DECIMALS = re.compile(r"(?<![\w.])\d[\d,]*\.\d{3,}(?![\d.])")
_HEX = re.compile(r"\b[0-9a-f]{24,}\b")
_IMPORT_ID = re.compile(r"\bimp_\d{14}")
_SESSION_ID = re.compile(r"\bp_[0-9a-f]{16}-(s|ae)\d{3}\b")


def problems(where: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """Every way a table breaks the rules, each naming the table, column and value."""
    out = []
    for h in headers:
        if h.endswith(FILE_COLUMN):
            continue
        if "_" in h:
            out.append(f"{where}: snake_case header {h!r}")
        if _KEY_HEADER.search(h) and h != PATIENT_ID:
            out.append(f"{where}: internal key column {h!r}")
    for row in rows:
        for h, v in zip(headers, row, strict=True):
            text = "" if v is None else str(v)
            if v is None:
                out.append(f"{where}: column {h!r} shows a missing value as None")
            if h.endswith(FILE_COLUMN):
                continue  # the export's own text, as written ("none" may be an answer)
            if text.strip().lower() in _MISSING_WORDS:
                out.append(f"{where}: column {h!r} shows {text!r} for a missing value")
            elif isinstance(v, float):
                out.append(f"{where}: column {h!r} holds an unformatted number {v!r}")
            if _DECIMALS.search(text) and "p-value" not in h:
                out.append(f"{where}: column {h!r} shows {text!r} (more than 2 decimals)")
            if _HEX.search(text) or _IMPORT_ID.search(text) or _SESSION_ID.search(text):
                out.append(f"{where}: column {h!r} shows an internal key {text!r}")
    return out
