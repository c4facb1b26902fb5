"""Property tests: over generated messy exports, rows in = accepted + quarantined + skipped."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kapoutcomes.ingest import import_files
from kapoutcomes.storage.store import Store

SECRET = b"ingest-test-secret-ingest-test-secret"

MRNS = st.sampled_from(["M1", " m1 ", "M-2", "M3", "", "N/A", "DEMO-000009"])
DATES = st.sampled_from(
    [
        "2024-03-01",
        "03/04/2024",
        "3/4/24 9:30 AM",
        "2024-03-01T14:00:00Z",
        "2024-03-01 10:00:00+02:00",
        "25/03/2024",
        "2024-13-45",
        "01-Mar-2024",
        "",
        "--",
        "1924-03-01",
        "2999-01-01",
    ]
)
CODES = st.sampled_from(
    [
        "72514-3",
        "44261-6",
        "70274-6",
        "55758-7",
        "44260-8",
        "8480-6",
        "8462-4",
        "8867-4",
        "29463-7",
        "8302-2",
        "",
        "zzz",
    ]
)
NAMES = st.sampled_from(
    [
        "",
        "Pain severity",
        "PHQ-9",
        "GAD 7",
        "Heart rate",
        'Mood, "good"',
        "note\nwith newline",
        "Systolic",
    ]
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "7/10",
            "7 out of 10",
            "11",
            "0",
            "27",
            "-",
            "declined",
            "N/A",
            "",
            "Several days",
            "abc",
            "120",
            "12,5",
            "=cmd()",
            "80 kg",
            "3",
        ]
    ),
    st.integers(-5, 400).map(str),
    st.text(alphabet="abcé;,|\t\"' 0123456789/", max_size=8),
)
ROW = st.tuples(MRNS, DATES, CODES, NAMES, VALUES)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    return text.encode(encoding, errors="replace")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    crlf=st.booleans(),
    headers=st.sampled_from(
        [
            ("MRN", "Date", "LOINC", "Description", "Value"),
            (" mrn ", "observed_at", "code", "NAME", "result"),
        ]
    ),
    day_first=st.booleans(),
)
def test_every_row_is_accounted_for(rows, delimiter, encoding, crlf, headers, day_first):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n" if crlf else "\n")
    w.writerow(headers)
    # a record whose cells are all blank is a blank line, not a row: make every row non-blank
    rows = [r if any(c.strip() for c in r) else ("M9", *r[1:]) for r in rows]
    w.writerows(rows)
    data = _encode(buf.getvalue(), encoding)
    with Store(":memory:") as store:
        rep = import_files(
            [("messy.csv", data)], store, clinic="C", secret=SECRET, day_first=day_first
        )
        f = rep.files[0]
        assert f.rows_read == len(rows)
        assert f.rows_read == f.accepted + f.quarantined + f.skipped
        assert sum(r.count for r in f.skip_reasons) == f.skipped
        q = store.query("SELECT count(DISTINCT row_number) AS n FROM quarantine").item()
        assert q == f.quarantined
        again = import_files([("messy.csv", data)], store, clinic="C", secret=SECRET)
        assert again.files[0].already_imported


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            MRNS,
            st.sampled_from(
                [
                    "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet",
                    "72 HR Fentanyl 0.025 MG/HR Transdermal System",
                    "Ibuprofen 200 MG",
                    "buprenorphine 2 MG Sublingual Tablet",
                    "oxycodone 5 mg/ml solution",
                    "",
                    "tramadol hydrochloride 50 MG Oral Tablet",
                ]
            ),
            st.sampled_from(["1 tab PO q6h prn", "BID", "", "whenever", "2 tabs PO TID prn"]),
            DATES,
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_medication_lists_reconcile(rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["MRN", "Medication", "Sig", "Start Date"])
    rows = [r if any(c.strip() for c in r) else ("M9", *r[1:]) for r in rows]
    w.writerows(rows)
    with Store(":memory:") as store:
        rep = import_files(
            [("meds.csv", buf.getvalue().encode())], store, clinic="C", secret=SECRET
        )
        f = rep.files[0]
        assert f.preset == "medications"
        assert f.rows_read == len(rows) == f.accepted + f.quarantined + f.skipped


WIDE_MAPPING = (
    "wide.toml",
    b'[file]\nclinic = "C"\ncare_model = "KAP"\nroute = "IV"\n'
    b'[columns]\nmrn = "MRN"\nstarted_at = "Visit"\nsession_type = "Type"\ndose = "Dose"\n'
    b'side_effects = "Side effects"\nweight = "Weight"\n'
    b'[[assessments]]\ncolumn = "Pain"\ninstrument = "pain_nrs"\ntiming = "before_dose"\n'
    b'[values.session_type]\n"Infusion" = "induction"\n"Consult" = "screening"\n',
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            MRNS,
            DATES,
            st.sampled_from(["Infusion", "Infusion #2", "Consult", "booster", "", "Party"]),
            st.sampled_from(["35 mg", "0.5 mg/kg", "-3 mg", "", "N/A", "lots"]),
            VALUES,
            st.sampled_from(
                [
                    "",
                    "none",
                    "nausea, felt floaty",
                    "mild headache",
                    "weird vibe",
                    "severe panic; BP up",
                ]
            ),
            st.sampled_from(["", "80 kg", "176 lbs", "heavy"]),
            st.sampled_from(["Ann Example", "Zoë Müller", ""]),
        ),
        min_size=1,
        max_size=25,
    ),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_wide_visits_reconcile(rows, delimiter):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(["MRN", "Visit", "Type", "Dose", "Pain", "Side effects", "Weight", "Patient Name"])
    rows = [r if any(c.strip() for c in r) else ("M9", *r[1:]) for r in rows]
    w.writerows(rows)
    with Store(":memory:") as store:
        rep = import_files(
            [("visits.csv", buf.getvalue().encode("cp1252", errors="replace"))],
            store,
            mapping=WIDE_MAPPING,
            secret=SECRET,
        )
        f = rep.files[0]
        assert f.rows_read == len(rows) == f.accepted + f.quarantined + f.skipped
        raw = store.query("SELECT string_agg(raw_row, ' ') AS r FROM quarantine").item() or ""
        assert "Ann Example" not in raw and "Müller" not in raw


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from([None, "a", "b"]), st.sampled_from([None, 1, 2])), max_size=40
    )
)
def test_first_of_key_is_unique_keep_first(rows):
    import polars as pl

    from kapoutcomes.ingest.dedupe import first_of_key

    f = pl.DataFrame(rows, schema={"k": pl.String, "n": pl.Int64}, orient="row")
    expected = f.with_row_index("i").unique(["k", "n"], keep="first", maintain_order=True)
    got = first_of_key(f, ["k", "n"])
    assert got.arg_true().to_list() == expected.get_column("i").to_list()
