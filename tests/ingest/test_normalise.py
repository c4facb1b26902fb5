"""Unit tests of reading and normalising: delimiters, encodings, dates, scores, doses, opioids,
side effects, identifier columns."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.ingest import deid, opioid_text, side_effects
from kapoutcomes.ingest import normalise as nm
from kapoutcomes.ingest import read as rd


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
@pytest.mark.parametrize("enc", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_delimiter_and_encoding_are_detected(delim, enc):
    text = delim.join(["MRN", " Patient Name ", "Note"]) + "\r\n"
    text += delim.join(["M1", '"Müller, Zoë"', '"two\nlines; with | all, delimiters"']) + "\r\n"
    data = text.encode(enc)
    t = rd.read(rd.Source("x.csv", data))
    assert t.delimiter == delim
    assert t.headers == ["MRN", "Patient Name", "Note"]
    assert t.frame.item(0, "Patient Name") == "Müller, Zoë"
    assert t.frame.item(0, "Note") == "two\nlines; with | all, delimiters"
    assert t.frame.item(0, rd.LINE) == 2


def test_line_numbers_count_embedded_newlines_and_skip_blank_lines():
    data = b'a,b\n1,"x\ny"\n\n2,z\n3,"p\n\nq"\n4,w\n'
    t = rd.read(rd.Source("x.csv", data))
    assert t.frame.get_column(rd.LINE).to_list() == [2, 5, 6, 9]


def test_dates_iso_us_times_and_zones():
    s = pl.Series(
        [
            "2024-03-31",
            "03/31/2024",
            "3/31/24 2:05 PM",
            "2021-08-23T03:26:50Z",
            "31-Mar-2024",
            "2024-03-31T14:05:00+02:00",
            "N/A",
            "13/01/2024",
        ]
    )
    got = nm.parse_datetime(s, day_first=False, timezone="America/New_York").to_list()
    assert got[:6] == [
        dt.datetime(2024, 3, 31),
        dt.datetime(2024, 3, 31),
        dt.datetime(2024, 3, 31, 14, 5),
        dt.datetime(2021, 8, 22, 23, 26, 50),
        dt.datetime(2024, 3, 31),
        dt.datetime(2024, 3, 31, 8, 5),
    ]
    assert got[6] is None and got[7] is None  # 13/01 is no month/day date: not guessed
    assert "--date-order day-first" in nm.date_hint("13/01/2024", day_first=False)
    assert nm.parse_datetime(pl.Series(["13/01/2024"]), True, "UTC").item() == dt.datetime(
        2024, 1, 13
    )


def test_scores_doses_weights_and_missing_markers():
    sc = nm.parse_score(pl.Series(["7/10", "7 out of 10", "7", "N/A", "--", "declined", "x"]))
    assert sc.get_column("value").to_list() == [7.0, 7.0, 7.0, None, None, None, None]
    assert sc.get_column("denominator").to_list()[:2] == [10.0, 10.0]
    d = nm.parse_dose(pl.Series(["35 mg", "35MG", "500 mcg", "0.5 mg/kg", "35"]))
    assert d.get_column("dose_mg").to_list() == [35.0, 35.0, 0.5, None, 35.0]
    assert d.get_column("dose_mg_per_kg").to_list()[3] == 0.5
    assert nm.parse_weight_kg(pl.Series(["176 lbs", "80 kg", "80"])).to_list() == [79.8, 80.0, 80.0]
    assert nm.parse_number(pl.Series(["$1,150.00", "7,5", "12"])).to_list() == [1150.0, 7.5, 12.0]
    bp = nm.parse_bp(pl.Series(["142/91", "nope"]))
    assert bp.row(0) == (142, 91) and bp.row(1) == (None, None)


@pytest.mark.parametrize(
    ("text", "ingredient", "strength", "unit"),
    [
        ("Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet", "oxycodone", 10, "mg"),
        ("72 HR Fentanyl 0.025 MG/HR Transdermal System", "fentanyl", 25, "mcg/hr"),
        (
            "12 HR Hydrocodone Bitartrate 10 MG Extended Release Oral Capsule",
            "hydrocodone",
            10,
            "mg",
        ),
        ("tramadol hydrochloride 50 MG Oral Tablet", "tramadol", 50, "mg"),
        ("Percocet 5 mg", "oxycodone", 5, "mg"),
    ],
)
def test_opioid_descriptions(text, ingredient, strength, unit):
    p = opioid_text.parse(text)
    assert (p.ingredient, p.strength, p.unit, p.problem) == (ingredient, strength, unit, None)


def test_opioid_codes_non_opioids_and_sigs():
    assert opioid_text.parse(None, "245134").strength == 25.0
    assert opioid_text.parse("Ibuprofen 200 MG Oral Tablet").ingredient is None
    assert opioid_text.parse("oxycodone hydrochloride 1 MG/ML Oral Solution").problem
    assert opioid_text.parse_frequency("1 tab PO q6h prn") == 4
    assert opioid_text.parse_frequency("2 tabs PO TID prn") == 6
    assert opioid_text.parse_frequency("BID") == 2
    assert opioid_text.parse_frequency("whenever") is None


def test_side_effect_text_to_vocabulary():
    got = side_effects.match("nausea, mild dissociation; BP up", scrub=("Ann Smith",))
    assert [(e.event, e.severity) for e in got] == [
        ("nausea_vomiting", None),
        ("dissociation", "mild"),
        ("raised_blood_pressure", None),
    ]
    assert side_effects.match("none") == [] and side_effects.match("denies") == []
    other = side_effects.match("itchy ears, told Ann Smith 555-123-4567")
    assert other[0].event == "other"
    assert "555-123-4567" not in other[0].text
    scrubbed = side_effects.match("tingling, Ann Smith called", scrub=("Ann Smith",))
    assert "Ann Smith" not in scrubbed[0].text


def test_identifier_columns():
    heads = [
        "MRN",
        "Patient Name ",
        "DOB",
        "Home Phone",
        "E-mail",
        "SSN",
        "DRIVERS",
        "PASSPORT",
        "Address",
        "ZIP",
        "Clinic Name",
        "Pain",
        "Provider",
    ]
    assert deid.identifier_columns(heads) == [
        "Patient Name ",
        "Home Phone",
        "E-mail",
        "SSN",
        "DRIVERS",
        "PASSPORT",
        "Address",
        "ZIP",
    ]


def test_title_lines_above_the_header_are_not_rows():
    data = b"Observation export\nGenerated 2024-05-01\n\nMRN,Date,LOINC,Value\nM1,2024-01-01,72514-3,5\n"
    t = rd.read(rd.Source("x.csv", data))
    assert t.headers == ["MRN", "Date", "LOINC", "Value"]
    assert t.frame.get_column(rd.LINE).to_list() == [5]
    assert "line 1, 2" in t.notes[0]


def test_excel_title_row_and_values_only(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Pain scores, exported 2024-05-01"])
    ws.append([])
    ws.append(["MRN", "Date", "LOINC", "Value"])
    ws.append(["M1", "2024-01-01", "72514-3", 5])
    ws.append(["M1", "2024-01-02", "72514-3", "=A1"])
    p = tmp_path / "x.xlsx"
    wb.save(p)
    t = rd.read(rd.Source("x.xlsx", p.read_bytes()))
    assert t.headers == ["MRN", "Date", "LOINC", "Value"]
    assert t.frame.get_column(rd.LINE).to_list() == [4, 5]
    assert t.frame.item(0, "Value") == "5"
    assert t.frame.item(1, "Value") == ""  # a formula is never evaluated
    assert "row 1" in t.notes[0]


def test_per_distinct_matches_the_function_on_every_row():
    # long enough and repetitive enough to take the distinct-values path
    s = pl.Series("x", ["a", None, " n/a ", "2024-01-01", "7/10"] * 4000)
    for fn in (lambda d: nm.clean(d), lambda d: d.fill_null("was null").str.to_uppercase()):
        assert nm.per_distinct(s, fn).equals(fn(s))
    out, present = nm.parse_datetime(s, False, "UTC", with_presence=True)
    assert out.equals(nm.parse_datetime(s, False, "UTC"))
    assert present.equals(nm.present(s))


# -- the day/month order of a column (issue 13 item 1) --------------------------------------
def _order(values, configured=None):
    decided, reasons = nm.decide_date_order(pl.Series("Date", values), configured)
    return decided, reasons.to_list()


def test_a_day_above_twelve_settles_the_column():
    decided, reasons = _order(["02/04/2024", "25/03/2024", "03/04/2024"])
    assert decided.order == nm.DAY_FIRST and decided.day_first_values == 1
    assert reasons == [None, None, None]
    decided, _ = _order(["02/04/2024", "03/25/2024"])
    assert decided.order == nm.MONTH_FIRST


def test_an_ambiguous_column_is_never_read_month_first_by_default():
    decided, reasons = _order(["02/04/2024", "03/04/2024", "04/04/2024", "2024-01-01"])
    assert decided.order is None and decided.quarantined == 2
    assert (
        reasons[:2]
        == ["ambiguous day/month: set the order (--date-order day-first|month-first)"] * 2
    )
    assert reasons[2:] == [None, None]  # 04/04 reads the same either way; ISO is unaffected
    decided, reasons = _order(["02/04/2024", "03/04/2024"], nm.MONTH_FIRST)
    assert decided.order == nm.MONTH_FIRST and "configured" in decided.why
    assert reasons == [None, None]


def test_an_inconsistent_column_quarantines_the_rows_that_contradict():
    decided, reasons = _order(["25/03/2024", "26/03/2024", "03/25/2024", "01/02/2024"])
    assert decided.order == nm.DAY_FIRST and "inconsistent" in decided.why
    assert reasons[0] is None and reasons[1] is None
    assert "can only be read month-first" in reasons[2]
    assert "writes both orders" in reasons[3]  # not read by the majority's guess
    # the configured order is never overridden by the values: contradicting values wait
    decided, reasons = _order(["03/25/2024", "01/02/2024"], nm.DAY_FIRST)
    assert decided.order == nm.DAY_FIRST and decided.quarantined == 1
    assert "--date-order month-first" in reasons[0] and reasons[1] is None


def test_iso_dates_need_no_order():
    decided, reasons = _order(["2024-03-04", "2024-03-04T10:00:00Z", None])
    assert decided is None and reasons == [None, None, None]


def test_two_digit_years_are_never_in_the_future_unless_a_pivot_is_set():
    yy = dt.date.today().year % 100
    s = pl.Series([f"01/02/{yy:02d}", f"01/02/{(yy + 1) % 100:02d}"])
    got = nm.parse_datetime(s, day_first=True, timezone="UTC").to_list()
    assert [d.year for d in got] == [2000 + yy, 1900 + (yy + 1) % 100]
    got = nm.parse_datetime(s, day_first=True, timezone="UTC", century_pivot=99).to_list()
    assert [d.year for d in got] == [2000 + yy, 2000 + (yy + 1) % 100]


def test_impossible_years_are_no_date_and_say_why():
    bad = [
        "0000-03-04",
        "-12-03-04",
        "-0001-01-01",
        "12024-03-04",
        "03/04/0000",
        "03/04/99999",
        "Mar 4 0000",
        "04-Mar-0000",
    ]
    got = nm.parse_datetime(pl.Series(bad), day_first=False, timezone="UTC").to_list()
    assert got == [None] * len(bad)
    for v in ("0000-03-04", "-12-03-04", "12024-03-04", "03/04/0000"):
        assert "year is impossible" in nm.date_hint(v, day_first=False), v
    assert "year is impossible" not in nm.date_hint("2024-13-45 10:00", day_first=False)


def test_an_impossible_year_quarantines_its_row_only(tmp_path):
    from kapoutcomes.ingest import import_files

    data = (
        b"MRN,Date,LOINC,Value\nA1,0000-03-04,72514-3,5\nA2,-12-03-04,72514-3,5\n"
        b"A3,12024-03-04,72514-3,5\nA4,2024-03-04,72514-3,5\n"
    )
    rep = import_files([("y.csv", data)], tmp_path / "s.duckdb", clinic="C", secret=b"k" * 32)
    f = rep.files[0]
    assert (f.rows_read, f.accepted, f.quarantined) == (4, 1, 3)
