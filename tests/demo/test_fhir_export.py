"""The demo cohort's FHIR bulk export: Patient resources carry no name, address or birth
date (only the birth year), and one resource per patient."""

from __future__ import annotations

from kapoutcomes.demo import fhir_export
from kapoutcomes.demo.generator import generate


def test_patients_carry_birth_year_only_and_no_identity():
    t = generate(seed=3, patients=12).tables
    out = fhir_export.patients(t["patients"])
    assert len(out) == t["patients"].height
    for res in out:
        assert res["resourceType"] == "Patient"
        assert not {"name", "address", "telecom"} & set(res)
        if "birthDate" in res:
            assert len(res["birthDate"]) == 4  # a year, never a full date
