"""The importer's batch pseudonyms equal ``privacy.pseudonymise`` MRN by MRN."""

from __future__ import annotations

import polars as pl
import pytest

from kapoutcomes.ingest import deid
from kapoutcomes.storage import privacy


def test_batch_pseudonyms_equal_privacy_pseudonymise() -> None:
    secret = b"k" * 32
    mrns = [
        "MRN-0012",
        " mrn-0012 ",
        "mrn\t00 12",
        "émile-7\u00a0x",  # a no-break space inside, an accented letter
        "straße-1",  # upper-cases to STRASSE
        "p_0123456789abcdef",  # already a pseudonym: kept
        "P_0123456789ABCDEF",  # not one (upper case): pseudonymised
        "",
        None,
    ]
    got = deid.pseudonymise(pl.Series("mrn", mrns, dtype=pl.String), secret).to_list()
    want = [
        None
        if m is None or not m.strip()
        else m.strip()
        if privacy.looks_like_patient_id(m.strip())
        else privacy.pseudonymise(m.strip(), secret)
        for m in mrns
    ]
    assert got == want
    assert got[0] == got[1]


def test_new_identifier_headers_are_recognised():
    for h in (
        "Tel",
        "Tel #",
        "Soc Sec No",
        "Responsible Party",
        "Subscriber ID",
        "Account #",
        "Guarantor",
        "Emergency Contact",
        "Next of kin",
        "SSN last 4",
        "Ph",
    ):
        assert deid.is_identifier(h), h
    for h in (
        "MRN",
        "DOB",
        "Date",
        "Value",
        "Medication",
        "Sig",
        "Side Effects",
        "Clinician",
        "Provider",
        "Pain Before",
        "LOINC",
        "Hotel",
        "Phase",
        "Description",
    ):
        assert not deid.is_identifier(h), h


def test_file_words_scrub_names_with_apostrophes_hyphens_and_any_case():
    frame = pl.DataFrame(
        {
            "Patient Name": [
                "Siobhan O'Flanagan",
                "Marie-Thérèse Vasquez-Holloway",
                "zeb quintrell",
            ],
            "Responsible Party": ["D'Angelo Brightwater", "self", None],
            "MRN": ["RPC-0001", "RPC-0002", "RPC-0003"],
        }
    )
    words = deid.file_identifier_words(frame, ["Patient Name", "Responsible Party"], "MRN")
    assert "self" not in words  # a common word of an identifier column is not a name
    text = (
        "siobhan o'flanagan called; MARIE-THÉRÈSE's son d'angelo brightwater; "
        "vasquez-holloway; Quintrell; rpc-0002"
    )
    out = deid.scrub_kept_text(text, words)
    for v in (
        "siobhan",
        "flanagan",
        "thérèse",
        "angelo",
        "brightwater",
        "vasquez",
        "holloway",
        "quintrell",
        "rpc-0002",
    ):
        assert v not in out.lower(), out
    assert "[name]" in out and "called" in out


def test_scrubbed_file_names_keep_no_name_date_or_mrn():
    words = frozenset({"jane", "o'brien", "brien"})
    assert deid.scrub_file_name("riverside_visits.csv") == "riverside_visits.csv"
    name = deid.scrub_file_name("/exports/Jane_O'Brien_1971-04-06_MRN12345.xlsx", words)
    for bad in ("Jane", "Brien", "1971", "04-06", "12345", "exports"):
        assert bad not in name, name
    assert name.endswith(".xlsx")
    assert "555" not in deid.scrub_file_name("call 555-123-4567.csv")
    assert deid.scrub_file_name("obs export 2024.csv") == "obs export #.csv"


def test_a_data_row_taken_for_the_header_is_not_listed_when_it_holds_a_number_with_a_unit():
    # found by the long fuzz run: a UTF-16 file whose header was lost to an unclosed quote; its
    # first data row ("80 kg", a relative's name) was echoed as "unrecognised columns"
    assert "Quixworth" not in deid.header_list(["80 kg", "Zebediah Quixworth"])
    assert (
        deid.header_list(["Pain NRS", "PHQ9 Q9", "Weight (kg)"]) == "Pain NRS, PHQ9 Q9, Weight (kg)"
    )


def test_file_name_control_characters_become_visible():
    """Terminal escape codes, bell, line breaks and bidirectional overrides in a file name
    never reach the ledger, messages or the CLI (issue 15: escape codes printed raw)."""
    name = deid.scrub_file_name("a\x1b[2Jb\x07c\r\n\u202eg.csv")
    assert name == "a?[2Jb?c???g.csv"


def test_a_row_with_an_identifier_in_a_value_column_keeps_no_cells():
    # found by the long fuzz run: a shifted row (naive quoting) put an e-mail address in Date
    # and a relative's name in LOINC; the name cannot be told from a value, the e-mail betrays
    # the shift, so the quarantined row keeps no cells (its line and reason still say what to fix)
    import polars as pl

    frame = pl.DataFrame(
        {
            "MRN": ["m1", "m2"],
            "Date": ["jo@example.com", "2024-03-01"],
            "LOINC": ["Zebediah Quixworth", "72514-3"],
            "Value": ["extra", "12"],
        }
    )
    ids = deid.FileIdentifiers("MRN", None, [], frozenset())
    rows = deid.raw_rows_json(
        frame, ["MRN", "Date", "LOINC", "Value"], pl.Series(["p1", "p2"]), ids
    )
    assert rows[0] == "{}"
    assert '"Value": "12"' in rows[1] and '"MRN": "p2"' in rows[1]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Quilla Vantongeren", True),
        ("Quixworth, Zebediah", True),
        ("wife Quilla Vantongeren called", True),
        # attack (atk3): accented and compound names were not name-shaped (ASCII only)
        ("Ángel Quíxworth", True),
        ("Zoë Øbrien", True),
        ("Zebediah McQuixworth", True),
        ("PHQ IV", False),
        ("intravenus", False),
        ("Intravenus", False),
        ("80 kg", False),
        ("-2+3", False),
        (None, False),
    ],
)
def test_names_a_person(value, expected):
    assert deid.names_a_person(value) is expected


def test_contact_and_next_of_kin_columns_are_identifier_columns():
    """The attack (issue 15, second pass): an export with "Contact", "NOK", "Nombre" and
    "Telefono" columns. They were not imported (the allow-list held) but were not identifier
    columns either, so the names in them were not scrubbed from the same file's side-effect
    text ("spoke w/ Hortensia Pemberton" with "Hortensia Pemberton" in Contact)."""
    from kapoutcomes.ingest import deid

    for header in ("Contact", "NOK", "NOK Name", "Nombre", "Apellido", "Telefono", "Pager"):
        assert deid.is_identifier(header), header
    for header in ("Contact Date", "Last Contact", "Visit Date", "Side Effects", "Provider"):
        assert not deid.is_identifier(header), header


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mild nausea; Zebediah Quixworth called", "mild nausea; [name] called"),
        ("mild nausea; Ángel Quíxworth called", "mild nausea; [name] called"),
        ("dizzy; Zebediah O'Brien drove", "dizzy; [name] drove"),
        ("dizzy; Zebediah McQuixworth drove", "dizzy; [name] drove"),
        ("Seán Núñez-García", "[name]"),
        # the control: text without a name-shaped pair is kept as written
        ("mild nausea, IV site sore, BP 140/90", "mild nausea, IV site sore, BP 140/90"),
        ("náusea leve", "náusea leve"),
    ],
)
def test_scrub_name_shaped_takes_whole_names_of_any_latin_alphabet(text, expected):
    """Attack (atk3): on a row without its own name cell, "Ángel Quíxworth" was kept and
    "Zebediah O'Brien" became "[name]Brien": the pattern knew only ASCII letters."""
    assert deid.scrub_name_shaped(text) == expected
