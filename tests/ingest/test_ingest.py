"""Acceptance tests of the importer on the messy sample exports (issue 3)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest

from kapoutcomes.definitions.settings import load_settings
from kapoutcomes.ingest import (
    IngestError,
    find_patient_id,
    import_files,
    quarantine_csv,
    quarantine_frame,
)
from kapoutcomes.storage import privacy
from kapoutcomes.storage.store import BOOKKEEPING, CANONICAL, Store

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = ROOT / "sample_data" / "exports"
MAPPING = ROOT / "sample_data" / "mappings" / "riverside_visits.toml"
SECRET = b"ingest-test-secret-ingest-test-secret"

needs_exports = pytest.mark.skipif(
    not (EXPORTS / "riverside_visits.csv").exists(), reason="sample exports not generated"
)


def catalog(file: str) -> dict[str, str]:
    """The expected-row-accounting entries of one file in sample_data/CATALOG.md."""
    text = (ROOT / "sample_data" / "CATALOG.md").read_text(encoding="utf-8")
    section = text.split(f"## `exports/{file}`", 1)[1].split("\n## ", 1)[0]
    out = {}
    for m in re.finditer(r"^\s*- ([\w ()]+?): (.+)$", section, flags=re.M):
        out[m.group(1).strip()] = m.group(2).strip()
    return out


def _lines(value: str) -> set[int]:
    return {int(x) for x in re.findall(r"\d+", value)}


def _by_file(report):
    return {f.file: f for f in report.files}


def _reasons(fr) -> dict[str, int]:
    return {r.reason: r.count for r in (*fr.quarantine_reasons, *fr.skip_reasons)}


@needs_exports
def test_messy_exports_import_with_exact_accounting(tmp_path):
    db = tmp_path / "s.duckdb"
    wide = import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
    rest = import_files(
        [EXPORTS / "lakeshore_observations.csv", EXPORTS / "riverside_medications.tsv"],
        db,
        clinic="Lakeshore Ketamine Center",
        secret=SECRET,
    )
    for report in (wide, rest):
        assert report.reconciles
        for f in report.files:
            assert f.rows_read == f.accepted + f.quarantined + f.skipped, f.file

    visits = _by_file(wide)["riverside_visits.csv"]
    cat = catalog("riverside_visits.csv")
    assert visits.rows_read == int(cat["rows (excluding the header)"])
    assert visits.encoding == "windows-1252" and visits.delimiter == ";"
    # the catalog's impossible values (line numbers, header = line 1) and the duplicate row
    expected = set()
    for key in (
        "pain_11 rows",
        "phq9_31 rows",
        "negative_dose rows",
        "date_before_birth_year rows",
    ):
        expected |= _lines(cat[key])
    quarantined_lines = {row for r in visits.quarantine_reasons for row in r.rows}
    assert quarantined_lines == expected
    assert visits.quarantined == int(cat["rows_with_impossible_values"]) == len(expected)
    dup_line = min(_lines(cat["duplicate_rows rows"]) - expected, default=None)
    assert visits.duplicates == int(cat["duplicate_rows"])
    assert {r.rows for r in visits.skip_reasons if r.reason.startswith("duplicate")} == {
        (max(_lines(cat["duplicate_rows rows"])),)
    }
    assert dup_line is not None
    reasons = " | ".join(f"{r.column}: {r.reason}" for r in visits.quarantine_reasons)
    assert "expected a pain_nrs total from 0 to 10" in reasons
    assert "expected a phq9 total from 0 to 27" in reasons
    assert "dose_mg: expected a value above 0" in reasons
    assert "started_at: expected a value of at least 2000-01-01" in reasons
    assert set(visits.removed_identifier_columns) == {"Patient Name", "Phone", "Address", "SSN"}

    obs = _by_file(rest)["lakeshore_observations.csv"]
    cat = catalog("lakeshore_observations.csv")
    assert obs.rows_read == int(cat["rows (excluding the header)"])
    assert obs.encoding == "utf-8-sig"
    untracked = sum(n for why, n in _reasons(obs).items() if "not tracked" in why)
    assert untracked == int(cat["untracked_code_rows"])
    blank = sum(n for why, n in _reasons(obs).items() if why.startswith("no value"))
    assert blank == int(cat["blank_value_rows"])

    meds = _by_file(rest)["riverside_medications.tsv"]
    cat = catalog("riverside_medications.tsv")
    assert (meds.rows_read, meds.accepted, meds.skipped) == (
        int(cat["rows (excluding the header)"]),
        int(cat["opioid_rows"]),
        int(cat["non_opioid_rows"]),
    )
    assert meds.delimiter == "\t"

    with Store(db) as st:
        q = st.read("quarantine", validate=False)
        assert set(q.get_column("row_number").to_list()) == quarantined_lines
        assert q.get_column("raw_row").map_elements(lambda s: bool(json.loads(s))).all()
        ledger = st.read("import_ledger", validate=False)
        assert ledger.height == 3
        assert q.get_column("import_id").is_in(ledger.get_column("import_id").implode()).all()
        # side effects in the controlled vocabulary; unmatched text kept as other
        ev = st.read("adverse_events")
        assert {"dissociation", "nausea_vomiting"} <= set(ev.get_column("event").to_list())
        other = ev.filter(pl.col("event") == "other")
        assert other.get_column("event_text").is_not_null().all()


@needs_exports
def test_synthea_folder_with_synthea_preset(tmp_path):
    folder = EXPORTS / "synthea"
    obs = pl.read_csv(folder / "observations.csv", infer_schema=False)
    # the clinic's infusion log for the same patients: one dosing session per encounter,
    # starting 5 minutes after the first blood pressure (Synthea itself has no sessions)
    first_bp = (
        obs.filter(pl.col("CODE") == "8480-6")
        .group_by("PATIENT", "ENCOUNTER")
        .agg(pl.col("DATE").min())
        .with_columns(
            started=pl.col("DATE").str.to_datetime("%Y-%m-%dT%H:%M:%SZ") + pl.duration(minutes=5)
        )
        .sort("PATIENT", "started")
    )
    sessions = first_bp.select(
        MRN=pl.col("PATIENT"),
        started_at=pl.col("started").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        session_type=pl.lit("induction"),
        route=pl.lit("IV"),
        care_model=pl.lit("KAP"),
    )
    log = tmp_path / "infusion_log.csv"
    sessions.write_csv(log)
    db = tmp_path / "s.duckdb"
    report = import_files([log, folder], db, clinic="Summit KAP Institute", secret=SECRET)
    assert report.reconciles
    files = _by_file(report)
    assert files["infusion_log.csv"].preset == "canonical"
    for name in ("patients.csv", "observations.csv", "medications.csv"):
        assert files[name].preset == "synthea", name
    assert files["patients.csv"].accepted == int(catalog("synthea/patients.csv")["patients"])
    meds = files["medications.csv"]
    cat = catalog("synthea/medications.csv")
    assert (meds.accepted, meds.skipped) == (int(cat["opioid_rows"]), int(cat["non_opioid_rows"]))
    o = files["observations.csv"]
    cat_o = catalog("synthea/observations.csv")
    assert o.quarantined == 0
    untracked = sum(n for why, n in _reasons(o).items() if "not tracked" in why)
    assert untracked == int(cat_o["untracked_code_rows"])
    for f in files.values():
        # everything not accepted is accounted for with a reason
        assert sum(r.count for r in f.skip_reasons) == f.skipped
        assert sum(1 for _ in f.quarantine_reasons) >= (1 if f.quarantined else 0)
    with Store(db) as st:
        a = st.read("assessments")
        inst = set(a.get_column("instrument").to_list())
        assert {"pain_nrs", "phq9", "gad7", "phq2"} <= inst
        # scores join the session of that visit with their timing
        pain = a.filter(pl.col("instrument") == "pain_nrs")
        assert pain.get_column("session_id").is_not_null().mean() > 0.5
        assert {"before_dose", "after_dose"} <= set(pain.get_column("timing").to_list())
        item9 = a.filter(pl.col("item") == 9)
        assert (
            item9.height == int(cat_o["item9_text_answers"])
            and item9.get_column("score").is_between(0, 3).all()
        )
        s = st.read("sessions")
        assert s.height == sessions.height
        assert s.get_column("bp_systolic_before").is_not_null().mean() > 0.95
        assert s.get_column("heart_rate_after").is_not_null().mean() > 0.5
        assert s.get_column("weight_kg").is_not_null().mean() > 0.5
        op = st.read("opioids")
        assert op.height == int(cat["opioid_rows"])
        bup = op.filter(pl.col("ingredient") == "buprenorphine")
        assert bup.get_column("daily_mme").is_null().all()
        assert (
            op.filter(pl.col("ingredient") != "buprenorphine")
            .get_column("daily_mme")
            .is_not_null()
            .all()
        )
        assert set(op.get_column("mme_table").to_list()) == {"CDC-2022"}
        fent = op.filter(pl.col("ingredient") == "fentanyl")
        if fent.height:
            assert set(fent.get_column("unit").to_list()) == {"mcg/hr"}
            assert (fent.get_column("daily_mme") == fent.get_column("daily_dose") * 2.4).all()
        # patients: birth year / age band only, the MRN findable through its pseudonym
        p = st.read("patients")
        uuid = pl.read_csv(folder / "patients.csv", infer_schema=False).item(0, "Id")
        assert find_patient_id(uuid, SECRET) in p.get_column("patient_id").to_list()


def _identifier_strings() -> list[str]:
    out: list[str] = []
    text = (EXPORTS / "riverside_visits.csv").read_bytes().decode("cp1252")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    for r in rows[:80]:
        r = {k.strip(): v for k, v in r.items()}
        out += [r["Patient Name"], r["SSN"], r["Address"], r["Phone"]]
    pats = pl.read_csv(EXPORTS / "synthea" / "patients.csv", infer_schema=False)
    for r in pats.head(40).iter_rows(named=True):
        out += [r["FIRST"], r["LAST"], r["SSN"], r["ADDRESS"], r["DRIVERS"], r["PASSPORT"]]
    return [s for s in set(out) if s and len(s) >= 6]


@needs_exports
def test_no_direct_identifiers_reach_the_store_file(tmp_path):
    db = tmp_path / "s.duckdb"
    with Store(db) as open_store:
        import_files([EXPORTS / "riverside_visits.csv"], open_store, mapping=MAPPING, secret=SECRET)
        import_files([EXPORTS / "synthea"], open_store, clinic="Summit", secret=SECRET)
        # still open: the data is in the database file itself, not only in the WAL
        wal = Path(str(db) + ".wal")
        assert not wal.exists() or wal.stat().st_size == 0, "the import ends with a CHECKPOINT"
    strings = _identifier_strings()
    assert len(strings) > 100
    with Store(db) as st:
        # every text cell of every table, including quarantine raw rows and the ledger
        blobs = []
        for table in st.counts():
            fr = st.query(f'SELECT * FROM "{table}"')
            for c, t in fr.schema.items():
                if t == pl.String:
                    blobs += fr.get_column(c).drop_nulls().to_list()
        big = "\n".join(blobs)
        assert st.read("quarantine", validate=False).height > 0
    for s in strings:
        assert s not in big, s
    raw = db.read_bytes()
    for s in strings:
        for enc in ("utf-8", "utf-16-le"):
            assert s.encode(enc) not in raw, s
    # and no MRN in clear: only pseudonyms
    assert b"DEMO-000004" not in raw


@needs_exports
def test_repeat_import_adds_nothing_and_overlaps_deduplicate(tmp_path):
    db = tmp_path / "s.duckdb"
    first = import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
    with Store(db) as st:
        before = st.counts()
    again = import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
    assert again.files[0].already_imported
    with Store(db) as st:
        assert st.counts() == before
    # an overlapping export (other bytes, half the same rows): the overlap is duplicates
    lines = (EXPORTS / "riverside_visits.csv").read_bytes().split(b"\r\n")
    overlap = b"\r\n".join([lines[0], *lines[500:700]]) + b"\r\n"
    rep = import_files([("riverside_overlap.csv", overlap)], db, mapping=MAPPING, secret=SECRET)
    f = rep.files[0]
    assert f.reconciles and f.accepted == 0
    assert f.duplicates + f.quarantined == f.rows_read
    with Store(db) as st:
        after = st.counts()
    for t in ("patients", "sessions", "assessments", "adverse_events"):
        assert after[t] == before[t], t
    assert first.files[0].accepted > 1000


def test_conflicting_value_is_kept_for_review_not_overwritten(tmp_path):
    db = tmp_path / "s.duckdb"
    a = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,7\nM1,2024-03-02 10:00,72514-3,6\n"
    b = b"MRN,Date,LOINC,Value\nM1,2024-03-01 10:00,72514-3,4\nM1,2024-03-03 10:00,72514-3,5\n"
    import_files([("a.csv", a)], db, clinic="C", secret=SECRET)
    rep = import_files([("b.csv", b)], db, clinic="C", secret=SECRET)
    f = rep.files[0]
    assert (f.accepted, f.skipped, f.conflicts) == (1, 1, 1)
    with Store(db) as st:
        scores = st.read("assessments").sort("assessed_at").get_column("score").to_list()
        assert scores == [7.0, 6.0, 5.0]
        c = st.read("conflicts", validate=False)
        assert c.height == 1 and c.item(0, "row_number") == 2
        assert json.loads(c.item(0, "stored_value"))["score"] == 7.0
        assert json.loads(c.item(0, "incoming_value"))["score"] == 4.0


def test_quarantine_download_correct_and_reimport(tmp_path):
    db = tmp_path / "s.duckdb"
    data = (
        b"MRN,Patient Name,Date,Instrument,Value,Note\n"
        b'M1,Ann Example,2024-03-01,PHQ-9,31,=HYPERLINK("x")\n'
        b"M1,Ann Example,2024-03-02,PHQ-9,12,\n"
    )
    rep = import_files([("phq.csv", data)], db, clinic="C", secret=SECRET)
    assert (rep.files[0].accepted, rep.files[0].quarantined) == (1, 1)
    with Store(db) as st:
        out = quarantine_csv(st)
        frame = quarantine_frame(st)
    text = out.decode("utf-8-sig")
    assert "Ann Example" not in text and "Patient Name" not in text
    # columns the preset does not read (Note) are dropped before anything is written
    assert "HYPERLINK" not in text and "Note" not in frame.columns
    assert frame.item(0, "quarantine_row") == "2"
    assert frame.item(0, "MRN") == find_patient_id("M1", SECRET)
    fixed = text.replace(",31,", ",21,")
    rep2 = import_files([("phq_corrected.csv", fixed.encode())], db, secret=SECRET)
    f = rep2.files[0]
    assert f.preset == "long" and f.accepted == 1 and f.reconciles
    with Store(db) as st:
        assert sorted(st.read("assessments").get_column("score").to_list()) == [12.0, 21.0]
        q = st.read("quarantine", validate=False)
        assert set(q.get_column("status").to_list()) == {"corrected"}
        assert quarantine_frame(st).height == 0  # nothing left open


@needs_exports
def test_wide_quarantine_round_trip_with_the_same_mapping(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
    with Store(db) as st:
        first = quarantine_frame(st)
        text = quarantine_csv(st).decode("utf-8-sig")
    cat = catalog("riverside_visits.csv")
    n_bad, n_pain = int(cat["rows_with_impossible_values"]), len(_lines(cat["pain_11 rows"]))
    assert first.height == n_bad
    assert "'-" in text  # negative doses neutralised against formula injection
    fixed = pl.read_csv(io.StringIO(text), infer_schema=False).with_columns(
        pl.when(pl.col("Pain Before") == "11")
        .then(pl.lit("10"))
        .otherwise("Pain Before")
        .alias("Pain Before")
    )
    rep = import_files(
        [("corrected.csv", fixed.write_csv().encode())], db, mapping=MAPPING, secret=SECRET
    )
    f = rep.files[0]
    assert f.preset == "wide" and f.reconciles and f.rows_read == n_bad
    assert f.accepted == n_pain and f.quarantined == n_bad - n_pain
    with Store(db) as st:
        q = st.read("quarantine", validate=False)
        by = dict(q.group_by("status").agg(pl.col("row_number").n_unique()).iter_rows())
        left = n_bad - n_pain
        assert by == {"corrected": n_pain, "resubmitted": left, "open": left}
        again = quarantine_frame(st)
    assert again.height == left
    assert set(again.get_column("quarantine_file").to_list()) == {"corrected.csv"}


def test_excel_workbook_with_chosen_sheet(tmp_path):
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active["A1"] = "not data"
    ws = wb.create_sheet("Scores")
    ws.append([" mrn ", "DATE", "loinc", "VALUE"])
    ws.append(["M1", dt.datetime(2024, 3, 1, 9, 30), "72514-3", 6])
    ws.append(["M1", dt.datetime(2024, 3, 2, 9, 30), "72514-3", "=1+1"])
    ws["D3"] = "=1+1"  # a formula: never evaluated, read as its cached value (none)
    path = tmp_path / "scores.xlsx"
    wb.save(path)
    rep = import_files([path], tmp_path / "s.duckdb", sheet="scores", clinic="C", secret=SECRET)
    f = rep.files[0]
    assert f.sheet == "Scores" and f.rows_read == 2 and f.reconciles
    assert f.accepted == 1 and f.skipped == 1  # no cached value for the formula cell
    with pytest.raises(IngestError, match="no sheet named"):
        import_files([path], tmp_path / "s2.duckdb", sheet="Nope", secret=SECRET)


def test_dry_run_writes_nothing_and_progress_is_reported(tmp_path):
    db = tmp_path / "s.duckdb"
    seen = []
    data = b"MRN;Date;LOINC;Value\nM1;03/21/2024;72514-3;7 out of 10\n"
    rep = import_files(
        [("x.csv", data)],
        db,
        clinic="C",
        secret=SECRET,
        dry_run=True,
        on_progress=lambda d, t: seen.append((d, t)),
    )
    assert rep.dry_run and rep.files[0].accepted == 1
    assert seen and seen[-1][0] == seen[-1][1] == len(data)
    with Store(db) as st:
        assert st.is_empty() and st.read("import_ledger", validate=False).height == 0


def test_day_first_option_and_timezone_conversion(tmp_path):
    data = b"MRN,Date,LOINC,Value\nM1,03/04/2024,72514-3,5\nM1,2021-08-23T03:26:50Z,72514-3,6\n"
    db = tmp_path / "s.duckdb"
    import_files([("a.csv", data)], db, clinic="C", secret=SECRET, day_first=True)
    with Store(db) as st:
        got = sorted(str(x) for x in st.read("assessments").get_column("assessed_at").to_list())
    # 03/04 is 3 April; 03:26Z is 23:26 the evening before in New York
    assert got == ["2021-08-22 23:26:50", "2024-04-03 00:00:00"]


def _assessed(db) -> list[str]:
    with Store(db) as st:
        return sorted(str(x) for x in st.read("assessments").get_column("assessed_at").to_list())


def test_the_date_order_is_decided_per_column_and_reported(tmp_path):
    """Issue 13: 02/04/2024 beside 25/03/2024 is 2 April, never 4 February."""
    data = b"MRN,Date,LOINC,Value\nM1,02/04/2024,72514-3,5\nM1,25/03/2024,72514-3,6\n"
    db = tmp_path / "s.duckdb"
    rep = import_files([("a.csv", data)], db, clinic="C", secret=SECRET)
    assert rep.accepted == 2 and _assessed(db) == ["2024-03-25 00:00:00", "2024-04-02 00:00:00"]
    (order,) = rep.files[0].date_orders
    assert (order.column, order.order, order.day_first_values) == ("Date", "day-first", 1)
    assert "dates in Date: day-first (" in rep.text()
    assert rep.to_dict()["files"][0]["date_orders"][0]["order"] == "day-first"


def test_an_ambiguous_column_is_quarantined_unless_the_order_is_set(tmp_path):
    data = b"MRN,Date,LOINC,Value\nM1,02/04/2024,72514-3,5\nM1,03/04/2024,72514-3,6\n"
    db = tmp_path / "s.duckdb"
    rep = import_files([("a.csv", data)], db, clinic="C", secret=SECRET, dry_run=True)
    assert rep.quarantined == 2 and rep.accepted == 0
    (reason,) = rep.files[0].quarantine_reasons
    assert (
        reason.reason == "ambiguous day/month: set the order (--date-order day-first|month-first)"
    )
    assert rep.files[0].date_orders[0].order is None
    rep = import_files([("a.csv", data)], db, clinic="C", secret=SECRET, date_order="day-first")
    assert rep.accepted == 2 and _assessed(db) == ["2024-04-02 00:00:00", "2024-04-03 00:00:00"]
    db2 = tmp_path / "m.duckdb"
    settings = load_settings(None, date_order="month-first")
    rep = import_files([("a.csv", data)], db2, clinic="C", secret=SECRET, settings=settings)
    assert rep.accepted == 2 and _assessed(db2) == ["2024-02-04 00:00:00", "2024-03-04 00:00:00"]
    with pytest.raises(IngestError, match="unknown date order"):
        import_files([("a.csv", data)], db2, clinic="C", secret=SECRET, date_order="dmy")


def test_find_patient_id_is_the_keyed_pseudonym():
    assert find_patient_id(" demo-000004 ", privacy.DEMO_SECRET) == privacy.pseudonymise(
        "DEMO-000004", privacy.DEMO_SECRET
    )


def test_upload_bytes_with_mapping_bytes(tmp_path):
    """The dashboard's upload page passes file and mapping as (name, bytes) pairs."""
    mapping = (
        b'[file]\nclinic = "C"\ncare_model = "KAP"\nsession_type = "induction"\nroute = "IV"\n'
        b'[columns]\nmrn = "Chart #"\nstarted_at = "Seen"\ndose = "Ketamine"\n'
        b'side_effects = "AE"\nside_effect_severity = "AE grade"\n'
        b'[[assessments]]\ncolumn = "NRS pre"\ninstrument = "pain"\ntiming = "before_dose"\n'
    )
    visits = (
        "Chart #|Seen|Ketamine|AE|AE grade|NRS pre|Name\r\n"
        "c-1|2024-05-01 09:00|0.5 mg/kg|nausea|moderate|8/10|Ann Example\r\n"
        "c-1|2024-05-02 09:00|40 mg|itchy; felt floaty||7|Ann Example\r\n"
    ).encode("cp1252")
    rep = import_files(
        [("visits.txt", visits)],
        tmp_path / "s.duckdb",
        mapping=("m.toml", mapping),
        secret=SECRET,
    )
    f = rep.files[0]
    assert f.preset == "wide" and f.delimiter == "|"
    # the second visit has side effects without a severity and no default: quarantined
    assert (f.accepted, f.quarantined) == (1, 1)
    assert "without a severity" in f.quarantine_reasons[0].reason
    with Store(tmp_path / "s.duckdb") as st:
        s = st.read("sessions")
        assert s.item(0, "dose_mg_per_kg") == 0.5 and s.item(0, "dose_mg") is None
        ev = st.read("adverse_events")
        assert ev.rows(named=True)[0]["severity"] == "moderate"
        assert st.read("assessments").item(0, "score") == 8.0


@needs_exports
def test_folder_with_mapping_reads_other_layouts_by_preset(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("riverside_visits.csv", "riverside_medications.tsv"):
        (folder / name).write_bytes((EXPORTS / name).read_bytes())
    rep = import_files([folder], tmp_path / "s.duckdb", mapping=MAPPING, secret=SECRET)
    kinds = {f.file: f.preset for f in rep.files}
    assert kinds == {"riverside_visits.csv": "wide", "riverside_medications.tsv": "medications"}
    assert rep.reconciles


@needs_exports
def test_exports_agree_with_the_demo_cohort(tmp_path):
    """The demo MRNs pseudonymise with the public demo key, so the exports can be checked
    against the canonical tables: time zones, vitals attachment, sigs and units must give
    back exactly what the cohort holds."""
    demo = ROOT / "sample_data" / "demo"
    db = tmp_path / "s.duckdb"
    key = privacy.DEMO_SECRET
    base = import_files([demo], db, secret=key)
    assert base.quarantined == 0 and base.skipped == 0
    obs = import_files([EXPORTS / "lakeshore_observations.csv"], db, secret=key).files[0]
    assert (obs.accepted, obs.quarantined, obs.conflicts) == (0, 0, 0)
    tracked = obs.rows_read - sum(
        r.count for r in obs.skip_reasons if not r.reason.startswith("duplicate")
    )
    assert obs.duplicates == tracked
    meds = import_files([EXPORTS / "riverside_medications.tsv"], db, secret=key).files[0]
    assert meds.duplicates == int(catalog("riverside_medications.tsv")["opioid_rows"])
    assert meds.accepted == 0 and meds.conflicts == 0
    visits = import_files(
        [EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=key
    ).files[0]
    assert visits.conflicts == 0
    assert "sessions" not in dict(visits.written)  # every visit is a session the cohort has


def test_quarantined_values_carry_no_identifiers(tmp_path):
    mapping = (
        "m.toml",
        b'[file]\nclinic = "C"\ncare_model = "KAP"\nsession_type = "screening"\n'
        b'[columns]\nmrn = "MRN"\nstarted_at = "Seen"\nbirth_date = "DOB"\n'
        b'side_effects = "Notes"\n',
    )
    data = (
        b"MRN,Seen,DOB,Notes,Patient Name,Home Phone\n"
        b"M1,2024-05-01,31/31/1971,Jane Roe felt odd,Jane Roe,555-010-1234\n"
        b"M2,2024-05-01,1980-02-03,weird taste for Jane,Jane Roe,555-010-1234\n"
    )
    rep = import_files([("v.csv", data)], tmp_path / "s.duckdb", mapping=mapping, secret=SECRET)
    assert rep.files[0].quarantined == 2
    with Store(tmp_path / "s.duckdb") as st:
        q = st.read("quarantine", validate=False)
    blob = " ".join(str(v) for row in q.rows() for v in row)
    assert "Jane" not in blob and "Roe" not in blob
    assert "555-010" not in blob and "31/31" not in blob
    assert "1971" in blob  # the birth year survives, for correction


def test_canonical_templates_with_mrn_dob_and_derived_columns(tmp_path):
    patients = (
        "MRN,Clinic,Primary Condition,comorbid_depression,sex,DOB,referral_date,"
        "psychosis_history,cardiovascular_disease,raised_intracranial_pressure,"
        "substance_use_disorder,interacting_medication\n"
        "A-1,North,crps,yes,F,1961-07-04,2024-02-01,no,no,no,no,no\n"
        "A-2,North,fibromyalgia,no,male,1930-01-01,2024-02-01,no,no,no,no,no\n"
    ).encode("utf-16")
    opioid_rows = (
        b"MRN\tingredient\tstrength\tunit\tfrequency_per_day\tstart_date\n"
        b"A-1\tOxycodone\t10\tmg\t3\t2024-01-15\n"
        b"A-1\tfentanyl\t25\tmcg/hr\t\t2024-01-15\n"
    )
    events = b"MRN,onset_at,event,severity,serious\nA-1,2024-02-05 10:30,Nausea vomiting,mild,no\n"
    rep = import_files(
        [("patients.csv", patients), ("opioids.tsv", opioid_rows), ("ae.csv", events)],
        tmp_path / "s.duckdb",
        secret=SECRET,
    )
    assert rep.reconciles and rep.quarantined == 0, rep.text()
    assert {f.kind for f in rep.files} == {"patients", "opioids", "adverse_events"}
    with Store(tmp_path / "s.duckdb") as st:
        p = st.read("patients").sort("birth_year", nulls_last=True)
        assert p.get_column("birth_year").to_list() == [1961, None]  # 90+: no birth year
        assert p.get_column("age_band").to_list() == ["60-69", "90+"]
        assert p.get_column("primary_condition").to_list() == ["CRPS", "fibromyalgia"]
        o = st.read("opioids").sort("ingredient")
        assert o.get_column("daily_dose").to_list() == [25.0, 30.0]
        assert o.get_column("daily_mme").to_list() == [60.0, 45.0]
        ev = st.read("adverse_events")
        assert ev.item(0, "event") == "nausea_vomiting" and ev.item(0, "event_id").startswith("e_")


@needs_exports
def test_a_request_object_imports_like_the_keyword_front_door(tmp_path):
    from kapoutcomes.ingest import ImportRequest, load_mapping, run_import

    files = (EXPORTS / "riverside_visits.csv",)
    by_keywords = import_files(list(files), tmp_path / "a.duckdb", mapping=MAPPING, secret=SECRET)
    request = ImportRequest(
        paths=files, store=tmp_path / "b.duckdb", mapping=load_mapping(MAPPING), secret=SECRET
    )
    by_request = run_import(request)
    strip = ("seconds", "store", "import_id")

    def _plain(rep):
        d = rep.to_dict()
        return {k: v for k, v in d.items() if k not in strip} | {
            "files": [{k: v for k, v in f.items() if k not in strip} for f in d["files"]]
        }

    assert _plain(by_request) == _plain(by_keywords)
    assert by_request.files[0].accepted > 0


def test_decode_tells_windows_1252_from_latin_1_and_utf_16():
    """The encoding rule for real exports: UTF-8, else Windows-1252 (what US Windows EHRs
    write: smart quotes, µg, °), else latin-1 when a byte is one cp1252 leaves undefined;
    UTF-16 by its BOM or its NUL pattern. A statistical detector (charset-normalizer 3.5)
    read the Windows-1252 sample export and the cases below as cp1250 or cp932, turning
    "Søren" into "Sřren": a guess is worse than this rule here."""
    from kapoutcomes.ingest.read import Source, decode

    def enc(data: bytes) -> tuple[str, str]:
        return decode(Source("f.csv", data))

    text = (
        "mrn;name;dose;note\n1001;José Núñez;500 µg;“nausea” – 37.2 °C\n1002;Søren;35 mg;O’Neil\n"
    )
    assert enc(text.encode("cp1252")) == (text, "windows-1252")
    assert enc(text.encode("utf-8")) == (text, "utf-8")
    odd = "mrn,name\n1,Ma\x81rten Müller\n"  # 0x81: undefined in cp1252
    assert enc(odd.encode("latin-1")) == (odd, "latin-1")
    plain = "mrn,score\n1,7\n2,8\n"
    assert enc(plain.encode("utf-16-le")) == (plain, "utf-16-le")
    assert enc(plain.encode("utf-16-be")) == (plain, "utf-16-be")
    assert enc(plain.encode("utf-16")) == (plain, "utf-16")
    if (EXPORTS / "riverside_visits.csv").exists():
        assert enc((EXPORTS / "riverside_visits.csv").read_bytes())[1] == "windows-1252"


def test_a_missing_clinic_is_refused_before_anything_is_written(tmp_path):
    """Issue 13: a Synthea folder without --clinic quarantined all its rows with exit 0."""
    db = tmp_path / "s.duckdb"
    with pytest.raises(IngestError, match="patients file has no clinic column") as e:
        import_files([EXPORTS / "synthea"], db)
    assert "--clinic NAME" in str(e.value)
    with pytest.raises(IngestError, match="the store holds no patients"):
        import_files([("s.csv", b"MRN,Date,LOINC,Value\nM1,2024-03-01,72514-3,7\n")], db)
    with Store(db) as st:
        assert all(st.read(t, validate=False).height == 0 for t in (*CANONICAL, *BOOKKEEPING))


def test_a_synthea_folder_imports_as_a_folder(tmp_path):
    """Issue 13 item 4: encounters.csv and conditions.csv passed for medication lists, and a
    real Synthea folder aborted. Each file is recognised by its own header; the files not
    used are skipped with their reason."""
    import shutil

    folder = tmp_path / "synthea"
    shutil.copytree(EXPORTS / "synthea", folder)
    pid = "01a88c08-af62-420b-b547-bcedf6a64fca"
    enc = "9e42a4ef-14ce-43b9-a578-65b5a0c9572b"
    (folder / "encounters.csv").write_text(
        "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
        "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION\n"
        f"{enc},2024-11-30T22:00:00Z,2024-11-30T22:15:00Z,{pid},o1,p1,y1,wellness,410620009,"
        "Well child visit (procedure),136.80,708.88,0.00,,\n"
    )
    (folder / "conditions.csv").write_text(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
        f"2020-01-01,,{pid},{enc},82423001,Chronic pain (finding)\n"
        f"2021-02-03,2021-03-01,{pid},{enc},444814009,Viral sinusitis (disorder)\n"
    )
    (folder / "procedures.csv").write_text(
        "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,"
        "REASONDESCRIPTION\n"
        f"2024-11-30T22:00:00Z,2024-11-30T22:15:00Z,{pid},{enc},http://snomed.info/sct,"
        "430193006,Medication reconciliation (procedure),469.46,,\n"
    )
    db = tmp_path / "s.duckdb"
    rep = import_files([folder], db, clinic="Summit", secret=SECRET)
    by_file = {f.file.rsplit("/", 1)[-1]: f for f in rep.files}
    for name, kind, n in (("encounters.csv", "encounters", 1), ("conditions.csv", "conditions", 2)):
        f = by_file[name]
        assert (f.preset, f.kind, f.rows_read, f.skipped, f.accepted) == ("synthea", kind, n, n, 0)
        (reason,) = f.skip_reasons
        assert reason.reason.startswith(f"a Synthea {kind} file: not used by kapoutcomes")
    assert by_file["procedures.csv"].kind == "procedures"
    assert by_file["medications.csv"].kind == "medications"
    assert by_file["observations.csv"].accepted > 1000 and rep.reconciles
    # scores but no sessions: the report says what the outcome pages will lack
    assert len(rep.warnings) == 1 and "no infusion sessions" in rep.warnings[0]
    assert "warning: " in rep.text()


def test_out_of_scope_records_are_kept_and_counted_not_listed_for_correction(tmp_path):
    """Issue 13: records before 2000 and children are out of scope, apart from the rows that
    need a correction."""
    db = tmp_path / "s.duckdb"
    pat = b"Id,BIRTHDATE,GENDER,SSN,FIRST,LAST\nk1,2019-01-01,F,1,a,b\nk2,1980-01-01,M,1,c,d\n"
    obs = (
        b"DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,VALUE,UNITS\n"
        b"2024-01-01T00:00:00Z,k1,e,72514-3,Pain,5,{score}\n"
        b"1999-01-01T00:00:00Z,k2,e,72514-3,Pain,5,{score}\n"
        b"2024-01-02T00:00:00Z,k2,e,72514-3,Pain,55,{score}\n"
        b"2024-01-03T00:00:00Z,k2,e,72514-3,Pain,5,{score}\n"
    )
    rep = import_files(
        [("patients.csv", pat), ("observations.csv", obs)], db, clinic="C", secret=SECRET
    )
    f = {x.file: x for x in rep.files}
    assert (f["patients.csv"].quarantined, f["patients.csv"].out_of_scope) == (1, 1)
    assert (f["observations.csv"].quarantined, f["observations.csv"].out_of_scope) == (3, 2)
    assert "1 need correction" in rep.text()
    with Store(db) as st:
        q = st.read("quarantine", validate=False)
        assert q.filter(pl.col("status") == "out_of_scope").height == 3
        open_rows = quarantine_frame(st)
    assert open_rows.height == 1 and open_rows.item(0, "quarantine_row") == "4"


def test_scores_imported_before_their_sessions_are_said_to_stay_unlinked(tmp_path):
    """Clinical check (issue 14): a long observation export imported before the visit export
    keeps its scores without session and timing, so an after-dose pain score (the acute drug
    effect) would count as an outcome; the session import says so. By hand: one patient, two
    pain scores on the infusion day (before and after dosing) and one on a day without a
    session; the session import finds 2 unlinked scores on its infusion day."""
    db = tmp_path / "s.duckdb"
    obs = (
        b"patient_mrn,observed_at,loinc_code,description,value,unit\n"
        b"MRN-1,2024-03-05T14:55:00Z,72514-3,Pain,7,{score}\n"
        b"MRN-1,2024-03-05T16:30:00Z,72514-3,Pain,2,{score}\n"
        b"MRN-1,2024-03-09T15:00:00Z,72514-3,Pain,6,{score}\n"
    )
    first = import_files([("obs.csv", obs)], db, clinic="North", secret=SECRET)
    assert not any("unlinked" in w for w in first.warnings)
    visits = (
        b"MRN,started_at,session_type,route,dose_mg,care_model\n"
        b"MRN-1,2024-03-05 10:00,induction,IV,35,infusion_only\n"
    )
    rep = import_files([("sessions.csv", visits)], db, secret=SECRET)
    (said,) = [w for w in rep.warnings if "unlinked" in w]
    assert said.startswith("2 score(s) already in the store") and "1 patient(s)" in said
    assert "import the sessions before the scores" in said
    # in the other order the scores are linked and nothing is said
    db2 = tmp_path / "t.duckdb"
    import_files([("sessions.csv", visits)], db2, clinic="North", secret=SECRET)
    rep2 = import_files([("obs.csv", obs)], db2, secret=SECRET)
    assert not any("unlinked" in w for w in rep2.warnings)
    timing = Store(db2, read_only=True).read("assessments").sort("assessed_at")["timing"]
    assert timing.to_list()[:2] == ["before_dose", "after_dose"]


def test_a_file_imported_again_is_reported_under_its_scrubbed_name(tmp_path):
    """The attack (issue 15, second pass): import "Olivia Johnson visits.csv" (Olivia Johnson
    is a patient in it), then import it again, and the same content under a second name in
    one call. The first import scrubs her name from the file name; the second one is not read
    (same content), so it must not show the raw name in the report either."""
    raw = (EXPORTS / "riverside_visits.csv").read_bytes()
    named = tmp_path / "Olivia Johnson visits.csv"
    named.write_bytes(raw)
    db = tmp_path / "s.duckdb"
    first = import_files([named], db, mapping=MAPPING, secret=SECRET)
    assert "Johnson" not in first.files[0].file
    again = import_files([named], db, mapping=MAPPING, secret=SECRET, dry_run=True)
    twice = tmp_path / "Johnson Olivia copy.csv"
    twice.write_bytes(raw)
    (tmp_path / "x.csv").write_bytes(raw)
    both = import_files([tmp_path / "x.csv", twice], tmp_path / "t.duckdb", mapping=MAPPING)
    shown = again.text() + json.dumps(again.to_dict()) + both.text() + json.dumps(both.to_dict())
    assert "Olivia" not in shown and "Johnson" not in shown
    assert again.files[0].already_imported and again.files[0].file == first.files[0].file
