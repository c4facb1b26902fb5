"""Hardening the importer (issue 6): fuzzing, upload limits, content sniffing, Excel formulas,
no identifiers in output, and a killed ``kapoutcomes import`` leaving the store consistent.

The fuzz property and its generators live in ``bench/fuzz_import.py`` (the long run,
``python -m bench.fuzz_import --cases 10000``, records ``bench/fuzz_results.md``); here it runs
a few hundred cases. ``KAPOUTCOMES_FUZZ_LONG=1`` also runs the slow variant.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bench import fuzz_import as fz
from kapoutcomes import cli
from kapoutcomes.ingest import ImportLimits, IngestError, import_files
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]
SECRET = fz.SECRET


# -- the fuzz property ------------------------------------------------------------------------
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=fz.cases())
def test_fuzzed_imports_keep_every_promise(case):
    """Only IngestError; a failure writes nothing; rows reconcile; no planted identifier
    reaches the store, the report or the error message."""
    assert fz.check(case).problems == []


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("KAPOUTCOMES_FUZZ_LONG"), reason="KAPOUTCOMES_FUZZ_LONG=1")
@settings(
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=fz.cases())
def test_fuzzed_imports_long(case):
    assert fz.check(case).problems == []


# -- upload limits ------------------------------------------------------------------------------
LONG = b"MRN,Date,LOINC,Value\n" + b"M1,2024-01-01,72514-3,5\n" * 20


def _refused(files, match, **kw) -> IngestError:
    with Store(":memory:") as st:
        import_files([fz.PRELOAD], st, clinic="C", secret=SECRET)
        before = st.counts()
        with pytest.raises(IngestError, match=match) as e:
            import_files(files, st, clinic="C", secret=SECRET, **kw)
        assert st.counts() == before
    assert e.value.file and e.value.action
    return e.value


def test_limits_have_documented_defaults():
    from kapoutcomes.ingest import MAX_BYTES, MAX_COLUMNS, MAX_ROWS

    lim = ImportLimits()
    assert (lim.max_bytes, lim.max_rows, lim.max_columns) == (MAX_BYTES, MAX_ROWS, MAX_COLUMNS)
    assert MAX_BYTES == 200 * 1024 * 1024 and MAX_ROWS == 5_000_000 and MAX_COLUMNS == 500
    doc = (ROOT / "docs" / "importing.md").read_text()
    assert "## Limits" in doc and "200 MB" in doc and "5,000,000" in doc and "500" in doc


def test_file_over_the_size_limit(tmp_path):
    e = _refused(
        [("big.csv", LONG)],
        "over the import limit of 100 bytes",
        limits=ImportLimits(max_bytes=100),
    )
    assert e.file == "big.csv" and "split the export" in e.action
    # a path is refused before it is read
    p = tmp_path / "big.csv"
    p.write_bytes(LONG)
    _refused([p], r"big\.csv: the file is 5\d\d bytes", limits=ImportLimits(max_bytes=100))
    # the default lets ordinary files through
    with Store(":memory:") as st:
        assert import_files([("ok.csv", LONG)], st, clinic="C", secret=SECRET).reconciles


def test_too_many_rows_and_columns():
    _refused([("rows.csv", LONG)], "more than 10 data rows", limits=ImportLimits(max_rows=10))
    wide = b",".join(b"c%d" % i for i in range(30)) + b"\n" + b",".join([b"1"] * 30) + b"\n"
    e = _refused(
        [("wide.csv", wide)],
        "30 columns in the header, over the import limit of 20",
        limits=ImportLimits(max_columns=20),
    )
    assert "transposed" in e.action
    # a workbook too
    import openpyxl

    wb = openpyxl.Workbook()
    for i in range(12):
        wb.active.append(
            ["MRN", "Date", "LOINC", "Value"] if i == 0 else ["M1", "2024-01-01", "72514-3", 5]
        )
    bio = io.BytesIO()
    wb.save(bio)
    _refused(
        [("rows.xlsx", bio.getvalue())],
        "Sheet.*more than 5 data rows",
        limits=ImportLimits(max_rows=5),
    )
    _refused(
        [("cols.xlsx", bio.getvalue())], "row 1: 4 columns", limits=ImportLimits(max_columns=3)
    )


def test_overlong_cell_and_unclosed_quote():
    data = b'MRN,Date,LOINC,Value\nM1,2024-01-01,72514-3,"5\nM2,2024-01-02,72514-3,6\n' + b"x" * 200
    e = _refused(
        [("q.csv", data)],
        "longer than the limit of 100 characters",
        limits=ImportLimits(max_field_chars=100),
    )
    assert "unclosed quote" in e.action


def test_workbook_that_unpacks_too_far():
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", " " * 5_000_000)  # compresses to a few KB
    assert len(bio.getvalue()) < 100_000
    _refused(
        [("bomb.xlsx", bio.getvalue())],
        "unpacks to 4.8 MB, over the import limit of 1.0 MB",
        limits=ImportLimits(max_unpacked_bytes=1024 * 1024),
    )


# -- content sniffing: the name is never trusted -----------------------------------------------
def _xlsx(rows, formulas: dict[str, str] | None = None, vba: bool = False) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    bio = io.BytesIO()
    wb.save(bio)
    if not formulas and not vba:
        return bio.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(bio) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for old, new in (formulas or {}).items():
                    assert old in text
                    text = text.replace(old, new)
                data = text.encode()
            zout.writestr(item, data)
        if vba:
            zout.writestr("xl/vbaProject.bin", b'\xd0\xcf\x11\xe0 Sub AutoOpen(): Shell "calc"')
    return out.getvalue()


CSV = b"MRN,Date,LOINC,Value\nM1,2024-01-01,72514-3,5\n"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("scan.csv", bytes(range(256)) * 8, r"not a table \(binary data"),
        ("export.csv", b"PK\x03\x04" + b"\x00" * 40, "zip archive that is not an Excel workbook"),
        ("page.csv", b"\n  <!DOCTYPE html>\n<html><body>Sign in</body></html>", "HTML web page"),
        ("page.xlsx", b"<html>\n<body>MRN,Date</body></html>", "HTML web page"),
        ("letter.csv", b"%PDF-1.7\n1 0 obj", "PDF document"),
        ("nuls.csv", CSV + b"M2,2024-01-02,72514-3,6\x00\x00\x00\n" * 4, "NUL"),
        ("utf16_nuls.csv", "MRN,Date\nM1\x00\x00\x00,2024\x00\n".encode("utf-16") * 4, "NUL"),
        ("doc.csv", b"{\\rtf1\\ansi MRN,Date\\par}", "RTF"),
        ("data.csv", b'[{"MRN": "M1", "Date": "2024-01-01"}]', "JSON"),
        ("feed.csv", b'<?xml version="1.0"?>\n<rows/>', "XML"),
        ("cut.csv", b"\xff\xfe" + "MRN,Date\n".encode("utf-16-le") + b"\x00", "UTF-16 .*damaged"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0" + b"\x00" * 64, r"Excel 97-2003 \(\.xls\)"),
    ],
)
def test_what_the_file_is_comes_from_its_content(name, data, message):
    e = _refused([(name, data)], message)
    assert str(e).startswith(f"{name}: ") and str(e).count(";") == 1  # one message, one action


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_stray_nul_fails_its_row_not_the_file(encoding):
    """Left alone last session, now built (issue 15 item 6: never abort on one bad cell): one
    NUL character in a cell of a 400-row export (a damaged cell) refused the whole file as
    "binary data". The row fails with the column named and the reason; the 401 other rows
    import. A NUL in a column the import does not read is taken out and fails nothing. Many
    NULs still mean binary data (the refusals above)."""
    rows = "".join(f"M{i},2024-01-02,72514-3,6\n" for i in range(2, 401))
    text = CSV.decode() + rows + "M401,2024-01-03,72514-3,4\x00\n"
    text = text.replace("Value\n", "Value,No\x00te\n", 1)
    with Store(":memory:") as st:
        rep = import_files([("late_nul.csv", text.encode(encoding))], st, clinic="C", secret=SECRET)
        assert (rep.accepted, rep.quarantined, rep.skipped) == (400, 1, 0)
        (reason,) = st.query("SELECT reason FROM quarantine WHERE row_number = 402").rows()[0]
        assert "column 'Value' holds a NUL character" in reason
        assert "\x00" not in " ".join(fz._store_text(st).values())


def test_workbook_named_csv_and_csv_named_xlsx_read_by_content():
    with Store(":memory:") as st:
        rep = import_files(
            [
                (
                    "really_a_workbook.csv",
                    _xlsx([["MRN", "Date", "LOINC", "Value"], ["M1", "2024-01-01", "72514-3", 5]]),
                ),
                ("really_text.xlsx", CSV.replace(b"M1", b"M2")),
            ],
            st,
            clinic="C",
            secret=SECRET,
        )
        a, b = rep.files
        assert (a.encoding, a.accepted) == ("xlsx", 1) and "Excel workbook" in " ".join(a.notes)
        assert (b.delimiter, b.accepted) == (",", 1) and "not a workbook" in " ".join(b.notes)


# -- Excel: cached values only, nothing evaluated or run -----------------------------------------
def test_workbook_formulas_are_never_evaluated():
    rows = [
        ["MRN", "Date", "LOINC", "Value", "Note"],
        ["M1", "2024-01-01", "72514-3", "=1+1", '=HYPERLINK("http://evil.example","click")'],
        ["M1", "2024-01-02", "72514-3", "=1+1", "=cmd|' /C calc'!A0"],
    ]
    data = _xlsx(
        rows,
        {
            # cached 7, not what =1+1 evaluates to: the value read is the cached one
            '<c r="D2"><f>1+1</f><v /></c>': '<c r="D2"><f>1+1</f><v>7</v></c>',
            '<c r="E2"><f>HYPERLINK("http://evil.example","click")</f><v /></c>': (
                '<c r="E2" t="str"><f>HYPERLINK("http://evil.example","click")</f><v>click</v></c>'
            ),
        },
    )
    with Store(":memory:") as st:
        rep = import_files([("formulas.xlsx", data)], st, clinic="C", secret=SECRET)
        f = rep.files[0]
        assert f.rows_read == 2 and f.accepted == 1 and f.skipped == 1  # D3: no cached value
        assert st.query("SELECT score FROM assessments").get_column("score").to_list() == [7]
        text = fz._store_text(st)
        assert not any("evil.example" in v or "calc" in v for v in text.values())


def test_macro_workbook_reads_values_only(tmp_path):
    data = _xlsx([["MRN", "Date", "LOINC", "Value"], ["M1", "2024-01-01", "72514-3", 4]], vba=True)
    marker = tmp_path / "macro-ran"
    with Store(":memory:") as st:
        rep = import_files([("visits.xlsm", data)], st, clinic="C", secret=SECRET)
        assert rep.files[0].accepted == 1
        assert "vba" not in " ".join(str(v) for v in fz._store_text(st).values()).lower()
    assert not marker.exists()


# -- no identifiers in anything the importer or the CLI prints -------------------------------
def test_importer_has_no_print_or_logging_calls():
    for path in sorted((ROOT / "kapoutcomes" / "ingest").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                fn = node.func
                name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
                assert name not in ("print", "pprint", "warn"), f"{path.name}:{node.lineno}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(m.split(".")[0] in ("logging", "warnings") for m in mods), path.name


@pytest.mark.parametrize(
    "data",
    [
        # a good export with identifier columns and quarantined rows
        b"MRN,Patient Name,SSN,Phone,Date,LOINC,Value\n"
        b"MRN-QX7731,Zebediah Quixworth,078-05-1120,(555) 867-5309,2024-01-01,72514-3,5\n"
        b"MRN-QX7731,Zebediah Quixworth,078-05-1120,(555) 867-5309,2024-01-02,72514-3,Zebediah 99\n",
        # exported without a header row: the first data row must not be echoed
        b"MRN-QX7731,Zebediah Quixworth,078-05-1120,2024-01-01,72514-3,5\n"
        b"MRN-QX7731,Zebediah Quixworth,078-05-1120,2024-01-02,72514-3,6\n",
    ],
)
def test_cli_output_holds_no_identifiers(tmp_path, monkeypatch, capsys, data):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path / "home"))
    f = tmp_path / "export.csv"
    f.write_bytes(data)
    for extra in (
        [],
        ["--json"],
        ["--mapping", str(ROOT / "sample_data" / "mappings" / "riverside_visits.toml")],
    ):
        cli.main(["import", str(f), "--store", str(tmp_path / "s.duckdb"), "--clinic", "C", *extra])
        out = capsys.readouterr()
        for s in ("MRN-QX7731", "Zebediah", "Quixworth", "078-05-1120", "867-5309"):
            assert s not in out.out and s not in out.err, (extra, out)


# -- killing the real CLI mid-import -----------------------------------------------------------
def long_file(path: Path, rows: int) -> None:
    codes = ("72514-3", "44261-6", "70274-6", "8302-2")
    with path.open("w") as f:
        f.write("MRN,Date,LOINC,Value\n")
        for i in range(rows):
            f.write(f"M{i % 997},2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z,")
            f.write(f"{codes[i % 4]},{i % 10}\n")


def _cli() -> list[str]:
    exe = Path(sys.executable).parent / "kapoutcomes"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "kapoutcomes.cli"]


def _state(db: Path) -> tuple[dict[str, int], list[tuple]]:
    with Store(db) as st:
        counts = st.counts()
        ledger = st.query(
            "SELECT content_sha256, rows_read, accepted, quarantined, skipped FROM import_ledger "
            "ORDER BY 1"
        ).rows()
    return counts, ledger


def test_sigkill_of_the_cli_at_random_moments_leaves_before_or_after(tmp_path):
    env = {**os.environ, "KAPOUTCOMES_HOME": str(tmp_path / "home")}
    base = tmp_path / "base.duckdb"
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    long_file(small, 50)
    long_file(big, 150_000)
    cmd = [*_cli(), "import", "--clinic", "C", "--json"]
    subprocess.run(
        [*cmd, str(small), "--store", str(base)], env=env, check=True, capture_output=True
    )
    before = _state(base)

    ref = tmp_path / "ref.duckdb"
    shutil.copy(base, ref)
    t0 = time.monotonic()
    subprocess.run([*cmd, str(big), "--store", str(ref)], env=env, check=True, capture_output=True)
    took = time.monotonic() - t0
    after = _state(ref)
    assert (
        after[0]["assessments"] > before[0]["assessments"] and len(after[1]) == len(before[1]) + 1
    )

    rng = random.Random(6)
    seen = []
    for trial in range(4):
        db = tmp_path / f"trial{trial}.duckdb"
        shutil.copy(base, db)
        proc = subprocess.Popen(
            [*cmd, str(big), "--store", str(db)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # the first trial is killed early (under load the reference run can take longer than
        # the trials, so that random moments late in it may all land after the commit)
        time.sleep((0.15 if trial == 0 else rng.uniform(0.3, 1.0)) * took)
        proc.send_signal(signal.SIGKILL)  # a no-op when the import has already finished
        proc.wait(timeout=60)
        state = _state(db)
        assert state in (before, after), f"trial {trial}: neither before nor after"
        seen.append("before" if state == before else "after")
        # the ledger agrees with the tables: the big file is in it exactly when its rows are
        with Store(db) as st:
            known = st.has_import(hashlib.sha256(big.read_bytes()).hexdigest())
        assert known == (state == after)
    # which moments are hit varies with the machine; the early ones die before the commit
    assert "before" in seen, seen


def test_record_split_by_a_line_break_keeps_no_shifted_name_in_quarantine():
    """Found by fuzzing: an unquoted line break splits a record, shifting the patient's name
    into the instrument column of the second piece; the only row naming this patient."""
    data = (
        b"patient_id,assessed_at,instrument,item,score,timing,Email,Patient Name\n"
        b"M7,2024-03-01,pain_nrs,,7,base\n"
        b"line,zeb.quix@example.org,Zebediah Quixworth\n"
        b"M1,2024-03-02,pain_nrs,,5,baseline,a@b.org,Ann Other\n"
    )
    with Store(":memory:") as st:
        rep = import_files([("split.csv", data)], st, clinic="C", secret=SECRET)
        assert rep.reconciles and rep.files[0].quarantined == 2
        text = " ".join(fz._store_text(st).values())
        assert fz._leaks(text) == [] and "Ann" not in text


def test_planted_names_stay_only_where_the_file_names_them():
    # a file without the column that names a planted identifier must not hold it in free text
    # (nothing could know it for one): seed 18 drew "Quixworth" through st.text's constants
    assert fz.unnamed("QUIXWORTH felt dizzy", ["MRN", "Side effects"]) == "they felt dizzy"
    assert fz.unnamed("wife Quilla Vantongeren called", ["MRN"]) == "wife they called"
    kept = ["MRN", "Patient Name", "Responsible Party", "Email"]
    assert fz.unnamed("Zebediah Quixworth, Quilla, zeb.quix", kept) == (
        "Zebediah Quixworth, Quilla, zeb.quix"
    )
