"""Durability of response in a cohort: Kaplan-Meier of time to loss of response
(``outcomes.episodes.response_episodes``) overall or per level of a comparison dimension,
with milestones, numbers at risk and the log-rank test across levels.

The estimators (``stats.survival.kaplan_meier``, ``logrank``, ``logrank_k``) take explicit
parameters; the settings in force (confidence level, small n, heavy censoring) are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kapoutcomes.cohort.groups import attach_groups
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.stats.survival import KaplanMeier, LogRank, kaplan_meier, logrank, logrank_k

DURABILITY_WEEKS = (4, 8, 12)
AT_RISK_WEEKS = (0, 4, 8, 12, 16, 20, 24)

_KEYS = {"subgroup": pl.String, "level": pl.String, "instrument": pl.String}
SUMMARY_SCHEMA = {
    **_KEYS,
    "n": pl.Int64,
    "events": pl.Int64,
    "censored_pct": pl.Float64,
    "median_days": pl.Float64,
    "median_lower": pl.Float64,
    "median_upper": pl.Float64,
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

    ``summary``: subgroup, level, instrument, n (episodes), events, censored_pct,
    median_days, median_lower, median_upper, s_{w}w / s_{w}w_lower / s_{w}w_upper for each
    week in ``DURABILITY_WEEKS``, definition, caveats.
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


def _at_risk_frame(km: KaplanMeier, sg: str, lv: str, inst: str) -> pl.DataFrame:
    """Numbers still at risk at each week of ``AT_RISK_WEEKS``."""
    return pl.DataFrame(
        {
            "subgroup": sg,
            "level": lv,
            "instrument": inst,
            "week": list(AT_RISK_WEEKS),
            "at_risk": [km.at_risk_at(7.0 * w) if km.n else 0 for w in AT_RISK_WEEKS],
        },
        schema_overrides={"at_risk": pl.Int64, "week": pl.Int64},
    )


def _summary_row(
    km: KaplanMeier, sg: str, lv: str, inst: str, settings: Settings
) -> dict[str, Any]:
    """One ``Durability.summary`` row (without the definition): median with its interval,
    survival at each milestone week (empty when follow-up is shorter) and the caveats."""
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
    for w in DURABILITY_WEEKS:
        t = 7.0 * w
        lo, hi = km.band_at(t)
        observed = km.n and float(km.times.max()) >= t
        row[f"s_{w}w"] = km.survival_at(t) if observed else None
        row[f"s_{w}w_lower"] = lo if observed else None
        row[f"s_{w}w_upper"] = hi if observed else None
    cav = list(km.caveats)
    if km.n < settings.small_n:
        cav.append(f"small n ({km.n} < {settings.small_n}): imprecise")
    if km.n and km.censored_pct > settings.heavy_censoring_pct:
        cav.append(f"heavy censoring ({km.censored_pct:.0f}% of episodes censored)")
    row["caveats"] = "; ".join(cav)
    return row


def _split(
    frame: pl.DataFrame, keys: list[str]
) -> dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]]:
    """(durations, events) of ``frame`` as numpy arrays per distinct combination of ``keys``
    (one group_by; cheaper than partitioning the frame into many frames)."""
    g = frame.group_by(keys).agg(pl.col("duration_days"), pl.col("event"))
    return {
        key: (d.to_numpy(), e.to_numpy())
        for key, d, e in zip(
            g.select(keys).rows(), g.get_column("duration_days"), g.get_column("event"), strict=True
        )
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
    for (inst, level), arrays in _split(e, ["instrument", "level"]).items():
        by_inst.setdefault(inst, {})[str(level)] = arrays
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


def durability(
    episodes: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
    first_episode_only: bool = True,
    max_points: int = 400,
    definition: str = "",
) -> Durability:
    """Kaplan-Meier of time to loss of response (``episodes.response_episodes``), overall or
    per level of ``by``; with ``by`` also the log-rank test across its levels.

    ``first_episode_only`` (default) keeps each patient's first episode per instrument, so
    that patients contribute one observation each (the independence KM assumes). Curves
    longer than ``max_points`` steps are thinned for display (the estimates, medians and
    milestones always use every observation)."""
    e = _episode_levels(episodes, groups, by, first_episode_only)
    parts = _split(e, ["subgroup", "level", "instrument"])
    summaries, curves, risks = [], [], []
    cl = settings.confidence_level
    for (sg, lv, inst), (dur, ev) in sorted(
        parts.items(), key=lambda kv: tuple(str(x) for x in kv[0])
    ):
        km = kaplan_meier(dur, ev, cl)
        summaries.append(_summary_row(km, sg, lv, inst, settings))
        curves.append(_curve_frame(km, sg, lv, inst, max_points))
        risks.append(_at_risk_frame(km, sg, lv, inst))
    defn = definition or "time to loss of response"
    summary = pl.DataFrame(summaries, schema=SUMMARY_SCHEMA).with_columns(
        definition=pl.lit(
            f"{defn}; Kaplan-Meier, first response episode per patient, "
            f"{cl:.0%} log-log band; median CI from the band; s_Nw = probability still "
            "responding N weeks after the origin (empty when follow-up is shorter)"
        )
    )
    return Durability(
        summary=summary,
        curves=pl.concat(curves) if curves else pl.DataFrame(schema=CURVE_SCHEMA),
        at_risk=pl.concat(risks) if risks else pl.DataFrame(schema=AT_RISK_SCHEMA),
        logrank=pl.DataFrame(schema=LOGRANK_SCHEMA)
        if by is None
        else _logrank_frame(e, by, defn, settings),
    )
