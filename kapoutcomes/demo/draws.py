"""Vectorised draw plumbing for the demo cohort: calendar days and clinic times from the
fixed anchor, weekend-free clinic days, and per-patient grouping of sorted draws."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from kapoutcomes.demo.params import ANCHOR, RELIEF_FADE_DAYS

#: Per-patient or per-session draws: name -> array (one element per patient / session).
Draws = dict[str, np.ndarray]


def day_dates(days: np.ndarray) -> pl.Series:
    return pl.Series(np.datetime64(ANCHOR, "D") + days.astype("timedelta64[D]"))


def minute_times(minutes: np.ndarray) -> pl.Series:
    base = np.datetime64(dt.datetime.combine(ANCHOR, dt.time()), "us")
    return pl.Series(base + (minutes.astype(np.int64) * 60_000_000).astype("timedelta64[us]"))


def pick(rng: np.random.Generator, options: tuple, p: tuple | np.ndarray, n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p))]


def group_ordinal(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2 ... within runs of equal values of a sorted array."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(groups[1:] != groups[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def clock_minutes(
    rng: np.random.Generator, n: int, first: int = 8 * 60, slots: int = 17
) -> np.ndarray:
    """Start times on the half hour within clinic hours (minutes after midnight)."""
    return first + 30 * rng.integers(0, slots, n)


def clinic_weekday(day: np.ndarray, weekdays: np.ndarray | int = 0) -> np.ndarray:
    """Day indexes moved off the weekend (Saturday to Friday, Sunday to Monday), then moved on
    ``weekdays`` weekdays."""
    dates = np.datetime64(ANCHOR, "D") + np.asarray(day).astype("timedelta64[D]")
    dow = (dates.astype(np.int64) + 3) % 7  # Monday 0 ... Sunday 6 (1970-01-01 was a Thursday)
    dates = dates + np.select([dow == 5, dow == 6], [-1, 1], 0).astype("timedelta64[D]")
    moved = np.busday_offset(dates, weekdays, roll="forward")
    return (moved - np.datetime64(ANCHOR, "D")).astype(np.int64)


def group_cumsum(steps: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sum of ``steps`` restarting at each group (``start``: first row of its group)."""
    cum = np.cumsum(steps)
    return cum - (cum[start] - steps[start]) if len(steps) else cum


def relief_kept(since_days: np.ndarray, durability: np.ndarray) -> np.ndarray:
    """Relief kept ``since_days`` after a dose: full until ``durability``, then fading."""
    return np.where(
        since_days <= durability, 1.0, np.exp(-(since_days - durability) / RELIEF_FADE_DAYS)
    )


def nan_to_null(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    return frame.with_columns(pl.col(c).fill_nan(None) for c in floats)


def lookup(frame: pl.DataFrame, size: int) -> pl.Series:
    """Session ids by source row (``_idx``), null where a row was dropped."""
    rows = pl.DataFrame({"_idx": np.arange(size)})
    joined = rows.join(frame, on="_idx", how="left", maintain_order="left")
    return joined.get_column("session_id")


def first_of_each_key(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A frame sorted by ``keys`` without the rows repeating the previous row's key."""
    if frame.height == 0:
        return frame
    differs = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys])
    return frame.filter(differs.fill_null(True) | (pl.int_range(pl.len()) == 0))


def gather_or_null(values: pl.Series, index: np.ndarray) -> pl.Series:
    """``values[index]``, null where index is negative."""
    got = (
        values.gather(np.maximum(index, 0))
        if len(values)
        else pl.repeat(None, len(index), dtype=values.dtype, eager=True)
    )
    return pl.select(pl.when(pl.Series(index) >= 0).then(got)).to_series().alias(values.name)
