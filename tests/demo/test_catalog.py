"""CATALOG.md (kapoutcomes.demo.catalog): the table of files, each file's section with its
mess and row accounting, the simulation notes, and the counts per table."""

from __future__ import annotations

import polars as pl

from kapoutcomes.demo import catalog, params
from kapoutcomes.demo.files import Entry
from tests.builders import frame, session_row


def test_table_counts_by_hand():
    s = frame(
        "sessions",
        [session_row("a"), session_row("b"), session_row("c", session_type="booster")],
    )
    counts = catalog.table_counts("sessions", s)
    assert counts["induction sessions"] == 2 and counts["booster sessions"] == 1
    assert counts["screening sessions"] == 0


def test_catalog_markdown(small_cohort):
    entries = [
        Entry("demo/a.csv", "Table A", 1234, "UTF-8", ", (comma)", ["a bad date"], {"accepted": 3}),
        Entry("exports/b.csv", "Export B", 5, "Windows-1252", "; (semicolon)"),
    ]
    md = catalog.catalog_markdown(small_cohort, entries)
    lines = md.splitlines()
    assert lines[0] == "# Sample data catalog"
    assert "| `demo/a.csv` | Table A | 1,234 | UTF-8 | , (comma) |" in lines
    assert "- deliberate mess:" in lines and "  - a bad date" in lines
    assert "  - accepted: 3" in lines
    assert "`kapoutcomes sample --seed 5 --patients 80`" in md
    assert md.count("## `") == 2
    assert catalog.MAPPINGS_NOTE in md


def test_simulation_notes_count_every_patient(small_cohort):
    notes = catalog.simulation_notes(small_cohort)
    classes = next(n for n in notes if n.startswith("hidden response class"))
    counts = [int(classes.split(f"{c} ")[1].split(",")[0].split(";")[0])
              for c in params.RESPONSE_CLASSES]  # fmt: skip
    assert sum(counts) == 80
    assert notes[0].startswith("referrals from 2024-01-02 over 456 days")
    truth = small_cohort.truth
    assert counts[0] == int((truth.get_column("response_class") == "responder").sum())
    assert isinstance(truth, pl.DataFrame)
