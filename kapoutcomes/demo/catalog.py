"""CATALOG.md for sample_data/: what each file is, how it was made, its deliberate mess and
expected row accounting, and how the cohort is simulated (with the truth it drew)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import instruments
from kapoutcomes.demo import facts, params
from kapoutcomes.demo.files import Entry
from kapoutcomes.demo.sample import SampleCohort

TABLE_WHAT = {
    "patients": "one row per patient: clinic, condition, screening flags, birth year, age band",
    "sessions": "one row per contact: screening, induction, maintenance, booster, preparation, "
    "integration, psychotherapy; dose, weight, vitals before/after, cost",
    "assessments": "long format: pain NRS, PHQ-9 (totals and item 9 answers), GAD-7 at "
    "baseline, before/after dose and at follow-ups",
    "opioids": "opioid prescriptions with daily MME (CDC 2022), tapering as stop + new row",
    "adverse_events": "adverse events in the controlled vocabulary, linked to sessions",
}
MAPPINGS_NOTE = (
    "`sample_data/mappings/` is not generated: it holds hand-written importer mapping files for "
    "the exports above (which column or code means what). Regenerating the sample leaves it "
    "untouched."
)


def catalog_markdown(cohort: SampleCohort, entries: list[Entry]) -> str:
    made = (
        f"`kapoutcomes sample --seed {cohort.seed} --patients {cohort.patients}` "
        f"(kapoutcomes.demo.generator.generate(seed={cohort.seed}, patients={cohort.patients}))"
    )
    lines = [
        "# Sample data catalog",
        "",
        "Generated file: do not edit by hand. Regenerate with",
        f"{made}; the same seed and patient count give byte-identical files.",
        "",
        "Everything here is synthetic. Names, dates of birth, phone numbers, addresses and SSNs "
        "in the exports are fake (555-01xx phones, 9xx SSNs) and exist only to test "
        "de-identification. Demo MRNs (DEMO-000001 ...) pseudonymise with the public demo key "
        "`privacy.DEMO_SECRET` to the patient ids used in `demo/`, so the wide and long exports "
        "can be checked against the canonical tables.",
        "",
        "| file | what | rows | encoding | delimiter |",
        "|---|---|---|---|---|",
    ]
    for e in entries:
        lines.append(f"| `{e.path}` | {e.what} | {e.rows:,} | {e.encoding} | {e.delimiter} |")
    lines.append("")
    for e in entries:
        lines += [f"## `{e.path}`", "", e.what + ".", "", f"- made by: {made}"]
        lines += [
            f"- rows (excluding the header): {e.rows}",
            f"- encoding: {e.encoding}",
            f"- delimiter: {e.delimiter}",
        ]
        if e.mess:
            lines += ["- deliberate mess:"] + [f"  - {m}" for m in e.mess]
        if e.counts:
            lines += ["- expected row accounting (row numbers count the header as row 1):"]
            lines += [f"  - {k}: {v}" for k, v in e.counts.items()]
        lines.append("")
    lines += (
        ["## How the cohort is simulated", ""] + [f"- {m}" for m in simulation_notes(cohort)] + [""]
    )
    lines += ["## sample_data/mappings/", "", MAPPINGS_NOTE, ""]
    return "\n".join(lines)


def simulation_notes(cohort: SampleCohort) -> list[str]:
    """What the generator assumes, in words, with the figures the generated tables show (each
    computed by ``facts.cohort_facts`` here, never typed) and the truth it drew."""
    f = facts.cohort_facts(cohort)
    return [
        _calendar_note(f.calendar),
        "clinics: " + "; ".join(_clinic_note(c) for c in f.clinics),
        _course_note(f.course),
        _response_note(f.response),
        _durability_note(f.response, f.course),
        _phq9_note(f.response, f.scores),
        _safety_note(f.safety),
        _opioid_note(f.opioids),
        "the exact draws: `kapoutcomes.demo.generator.generate(seed, patients).truth` (one row per "
        "patient: response class, maximum relief, durability, depression effect)",
    ]


def _calendar_note(c: facts.CalendarFacts) -> str:
    end = params.ANCHOR + dt.timedelta(days=params.END_DAY)
    return (
        f"referrals from {params.ANCHOR.isoformat()} over {params.REFERRAL_DAYS} days (first "
        f"{c.first_referral.isoformat()}, last {c.last_referral.isoformat()}); latest date in the "
        f"data {c.last_date.isoformat()} (nothing after day {params.END_DAY}, {end.isoformat()}); "
        f"clinic visits on weekdays (sessions on a weekend: {c.weekend_sessions}), follow-up "
        "questionnaires any day"
    )


def _clinic_note(c: facts.ClinicFacts) -> str:
    cost = "charges exported" if c.cost_exported else "charges not exported"
    return f"{c.clinic}: {c.patients} patients, KAP care for {c.kap}, {cost}"


def _course_note(c: facts.CourseFacts) -> str:
    lo, hi = c.crps_iv_hours
    crps = f" (CRPS up to {c.most_induction_crps}, IV infusions of {lo:g}-{hi:g} h)"
    return (
        f"induction: up to {c.most_induction} infusions{crps if c.most_induction_crps else ''} "
        f"on weekdays; {c.stopped_after_first} dosed patients "
        f"stopped after the first infusion and {c.fewer_than_six} had fewer than six (Osmind "
        f"real-world data: ~20% and ~50%); {c.never_dosed} patients never dosed (screen "
        "failures: psychosis, raised intracranial pressure, some cardiovascular disease, or "
        "declined)"
    )


def _response_note(r: facts.ResponseFacts) -> str:
    classes = ", ".join(f"{c} {n}" for c, n in r.classes.items())
    relief = ", ".join(f"{lo:.0%}-{hi:.0%} ({c})" for c, (lo, hi) in r.relief.items())
    return (
        f"hidden response class per patient (truth): {classes}; maximum pain relief {relief}, "
        "reached over the induction series"
    )


def _durability_note(r: facts.ResponseFacts, c: facts.CourseFacts) -> str:
    return (
        f"relief holds for a per-patient durability (median {r.median_durability_days:.0f} days, "
        "log-normal; Murrough 2013: median 18 days to relapse) and then fades "
        f"({params.RELIEF_FADE_DAYS:g}-day time constant); after induction "
        f"{c.maintenance_sessions} scheduled maintenance and {c.booster_sessions} unscheduled "
        "booster infusions (a booster when relief wanes before the next scheduled one), a median "
        f"{c.median_gap_after_induction:.0f} days after the dose before"
    )


def _phq9_note(r: facts.ResponseFacts, s: facts.ScoreFacts) -> str:
    lo, hi = params.DEPRESSION_EFFECT_LARGE
    return (
        f"PHQ-9 follows {params.PAIN_RELIEF_IN_PHQ9:.0%} of the pain relief plus a depression "
        f"effect of its own, large ({lo:.0%}-{hi:.0%} of the baseline score) in "
        f"{r.large_depression_effect} patients with comorbid depression and lasting "
        f"{params.DEPRESSION_DURABILITY_FACTOR:g} times as long as pain relief, so it moves with "
        f"and without pain; PHQ-9 item 9 beside {s.item9_beside} PHQ-9 totals, above 0 in "
        f"{s.item9_above_0} answers, more often at high totals"
    )


def _safety_note(s: facts.SafetyFacts) -> str:
    rates = ", ".join(f"{e} {n.rate:.1%} ({n.n})" for e, n in s.event_rates)
    sessions = s.event_rates[0][1].of if s.event_rates else 0
    return (
        f"adverse events per dosing session ({sessions} sessions): {rates} ...; {s.first_week} "
        "dosed patients reported one in their first week of dosing (OKAPI: 50% at week 1); "
        f"raised BP recorded after large rises; {s.serious} serious events, at a patient's last "
        "dose (they end treatment) or, for misuse, between visits"
    )


def _opioid_note(o: facts.OpioidFacts) -> str:
    return (
        f"opioids: {o.on_opioid_at_referral} patients on an opioid at referral, {o.on_two.n} of "
        f"them ({o.on_two.rate:.0%}) on two or more; a prescription stopped after induction for {o.responders_stopped} "
        "responders on one (tapering: often a lower-dose row follows); buprenorphine for "
        f"{o.buprenorphine} patients (no MME factor)"
    )


def table_counts(table: str, frame: pl.DataFrame) -> dict[str, int | str]:
    if table == "patients":
        return {
            "patients": frame.height,
            **{f"clinic {c}": int((frame.get_column("clinic") == c).sum()) for c in params.CLINICS},
        }
    if table == "sessions":
        return {
            f"{t} sessions": int((frame.get_column("session_type") == t).sum())
            for t in tables.SESSION_TYPES
        }
    if table == "assessments":
        item9 = frame.filter(pl.col("item") == instruments.PHQ9_ITEM9)
        return {
            "pain_nrs rows": int((frame.get_column("instrument") == "pain_nrs").sum()),
            "phq9 totals": int(
                (
                    (frame.get_column("instrument") == "phq9") & frame.get_column("item").is_null()
                ).sum()
            ),
            "phq9 item 9 answers": item9.height,
            "phq9 item 9 answers above 0": int((item9.get_column("score") > 0).sum()),
            "gad7 rows": int((frame.get_column("instrument") == "gad7").sum()),
        }
    if table == "opioids":
        return {
            "rows": frame.height,
            "rows without MME (buprenorphine)": int(frame.get_column("daily_mme").is_null().sum()),
            "ongoing (no stop date)": int(frame.get_column("stop_date").is_null().sum()),
        }
    return {
        "events": frame.height,
        "serious": int(frame.get_column("serious").sum()),
        "not linked to a session": int(frame.get_column("session_id").is_null().sum()),
    }
