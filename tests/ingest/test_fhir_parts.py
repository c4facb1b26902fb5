"""The FHIR preset's parts, worked by hand: references, codes, the collector, the file-name
scrub (kapoutcomes.ingest.fhir, .collect, .resources)."""

from __future__ import annotations

from kapoutcomes.ingest import fhir
from kapoutcomes.ingest.fhir import collect, resources


def test_reference_ids_in_every_spelling():
    assert resources.ref_id({"reference": "Patient/abc"}) == "abc"
    assert resources.ref_id({"reference": "urn:uuid:1234-5"}) == "1234-5"
    assert resources.ref_id({"reference": "http://x/fhir/Patient/abc/_history/2"}) == "abc"
    assert resources.ref_id({"display": "no reference"}) is None
    assert resources.ref_key({"reference": "Encounter/e1/_history/3"}) == "Encounter/e1"


def test_codes_by_system_and_text():
    cc = {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "123"},
            {"system": "http://loinc.org", "code": "72514-3", "display": "Pain severity"},
        ],
    }
    assert resources.code_of(cc, (resources.LOINC_SYSTEM,)) == "72514-3"
    assert resources.code_of(cc) == "123"
    assert resources.text_of(cc) == "Pain severity"
    assert resources.text_of({"text": " NRS ", **cc}) == "NRS"


def test_collector_counts_resource_types():
    c = collect.Collector()
    c.raw(0, "Patient", patient="p")
    c.raw(1, "Observation", patient="p", code="72514-3", value="6")
    c.raw(2, "Observation", patient="p", code="8867-4", value="80")
    assert c.types == {"Patient": 1, "Observation": 2}
    assert c.last_line == 2


def test_patient_names_leave_the_file_name():
    assert fhir._without_names("brenda_jackson.json", {"brenda", "jackson"}) == (
        "[name]_[name].json"
    )
    # a word inside another word is not a name match
    assert fhir._without_names("brendan.json", {"brenda"}) == "brendan.json"
