"""Summit's export of the demo cohort in (c) Synthea's CSV layout: patients.csv,
observations.csv (LOINC-coded, PHQ-9 item answers as text) and medications.csv (RxNorm)."""

from __future__ import annotations

import uuid

import numpy as np
import polars as pl

from kapoutcomes.definitions import instruments
from kapoutcomes.demo import params
from kapoutcomes.demo.files import (
    CLINIC_TZ,
    EXPORT_PATIENTS,
    Entry,
    ExportRows,
    clinic_patients,
    csv_text,
)
from kapoutcomes.demo.long_export import LOINC, UNTRACKED, observation_rows, to_utc
from kapoutcomes.demo.sample import SampleCohort

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


def seeded_uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


_PATIENTS_MESS = [
    "Id is a random UUID, not the demo MRN: pseudonymise the Id",
    "Synthea-style names with digits appended (José443 García52), SSN 999-xx-xxxx, "
    "driver's licence, passport, address, LAT/LON: all direct identifiers to drop",
    "BIRTHPLACE with double spaces; GENDER M/F, blank for sex other or unknown",
]
_OBSERVATIONS_MESS = [
    "DATE in UTC with a Z (2024-08-23T13:26:00Z); the clinic is in " + CLINIC_TZ,
    "VALUE as decimals ('7.0'); TYPE numeric or text",
    "PHQ-9 item 9 (44260-8) as a text answer of LOINC list LL358-3 ('Several days')",
    "PHQ-2 (55758-7) beside some follow-up PHQ-9 totals (a screen, not a PHQ-9 outcome)",
    "untracked codes to skip with a reason: 8302-2 body height, 39156-5 BMI, 2093-3 "
    "cholesterol, 72166-2 tobacco smoking status (text)",
    "ENCOUNTER links vitals and scores of one visit; follow-ups have their own",
]
_MEDICATIONS_MESS = [
    "RxNorm product codes and texts ('Acetaminophen 325 MG / Oxycodone Hydrochloride "
    "10 MG Oral Tablet', '72 HR Fentanyl 0.025 MG/HR Transdermal System', 'tramadol "
    "hydrochloride 50 MG Oral Tablet'); a few rows carry an ingredient code instead",
    "no daily dose: Synthea's CSV has no dosage, so daily MME needs a sig from "
    "elsewhere (the canonical opioids table holds the truth)",
    "buprenorphine rows (no MME factor: flag, don't drop)",
    "non-opioid medications to skip: " + ", ".join(d for _, d, _ in OTHER_MEDICATIONS),
    "STOP blank while ongoing; tapering shows as a stopped row followed by a lower-dose row",
]


def _patient_rows(
    rng: np.random.Generator, people: pl.DataFrame, uid: dict[str, str]
) -> list[list]:
    """patients.csv: Synthea appends digits to names; states are written out in full."""
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
    return prow


def _synthea_observation(v: dict, encounter: str, counts: dict[str, int]) -> list:
    """One observation as Synthea writes it: category, decimal or text value, units, type."""
    desc, unit = LOINC[v["code"]]
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
    unit = "" if kind == "text" else unit
    return [v["DATE"], v["uuid"], encounter, category, v["code"], desc, value, unit, kind]


def _phq2_row(rng: np.random.Generator, v: dict, encounter: str) -> list:
    """A PHQ-2 screen beside a follow-up PHQ-9 total, consistent with it."""
    phq2 = min(6, max(0, round(float(v["value"]) * 6 / 27 + rng.normal(0, 0.7))))
    d2, u2 = LOINC["55758-7"]
    return [v["DATE"], v["uuid"], encounter, "survey", "55758-7", d2, f"{phq2:.1f}", u2, "numeric"]


def _observations(
    rng: np.random.Generator, cohort: SampleCohort, pts: list[str], uid: dict[str, str]
) -> ExportRows:
    """observations.csv from the same observations as the long export, Synthea style."""
    obs = observation_rows(cohort, pts, 106).filter(pl.col("code") != "4548-4")
    obs = to_utc(obs, "at", "DATE")
    sessions = obs.get_column("session_id").drop_nulls().unique().sort().to_list()
    enc = {s: seeded_uuid(rng) for s in sessions}
    orow: list[list] = []
    mess = dict.fromkeys(("untracked_code_rows", "item9_text_answers", "phq2_rows"), 0)
    obs = obs.with_columns(uuid=pl.col("patient_id").replace_strict(uid)).sort(
        "uuid", "DATE", "code", "value", maintain_order=True
    )
    follow_enc: dict[tuple[str, str], str] = {}
    for v in obs.iter_rows(named=True):
        sid = v["session_id"]
        if sid is None:
            key = (v["patient_id"], v["DATE"][:10])
            sid_uuid = follow_enc.setdefault(key, seeded_uuid(rng))
        else:
            sid_uuid = enc[sid]
        orow.append(_synthea_observation(v, sid_uuid, mess))
        if v["code"] == "44261-6" and v["session_id"] is None and rng.random() < 0.5:
            orow.append(_phq2_row(rng, v, sid_uuid))
            mess["phq2_rows"] += 1
    counts: dict[str, int | str] = {**mess}
    for code in LOINC:
        k = sum(r[4] == code for r in orow)
        if k:
            counts[f"rows with code {code}"] = k
    return ExportRows(orow, counts)


def _opioid_rows(
    rng: np.random.Generator, op: pl.DataFrame, uid: dict[str, str], payer: dict[str, str]
) -> list[list]:
    """medications.csv rows of the opioids in the canonical table."""
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
        mrow.append([start, stop, uid[v["patient_id"]], payer[pay], seeded_uuid(rng), v["rxnorm"], v["description"],
                     f"{base:.2f}", f"{cover:.2f}", dispenses, f"{base * dispenses:.2f}", "82423001", "Chronic pain (finding)"])  # fmt: skip
    return mrow


def _other_medication_rows(
    rng: np.random.Generator, people: pl.DataFrame, uid: dict[str, str], payer: dict[str, str]
) -> list[list]:
    """medications.csv rows of non-opioids an importer must skip."""
    mrow = []
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
            mrow.append([start, "", uid[v["patient_id"]], payer[PAYERS[int(r[1] * 5)]], seeded_uuid(rng), code, desc,
                         f"{base:.2f}", f"{base * dispenses * 0.7:.2f}", dispenses, f"{base * dispenses:.2f}",
                         reason[0] if reason else "", reason[1] if reason else ""])  # fmt: skip
    return mrow


def _medications(
    rng: np.random.Generator,
    cohort: SampleCohort,
    pts: list[str],
    people: pl.DataFrame,
    uid: dict[str, str],
) -> ExportRows:
    """medications.csv: opioids from the canonical table plus non-opioids to skip."""
    payer = {
        p: seeded_uuid(np.random.default_rng([cohort.seed, 105, i])) for i, p in enumerate(PAYERS)
    }
    op = (
        cohort.tables["opioids"]
        .filter(pl.col("patient_id").is_in(pts))
        .sort("patient_id", "start_date", "ingredient", maintain_order=True)
    )
    opioid_rows = _opioid_rows(rng, op, uid, payer)
    other = _other_medication_rows(rng, people, uid, payer)
    mrow = sorted(opioid_rows + other, key=lambda r: (r[2], r[0], r[5]))
    return ExportRows(mrow, {"opioid_rows": op.height, "non_opioid_rows": len(other)})


def synthea_files(cohort: SampleCohort, ids: pl.DataFrame) -> list[tuple[str, str, Entry]]:
    rng = np.random.default_rng([cohort.seed, 104])
    clinic = params.CLINICS[2]
    pts = clinic_patients(cohort, clinic)
    people = ids.filter(pl.col("patient_id").is_in(pts)).sort("mrn")
    uid = {p: seeded_uuid(rng) for p in people.get_column("patient_id").to_list()}
    made = f"{len(pts)} patients of {clinic} (first {EXPORT_PATIENTS} by MRN)"
    files = (
        ("patients", SYNTHEA_PATIENTS, "Synthea-layout patients.csv (Synthea's real CSV header)"),
        ("observations", SYNTHEA_OBSERVATIONS, "Synthea-layout observations.csv"),
        ("medications", SYNTHEA_MEDICATIONS, "Synthea-layout medications.csv"),
    )
    patients = _patient_rows(rng, people, uid)
    written = (
        ExportRows(patients, {"patients": len(patients)}),
        _observations(rng, cohort, pts, uid),
        _medications(rng, cohort, pts, people, uid),
    )
    mess = (_PATIENTS_MESS, _OBSERVATIONS_MESS, _MEDICATIONS_MESS)
    out = []
    for (name, header, what), rows, notes in zip(files, written, mess, strict=True):
        path = f"exports/synthea/{name}.csv"
        entry = Entry(
            path=path,
            what=f"{what} for {made}",
            rows=len(rows.rows),
            encoding="UTF-8, LF line endings",
            delimiter=", (comma)",
            mess=list(notes),
            counts=rows.counts,
        )
        out.append((path, csv_text(header, rows.rows, ",", "\n"), entry))
    return out
