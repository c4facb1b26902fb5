"""Issue 15: no identifier from the corpus reaches the store, the quarantine download, the
ledger, the audit trail or the CLI's output, whatever free text or column carries it."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.ingest.data import identifier_corpus as corpus

ROOT = Path(__file__).resolve().parents[2]
MAPPING = (
    '[file]\nclinic = "C"\ncare_model = "KAP"\nroute = "IV"\nseverity_when_unstated = "mild"\n'
    '[columns]\nmrn = "MRN"\nstarted_at = "Visit"\nsession_type = "Type"\ndose = "Dose"\n'
    'side_effects = "Side effects"\n'
    '[[assessments]]\ncolumn = "Pain"\ninstrument = "pain_nrs"\ntiming = "before_dose"\n'
    '[values.session_type]\n"Infusion" = "induction"\n'
)
#: Identifier columns of an export, as the attacker's pass found them kept.
ID_HEADERS = (
    "Patient Name",
    "Tel",
    "Soc Sec No",
    "Responsible Party",
    "Subscriber ID",
    "Account #",
)
TEXT = corpus.PHONES + corpus.SSNS + corpus.EMAILS + corpus.ADDRESSES + corpus.DATES + corpus.IDS


def _id_cells(i: int) -> list[str]:
    name = corpus.NAMES[i % len(corpus.NAMES)]
    party = corpus.NAMES[(i + 1) % len(corpus.NAMES)]
    return [
        name,
        corpus.PHONES[i % len(corpus.PHONES)],
        corpus.SSNS[i % len(corpus.SSNS)],
        party,
        f"SUBX{i:04d}77",
        f"ACCT-{i:06d}",
    ]


def _visits() -> str:
    """A wide visit export: free text carrying every corpus value, some rows quarantined."""
    rows = ["\t".join(["MRN", "Visit", "Type", "Dose", "Pain", "Side effects", *ID_HEADERS])]
    for i, t in enumerate(TEXT):
        name = corpus.NAMES[i % len(corpus.NAMES)]
        party = corpus.NAMES[(i + 1) % len(corpus.NAMES)]
        effects = f"weird vibe, {name} said; {party.lower()} called {t}"
        pain = "11" if i % 3 == 0 else "6"  # every third row is quarantined
        day = f"2024-{1 + i % 12:02d}-{1 + i % 27:02d} 09:{i % 60:02d}"
        rows.append(
            "\t".join([f"RPC-{i % 9:04d}", day, "Infusion", "35 mg", pain, effects, *_id_cells(i)])
        )
    return "\n".join(rows) + "\n"


def _medications() -> str:
    """A medication list: descriptions and sigs carrying the corpus; liquids quarantined."""
    rows = ["\t".join(["MRN", "Medication", "Sig", "Start Date", *ID_HEADERS])]
    for i, (t, u) in enumerate(itertools.pairwise((*TEXT, TEXT[0]))):
        name = corpus.NAMES[i % len(corpus.NAMES)]
        drug = (
            "oxycodone 5 mg/ml solution"
            if i % 4 == 0
            else "Oxycodone Hydrochloride 5 MG Oral Tablet"
        )
        rows.append(
            "\t".join(
                [
                    f"RPC-{i % 9:04d}",
                    f"{drug} {t}",
                    f"1 tab PO q6h {u} per {name}",
                    f"2024-02-{1 + i % 27:02d}",
                    *_id_cells(i),
                ]
            )
        )
    return "\n".join(rows) + "\n"


def _forbidden() -> list[str]:
    out = [*corpus.ALL, *(n.lower() for n in corpus.NAMES)]
    out += [
        p
        for n in corpus.NAMES
        for p in n.replace("-", " ").replace("'", " ").split()
        if len(p) >= 4
    ]
    out += [f"SUBX{i:04d}77" for i in range(len(TEXT))] + [
        f"ACCT-{i:06d}" for i in range(len(TEXT))
    ]
    out += ["Quintrell_1971", "MRN889911", "889911"]
    return out


def test_no_corpus_identifier_in_store_quarantine_ledger_audit_or_cli_output(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    # file names carrying a patient's name, date of birth and MRN
    (export / "Zebediah_Quintrell_1971-04-06_MRN889911_visits.tsv").write_text(_visits())
    (export / "meds_889911_06.04.1971.tsv").write_text(_medications())
    mapping = tmp_path / "wide.toml"
    mapping.write_text(MAPPING)
    db, qcsv = tmp_path / "s.duckdb", tmp_path / "q.csv"
    env = {
        **os.environ,
        "KAPOUTCOMES_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    run = [sys.executable, "-m", "kapoutcomes.cli", "import"]
    first = subprocess.run(
        [*run, str(export), "--mapping", str(mapping), "--store", str(db), "--clinic", "C"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    assert "quarantined" in first.stdout and "Traceback" not in first.stderr
    second = subprocess.run(
        [*run, "--quarantine-csv", str(qcsv), "--store", str(db)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    con = duckdb.connect(str(db), read_only=True)
    tables = [
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    ]
    assert {"quarantine", "import_ledger", "adverse_events", "opioids"} <= set(tables)
    cells: dict[str, str] = {}
    for t in tables:
        rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
        cells[t] = "\n".join(" | ".join(str(v) for v in r) for r in rows)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] > 0
    assert any(t.startswith("audit") and cells[t] for t in tables), "the CLI import is audited"
    con.close()
    # free text was kept, scrubbed, not dropped wholesale
    assert "[phone]" in cells["adverse_events"] and "[name]" in cells["adverse_events"]
    assert "[address]" in cells["opioids"]
    where = {
        **{f"table {t}": v for t, v in cells.items()},
        # one file per source file: q.csv is a folder when several source files had rows
        "quarantine download": "\n".join(
            q.read_text(encoding="utf-8-sig")
            for q in (sorted(qcsv.iterdir()) if qcsv.is_dir() else [qcsv])
        ),
        "CLI output": first.stdout + first.stderr + second.stdout + second.stderr,
        # DuckDB blocks can hold a byte table (0x00..0xff), whose ASCII run contains
        # "0123456789": that run is cut out of the file's bytes before searching them
        "store file": db.read_bytes()
        .replace(bytes(range(32, 127)), b"")
        .decode("utf-8", errors="replace"),
    }
    leaks = [(k, s) for k, v in where.items() for s in _forbidden() if s.lower() in v.lower()]
    assert not leaks, leaks[:20]
    # the quarantine keeps only the columns the mapping reads
    header = where["quarantine download"].splitlines()[0]
    for h in ID_HEADERS:
        assert h not in header, header
