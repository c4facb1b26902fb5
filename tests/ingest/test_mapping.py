"""The wide per-visit layout's mapping file (kapoutcomes.ingest.mapping): parsing, checking,
matching headers and the timing rule, on small mappings written here."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.ingest import mapping
from kapoutcomes.ingest.errors import IngestError

MINIMAL = {"columns": {"mrn": "MRN", "started_at": "Visit Date"}}


def _parse(**sections) -> mapping.Mapping:
    return mapping.parse({**MINIMAL, **sections}, "m.toml")


def test_minimal_mapping_takes_the_defaults():
    m = _parse()
    assert m.columns == {"mrn": "MRN", "started_at": "Visit Date"}
    assert (m.dose_unit, m.weight_unit, m.after_dose_minutes) == ("mg", "kg", 60.0)
    assert m.assessments == () and m.day_first is None


def test_assessment_instrument_names_are_recognised_and_values_kept():
    m = _parse(
        file={"day_first": True, "care_model": "KAP", "after_dose_minutes": 90},
        assessments=[{"column": "PHQ-9 Score", "instrument": "PHQ-9", "timing": "before_dose"}],
        values={"session_type": {"Maint. infusion": "maintenance"}},
    )
    assert m.assessments == (mapping.AssessmentColumn("PHQ-9 Score", "phq9", "before_dose"),)
    assert m.values == {"session_type": {"Maint. infusion": "maintenance"}}
    assert (m.day_first, m.care_model, m.after_dose_minutes) == (True, "KAP", 90.0)
    assert m.mapped_headers() == ["MRN", "Visit Date", "PHQ-9 Score"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"columns": {"mrn": "MRN"}}, "needs started_at"),
        ({**MINIMAL, "extra": {}}, "unknown section(s) extra"),
        ({**MINIMAL, "file": {"colour": "red"}}, "unknown key(s) in [file]: colour"),
        ({**MINIMAL, "file": {"preset": "long"}}, 'preset = "wide"'),
        ({"columns": {**MINIMAL["columns"], "pulse": "P"}}, "unknown field(s) in [columns]: pulse"),
        ({"columns": {**MINIMAL["columns"], "clinician": "Patient Name"}}, "direct identifier"),
        ({**MINIMAL, "assessments": [{"column": "X"}]}, "entry 1 needs column and instrument"),
        ({**MINIMAL, "assessments": [{"column": "X", "instrument": "mood"}]}, "unknown instrument"),
        (
            {**MINIMAL, "assessments": [{"column": "X", "instrument": "phq9", "timing": "later"}]},
            "timing 'later'",
        ),
        ({**MINIMAL, "values": {"route": {"I.V.": "vein"}}}, "'vein' is not one of"),
        ({**MINIMAL, "values": {"clinician": {}}}, "values can be translated for"),
        ({**MINIMAL, "file": {"route": "rectal"}}, "route = 'rectal' is not one of"),
        ({**MINIMAL, "file": {"day_first": "yes"}}, "day_first must be true or false"),
    ],
)
def test_each_mistake_is_named(data, says):
    with pytest.raises(IngestError) as e:
        mapping.parse(data, "m.toml")
    assert says in str(e.value)
    assert str(e.value).startswith("m.toml: mapping file: ")


def test_load_reads_an_upload_and_names_bad_toml():
    m = mapping.load(("up.toml", b'\xef\xbb\xbf[columns]\nmrn = "MRN"\nstarted_at = "Date"\n'))
    assert m.path == "up.toml" and m.columns["started_at"] == "Date"
    with pytest.raises(IngestError, match="not valid TOML"):
        mapping.load(("bad.toml", b"[columns\n"))
    with pytest.raises(IngestError, match="not a text file"):
        mapping.load(("bin.toml", b"\xff\xfe\x00"))


def test_fit_matches_headers_ignoring_case_and_punctuation():
    m = _parse(assessments=[{"column": "Pain (before)", "instrument": "pain_nrs"}])
    fit = m.fit("v.csv", ["mrn", "VISIT-DATE", "pain before", "Notes"])
    assert fit.roles == {"mrn": "mrn", "started_at": "VISIT-DATE", "@Pain (before)": "pain before"}
    assert (fit.preset, fit.kind, fit.complete) == ("wide", "visits", True)
    with pytest.raises(IngestError, match="names columns the file does not have: Visit Date"):
        m.fit("v.csv", ["MRN", "Pain before"])


def test_before_and_after_dose_timings_apply_only_at_dosing_visits():
    kinds = pl.Series(["induction", "screening", "integration", "booster"])
    assert mapping.timing_for("before_dose", kinds).to_list() == [
        "before_dose",
        "baseline",
        "follow_up",
        "before_dose",
    ]
    assert mapping.timing_for("follow_up", kinds).to_list() == ["follow_up"] * 4
    assert mapping.timing_for(None, kinds).to_list() == [None] * 4


def test_nm_header():
    assert mapping.nm_header(" BP (pre)") == mapping.nm_header("bp pre") == "bppre"


def test_a_severity_assumed_by_the_mapping_is_said_in_the_report(tmp_path):
    """Clinical check (issue 14): Riverside's side effects are free text without a severity;
    its mapping records them as mild. The Safety page's severity table then reads "mild" for
    every event (the demo truth behind the sample export has 54 moderate and 10 severe), so
    the import report says how many severities the mapping assumed. By hand: "nausea" and
    "drowsy" have no severity (2 assumed); "severe headache" states its own (not counted)."""
    from kapoutcomes.ingest import import_files

    toml = (
        '[file]\nclinic = "C"\ncare_model = "KAP"\nroute = "IV"\nseverity_when_unstated = "mild"\n'
        '[columns]\nmrn = "MRN"\nstarted_at = "Visit"\nsession_type = "Type"\ndose = "Dose"\n'
        'side_effects = "Side effects"\n[values.session_type]\n"Infusion" = "induction"\n'
    )
    csv = (
        "MRN,Visit,Type,Dose,Side effects\n"
        "A-1,2024-03-05 10:00,Infusion,35 mg,nausea\n"
        'A-1,2024-03-06 10:00,Infusion,35 mg,"drowsy, severe headache"\n'
    )
    rep = import_files(
        [("visits.csv", csv.encode())],
        tmp_path / "s.duckdb",
        mapping=("m.toml", toml.encode()),
        secret=b"k" * 32,
    )
    (f,) = rep.files
    said = [n for n in f.notes if "no severity" in n]
    assert said == [
        "2 side effect(s) had no severity in the file: recorded as mild (the mapping's "
        "severity_when_unstated), not graded by a clinician"
    ]


def test_a_file_without_its_header_line_does_not_echo_its_first_row():
    """The attack (issue 15, second pass): a visit export saved without its header line, so
    its first row ("Olivia Johnson;Springfield;Riverside") is read as column names. The
    mapping's error listed "the file's columns are: Olivia Johnson, Springfield, Riverside"
    (names without digits pass the value-shaped check). With none of the mapping's columns
    found, the first line is not listed; with some found, the columns still are."""
    m = _parse()
    with pytest.raises(IngestError) as e:
        m.fit("v.csv", ["Olivia Johnson", "Springfield", "Riverside"])
    assert "Olivia" not in str(e.value) and "Springfield" not in str(e.value)
    assert "not listed" in str(e.value)
    with pytest.raises(IngestError, match="the file's columns are: MRN, Pain before"):
        m.fit("v.csv", ["MRN", "Pain before"])
