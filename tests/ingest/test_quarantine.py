"""The quarantine download (kapoutcomes.ingest.quarantine): one line per quarantined row,
de-identified and formula-safe, on a three-row export worked by hand."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.ingest import import_files, quarantine
from kapoutcomes.ingest.pipeline import find_patient_id
from kapoutcomes.storage.store import Store

SECRET = b"quarantine-test-secret-quarantine-test"
# line 2 fine; line 3 not a score (and a spreadsheet formula); line 4 a PHQ-9 over 27
EXPORT = (
    "MRN,Patient Name,Date,Observation,Value\n"
    "A100,Jane Roe,2024-02-01,Pain NRS,7\n"
    'A100,Jane Roe,2024-02-08,Pain NRS,"=HYPERLINK(""x"")"\n'
    "B200,John Doe,2024-02-01,PHQ-9,31\n"
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    path = tmp_path / "obs.csv"
    path.write_text(EXPORT, encoding="utf-8")
    db = tmp_path / "s.duckdb"
    rep = import_files([path], db, clinic="North", secret=SECRET)
    assert (rep.accepted, rep.quarantined) == (1, 2)
    return db


def test_one_line_per_quarantined_row_with_reason_file_and_line(store):
    with Store(store, read_only=True) as st:
        q = quarantine.quarantine_frame(st)
    assert q.columns == ["MRN", "Date", "Observation", "Value", "quarantine_reason",
                         "quarantine_file", "quarantine_row", "quarantine_import"]  # fmt: skip
    assert q.get_column("quarantine_row").to_list() == ["3", "4"]
    assert q.get_column("quarantine_file").to_list() == ["obs.csv", "obs.csv"]
    reasons = q.get_column("quarantine_reason").to_list()
    assert reasons[0].startswith("Value: expected a score")
    assert reasons[1] == "score: expected a phq9 total from 0 to 27"
    # de-identified: the name column is gone, the MRN is its pseudonym
    assert q.get_column("MRN").to_list() == [find_patient_id("A100", SECRET),
                                             find_patient_id("B200", SECRET)]  # fmt: skip
    assert "Jane" not in str(q.to_dicts())


def test_filters_by_file_and_status(store):
    with Store(store, read_only=True) as st:
        assert quarantine.quarantine_frame(st, file_name="other.csv").height == 0
        assert quarantine.quarantine_frame(st, status="corrected").height == 0
        imp = quarantine.quarantine_frame(st).get_column("quarantine_import")[0]
        assert quarantine.quarantine_frame(st, import_id=imp).height == 2


def test_csv_has_a_bom_and_defuses_formulas(store):
    with Store(store, read_only=True) as st:
        data = quarantine.quarantine_csv(st)
    assert data.startswith(b"\xef\xbb\xbfMRN,Date,")
    assert b"'=HYPERLINK" in data  # a leading quote keeps the spreadsheet from running it
    assert b",=HYPERLINK" not in data


def test_the_quarantine_round_trips_one_file_per_source_file(tmp_path):
    """Issue 13: one quarantine CSV of several layouts was read as one of them (a medication
    row as an observation: a patient without birth year or sex, no prescription). One file
    per source file, each re-importable as it is."""
    from kapoutcomes.ingest import import_files, quarantine_files
    from kapoutcomes.storage.store import Store

    secret = b"round-trip-secret-round-trip-secret!!"
    db = tmp_path / "s.duckdb"
    pat = (
        b"Id,BIRTHDATE,GENDER,SSN,FIRST,LAST\n"
        b"k1,1975-01-01,F,999-11-2222,Ann,Example\nk2,13/45/80,M,999-33-4444,Bob,Sample\n"
    )
    obs = (
        b"DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS\n"
        b"2024-01-01T00:00:00Z,k1,e,72514-3,Pain,55,{score}\n"
        b"2024-01-03T00:00:00Z,k1,e,72514-3,Pain,5,{score}\n"
        b"2024-01-05T00:00:00Z,k2,e,72514-3,Pain,4,{score}\n"
    )
    med = (
        b"START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,"
        b"DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION\n"
        b"2024-01-01T00:00:00Z,,k1,p,e,1049625,Acetaminophen 325 MG / Oxycodone Hydrochloride"
        b" 10 MG Oral Tablet,1,1,6,1,,\n"
        b"2024-13-45,,k1,p,e,1049625,Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG"
        b" Oral Tablet,1,1,6,1,,\n"
    )
    files = [("patients.csv", pat), ("observations.csv", obs), ("medications.csv", med)]
    rep = import_files(files, db, clinic="C", secret=secret)
    assert rep.quarantined == 4  # k2's score waits for k2's patient row

    def tables():
        with Store(db) as st:
            return {t: st.read(t, validate=False) for t in ("patients", "assessments", "opioids")}

    before = tables()
    with Store(db) as st:
        out = quarantine_files(st)
    assert sorted(out) == [
        "quarantine_medications.csv",
        "quarantine_observations.csv",
        "quarantine_patients.csv",
    ]
    assert all(b"Ann" not in data and b"999-" not in data for data in out.values())
    # imported again as they are: each read as its own layout, quarantined again, nothing new
    again = import_files(list(out.items()), db, clinic="C", secret=secret)
    kinds = {f.file: f.kind for f in again.files}
    assert kinds == {
        "quarantine_medications.csv": "medications",
        "quarantine_observations.csv": "observations",
        "quarantine_patients.csv": "patients",
    }
    assert again.quarantined == 4 and again.accepted == 0
    after = tables()
    for t, fr in before.items():
        assert after[t].equals(fr), t
    # corrected: each fact lands where it belongs
    with Store(db) as st:
        fixed = {
            name: data.replace(b"2024-13-45", b"2024-01-02")
            .replace(b",55,", b",6,")
            .replace(b"unreadable date of birth: enter the year", b"1980")
            for name, data in quarantine_files(st).items()
        }
    done = import_files(list(fixed.items()), db, clinic="C", secret=secret)
    assert (done.accepted, done.quarantined) == (4, 0), done.text()
    final = tables()
    assert final["opioids"].height == before["opioids"].height + 1
    assert final["assessments"].height == before["assessments"].height + 2
    patients = final["patients"]
    assert before["patients"].height == 1 and patients.height == 2
    assert patients.get_column("birth_year").null_count() == 0
    assert "unknown" not in patients.get_column("sex").to_list()


RIVERSIDE = "sample_data/mappings/riverside_visits.toml"
CANONICAL_PATIENTS = (
    b"patient_id,clinic,primary_condition,comorbid_depression,sex,birth_year,referral_date,"
    b"psychosis_history,cardiovascular_disease,raised_intracranial_pressure,"
    b"substance_use_disorder,interacting_medication\n"
    b"A1,North,fibromyalgia,no,F,1970,2023-12-01,no,no,no,no,no\n"
)
#: source kind -> (files, import options, the correction made in the downloaded file)
ROUND_TRIPS = {
    "canonical": (
        [
            ("patients.csv", CANONICAL_PATIENTS),
            (
                "assessments.csv",
                b"patient_id,assessed_at,instrument,score,timing\n"
                b"A1,2024-01-01T10:00,pain_nrs,12,baseline\n"
                b"A1,2024-01-02T10:00,pain_nrs,5,before_dose\n",
            ),
        ],
        {},
        (b",12,", b",6,"),
    ),
    "long": (
        [("obs.csv", EXPORT.encode().replace(b'"=HYPERLINK(""x"")"', b"6"))],
        {"clinic": "North"},
        (b",31,", b",6,"),
    ),
    "wide mapping": (
        [
            (
                "visits.csv",
                b"MRN;Patient Name;dob;Phone;Visit Date;visit time;VISIT TYPE;Route;Dose;"
                b"Weight;Pain Before;pain after;PHQ-9 Score;BP (pre);BP (post);Pulse;"
                b"Side Effects;Charge;Provider\n"
                b"D1;Ann Example;4/6/1971;(821) 555-0106;10/17/2024;9:30 AM;Induction #1;IV;"
                b"35 mg;150 lbs;8;4;17;136/85;149/96;77;none;;RPC-03\n"
                b"D1;Ann Example;4/6/1971;(821) 555-0106;10/19/2024;9:30 AM;Induction #2;IV;"
                b"lots;150 lbs;7;3;15;136/85;149/96;77;none;;RPC-03\n",
            )
        ],
        {"mapping": RIVERSIDE},
        (b",lots,", b",40 mg,"),
    ),
}


@pytest.mark.parametrize("kind", sorted(ROUND_TRIPS))
def test_a_downloaded_quarantine_file_imports_again_as_the_same_layout(tmp_path, kind):
    """Each source kind: the download, imported as it is, is quarantined again and adds
    nothing; corrected, its rows are accepted. No identifier column is in the download."""
    from kapoutcomes.ingest import quarantine_files

    files, options, (wrong, right) = ROUND_TRIPS[kind]
    secret = b"round-trip-secret-round-trip-secret!!"
    db = tmp_path / "s.duckdb"
    first = import_files(files, db, secret=secret, **options)
    n = first.quarantined
    assert n >= 1

    def contents():
        with Store(db) as st:
            names = ("patients", "sessions", "assessments", "opioids", "adverse_events")
            return {t: st.read(t, validate=False).sort(pl.all()) for t in names}

    before = contents()
    with Store(db) as st:
        out = quarantine_files(st)
    assert all(b"Ann" not in d and b"Jane" not in d and b"555-" not in d for d in out.values())
    again = import_files(list(out.items()), db, secret=secret, **options)
    assert (again.accepted, again.quarantined) == (0, n), again.text()
    assert all(contents()[t].equals(fr) for t, fr in before.items())
    with Store(db) as st:
        fixed = [(k, v.replace(wrong, right)) for k, v in quarantine_files(st).items()]
    done = import_files(fixed, db, secret=secret, **options)
    assert (done.accepted, done.quarantined) == (n, 0), done.text()
    after = contents()
    assert sum(f.height for f in after.values()) > sum(f.height for f in before.values())


def test_a_fhir_quarantine_download_imports_again_as_the_layouts_read(tmp_path):
    """A quarantined FHIR resource is kept as the rows of the layout it was read into (a
    score as a canonical assessment with its session, a MedicationRequest as a medication
    list row), so that its download imports again as it is (quarantined again, nothing new)
    and, corrected, lands where the resource would have."""
    import io
    import json
    from pathlib import Path

    from kapoutcomes.ingest import quarantine_files

    pid = "p_0043890673d5da93"
    export = Path("sample_data/exports/fhir")
    files = []
    for name in ("Patient", "MedicationAdministration", "Procedure", "Observation",
                 "MedicationRequest"):  # fmt: skip
        lines = [x for x in (export / f"{name}.ndjson").read_text().splitlines() if pid in x]
        if name == "Observation":  # a pain score of 55
            lines[2] = lines[2].replace(
                '"valueQuantity":{"value":4}', '"valueQuantity":{"value":55}'
            )
            assert '"value":55' in lines[2]
        if name == "MedicationRequest":  # no dosage: no daily dose
            res = json.loads(lines[0])
            del res["dosageInstruction"]
            lines[0] = json.dumps(res)
        files.append((f"{name}.ndjson", ("\n".join(lines) + "\n").encode()))
    secret = b"round-trip-secret-round-trip-secret!!"
    db = tmp_path / "s.duckdb"
    first = import_files(files, db, secret=secret)
    assert first.quarantined == 2, first.text()

    def contents():
        with Store(db) as st:
            names = ("patients", "sessions", "assessments", "opioids", "adverse_events")
            return {t: st.read(t, validate=False).sort(pl.all()) for t in names}

    before = contents()
    with Store(db) as st:
        out = quarantine_files(st)
    assert sorted(out) == ["quarantine_MedicationRequest.csv", "quarantine_Observation.csv"]
    obs = pl.read_csv(io.BytesIO(out["quarantine_Observation.csv"]), infer_schema=False)
    assert obs.get_column("session_id").to_list() == [f"{pid}-s003"]  # the link is kept
    again = import_files(list(out.items()), db, secret=secret)
    kinds = {f.file: f"{f.preset}:{f.kind}" for f in again.files}
    assert kinds == {
        "quarantine_MedicationRequest.csv": "medications:medications",
        "quarantine_Observation.csv": "canonical:assessments",
    }
    assert (again.accepted, again.quarantined) == (0, 2), again.text()
    assert all(contents()[t].equals(fr) for t, fr in before.items())
    with Store(db) as st:
        out = quarantine_files(st)
    med = pl.read_csv(io.BytesIO(out["quarantine_MedicationRequest.csv"]), infer_schema=False)
    fixed = {
        "quarantine_Observation.csv": out["quarantine_Observation.csv"].replace(b",55,", b",5,"),
        "quarantine_MedicationRequest.csv": med.with_columns(frequency=pl.lit("6"))
        .write_csv()
        .encode(),
    }
    done = import_files(list(fixed.items()), db, secret=secret)
    assert (done.accepted, done.quarantined) == (2, 0), done.text()
    after = contents()
    assert after["assessments"].height == before["assessments"].height + 1
    assert after["opioids"].height == before["opioids"].height + 1
    assert after["opioids"].get_column("daily_dose").to_list() == [30.0]  # 5 mg x 6 a day


WIDE_TOML = (
    b'[file]\nclinic = "C"\ncare_model = "KAP"\nroute = "IV"\n[columns]\nmrn = "MRN"\n'
    b'started_at = "Visit"\nsession_type = "Type"\ndose = "Dose"\n'
    b'side_effects = "Side effects"\nweight = "Weight"\n[[assessments]]\ncolumn = "Pain"\n'
    b'instrument = "pain_nrs"\ntiming = "before_dose"\n[values.session_type]\n'
    b'"Infusion" = "induction"\n'
)


WIDE_HEADER = b"MRN,Visit,Type,Dose,Pain,Side effects,Weight,Patient Name"


def _wide_quarantine(
    rows: bytes, toml: bytes = WIDE_TOML, header: bytes = WIDE_HEADER
) -> tuple[str, pl.DataFrame]:
    """Everything the store holds as text, and the quarantine download, after importing a
    visit export with a `Patient Name` column (mapping ``toml``)."""
    from bench import fuzz_import as fz

    data = header + b"\n" + rows
    with Store(":memory:") as st:
        rep = import_files(
            [("visits.csv", data)], st, clinic="C", secret=SECRET, mapping=("wide.toml", toml)
        )
        assert rep.reconciles
        return " ".join(fz._store_text(st).values()), quarantine.quarantine_frame(st)


def test_a_shifted_row_keeps_no_relatives_name_from_its_free_text():
    """Found by fuzzing (bug 11, seed 24): a visit row short of cells, so the patient's name
    sits in the free-text `Side effects` column and its own `Patient Name` cell is empty: the
    file's identifier words miss the name, and free text is not read as evidence of a shift.
    The row fails in four columns (date "N/A", type "-510511", dose "severe panic; BP up",
    pain "heavy"): its cells are shifted, so it keeps none; its reasons are kept."""
    text, q = _wide_quarantine(
        b"M1,2024-03-04,Infusion,35,6,mild nausea,80,Ann Other\n"
        b"M1,N/A,-510511,severe panic; BP up,heavy,Zebediah Quixworth\n"
    )
    assert "Zebediah" not in text and "Quixworth" not in text and "Ann" not in text
    assert q.get_column("quarantine_row").unique().to_list() == ["3"]
    assert "a date is required" in " ".join(q.get_column("quarantine_reason").to_list())


def test_an_ordinary_bad_row_keeps_its_side_effect_text_for_correction():
    """The control: one failing cell (a pain score of 12) is a typo, not a shift; the row's
    side-effect text, two capitalised words, stays in the download to be corrected."""
    text, q = _wide_quarantine(b"M1,2024-03-04,Infusion,35,12,Mild Nausea,80,Ann Other\n")
    assert q.get_column("Side effects").to_list() == ["Mild Nausea"]
    assert "Ann" not in text


def test_a_row_without_its_own_name_cell_keeps_no_name_shaped_free_text():
    """The next variant of bug 11 (found by reading its case, not yet by the fuzzer): a row
    cut short before its `Weight` and `Patient Name` cells, whose side effects read "mild
    nausea; Zebediah Quixworth". No identifier cell of the file holds the name, and the row
    fails in one free-text column only ("Zebediah Quixworth" has no severity), so neither
    earlier rule applied: the quarantine kept the name. Its own name cell being empty, the
    row now keeps no cells. With the mapping's severity_when_unstated the row is accepted,
    and the unknown side effect's text is kept as "[name]"."""
    short = (
        b"M1,2024-03-04,Infusion,35,6,mild nausea,80,Ann Other\n"
        b"M1,2024-03-05,Infusion,35,6,mild nausea; Zebediah Quixworth\n"
    )
    text, q = _wide_quarantine(short)
    assert "Zebediah" not in text and "Quixworth" not in text
    assert q.get_column("quarantine_row").to_list() == ["3"]
    assumed = WIDE_TOML.replace(
        b'route = "IV"\n', b'route = "IV"\nseverity_when_unstated = "mild"\n'
    )
    text, q = _wide_quarantine(short, assumed)
    assert q.height == 0 and "Zebediah" not in text
    assert "other [name] mild" in text  # adverse_events: event, event_text, severity
    # the control: the same text on a row whose own name cell is filled is kept as written
    # (its name is the file's identifier word "Ann Other"; "Zebediah Quixworth" is text)
    _, q = _wide_quarantine(
        b"M1,2024-03-05,Infusion,35,6,mild nausea; Zebediah Quixworth,80,Ann Other\n"
    )
    assert q.get_column("Side effects").to_list() == ["mild nausea; Zebediah Quixworth"]


ASSUMED_TOML = WIDE_TOML.replace(
    b'route = "IV"\n', b'route = "IV"\nseverity_when_unstated = "mild"\n'
)


@pytest.mark.parametrize(
    "name_cell",
    [
        b"Zebediah\x00Quixworth",
        b"Zebe\x00diah Quix\x00worth",
        b"Zebediah Quixworth " + b"x" * 33_000,
    ],
    ids=["NUL between the names", "NUL inside the names", "over-long name cell"],
)
def test_a_damaged_name_cell_still_scrubs_its_name_from_other_rows(name_cell):
    """Attack (atk3): a name cell with a NUL character, or longer than a cell may be, was
    cleaned (the NUL taken out: "ZebediahQuixworth"; the long cell emptied) before the file's
    identifier words were taken from it, so the name stayed in another row's side effects.
    An identifier cell is never stored: its words are taken from it as read."""
    rows = (
        b"M1,2024-03-04,Infusion,35,6,mild nausea,80," + name_cell + b"\n"
        b"M2,2024-03-05,Infusion,35,6,mild nausea; Zebediah Quixworth called,80,Bob Other\n"
    )
    text, q = _wide_quarantine(rows, ASSUMED_TOML)
    assert q.height == 0
    assert "zebediah" not in text.lower() and "quixworth" not in text.lower()
    assert "other [name] [name] called mild" in text


def test_a_nul_in_a_name_cell_leaves_other_text_as_written():
    """The control: a NUL in a name cell scrubs only that name; other words are kept."""
    rows = (
        b"M1,2024-03-04,Infusion,35,6,mild nausea,80,Ann\x00 Other\n"
        b"M2,2024-03-05,Infusion,35,6,mild nausea; hums a tune for Zeb,80,Bob Sample\n"
    )
    text, q = _wide_quarantine(rows, ASSUMED_TOML)
    assert q.height == 0 and "other hums a tune for Zeb mild" in text and "Ann" not in text


def test_an_unmapped_birth_date_in_a_failing_cell_is_not_kept():
    """Attack (atk3): a visit export with a `DOB` column the mapping does not read (so it is
    neither read nor an identifier column: only its header says birth date), and a row whose
    `Dose` cell holds the patient's date of birth (a shifted cell). The quarantine kept
    "04/06/1971" as the failing value and in the raw row."""
    text, q = _wide_quarantine(
        b"M1,2024-03-05,Infusion,04/06/1971,6,mild nausea,80,Ann Other,04/06/1971\n"
        b"M1,2024-03-06,Infusion,lots,6,mild nausea,80,Ann Other,04/06/1971\n",
        header=WIDE_HEADER + b",DOB",
    )
    assert "04/06/1971" not in text
    # the control: an ordinary bad dose is kept for correction
    assert q.get_column("Dose").to_list() == ["[name]", "lots"]


def test_another_rows_birth_date_in_a_failing_cell_is_not_kept():
    """Found by the attacker (atk3), fixed by the lead: row 3's `Dose` holds row 2's date of
    birth (a shifted cell; row 3's own DOB differs). Names are scrubbed across the whole file,
    birth dates were not: the quarantine kept "04/06/1971" as a plain date. Every date of
    birth written in the file is now scrubbed from failing and raw cells."""
    text, q = _wide_quarantine(
        b"M1,2024-03-05,Infusion,35,6,mild nausea,80,Ann Other,04/06/1971\n"
        b"M2,2024-03-06,Infusion,04/06/1971,6,mild nausea,80,Bob Sample,11/12/1980\n"
        b"M2,2024-03-07,Infusion,lots,6,mild nausea,80,Bob Sample,11/12/1980\n",
        header=WIDE_HEADER + b",DOB",
    )
    assert "04/06/1971" not in text and "11/12/1980" not in text
    assert q.get_column("Dose").to_list() == ["[date]", "lots"]  # the control: "lots" kept


def test_an_accented_name_on_a_row_without_its_name_cell_is_not_kept():
    """Attack (atk3): the next variant of bug 11 with a Spanish name. The row cut short before
    its name cell kept "Ángel Quíxworth" in its side effects (accepted) and in the
    quarantine, as the name-shaped pattern knew only ASCII letters."""
    short = (
        "M1,2024-03-04,Infusion,35,6,mild nausea,80,Ann Other\n"
        "M1,2024-03-05,Infusion,35,6,mild nausea; Ángel Quíxworth\n"
    ).encode()
    text, q = _wide_quarantine(short)
    assert "Ángel" not in text and "Quíxworth" not in text
    assert q.get_column("quarantine_row").to_list() == ["3"]
    text, q = _wide_quarantine(short, ASSUMED_TOML)
    assert q.height == 0 and "other [name] mild" in text


@pytest.mark.parametrize("placeholder", [b"N/A", b"unknown", b"-", b"none"])
def test_a_name_cell_holding_a_placeholder_is_a_row_without_its_name(placeholder):
    """Attack (atk3): a row whose `Patient Name` cell says "N/A" (or "unknown", "-") counted
    as a row whose own identifier cells are filled, so the name in its side effects was kept
    (accepted, and in the quarantine). A placeholder is an empty cell. The control: a row
    whose name cell is filled keeps the same text as written."""
    row = b"M1,2024-03-05,Infusion,35,6,mild nausea; Ingrid Pelloway,80," + placeholder + b"\n"
    text, q = _wide_quarantine(row)
    assert "Ingrid" not in text and "Pelloway" not in text and q.height == 1
    text, q = _wide_quarantine(row, ASSUMED_TOML)
    assert q.height == 0 and "Ingrid" not in text and "other [name] mild" in text
    _, q = _wide_quarantine(row.replace(b"," + placeholder + b"\n", b",Ann Other\n"))
    assert q.get_column("Side effects").to_list() == ["mild nausea; Ingrid Pelloway"]
