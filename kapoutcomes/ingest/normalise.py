"""Normalising cell text: missing markers, dates and times, scores, doses, weights, BP, flags.

Every parser takes a String Series and returns a typed Series of the same length with null
where the text is missing *or* unreadable; callers tell the two apart with ``present`` (a
non-missing input that parses to null is a row-level problem with its reason).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

#: Text that means "no value" (compared trimmed and lower-cased).
MISSING_MARKERS = (
    "",
    "na",
    "n/a",
    "n.a.",
    "#n/a",
    "-",
    "--",
    "---",
    "—",
    "–",
    "?",
    ".",
    "null",
    "nil",
    "nan",
    "none recorded",
    "not recorded",
    "not done",
    "not assessed",
    "missing",
    "declined",
    "refused",
    "pt declined",
    "patient declined",
    "unable",
    "unknown",
)


def distinct_index(s: pl.Series) -> tuple[pl.Series, pl.Series]:
    """The distinct non-null texts of ``s`` (in order of first appearance) and each row's
    index among them (null for a null row), in one hashing pass: a Categorical with
    categories of its own numbers the texts densely (about half the time of ``unique`` and
    then an Enum cast, which hash every row twice)."""
    c = s.cast(pl.String).cast(pl.Categorical(pl.Categories.random()))
    return c.dtype.categories.to_series().alias(s.name), c.to_physical()


def per_distinct(s: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``fn`` applied to the distinct values of ``s`` only, mapped back to every row, when
    values repeat (codes, units, names and times repeat over many rows of an export)."""
    if s.len() < 10_000:
        return fn(s)
    distinct, at = distinct_index(s)
    if distinct.len() > s.len() // 2:
        return fn(s)
    return _at_rows(s, at, fn(distinct), fn)


def to_rows(
    s: pl.Series,
    distinct: pl.Series,
    values: pl.Series,
    fn: Callable[[pl.Series], pl.Series] | None = None,
) -> pl.Series:
    """``values`` (one per text of ``distinct``: the distinct non-null texts of ``s``) taken
    for every row of ``s`` by position: each text's index in ``distinct`` through an Enum of
    them (several times faster than joining on the text). A null row gets ``fn`` of null."""
    return _at_rows(s, s.cast(pl.String).cast(pl.Enum(distinct)).to_physical(), values, fn)


def _at_rows(
    s: pl.Series,
    at: pl.Series,
    values: pl.Series,
    fn: Callable[[pl.Series], pl.Series] | None = None,
) -> pl.Series:
    """``values`` taken for every row of ``s`` by its index ``at`` (see ``to_rows``)."""
    out = values.gather(at)
    if fn is not None and s.null_count():
        at_null = fn(pl.Series([None], dtype=s.dtype))
        if at_null.null_count() == 0:
            out = pl.select(pl.when(s.is_null()).then(at_null).otherwise(out)).to_series()
    return out.alias(s.name)


def clean(s: pl.Series, keep: tuple[str, ...] = ()) -> pl.Series:
    """Trimmed text with missing markers turned into null (except those in ``keep``, such as
    "unknown" where it is a value of the vocabulary)."""
    return per_distinct(s.cast(pl.String), lambda d: _clean(d, keep))


def _clean(s: pl.Series, keep: tuple[str, ...]) -> pl.Series:
    t = s.str.strip_chars()
    # a cell neutralised against formula injection ('=..., '-3) reads as what follows the quote
    t = t.str.replace(r"^'(\s*[=+\-@]|[\t\r])", "$1")
    t = t.str.replace_all(r";'(\s*[=+\-@]|[\t\r])", ";${1}")  # and after a ";" (exports)
    return (
        pl.select(
            pl.when(t.str.to_lowercase().is_in([m for m in MISSING_MARKERS if m not in keep]))
            .then(None)
            .otherwise(t)
        )
        .to_series()
        .alias(s.name)
    )


def present(s: pl.Series) -> pl.Series:
    return clean(s).is_not_null()


# -- dates and times ------------------------------------------------------------------------
_ISO = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d-%b-%Y %H:%M",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d-%B-%Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
]
_ZONED = [
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M%z",
]


def _slash_formats(day_first: bool) -> list[str]:
    d = "%d/%m" if day_first else "%m/%d"
    out = []
    for y in ("%Y",):
        for sep in ("/", "-", "."):
            dd = d.replace("/", sep)
            out += [
                f"{dd}{sep}{y} %H:%M:%S",
                f"{dd}{sep}{y} %H:%M",
                f"{dd}{sep}{y} %I:%M:%S %p",
                f"{dd}{sep}{y} %I:%M %p",
                f"{dd}{sep}{y} %I:%M%p",
                f"{dd}{sep}{y}",
            ]
    return out


_ZONE_SUFFIX = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})$"


def parse_datetime(
    s: pl.Series,
    day_first: bool,
    timezone: str,
    with_presence: bool = False,
    century_pivot: int | None = None,
):
    """Datetimes in clinic local time (naive); see ``_parse_datetime_values``. Each distinct
    text is parsed once (an export repeats the same times over many rows). ``with_presence``:
    also ``present(s)``, from the same distinct texts: ``(datetimes, present)``.
    ``century_pivot``: see ``two_digit_year``."""
    ZoneInfo(timezone)  # raises for an unknown zone
    if s.len() == 0:
        out = _parse_datetime_values(s, day_first, timezone, century_pivot=century_pivot)
        return (out, present(s)) if with_presence else out
    distinct, at = distinct_index(s)  # each row's index in distinct
    # a null text is missing: not present, parsed to null (as the parsers do)
    cleaned = clean(distinct)  # (once, for the datetimes and the presence)
    parsed = _parse_datetime_values(distinct, day_first, timezone, cleaned, century_pivot)
    parsed = parsed.gather(at).alias(s.name)
    if not with_presence:
        return parsed
    return parsed, cleaned.is_not_null().gather(at).fill_null(False).alias(s.name)


def _parse_datetime_values(
    s: pl.Series,
    day_first: bool,
    timezone: str,
    cleaned: pl.Series | None = None,
    century_pivot: int | None = None,
) -> pl.Series:
    """Datetimes in clinic local time (naive). ISO, US m/d/Y (or d/m/Y with ``day_first``),
    with or without times (12- or 24-hour). Zone-stamped times (``2021-08-23T03:26:50Z``,
    ``+02:00``) are converted to ``timezone`` before the local date is taken. ``cleaned``:
    ``clean(s)`` when the caller has it."""
    ZoneInfo(timezone)  # raises for an unknown zone
    t = (
        (clean(s) if cleaned is None else cleaned)
        .str.replace_all(r"\s+", " ")
        .str.replace(r"(?i)\s*(a\.m\.|am)$", " AM")
    )
    t = t.str.replace(r"(?i)\s*(p\.m\.|pm)$", " PM")
    pivot = two_digit_pivot(century_pivot)
    m = t.str.extract_groups(r"^(?P<a>\d{1,2}[/.-]\d{1,2}[/.-])(?P<y>\d{2})(?P<r>(?:\s.*)?)$")
    yy = m.struct.field("y").cast(pl.Int32, strict=False)
    century = pl.select(pl.when(yy <= pivot).then(pl.lit("20")).otherwise(pl.lit("19"))).to_series()
    expanded = m.struct.field("a") + century + m.struct.field("y") + m.struct.field("r")
    t = pl.select(pl.when(yy.is_not_null()).then(expanded).otherwise(t)).to_series()
    zoned_mask = t.str.contains(_ZONE_SUFFIX).fill_null(False)
    zt = pl.select(pl.when(zoned_mask).then(t)).to_series()
    zt = zt.str.replace(r"Z$", "+00:00").str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
    zoned = _first_format(zt, _ZONED, time_unit="us", time_zone="UTC")
    zoned = zoned.dt.convert_time_zone(timezone).dt.replace_time_zone(None)
    naive_formats = _ISO + _slash_formats(day_first)
    naive = _first_format(
        pl.select(pl.when(~zoned_mask).then(t)).to_series(), naive_formats, time_unit="us"
    )
    out = pl.select(pl.when(zoned_mask).then(zoned).otherwise(naive)).to_series()
    # an impossible year (0, negative: polars reads "0000-03-04" and "-12-03-04") is no date
    out = pl.select(pl.when(out.dt.year() >= 1).then(out)).to_series()
    return out.alias(s.name)


def two_digit_pivot(century_pivot: int | None = None) -> int:
    """Two-digit years ``00``..pivot are 20xx, the rest 19xx. The default pivot is this
    year's last two digits, so a two-digit year is never read as a future year (in 2026:
    ``26`` is 2026, ``27`` is 1927); ``century_pivot`` (setting ``two_digit_year_pivot``)
    sets another."""
    if century_pivot is None or century_pivot < 0:
        return dt.date.today().year % 100
    return century_pivot


def _first_format(t: pl.Series, formats: list[str], **kw: str) -> pl.Series:
    """Each text read with the first of ``formats`` that reads it (null when none does): the
    same as coalescing every format over every value, but each further format is tried only
    on the values still unread (an export writes its dates one way)."""
    out = t.str.to_datetime(formats[0], strict=False, **kw)
    for f in formats[1:]:
        todo = (out.is_null() & t.is_not_null()).arg_true()
        if todo.len() == 0:
            break
        out = out.scatter(todo, t.gather(todo).str.to_datetime(f, strict=False, **kw))
    return out


def date_hint(value: str, day_first: bool) -> str:
    """Why a date could not be read, in words a person can act on (the value itself is
    reported beside the reason, so reasons group well)."""
    m = re.fullmatch(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4}).*", value or "")
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if not day_first and a > 12 and b <= 12:
            return (
                "not a valid month/day/year date; if this file writes the day first, import "
                "it with --date-order day-first"
            )
        if day_first and b > 12 and a <= 12:
            return (
                "not a valid day/month/year date; this column is read day-first: import "
                "the file with --date-order month-first"
            )
    day = re.split(r"[\sT]", (value or "").strip(), maxsplit=1)[0]
    if re.fullmatch(r"-.*|.*(?<!\d)(0{1,4}|\d{5,})(?!\d)(\D.*)?", day):
        return (
            "not a valid date: the year is impossible (0, negative or more than four digits); "
            "correct the date in the export"
        )
    return (
        "not a date this importer reads (use 2024-03-31, 03/31/2024, 31-Mar-2024 or "
        "2024-03-31T14:05:00Z)"
    )


# -- the day/month order of a column ---------------------------------------------------------
DAY_FIRST = "day-first"
MONTH_FIRST = "month-first"
DATE_ORDERS = (DAY_FIRST, MONTH_FIRST)
_SLASH_DATE = r"^(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<y>\d{2}|\d{4})(?:[ T].*)?$"
_SET_ORDER = "set the order (--date-order day-first|month-first)"


@dataclass(frozen=True)
class DateOrder:
    """How one column's numeric dates (03/04/2024) were read, and why. ``order`` is
    ``day-first``, ``month-first`` or None (undecided: its ambiguous values quarantined)."""

    column: str
    order: str | None
    why: str
    day_first_values: int = 0  # values whose first field is above 12 (25/03/2024)
    month_first_values: int = 0  # values whose second field is above 12 (03/25/2024)
    ambiguous_values: int = 0  # both fields 12 or below and different (03/04/2024)
    quarantined: int = 0  # values quarantined for their order

    def text(self) -> str:
        return f"dates in {self.column}: {self.order or 'order not decided'} ({self.why})"


def _evidence(s: pl.Series) -> pl.Series:
    """Per value: "D" (only day-first reads it: first field above 12), "M" (only
    month-first), "A" (both read it, as different dates) or null (not a numeric date, or
    one both orders read the same, such as 04/04/2024)."""
    m = clean(s).str.extract_groups(_SLASH_DATE)
    a = m.struct.field("a").cast(pl.Int32, strict=False)
    b = m.struct.field("b").cast(pl.Int32, strict=False)
    return (
        pl.select(
            pl.when((a > 12) & (b <= 12) & (b >= 1))
            .then(pl.lit("D"))
            .when((b > 12) & (a <= 12) & (a >= 1))
            .then(pl.lit("M"))
            .when((a <= 12) & (b <= 12) & (a >= 1) & (b >= 1) & (a != b))
            .then(pl.lit("A"))
        )
        .to_series()
        .alias(s.name)
    )


def decide_date_order(s: pl.Series, configured: str | None) -> tuple[DateOrder | None, pl.Series]:
    """The day/month order of a column from all its values, and per row the reason its
    value cannot be read in that order (null for the rest). Never a guess:

    * values with a first field above 12 (25/03/2024) settle day-first, a second field above
      12 (03/25/2024) month-first;
    * a column with both is inconsistent: read with ``configured`` if set, else with the
      order most of those values show; the values of the other order are quarantined (a
      tie, with no configured order: all its numeric dates are);
    * a column no value settles is read with ``configured``; without it its ambiguous values
      are quarantined ("ambiguous day/month: set the order ...");
    * a settled column whose order contradicts ``configured`` keeps ``configured`` and
      quarantines the values that contradict it (the clinic's order is never overridden).

    None when the column holds no numeric day/month dates (ISO dates and the like)."""
    ev = per_distinct(s, _evidence)
    n_d, n_m = int((ev == "D").sum()), int((ev == "M").sum())
    n_a = int((ev == "A").sum())
    no_reason = pl.repeat(None, s.len(), dtype=pl.String, eager=True).alias(s.name)
    if n_d + n_m + n_a == 0:
        return None, no_reason
    counts = {"day_first_values": n_d, "month_first_values": n_m, "ambiguous_values": n_a}
    name = s.name or "date"
    settled = f"{n_d} value(s) like 25/03 (day first), {n_m} like 03/25 (month first)"
    if n_d and n_m:
        order = configured or (DAY_FIRST if n_d > n_m else MONTH_FIRST if n_m > n_d else None)
        src = "configured" if configured else "most of them"
        why = (
            f"inconsistent: {settled}; read {order} ({src})"
            if order
            else (f"inconsistent: {settled}, as many each way; {_SET_ORDER}")
        )
    elif n_d or n_m:
        evident = DAY_FIRST if n_d else MONTH_FIRST
        if configured and configured != evident:
            order, why = configured, f"configured; {settled}: they contradict it"
        else:
            order, why = evident, f"{settled}"
    elif configured:
        order, why = configured, f"no value settles it ({n_a} ambiguous): configured order"
    else:
        order, why = None, f"no value settles it; {n_a} ambiguous value(s) quarantined"
    reason = _order_reasons(ev, order, n_d and n_m and not configured, name)
    decided = DateOrder(name, order, why, quarantined=int(reason.is_not_null().sum()), **counts)
    return decided, reason


def _other(order: str | None) -> str:
    return MONTH_FIRST if order == DAY_FIRST else DAY_FIRST


def _order_reasons(ev: pl.Series, order: str | None, inconsistent: bool, name: str) -> pl.Series:
    """Per row, why its value is not read in ``order`` (null: nothing against it)."""
    against = {DAY_FIRST: "M", MONTH_FIRST: "D"}.get(order or "")
    contradicts = (
        f"this date can only be read {'month' if against == 'M' else 'day'}-first, but "
        f"{name} is read {order}: check the value in the EHR (or, if the whole column is "
        f"written the other way, import with --date-order {_other(order)})"
    )
    if order is None:
        ambiguous = (
            f"ambiguous day/month: {name} writes both orders; {_SET_ORDER}"
            if inconsistent
            else f"ambiguous day/month: {_SET_ORDER}"
        )
        bad = ev.is_in(["D", "M", "A"]) if inconsistent else ev == "A"
        return pl.select(pl.when(bad).then(pl.lit(ambiguous))).to_series().alias(ev.name)
    if inconsistent:
        ambiguous = f"ambiguous day/month: {name} writes both orders; {_SET_ORDER}"
        return (
            pl.select(
                pl.when(ev == against)
                .then(pl.lit(contradicts))
                .when(ev == "A")
                .then(pl.lit(ambiguous))
            )
            .to_series()
            .alias(ev.name)
        )
    return pl.select(pl.when(ev == against).then(pl.lit(contradicts))).to_series().alias(ev.name)


# -- numbers --------------------------------------------------------------------------------
_NUM = r"[-+]?\d+(?:[.,]\d+)?"


def parse_number(s: pl.Series) -> pl.Series:
    """A plain number ("7", "7.5", "7,5" with a decimal comma, "1,200" with thousands)."""
    t = clean(s).str.replace(r"^(?:\$|USD\s*|€|£)\s*", "").str.replace(r"^-\$", "-")
    t = pl.select(
        pl.when(t.str.contains(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$"))
        .then(t.str.replace_all(",", ""))
        .otherwise(t)
    ).to_series()
    t = t.str.replace(r"^([-+]?\d+),(\d{1,2})$", "$1.$2")  # 7,5
    return t.cast(pl.Float64, strict=False).alias(s.name)


_SCORE = re.compile(
    r"(?i)^\s*(?P<v>[-+]?\d+(?:[.,]\d+)?)\s*(?:(?:/|out of|of)\s*(?P<d>\d+(?:\.\d+)?))?\s*(?:pts?|points?)?\s*$",
    re.I,
)


def parse_score(s: pl.Series) -> pl.DataFrame:
    """Scores written "7", "7/10", "7 / 10", "7 out of 10": value and denominator columns."""
    t = clean(s)
    ext = t.str.extract_groups(_SCORE.pattern)
    value = ext.struct.field("v").str.replace(",", ".").cast(pl.Float64, strict=False)
    denom = ext.struct.field("d").cast(pl.Float64, strict=False)
    return pl.DataFrame({"value": value, "denominator": denom})


_DOSE = re.compile(
    r"(?i)^\s*(?P<v>[-+]?\d+(?:[.,]\d+)?)\s*(?P<u>mg/kg|mg per kg|mcg/kg|µg/kg|ug/kg|mg|mcg|µg|ug|g)?\s*$",
    re.I,
)


def parse_dose(s: pl.Series, default_unit: str = "mg") -> pl.DataFrame:
    """Ketamine doses: columns ``dose_mg`` (mg) and ``dose_mg_per_kg`` (mg/kg) - one of them
    filled from text such as "35 mg", "500 mcg", "0.5 mg/kg", "35" (``default_unit``)."""
    t = clean(s)
    ext = t.str.extract_groups(_DOSE.pattern)
    v = ext.struct.field("v").str.replace(",", ".").cast(pl.Float64, strict=False)
    u = (
        ext.struct.field("u")
        .str.to_lowercase()
        .str.replace_all(r"\s*per\s*", "/")
        .str.replace("µg", "mcg")
        .str.replace("ug", "mcg")
        .fill_null(default_unit.lower())
    )
    scale = {"mg": 1.0, "mcg": 0.001, "g": 1000.0, "mg/kg": 1.0, "mcg/kg": 0.001}
    factor = u.replace_strict(scale, default=None, return_dtype=pl.Float64)
    per_kg = u.str.ends_with("/kg")
    val = v * factor
    return pl.DataFrame(
        {
            "dose_mg": pl.select(pl.when(~per_kg).then(val)).to_series(),
            "dose_mg_per_kg": pl.select(pl.when(per_kg).then(val)).to_series(),
        }
    )


def parse_weight_kg(s: pl.Series, default_unit: str = "kg") -> pl.Series:
    """Body weight in kg from "80", "80 kg", "176 lb", "176 lbs"."""
    t = clean(s)
    ext = t.str.extract_groups(
        r"(?i)^\s*(?P<v>\d+(?:[.,]\d+)?)\s*(?P<u>kg|kgs|lb|lbs|pounds?)?\s*$"
    )
    v = ext.struct.field("v").str.replace(",", ".").cast(pl.Float64, strict=False)
    u = ext.struct.field("u").str.to_lowercase().fill_null(default_unit.lower())
    lb = u.str.starts_with("lb") | u.str.starts_with("pound")
    return (
        pl.select(pl.when(lb).then((v * 0.45359237).round(1)).otherwise(v))
        .to_series()
        .alias(s.name)
    )


def parse_bp(s: pl.Series) -> pl.DataFrame:
    """Blood pressure "120/80" (mmHg) -> systolic and diastolic."""
    t = clean(s)
    ext = t.str.extract_groups(r"^\s*(?P<sys>\d{2,3})\s*/\s*(?P<dia>\d{2,3})\s*(?:mm ?hg)?\s*$")
    return pl.DataFrame(
        {
            "systolic": ext.struct.field("sys").cast(pl.Int32, strict=False),
            "diastolic": ext.struct.field("dia").cast(pl.Int32, strict=False),
        }
    )


def parse_int(s: pl.Series) -> pl.Series:
    """A whole number, allowing a unit after it ("72 bpm", "98%", "40 min")."""
    t = clean(s).str.extract(r"^\s*(\d+(?:\.0+)?)\s*[a-zA-Z%/ ]*$", 1)
    return t.cast(pl.Float64, strict=False).cast(pl.Int32, strict=False).alias(s.name)


_TRUE = ("yes", "y", "true", "t", "1", "x", "positive", "present")
_FALSE = ("no", "n", "false", "f", "0", "negative", "absent", "none")


def parse_bool(s: pl.Series) -> pl.Series:
    t = clean(s).str.to_lowercase()
    return (
        pl.select(
            pl.when(t.is_in(list(_TRUE)))
            .then(True)
            .when(t.is_in(list(_FALSE)))
            .then(False)
            .otherwise(None)
        )
        .to_series()
        .alias(s.name)
    )


SEX_WORDS = {
    "f": "female",
    "female": "female",
    "woman": "female",
    "w": "female",
    "m": "male",
    "male": "male",
    "man": "male",
    "o": "other",
    "other": "other",
    "nonbinary": "other",
    "non-binary": "other",
    "x": "other",
    "u": "unknown",
    "unknown": "unknown",
}


def parse_sex(s: pl.Series) -> pl.Series:
    """Sex as female / male / other / unknown; missing -> unknown."""
    t = s.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        t.replace_strict(SEX_WORDS, default=None, return_dtype=pl.String)
        .fill_null(pl.select(pl.when(clean(s).is_null()).then(pl.lit("unknown"))).to_series())
        .alias(s.name)
    )


def vocab_key(text: str) -> str:
    """Text compared for translation: case, digits, punctuation and spacing ignored
    ("Ketamine Infusion - Induction #3" and "ketamine infusion induction" are the same)."""
    return re.sub(r"[^a-z]+", "_", text.lower()).strip("_")


def translate(s: pl.Series, table: dict[str, str], vocabulary: tuple[str, ...]) -> pl.Series:
    """Map text to a controlled vocabulary: the mapping table first (case-insensitive), then
    the vocabulary itself; both compared with ``vocab_key``."""
    t = clean(s, keep=tuple(v.lower() for v in vocabulary))
    key = t.str.to_lowercase().str.replace_all(r"[^a-z]+", "_").str.strip_chars("_")
    lookup = {vocab_key(v): v for v in vocabulary}
    lookup.update({vocab_key(k): v for k, v in table.items()})
    return key.replace_strict(lookup, default=None, return_dtype=pl.String).alias(s.name)
