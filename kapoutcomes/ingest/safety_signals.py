"""Safety signals that an import must never lose: PHQ-9 item 9 answers and serious adverse
events.

Reading: a PHQ-9 item 9 answer is read in every layout, as a number 0-3, as LOINC answer
list LL358-3 text (Not at all / Several days / More than half the days / Nearly every day,
case and spacing ignored) or as its LA code; the item may be named 9, "Q9", "item 9",
"PHQ9_9", by LOINC 44260-8 or by the words of its question.

Marking: extractors mark every input row carrying a PHQ-9 item 9 answer that is not known to
be 0, and every serious adverse event (``SIGNAL_SCHEMA``). When such a row is quarantined
(unknown patient, an answer of 4 from a 1-4 coding, 2.5, unreadable text, a missing date) the
import raises a "review now" entry (``review_now``): the file, the line, what was seen (never
an identifier) and what to do. A quarantined row is never a silent loss of a suicide-risk
answer (Simon et al., Psychiatr Serv 2013: any item 9 answer above 0 needs same-day review).
"""

from __future__ import annotations

import re

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import instruments
from kapoutcomes.storage import privacy

RK = "_rk"
SIGNAL_SCHEMA = {RK: pl.Int64, "kind": pl.String, "seen": pl.String}
ITEM9 = "phq9_item9"
SERIOUS_EVENT = "serious_adverse_event"

REVIEW_HEADLINE = {
    ITEM9: "possible suicide-risk answer: review now",
    SERIOUS_EVENT: "serious adverse event not stored: review now",
}
REVIEW_ACTION = {
    ITEM9: (
        "a clinician reviews this patient today (PHQ-9 item 9 above 0 needs same-day "
        "follow-up): find the patient from the file's line, then correct the row named in the "
        "quarantine and import it again"
    ),
    SERIOUS_EVENT: (
        "a clinician confirms today that the event was handled and reported: find the "
        "patient from the file's line, then correct the row named in the quarantine and "
        "import it again"
    ),
}

_TEXT_KEYS = {re.sub(r"[^a-z]", "", k): float(v) for k, v in instruments.LL358_3_TEXT.items()}
_CODE_KEYS = {k.upper(): float(v) for k, v in instruments.LL358_3_CODES.items()}
_ITEM_REF = re.compile(
    r"(?i)^\s*(?:phq\s*[-_ ]?\s*9\s*[-_:.#/ ]*\s*)?"
    r"(?:(?:item|question|q|no\.?|nr\.?|#)\s*[-_:.# ]?\s*)?"
    r"(?P<n>\d{1,2})(?:\.0+)?\s*$"
)
_PHQ9_NAME = re.compile(r"(?i)^\s*phq\s*[-_ ]?\s*9\b|^\s*phq9")


def _key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def answer_points(raw: pl.Series) -> pl.Series:
    """LL358-3 answer text or LA code -> points 0-3 (Float64); anything else null."""
    text = raw.cast(pl.String)
    distinct = text.drop_nulls().unique().to_list()
    table: dict[str, float] = {}
    for v in distinct:
        code = v.strip().upper()
        if code in _CODE_KEYS:
            table[v] = _CODE_KEYS[code]
        elif _key(v) in _TEXT_KEYS:
            table[v] = _TEXT_KEYS[_key(v)]
    return text.replace_strict(table, default=None, return_dtype=pl.Float64)


def item_number(text: str | None) -> int | None:
    """An item reference ("9", "9.0", "Q9", "item 9", "PHQ9_9", "PHQ-9 item 9") -> 9."""
    if text is None:
        return None
    m = _ITEM_REF.match(text)
    return int(m.group("n")) if m else None


def item_numbers(raw: pl.Series) -> pl.Series:
    """``item_number`` of each cell (Int32; null when not an item reference)."""
    text = raw.cast(pl.String)
    table = {v: item_number(v) for v in text.drop_nulls().unique().to_list()}
    return text.replace_strict(table, default=None, return_dtype=pl.Int32)


def phq9_item_of_name(name: str | None) -> int | None:
    """The PHQ-9 item a name or local code stands for: "PHQ9_9", "PHQ-9 item 9",
    "PHQ-9 Q9" -> 9; the words of the item 9 question -> 9; a PHQ-9 total -> None."""
    if not name:
        return None
    low = " ".join(name.lower().split())
    if any(w in low for w in instruments.PHQ9_ITEM9_WORDS):
        return instruments.PHQ9_ITEM9
    m = _PHQ9_NAME.match(name)
    if not m:
        return None
    rest = name[m.end() :]
    if not re.search(r"(?i)item|question|\bq\s*\d|[-_#:.]\s*\d|^\s*\d", rest):
        return None
    n = item_number(rest.strip(" -_#:.").strip())
    return n if n is not None and 1 <= n <= 9 else None


def seen_text(value: str | None) -> str:
    """What was seen in the cell, scrubbed of identifier patterns and cut short."""
    if value is None or not str(value).strip():
        return "(blank)"
    v = privacy.scrub_text(str(value).strip())
    return repr(v[:40] + ("…" if len(v) > 40 else ""))


def item9_signals(rk: pl.Series, is_item9: pl.Series, score: pl.Series, raw: pl.Series):
    """Signal rows for PHQ-9 item 9 answers not known to be 0 (``score`` is the answer read,
    null when unreadable; ``raw`` the cell as written)."""
    mask = (is_item9.fill_null(False) & score.ne_missing(0.0).fill_null(True)).fill_null(False)
    if not mask.any():
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    seen = [
        f"PHQ-9 item 9 answer {seen_text(v)}"
        + ("" if s is None else f" (read as {s:g})")
        + ("" if s is None or s in (1.0, 2.0, 3.0) else ": not an answer 0-3")
        for v, s in zip(
            raw.cast(pl.String).filter(mask).to_list(), score.filter(mask).to_list(), strict=True
        )
    ]
    return pl.DataFrame(
        {RK: rk.filter(mask), "kind": [ITEM9] * len(seen), "seen": seen}, schema=SIGNAL_SCHEMA
    )


def serious_event_signals(events: pl.DataFrame) -> pl.DataFrame:
    """Signal rows for candidate adverse events that are serious (marked so, or an event
    that is always serious)."""
    if events.height == 0 or RK not in events.columns:
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    serious = events.filter(
        pl.col("serious").fill_null(False) | pl.col("event").is_in(tables.SERIOUS_EVENTS)
    )
    seen = [
        f"serious adverse event {seen_text(e or t)}"
        for e, t in serious.select("event", "event_text").iter_rows()
    ]
    return pl.DataFrame(
        {RK: serious.get_column(RK), "kind": [SERIOUS_EVENT] * len(seen), "seen": seen},
        schema=SIGNAL_SCHEMA,
    )


def review_now(signals: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    """Review-now entries: the signal rows that were quarantined or kept only as a conflict
    (``problems``: RK, column, reason), once per row and kind, with why the row could not be stored and what to do.
    Columns: RK, kind, headline, seen, reason, action."""
    schema = {
        RK: pl.Int64,
        "kind": pl.String,
        "headline": pl.String,
        "seen": pl.String,
        "reason": pl.String,
        "action": pl.String,
    }
    if signals.height == 0 or problems.height == 0:
        return pl.DataFrame(schema=schema)
    why = problems.group_by(RK, maintain_order=True).agg(
        reason=pl.concat_str([pl.col("column"), pl.lit(": "), pl.col("reason")])
        .unique(maintain_order=True)
        .str.join("; ")
    )
    return (
        signals.unique([RK, "kind"], maintain_order=True)
        .join(why, on=RK, how="inner")
        .sort(RK)
        .select(
            RK,
            "kind",
            headline=pl.col("kind").replace_strict(REVIEW_HEADLINE, return_dtype=pl.String),
            seen="seen",
            reason="reason",
            action=pl.col("kind").replace_strict(REVIEW_ACTION, return_dtype=pl.String),
        )
    )
