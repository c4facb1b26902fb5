"""Which layout a file is (kapoutcomes.ingest.presets): header sets fitted by hand."""

from __future__ import annotations

import pytest

from kapoutcomes.ingest import presets


def test_norm_drops_case_spaces_and_punctuation():
    assert presets.norm(" Date / Time ") == "datetime"
    assert presets.norm("Patient_MRN") == "patientmrn"


def test_long_layout_finds_its_roles_and_says_what_is_missing():
    f = presets.fit_long(["MRN", "Observation Date", "LOINC", "Result", "Units", "Comment"])
    assert f.roles == {
        "patient": "MRN",
        "date": "Observation Date",
        "code": "LOINC",
        "value": "Result",
        "units": "Units",
    }
    assert f.complete and f.missing == ()
    assert f.unrecognised == ("Comment",)
    # 5 of the 7 roles found, nothing missing
    assert f.score == pytest.approx(5 / 7)
    g = presets.fit_long(["MRN", "Date", "Value"])
    assert g.missing == ("code or name",) and not g.complete
    h = presets.fit_long(["Date", "Score", "Scale"])
    assert h.missing == ("patient",)


def test_one_header_serves_one_role_only():
    # "Date" is a start-date spelling; once the start role has it, no later role may take it
    f = presets.fit_medications(["MRN", "Date", "Drug", "Times per day"])
    assert f.roles == {"patient": "MRN", "start": "Date", "description": "Drug",
                       "frequency": "Times per day"}  # fmt: skip
    assert f.complete
    g = presets.fit_medications(["MRN", "Start"])
    assert g.missing == ("description or code",)


def test_canonical_sessions_file_is_complete_and_patient_id_may_be_an_mrn():
    headers = ["MRN", "started_at", "session_type", "route", "dose_mg"]
    fit = next(f for f in presets.fit_canonical(headers) if f.kind == "sessions")
    assert fit.roles["patient_id"] == "MRN"
    assert fit.missing == ("care_model",)
    fit = next(f for f in presets.fit_canonical([*headers, "Care model"]) if f.kind == "sessions")
    assert fit.complete and fit.roles["care_model"] == "Care model"
    # a birth date column stands for birth_year in the patients table
    p = next(f for f in presets.fit_canonical(["MRN", "DOB"]) if f.kind == "patients")
    assert p.roles["birth_date"] == "DOB" and "birth_year" not in p.roles


def test_canonical_required_leaves_out_what_the_importer_derives():
    assert "session_id" not in presets.canonical_required("sessions")
    assert "clinic" not in presets.canonical_required("patients")
    assert "mme_table" not in presets.canonical_required("opioids")
    assert "patient_id" in presets.canonical_required("assessments")


def test_opioids_need_a_daily_dose_or_strength_and_frequency():
    base = ["patient_id", "ingredient", "unit", "start_date"]
    fit = next(f for f in presets.fit_canonical(base) if f.kind == "opioids")
    assert "daily_dose" in fit.missing
    fit = next(
        f
        for f in presets.fit_canonical([*base, "strength", "frequency_per_day"])
        if f.kind == "opioids"
    )
    assert "daily_dose" not in fit.missing


def test_synthea_observations_win_over_the_long_layout():
    headers = ["DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE",
               "UNITS", "TYPE"]  # fmt: skip
    complete, closest = presets.best(headers)
    assert (complete.preset, complete.kind) == ("synthea", "observations")
    assert closest is complete
    # an explicit preset limits the candidates
    complete, _ = presets.best(headers, preset="long")
    assert complete.preset == "long"


def test_best_returns_the_closest_fit_when_none_is_complete():
    complete, closest = presets.best(["MRN", "Value"], preset="long")
    assert complete is None
    assert closest.preset == "long" and "date" in closest.missing
    assert presets.candidates(["x"], preset="wide") == []


# Real Synthea headers (3.x; procedures also as 2.x wrote them)
ENCOUNTERS = (
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
    "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION"
)
CONDITIONS = "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION"
PROCEDURES = (
    "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"
)
PROCEDURES_2 = "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"
IMMUNIZATIONS = "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST"
MEDICATIONS = (
    "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,"
    "TOTALCOST,REASONCODE,REASONDESCRIPTION"
)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (ENCOUNTERS, "encounters"),
        (CONDITIONS, "conditions"),
        (CONDITIONS.replace("ENCOUNTER,", "ENCOUNTER,SYSTEM,"), "conditions"),
        (PROCEDURES, "procedures"),
        (PROCEDURES_2, "procedures"),
        (IMMUNIZATIONS, "immunizations"),
        (MEDICATIONS, None),  # imported
        ("MRN,Start,Stop,Medication,Encounter,Code,Description", None),  # a clinic's list
    ],
)
def test_synthea_files_kapoutcomes_does_not_import_are_recognised(header, kind):
    assert presets.synthea_unused(header.split(",")) == kind


def test_a_synthea_medication_list_reads_dispenses_but_not_its_encounter_key():
    """Fit.reads is the quarantine's column allow-list: DISPENSES is what makes the list a
    Synthea one (its dosing frequency assumed), so a quarantined row keeps it; the encounter
    key and identifiers are never kept, and a downloaded file is recognised without them."""
    from kapoutcomes.ingest import presets

    headers = ["START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION",
               "DISPENSES", "TOTALCOST"]  # fmt: skip
    fit, _ = presets.best(headers)
    assert (fit.preset, fit.kind) == ("synthea", "medications")
    assert "DISPENSES" in fit.reads
    assert not {"ENCOUNTER", "PAYER", "TOTALCOST"} & fit.reads
    download = [h for h in headers if h in fit.reads] + ["quarantine_file"]
    again, _ = presets.best(download, quarantined=True)
    assert (again.preset, again.kind) == ("synthea", "medications")
