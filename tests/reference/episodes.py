"""Reference response episodes: the loss-of-response state machine written as the obvious loop.

The same rules as ``kapoutcomes.outcomes.episodes.response_episodes`` (see its docstring),
walked one (patient, instrument) stream at a time in plain Python, the way a clinician would
read a chart. It began as the loop in the pandas benchmark baseline
(``bench/pandas_baseline.py: response_episodes``, which stays there as the benchmark's own
copy); this copy has no pandas and no polars logic, so it shares no code with the library.

Rules, per (patient, instrument), over its assessments with a responder value and, when
``settings.loss_on_unscheduled_booster``, the patient's booster sessions, in time order (an
assessment before a booster at the same moment):

* a responding assessment while no episode runs starts one (onset);
* while an episode runs, ``settings.loss_consecutive_assessments`` non-responding assessments
  in a row end it at the first of them ("loss"); a responding one resets the count;
* a booster while an episode runs ends it at the booster ("booster"); any booster resets the
  count;
* an episode still running at the end is censored at its last assessment.

Origin (time zero): the latest dosing session at or before onset (the dose that started the
episode; an episode that ends during induction is timed from its own infusion).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from kapoutcomes.definitions.settings import Settings

DOSING = ("induction", "maintenance", "booster")


def _days(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds() / 86400.0


def dose_origins(sessions: Iterable[dict], settings: Settings) -> dict[str, list[tuple]]:
    """Per patient, its dosing sessions in time order as (started_at, origin_at, type)."""
    doses: dict[str, list[dict]] = defaultdict(list)
    for s in sessions:
        if s["session_type"] in DOSING:
            doses[s["patient_id"]].append(s)
    out: dict[str, list[tuple]] = {}
    for pid, rows in doses.items():
        rows.sort(key=lambda r: (r["started_at"], r["session_id"]))
        # time zero is the dose that started the episode (the latest dose at or before its
        # onset): an episode that ends during induction is timed from its own infusion
        out[pid] = [(r["started_at"], r["started_at"], r["session_type"]) for r in rows]
    return out


def _walk(events: list[tuple], k: int) -> list[dict]:
    """The state machine over one stream of (time, kind, responder); kind 0 = assessment,
    1 = booster. Returns the episodes as onset, end, end_reason, last assessment."""
    episodes = []
    active = False
    below = 0
    first_below = onset = last = last_resp = None
    for t, kind, responder in events:
        if kind == 1:
            if active:
                episodes.append(
                    {
                        "onset_at": onset,
                        "end_at": t,
                        "end_reason": "booster",
                        "last": last,
                        "last_resp": last_resp,
                    }
                )
                active = False
            below = 0
            continue
        if responder:
            if not active:
                active, onset = True, t
            below, first_below, last, last_resp = 0, None, t, t
        elif active:
            below += 1
            last = t
            if below == 1:
                first_below = t
            if below >= k:
                episodes.append(
                    {
                        "onset_at": onset,
                        "end_at": first_below,
                        "end_reason": "loss",
                        "last": last,
                        "last_resp": last_resp,
                    }
                )
                active = False
    if active:
        episodes.append(
            {
                "onset_at": onset,
                "end_at": None,
                "end_reason": None,
                "last": last,
                "last_resp": last_resp,
            }
        )
    return episodes


def response_episodes(
    change: Iterable[dict], sessions: Iterable[dict], settings: Settings
) -> list[dict]:
    """Episodes as dicts with the library's columns, sorted by patient, instrument, episode.

    ``change``: rows with patient_id, instrument, assessed_at, responder (None = no verdict,
    left out); ``sessions``: rows with session_id, patient_id, started_at, session_type.
    """
    sessions = list(sessions)
    streams: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for r in change:
        if r["responder"] is not None:
            streams[(r["patient_id"], r["instrument"])].append(
                (r["assessed_at"], 0, r["responder"])
            )
    boosters: dict[str, list[dt.datetime]] = defaultdict(list)
    for s in sessions:
        if s["session_type"] == "booster":
            boosters[s["patient_id"]].append(s["started_at"])
    origins = dose_origins(sessions, settings)
    out = []
    for (pid, inst), events in sorted(streams.items()):
        if settings.loss_on_unscheduled_booster:
            events = events + [(t, 1, None) for t in boosters[pid]]
        events.sort(key=lambda e: (e[0], e[1]))
        for n, ep in enumerate(_walk(events, settings.loss_consecutive_assessments), start=1):
            before = [d for d in origins.get(pid, []) if d[0] <= ep["onset_at"]]
            origin_at, origin_type = (before[-1][1], before[-1][2]) if before else (None, None)
            event = ep["end_at"] is not None
            stop = ep["end_at"] if event else ep["last"]
            out.append(
                {
                    "patient_id": pid,
                    "instrument": inst,
                    "episode": n,
                    "onset_at": ep["onset_at"],
                    "origin_at": origin_at,
                    "origin_session_type": origin_type,
                    "restored_by_booster": origin_type == "booster",
                    "end_at": ep["end_at"],
                    "end_reason": ep["end_reason"],
                    "event": event,
                    "last_assessed_at": ep["last"],
                    "last_responding_at": ep["last_resp"],
                    "duration_days": None
                    if origin_at is None
                    else max(0.0, _days(stop, origin_at)),
                }
            )
    return out
