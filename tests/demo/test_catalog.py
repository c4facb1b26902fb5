"""CATALOG.md (kapoutcomes.demo.catalog): the table of files, each file's section with its
mess and row accounting, the simulation notes, and the counts per table."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import catalog, params
from kapoutcomes.demo.files import Entry
from tests.builders import frame, session_row
from tests.demo.test_facts import hand_cohort


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


def test_notes_state_what_the_tables_show():
    text = "\n".join(catalog.simulation_notes(hand_cohort()))
    assert "1 of 2 (50%) dosed patients stopped after the first infusion" in text
    assert "1 of 3 (33%) patients never dosed" in text
    assert "(sessions on a weekend: 1)" in text
    assert f"{params.CLINICS[1]}: 2 of 3 (67%) patients, KAP care for 1 of 1 (100%)" in text
    assert "dissociation 22.2% (2), nausea_vomiting 11.1% (1)" in text
    assert "1 of 2 (50%) dosed patients reported one in their first week" in text
    assert "2 of 3 (67%) patients on an opioid at referral, 1 of them (50%) on two" in text
    assert "large (40%-80% of the baseline score) in 1 of 2 (50%) patients" in text


def test_notes_follow_the_data_not_the_parameters(small_cohort):
    """Halving the adverse events changes the stated rates to the halved table's own."""
    t = small_cohort.tables
    fewer = t["adverse_events"].filter(pl.int_range(pl.len()) % 2 == 0)
    halved = replace(small_cohort, tables={**t, "adverse_events": fewer})
    dosing = t["sessions"].filter(pl.col("session_type").is_in(tables.DOSING_TYPES)).height
    n = fewer.filter(pl.col("event") == "dissociation").height
    note = next(n for n in catalog.simulation_notes(halved) if n.startswith("adverse events"))
    assert f"({dosing} sessions): dissociation {n / dosing:.1%} ({n})" in note
    assert note != next(
        n for n in catalog.simulation_notes(small_cohort) if n.startswith("adverse events")
    )


def test_no_crps_figures_without_crps_patients():
    cohort = hand_cohort()
    patients = cohort.tables["patients"].with_columns(primary_condition=pl.lit("neuropathic"))
    no_crps = replace(cohort, tables={**cohort.tables, "patients": patients})
    note = next(n for n in catalog.simulation_notes(no_crps) if n.startswith("induction"))
    assert note.startswith("induction: up to 6 infusions on weekdays;") and "CRPS" not in note
