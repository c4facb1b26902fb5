"""Riverside's messy exports of the demo cohort: (a) the wide per-visit sheet (semicolon,
Windows-1252, US dates, free-text side effects) and (d) the tab-delimited medication list with
sigs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import params
from kapoutcomes.demo.facts import Share
from kapoutcomes.demo.files import EXPORT_PATIENTS, Entry, ExportRows, clinic_patients, csv_text
from kapoutcomes.demo.sample import SampleCohort
from kapoutcomes.demo.synthea_export import OTHER_MEDICATIONS

WIDE_HEADER = [
    " MRN", "Patient Name ", "dob", "Phone ", "Address", "SSN", "Visit Date", "visit time",
    "VISIT TYPE", "Route", "Dose", "Weight", "Pain Before", "pain after ", "PHQ-9 Score",
    " BP (pre)", "BP (post)", "Pulse", "Side Effects", "Charge", "Provider",
]  # fmt: skip
VISIT_WORDS = {
    "screening": ("Consult/Screening", "New Patient Screening"),
    "induction": ("Ketamine Infusion - Induction #{k}", "Induction {k}"),
    "maintenance": ("Maintenance Infusion", "Maint. infusion"),
    "booster": ("Booster", "Booster infusion (unscheduled)"),
}
ROUTE_WORDS = {
    "IV": ("IV", "I.V.", "intravenous"),
    "IM": ("IM", "intramuscular"),
    "intranasal": ("Intranasal (Spravato)", "IN"),
    "sublingual": ("SL troche", "sublingual"),
    "oral": ("PO", "oral"),
}
EFFECT_WORDS = {
    "dissociation": ("felt floaty", "dissociation", "out of body"),
    "nausea_vomiting": ("nausea", "nauseous", "vomited x1"),
    "dizziness": ("dizzy", "lightheaded"),
    "sedation": ("drowsy", "sleepy after"),
    "raised_blood_pressure": ("BP up", "elevated BP"),
    "raised_heart_rate": ("HR up",),
    "headache": ("headache", "HA"),
    "anxiety_panic": ("anxious", "panic at onset"),
    "hallucinations": ("saw colours",),
    "vivid_dreams": ("vivid dreams",),
    "visual_disturbance": ("blurry vision",),
    "memory_effects": ("foggy memory",),
    "urinary_symptoms": ("urinary frequency",),
    "psychosis": ("acute psychotic sx - transferred to ED",),
    "hypertensive_crisis": ("BP crisis, infusion stopped",),
    "respiratory_depression": ("resp. depression, O2 given",),
}
MISSING = ("N/A", "NA", "--", "declined", "")


def hash_mrn(mrn: str) -> int:
    """A stable small number per MRN (not Python's salted hash)."""
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(mrn))


def us_date(d: dt.date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


def session_scores(cohort: SampleCohort) -> pl.DataFrame:
    """Per session: pain before / after dose, PHQ-9 total and the side effects."""
    a = cohort.tables["assessments"].filter(pl.col("session_id").is_not_null())
    pain_before = a.filter(
        (pl.col("instrument") == "pain_nrs") & pl.col("timing").is_in(["baseline", "before_dose"])
    ).select("session_id", pain_before="score")
    pain_after = a.filter(
        (pl.col("instrument") == "pain_nrs") & (pl.col("timing") == "after_dose")
    ).select("session_id", pain_after="score")
    phq = a.filter((pl.col("instrument") == "phq9") & pl.col("item").is_null()).select(
        "session_id", phq9="score"
    )
    ae = (
        cohort.tables["adverse_events"]
        .filter(pl.col("session_id").is_not_null())
        .sort("onset_at", "event", maintain_order=True)
        .group_by("session_id", maintain_order=True)
        .agg(events=pl.col("event"), texts=pl.col("event_text"))
    )
    s = cohort.tables["sessions"]
    return (
        s.join(pain_before, on="session_id", how="left", maintain_order="left")
        .join(pain_after, on="session_id", how="left", maintain_order="left")
        .join(phq, on="session_id", how="left", maintain_order="left")
        .join(ae, on="session_id", how="left", maintain_order="left")
        .sort("patient_id", "started_at", "session_id", maintain_order=True)
    )


#: what is deliberately messy in the wide export (CATALOG.md)
_WIDE_MESS = [
    "headers with stray spaces and odd case (' MRN', 'Patient Name ', 'dob', "
    "'pain after ', ' BP (pre)')",
    "synthetic direct identifiers for de-identification testing: patient name "
    "('Last, First' or 'First Last', accented: José, Zoë, Müller, Åberg), DOB, phone "
    "(555-01xx fiction range), address, SSN (9xx area numbers, never issued)",
    "dates as US m/d/Y, times as '9:30 AM' in a separate column",
    "MRNs mostly DEMO-000123; a few lower-case with spaces or ' - ' (normalise_mrn matches them)",
    "visit type as words: 'Ketamine Infusion - Induction #3', 'Induction 3', "
    "'Maint. infusion', 'Booster infusion (unscheduled)', 'Consult/Screening'",
    "route as 'IV', 'I.V.', 'intravenous', 'IM', 'Intranasal (Spravato)', 'IN', 'SL troche', 'PO'",
    "dose as '35 mg', '35mg' or '35 MG'; weight in lbs ('172 lbs') except some in kg",
    "pain as '7/10', '7 out of 10' or '7'; missing as 'N/A', 'NA', '--', 'declined' or blank",
    "BP as '142/91'; side effects as free text ('nausea, felt floaty'; 'none', "
    "'denies' or blank without any)",
    "charges as '$1,150.00'; blank for a few visits",
    "only screening and dosing visits: KAP preparation, integration and psychotherapy "
    "sessions are not in this export, and there is no care-model column ({kap} of these "
    "patients are KAP in demo/)",
    "screening rows carry the baseline pain and PHQ-9 in the 'Pain Before' and 'PHQ-9 "
    "Score' columns; 'pain after ' is blank on them",
    "impossible values: pain 11, PHQ-9 31, negative dose, a visit date before the "
    "birth year (the year typed 100 years early: 1924 for 2024), one exact duplicate row",
]


def _score_words(x: float | None, style: float) -> str:
    """A pain score as a person typed it ('7/10', '7 out of 10', '7') or a missing marker."""
    if x is None:
        return MISSING[int(style * 5)]
    x = int(x)
    return (f"{x}/10", f"{x} out of 10", f"{x}")[int(style * 3)]


def _pressure(v: dict, when: str) -> str:
    sbp, dbp = v[f"bp_systolic_{when}"], v[f"bp_diastolic_{when}"]
    return f"{sbp}/{dbp}" if sbp is not None else ""


def _side_effects(v: dict, r: np.ndarray) -> str:
    effects = []
    for ev, text in zip(v["events"] or [], v["texts"] or [], strict=True):
        opts = EFFECT_WORDS.get(ev)
        effects.append(text if opts is None or (text and r[8] < 0.5) else opts[0])
    return ", ".join(effects) if effects else ("none", "denies", "")[int(r[9] * 3)]


def _dose_and_weight(v: dict, r: np.ndarray, counts: dict[str, int]) -> tuple[str, str, str]:
    """Route, dose and weight as written (weight mostly in lbs; kg counted)."""
    route = ""
    if v["route"]:
        opts = ROUTE_WORDS[v["route"]]
        route = opts[int(r[3] * len(opts))]
    dose = ""
    if v["dose_mg"] is not None:
        unit = ("mg", " mg", " MG")[int(r[4] * 3)]
        dose = f"{v['dose_mg']:g}{unit}"
    weight = ""
    if v["weight_kg"] is not None:
        if r[5] < 0.1:
            weight = f"{v['weight_kg']:.1f} kg"
            counts["weight_in_kg_not_lb"] += 1
        else:
            weight = f"{v['weight_kg'] * 2.20462:.0f} lbs"
    return route, dose, weight


def _visit_row(v: dict, r: np.ndarray, induction_no: int, counts: dict[str, int]) -> list:
    """One visit as Riverside's sheet writes it, from its 12 random draws ``r``."""
    kind = v["session_type"]
    mrn = v["mrn"]
    if r[0] < 0.04:
        mrn = f" {mrn.lower()} " if r[0] < 0.02 else mrn.replace("-", " - ")
        counts["mrn_case_or_space_variants"] += 1
    comma_style = (hash_mrn(v["mrn"]) % 5 != 0) != (r[1] < 0.03)  # per patient, mostly
    name = f"{v['last']}, {v['first']}" if comma_style else f"{v['first']} {v['last']}"
    when = v["started_at"]
    words = VISIT_WORDS[kind][int(r[2] * len(VISIT_WORDS[kind]))]
    route, dose, weight = _dose_and_weight(v, r, counts)
    pain_before = _score_words(v["pain_before"], r[6])
    pain_after = _score_words(v["pain_after"], r[7]) if kind != "screening" else ""
    phq = "" if v["phq9"] is None else f"{int(v['phq9'])}"
    pulse = "" if v["heart_rate_before"] is None else str(v["heart_rate_before"])
    charge = "" if v["cost_usd"] is None else f"${v['cost_usd']:,.2f}"
    return [
        mrn, name, us_date(v["birth_date"]), v["phone"],
        f"{v['street']}, {v['city']}, {v['state']} {v['zip']}", v["ssn"],
        us_date(when), when.strftime("%I:%M %p").lstrip("0"), words.format(k=induction_no),
        route, dose, weight, pain_before, pain_after, phq, _pressure(v, "before"),
        _pressure(v, "after"), pulse, _side_effects(v, r), charge, v["clinician"] or "",
    ]  # fmt: skip


def _add_impossible_values(
    rng: np.random.Generator, rows: list[list], counts: dict[str, int | str]
) -> None:
    """Deliberate impossible values, at positions drawn from the seed; the catalog lists the
    row numbers as a spreadsheet shows them (the header is row 1), as they are in the file."""
    n = len(rows)
    picks = [int(i) for i in rng.choice(n, size=9, replace=False)]
    j = picks[8]

    def line(i: int) -> int:
        return i + 2 + (i > j)

    for i in picks[:3]:
        rows[i][12] = "11/10" if i % 2 else "11"
    for i in picks[3:5]:
        rows[i][14] = "31"
    for i in picks[5:7]:
        rows[i][10] = f"-{rows[i][10] or '35 mg'}"
    i = picks[7]
    m, d, y = str(rows[i][6]).split("/")
    rows[i][6] = f"{m}/{d}/{int(y) - 100}"  # 1924 typed for 2024: before the birth year
    rows.insert(j + 1, list(rows[j]))  # an exact duplicate visit row
    counts["pain_11"] = 3
    counts["pain_11 rows"] = ", ".join(str(line(i)) for i in sorted(picks[:3]))
    counts["phq9_31"] = 2
    counts["phq9_31 rows"] = ", ".join(str(line(i)) for i in sorted(picks[3:5]))
    counts["negative_dose"] = 2
    counts["negative_dose rows"] = ", ".join(str(line(i)) for i in sorted(picks[5:7]))
    counts["date_before_birth_year"] = 1
    counts["date_before_birth_year rows"] = str(line(picks[7]))
    counts["rows_with_impossible_values"] = 8
    counts["duplicate_rows"] = 1
    counts["duplicate_rows rows"] = f"{j + 3} repeats {j + 2}"


def _wide_rows(rng: np.random.Generator, visits: pl.DataFrame) -> ExportRows:
    mess = dict.fromkeys(("mrn_case_or_space_variants", "weight_in_kg_not_lb"), 0)
    rows: list[list] = []
    k_induction: dict[str, int] = {}
    for v in visits.iter_rows(named=True):
        r = rng.random(12)
        pid = v["patient_id"]
        k_induction[pid] = k_induction.get(pid, 0) + (v["session_type"] == "induction")
        rows.append(_visit_row(v, r, k_induction[pid], mess))
    counts: dict[str, int | str] = {**mess, "duplicate_rows": 0}
    if len(rows) >= 20:
        _add_impossible_values(rng, rows, counts)
    counts["missing_markers"] = sum(r[c] in MISSING[:4] for r in rows for c in (12, 13))
    counts["blank_pain_before"] = sum(r[12] == "" for r in rows)
    counts["distinct_visits"] = len(rows) - int(counts["duplicate_rows"])
    for kind in ("screening", *tables.DOSING_TYPES):
        counts[f"{kind}_visits"] = int((visits.get_column("session_type") == kind).sum())
    return ExportRows(rows, counts)


def _kap_patients(cohort: SampleCohort, patients: list[str]) -> Share:
    """The exported patients with a KAP session in the canonical tables."""
    s = cohort.tables["sessions"].filter(pl.col("patient_id").is_in(patients))
    kap = s.filter(pl.col("care_model") == "KAP").get_column("patient_id").n_unique()
    return Share(kap, len(patients))


def wide_export(cohort: SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 101])
    clinic = params.CLINICS[0]
    pts = clinic_patients(cohort, clinic)
    visits = session_scores(cohort).filter(
        pl.col("patient_id").is_in(pts)
        & pl.col("session_type").is_in(("screening", *tables.DOSING_TYPES))
    )
    visits = visits.join(ids, on="patient_id", maintain_order="left")
    visits = visits.sort("mrn", "started_at", "session_id", maintain_order=True)
    out = _wide_rows(rng, visits)
    text = csv_text(WIDE_HEADER, out.rows, ";", "\r\n")
    entry = Entry(
        path="exports/riverside_visits.csv",
        what=(
            f"Wide per-visit export from {clinic}: one row per screening or dosing visit for "
            f"{len(pts)} patients (first {EXPORT_PATIENTS} by MRN), with direct identifiers"
        ),
        rows=len(out.rows),
        encoding="Windows-1252 (cp1252), CRLF line endings",
        delimiter="; (semicolon)",
        mess=[m.replace("{kap}", str(_kap_patients(cohort, pts))) for m in _WIDE_MESS],
        counts=out.counts,
    )
    return text, entry


MEDLIST_HEADER = ["MRN", "Medication", "Sig", "Qty", "Start Date", "End Date", "Prescriber"]
SIG = {
    1: ("1 tab PO daily", "1 PO QD"),
    2: ("1 tab PO BID", "1 tab PO q12h"),
    3: ("1 tab PO TID", "1 tab PO q8h prn pain"),
    4: ("1 tab PO QID", "1 tab PO q6h prn"),
    6: ("1 tab PO q4h prn pain", "1 tab q4h"),
}


def medication_list(cohort: SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 107])
    clinic = params.CLINICS[0]
    pts = clinic_patients(cohort, clinic)
    op = (
        cohort.tables["opioids"]
        .filter(pl.col("patient_id").is_in(pts))
        .join(ids.select("patient_id", "mrn"), on="patient_id")
        .sort("mrn", "start_date", "ingredient", "daily_dose", maintain_order=True)
    )

    def day(d: dt.date | None) -> str:
        return "" if d is None else d.strftime("%d-%b-%Y")

    rows, counts = [], {"opioid_rows": op.height, "non_opioid_rows": 0, "ongoing_rows": 0}
    for v in op.iter_rows(named=True):
        r = rng.random(2)
        if v["ingredient"] == "fentanyl":
            sig = "apply 1 patch q72h"
        else:
            freq = int(v["frequency_per_day"])
            sig = SIG[freq][int(r[0] * 2)] if freq in SIG else f"{freq} tabs daily"
        qty = 10 if v["ingredient"] == "fentanyl" else int((v["frequency_per_day"] or 1) * 30)
        counts["ongoing_rows"] += v["stop_date"] is None
        rows.append([v["mrn"], v["description"], sig, qty, day(v["start_date"]), day(v["stop_date"]), f"RPC-0{1 + int(r[1] * 4)}"])  # fmt: skip
    people = ids.filter(pl.col("patient_id").is_in(pts)).sort("mrn")
    for v in people.iter_rows(named=True):
        for _code, desc, _reason in OTHER_MEDICATIONS[:4]:
            r = rng.random(2)
            if r[0] > 0.2:
                continue
            rows.append([v["mrn"], desc, "2 tabs PO TID prn" if r[1] < 0.5 else "1 PO BID", 60, "01-Jan-2024", "", "outside"])  # fmt: skip
            counts["non_opioid_rows"] += 1
    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    entry = Entry(
        path="exports/riverside_medications.tsv",
        what=(
            f"Tab-delimited medication list from {clinic} with prescriptions as sigs, for "
            f"{len(pts)} patients (first {EXPORT_PATIENTS} by MRN)"
        ),
        rows=len(rows),
        encoding="UTF-8, LF line endings",
        delimiter="tab",
        mess=[
            "daily dose only as a sig: '1 tab PO q6h prn' (4/day), 'BID', 'TID', 'QD', and "
            "'apply 1 patch q72h' for fentanyl (strength in the product text, 0.025 MG/HR = "
            "25 mcg/hr)",
            "dates as 02-Mar-2024; End Date blank while ongoing",
            "non-opioid medications to skip (ibuprofen, naproxen, acetaminophen, gabapentin)",
            "buprenorphine where present (no MME factor: flag, don't drop)",
        ],
        counts=counts,
    )
    return csv_text(MEDLIST_HEADER, rows, "\t", "\n"), entry
