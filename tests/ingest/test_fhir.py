"""The FHIR R4 preset: Bundles and bulk-export ndjson (issue 13 items 5 and 6).

The two public Bundles (AHRQ CDS Connect Pain Management Summary test patients, Apache 2.0,
/work/shared/fixtures/fhir/README.md) are read from ../shared/fixtures/fhir relative to the
repository root."""

from __future__ import annotations

import copy
import inspect
import json
import os
from pathlib import Path

import polars as pl
import pytest

from kapoutcomes.ingest import IngestError, import_files
from kapoutcomes.ingest.fhir import reader
from kapoutcomes.ingest.fhir.questionnaire import score_response
from kapoutcomes.ingest.read import Source
from kapoutcomes.storage.store import Store
from tests.test_golden_report import _differences  # floats to 1e-9, timings ignored

ROOT = Path(__file__).resolve().parents[2]
#: ../shared/fixtures/fhir beside the repository (CI lays shared/ beside its clone); a
#: worktree elsewhere names the folder in KAPOUTCOMES_FHIR_FIXTURES
FIXTURES = Path(
    os.environ.get("KAPOUTCOMES_FHIR_FIXTURES") or ROOT.parent / "shared" / "fixtures" / "fhir"
)
SECRET = b"fhir-test-secret-fhir-test-secret-0123"
needs_fixtures = pytest.mark.skipif(
    not (FIXTURES / "brenda_jackson.json").exists(),
    reason=f"the shared FHIR fixtures are not at {FIXTURES} (see the brief: ../shared/fixtures)",
)

PLANTED = {
    "address": {"line": ["742 Evergreen Terrace"], "city": "Springfield", "postalCode": "49007"},
    "telecom": [
        {"system": "phone", "value": "555-867-5309"},
        {"system": "email", "value": "brenda.j@example.org"},
    ],
    "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "value": "MRN-4417-2290"},
        {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-12-3456"},
    ],
}


def _every_text_cell(db: Path) -> str:
    with Store(db) as st:
        blobs = []
        for table in st.counts():
            fr = st.query(f'SELECT * FROM "{table}"')
            for c, t in fr.schema.items():
                if t == pl.String:
                    blobs += fr.get_column(c).drop_nulls().to_list()
    return "\n".join(blobs)


def _with_planted_identifiers(bundle: dict) -> dict:
    """The Bundle with an address, phone, e-mail, MRN and SSN on its Patient, and the
    patient's first name in free text: an adverse event's text and a score written as a
    sentence (quarantined, so its raw row is stored)."""
    b = copy.deepcopy(bundle)
    for e in b["entry"]:
        res = e["resource"]
        if res["resourceType"] == "Patient":
            res.update({k: v if k != "address" else [v] for k, v in copy.deepcopy(PLANTED).items()})
            first, ref = res["name"][0]["given"][0], {"reference": f"Patient/{res['id']}"}
    b["entry"].append(
        {
            "resource": {
                "resourceType": "AdverseEvent",
                "actuality": "actual",
                "subject": ref,
                "event": {"text": f"{first} felt dizzy in the car park"},
                "severity": {"coding": [{"code": "mild"}]},
                "date": "2023-02-01T10:00:00Z",
            }
        }
    )
    b["entry"].append({"resource": _obs("72514-3", {"valueString": f"{first} says 7ish"})})
    b["entry"][-1]["resource"]["subject"] = ref
    return b


def _ndjson(*resources: dict) -> bytes:
    return "\n".join(json.dumps(r) for r in resources).encode() + b"\n"


def _patient(pid: str = "pt-1", **more) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"given": ["Wilhelmina"], "family": "Quarterbridge"}],
        "gender": "female",
        "birthDate": "1971-06-30",
        **more,
    }


def _obs(code: str, value: dict, when: str = "2024-05-01T10:00:00-04:00", pid="pt-1", **more):
    return {
        "resourceType": "Observation",
        "status": "final",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": when,
        **value,
        **more,
    }


# -- the two public Bundles ------------------------------------------------------------------
@needs_fixtures
def test_public_bundles_import_with_exact_accounting(tmp_path):
    rep = import_files(
        [FIXTURES / "brenda_jackson.json", FIXTURES / "lois_lane.json"],
        tmp_path / "s.duckdb",
        clinic="Test Clinic",
        secret=SECRET,
    )
    counts = [
        (f.rows_read, f.accepted, f.quarantined, f.skipped, dict(f.written)) for f in rep.files
    ]
    assert [f.file for f in rep.files] == ["[name]_[name].json"] * 2  # the patients' names
    # Brenda: 1 Patient, 10 scores (Wong-Baker x4 as 0-10 pain, PEG x3, PHQ-9 x3) accepted;
    # 22 opioid MedicationRequests without any dosage quarantined; 31 skipped (11 non-opioid
    # drugs, 5 referral Procedures, 4 Conditions, 11 untracked observations)
    assert counts[0] == (64, 11, 22, 31, {"patients": 1, "assessments": 10})
    # Lois: the same shape (PEG under the local code PEGASSESSMENT, recognised by its display)
    assert counts[1] == (63, 11, 22, 30, {"patients": 1, "assessments": 10})
    for f, name in zip(rep.files, ("brenda_jackson.json", "lois_lane.json"), strict=True):
        entries = len(json.loads((FIXTURES / name).read_text())["entry"])
        assert f.rows_read == f.accepted + f.quarantined + f.skipped == entries
        assert f.preset == "fhir"
        reasons = {r.reason: r.count for r in f.skip_reasons}
        assert reasons["FHIR Condition: resource type not imported by kapoutcomes"] == 4
        (q,) = f.quarantine_reasons
        assert q.column == "dosageInstruction" and "no dosage timing" in q.reason
    with Store(tmp_path / "s.duckdb") as st:
        a = st.read("assessments")
        p = st.read("patients")
    assert sorted(p.get_column("birth_year").to_list()) == [1956, 1961]
    assert set(a.get_column("instrument")) == {"pain_nrs", "peg", "phq9"}


@needs_fixtures
def test_no_name_address_phone_or_birth_date_reaches_the_store(tmp_path):
    paths = []
    for name in ("brenda_jackson.json", "lois_lane.json"):
        b = _with_planted_identifiers(json.loads((FIXTURES / name).read_text()))
        p = tmp_path / name
        p.write_text(json.dumps(b, indent=1))
        paths.append(p)
    db = tmp_path / "s.duckdb"
    rep = import_files(paths, db, clinic="Test Clinic", secret=SECRET)
    assert all(f.quarantined > 0 for f in rep.files)  # raw rows are in the quarantine
    big = _every_text_cell(db)
    assert "MedicationRequest" in big  # the quarantine's raw rows were read
    forbidden = [
        "Brenda",
        "Jackson",
        "Lois",
        "Lane",
        "1961-01-25",
        "1956-10-14",
        "01/25/1961",
        "Evergreen",
        "Springfield",
        "49007",
        "555-867-5309",
        "867-5309",
        "brenda.j@",
        "MRN-4417",
        "999-12-3456",
    ]
    for s in forbidden:
        assert s.lower() not in big.lower(), s
        assert s.encode() not in db.read_bytes(), s
    text = json.dumps(rep.to_dict())
    for s in forbidden:
        assert s.lower() not in text.lower(), s


# -- reading --------------------------------------------------------------------------------
def test_ndjson_is_read_by_a_generator_one_line_at_a_time(tmp_path):
    p = tmp_path / "Observation.ndjson"
    line = json.dumps(_obs("72514-3", {"valueInteger": 5})) + "\n"
    p.write_text(line * 2000)
    (src,) = reader.sources([p])
    assert isinstance(src, reader.StreamedSource) and src.data == b""  # nothing loaded
    gen = reader.entries(src)
    assert inspect.isgenerator(gen)
    first = next(gen)
    assert first.row == 1 and first.resource["code"]["coding"][0]["code"] == "72514-3"
    assert sum(1 for _ in gen) == 1999


def test_malformed_ndjson_lines_are_quarantined_with_their_line(tmp_path):
    data = (
        _ndjson(_patient(), _obs("72514-3", {"valueInteger": 6}))
        + b'{"resourceType": "Observation", "status": \n'  # cut short
        + b"\n"
        + b"[1, 2]\n"
        + _ndjson(_obs("72514-3", {"valueInteger": 4}, when="2024-05-02T10:00:00Z"))
    )
    rep = import_files([("export.ndjson", data)], tmp_path / "s.duckdb", clinic="C", secret=SECRET)
    (f,) = rep.files
    assert (f.rows_read, f.accepted, f.quarantined, f.skipped) == (5, 3, 2, 0)
    by = {r.rows: r.reason for r in f.quarantine_reasons}
    assert by[(3,)].startswith("not valid JSON") and "column" in by[(3,)]
    assert by[(5,)].startswith("not a FHIR resource")


def test_a_broken_json_bundle_is_refused_with_its_line(tmp_path):
    text = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}, indent=1)
    with pytest.raises(IngestError) as e:
        import_files([("b.json", text[:-3].encode())], tmp_path / "s.duckdb", secret=SECRET)
    assert "not valid JSON" in e.value.problem and "line" in e.value.problem
    if (tmp_path / "s.duckdb").exists():  # nothing written
        with Store(tmp_path / "s.duckdb") as st:
            assert st.query("SELECT count(*) AS n FROM import_ledger").item() == 0


def test_json_that_is_not_fhir_is_refused(tmp_path):
    with pytest.raises(IngestError) as e:
        import_files([("x.json", b'{"rows": [1, 2]}')], tmp_path / "s.duckdb", secret=SECRET)
    assert "not FHIR" in e.value.problem


# -- observations and questionnaires --------------------------------------------------------
def _bundle(*resources: dict, kind: str = "collection") -> tuple[str, bytes]:
    b = {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}
    return ("b.json", json.dumps(b).encode())


def _answer_cc(code: str, display: str) -> dict:
    system = "http://loinc.org"
    return {
        "valueCodeableConcept": {"coding": [{"system": system, "code": code, "display": display}]}
    }


def test_item9_answers_reach_the_store_as_numbers_codes_or_text(tmp_path):
    rep = import_files(
        [
            _bundle(
                _patient(),
                _obs("44260-8", {"valueInteger": 1}, when="2024-05-01T10:00:00Z"),
                _obs(
                    "44260-8",
                    _answer_cc("LA6570-1", "More than half the days"),
                    "2024-05-08T10:00:00Z",
                ),
                _obs("44260-8", {"valueString": "Nearly every day"}, when="2024-05-15T10:00:00Z"),
                _obs("44261-6", {"valueQuantity": {"value": 17}}, when="2024-05-15T10:00:00Z"),
            )
        ],
        tmp_path / "s.duckdb",
        clinic="C",
        secret=SECRET,
    )
    assert rep.files[0].accepted == 5
    with Store(tmp_path / "s.duckdb") as st:
        a = st.read("assessments").sort("assessed_at")
    item9 = a.filter(pl.col("item") == 9)
    assert item9.get_column("score").to_list() == [1.0, 2.0, 3.0]


def _qr(answers: dict[str, int], pid: str = "pt-1", when: str = "2024-06-01T09:00:00Z") -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": "http://loinc.org/q/44249-1",
        "subject": {"reference": f"Patient/{pid}"},
        "authored": when,
        "item": [{"linkId": code, "answer": [{"valueInteger": v}]} for code, v in answers.items()],
    }


PHQ9_ITEMS = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              "44253-3", "44260-8")  # fmt: skip


def test_questionnaire_totals_need_every_item_and_item9_is_never_lost(tmp_path):
    full = dict(zip(PHQ9_ITEMS, (2, 1, 3, 0, 1, 2, 1, 0, 2), strict=True))
    short = {k: v for k, v in full.items() if k != "44252-5"}  # 8 of 9 answered, item 9 = 2
    rep = import_files(
        [_bundle(_patient(), _qr(full), _qr(short, when="2024-06-08T09:00:00Z"))],
        tmp_path / "s.duckdb",
        clinic="C",
        secret=SECRET,
    )
    (f,) = rep.files
    assert (f.rows_read, f.accepted, f.quarantined, f.skipped) == (3, 2, 1, 0)
    (q,) = f.quarantine_reasons
    assert "8 of 9 items answered" in q.reason and "possible suicide-risk answer" in q.reason
    with Store(tmp_path / "s.duckdb") as st:
        a = st.read("assessments").sort("item", nulls_last=False)
    assert a.select("instrument", "item", "score").rows() == [
        ("phq9", None, 12.0),
        ("phq9", 9, 2.0),
    ]


def test_questionnaire_proration_is_a_setting():
    short = dict(zip(PHQ9_ITEMS[:8], (2, 1, 3, 0, 1, 2, 1, 0), strict=True))
    assert score_response(_qr(short)).problem is not None
    prorated = score_response(_qr(short), prorate_missing=1)
    assert prorated.problem is None and prorated.facts == [("44261-6", "11")]  # 10/8*9 = 11.25


def test_a_prorated_total_halfway_between_two_scores_rounds_up():
    """8 of 9 PHQ-9 items summing to 4: 4 / 8 * 9 = 4.5, which rounds (as arithmetic and a
    clinician round a half) to 5, mild and not in remission (PHQ-9 < 5, Kroenke 2001); a
    round-half-to-even rule gave 4 and moved the patient across both cut-offs. Likewise
    20 / 8 * 9 = 22.5 -> 23."""
    for answers, total in (((1, 1, 1, 1, 0, 0, 0, 0), "5"), ((3, 3, 3, 3, 2, 2, 2, 2), "23")):
        short = dict(zip(PHQ9_ITEMS[:8], answers, strict=True))
        assert score_response(_qr(short), prorate_missing=1).facts == [("44261-6", total)]


def test_bp_panel_heart_rate_and_spo2_attach_to_the_session(tmp_path):
    session = {
        "resourceType": "MedicationAdministration",
        "id": "ma-1",
        "status": "completed",
        "subject": {"reference": "Patient/pt-1"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "6130"}],
            "text": "ketamine",
        },
        "effectivePeriod": {
            "start": "2024-05-01T10:00:00-04:00",
            "end": "2024-05-01T10:40:00-04:00",
        },
        "dosage": {"route": {"text": "Intravenous"}, "dose": {"value": 35, "unit": "mg"}},
        "category": {"text": "induction infusion"},
        "extension": [{"url": "urn:kapoutcomes:fhir:care-model", "valueCode": "infusion_only"}],
    }
    bp = _obs("85354-9", {}, when="2024-05-01T10:01:00-04:00")
    bp["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {"value": 128},
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {"value": 81},
        },
    ]
    rep = import_files(
        [
            _bundle(
                _patient(),
                session,
                bp,
                _obs("8867-4", {"valueQuantity": {"value": 77}}, when="2024-05-01T10:02:00-04:00"),
                _obs("59408-5", {"valueQuantity": {"value": 97}}, when="2024-05-01T10:50:00-04:00"),
            )
        ],
        tmp_path / "s.duckdb",
        clinic="C",
        secret=SECRET,
    )
    (f,) = rep.files
    assert (f.rows_read, f.accepted, f.quarantined, f.skipped) == (5, 5, 0, 0), f.to_dict()
    with Store(tmp_path / "s.duckdb") as st:
        (s,) = st.read("sessions").to_dicts()
    assert (s["session_type"], s["route"], s["dose_mg"], s["infusion_minutes"]) == (
        "induction",
        "IV",
        35.0,
        40,
    )
    assert (
        s["bp_systolic_before"],
        s["bp_diastolic_before"],
        s["heart_rate_before"],
        s["spo2_after"],
    ) == (128, 81, 77, 97)


# -- medications and other resources --------------------------------------------------------
def _med(code: str, text: str, dosage: list | None, when: str = "2024-01-10") -> dict:
    r = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/pt-1"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": code}],
            "text": text,
        },
        "authoredOn": when,
    }
    if dosage is not None:
        r["dosageInstruction"] = dosage
    return r


def test_medication_requests_give_daily_mme_or_a_reason(tmp_path):
    every_6h = [
        {
            "timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
            "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
        }
    ]
    rep = import_files(
        [
            _bundle(
                _patient(),
                _med("1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet", every_6h),
                _med("197696", "72 HR Fentanyl 0.025 MG/HR Transdermal System", [], "2024-01-11"),
                _med(
                    "835603", "tramadol hydrochloride 50 MG Oral Tablet", [{"text": "1 tab PO q8h"}]
                ),
                _med(
                    "1049621",
                    "Oxycodone Hydrochloride 5 MG Oral Tablet",
                    [{"text": "as directed"}],
                    "2024-02-01",
                ),
                _med("1049621", "Oxycodone Hydrochloride 5 MG Oral Tablet", None, "2024-03-01"),
                _med("310965", "Ibuprofen 200 MG Oral Tablet", None),
                {"resourceType": "Condition", "subject": {"reference": "Patient/pt-1"}},
                {"resourceType": "Encounter", "subject": {"reference": "Patient/pt-1"}},
            )
        ],
        tmp_path / "s.duckdb",
        clinic="C",
        secret=SECRET,
    )
    (f,) = rep.files
    assert (f.rows_read, f.accepted, f.quarantined, f.skipped) == (9, 4, 2, 3), f.to_dict()
    reasons = {r.reason: r.rows for r in f.quarantine_reasons}
    assert any("no dosage timing" in r for r in reasons) and any("not a sig" in r for r in reasons)
    skips = {r.reason for r in f.skip_reasons}
    assert "FHIR Encounter: resource type not imported by kapoutcomes" in skips
    with Store(tmp_path / "s.duckdb") as st:
        o = st.read("opioids").sort("ingredient")
    assert o.select("ingredient", "daily_dose", "daily_mme").rows() == [
        ("fentanyl", 25.0, 60.0),
        ("oxycodone", 40.0, 60.0),
        ("tramadol", 150.0, 30.0),
    ]


def test_adverse_events_and_repeat_imports(tmp_path):
    ae = {
        "resourceType": "AdverseEvent",
        "id": "ae-1",
        "actuality": "actual",
        "subject": {"reference": "Patient/pt-1"},
        "event": {"coding": [{"system": "urn:kapoutcomes:fhir:event", "code": "nausea_vomiting"}]},
        "severity": {"coding": [{"code": "mild"}]},
        "date": "2024-05-01T11:00:00-04:00",
    }
    odd = {**ae, "id": "ae-2", "event": {"text": "strange metallic taste"}}
    data = _bundle(_patient(), ae, odd, _obs("72514-3", {"valueInteger": 6}))
    db = tmp_path / "s.duckdb"
    first = import_files([data], db, clinic="C", secret=SECRET).files[0]
    assert (first.accepted, first.quarantined, first.skipped) == (4, 0, 0)
    again = import_files([data], db, clinic="C", secret=SECRET).files[0]
    assert again.already_imported
    # the same resources in another file (a later export): duplicates, nothing written
    nd = ("later.ndjson", _ndjson(_patient(), ae, odd, _obs("72514-3", {"valueInteger": 6})))
    later = import_files([nd], db, clinic="C", secret=SECRET).files[0]
    assert (later.rows_read, later.accepted, later.skipped, later.duplicates) == (4, 0, 4, 4)
    with Store(db) as st:
        ev = st.read("adverse_events").sort("event")
    assert ev.select("event", "event_text", "severity").rows() == [
        ("nausea_vomiting", None, "mild"),
        ("other", "strange metallic taste", "mild"),
    ]


def test_cli_imports_a_bulk_export_folder(tmp_path):
    from kapoutcomes import cli

    folder = tmp_path / "bulk"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(_ndjson(_patient()))
    (folder / "Observation.ndjson").write_bytes(_ndjson(_obs("72514-3", {"valueInteger": 6})))
    (folder / "Condition.ndjson").write_bytes(
        _ndjson({"resourceType": "Condition", "subject": {"reference": "Patient/pt-1"}})
    )
    code = cli.main(["import", str(folder), "--store", str(tmp_path / "s.duckdb"), "--clinic", "C"])
    assert code in (0, None)
    with Store(tmp_path / "s.duckdb") as st:
        assert st.read("assessments").height == 1
        assert st.query("SELECT count(*) AS n FROM import_ledger").item() == 3


def test_entries_of_a_bundle_source_from_bytes():
    src = Source("b.json", _bundle(_patient(), {"resourceType": "Encounter"})[1])
    rows = [(e.row, e.resource["resourceType"]) for e in reader.entries(src)]
    assert rows == [(1, "Patient"), (2, "Encounter")]


# -- the demo cohort's FHIR bulk export ------------------------------------------------------
SAMPLE = ROOT / "sample_data"


@pytest.mark.skipif(not (SAMPLE / "exports" / "fhir").exists(), reason="sample data not generated")
def test_demo_fhir_export_gives_the_same_report_as_the_canonical_csvs(tmp_path):
    from kapoutcomes.cohort.summary import cohort_summary
    from kapoutcomes.present import report

    csv_rep = import_files([SAMPLE / "demo"], tmp_path / "csv.duckdb", secret=SECRET)
    fhir_rep = import_files([SAMPLE / "exports" / "fhir"], tmp_path / "fhir.duckdb", secret=SECRET)
    for f in fhir_rep.files:
        assert f.preset == "fhir" and f.rows_read == f.accepted, f.to_dict()
    assert sum(f.rows_read for f in fhir_rep.files) == sum(f.rows_read for f in csv_rep.files)
    out = []
    for db in ("csv.duckdb", "fhir.duckdb"):
        with Store(tmp_path / db, read_only=True) as st:
            tabs = st.read_all()
        out.append((tabs, json.loads(report.to_json(cohort_summary(tabs, None)))))
    (csv_tabs, csv_json), (fhir_tabs, fhir_json) = out
    for table, frame in csv_tabs.items():  # the same rows (in another order)
        assert frame.sort(pl.all()).equals(fhir_tabs[table].sort(pl.all())), table
    assert _differences(csv_json, fhir_json) == []


@needs_fixtures
def test_resources_of_the_wrong_shape_are_quarantined_never_a_traceback(tmp_path):
    """Elements of the wrong JSON type (a list for an object, a number for a string, ...) in
    every resource of both Bundles: the import reconciles, and only IngestError may stop it."""
    import random

    rng = random.Random(13)
    junk = [[], {}, 7, "x", None, True, [{"a": 1}], {"reference": 5}, {"coding": "LA6568-5"}]
    for name in ("brenda_jackson.json", "lois_lane.json"):
        bundle = json.loads((FIXTURES / name).read_text())
        for run in range(6):
            b = copy.deepcopy(bundle)
            for e in b["entry"]:
                res = e["resource"]
                for key in rng.sample(sorted(res), k=min(2, len(res) - 1)):
                    if key != "resourceType":
                        res[key] = rng.choice(junk)
            db = tmp_path / f"{name}-{run}.duckdb"
            data = (f"{run}.json", json.dumps(b).encode())
            try:
                rep = import_files([data], db, clinic="C", secret=SECRET)
            except IngestError:
                continue
            (f,) = rep.files
            assert f.rows_read == f.accepted + f.quarantined + f.skipped == len(b["entry"])


def test_a_subject_that_is_not_a_patient_has_no_patient(tmp_path):
    obs = _obs("72514-3", {"valueInteger": 5})
    obs["subject"] = {"reference": "Group/clinic-list"}
    rep = import_files([_bundle(_patient(), obs)], tmp_path / "s.duckdb", clinic="C", secret=SECRET)
    (f,) = rep.files
    assert (f.quarantined, f.accepted) == (1, 0)  # the patient row needs a surviving fact
    assert "patient identifier" in f.quarantine_reasons[0].reason


def test_a_quarantined_patient_keeps_its_birth_year_only(tmp_path):
    rep = import_files(
        [_bundle(_patient(), _obs("72514-3", {"valueInteger": 5}))],
        tmp_path / "s.duckdb",
        secret=SECRET,
    )
    (f,) = rep.files  # no clinic anywhere: the Patient (and its score) wait in the quarantine
    assert f.quarantined == 2
    assert any("managingOrganization" in (r.column or "") for r in f.quarantine_reasons)
    with Store(tmp_path / "s.duckdb") as st:
        q = st.read("quarantine", validate=False)
    blob = " ".join(str(v) for row in q.rows() for v in row)
    assert "1971" in blob and "1971-06-30" not in blob and "Quarterbridge" not in blob
    assert "pt-1" not in blob  # the Patient id appears only as its pseudonym


def test_a_bulk_export_manifest_is_passed_by_and_a_table_named_ndjson_is_read_as_one(tmp_path):
    folder = tmp_path / "bulk"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(_ndjson(_patient()))
    (folder / "Observation.ndjson").write_bytes(_ndjson(_obs("72514-3", {"valueInteger": 6})))
    manifest = {"transactionTime": "2024-06-01T00:00:00Z", "request": "x", "output": []}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "scores.ndjson").write_text("MRN,Date,LOINC,Value\nM1,2024-05-03,72514-3,4\n")
    rep = import_files([folder], tmp_path / "s.duckdb", clinic="C", secret=SECRET)
    assert [(f.file, f.preset, f.accepted) for f in rep.files] == [
        ("Observation.ndjson", "fhir", 1),
        ("Patient.ndjson", "fhir", 1),
        ("scores.ndjson", "long", 1),
    ]


def test_questionnaire_answers_as_ll358_codes_text_and_item_numbers():
    gad = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "Questionnaire/gad-7",
        "item": [
            {"linkId": f"gad7-{i}", "answer": [{"valueCoding": {"code": code}}]}
            for i, code in enumerate(
                [
                    "LA6568-5",
                    "LA6569-3",
                    "LA6570-1",
                    "LA6571-9",
                    "LA6569-3",
                    "LA6568-5",
                    "LA6570-1",
                ],
                start=1,
            )
        ],
    }
    assert score_response(gad).facts == [("70274-6", "9")]
    peg = {
        "resourceType": "QuestionnaireResponse",
        "item": [
            {"linkId": "/75893-8", "answer": [{"valueInteger": 7}]},
            {"linkId": "/91145-3", "answer": [{"valueInteger": 5}]},
            {"linkId": "/91146-1", "answer": [{"valueDecimal": 4.0}]},
        ],
    }
    assert score_response(peg).instrument == "peg"
    assert score_response(peg).facts == [("91147-9", "5.333")]
    text9 = _qr({})
    text9["item"] = [
        {"linkId": code, "answer": [{"valueString": "Nearly every day"}]} for code in PHQ9_ITEMS
    ]
    assert score_response(text9).facts == [("44261-6", "27"), ("44260-8", "3")]


def test_other_questionnaire_items_as_observations_are_skipped_as_item_answers(tmp_path):
    rep = import_files(
        [
            _bundle(
                _patient(),
                _obs("44250-9", {"valueInteger": 2}),
                _obs("44260-8", {"valueInteger": 0}),
            )
        ],
        tmp_path / "s.duckdb",
        clinic="C",
        secret=SECRET,
    )
    (f,) = rep.files
    assert (f.accepted, f.skipped) == (2, 1)
    assert [r.reason for r in f.skip_reasons] == [
        "item-level answers are kept for PHQ-9 item 9 only"
    ]


def test_a_patients_name_in_another_file_of_a_bulk_export_is_scrubbed(tmp_path):
    """The attack (issue 15, second pass): a bulk export whose Patient.ndjson names a patient
    ("Zebediah Quixworth") and whose AdverseEvent.ndjson notes say "Zebediah upset". Each
    file was scrubbed of its own Patients' names only, so the adverse event's text kept his
    first name. Every FHIR file of one import is scrubbed of all the import's names."""
    import shutil

    folder = tmp_path / "bulk"
    shutil.copytree(ROOT / "sample_data" / "exports" / "fhir", folder)
    patients = [json.loads(line) for line in (folder / "Patient.ndjson").read_text().splitlines()]
    patients[1]["name"] = [{"family": "Quixworth", "given": ["Zebediah"]}]
    pid = patients[1]["id"]
    (folder / "Patient.ndjson").write_text("\n".join(json.dumps(p) for p in patients) + "\n")
    events = [
        json.loads(line) for line in (folder / "AdverseEvent.ndjson").read_text().splitlines()
    ]
    mine = [e for e in events if e["subject"]["reference"] == f"Patient/{pid}"]
    for e in mine:
        e["event"]["text"] = "out of body feeling; Zebediah upset, Quixworth family called"
    mine[-1]["severity"] = {"coding": [{"code": "catastrophic"}]}  # quarantined
    (folder / "AdverseEvent.ndjson").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    db = tmp_path / "s.duckdb"
    rep = import_files([folder], db, secret=SECRET)
    assert rep.quarantined >= 1
    with Store(db) as st:
        stored = st.read("adverse_events", validate=False).get_column("event_text").to_list()
        held = st.read("quarantine", validate=False).get_column("raw_row").to_list()
    text = " ".join(str(t) for t in [*stored, *held])
    assert "out of body feeling" in text
    assert "Zebediah" not in text and "Quixworth" not in text
