"""CATALOG.md for sample_data/: what each file is, how it was made, its deliberate mess and
expected row accounting, and how the cohort is simulated (with the truth it drew)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import instruments
from kapoutcomes.demo import params
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
    """What the generator assumes, in words, with the truth it drew (for checking analytics)."""
    truth = cohort.truth
    classes = ", ".join(
        f"{c} {int((truth.get_column('response_class') == c).sum())}"
        for c in params.RESPONSE_CLASSES
    )
    dur = truth.get_column("durability_days").median()
    return [
        f"referrals from {params.ANCHOR.isoformat()} over {params.REFERRAL_DAYS} days; nothing "
        f"dated after day {params.END_DAY} ({params.ANCHOR + dt.timedelta(days=params.END_DAY)})"
        "; clinic visits on weekdays, follow-up questionnaires any day",
        "clinics: "
        + "; ".join(
            f"{c} ({share:.0%} of patients, KAP {kap:.0%}, cost {'exported' if cost else 'not exported'})"
            for c, share, kap, cost in zip(
                params.CLINICS,
                params.CLINIC_SHARE,
                params.KAP_SHARE,
                params.CLINIC_HAS_COST,
                strict=True,
            )
        ),
        "induction: 4-8 infusions (CRPS 5-10, 2-4 h IV) on weekdays, daily or 2-3 a week; "
        "about 20% stop after the first infusion and about half never reach six (Osmind "
        "real-world data); screen failures (psychosis, raised intracranial pressure, some "
        "cardiovascular disease) get no dose",
        f"hidden response class per patient (truth): {classes}; maximum pain relief 38-75% "
        "(responder), 15-32% (partial), 0-10% (non-responder), reached over the induction series",
        f"relief holds for a per-patient durability (median {dur:.0f} days, log-normal; Murrough "
        "2013: median 18 days to relapse) and then fades (14-day time constant); after "
        "induction a scheduled maintenance infusion every 24-49 days, or an unscheduled "
        "booster when relief wanes first",
        "PHQ-9 follows part of the pain relief plus a depression effect of its own (larger in "
        "about two thirds of the depressed), so it moves with and without pain; PHQ-9 item 9 "
        "beside about half the totals, above 0 rarely and more often at high totals",
        "adverse events per dosing session: "
        + ", ".join(f"{e[0]} {e[1]:.1%}" for e in params.ADVERSE_EVENT_RATES[:6])
        + " ...; raised BP recorded after large rises; serious events only at a patient's "
        "last dose (they end treatment)",
        "opioids: about 42% on an opioid at referral (12% on two); tapering after induction in "
        "about 45% of responders; buprenorphine for about 0.4% of patients (at least one)",
        "the exact draws: `kapoutcomes.demo.generator.generate(seed, patients).truth` (one row per "
        "patient: response class, maximum relief, durability, depression effect)",
    ]


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
