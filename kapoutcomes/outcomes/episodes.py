"""Response episodes and durability: when each patient's response began and was lost.

A *response episode* starts at the first assessment whose reduction from baseline reaches
the response threshold (``outcomes.response_rules``) while no episode is running. It ends
(loss of response, the event for durability) at whichever comes first of

* the first of ``settings.loss_consecutive_assessments`` consecutive assessments below the
  response threshold (the date response was first seen to be lost), or
* an unscheduled booster infusion (``session_type == "booster"``) given while responding,
  when ``settings.loss_on_unscheduled_booster`` is set.

Episodes still running at the last assessment are censored there. ``last_responding_at``
is the episode's last responding assessment: a loss happened after it and no later than
``end_at`` (the first of the assessments that confirm it), which is what interval-censored
estimates need; ``last_assessed_at`` is the last assessment of the episode (for a loss, the
assessment that confirmed it). Time is counted from the *origin*: the dosing session that
started the response (the latest dose at or before onset, an induction infusion included);
an episode whose origin is a booster is ``restored_by_booster``. Durability after a
successful induction (origin the end of induction, end-of-induction responders only) is
computed from these episodes in ``cohort.durability``. The whole state machine is written
with polars window expressions (no per-patient loops): the assessment stream is cut into
segments that each open with a responding assessment or a booster, and the episode state
follows from the number of non-responding assessments in each segment.

The one-patient maintenance review (``patient_facts``, ``describe_patient``) is in
``maintenance_review``, which builds on this module (never the other way round).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import days_between, dosing_sessions

_EPISODE_SCHEMA = {
    "patient_id": pl.String,
    "instrument": pl.String,
    "episode": pl.Int32,
    "onset_at": pl.Datetime("us"),
    "origin_at": pl.Datetime("us"),
    "origin_session_type": pl.String,
    "restored_by_booster": pl.Boolean,
    "end_at": pl.Datetime("us"),
    "end_reason": pl.String,
    "event": pl.Boolean,
    "last_responding_at": pl.Datetime("us"),
    "last_assessed_at": pl.Datetime("us"),
    "duration_days": pl.Float64,
}


def loss_definition(settings: Settings) -> str:
    """The loss-of-response rule in force, in words (shown beside durability results)."""
    rule = (
        f"response lost on the first of {settings.loss_consecutive_assessments} consecutive "
        "assessments below the response threshold"
    )
    if settings.loss_on_unscheduled_booster:
        rule += ", or at an unscheduled booster infusion"
    return rule + "; still responding at the last assessment = censored there"


def _event_stream(
    change: pl.DataFrame, sessions: pl.DataFrame, settings: Settings, code: dict[str, int]
) -> pl.DataFrame:
    """The assessments with a responder flag (kind 0) from each key's first response on, and
    (when boosters end episodes) the unscheduled boosters (kind 1) of those keys, with
    instruments as the integer ``code``, sorted by patient, instrument, time and kind."""
    a = change.filter(pl.col("responder").is_not_null()).select(
        "patient_id",
        instrument=pl.col("instrument").replace_strict(code, return_dtype=pl.UInt16),
        t=pl.col("assessed_at"),
        kind=pl.lit(0, pl.Int8),
        resp=pl.col("responder"),
    )
    # assessments before a key's first response can neither start nor end an episode (nor
    # can the keys that never respond): leave them out of the stream
    first_response = pl.col("t").filter(pl.col("resp")).min().over("patient_id", "instrument")
    a = a.filter(pl.col("t") >= first_response)
    streams = [a]
    if settings.loss_on_unscheduled_booster and a.height:
        pi = a.select("patient_id", "instrument").unique()
        boosters = (
            sessions.filter(pl.col("session_type") == "booster")
            .select("patient_id", t=pl.col("started_at"))
            .join(pi, on="patient_id", how="inner")
            .select(
                "patient_id",
                "instrument",
                "t",
                kind=pl.lit(1, pl.Int8),
                resp=pl.lit(None, pl.Boolean),
            )
        )
        streams.append(boosters)
    return pl.concat(streams).sort("patient_id", "instrument", "t", "kind")


def _segments(s: pl.DataFrame, k: int) -> pl.DataFrame:
    """The stream cut into segments: one opening row (responding assessment R or booster B)
    plus the non-responding assessments N after it; a key's first segment may have no
    opening row (open_kind -1). Per segment: key, key_start, open_kind, start_t, n_below,
    first_below_t, confirm_t (the ``k``-th N: the one that confirms a loss), last_t."""
    # The stream is sorted by patient, instrument and time, so cumulative sums with resets at
    # each new (patient, instrument) replace window functions.
    new_key = (
        (pl.col("patient_id") != pl.col("patient_id").shift(1))
        | (pl.col("instrument") != pl.col("instrument").shift(1))
    ).fill_null(True)
    opens = (pl.col("kind") == 1) | pl.col("resp").fill_null(False)
    # segment and episode numbers are cumulative sums, so sorted: flagged, polars groups
    # them as contiguous slices instead of hashing
    s = s.with_columns(
        _key_start=new_key, _sg=(opens | new_key).cast(pl.UInt32).cum_sum().set_sorted()
    )
    is_n = (pl.col("kind") == 0) & ~pl.col("resp").fill_null(False)
    return (
        s.group_by("_sg")
        .agg(
            pl.col("patient_id").first(),
            pl.col("instrument").first(),
            key_start=pl.col("_key_start").first(),
            open_kind=pl.when(pl.col("kind").first() == 1)
            .then(pl.lit(1, pl.Int8))
            .when(pl.col("resp").first().fill_null(False))
            .then(pl.lit(0, pl.Int8))
            .otherwise(pl.lit(-1, pl.Int8)),
            start_t=pl.col("t").first(),
            n_below=is_n.sum(),
            first_below_t=pl.col("t").filter(is_n).first(),
            confirm_t=pl.col("t").filter(is_n).slice(k - 1, 1).first(),
            last_t=pl.col("t").filter(pl.col("kind") == 0).last(),
        )
        .sort("_sg")
    )


def _episode_state(seg: pl.DataFrame, k: int) -> pl.DataFrame:
    """The segments of each episode (up to and including the one that ends it), numbered:
    the episode state follows from the number of non-responding assessments in each segment
    (``k`` in a row end it) and from boosters given while responding."""
    is_r = pl.col("open_kind") == 0
    seg = seg.with_columns(active_end=is_r & (pl.col("n_below") < k)).with_columns(
        prev_active=pl.when(pl.col("key_start"))
        .then(False)
        .otherwise(pl.col("active_end").shift(1))
        .fill_null(False)
    )
    seg = seg.with_columns(starts=is_r & ~pl.col("prev_active"))
    ends_loss = is_r & (pl.col("n_below") >= k)
    ends_booster = (pl.col("open_kind") == 1) & pl.col("prev_active")
    seg = seg.with_columns(
        end_t=pl.when(ends_loss)
        .then(pl.col("first_below_t"))
        .when(ends_booster)
        .then(pl.col("start_t")),
        end_reason=pl.when(ends_loss)
        .then(pl.lit("loss"))
        .when(ends_booster)
        .then(pl.lit("booster")),
        # the segment's last assessment counted in its episode: a loss stops at the
        # assessment that confirmed it (later non-responding scores are not the episode's)
        seg_last_t=pl.when(ends_loss).then(pl.col("confirm_t")).otherwise(pl.col("last_t")),
        _eg=pl.col("starts").cast(pl.UInt32).cum_sum().set_sorted(),
    )
    has_end = pl.col("end_t").is_not_null().cast(pl.UInt32)
    seg = seg.with_columns(
        # episodes counted before this key: forward-filled from the key's first segment
        _eg_base=pl.when(pl.col("key_start"))
        .then(pl.col("_eg") - pl.col("starts").cast(pl.UInt32))
        .forward_fill(),
        _end_cum=has_end.cum_sum(),
    ).with_columns(
        _end_base=pl.when(pl.col("starts")).then(pl.col("_end_cum") - has_end).forward_fill(),
    )
    # keep the segments of each episode up to and including the one that ends it
    return seg.filter(
        (pl.col("_eg") > pl.col("_eg_base"))
        & ((pl.col("_end_cum") - has_end - pl.col("_end_base")) == 0)
    )


def _episodes(in_ep: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """One row per episode from its segments, instruments decoded to ``names``."""
    ep = (
        in_ep.group_by("_eg")
        .agg(
            pl.col("patient_id").first(),
            pl.col("instrument").first(),
            episode=(pl.col("_eg").first() - pl.col("_eg_base").first()).cast(pl.Int32),
            onset_at=pl.col("start_t").first(),
            end_at=pl.col("end_t").drop_nulls().first(),
            end_reason=pl.col("end_reason").drop_nulls().first(),
            last_responding_at=pl.col("start_t").filter(pl.col("open_kind") == 0).max(),
            last_assessed_at=pl.col("seg_last_t").filter(pl.col("open_kind") == 0).max(),
        )
        .drop("_eg")
    )
    codes = pl.DataFrame(
        {"instrument": list(range(len(names))), "_name": names},
        schema={"instrument": pl.UInt16, "_name": pl.String},
    )
    return (
        ep.join(codes, on="instrument", how="left")
        .drop("instrument")
        .rename({"_name": "instrument"})
    )


def _with_origin(ep: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """The episodes with origin_at and origin_session_type: the dosing session that started
    the response (the latest dose at or before onset; an induction infusion is its own
    origin, so that an episode that ends during induction is timed from the infusion that
    started it, never counted as lost at the end of induction)."""
    dos = dosing_sessions(sessions).select(
        "patient_id",
        dose_at=pl.col("started_at"),
        origin_at=pl.col("started_at"),
        origin_session_type=pl.col("session_type"),
    )
    return (
        ep.sort("onset_at")
        .join_asof(
            dos.sort("dose_at"),
            left_on="onset_at",
            right_on="dose_at",
            by="patient_id",
            strategy="backward",
            check_sortedness=False,
        )
        .drop("dose_at")
    )


def response_episodes(
    change: pl.DataFrame, sessions: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """Response episodes per patient and instrument (instruments with a response threshold).

    ``change`` is ``changes(...)``. Columns: patient_id, instrument, episode (1, 2, ...),
    onset_at, origin_at (the dose that started the response), origin_session_type,
    restored_by_booster, end_at (empty when censored), end_reason ("loss" | "booster" |
    empty), event, last_responding_at, last_assessed_at, duration_days (origin to end, or
    to the last assessment while responding when censored).
    """
    # instruments as small integer codes: sorting and grouping on them is much cheaper
    names = sorted(change.get_column("instrument").unique().to_list())
    code = {n: i for i, n in enumerate(names)}
    s = _event_stream(change, sessions, settings, code)
    if s.height == 0:
        return pl.DataFrame(schema={**_EPISODE_SCHEMA, "patient_id": change.schema["patient_id"]})
    k = settings.loss_consecutive_assessments
    ep = _with_origin(_episodes(_episode_state(_segments(s, k), k), names), sessions)
    ep = ep.with_columns(
        event=pl.col("end_at").is_not_null(),
        restored_by_booster=(pl.col("origin_session_type") == "booster").fill_null(False),
    ).with_columns(
        # never negative: an episode ends after its onset, which is at or after its origin
        duration_days=days_between(
            pl.when(pl.col("event")).then(pl.col("end_at")).otherwise(pl.col("last_assessed_at")),
            pl.col("origin_at"),
        )
    )
    return ep.select(
        [pl.col(c) if c == "patient_id" else pl.col(c).cast(t) for c, t in _EPISODE_SCHEMA.items()]
    ).sort("patient_id", "instrument", "episode")


def benefit_durations(
    episodes: pl.DataFrame, sessions: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """How long benefit lasted after each dose (maintenance and booster infusions, and the
    last infusion of each induction course), per instrument with episodes.

    benefit_end = the loss of response of the episode running after the dose, or the next
    dose, whichever comes first. Columns: patient_id, instrument, session_id, dose_at,
    session_type, next_dose_at, benefit_days, status: "lost" (response lost before the next
    dose), "booster" (ended by an unscheduled booster), "next dose" (still responding when
    the next dose was given: at least this long), "ongoing" (still responding at the last
    assessment: at least this long) or "no response" (no response after this dose;
    benefit_days empty).
    """
    dos = _doses_followed(sessions, settings)
    far = dt.datetime(9999, 1, 1)
    d = (
        dos.join(episodes.select("patient_id", "instrument").unique(), on="patient_id")
        .with_columns(_lookup=pl.col("next_dose_at").fill_null(far))
        .sort("_lookup")
    )
    e = episodes.select(
        "patient_id",
        "instrument",
        "onset_at",
        "end_at",
        "end_reason",
        "event",
        "last_assessed_at",
    ).sort("onset_at")
    # the latest episode that began before the next dose, or at its start: a score stamped
    # at the very minute a dose starts was taken before dosing (after-dose scores are not in
    # the episodes), so it tells what the previous dose did (wide exports stamp the
    # before-dose score with the visit time, the session's start)
    j = d.join_asof(
        e,
        left_on="_lookup",
        right_on="onset_at",
        by=["patient_id", "instrument"],
        strategy="backward",
        check_sortedness=False,
    )
    j = j.with_columns(status=_benefit_status(), _end=_benefit_end()).with_columns(
        benefit_days=pl.when(pl.col("status") != "no response").then(
            days_between(pl.col("_end"), pl.col("dose_at")).clip(lower_bound=0.0)
        )
    )
    return j.select(
        "patient_id",
        "instrument",
        "session_id",
        "dose_at",
        "session_type",
        "next_dose_at",
        "benefit_days",
        "status",
    ).sort("patient_id", "instrument", "dose_at")


def _doses_followed(sessions: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """The doses whose benefit is measured (maintenance and booster infusions, and the last
    infusion of each induction course) with the next dose: patient_id, session_id,
    session_type, dose_at, next_dose_at."""
    dos = dosing_sessions(sessions).with_columns(
        next_dose_at=pl.col("started_at").shift(-1).over("patient_id"),
        next_type=pl.col("session_type").shift(-1).over("patient_id"),
    )
    return dos.filter(
        (pl.col("session_type") != "induction")
        | (pl.col("next_type") != "induction").fill_null(True)
        | (
            days_between(pl.col("next_dose_at"), pl.col("started_at"))
            > settings.induction_max_gap_days
        )
    ).select(
        "patient_id",
        "session_id",
        "session_type",
        dose_at=pl.col("started_at"),
        next_dose_at=pl.col("next_dose_at"),
    )


def _lost_first() -> pl.Expr:
    """Response lost before the next dose; a loss first seen at a score stamped at the next
    dose's start was seen before that dose."""
    return pl.col("event") & (
        pl.col("next_dose_at").is_null() | (pl.col("end_at") <= pl.col("next_dose_at"))
    )


def _booster_end() -> pl.Expr:
    return pl.col("event") & (pl.col("end_reason") == "booster")


def _benefit_end() -> pl.Expr:
    """When the benefit of a dose ended: the loss of response (or booster) of the episode
    running after it, else the next dose, else the last assessment."""
    return (
        pl.when(_lost_first() | _booster_end())
        .then(pl.col("end_at"))
        .when(pl.col("next_dose_at").is_not_null())
        .then(pl.col("next_dose_at"))
        .otherwise(pl.col("last_assessed_at"))
    )


def _benefit_status() -> pl.Expr:
    """no response | booster | lost | next dose | ongoing (see ``benefit_durations``)."""
    stop = pl.when(pl.col("event")).then(pl.col("end_at")).otherwise(pl.col("last_assessed_at"))
    responding = pl.col("onset_at").is_not_null() & (stop > pl.col("dose_at")).fill_null(False)
    return (
        pl.when(~responding)
        .then(pl.lit("no response"))
        .when(_booster_end())
        .then(pl.lit("booster"))
        .when(_lost_first())
        .then(pl.lit("lost"))
        .when(pl.col("next_dose_at").is_not_null())
        .then(pl.lit("next dose"))
        .otherwise(pl.lit("ongoing"))
    )


def data_end(tables_: dict[str, pl.DataFrame]) -> dt.datetime | None:
    """The latest session or assessment time in the tables (the default 'as of')."""
    times = []
    s = tables_.get("sessions")
    a = tables_.get("assessments")
    if s is not None and s.height:
        times.append(s.get_column("started_at").max())
    if a is not None and a.height:
        times.append(a.get_column("assessed_at").max())
    return max(times) if times else None  # type: ignore[type-var,return-value]
