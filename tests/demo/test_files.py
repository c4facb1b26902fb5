"""How the demo files are written (kapoutcomes.demo.files): fixed decimals, canonical CSV
text, delimiter and newline choices, encodings, and which patients an export holds."""

from __future__ import annotations

import polars as pl

from kapoutcomes.demo import files
from tests.builders import frame, session_row


def test_fixed_decimals_without_locale_or_float_noise():
    f = pl.DataFrame({"x": [3.14159, -2.7, 0.004, 7.0, -0.04, 1e6 + 0.1]})
    out = f.select(files.fixed_decimals("x", 2)).get_column("x").to_list()
    assert out == ["3.14", "-2.70", "0.00", "7.00", "-0.04", "1000000.10"]
    assert f.select(files.fixed_decimals("x", 0)).get_column("x").to_list()[:2] == ["3", "-3"]
    # -0.04 to one decimal is zero: written without a minus sign
    assert f.select(files.fixed_decimals("x", 1)).get_column("x").to_list()[4] == "0.0"


def test_canonical_csv_columns_decimals_and_iso_times():
    text = files.canonical_csv("sessions", frame("sessions", [session_row(weight_kg=None)]))
    header, row = text.splitlines()
    assert header.startswith("session_id,patient_id,started_at,session_type")
    cells = dict(zip(header.split(","), row.split(","), strict=True))
    assert cells["started_at"] == "2024-02-01T09:00:00"
    assert cells["dose_mg"] == "40.0" and cells["dose_mg_per_kg"] == "0.500"
    assert cells["cost_usd"] == "600.00"
    assert cells["weight_kg"] == ""  # null is empty
    assert text.endswith("\n") and "\r" not in text


def test_csv_text_and_write_text(tmp_path):
    text = files.csv_text(["a", "b"], [["x;y", None], [1, 2.5]], ";", "\r\n")
    assert text == 'a;b\r\n"x;y";\r\n1;2.5\r\n'
    path = files.write_text(tmp_path / "sub" / "f.csv", "Zoë\r\n", encoding="cp1252")
    assert path.read_bytes() == b"Zo\xeb\r\n"  # no newline translation, Windows-1252


def test_clinic_patients_are_that_clinics_in_mrn_order(small_cohort):
    clinic = "Riverside Pain Clinic"
    ids = files.clinic_patients(small_cohort, clinic)
    p = small_cohort.tables["patients"]
    assert set(ids) <= set(p.filter(pl.col("clinic") == clinic).get_column("patient_id"))
    assert len(ids) == min(files.EXPORT_PATIENTS, (p.get_column("clinic") == clinic).sum())
    mrns = [small_cohort.mrns[i] for i in ids]
    assert mrns == sorted(mrns)
