"""Kaplan-Meier estimates and log-rank tests, on scipy.stats.

:func:`kaplan_meier` is the public building block: durations and event flags in, a
:class:`KaplanMeier` result out (survival curve with pointwise confidence band, numbers at
risk, median with its confidence interval, ``survival_at(t)``). The estimate and the band
come from ``scipy.stats.ecdf`` on ``scipy.stats.CensoredData``; the band uses the log-log
("exponential Greenwood") transform, as lifelines and R's survival package do by default.

:func:`logrank` compares two groups with ``scipy.stats.logrank`` (which returns a signed z
statistic; the chi-square is its square) and :func:`logrank_k` compares k groups with the
classic k-sample log-rank chi-square on k - 1 degrees of freedom.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from kapoutcomes.definitions.settings import Settings

SOURCE = (
    "Kaplan & Meier, J Am Stat Assoc 1958;53:457; Greenwood variance with log-log transform "
    "(Kalbfleisch & Prentice 1980); median CI from the band (Brookmeyer & Crowley 1982); "
    "computed with scipy.stats.ecdf on CensoredData"
)
LOGRANK_SOURCE = "Mantel 1966; Peto & Peto 1972 (log-rank test); scipy.stats.logrank for two groups"


@dataclass(frozen=True)
class KaplanMeier:
    """A Kaplan-Meier survival estimate.

    ``times`` are the distinct observed times (events and censorings) in increasing order;
    ``survival[i]`` is S(t) just after ``times[i]``; ``lower``/``upper`` the pointwise
    confidence band (equal to S where S is 1 or 0, as in lifelines and R); ``at_risk[i]`` the number
    still under observation just before ``times[i]``; ``events[i]`` and ``censored[i]`` the
    counts at ``times[i]``. ``median`` is the first time S(t) <= 0.5 (None if never reached);
    ``median_ci`` the times at which the lower and upper band first reach 0.5 (None where they
    do not).
    """

    n: int
    n_events: int
    times: np.ndarray
    survival: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    median: float | None
    median_ci: tuple[float | None, float | None]
    confidence_level: float
    caveats: tuple[str, ...] = field(default=())

    def survival_at(self, t: float) -> float:
        """S(t): the probability of no event by time ``t`` (1 before the first event)."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return 1.0 if i < 0 else float(self.survival[i])

    def band_at(self, t: float) -> tuple[float, float]:
        """The (lower, upper) confidence band at time ``t``."""
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        if i < 0:
            return (1.0, 1.0)
        return (float(self.lower[i]), float(self.upper[i]))

    def at_risk_at(self, t: float) -> int:
        """Number still at risk at time ``t`` (observed time >= t)."""
        i = int(np.searchsorted(self.times, t, side="left"))
        return int(self.at_risk[i]) if i < len(self.times) else 0

    @property
    def censored_pct(self) -> float:
        return 100.0 * (self.n - self.n_events) / self.n if self.n else float("nan")


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, level: float) -> float | None:
    ok = np.flatnonzero(np.nan_to_num(curve, nan=np.inf) <= level + 1e-12)
    return None if ok.size == 0 else float(times[ok[0]])


def kaplan_meier(
    durations: Sequence[float] | np.ndarray,
    events: Sequence[bool] | np.ndarray,
    confidence_level: float = 0.95,
) -> KaplanMeier:
    """Kaplan-Meier estimate of the survival function.

    ``durations``: time from origin to event or censoring (any unit, >= 0); ``events``: True
    where the event (e.g. loss of response) was observed, False where censored.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    if d.shape != e.shape:
        raise ValueError("durations and events must have the same length")
    if np.isnan(d).any() or (d < 0).any():
        raise ValueError("durations must be non-negative numbers")
    n = int(d.size)
    empty = np.array([], dtype=float)
    if n == 0:
        return KaplanMeier(
            0,
            0,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            empty,
            None,
            (None, None),
            confidence_level,
            ("no observations",),
        )
    times, inv = np.unique(d, return_inverse=True)
    ev = np.bincount(inv, weights=e.astype(float), minlength=times.size)
    tot = np.bincount(inv, minlength=times.size).astype(float)
    cens = tot - ev
    at_risk = n - np.concatenate([[0.0], np.cumsum(tot)[:-1]])
    n_events = int(e.sum())
    if n_events == 0:
        surv = np.ones(times.size)
        lower = np.full(times.size, np.nan)
        upper = np.full(times.size, np.nan)
    else:
        data = stats.CensoredData(uncensored=d[e], right=d[~e])
        res = stats.ecdf(data)
        q = res.sf.quantiles
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = res.sf.confidence_interval(confidence_level, method="log-log")
        # scipy lists censored times too; align on ``times``
        idx = np.searchsorted(q, times)
        surv = res.sf.probabilities[idx]
        lower = ci.low.probabilities[idx].copy()
        upper = ci.high.probabilities[idx].copy()
        # the log-log band is undefined where S is 1 (before the first event) or 0; like
        # lifelines and R, the band equals the estimate there
        for edge in (1.0, 0.0):
            at = surv == edge
            lower[at] = edge
            upper[at] = edge
    median = _first_at_or_below(times, surv, 0.5) if n_events else None
    lo = _first_at_or_below(times, lower, 0.5) if n_events else None
    hi = _first_at_or_below(times, upper, 0.5) if n_events else None
    caveats = []
    if n_events == 0:
        caveats.append("no events observed: every duration is censored")
    if median is None:
        caveats.append("median not reached: more than half still event-free at the last time")
    return KaplanMeier(
        n=n,
        n_events=n_events,
        times=times,
        survival=np.asarray(surv, dtype=float),
        lower=np.asarray(lower, dtype=float),
        upper=np.asarray(upper, dtype=float),
        at_risk=at_risk.astype(int),
        events=ev.astype(int),
        censored=cens.astype(int),
        median=median,
        median_ci=(lo, hi),
        confidence_level=confidence_level,
        caveats=tuple(caveats),
    )


@dataclass(frozen=True)
class LogRank:
    """A log-rank comparison. ``statistic`` is the chi-square (for two groups the square of
    scipy's signed ``z``); ``df`` = groups - 1."""

    groups: tuple[str, ...]
    n: tuple[int, ...]
    events: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    df: int
    pvalue: float
    z: float | None = None  # signed z (two groups): negative = first group has fewer events
    source: str = LOGRANK_SOURCE


def logrank(
    durations_a: np.ndarray,
    events_a: np.ndarray,
    durations_b: np.ndarray,
    events_b: np.ndarray,
    names: tuple[str, str] = ("a", "b"),
) -> LogRank:
    """Two-group log-rank test via ``scipy.stats.logrank`` (two-sided)."""
    da, ea = np.asarray(durations_a, float), np.asarray(events_a, bool)
    db, eb = np.asarray(durations_b, float), np.asarray(events_b, bool)
    x = stats.CensoredData(uncensored=da[ea], right=da[~ea])
    y = stats.CensoredData(uncensored=db[eb], right=db[~eb])
    res = stats.logrank(x, y)
    k = logrank_k([da, db], [ea, eb], names)
    return LogRank(
        groups=names,
        n=k.n,
        events=k.events,
        expected=k.expected,
        statistic=float(res.statistic) ** 2,
        df=1,
        pvalue=float(res.pvalue),
        z=float(res.statistic),
    )


def logrank_k(
    durations: Sequence[np.ndarray],
    events: Sequence[np.ndarray],
    names: Sequence[str],
) -> LogRank:
    """k-sample log-rank test: chi-square = U' V^- U on k - 1 degrees of freedom, with U the
    observed minus expected events per group and V their hypergeometric covariance."""
    k = len(durations)
    d_all = np.concatenate([np.asarray(x, float) for x in durations])
    e_all = np.concatenate([np.asarray(x, bool) for x in events])
    g_all = np.concatenate([np.full(len(x), i) for i, x in enumerate(durations)])
    times, inv = np.unique(d_all, return_inverse=True)
    m = times.size
    d_tg = np.zeros((m, k))
    n_tg = np.zeros((m, k))
    np.add.at(d_tg, (inv, g_all), e_all.astype(float))
    np.add.at(n_tg, (inv, g_all), 1.0)
    # at risk before each time: total minus those with earlier times
    r_tg = n_tg.sum(axis=0) - np.vstack([np.zeros(k), np.cumsum(n_tg, axis=0)[:-1]])
    d_t = d_tg.sum(axis=1)
    r_t = r_tg.sum(axis=1)
    ok = r_t > 0
    frac = np.divide(r_tg, r_t[:, None], out=np.zeros_like(r_tg), where=ok[:, None])
    expected = (d_t[:, None] * frac).sum(axis=0)
    observed = d_tg.sum(axis=0)
    u = observed - expected
    w = np.divide(d_t * (r_t - d_t), r_t - 1, out=np.zeros_like(d_t), where=r_t > 1)
    v = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            delta = 1.0 if i == j else 0.0
            v[i, j] = (w * frac[:, i] * (delta - frac[:, j])).sum()
    if k < 2:
        stat, pval = float("nan"), float("nan")
    else:
        vi = np.linalg.pinv(v[:-1, :-1])
        stat = float(u[:-1] @ vi @ u[:-1])
        pval = float(stats.chi2.sf(stat, k - 1)) if math.isfinite(stat) else float("nan")
    return LogRank(
        groups=tuple(names),
        n=tuple(len(x) for x in durations),
        events=tuple(int(x) for x in observed),
        expected=tuple(float(x) for x in expected),
        statistic=stat,
        df=k - 1,
        pvalue=pval,
    )


def stats_attach(frame: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    from kapoutcomes.stats.intervals import attach_groups

    return attach_groups(frame, groups)


# -- durability of response in a cohort ------------------------------------------------------
DURABILITY_WEEKS = (4, 8, 12)
AT_RISK_WEEKS = (0, 4, 8, 12, 16, 20, 24)


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
    e = episodes
    if first_episode_only:
        e = e.filter(pl.col("episode") == 1)
    e = stats_attach(e, groups)
    if by is None:
        e = e.with_columns(subgroup=pl.lit("all"), level=pl.lit("all"))
    else:
        e = e.with_columns(
            subgroup=pl.lit(by), level=pl.col(by).cast(pl.String).fill_null("unknown")
        )
    parts = _split(e, ["subgroup", "level", "instrument"])
    summaries, curves, risks = [], [], []
    cl = settings.confidence_level
    for (sg, lv, inst), (dur, ev) in sorted(
        parts.items(), key=lambda kv: tuple(str(x) for x in kv[0])
    ):
        km = kaplan_meier(dur, ev, cl)
        row = {
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
        summaries.append(row)
        curves.append(_curve_frame(km, sg, lv, inst, max_points))
        risks.append(
            pl.DataFrame(
                {
                    "subgroup": sg,
                    "level": lv,
                    "instrument": inst,
                    "week": list(AT_RISK_WEEKS),
                    "at_risk": [km.at_risk_at(7.0 * w) if km.n else 0 for w in AT_RISK_WEEKS],
                },
                schema_overrides={"at_risk": pl.Int64, "week": pl.Int64},
            )
        )
    defn = definition or "time to loss of response"
    summary_schema = {
        "subgroup": pl.String,
        "level": pl.String,
        "instrument": pl.String,
        "n": pl.Int64,
        "events": pl.Int64,
        "censored_pct": pl.Float64,
        "median_days": pl.Float64,
        "median_lower": pl.Float64,
        "median_upper": pl.Float64,
        **{f"s_{w}w{s}": pl.Float64 for w in DURABILITY_WEEKS for s in ("", "_lower", "_upper")},
        "caveats": pl.String,
    }
    summary = pl.DataFrame(summaries, schema=summary_schema).with_columns(
        definition=pl.lit(
            f"{defn}; Kaplan-Meier, first response episode per patient, "
            f"{cl:.0%} log-log band; median CI from the band; s_Nw = probability still "
            "responding N weeks after the origin (empty when follow-up is shorter)"
        )
    )
    curve_schema = {
        "subgroup": pl.String,
        "level": pl.String,
        "instrument": pl.String,
        "time_days": pl.Float64,
        "survival": pl.Float64,
        "lower": pl.Float64,
        "upper": pl.Float64,
        "at_risk": pl.Int64,
        "events": pl.Int64,
        "censored": pl.Int64,
    }
    curves_f = pl.concat(curves) if curves else pl.DataFrame(schema=curve_schema)
    risk_f = (
        pl.concat(risks)
        if risks
        else pl.DataFrame(
            schema={
                "subgroup": pl.String,
                "level": pl.String,
                "instrument": pl.String,
                "week": pl.Int64,
                "at_risk": pl.Int64,
            }
        )
    )
    lr_rows = []
    if by is not None:
        by_inst: dict[Any, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for (inst, level), arrays in _split(e, ["instrument", "level"]).items():
            by_inst.setdefault(inst, {})[str(level)] = arrays
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
            small = [n for n, d in zip(names, ds, strict=True) if len(d) < settings.small_n]
            lr_rows.append(
                {
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
            )
    lr = pl.DataFrame(
        lr_rows,
        schema={
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
        },
    )
    return Durability(summary=summary, curves=curves_f, at_risk=risk_f, logrank=lr)
