"""Prototypes of the library fixes recommended in bench/analysis.md, applied by monkeypatching
inside a benchmark process only (``BENCH_PATCH=import python -m bench.steps ...``), so that
each recommendation comes with measured before / after figures without editing library code
that other people are changing. Not product code: each prototype handles the benchmark's
files and falls back to the library's own code for anything unusual.
"""

from __future__ import annotations

import functools
import io

import polars as pl

from kapoutcomes import privacy
from kapoutcomes.ingest import extract, normalise, read


def _fast_read_delimited(original):
    """Read delimited text with polars' CSV reader (all columns as text) instead of Python's
    csv module; compute each record's starting line from the newlines inside its cells.
    Falls back to the csv-module reader for anything polars does not read cleanly or
    that needs the slow path's care (title lines above the header, ragged rows)."""

    @functools.wraps(original)
    def fast(src, *args, **kwargs):
        try:
            text, encoding = read.decode(src)
            delim = read.sniff_delimiter(text, "." + src.name.rsplit(".", 1)[-1].lower())
            first = text.split("\n", 1)[0]
            header = next(iter(__import__("csv").reader([first], delimiter=delim)))
            if len([h for h in header if h.strip()]) < 2:
                return original(src, *args, **kwargs)
            f = pl.read_csv(
                io.StringIO(text),
                separator=delim,
                infer_schema=False,
                has_header=True,
                empty_string_is_null=False,
                raise_if_empty=True,
            )
        except Exception:
            return original(src, *args, **kwargs)
        if f.columns != read._dedupe_headers(header):
            return original(src, *args, **kwargs)
        # a record starts one line after the previous one ended: 1 + newlines in its cells
        nl = pl.sum_horizontal(pl.col(c).str.count_matches("\n") for c in f.columns)
        lines = (pl.lit(1, pl.Int64) + nl).cum_sum() - (1 + nl) + 2  # header on line 1
        f = f.with_columns(pl.col(c).fill_null("") for c in f.columns).with_columns(
            lines.cast(pl.Int64).alias(read.LINE),
            pl.lit(None, pl.String).alias(read.SHAPE),
        )
        return read.RawTable(src, f, list(f.columns[:-2]), encoding, delimiter=delim)

    return fast


def _unique_first(fn):
    """Apply a column parser to the distinct values only, then map back (dates repeat: a
    session's scores and vitals share one time stamp)."""

    @functools.wraps(fn)
    def wrapper(s: pl.Series, *args, **kwargs) -> pl.Series:
        u = s.unique()
        if u.len() > 0.5 * s.len():
            return fn(s, *args, **kwargs)
        parsed = fn(u, *args, **kwargs)
        m = pl.DataFrame({"k": u, "v": parsed})
        return (
            pl.DataFrame({"k": s})
            .join(m, on="k", how="left", nulls_equal=True, maintain_order="left")
            .get_column("v")
            .alias(s.name)
        )

    return wrapper


class _CachedPrivacy:
    """``privacy`` with ``normalise_header`` memoised (extract_long maps it over every row's
    observation name; the names repeat)."""

    normalise_header = staticmethod(functools.lru_cache(maxsize=65536)(privacy.normalise_header))

    def __getattr__(self, name):
        return getattr(privacy, name)


def apply(which: str) -> list[str]:
    """Apply the named prototypes (comma-separated: read, dates, names, or 'import' for all
    three); return what was applied."""
    names = {"read", "dates", "names"} if which == "import" else set(which.split(","))
    done = []
    if "read" in names:
        read.read_delimited = _fast_read_delimited(read.read_delimited)
        done.append("read: polars CSV reader with line numbers from cell newlines")
    if "dates" in names:
        normalise.parse_datetime = _unique_first(normalise.parse_datetime)
        done.append("dates: parse_datetime on distinct values")
    if "names" in names:
        extract.privacy = _CachedPrivacy()
        done.append("names: normalise_header memoised")
    return done
