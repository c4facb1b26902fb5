"""Writing the demo cohort: canonical CSVs, messy EHR-style exports and a catalog.

Every file is deterministic for (seed, patients): rows are sorted, floats are written with a
fixed number of decimals, dates are ISO (or the export's own style) and nothing depends on the
machine or the clock. The messy exports are made from the same cohort as the canonical tables
(one clinic each, capped at ``EXPORT_PATIENTS`` patients) so an importer's output can be
compared with the truth; their deliberate mess is counted in ``CATALOG.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from kapoutcomes import instruments, sample, sample_params, tables

EXPORT_PATIENTS = 150
CLINIC_TZ = "America/New_York"
#: Decimals written for each float column of the canonical tables.
DECIMALS = {
    "sessions": {"dose_mg": 1, "dose_mg_per_kg": 3, "weight_kg": 1, "cost_usd": 2},
    "assessments": {"score": 1},
    "opioids": {
        "strength": 3,
        "frequency_per_day": 2,
        "daily_dose": 3,
        "mme_factor": 3,
        "daily_mme": 4,
    },
}
ISO_TIME = "%Y-%m-%dT%H:%M:%S"


@dataclass
class Entry:
    """One catalog entry: a written file and what it deliberately contains."""

    path: str
    what: str
    rows: int
    encoding: str
    delimiter: str
    mess: list[str] = field(default_factory=list)
    counts: dict[str, int | str] = field(default_factory=dict)


def _fixed(col: str, decimals: int) -> pl.Expr:
    """A float column as text with exactly ``decimals`` decimals (vectorised, no locale)."""
    scale = 10**decimals
    units = (pl.col(col) * scale).round(0).cast(pl.Int64)
    sign = pl.when(units < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (units.abs() // scale).cast(pl.String)
    if decimals == 0:
        return pl.format("{}{}", sign, whole).alias(col)
    frac = (units.abs() % scale).cast(pl.String).str.zfill(decimals)
    return pl.format("{}{}.{}", sign, whole, frac).alias(col)


def canonical_csv(table: str, frame: pl.DataFrame) -> str:
    """The canonical CSV text of a table: fixed decimals, ISO dates, empty for null."""
    dec = DECIMALS.get(table, {})
    out = frame.select(tables.columns(table)).with_columns(
        _fixed(c, d) for c, d in dec.items() if c in frame.columns
    )
    return out.write_csv(
        datetime_format=ISO_TIME, date_format="%Y-%m-%d", line_terminator="\n", null_value=""
    )


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)
    return path


def _csv_text(header: list[str], rows: list[list[object]], delimiter: str, newline: str) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


# --- synthetic identities (obviously fake; for de-identification testing) -------------------

FIRST_F = (
    "Zoë", "Renée", "Chloé", "María", "Sofía", "Inés", "Mónica", "Noémie", "Jennifer",
    "Patricia", "Linda", "Susan", "Karen", "Nancy", "Emily", "Olivia", "Grace", "Hannah",
    "Lucía", "Ana", "Beatriz", "Amélie",
)  # fmt: skip
FIRST_M = (
    "José", "François", "André", "Jürgen", "Søren", "Ramón", "Héctor", "Raúl", "James",
    "Robert", "Michael", "David", "William", "Thomas", "Daniel", "Matthew", "Andrew",
    "Kevin", "Luis", "Björn", "Joël",
)  # fmt: skip
LAST = (
    "García", "Martínez", "Müller", "O'Brien", "Nguyen", "Smith", "Johnson", "Williams",
    "Brown", "Jones", "Miller", "Davis", "Rodríguez", "Hernández", "López", "González",
    "Wilson", "Anderson", "Taylor", "Moore", "Jackson", "Lee", "Pérez", "Thompson",
    "White", "Sánchez", "Clark", "Walker", "Young", "King", "Wright", "Núñez", "Peña",
    "Dubois", "Lefèvre", "Kowalski", "Schröder", "Åberg", "Smith-Jones", "Østergaard",
)  # fmt: skip
STREETS = ("Maple", "Oak", "Elm", "Cedar", "Pine", "Birch", "Willow", "Lakeview", "Hillcrest")
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Dr", "Ct")
PLACES = (  # fictional addresses in real states; ZIP codes are 00000-range fakes
    ("Springfield", "IL", "Illinois", "Sangamon County", "17167"),
    ("Riverton", "IL", "Illinois", "Cook County", "17031"),
    ("Lakeview", "MI", "Michigan", "Wayne County", "26163"),
    ("Fairview", "OH", "Ohio", "Franklin County", "39049"),
    ("Greenville", "MA", "Massachusetts", "Hampden County", "25013"),
)


def identities(cohort: sample.SampleCohort) -> pl.DataFrame:
    """One fake identity per patient (name, DOB, phone, address, SSN), keyed by patient_id."""
    truth = cohort.truth.sort("mrn")
    n = truth.height
    rng = np.random.default_rng([cohort.seed, 2])
    sex = cohort.tables["patients"].join(truth.select("patient_id", "mrn"), on="patient_id")
    sex = sex.sort("mrn").get_column("sex").to_numpy()
    first = np.where(
        sex == "male",
        np.asarray(FIRST_M, dtype=object)[rng.integers(0, len(FIRST_M), n)],
        np.asarray(FIRST_F, dtype=object)[rng.integers(0, len(FIRST_F), n)],
    )
    last = np.asarray(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    place = rng.integers(0, len(PLACES), n)
    number = rng.integers(10, 9999, n)
    street = rng.integers(0, len(STREETS), n)
    kind = rng.integers(0, len(STREET_KINDS), n)
    return pl.DataFrame(
        {
            "patient_id": truth["patient_id"],
            "mrn": truth["mrn"],
            "birth_date": truth["birth_date"],
            "sex": sex.tolist(),
            "first": first.tolist(),
            "last": last.tolist(),
            # 555-01xx is reserved for fiction; area codes 900-999 are never issued in SSNs.
            "phone": [f"({a}) 555-01{b:02d}" for a, b in zip(rng.integers(201, 990, n), rng.integers(0, 100, n), strict=True)],
            "ssn": [f"9{a:02d}-{b:02d}-{c:04d}" for a, b, c in zip(rng.integers(0, 100, n), rng.integers(10, 100, n), rng.integers(1000, 10000, n), strict=True)],
            "street": [f"{a} {STREETS[b]} {STREET_KINDS[c]}" for a, b, c in zip(number, street, kind, strict=True)],
            "city": [PLACES[i][0] for i in place],
            "state": [PLACES[i][1] for i in place],
            "state_name": [PLACES[i][2] for i in place],
            "county": [PLACES[i][3] for i in place],
            "fips": [PLACES[i][4] for i in place],
            "zip": [f"0{z:04d}" for z in rng.integers(1000, 9999, n)],
        }
    )  # fmt: skip


def _clinic_patients(cohort: sample.SampleCohort, clinic: str) -> list[str]:
    pts = cohort.tables["patients"].filter(pl.col("clinic") == clinic).get_column("patient_id")
    mrns = sorted(cohort.mrns[p] for p in pts.to_list())[:EXPORT_PATIENTS]
    back = {m: p for p, m in cohort.mrns.items()}
    return [back[m] for m in mrns]


def _session_scores(cohort: sample.SampleCohort) -> pl.DataFrame:
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


# --- (a) wide per-visit export: semicolon, Windows-1252 ------------------------------------

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


def _us_date(d: dt.date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


def _wide(cohort: sample.SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 101])
    clinic = sample_params.CLINICS[0]
    pts = _clinic_patients(cohort, clinic)
    visits = _session_scores(cohort).filter(
        pl.col("patient_id").is_in(pts)
        & pl.col("session_type").is_in(("screening", *tables.DOSING_TYPES))
    )
    visits = visits.join(ids, on="patient_id", maintain_order="left")
    visits = visits.sort("mrn", "started_at", "session_id", maintain_order=True)
    counts: dict[str, int | str] = {
        "mrn_case_or_space_variants": 0, "weight_in_kg_not_lb": 0, "duplicate_rows": 0,
    }  # fmt: skip
    rows: list[list[object]] = []
    k_induction: dict[str, int] = {}
    for v in visits.iter_rows(named=True):
        r = rng.random(12)
        pid, kind = v["patient_id"], v["session_type"]
        mrn = v["mrn"]
        if r[0] < 0.04:
            mrn = f" {mrn.lower()} " if r[0] < 0.02 else mrn.replace("-", " - ")
            counts["mrn_case_or_space_variants"] += 1
        comma_style = (hash_mrn(v["mrn"]) % 5 != 0) != (r[1] < 0.03)  # per patient, mostly
        name = f"{v['last']}, {v['first']}" if comma_style else f"{v['first']} {v['last']}"
        when = v["started_at"]
        k_induction[pid] = k_induction.get(pid, 0) + (kind == "induction")
        words = VISIT_WORDS[kind][int(r[2] * len(VISIT_WORDS[kind]))]
        visit_type = words.format(k=k_induction[pid])
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

        def score(x, style: float) -> str:
            if x is None:
                return MISSING[int(style * 5)]
            x = int(x)
            return (f"{x}/10", f"{x} out of 10", f"{x}")[int(style * 3)]

        pain_before = score(v["pain_before"], r[6])
        pain_after = score(v["pain_after"], r[7]) if kind != "screening" else ""
        phq = "" if v["phq9"] is None else f"{int(v['phq9'])}"
        bp_pre = (
            f"{v['bp_systolic_before']}/{v['bp_diastolic_before']}"
            if v["bp_systolic_before"] is not None
            else ""
        )
        bp_post = (
            f"{v['bp_systolic_after']}/{v['bp_diastolic_after']}"
            if v["bp_systolic_after"] is not None
            else ""
        )
        pulse = "" if v["heart_rate_before"] is None else str(v["heart_rate_before"])
        effects = []
        for ev, text in zip(v["events"] or [], v["texts"] or [], strict=True):
            opts = EFFECT_WORDS.get(ev)
            effects.append(text if opts is None or (text and r[8] < 0.5) else opts[0])
        effect_text = ", ".join(effects) if effects else ("none", "denies", "")[int(r[9] * 3)]
        charge = "" if v["cost_usd"] is None else f"${v['cost_usd']:,.2f}"
        rows.append(
            [
                mrn, name, _us_date(v["birth_date"]), v["phone"],
                f"{v['street']}, {v['city']}, {v['state']} {v['zip']}", v["ssn"],
                _us_date(when), when.strftime("%I:%M %p").lstrip("0"), visit_type, route, dose,
                weight, pain_before, pain_after, phq, bp_pre, bp_post, pulse, effect_text, charge,
                v["clinician"] or "",
            ]
        )  # fmt: skip
    # Deliberate impossible values, at positions drawn from the seed; the catalog lists the
    # row numbers as a spreadsheet shows them (the header is row 1), as they are in the file.
    n = len(rows)
    if n >= 20:
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
    counts["missing_markers"] = sum(r[c] in MISSING[:4] for r in rows for c in (12, 13))
    counts["blank_pain_before"] = sum(r[12] == "" for r in rows)
    counts["distinct_visits"] = len(rows) - counts["duplicate_rows"]
    for kind in ("screening", *tables.DOSING_TYPES):
        counts[f"{kind}_visits"] = int((visits.get_column("session_type") == kind).sum())
    text = _csv_text(WIDE_HEADER, rows, ";", "\r\n")
    entry = Entry(
        path="exports/riverside_visits.csv",
        what=(
            f"Wide per-visit export from {clinic}: one row per screening or dosing visit for "
            f"{len(pts)} patients (first {EXPORT_PATIENTS} by MRN), with direct identifiers"
        ),
        rows=len(rows),
        encoding="Windows-1252 (cp1252), CRLF line endings",
        delimiter="; (semicolon)",
        mess=[
            "headers with stray spaces and odd case (' MRN', 'Patient Name ', 'dob', "
            "'pain after ', ' BP (pre)')",
            "synthetic direct identifiers for de-identification testing: patient name "
            "('Last, First' or 'First Last', accented: José, Zoë, Müller, Åberg), DOB, phone "
            "(555-01xx fiction range), address, SSN (9xx area numbers, never issued)",
            "dates as US m/d/Y, times as '9:30 AM' in a separate column",
            "MRNs mostly DEMO-000123; a few lower-case with spaces or ' - ' (normalise_mrn "
            "matches them)",
            "visit type as words: 'Ketamine Infusion - Induction #3', 'Induction 3', "
            "'Maint. infusion', 'Booster infusion (unscheduled)', 'Consult/Screening'",
            "route as 'IV', 'I.V.', 'intravenous', 'IM', 'Intranasal (Spravato)', 'IN', "
            "'SL troche', 'PO'",
            "dose as '35 mg', '35mg' or '35 MG'; weight in lbs ('172 lbs') except some in kg",
            "pain as '7/10', '7 out of 10' or '7'; missing as 'N/A', 'NA', '--', 'declined' "
            "or blank",
            "BP as '142/91'; side effects as free text ('nausea, felt floaty'; 'none', "
            "'denies' or blank without any)",
            "charges as '$1,150.00'; blank for a few visits",
            "only screening and dosing visits: KAP preparation, integration and psychotherapy "
            "sessions are not in this export, and there is no care-model column (about 15% of "
            "these patients are KAP in demo/)",
            "screening rows carry the baseline pain and PHQ-9 in the 'Pain Before' and 'PHQ-9 "
            "Score' columns; 'pain after ' is blank on them",
            "impossible values: pain 11, PHQ-9 31, negative dose, a visit date before the "
            "birth year (the year typed 100 years early: 1924 for 2024), one exact duplicate row",
        ],
        counts=counts,
    )
    return text, entry


# --- (b) long observation export: UTF-8 with BOM, comma ------------------------------------

LONG_HEADER = [
    "patient_mrn", "encounter_id", "observed_at", "loinc_code", "description", "value", "unit",
    "note",
]  # fmt: skip
#: code -> (description, unit). The first block maps to the canonical tables.
LOINC = {
    "72514-3": ("Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}"),
    "44261-6": ("Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", "{score}"),
    "44260-8": (
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        "{score}",
    ),
    "70274-6": (
        "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
        "{score}",
    ),
    "55758-7": ("Patient Health Questionnaire 2 item (PHQ-2) total score [Reported]", "{score}"),
    "8480-6": ("Systolic Blood Pressure", "mm[Hg]"),
    "8462-4": ("Diastolic Blood Pressure", "mm[Hg]"),
    "8867-4": ("Heart rate", "/min"),
    "59408-5": ("Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "29463-7": ("Body Weight", "kg"),
    # Not tracked by kapoutcomes: an importer skips these with a reason.
    "8302-2": ("Body Height", "cm"),
    "39156-5": ("Body mass index (BMI) [Ratio]", "kg/m2"),
    "2093-3": ("Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL"),
    "4548-4": ("Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
    "72166-2": ("Tobacco smoking status", ""),
}
UNTRACKED = ("8302-2", "39156-5", "2093-3", "4548-4", "72166-2")
TOTAL_LOINC = {code: inst.loinc for code, inst in instruments.INSTRUMENTS.items() if inst.loinc}


def _utc(frame: pl.DataFrame, col: str, out: str) -> pl.DataFrame:
    """Clinic-local naive times -> UTC text with a Z."""
    return frame.with_columns(
        pl.col(col)
        .dt.replace_time_zone(CLINIC_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias(out)
    )


def _observations(cohort: sample.SampleCohort, pts: list[str], seed_stream: int) -> pl.DataFrame:
    """Long rows (patient_id, session_id, at, code, value) for the given patients: assessments
    exactly as in the canonical table, vitals around each dose, and untracked codes."""
    rng = np.random.default_rng([cohort.seed, seed_stream])
    a = cohort.tables["assessments"].filter(pl.col("patient_id").is_in(pts))
    a = a.with_columns(
        code=pl.when(pl.col("item").is_null())
        .then(pl.col("instrument").replace_strict(TOTAL_LOINC, default=None))
        .when((pl.col("instrument") == "phq9") & (pl.col("item") == instruments.PHQ9_ITEM9))
        .then(pl.lit(instruments.PHQ9_ITEM9_LOINC)),
        value=pl.col("score").cast(pl.Int64).cast(pl.String),
    ).select("patient_id", "session_id", at="assessed_at", code="code", value="value")
    s = cohort.tables["sessions"].filter(pl.col("patient_id").is_in(pts))
    end = pl.col("started_at") + pl.duration(minutes=pl.col("infusion_minutes").fill_null(40) + 20)
    vit = []
    for col, code, when in (
        ("bp_systolic_before", "8480-6", "before"),
        ("bp_diastolic_before", "8462-4", "before"),
        ("heart_rate_before", "8867-4", "before"),
        ("spo2_before", "59408-5", "before"),
        ("weight_kg", "29463-7", "before"),
        ("bp_systolic_after", "8480-6", "after"),
        ("bp_diastolic_after", "8462-4", "after"),
        ("heart_rate_after", "8867-4", "after"),
        ("spo2_after", "59408-5", "after"),
    ):
        at = pl.col("started_at") - pl.duration(minutes=5) if when == "before" else end
        vit.append(
            s.filter(pl.col(col).is_not_null()).select(
                "patient_id",
                "session_id",
                at=at,
                code=pl.lit(code),
                value=pl.col(col).cast(pl.String),
            )
        )
    screening = s.filter(pl.col("session_type") == "screening").sort("patient_id")
    k = screening.height
    height_cm = np.clip(rng.normal(170, 9, k), 148, 198).round()
    weight = screening.get_column("weight_kg").fill_null(75.0).to_numpy()
    extra = [
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=4),
            code=pl.lit("8302-2"), value=pl.Series([f"{h:.0f}" for h in height_cm]),
        ),
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=4),
            code=pl.lit("39156-5"),
            value=pl.Series([f"{w / (h / 100) ** 2:.1f}" for w, h in zip(weight, height_cm, strict=True)]),
        ),
        screening.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(minutes=3),
            code=pl.lit("72166-2"),
            value=pl.Series(
                np.asarray(["Never smoked tobacco (finding)", "Former smoker (finding)", "Smokes tobacco daily (finding)"])[rng.choice(3, k, p=(0.6, 0.28, 0.12))].tolist(),
                dtype=pl.String,
            ),
        ),
    ]  # fmt: skip
    labs = screening.filter(pl.Series(rng.random(k) < 0.4))
    extra.append(
        labs.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(days=2, minutes=-30),
            code=pl.lit("2093-3"),
            value=pl.Series([f"{v:.0f}" for v in rng.normal(195, 35, labs.height)], dtype=pl.String),
        )
    )  # fmt: skip
    a1c = screening.filter(pl.Series(rng.random(k) < 0.15))
    extra.append(
        a1c.select(
            "patient_id", "session_id", at=pl.col("started_at") - pl.duration(days=2, minutes=-31),
            code=pl.lit("4548-4"),
            value=pl.Series([f"{v:.1f}" for v in rng.normal(5.7, 0.6, a1c.height)], dtype=pl.String),
        )
    )  # fmt: skip
    return pl.concat([a, *vit, *extra], how="vertical_relaxed").sort(
        "patient_id", "at", "code", "value", maintain_order=True
    )


def _long(cohort: sample.SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 102])
    clinic = sample_params.CLINICS[1]
    pts = _clinic_patients(cohort, clinic)
    obs = _observations(cohort, pts, 103).join(ids.select("patient_id", "mrn"), on="patient_id")
    obs = _utc(obs, "at", "observed_at").sort(
        "mrn", "observed_at", "code", "value", maintain_order=True
    )
    enc = {
        sid: f"LKC-E{i + 1:07d}"
        for i, sid in enumerate(obs.get_column("session_id").drop_nulls().unique().sort().to_list())
    }
    counts: dict[str, int | str] = {
        "untracked_code_rows": 0,
        "blank_value_rows": 0,
        "embedded_newline_rows": 0,
        "noted_rows": 0,
    }
    rows = []
    notes = (
        'pt says pain "8, maybe 9"\nafter a bad week',
        "repeat reading after 5 min rest",
        "taken on the left arm",
        "pt reported via portal",
    )
    for v in obs.iter_rows(named=True):
        r = rng.random(3)
        desc, unit = LOINC[v["code"]]
        value = v["value"]
        if v["code"] in UNTRACKED:
            counts["untracked_code_rows"] += 1
        note = ""
        if r[0] < 0.05 and v["code"] == "72514-3" and counts["embedded_newline_rows"] < 3:
            note = notes[0]
            counts["embedded_newline_rows"] += 1
            counts["noted_rows"] += 1
        elif r[0] < 0.01 and v["code"] in ("8480-6", "8462-4"):
            note = notes[1 + int(r[1] * 3)]
            counts["noted_rows"] += 1
        if r[2] < 0.004 and v["code"] == "72514-3":
            value, note = "", "patient asleep"
            counts["blank_value_rows"] += 1
        rows.append(
            [
                v["mrn"],
                enc.get(v["session_id"], ""),
                v["observed_at"],
                v["code"],
                desc,
                value,
                unit,
                note,
            ]
        )
    for code in LOINC:
        k = sum(r[3] == code for r in rows)
        if k:
            counts[f"rows with code {code}"] = k
    text = _csv_text(LONG_HEADER, rows, ",", "\n")
    entry = Entry(
        path="exports/lakeshore_observations.csv",
        what=(
            f"Long observation export from {clinic}: one row per patient / time / LOINC code for "
            f"{len(pts)} patients (first {EXPORT_PATIENTS} by MRN)"
        ),
        rows=len(rows),
        encoding="UTF-8 with BOM, LF line endings",
        delimiter=", (comma)",
        mess=[
            "observed_at in UTC with a Z (2024-03-02T15:26:00Z); the clinic is in "
            f"{CLINIC_TZ}, so convert to local time to match the canonical tables",
            "scores, vitals and weights as text values with UCUM units ({score}, mm[Hg], /min, "
            "%, kg)",
            "PHQ-9 item 9 as its own code 44260-8 beside the 44261-6 total",
            "codes the product does not track, to be skipped with a reason: "
            + ", ".join(f"{c} {LOINC[c][0]}" for c in UNTRACKED),
            "encounter_id blank for follow-up observations outside a visit",
            "a free-text note column, mostly blank; a quoted note with an embedded newline, a "
            "comma and doubled quotes",
            "a few pain rows with a blank value (note 'patient asleep')",
            "vitals before (5 min before the start) and after (20 min after the end) each dose "
            "share the code: the time says which",
        ],
        counts=counts,
    )
    return "\ufeff" + text, entry


# --- (c) Synthea CSV layout -----------------------------------------------------------------

SYNTHEA_PATIENTS = [
    "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "MIDDLE",
    "LAST", "SUFFIX", "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE",
    "ADDRESS", "CITY", "STATE", "COUNTY", "FIPS", "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES",
    "HEALTHCARE_COVERAGE", "INCOME",
]  # fmt: skip
SYNTHEA_OBSERVATIONS = [
    "DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS", "TYPE",
]  # fmt: skip
SYNTHEA_MEDICATIONS = [
    "START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST",
    "PAYER_COVERAGE", "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION",
]  # fmt: skip
#: Non-opioid medications an importer must skip: RxNorm code, text, reason (SNOMED) or none.
OTHER_MEDICATIONS = (
    ("310965", "Ibuprofen 200 MG Oral Tablet", None),
    ("849574", "Naproxen sodium 220 MG Oral Tablet", None),
    ("313782", "Acetaminophen 325 MG Oral Tablet", ("82423001", "Chronic pain (finding)")),
    ("310431", "gabapentin 300 MG Oral Capsule", ("82423001", "Chronic pain (finding)")),
    ("314076", "lisinopril 10 MG Oral Tablet", ("59621000", "Essential hypertension (disorder)")),
    ("310798", "Hydrochlorothiazide 25 MG Oral Tablet", ("59621000", "Essential hypertension (disorder)")),
    ("204892", "clonazePAM 0.25 MG Oral Tablet", ("197480006", "Anxiety disorder (disorder)")),
)  # fmt: skip
PAYERS = ("Medicare", "Medicaid", "Blue Cross Blue Shield", "Aetna", "NO_INSURANCE")
PHQ9_ITEM_ANSWERS = ("Not at all", "Several days", "More than half the days", "Nearly every day")


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _synthea(cohort: sample.SampleCohort, ids: pl.DataFrame) -> list[tuple[str, str, Entry]]:
    rng = np.random.default_rng([cohort.seed, 104])
    clinic = sample_params.CLINICS[2]
    pts = _clinic_patients(cohort, clinic)
    people = ids.filter(pl.col("patient_id").is_in(pts)).sort("mrn")
    uid = {p: _uuid(rng) for p in people.get_column("patient_id").to_list()}
    payer = {p: _uuid(np.random.default_rng([cohort.seed, 105, i])) for i, p in enumerate(PAYERS)}
    # patients.csv: Synthea appends digits to names; states are written out in full.
    prow = []
    for v in people.iter_rows(named=True):
        r = rng.random(8)
        male = v["sex"] == "male"
        gender = {"male": "M", "female": "F"}.get(v["sex"], "")
        prow.append(
            [
                uid[v["patient_id"]], v["birth_date"].isoformat(), "", v["ssn"].replace(v["ssn"][:3], "999", 1),
                f"S999{int(r[0] * 89999) + 10000}", f"X{int(r[1] * 8999999) + 1000000}X" if r[1] < 0.7 else "",
                ("Mr." if male else "Ms.") if r[2] < 0.8 else ("Dr." if r[2] < 0.85 else ""),
                f"{v['first']}{int(r[3] * 900) + 10}", "", f"{v['last']}{int(r[4] * 900) + 10}", "", "",
                ("M", "S", "D", "W", "")[int(r[5] * 5)], ("white", "black", "asian", "native", "other")[int(r[6] * 5)],
                "hispanic" if r[7] < 0.18 else "nonhispanic", gender,
                f"{v['city']}  {v['state_name']}  US", v["street"], v["city"], v["state_name"], v["county"],
                v["fips"], v["zip"], f"{40 + r[0] * 3:.6f}", f"{-88 + r[1] * 3:.6f}",
                f"{r[2] * 900000:.2f}", f"{r[3] * 150000:.2f}", f"{int(20000 + r[4] * 90000)}",
            ]
        )  # fmt: skip
    # observations.csv from the same observations as the long export, Synthea style.
    obs = _observations(cohort, pts, 106).filter(pl.col("code") != "4548-4")
    obs = _utc(obs, "at", "DATE")
    sessions = obs.get_column("session_id").drop_nulls().unique().sort().to_list()
    enc = {s: _uuid(rng) for s in sessions}
    orow: list[list[object]] = []
    counts: dict[str, int | str] = {
        "untracked_code_rows": 0, "item9_text_answers": 0, "phq2_rows": 0,
    }  # fmt: skip
    obs = obs.with_columns(uuid=pl.col("patient_id").replace_strict(uid)).sort(
        "uuid", "DATE", "code", "value", maintain_order=True
    )
    follow_enc: dict[tuple[str, str], str] = {}
    for v in obs.iter_rows(named=True):
        desc, unit = LOINC[v["code"]]
        sid = v["session_id"]
        if sid is None:
            key = (v["patient_id"], v["DATE"][:10])
            sid_uuid = follow_enc.setdefault(key, _uuid(rng))
        else:
            sid_uuid = enc[sid]
        category = "survey" if unit == "{score}" or v["code"] == "72166-2" else "vital-signs"
        if v["code"] in ("2093-3",):
            category = "laboratory"
        kind, value = "numeric", v["value"]
        if v["code"] == "72166-2":
            kind = "text"
        if v["code"] == instruments.PHQ9_ITEM9_LOINC:
            kind, value = "text", PHQ9_ITEM_ANSWERS[int(value)]
            counts["item9_text_answers"] += 1
        if v["code"] in UNTRACKED:
            counts["untracked_code_rows"] += 1
        if kind == "numeric":
            value = f"{float(value):.1f}"
        orow.append(
            [
                v["DATE"],
                v["uuid"],
                sid_uuid,
                category,
                v["code"],
                desc,
                value,
                "" if kind == "text" else unit,
                kind,
            ]
        )
        if v["code"] == "44261-6" and v["session_id"] is None and rng.random() < 0.5:
            phq2 = min(6, max(0, round(float(v["value"]) * 6 / 27 + rng.normal(0, 0.7))))
            d2, u2 = LOINC["55758-7"]
            orow.append(
                [
                    v["DATE"],
                    v["uuid"],
                    sid_uuid,
                    "survey",
                    "55758-7",
                    d2,
                    f"{phq2:.1f}",
                    u2,
                    "numeric",
                ]
            )
            counts["phq2_rows"] += 1
    for code in LOINC:
        k = sum(r[4] == code for r in orow)
        if k:
            counts[f"rows with code {code}"] = k
    # medications.csv: opioids from the canonical table plus non-opioids to skip.
    op = (
        cohort.tables["opioids"]
        .filter(pl.col("patient_id").is_in(pts))
        .sort("patient_id", "start_date", "ingredient", maintain_order=True)
    )
    mrow = []
    pay_names = list(payer)
    for v in op.iter_rows(named=True):
        r = rng.random(3)
        start = f"{v['start_date'].isoformat()}T{9 + int(r[0] * 8):02d}:{int(r[1] * 60):02d}:{int(r[2] * 60):02d}Z"
        stop = (
            ""
            if v["stop_date"] is None
            else f"{v['stop_date'].isoformat()}T{9 + int(r[2] * 8):02d}:{int(r[0] * 60):02d}:{int(r[1] * 60):02d}Z"
        )
        base = 0.5 + r[0] * 30
        dispenses = 1 + int(r[1] * 12)
        pay = pay_names[int(r[2] * len(pay_names))]
        cover = 0.0 if pay == "NO_INSURANCE" else base * dispenses * 0.8
        mrow.append([start, stop, uid[v["patient_id"]], payer[pay], _uuid(rng), v["rxnorm"], v["description"],
                     f"{base:.2f}", f"{cover:.2f}", dispenses, f"{base * dispenses:.2f}", "82423001", "Chronic pain (finding)"])  # fmt: skip
    n_other = 0
    for v in people.iter_rows(named=True):
        for code, desc, reason in OTHER_MEDICATIONS:
            r = rng.random(4)
            if r[0] > 0.25:
                continue
            ref = (
                v["birth_date"].replace(year=2023)
                if v["birth_date"].month != 2
                else v["birth_date"].replace(year=2023, day=1)
            )
            start = f"{ref.isoformat()}T10:{int(r[1] * 60):02d}:00Z"
            base = 0.2 + r[2] * 20
            dispenses = 1 + int(r[3] * 24)
            mrow.append([start, "", uid[v["patient_id"]], payer[PAYERS[int(r[1] * 5)]], _uuid(rng), code, desc,
                         f"{base:.2f}", f"{base * dispenses * 0.7:.2f}", dispenses, f"{base * dispenses:.2f}",
                         reason[0] if reason else "", reason[1] if reason else ""])  # fmt: skip
            n_other += 1
    mrow.sort(key=lambda r: (r[2], r[0], r[5]))
    made = f"{len(pts)} patients of {clinic} (first {EXPORT_PATIENTS} by MRN)"
    common = "UTF-8, LF line endings"
    return [
        (
            "exports/synthea/patients.csv",
            _csv_text(SYNTHEA_PATIENTS, prow, ",", "\n"),
            Entry(
                path="exports/synthea/patients.csv",
                what=f"Synthea-layout patients.csv (Synthea's real CSV header) for {made}",
                rows=len(prow),
                encoding=common,
                delimiter=", (comma)",
                mess=[
                    "Id is a random UUID, not the demo MRN: pseudonymise the Id",
                    "Synthea-style names with digits appended (José443 García52), SSN 999-xx-xxxx, "
                    "driver's licence, passport, address, LAT/LON: all direct identifiers to drop",
                    "BIRTHPLACE with double spaces; GENDER M/F, blank for sex other or unknown",
                ],
                counts={"patients": len(prow)},
            ),
        ),
        (
            "exports/synthea/observations.csv",
            _csv_text(SYNTHEA_OBSERVATIONS, orow, ",", "\n"),
            Entry(
                path="exports/synthea/observations.csv",
                what=f"Synthea-layout observations.csv for {made}",
                rows=len(orow),
                encoding=common,
                delimiter=", (comma)",
                mess=[
                    "DATE in UTC with a Z (2024-08-23T13:26:00Z); the clinic is in " + CLINIC_TZ,
                    "VALUE as decimals ('7.0'); TYPE numeric or text",
                    "PHQ-9 item 9 (44260-8) as a text answer of LOINC list LL358-3 ('Several days')",
                    "PHQ-2 (55758-7) beside some follow-up PHQ-9 totals (a screen, not a PHQ-9 outcome)",
                    "untracked codes to skip with a reason: 8302-2 body height, 39156-5 BMI, 2093-3 "
                    "cholesterol, 72166-2 tobacco smoking status (text)",
                    "ENCOUNTER links vitals and scores of one visit; follow-ups have their own",
                ],
                counts=counts,
            ),
        ),
        (
            "exports/synthea/medications.csv",
            _csv_text(SYNTHEA_MEDICATIONS, mrow, ",", "\n"),
            Entry(
                path="exports/synthea/medications.csv",
                what=f"Synthea-layout medications.csv for {made}",
                rows=len(mrow),
                encoding=common,
                delimiter=", (comma)",
                mess=[
                    "RxNorm product codes and texts ('Acetaminophen 325 MG / Oxycodone Hydrochloride "
                    "10 MG Oral Tablet', '72 HR Fentanyl 0.025 MG/HR Transdermal System', 'tramadol "
                    "hydrochloride 50 MG Oral Tablet'); a few rows carry an ingredient code instead",
                    "no daily dose: Synthea's CSV has no dosage, so daily MME needs a sig from "
                    "elsewhere (the canonical opioids table holds the truth)",
                    "buprenorphine rows (no MME factor: flag, don't drop)",
                    "non-opioid medications to skip: "
                    + ", ".join(d for _, d, _ in OTHER_MEDICATIONS),
                    "STOP blank while ongoing; tapering shows as a stopped row followed by a "
                    "lower-dose row",
                ],
                counts={"opioid_rows": op.height, "non_opioid_rows": n_other},
            ),
        ),
    ]


# --- (d) tab-delimited medication list with sigs -------------------------------------------

MEDLIST_HEADER = ["MRN", "Medication", "Sig", "Qty", "Start Date", "End Date", "Prescriber"]
SIG = {
    1: ("1 tab PO daily", "1 PO QD"),
    2: ("1 tab PO BID", "1 tab PO q12h"),
    3: ("1 tab PO TID", "1 tab PO q8h prn pain"),
    4: ("1 tab PO QID", "1 tab PO q6h prn"),
    6: ("1 tab PO q4h prn pain", "1 tab q4h"),
}


def _medlist(cohort: sample.SampleCohort, ids: pl.DataFrame) -> tuple[str, Entry]:
    rng = np.random.default_rng([cohort.seed, 107])
    clinic = sample_params.CLINICS[0]
    pts = _clinic_patients(cohort, clinic)
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
    return _csv_text(MEDLIST_HEADER, rows, "\t", "\n"), entry


# --- writing everything and the catalog ------------------------------------------------------

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


def _catalog(cohort: sample.SampleCohort, entries: list[Entry]) -> str:
    made = (
        f"`kapoutcomes sample --seed {cohort.seed} --patients {cohort.patients}` "
        f"(kapoutcomes.sample.generate(seed={cohort.seed}, patients={cohort.patients}))"
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
    lines += ["## How the cohort is simulated", ""] + [f"- {m}" for m in _model(cohort)] + [""]
    lines += ["## sample_data/mappings/", "", MAPPINGS_NOTE, ""]
    return "\n".join(lines)


def _model(cohort: sample.SampleCohort) -> list[str]:
    """What the generator assumes, in words, with the truth it drew (for checking analytics)."""
    truth = cohort.truth
    classes = ", ".join(
        f"{c} {int((truth.get_column('response_class') == c).sum())}"
        for c in sample_params.RESPONSE_CLASSES
    )
    dur = truth.get_column("durability_days").median()
    return [
        f"referrals from {sample_params.ANCHOR.isoformat()} over {sample_params.REFERRAL_DAYS} days; nothing "
        f"dated after day {sample_params.END_DAY} ({sample_params.ANCHOR + dt.timedelta(days=sample_params.END_DAY)})"
        "; clinic visits on weekdays, follow-up questionnaires any day",
        "clinics: "
        + "; ".join(
            f"{c} ({share:.0%} of patients, KAP {kap:.0%}, cost {'exported' if cost else 'not exported'})"
            for c, share, kap, cost in zip(
                sample_params.CLINICS,
                sample_params.CLINIC_SHARE,
                sample_params.KAP_SHARE,
                sample_params.CLINIC_HAS_COST,
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
        + ", ".join(f"{e[0]} {e[1]:.1%}" for e in sample_params.ADVERSE_EVENT_RATES[:6])
        + " ...; raised BP recorded after large rises; serious events only at a patient's "
        "last dose (they end treatment)",
        "opioids: about 42% on an opioid at referral (12% on two); tapering after induction in "
        "about 45% of responders; buprenorphine for about 0.4% of patients (at least one)",
        "the exact draws: `kapoutcomes.sample.generate(seed, patients).truth` (one row per "
        "patient: response class, maximum relief, durability, depression effect)",
    ]


def write_all(out: Path, cohort: sample.SampleCohort) -> list[Path]:
    """Write demo/<table>.csv, the exports and CATALOG.md under ``out``; return the paths."""
    written: list[Path] = []
    entries: list[Entry] = []
    for table in tables.MODELS:
        frame = cohort.tables[table]
        rel = f"demo/{table}.csv"
        written.append(_write(out / rel, canonical_csv(table, frame)))
        entries.append(
            Entry(
                path=rel,
                what=f"Canonical `{table}` table: {TABLE_WHAT[table]}",
                rows=frame.height,
                encoding="UTF-8, LF line endings",
                delimiter=", (comma)",
                mess=[],
                counts=_table_counts(table, frame),
            )
        )
    ids = identities(cohort)
    text, entry = _wide(cohort, ids)
    written.append(_write(out / entry.path, text, encoding="cp1252"))
    entries.append(entry)
    text, entry = _long(cohort, ids)
    written.append(_write(out / entry.path, text))
    entries.append(entry)
    for rel, text, entry in _synthea(cohort, ids):
        written.append(_write(out / rel, text))
        entries.append(entry)
    text, entry = _medlist(cohort, ids)
    written.append(_write(out / entry.path, text))
    entries.append(entry)
    written.append(_write(out / "CATALOG.md", _catalog(cohort, entries)))
    return written


def _table_counts(table: str, frame: pl.DataFrame) -> dict[str, int | str]:
    if table == "patients":
        return {
            "patients": frame.height,
            **{
                f"clinic {c}": int((frame.get_column("clinic") == c).sum())
                for c in sample_params.CLINICS
            },
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
