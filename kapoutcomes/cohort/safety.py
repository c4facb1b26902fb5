"""Safety: vital-sign excursions, adverse events and the flags that must never be missed.

Flags that must never be missed (``safety_flags``):

* any PHQ-9 item 9 answer above 0 (thoughts of being better off dead or of self-harm;
  Simon et al., Psychiatr Serv 2013) - needs clinician follow-up;
* a serious adverse event (marked serious, or an event that is serious whatever its recorded
  severity: ``tables.SERIOUS_EVENTS``);
* a hypertensive reading before dosing (systolic above ``settings.bp_systolic_limit`` or
  diastolic above ``settings.bp_diastolic_limit``; esketamine REMS);
* after dosing: a hypertensive crisis (systolic above ``settings.bp_crisis_systolic_above``
  or diastolic above ``settings.bp_crisis_diastolic_above``; ACC/AHA 2017), hypoxaemia (SpO2
  below ``settings.spo2_low_pct``) or tachycardia (heart rate above
  ``settings.heart_rate_after_above``; a project choice).

Rates come with exact intervals: events per 100 dosing sessions with the Garwood (exact
Poisson) interval, % of patients with the Clopper-Pearson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from kapoutcomes import tables
from kapoutcomes.cohort.groups import attach_groups, caveat_expr, level_agg, rollup
from kapoutcomes.definitions import instruments
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import dosing
from kapoutcomes.stats.intervals import poisson_rate_ci, with_proportion

FLAG_SOURCES = {
    "phq9_item9": instruments.PHQ9_ITEM9_SOURCE,
    "serious_adverse_event": "serious adverse events are reported (esketamine REMS); "
    "psychosis, hypertensive crisis, respiratory depression and abuse count as serious",
    "hypertensive_before_dosing": "Esketamine REMS: consider delaying dosing when BP > 140/90 "
    "before dosing (limits from settings)",
    "hypertensive_crisis_after_dosing": "ACC/AHA 2017 guideline (Whelton et al., Hypertension "
    "2018;71:e13): hypertensive crisis = systolic > 180 and/or diastolic > 120 mmHg (limits "
    "from settings)",
    "hypoxaemia_after_dosing": "SpO2 < 90% is hypoxaemia (clinical reference, safety "
    "monitoring; esketamine REMS respiratory checks); limit from settings",
    "tachycardia_after_dosing": "kapoutcomes default (no published standard; configurable): "
    "heart rate after dosing above the limit from settings (default 120 beats/min, marked "
    "tachycardia; tachycardia is > 100)",
}


def is_serious() -> pl.Expr:
    """An adverse event is serious when marked so or when its event is always serious."""
    return pl.col("serious").fill_null(False) | pl.col("event").is_in(tables.SERIOUS_EVENTS)


def vital_excursions(sessions: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """One row per dosing session with vital-sign flags.

    Columns: patient_id, session_id, started_at, route, bp_recorded, hypertensive_before
    (systolic > limit or diastolic > limit before dosing), bp_rise (systolic after - before
    >= ``settings.bp_rise_mmhg``), bp_rise_mmhg, spo2_recorded, desaturation (SpO2 before or
    after below ``settings.spo2_low_pct``), after dosing: crisis_after (systolic >
    ``bp_crisis_systolic_above`` or diastolic > ``bp_crisis_diastolic_above``),
    hypoxaemia_after (SpO2 < ``spo2_low_pct``), tachycardia_after (heart rate >
    ``heart_rate_after_above``), and the readings. Flags are empty where the readings are
    missing (a sessions frame without a column reads it as missing).
    """
    d = dosing.dosing_sessions(sessions)
    d = d.with_columns(
        pl.lit(None, dtype=pl.Int32).alias(c) for c in _VITAL_COLUMNS if c not in d.columns
    )
    sb, db = pl.col("bp_systolic_before"), pl.col("bp_diastolic_before")
    sa, da = pl.col("bp_systolic_after"), pl.col("bp_diastolic_after")
    hr_a, spo2_a = pl.col("heart_rate_after"), pl.col("spo2_after")
    rise = pl.col("bp_systolic_after") - sb
    low = settings.spo2_low_pct
    s_min = pl.min_horizontal(pl.col("spo2_before"), pl.col("spo2_after"))
    return d.select(
        "patient_id",
        "session_id",
        "started_at",
        "route",
        bp_recorded=sb.is_not_null() | db.is_not_null(),
        hypertensive_before=pl.when(sb.is_not_null() | db.is_not_null()).then(
            (sb > settings.bp_systolic_limit).fill_null(False)
            | (db > settings.bp_diastolic_limit).fill_null(False)
        ),
        bp_rise_mmhg=rise.cast(pl.Float64),
        bp_rise=rise >= settings.bp_rise_mmhg,
        spo2_recorded=s_min.is_not_null(),
        desaturation=s_min < low,
        systolic_before=sb,
        diastolic_before=db,
        spo2_min=s_min,
        crisis_after=pl.when(sa.is_not_null() | da.is_not_null()).then(
            (sa > settings.bp_crisis_systolic_above).fill_null(False)
            | (da > settings.bp_crisis_diastolic_above).fill_null(False)
        ),
        hypoxaemia_after=spo2_a < low,
        tachycardia_after=hr_a > settings.heart_rate_after_above,
        systolic_after=sa,
        diastolic_after=da,
        heart_rate_after=hr_a,
        spo2_after=spo2_a,
    )


_VITAL_COLUMNS = (
    "bp_systolic_before",
    "bp_diastolic_before",
    "bp_systolic_after",
    "bp_diastolic_after",
    "heart_rate_after",
    "spo2_before",
    "spo2_after",
)


def _bp_text(sys_col: str, dia_col: str) -> pl.Expr:
    return pl.format(
        "{}/{}",
        pl.col(sys_col).cast(pl.String).fill_null("?"),
        pl.col(dia_col).cast(pl.String).fill_null("?"),
    )


def _after_dose_flags(v: pl.DataFrame, settings: Settings) -> list[pl.DataFrame]:
    """Must-not-miss flags from the readings after dosing, one row per session and flag."""
    keys = {"patient_id": pl.col("patient_id"), "at": pl.col("started_at")}
    crisis = v.filter(pl.col("crisis_after").fill_null(False)).select(
        **keys,
        flag=pl.lit("hypertensive_crisis_after_dosing"),
        value=_bp_text("systolic_after", "diastolic_after"),
        detail=pl.format(
            "BP {} mmHg after dosing: hypertensive crisis (above {}/{}, ACC/AHA 2017); check "
            "for symptoms and organ damage",
            _bp_text("systolic_after", "diastolic_after"),
            pl.lit(settings.bp_crisis_systolic_above),
            pl.lit(settings.bp_crisis_diastolic_above),
        ),
        session_id=pl.col("session_id"),
    )
    hypox = v.filter(pl.col("hypoxaemia_after").fill_null(False)).select(
        **keys,
        flag=pl.lit("hypoxaemia_after_dosing"),
        value=pl.col("spo2_after").cast(pl.String),
        detail=pl.format(
            "SpO2 {}% after dosing: hypoxaemia (below {}%)",
            pl.col("spo2_after"),
            pl.lit(f"{settings.spo2_low_pct:g}"),
        ),
        session_id=pl.col("session_id"),
    )
    tachy = v.filter(pl.col("tachycardia_after").fill_null(False)).select(
        **keys,
        flag=pl.lit("tachycardia_after_dosing"),
        value=pl.col("heart_rate_after").cast(pl.String),
        detail=pl.format(
            "heart rate {} beats/min after dosing (above {}, a configurable project default)",
            pl.col("heart_rate_after"),
            pl.lit(settings.heart_rate_after_above),
        ),
        session_id=pl.col("session_id"),
    )
    return [crisis, hypox, tachy]


def safety_flags(
    assessments: pl.DataFrame,
    adverse_events: pl.DataFrame,
    sessions: pl.DataFrame,
    settings: Settings,
    excursions: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every must-not-miss safety flag, one row per occurrence, newest first
    (``excursions``: the ``vital_excursions`` of ``sessions`` when already computed).

    Columns: patient_id, at, flag (phq9_item9 | serious_adverse_event |
    hypertensive_before_dosing | hypertensive_crisis_after_dosing | hypoxaemia_after_dosing |
    tachycardia_after_dosing: ``FLAG_SOURCES``), value, detail, session_id, source."""
    item9 = assessments.filter(
        (pl.col("instrument") == "phq9")
        & (pl.col("item") == instruments.PHQ9_ITEM9)
        & (pl.col("score") > 0)
    ).select(
        "patient_id",
        at=pl.col("assessed_at"),
        flag=pl.lit("phq9_item9"),
        value=pl.col("score").cast(pl.String),
        detail=pl.format(
            "PHQ-9 item 9 answered {} (0 not at all, 1 several days, 2 more than half the "
            "days, 3 nearly every day): clinician follow-up needed",
            pl.col("score").cast(pl.Int64),
        ),
        session_id=pl.col("session_id"),
    )
    sae = adverse_events.filter(is_serious()).select(
        "patient_id",
        at=pl.col("onset_at"),
        flag=pl.lit("serious_adverse_event"),
        value=pl.col("event"),
        detail=pl.format(
            "serious adverse event: {} (severity {}, action {})",
            pl.coalesce(pl.col("event_text"), pl.col("event")),
            pl.col("severity").fill_null("not recorded"),
            pl.col("action_taken").fill_null("not recorded"),
        ),
        session_id=pl.col("session_id"),
    )
    v = excursions if excursions is not None else vital_excursions(sessions, settings)
    htn = v.filter(pl.col("hypertensive_before").fill_null(False)).select(
        "patient_id",
        at=pl.col("started_at"),
        flag=pl.lit("hypertensive_before_dosing"),
        value=pl.format(
            "{}/{}",
            pl.col("systolic_before").cast(pl.String).fill_null("?"),
            pl.col("diastolic_before").cast(pl.String).fill_null("?"),
        ),
        detail=pl.format(
            "BP {}/{} mmHg before dosing (limit {}/{})",
            pl.col("systolic_before").cast(pl.String).fill_null("?"),
            pl.col("diastolic_before").cast(pl.String).fill_null("?"),
            pl.lit(settings.bp_systolic_limit),
            pl.lit(settings.bp_diastolic_limit),
        ),
        session_id=pl.col("session_id"),
    )
    after = _after_dose_flags(v, settings) if "crisis_after" in v.columns else []
    out = pl.concat([item9, sae, htn, *after], how="diagonal_relaxed")
    src = pl.DataFrame({"flag": list(FLAG_SOURCES), "source": list(FLAG_SOURCES.values())})
    return out.join(src, on="flag", how="left").sort(
        ["at", "patient_id", "flag"], descending=[True, False, False]
    )


def item9_by_patient(assessments: pl.DataFrame) -> pl.DataFrame:
    """Patients with any PHQ-9 item 9 answer above 0: patient_id, answers_above_0,
    highest, first_at, last_above_0_at, latest_answer, latest_at, status ("open: latest
    answer above 0" or "latest answer 0; earlier answer above 0: review documented
    follow-up"). Every such patient is listed; none is dropped."""
    a = assessments.filter(
        (pl.col("instrument") == "phq9") & (pl.col("item") == instruments.PHQ9_ITEM9)
    ).sort("patient_id", "assessed_at")
    g = a.group_by("patient_id").agg(
        answers_above_0=(pl.col("score") > 0).sum().cast(pl.Int64),
        highest=pl.col("score").max(),
        first_at=pl.col("assessed_at").filter(pl.col("score") > 0).first(),
        last_above_0_at=pl.col("assessed_at").filter(pl.col("score") > 0).last(),
        latest_answer=pl.col("score").last(),
        latest_at=pl.col("assessed_at").last(),
    )
    return (
        g.filter(pl.col("answers_above_0") > 0)
        .with_columns(
            status=pl.when(pl.col("latest_answer") > 0)
            .then(pl.lit("open: latest answer above 0"))
            .otherwise(
                pl.lit("latest answer 0; earlier answer above 0: review documented follow-up")
            )
        )
        .sort(["latest_answer", "last_above_0_at"], descending=[True, True])
    )


def signal_id(kind: str, at: str, event: str | None = None) -> pl.Expr:
    """The id under which a clinician's review of a must-not-miss signal is kept
    (``storage.signal_reviews``): kind/patient_id/date-time of the ``at`` column, then /event
    for a serious event. A newer answer above 0 or another event is a new signal."""
    parts = [pl.lit(kind), pl.col("patient_id"), pl.col(at).dt.strftime("%Y-%m-%dT%H:%M:%S")]
    if event is not None:
        parts.append(pl.col(event).fill_null("event"))
    return pl.concat_str(parts, separator="/")


def item9_signals(item9: pl.DataFrame) -> pl.DataFrame:
    """``item9_by_patient`` rows as reviewable signals: signal_id (of the latest answer above
    0: a newer one needs its own review), kind and signal_at first."""
    return item9.select(
        signal_id=signal_id("phq9_item9", "last_above_0_at"),
        kind=pl.lit("phq9_item9"),
        signal_at=pl.col("last_above_0_at"),
    ).hstack(item9)


def serious_signals(serious: pl.DataFrame) -> pl.DataFrame:
    """``serious_events`` rows as reviewable signals: signal_id, kind and signal_at first."""
    return serious.select(
        signal_id=signal_id("serious_adverse_event", "onset_at", "event"),
        kind=pl.lit("serious_adverse_event"),
        signal_at=pl.col("onset_at"),
    ).hstack(serious)


def adverse_event_burden(adverse_events: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """Per dosed patient: dosing_sessions, events, serious_events, severe_events,
    events_per_100_sessions."""
    d = dosing.dosing_sessions(sessions).group_by("patient_id").agg(dosing_sessions=pl.len())
    ae = adverse_events.group_by("patient_id").agg(
        events=pl.len(),
        serious_events=is_serious().sum(),
        severe_events=(pl.col("severity") == "severe").fill_null(False).sum(),
    )
    return (
        d.join(ae, on="patient_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in ("events", "serious_events", "severe_events"))
        .with_columns(events_per_100_sessions=100.0 * pl.col("events") / pl.col("dosing_sessions"))
        .sort("patient_id")
    )


def prepare_adverse_events(adverse_events: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """Adverse events with the categories the rates count them by: overall, seriousness,
    severity_ (mild / moderate / severe as recorded, else empty), grade_ ("grade 1"-"grade 5"
    as recorded, else empty) and route_ (route of the session the event followed, else
    "unknown"). Severity words and CTCAE-style grades are two scales that
    ``docs/clinical-reference`` gives no mapping between: each event is counted on the
    scale(s) it was recorded on, never converted (``SEVERITY_SCALES``)."""
    return (
        adverse_events.join(
            sessions.select("session_id", _route=pl.col("route")), on="session_id", how="left"
        )
        .with_columns(
            overall=pl.lit("any adverse event"),
            seriousness=pl.when(is_serious())
            .then(pl.lit("serious"))
            .otherwise(pl.lit("not serious")),
            severity_=pl.col("severity"),
            grade_=pl.format("grade {}", pl.col("grade")),
            route_=pl.col("_route").fill_null("unknown"),
        )
        .drop("_route")
    )


@dataclass(frozen=True)
class AdverseEventCounts:
    """Per-patient counts behind the adverse-event rates (computed once, then summed per
    comparison level). ``events``: patient_id, dimension, category, events. ``exposure``:
    patient_id, route ("*" = all routes), sessions (dosing sessions)."""

    events: pl.DataFrame
    exposure: pl.DataFrame


_AE_DIMS = {
    "overall": "overall",
    "event": "event",
    "severity": "severity_",
    "grade": "grade_",
    "seriousness": "seriousness",
    "route": "route_",
}

#: The two grading scales of adverse events, shown as separate tables (no published mapping
#: between them in the clinical reference; CTCAE's own wording of grades 1-3 as mild /
#: moderate / severe is not applied to clinics' own severity words).
SEVERITY_SCALES = {
    "severity": "severity as recorded (mild, moderate, severe); events recorded with a grade "
    "only are not counted here",
    "grade": "grade as recorded (CTCAE-style 1-5); events recorded with a severity word only "
    "are not counted here",
}


def adverse_event_counts(
    adverse_events: pl.DataFrame, sessions: pl.DataFrame
) -> AdverseEventCounts:
    """Count adverse events per patient, dimension and category, and dosing sessions per
    patient (overall and per route)."""
    ae = prepare_adverse_events(adverse_events, sessions)
    events = pl.concat(
        [
            ae.filter(pl.col(col).is_not_null())
            .group_by("patient_id", category=pl.col(col).cast(pl.String))
            .agg(events=pl.len().cast(pl.Int64))
            .with_columns(dimension=pl.lit(dim))
            for dim, col in _AE_DIMS.items()
        ]
    )
    dos = dosing.dosing_sessions(sessions)
    by_route = dos.group_by("patient_id", session_route=pl.col("route").fill_null("unknown")).agg(
        sessions=pl.len().cast(pl.Int64)
    )
    total = (
        by_route.group_by("patient_id")
        .agg(pl.col("sessions").sum())
        .with_columns(session_route=pl.lit("*"))
    )
    return AdverseEventCounts(events, pl.concat([by_route, total.select(by_route.columns)]))


def adverse_event_rates(
    adverse_events: pl.DataFrame,
    sessions: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Adverse events per 100 dosing sessions and % of dosed patients with the event, from
    the adverse events and sessions tables: counted per patient, summed per cell and passed
    to ``adverse_event_rates_from_cells`` (the same figures)."""
    counts = adverse_event_counts(adverse_events, sessions)
    cells = AdverseEventCounts(
        rollup(attach_groups(counts.events, groups), ["dimension", "category"], ["events"]),
        rollup(attach_groups(counts.exposure, groups), ["session_route"], ["sessions"]),
    )
    return adverse_event_rates_from_cells(cells, settings, by)


AE_RATE_COLUMNS = (
    "subgroup",
    "level",
    "dimension",
    "category",
    "events",
    "sessions",
    "per_100_sessions",
    "per_100_lower",
    "per_100_upper",
    "n",
    "denominator",
    "rate",
    "lower",
    "upper",
    "definition",
    "caveats",
)
AE_DEFINITION = (
    "events per 100 dosing sessions (exact Poisson interval) and share of dosed patients "
    "with at least one (Clopper-Pearson); serious = marked serious or psychosis, "
    "hypertensive crisis, respiratory depression, abuse; severity (mild / moderate / severe) "
    "and grade (1-5) count the events recorded on that scale, never converted; route = route "
    "of the session the event followed (denominators: sessions and patients with that route)"
)


def _events_with_exposure(cells: AdverseEventCounts, by: str | None) -> pl.DataFrame:
    """Events and patients with the event per subgroup, level, dimension and category, beside
    the dosing sessions and dosed patients they are counted among (those of the route for the
    route dimension, all otherwise)."""
    expo = level_agg(
        cells.exposure,
        by,
        ["session_route"],
        [pl.col("sessions").sum(), pl.col("rows").sum().alias("denominator")],
    )
    g = level_agg(
        cells.events,
        by,
        ["dimension", "category"],
        [pl.col("events").sum(), pl.col("rows").sum().alias("n")],
    ).with_columns(
        session_route=pl.when(pl.col("dimension") == "route")
        .then(pl.col("category"))
        .otherwise(pl.lit("*"))
    )
    return (
        g.join(expo, on=["subgroup", "level", "session_route"], how="left")
        .drop("session_route")
        .with_columns(
            pl.col("sessions").fill_null(0).cast(pl.Int64),
            pl.col("denominator").fill_null(0).cast(pl.Int64),
        )
        .sort("subgroup", "level", "dimension", "category")
    )


def adverse_event_rates_from_cells(
    cells: AdverseEventCounts, settings: Settings, by: str | None = None
) -> pl.DataFrame:
    """Adverse events per 100 dosing sessions (exact Poisson interval) and % of dosed
    patients with the event (Clopper-Pearson), overall and by event, severity, seriousness
    and route (of the session the event followed; "unknown" when not linked).

    ``cells``: the ``adverse_event_counts`` summed per cell (``groups.rollup``; both frames
    carry the comparison dimensions and ``rows``, the patients). Columns
    (``AE_RATE_COLUMNS``): subgroup, level, dimension, category, events, sessions,
    per_100_sessions, per_100_lower, per_100_upper, n (patients with it), denominator (dosed
    patients), rate, lower, upper, definition, caveats."""
    out = _events_with_exposure(cells, by)
    rate, lo, hi = poisson_rate_ci(
        out.get_column("events").to_numpy(),
        out.get_column("sessions").fill_null(0).to_numpy(),
        settings.confidence_level,
    )
    out = out.with_columns(
        per_100_sessions=pl.Series(rate), per_100_lower=pl.Series(lo), per_100_upper=pl.Series(hi)
    )
    out = with_proportion(out, "n", "denominator", settings.confidence_level, method="exact")
    return out.with_columns(
        definition=pl.lit(AE_DEFINITION),
        caveats=caveat_expr(
            pl.col("denominator"),
            settings,
            pl.when(pl.col("events") < 5).then(pl.lit("fewer than 5 events")),
        ),
    ).select(AE_RATE_COLUMNS)


#: Words for one dosing session of each route ("per 100 IV infusions", "per 100 IM
#: injections"): an infusion is IV only.
ROUTE_SESSIONS = {
    "IV": "IV infusions",
    "IM": "IM injections",
    "intranasal": "intranasal doses",
    "sublingual": "sublingual doses",
    "oral": "oral doses",
    "topical": "topical applications",
    "unknown": "events not linked to a dosing session",
}
ROUTE_RATE_DEFINITION = (
    "events per 100 dosing sessions of the route (exact Poisson interval): each event counts "
    "under the route of the dosing session it followed, and its denominator is that route's "
    "dosing sessions only (IV infusions apart from IM, intranasal, sublingual, oral and "
    "topical doses); share of the patients dosed by that route with at least one "
    "(Clopper-Pearson). Events not linked to a dosing session have no denominator: counted, "
    "not rated"
)


def _route_events(ae: pl.DataFrame) -> pl.DataFrame:
    """Events and patients with them per route of the session followed, dimension and
    category (``prepare_adverse_events`` rows; a scale an event was not graded on skips it)."""
    dims = {k: v for k, v in _AE_DIMS.items() if k != "route"}
    return pl.concat(
        [
            ae.filter(pl.col(col).is_not_null())
            .group_by(route=pl.col("route_"), category=pl.col(col).cast(pl.String))
            .agg(events=pl.len().cast(pl.Int64), n=pl.col("patient_id").n_unique().cast(pl.Int64))
            .with_columns(dimension=pl.lit(dim))
            for dim, col in dims.items()
        ],
        how="diagonal",
    )


def adverse_event_rates_by_route(
    adverse_events: pl.DataFrame, sessions: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """Adverse events per 100 dosing sessions of each route, overall and by event, severity,
    grade and seriousness (``ROUTE_RATE_DEFINITION``). Every dosed route has its overall row
    (0 events included); events not linked to a dosing session form the route "unknown"
    without a rate. Columns: route, sessions_are (words: "IV infusions"...), dimension,
    category, events, sessions, per_100_sessions, per_100_lower, per_100_upper, n,
    denominator, rate, lower, upper, definition, caveats."""
    ae = prepare_adverse_events(adverse_events, sessions)
    dos = dosing.dosing_sessions(sessions).with_columns(pl.col("route").fill_null("unknown"))
    expo = dos.group_by("route").agg(
        sessions=pl.len().cast(pl.Int64),
        denominator=pl.col("patient_id").n_unique().cast(pl.Int64),
    )
    overall = expo.select(
        "route", dimension=pl.lit("overall"), category=pl.lit("any adverse event")
    )
    out = (
        overall.join(
            _route_events(ae), on=["route", "dimension", "category"], how="full", coalesce=True
        )
        .join(expo, on="route", how="left")
        .with_columns(pl.col("events", "n", "sessions", "denominator").fill_null(0))
        .sort("route", "dimension", "category")
    )
    rate, lo, hi = poisson_rate_ci(
        out.get_column("events").to_numpy(),
        out.get_column("sessions").to_numpy(),
        settings.confidence_level,
    )
    out = out.with_columns(
        per_100_sessions=pl.Series(rate).fill_nan(None),
        per_100_lower=pl.Series(lo).fill_nan(None),
        per_100_upper=pl.Series(hi).fill_nan(None),
    )
    out = with_proportion(out, "n", "denominator", settings.confidence_level, method="exact")
    unlinked = pl.when(pl.col("sessions") == 0).then(
        pl.lit("not linked to a dosing session: no denominator, not rated")
    )
    few = pl.when((pl.col("events") < 5) & (pl.col("sessions") > 0))
    return out.with_columns(
        sessions_are=pl.col("route").replace_strict(
            ROUTE_SESSIONS, default=pl.format("{} sessions", "route"), return_dtype=pl.String
        ),
        definition=pl.lit(ROUTE_RATE_DEFINITION),
        caveats=caveat_expr(
            pl.when(pl.col("sessions") > 0).then(pl.col("denominator")),
            settings,
            unlinked,
            few.then(pl.lit("fewer than 5 events")),
        ),
    ).select("route", "sessions_are", *AE_RATE_COLUMNS[2:])


def serious_events(adverse_events: pl.DataFrame) -> pl.DataFrame:
    """Every serious adverse event, newest first: patient_id, onset_at, event, event_text,
    severity, grade, action_taken, resolved_at, session_id."""
    return (
        adverse_events.filter(is_serious())
        .select(
            "patient_id",
            "onset_at",
            "event",
            "event_text",
            "severity",
            "grade",
            "action_taken",
            "resolved_at",
            "session_id",
        )
        .sort("onset_at", descending=True)
    )


EXCURSIONS = (
    "hypertensive_before",
    "bp_rise",
    "desaturation",
    "crisis_after",
    "hypoxaemia_after",
    "tachycardia_after",
)


def excursion_counts(excursions: pl.DataFrame) -> pl.DataFrame:
    """Per patient and excursion, from ``vital_excursions``: n (sessions with it),
    denominator (sessions with the reading) and patients (1 when n > 0): summable, so they
    may be summed per cell (``groups.rollup``)."""
    agg = []
    for name in EXCURSIONS:
        agg += [
            pl.col(name).sum().cast(pl.Int64).alias(f"{name}|n"),
            pl.col(name).is_not_null().sum().cast(pl.Int64).alias(f"{name}|d"),
        ]
    wide = excursions.group_by("patient_id").agg(agg)
    return (
        pl.concat(
            [
                wide.select(
                    "patient_id",
                    excursion=pl.lit(name),
                    n=pl.col(f"{name}|n"),
                    denominator=pl.col(f"{name}|d"),
                )
                for name in EXCURSIONS
            ]
        )
        .filter(pl.col("denominator") > 0)
        .with_columns(patients=(pl.col("n") > 0).cast(pl.Int64))
    )


def excursion_summary(
    excursions: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Vital-sign excursions from the ``vital_excursions`` rows: counted per patient and
    passed to ``excursion_summary_from_counts`` (the same figures)."""
    return excursion_summary_from_counts(excursion_counts(excursions), groups, settings, by)


def excursion_summary_from_counts(
    counts: pl.DataFrame,
    groups: pl.DataFrame,
    settings: Settings,
    by: str | None = None,
) -> pl.DataFrame:
    """Vital-sign excursions: per flag, n sessions with it, denominator = dosing sessions
    with the reading, rate with Clopper-Pearson interval, patients affected.

    ``counts``: ``excursion_counts`` (per patient) or their ``groups.rollup`` cells: the same
    summable columns (excursion, n, denominator, patients). Columns: subgroup, level,
    excursion, n, denominator, rate, lower, upper, patients, definition, caveats."""
    x = attach_groups(counts, groups)
    words = {
        "hypertensive_before": f"BP above {settings.bp_systolic_limit}/"
        f"{settings.bp_diastolic_limit} mmHg before dosing",
        "bp_rise": f"systolic BP rise of at least {settings.bp_rise_mmhg} mmHg after dosing",
        "desaturation": f"SpO2 below {settings.spo2_low_pct:g}% before or after dosing",
        "crisis_after": f"BP above {settings.bp_crisis_systolic_above}/"
        f"{settings.bp_crisis_diastolic_above} mmHg after dosing (hypertensive crisis)",
        "hypoxaemia_after": f"SpO2 below {settings.spo2_low_pct:g}% after dosing (hypoxaemia)",
        "tachycardia_after": f"heart rate above {settings.heart_rate_after_above} beats/min "
        "after dosing",
    }
    out = (
        level_agg(
            x,
            by,
            ["excursion"],
            [pl.col("n").sum(), pl.col("denominator").sum(), pl.col("patients").sum()],
        )
        .with_columns(
            definition=pl.col("excursion").replace_strict(words, return_dtype=pl.String)
            + " (sessions with the reading)"
        )
        .sort("subgroup", "level", "excursion")
    )
    out = with_proportion(out, "n", "denominator", settings.confidence_level, method="exact")
    return out.with_columns(caveats=caveat_expr(pl.col("denominator"), settings)).select(
        "subgroup",
        "level",
        "excursion",
        "n",
        "denominator",
        "rate",
        "lower",
        "upper",
        "patients",
        "definition",
        "caveats",
    )
