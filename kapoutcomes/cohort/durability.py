"""Durability of response: after a successful induction, how long does benefit last?

*Primary* (``primary_durability``): end-of-induction responders only (``end_of_induction``:
the first score after the last infusion of the first induction course reaches the response
threshold), time counted from the end of induction (that last infusion) to the loss of the
response episode running at that score (``outcomes.episodes``, the loss rule in force);
still responding at the last assessment = censored there. A response that began and ended
during induction is not a loss of this curve: the patient is a non-responder at the end of
induction. The summary carries its denominator: responders of evaluable patients, with the
non-responders and the patients not evaluable counted and stated.

Loss of response is only seen at assessments. Kaplan-Meier dates each loss at the first
assessment of the loss rule (the later date), which overstates durability; beside its median
the summary gives Turnbull's NPMLE (``stats.turnbull``) with each loss interval-censored
between the last responding assessment and that assessment (right-censored at the last
responding assessment while still responding).

*Secondary* (``episode_durability``): every response episode, timed from the dose that
started it (several episodes per patient; a description of all spells of response, not the
answer to the question above).

The estimators take explicit parameters; the settings in force (confidence level, small n,
heavy censoring) are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kapoutcomes.cohort.groups import GROUP_DIMENSIONS, attach_groups, level_agg
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.dosing import days_between
from kapoutcomes.stats import turnbull as turnbull_mod
from kapoutcomes.stats.survival import KaplanMeier, LogRank, kaplan_meier, logrank, logrank_k

DURABILITY_WEEKS = (4, 8, 12)
#: numbers at risk are given every ``AT_RISK_STEP_WEEKS`` weeks, at least at these weeks and
#: on to the end of the curve (``at_risk_weeks``), so that they reach as far as it is drawn
AT_RISK_WEEKS = (0, 4, 8, 12, 16, 20, 24)
AT_RISK_STEP_WEEKS = 4

_KEYS = {"subgroup": pl.String, "level": pl.String, "instrument": pl.String}
#: the population of the primary curve (``population``)
POPULATION_SCHEMA = {
    **_KEYS,
    "responders": pl.Int64,
    "evaluable": pl.Int64,
    "non_responders": pl.Int64,
    "not_evaluable": pl.Int64,
    "itt_denominator": pl.Int64,
    "population": pl.String,
}
SUMMARY_SCHEMA = {
    **_KEYS,
    "n": pl.Int64,
    "events": pl.Int64,
    "censored_pct": pl.Float64,
    "median_days": pl.Float64,
    "median_lower": pl.Float64,
    "median_upper": pl.Float64,
    "turnbull_median_days": pl.Float64,
    "turnbull_median_from": pl.Float64,
    "turnbull_median_to": pl.Float64,
    **{f"s_{w}w{s}": pl.Float64 for w in DURABILITY_WEEKS for s in ("", "_lower", "_upper")},
    "caveats": pl.String,
}
CURVE_SCHEMA = {
    **_KEYS,
    "time_days": pl.Float64,
    "survival": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "at_risk": pl.Int64,
    "events": pl.Int64,
    "censored": pl.Int64,
}
AT_RISK_SCHEMA = {**_KEYS, "week": pl.Int64, "at_risk": pl.Int64}
LOGRANK_SCHEMA = {
    "subgroup": pl.String,
    "instrument": pl.String,
    "levels": pl.String,
    "n": pl.Int64,
    "events": pl.Int64,
    "statistic": pl.Float64,
    "df": pl.Int64,
    "pvalue": pl.Float64,
    "z": pl.Float64,
    "definition": pl.String,
    "caveats": pl.String,
}


@dataclass(frozen=True)
class Durability:
    """Kaplan-Meier durability of response for every (subgroup, level, instrument).

    ``summary``: subgroup, level, instrument, n (observations), events, censored_pct,
    median_days, median_lower, median_upper, turnbull_median_days (midpoint of
    the Turnbull interval in which the interval-censored curve falls to 0.5),
    turnbull_median_from / turnbull_median_to (that interval; all three empty when the
    observations carry no interval or the median is not reached), s_{w}w / s_{w}w_lower /
    s_{w}w_upper for each week in ``DURABILITY_WEEKS``, definition, caveats; for the
    primary curve first the ``POPULATION_SCHEMA`` columns (the denominator).
    ``curves``: subgroup, level, instrument, time_days, survival, lower, upper, at_risk,
    events, censored (start row at time 0 included).
    ``at_risk``: subgroup, level, instrument, week, at_risk.
    ``logrank``: subgroup, instrument, levels, n, events, statistic, df, pvalue, z,
    definition, caveats (one row per comparison dimension and instrument).
    """

    summary: pl.DataFrame
    curves: pl.DataFrame
    at_risk: pl.DataFrame
    logrank: pl.DataFrame


@dataclass(frozen=True)
class _Observed:
    """One curve's observations: durations and event flags (Kaplan-Meier) and, where the
    frame has them, each loss's interval (``lower_days``, ``upper_days``; inf = still
    responding) for the Turnbull estimate."""

    durations: np.ndarray
    events: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


def _curve_frame(km: KaplanMeier, sg: str, lv: str, inst: str, max_points: int) -> pl.DataFrame:
    """The curve as rows (time 0 first); above ``max_points`` steps keep an even subset of
    step times plus the last, with events and censorings summed since the previous kept
    step."""
    t = np.concatenate([[0.0], km.times])
    cols = {
        "survival": np.concatenate([[1.0], km.survival]),
        "lower": np.concatenate([[1.0], km.lower]),
        "upper": np.concatenate([[1.0], km.upper]),
        "at_risk": np.concatenate([[km.n], km.at_risk]).astype(np.int64),
    }
    ev = np.concatenate([[0], km.events]).astype(np.int64)
    ce = np.concatenate([[0], km.censored]).astype(np.int64)
    if t.size > max_points > 1:
        keep = np.unique(np.linspace(0, t.size - 1, max_points).round().astype(int))
        cev, cce = np.cumsum(ev), np.cumsum(ce)
        ev = np.diff(np.concatenate([[0], cev[keep]]))
        ce = np.diff(np.concatenate([[0], cce[keep]]))
        t = t[keep]
        cols = {k: v[keep] for k, v in cols.items()}
    return pl.DataFrame(
        {
            "subgroup": [sg] * t.size,
            "level": [lv] * t.size,
            "instrument": [inst] * t.size,
            "time_days": t,
            **cols,
            "events": ev,
            "censored": ce,
        },
        schema_overrides={"at_risk": pl.Int64, "events": pl.Int64, "censored": pl.Int64},
    )


def at_risk_weeks(last_day: float | None) -> list[int]:
    """The weeks numbers at risk are given at: ``AT_RISK_WEEKS``, then every
    ``AT_RISK_STEP_WEEKS`` weeks up to the curve's last time (``last_day``, in days)."""
    end = int((last_day or 0.0) // (7 * AT_RISK_STEP_WEEKS)) * AT_RISK_STEP_WEEKS
    return sorted({*AT_RISK_WEEKS, *range(0, end + 1, AT_RISK_STEP_WEEKS)})


def _at_risk_frame(km: KaplanMeier, sg: str, lv: str, inst: str) -> pl.DataFrame:
    """Numbers still at risk at each week of ``at_risk_weeks`` (to the end of the curve)."""
    weeks = at_risk_weeks(float(km.times.max()) if km.n else None)
    return pl.DataFrame(
        {
            "subgroup": sg,
            "level": lv,
            "instrument": inst,
            "week": weeks,
            "at_risk": [km.at_risk_at(7.0 * w) if km.n else 0 for w in weeks],
        },
        schema_overrides={"at_risk": pl.Int64, "week": pl.Int64},
    )


def _turnbull_columns(obs: _Observed) -> tuple[dict[str, Any], list[str]]:
    """The Turnbull median (midpoint and interval) of the interval-censored observations,
    empty without intervals, and the estimator's caveats worth showing (not the ones the
    Kaplan-Meier caveats already say)."""
    cols: dict[str, Any] = dict.fromkeys(
        ("turnbull_median_days", "turnbull_median_from", "turnbull_median_to")
    )
    if obs.lower is None or obs.upper is None or obs.lower.size == 0:
        return cols, []
    # a gap of 1e-9 (log-likelihood within n * 1e-9 of its maximum) moves no median on days;
    # the default 1e-12 needs ~4x the iterations (1 s for 133 patients)
    tb = turnbull_mod.turnbull(obs.lower, obs.upper, tolerance=1e-9)
    if tb.median is not None:
        cols["turnbull_median_days"] = tb.median_midpoint
        cols["turnbull_median_from"], cols["turnbull_median_to"] = tb.median
    cav = [] if tb.converged else [f"Turnbull estimate: {c}" for c in tb.caveats[:1]]
    return cols, cav


def _summary_row(
    km: KaplanMeier, obs: _Observed, sg: str, lv: str, inst: str, settings: Settings
) -> dict[str, Any]:
    """One ``Durability.summary`` row (without the definition): median with its interval,
    the Turnbull median when ``obs`` carries intervals, survival at each milestone week
    (empty when follow-up is shorter) and the caveats."""
    row: dict[str, Any] = {
        "subgroup": sg,
        "level": lv,
        "instrument": inst,
        "n": km.n,
        "events": km.n_events,
        "censored_pct": km.censored_pct,
        "median_days": km.median,
        "median_lower": km.median_ci[0],
        "median_upper": km.median_ci[1],
    }
    tb_cols, tb_caveats = _turnbull_columns(obs)
    row.update(tb_cols)
    for w in DURABILITY_WEEKS:
        t = 7.0 * w
        lo, hi = km.band_at(t)
        observed = km.n and float(km.times.max()) >= t
        row[f"s_{w}w"] = km.survival_at(t) if observed else None
        row[f"s_{w}w_lower"] = lo if observed else None
        row[f"s_{w}w_upper"] = hi if observed else None
    cav = list(km.caveats) + tb_caveats
    if km.n < settings.small_n:
        cav.append(f"small n ({km.n} < {settings.small_n}): imprecise")
    if km.n and km.censored_pct > settings.heavy_censoring_pct:
        cav.append(
            f"heavy censoring ({km.n - km.n_events} of {km.n} censored, {km.censored_pct:.0f}%)"
        )
    row["caveats"] = "; ".join(cav)
    return row


def _split(frame: pl.DataFrame, keys: list[str]) -> dict[tuple[Any, ...], _Observed]:
    """The observations of ``frame`` as numpy arrays per distinct combination of ``keys``
    (one group_by; cheaper than partitioning the frame into many frames)."""
    bounds = [c for c in ("lower_days", "upper_days") if c in frame.columns]
    g = frame.group_by(keys).agg(pl.col("duration_days"), pl.col("event"), *bounds)
    cols = [g.get_column(c) for c in ("duration_days", "event", *bounds)]
    return {
        key: _Observed(*(c.to_numpy() for c in lists))
        for key, *lists in zip(g.select(keys).rows(), *cols, strict=True)
    }


def _episode_levels(
    episodes: pl.DataFrame, groups: pl.DataFrame, by: str | None, first_episode_only: bool
) -> pl.DataFrame:
    """The episodes counted, with ``subgroup`` and ``level`` (of ``by``, "unknown" when
    empty)."""
    e = episodes.filter(pl.col("episode") == 1) if first_episode_only else episodes
    e = attach_groups(e, groups)
    if by is None:
        return e.with_columns(subgroup=pl.lit("all"), level=pl.lit("all"))
    return e.with_columns(
        subgroup=pl.lit(by), level=pl.col(by).cast(pl.String).fill_null("unknown")
    )


def _logrank_row(
    res: LogRank, names: list[str], sizes: list[int], by: str, inst: Any, defn: str, small_n: int
) -> dict[str, Any]:
    small = [n for n, size in zip(names, sizes, strict=True) if size < small_n]
    return {
        "subgroup": by,
        "instrument": inst,
        "levels": ", ".join(names),
        "n": int(sum(res.n)),
        "events": int(sum(res.events)),
        "statistic": res.statistic,
        "df": res.df,
        "pvalue": res.pvalue,
        "z": res.z,
        "definition": f"log-rank test of {defn} across {by} levels "
        "(chi-square on levels - 1 df; z signed for two levels: "
        "negative = first level loses response less often than expected)",
        "caveats": (f"small groups: {', '.join(small)}" if small else "")
        + ("; many levels: a global test, not pairwise" if len(names) > 5 else ""),
    }


def _logrank_frame(e: pl.DataFrame, by: str, defn: str, settings: Settings) -> pl.DataFrame:
    """The log-rank test across the levels of ``by``, one row per instrument with at least two
    levels (two levels: ``scipy.stats.logrank``; more: the k-sample chi-square)."""
    by_inst: dict[Any, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for (inst, level), obs in _split(e, ["instrument", "level"]).items():
        by_inst.setdefault(inst, {})[str(level)] = (obs.durations, obs.events)
    rows = []
    for inst, lv in sorted(by_inst.items(), key=lambda kv: str(kv[0])):
        names = sorted(lv)
        if len(names) < 2:
            continue
        ds = [lv[n][0] for n in names]
        es = [lv[n][1] for n in names]
        if len(names) == 2:
            res = logrank(ds[0], es[0], ds[1], es[1], (names[0], names[1]))
        else:
            res = logrank_k(ds, es, names)
        rows.append(
            _logrank_row(res, names, [len(d) for d in ds], by, inst, defn, settings.small_n)
        )
    return pl.DataFrame(rows, schema=LOGRANK_SCHEMA)


def _summary_definition(defn: str, first_episode_only: bool, cl: float) -> str:
    counted = "first response episode per patient, " if first_episode_only else ""
    return (
        f"{defn}; Kaplan-Meier, {counted}{cl:.0%} log-log band; median CI from the band; "
        "turnbull_median_* = the median with each loss interval-censored (Turnbull NPMLE); "
        "s_Nw = probability still responding N weeks after the origin (empty when follow-up "
        "is shorter)"
    )


def durability(
    episodes: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    first_episode_only: bool = True,
    max_points: int = 400,
    definition: str = "",
) -> Durability:
    """Kaplan-Meier of time to loss of response overall or per level of ``by``; with ``by``
    also the log-rank test across its levels. ``episodes``: patient_id, instrument,
    duration_days, event (``episodes.response_episodes``, ``primary_observations`` or
    ``episode_observations``); with ``lower_days`` and ``upper_days`` also the Turnbull
    median of the interval-censored losses.

    ``first_episode_only`` (default) keeps each patient's first episode per instrument (the
    frame needs ``episode``), so that patients contribute one observation each (the
    independence KM assumes). ``definition`` says what is counted (the summary's
    ``definition`` adds the estimator). Curves longer than ``max_points`` steps are thinned
    for display (the estimates, medians and milestones always use every observation)."""
    e = _episode_levels(episodes, groups, by, first_episode_only)
    parts = _split(e, ["subgroup", "level", "instrument"])
    summaries, curves, risks = [], [], []
    cl = settings.confidence_level
    for (sg, lv, inst), obs in sorted(parts.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        km = kaplan_meier(obs.durations, obs.events, cl)
        summaries.append(_summary_row(km, obs, sg, lv, inst, settings))
        curves.append(_curve_frame(km, sg, lv, inst, max_points))
        risks.append(_at_risk_frame(km, sg, lv, inst))
    defn = definition or "time to loss of response"
    summary = pl.DataFrame(summaries, schema=SUMMARY_SCHEMA).with_columns(
        definition=pl.lit(_summary_definition(defn, first_episode_only, cl))
    )
    return Durability(
        summary=summary,
        curves=pl.concat(curves) if curves else pl.DataFrame(schema=CURVE_SCHEMA),
        at_risk=pl.concat(risks) if risks else pl.DataFrame(schema=AT_RISK_SCHEMA),
        logrank=pl.DataFrame(schema=LOGRANK_SCHEMA)
        if by is None
        else _logrank_frame(e, by, defn, settings),
    )


# -- the primary curve: end-of-induction responders, from the end of induction ---------------
def _calendar_days(t: pl.Expr, origin: pl.Expr) -> pl.Expr:
    """Whole calendar days from the origin's date to ``t``'s: the loss intervals are taken on
    days (assessments are dated by the day), which also keeps the Turnbull fit fast (on exact
    times it took ~10 s for 1,800 responders, on days ~0.3 s)."""
    return (t.dt.date() - origin.dt.date()).dt.total_days().cast(pl.Float64)


def primary_observations(eoi: pl.DataFrame, episodes: pl.DataFrame) -> pl.DataFrame:
    """One row per end-of-induction responder and instrument: the response episode running
    at the end-of-induction score, timed from the end of induction (``induction_end``, the
    last infusion of the first course).

    ``eoi``: ``induction.end_of_induction`` rows (``responder``, ``assessed_at``,
    ``induction_end``; any comparison dimensions are kept); ``episodes``:
    ``episodes.response_episodes``. Columns: patient_id, instrument, [dimensions],
    origin_at, assessed_at, end_at, event, duration_days (to the loss, or to the last
    assessment while responding), lower_days (day of the last responding assessment) and
    upper_days (day of the loss as Kaplan-Meier dates it; inf while responding): the loss's
    interval, in whole calendar days after the origin's date. Every
    loss lies after the origin: the episode is running at the end-of-induction score, and
    the loss rule needs later assessments (or a later booster)."""
    dims = [c for c in eoi.columns if c in GROUP_DIMENSIONS]
    resp = eoi.filter(pl.col("responder").fill_null(False)).select(
        "patient_id", "instrument", *dims, "assessed_at", origin_at=pl.col("induction_end")
    )
    ep = episodes.select(
        "patient_id",
        "instrument",
        "onset_at",
        "end_at",
        "event",
        "last_responding_at",
        "last_assessed_at",
    )
    # the latest episode begun at or before the end-of-induction score is the one running
    # then (a responding score is always inside an episode)
    j = resp.sort("assessed_at").join_asof(
        ep.sort("onset_at"),
        left_on="assessed_at",
        right_on="onset_at",
        by=["patient_id", "instrument"],
        strategy="backward",
        check_sortedness=False,
    )
    j = j.filter(
        pl.col("onset_at").is_not_null()
        & (pl.col("end_at").is_null() | (pl.col("end_at") >= pl.col("assessed_at")))
    )
    stop = pl.when(pl.col("event")).then(pl.col("end_at")).otherwise(pl.col("last_assessed_at"))
    return j.select(
        "patient_id",
        "instrument",
        *dims,
        "origin_at",
        "assessed_at",
        "end_at",
        "event",
        duration_days=days_between(stop, pl.col("origin_at")),
        lower_days=_calendar_days(pl.col("last_responding_at"), pl.col("origin_at")),
        upper_days=pl.when(pl.col("event"))
        .then(_calendar_days(pl.col("end_at"), pl.col("origin_at")))
        .otherwise(float("inf")),
    ).sort("patient_id", "instrument")


def population(eoi: pl.DataFrame, itt: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """The primary curve's denominator per subgroup, level and instrument
    (``POPULATION_SCHEMA``): responders of evaluable patients at the end of induction (a
    baseline and an end-of-induction score: ``responder`` known), non-responders, and the
    intention-to-treat patients (``response.itt_population``) not evaluable, as counts and
    in words. Both frames carry the comparison dimensions (``groups.attach_groups``)."""
    dims = [c for c in GROUP_DIMENSIONS if c in itt.columns and c in eoi.columns]
    keys = ["patient_id", "instrument"]
    inst = pl.col("instrument").cast(pl.String)
    e = eoi.filter(pl.col("responder").is_not_null()).select("patient_id", inst, *dims, "responder")
    i = itt.select("patient_id", inst, *dims).with_columns(_itt=pl.lit(True))
    rows = e.join(i, on=keys, how="full", coalesce=True, suffix="_itt")
    # a dimension is the patient's, so either side's value will do
    rows = rows.with_columns(pl.coalesce(d, f"{d}_itt").alias(d) for d in dims)
    counts = level_agg(
        rows,
        by,
        ["instrument"],
        [
            pl.col("responder").fill_null(False).sum().cast(pl.Int64).alias("responders"),
            pl.col("responder").is_not_null().sum().cast(pl.Int64).alias("evaluable"),
            (~pl.col("responder")).fill_null(False).sum().cast(pl.Int64).alias("non_responders"),
            (pl.col("_itt").fill_null(False) & pl.col("responder").is_null())
            .sum()
            .cast(pl.Int64)
            .alias("not_evaluable"),
            pl.col("_itt").fill_null(False).sum().cast(pl.Int64).alias("itt_denominator"),
        ],
    )
    words = pl.format(
        "{} responders of {} evaluable at the end of induction ({} non-responders); {} of the "
        "{} in the intention-to-treat population not evaluable (no baseline or no score after "
        "induction in the window)",
        "responders",
        "evaluable",
        "non_responders",
        "not_evaluable",
        "itt_denominator",
    )
    return (
        counts.filter(pl.col("evaluable") > 0)
        .with_columns(population=words)
        .select(list(POPULATION_SCHEMA))
        .cast(POPULATION_SCHEMA)  # type: ignore[arg-type]
        .sort("subgroup", "level", "instrument")
    )


def rate_population(eoi: pl.DataFrame, itt: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The end-of-induction rows and the intention-to-treat patients the response rates
    count (``response.measure_population`` status): the evaluable are eligible and due, so the
    curve's "responders of evaluable" are the response rate's numerator and denominator; the
    patients without a baseline stay in the intention-to-treat count (not evaluable). A
    patient whose baseline is below the instrument's eligible range (a PHQ-9 of 4 falling to 1
    "responds" by 75%) or whose window is still open is no end-of-induction responder of the
    rates, so not on this curve either. ``itt`` without ``status`` is taken as it is."""
    if "status" not in itt.columns:
        return eoi, itt
    itt = itt.filter(pl.col("status").is_in(["due", "no baseline"]))
    keys = itt.select("patient_id", _inst=pl.col("instrument").cast(pl.String))
    eoi = (
        eoi.with_columns(_inst=pl.col("instrument").cast(pl.String))
        .join(keys, on=["patient_id", "_inst"], how="semi")
        .drop("_inst")
    )
    return eoi, itt


def primary_definition(loss_rule: str) -> str:
    """What the primary curve counts, in words (the ``definition`` of its summary)."""
    return (
        "primary: end-of-induction responders only; time from the end of induction (last "
        "infusion of the first course) to loss of response after it; " + loss_rule
    )


def primary_durability(
    eoi: pl.DataFrame,
    episodes: pl.DataFrame,
    itt: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    max_points: int = 400,
    loss_rule: str = "",
) -> Durability:
    """After a successful induction, how long does benefit last: Kaplan-Meier (and, overall,
    the Turnbull median) of ``primary_observations``, overall or per level of ``by``, with the
    denominator (``population``) first in every summary row. A row is listed for each
    instrument and level with evaluable patients, also when none responded (n = 0).

    ``eoi``, ``itt``: the end-of-induction rows and the intention-to-treat population;
    ``loss_rule``: ``episodes.loss_definition`` of the settings in force."""
    eoi, itt = rate_population(eoi, itt)
    eoi = attach_groups(eoi, groups)
    obs = primary_observations(eoi, episodes)
    if by is not None:
        # the Turnbull median overall only: a fit per level of every dimension would cost
        # seconds for the whole cohort summary
        obs = obs.drop("lower_days", "upper_days")
    d = durability(
        obs,
        groups,
        settings,
        by=by,
        first_episode_only=False,
        max_points=max_points,
        definition=primary_definition(loss_rule),
    )
    keys = list(_KEYS)
    pop = population(eoi, attach_groups(itt, groups), by)
    summary = (
        pop.join(d.summary, on=keys, how="full", coalesce=True)
        .with_columns(
            pl.col("n", "events").fill_null(0),
            pl.col("definition").fill_null(
                _summary_definition(primary_definition(loss_rule), False, settings.confidence_level)
            ),
            caveats=pl.concat_list(
                pl.col("caveats").replace("", None),
                pl.when(pl.col("n").fill_null(0) == 0).then(
                    pl.lit("no end-of-induction responders: no curve")
                ),
                pl.when(pl.col("n").fill_null(0) < pl.col("responders")).then(
                    pl.format(
                        "{} responders without a response episode",
                        pl.col("responders") - pl.col("n"),
                    )
                ),
            )
            .list.drop_nulls()
            .list.join("; "),
        )
        .select(*POPULATION_SCHEMA, *[c for c in d.summary.columns if c not in _KEYS])
        .sort(keys)
    )
    return Durability(summary=summary, curves=d.curves, at_risk=d.at_risk, logrank=d.logrank)


# -- the secondary curve: every response episode, from the dose that started it -------------
def episode_observations(episodes: pl.DataFrame) -> pl.DataFrame:
    """Every response episode (``episodes.response_episodes``) timed from the dose that
    started it: patient_id, instrument, episode, duration_days, event, lower_days (day of
    the last responding assessment) and upper_days (day of the loss; inf while responding),
    in whole calendar days after the dose's date."""
    origin = pl.col("origin_at")
    return episodes.filter(origin.is_not_null()).select(
        "patient_id",
        "instrument",
        "episode",
        "duration_days",
        "event",
        lower_days=_calendar_days(pl.col("last_responding_at"), origin),
        upper_days=pl.when(pl.col("event"))
        .then(_calendar_days(pl.col("end_at"), origin))
        .otherwise(float("inf")),
    )


def episode_definition(loss_rule: str) -> str:
    return (
        "secondary: every response episode (several per patient), time from the dose that "
        "started it (an induction, maintenance or booster infusion) to loss of response; "
        + loss_rule
    )


def episode_durability(
    episodes: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    max_points: int = 400,
    loss_rule: str = "",
) -> Durability:
    """The secondary curve: Kaplan-Meier (and the Turnbull median) of every response episode
    (``episode_observations``), overall only; each row's caveats say how many patients the
    episodes come from (a patient with several episodes counts several times, which
    Kaplan-Meier's band does not allow for: it is too narrow)."""
    obs = episode_observations(episodes)
    d = durability(
        obs,
        groups,
        settings,
        first_episode_only=False,
        max_points=max_points,
        definition=episode_definition(loss_rule),
    )
    patients = obs.group_by("instrument").agg(
        _patients=pl.col("patient_id").n_unique().cast(pl.Int64)
    )
    summary = (
        d.summary.join(patients, on="instrument", how="left")
        .with_columns(
            caveats=pl.concat_list(
                pl.col("caveats").replace("", None),
                pl.format(
                    "{} episodes from {} patients: repeated episodes of one patient are not "
                    "independent, so the band is too narrow",
                    pl.col("n"),
                    pl.col("_patients"),
                ),
            )
            .list.drop_nulls()
            .list.join("; ")
        )
        .drop("_patients")
    )
    return Durability(summary=summary, curves=d.curves, at_risk=d.at_risk, logrank=d.logrank)


def interval_caveat(summary: pl.DataFrame, instrument: str) -> str | None:
    """The caveat shown beside the durability medians: which median is which, with the
    figures of ``instrument``'s overall primary row (None without that row)."""
    rows = summary.filter((pl.col("subgroup") == "all") & (pl.col("instrument") == instrument))
    if rows.height == 0:
        return None
    r = rows.row(0, named=True)

    def weeks(x: float | None) -> str:
        # in weeks, the unit of the durability chart and headline (one unit per page)
        return "not reached" if x is None else f"{x / 7:.1f} weeks"

    if r["turnbull_median_days"] is None:
        tb = "not reached"
    else:
        a, b = r["turnbull_median_from"] / 7, r["turnbull_median_to"] / 7
        tb = weeks(r["turnbull_median_days"]) + (
            f" (between {a:.1f} and {b:.1f})" if f"{a:.1f}" != f"{b:.1f}" else ""
        )
    return (
        f"{instrument} median time to loss of response: Kaplan-Meier {weeks(r['median_days'])}, "
        "dating each loss at the first assessment that showed it (the later date), so it "
        "overstates durability when assessments are far apart; Turnbull (interval-censored, "
        f"on days) {tb}, placing each loss between the last responding assessment and that "
        "assessment."
    )
