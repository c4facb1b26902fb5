"""One formatter for every table a person reads, in the app and in the HTML report.

A table is declared as data (a ``TableSpec`` in ``table_specs``): which columns it shows, in
what order, with which label, kind and rounding. ``display_table`` turns a polars frame into
text cells by that declaration:

- headers in the clinic's words, with the unit in brackets (days, mg, MME/day, per 100
  sessions, the currency);
- fractions shown as percentages ("43.2%"), p-values as "<0.001" or to three decimals, other
  numbers rounded to the column's decimals, counts with thousands separators;
- a missing value as an em dash "—" (or the column's own word, such as "not reached" for a
  median survival time the curve never reached), never "None", "null" or "nan";
- a lower and upper limit joined into one interval column ("37.8%–48.9%") headed with the
  configured confidence level.

A frame column the spec does not name is an error (``UnlabelledColumn``) when the spec shows
every column of its frame: a new column must be given a label before anyone sees it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import polars as pl

from kapoutcomes.present.figures.layout import label as instrument_label
from kapoutcomes.present.formatting import words

#: words a code spells in lower case that people write in capitals ("median_mme_all")

#: what a missing value looks like in every table
MISSING = "—"

Kind = Literal[
    "text",  # as it is
    "words",  # a code in words: "reliable_improvement" -> "reliable improvement"
    "instrument",  # an instrument code by its name and range: "Pain NRS (0-10)"
    "count",  # whole number, thousands separated
    "number",  # rounded to ``decimals``
    "percent",  # a fraction 0-1 shown as a percentage
    "percent_points",  # already a percentage (0-100)
    "rate",  # events per 100 sessions
    "days",
    "weeks",
    "mg",
    "mme",  # morphine milligram equivalents per day
    "currency",
    "pvalue",
    "date",
    "datetime",
    "yes_no",
]

#: units a kind carries into its header (the label says the rest)
_KIND_UNITS: dict[str, str] = {
    "rate": "per 100 sessions",
    "days": "days",
    "weeks": "weeks",
    "mg": "mg",
    "mme": "MME/day",
}
_DEFAULT_DECIMALS: dict[str, int] = {
    "number": 1,
    "percent": 1,
    "percent_points": 1,
    "rate": 1,
    "days": 0,
    "weeks": 0,
    "mg": 1,
    "mme": 1,
    "currency": 0,
}
_NUMERIC = {"count", "number", "percent", "percent_points", "rate", "days", "weeks", "mg", "mme"}
_NUMERIC |= {"currency", "pvalue"}


@dataclass(frozen=True)
class Column:
    """How one column reads: its label, kind, rounding, unit, width and what missing means."""

    label: str
    kind: Kind = "text"
    decimals: int | None = None
    unit: str | None = None  # overrides the kind's unit (a currency code, "mg/kg")
    width: Literal["small", "medium", "large"] | None = None
    missing: str = MISSING
    help: str | None = None
    note: bool = False  # a long explanation: the app writes it under the table
    from_days: bool = False  # a number of days shown in weeks (kind "weeks"): 32 -> "4.6"

    @property
    def header(self) -> str:
        unit = self.unit if self.unit is not None else _KIND_UNITS.get(self.kind)
        return f"{self.label} ({unit})" if unit else self.label


@dataclass(frozen=True)
class Interval:
    """A lower and an upper limit shown as one column, formatted like the ``lower`` column."""

    lower: str
    upper: str
    label: str = "{ci}"
    value: str | None = None  # the estimate written before its interval: "-2.77 (-3.36 to -2.17)"
    joined: str | None = None  # two values in one cell: "{a} → {b}" ("6.4 → 3.6"); a blank b: a
    help: str | None = None


@dataclass(frozen=True)
class Fraction:
    """A count over its denominator with their share as one column: "131/303 (43.2%)"; the
    share formatted like its own column (a percentage), the label says whom it counts."""

    n: str
    denominator: str
    share: str | None  # None: "n/N" alone
    label: str
    help: str | None = None


@dataclass(frozen=True)
class TableSpec:
    """One table: the columns shown in order (None: every column of the frame, each of
    which must then have a label), labels that differ from the shared vocabulary, columns
    never shown, and whether unnamed columns are the source file's own headers."""

    columns: tuple[str | Interval | Fraction, ...] | None = None
    labels: Mapping[str, Column] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    file_columns: bool = False  # quarantine: other columns are the export's own headers
    numbered: Column | None = None  # columns named 0, 4, 8 (weeks): label "{n}" filled in
    unit_column: str | None = None  # long format: each row's unit for its measured columns
    measured: frozenset[str] = frozenset({"value", "lower", "upper"})
    lead: tuple[str, ...] = ()  # with ``columns`` None: these first, then the frame's order


class UnlabelledColumn(ValueError):
    """A table would show a column nobody gave a label."""


@dataclass(frozen=True)
class ShownColumn:
    header: str
    numeric: bool  # right-aligned
    width: str | None
    help: str | None
    note: bool = False  # a long explanation (``Column.note``)


@dataclass(frozen=True)
class DisplayTable:
    """Text cells under people's headers, and how each column is laid out."""

    frame: pl.DataFrame
    columns: tuple[ShownColumn, ...]

    @property
    def height(self) -> int:
        return self.frame.height


def _number(v: float, decimals: int) -> str:
    return f"{v:,.{decimals}f}"


def format_cell(v: Any, col: Column) -> str:
    """One value as its column's kind reads it; a missing value as the column's word."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return col.missing
    kind = col.kind
    d = col.decimals if col.decimals is not None else _DEFAULT_DECIMALS.get(kind, 2)
    if kind == "yes_no" or isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if kind == "date" else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    if kind == "words":
        return words(v)
    if kind == "instrument":
        return instrument_label(str(v))
    if not isinstance(v, int | float) or kind == "text":
        return str(v)
    if col.from_days:
        v = v / 7
    if kind == "count":
        return f"{round(v):,}" if float(v).is_integer() else _number(v, 1)
    if kind == "percent":
        return f"{_number(100 * v, d)}%"
    if kind == "percent_points":
        return f"{_number(v, d)}%"
    if kind == "rate" and 0 < abs(v) < 0.1:  # 1 event in 2,144 sessions is not "0.0"
        return f"{v:.2f}"
    if kind == "pvalue":
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    return _number(v, d)


#: currencies written with their symbol; any other code follows the amount
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def measured_cell(v: Any, unit: str | None, col: Column) -> str:
    """A value of a long-format table whose row says its unit: "12.5%", "$3,478",
    "45.2 MME/day"."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or not unit:
        return format_cell(v, col)
    d = col.decimals if col.decimals is not None else 1
    if unit == "%":
        return f"{_number(v, d)}%"
    if unit in CURRENCY_SYMBOLS:
        return f"{CURRENCY_SYMBOLS[unit]}{_number(v, 0)}"
    if unit.isalpha() and unit.isupper() and len(unit) == 3:  # another ISO 4217 currency
        return f"{_number(v, 0)} {unit}"
    return f"{_number(v, d)} {unit}"


def _label(
    name: str, spec: TableSpec, vocabulary: Mapping[str, Column], table: str, ci: str
) -> Column:
    for key in (name, name.replace(ci, "{ci}")):
        if key in spec.labels:
            return spec.labels[key]
        if key in vocabulary and not spec.file_columns:  # a file's "value" is its own
            return vocabulary[key]
    if spec.numbered is not None and name.isdigit():
        return replace(spec.numbered, label=spec.numbered.label.format(n=name))
    if spec.file_columns:
        return Column(f"{name} (file column)")
    raise UnlabelledColumn(
        f"table {table!r}: column {name!r} has no label; add it to table_specs.COLUMNS or "
        "to the table's own labels (or hide it)"
    )


def _cells(frame: pl.DataFrame, name: str, col: Column, spec: TableSpec) -> list[str]:
    values = frame.get_column(name).to_list()
    if spec.unit_column in frame.columns and name in spec.measured:
        units = frame.get_column(spec.unit_column).to_list()
        return [measured_cell(v, u, col) for v, u in zip(values, units, strict=True)]
    return [format_cell(v, col) for v in values]


def _one_unit(frame: pl.DataFrame, name: str, spec: TableSpec) -> str:
    """ " (USD)" when every row of a long-format table has the same unit, else nothing."""
    if spec.unit_column not in frame.columns or name not in spec.measured:
        return ""
    units = frame.get_column(spec.unit_column).drop_nulls().unique().to_list()
    return f" ({units[0]})" if len(units) == 1 else ""


def _interval(
    frame: pl.DataFrame, iv: Interval, cols: tuple[Column, Column], spec: TableSpec
) -> list[str]:
    lows, highs = _cells(frame, iv.lower, cols[0], spec), _cells(frame, iv.upper, cols[1], spec)
    if spec.unit_column in frame.columns and iv.lower in spec.measured:
        units = frame.get_column(spec.unit_column).to_list()  # the unit once: "30.0–60.0 MME/day"
        lows = [lo.removesuffix(f" {u}") for lo, u in zip(lows, units, strict=True)]
    if iv.joined is not None:
        blank = ("", cols[1].missing)
        return [
            a if b in blank else iv.joined.format(a=a, b=b)
            for a, b in zip(lows, highs, strict=True)
        ]
    return [
        MISSING
        if a == cols[0].missing and b == cols[1].missing
        else f"{a} to {b}"  # "-2.98 to -1.84" reads better than "-2.98–-1.84"
        if a.startswith("-") or b.startswith("-")
        else f"{a}–{b}"
        for a, b in zip(lows, highs, strict=True)
    ]


def _fraction(frame: pl.DataFrame, fr: Fraction, share: Column) -> list[str]:
    """ "n/N (share)" per row; a missing denominator reads as missing, a missing share (N = 0)
    leaves "n/N"."""
    count = Column("", "count")
    ns, dens, shares = (
        [format_cell(v, c) for v in frame.get_column(name).to_list()]
        for name, c in ((fr.n, count), (fr.denominator, count), (fr.share or fr.n, share))
    )
    if fr.share is None:
        return [MISSING if d == MISSING else f"{n}/{d}" for n, d in zip(ns, dens, strict=True)]
    return [
        MISSING if d == MISSING else f"{n}/{d}" if r == share.missing else f"{n}/{d} ({r})"
        for n, d, r in zip(ns, dens, shares, strict=True)
    ]


def display_table(
    frame: pl.DataFrame,
    spec: TableSpec,
    vocabulary: Mapping[str, Column],
    *,
    ci: str = "95% CI",
    table: str = "table",
) -> DisplayTable:
    """``frame`` as people read it, by ``spec`` (labels from ``vocabulary`` unless the spec
    overrides them); ``ci`` fills the "{ci}" in labels; ``table`` names it in errors."""
    wanted = spec.columns
    if wanted is None:
        lead = tuple(c for c in spec.lead if c in frame.columns)
        wanted = lead + tuple(c for c in frame.columns if c not in lead)
    cells: dict[str, list[str]] = {}
    shown: list[ShownColumn] = []
    for item in wanted:
        if isinstance(item, Fraction):
            parts = (item.n, item.denominator, item.share or item.n)
            if any(c not in frame.columns for c in parts):
                continue
            share = _label(item.share, spec, vocabulary, table, ci) if item.share else None
            col = replace(share or Column("", "count"), help=item.help)
            header = item.label.format(ci=ci)
            values = _fraction(frame, item, col)
        elif isinstance(item, Interval):
            if item.lower not in frame.columns or item.upper not in frame.columns:
                continue
            col = _label(item.lower, spec, vocabulary, table, ci)
            upper = _label(item.upper, spec, vocabulary, table, ci)
            header = item.label.format(ci=ci)
            values = _interval(frame, item, (col, upper), spec)
            if item.value is not None and item.value in frame.columns:
                col = replace(_label(item.value, spec, vocabulary, table, ci), help=item.help)
                values = [
                    v if iv == MISSING else f"{v} ({iv})"
                    for v, iv in zip(_cells(frame, item.value, col, spec), values, strict=True)
                ]
        else:
            item = item.replace("{ci}", ci)  # a column named after the configured level
            if item not in frame.columns or item in spec.hidden:
                continue
            col = _label(item, spec, vocabulary, table, ci)
            header = col.header.format(ci=ci) + _one_unit(frame, item, spec)
            values = _cells(frame, item, col, spec)
            if (
                spec.file_columns
                and item not in spec.labels
                and all(v in ("", MISSING) for v in values)
            ):
                continue  # a column of another source file: empty on every row shown
        while header in cells:
            header += " "
        cells[header] = values
        shown.append(ShownColumn(header, col.kind in _NUMERIC, col.width, col.help, col.note))
    out = pl.DataFrame(cells, schema=dict.fromkeys(cells, pl.String))
    return DisplayTable(out, tuple(shown))


def html_table(table: DisplayTable, limit: int | None = None) -> str:
    """``table`` as an HTML table (every cell escaped): numbers in cells of class ``num``
    (right-aligned), wide text in cells of class ``txt``; at most ``limit`` rows."""
    e = html.escape
    classes = [
        " class='txt'" if c.width == "large" else " class='num'" if c.numeric else ""
        for c in table.columns
    ]
    head = "".join(
        f"<th{' class=num' if c.numeric else ''}>{e(c.header)}</th>" for c in table.columns
    )
    rows = table.frame if limit is None else table.frame.head(limit)
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{e(v)}</td>" for k, v in zip(classes, row, strict=True)) + "</tr>"
        for row in rows.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def row_label_columns(table: DisplayTable) -> int:
    """How many leading columns say what a row is about: the first, and the second too when
    the first repeats and the second is words, not a number ("Pain NRS (0-10)", "response")."""
    cols = table.columns
    if len(cols) < 2 or table.height < 2 or cols[1].numeric:
        return min(1, len(cols))
    first = table.frame.get_column(cols[0].header)
    return 1 if first.n_unique() == table.height else 2


def _row_keys(frame: pl.DataFrame, kept: list[str]) -> list[str]:
    """What each row is about, in words: its first column, or its first two when the first
    repeats ("Pain NRS (0-10), response")."""
    first = frame.get_column(kept[0]).to_list()
    if len(set(first)) == len(first) or len(kept) < 2:
        return first
    second = frame.get_column(kept[1]).to_list()
    return [f"{a}, {b}" for a, b in zip(first, second, strict=True)]


def _note_lines(header: str, texts: list[str], keys: list[str], firsts: list[str]) -> list[str]:
    """One line per distinct text of a note column, naming the rows it is about (by their
    first column when that decides the text, else by ``keys``); none for blank texts."""
    lines = []
    distinct = list(dict.fromkeys(t for t in texts if t not in ("", MISSING)))
    for text in distinct:
        rows = [i for i, t in enumerate(texts) if t == text]
        if len(rows) == len(texts):
            lines.append(f"{header}: {text}")
            continue
        by_first = {firsts[i] for i in rows}
        decided = all(texts[i] == text for i, f in enumerate(firsts) if f in by_first)
        about = by_first if decided else {keys[i] for i in rows}
        ordered = [k for k in dict.fromkeys(firsts if decided else keys) if k in about]
        lines.append(f"{header} · {'; '.join(ordered)}: {text}")
    return lines


def notes_beneath(table: DisplayTable) -> tuple[DisplayTable, tuple[str, ...]]:
    """``table`` without its note columns (``Column.note``: caveats, definitions, who was
    left out), and those notes as lines to write under it, each distinct text once with the
    rows it is about. Nothing is lost: every non-blank note is in a line."""
    notes = [c for c in table.columns if c.note]
    kept = [c for c in table.columns if not c.note]
    if not notes or not kept or table.height == 0:
        return table, ()
    frame = table.frame
    names = [c.header for c in kept]
    keys, firsts = _row_keys(frame, names), frame.get_column(names[0]).to_list()
    lines = [
        line
        for c in notes
        for line in _note_lines(
            c.header.strip(), frame.get_column(c.header).to_list(), keys, firsts
        )
    ]
    return DisplayTable(frame.select(names), tuple(kept)), tuple(lines)
