"""Resolving an import's candidates (kapoutcomes.ingest.resolve): patient rows completed from
what the export says, and rows of patients nobody described."""

from __future__ import annotations

import datetime as dt

import polars as pl

from kapoutcomes.ingest import import_files, resolve
from kapoutcomes.ingest.extract import RK
from kapoutcomes.storage.store import Store


def _patients(**cols) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "patient_id": [f"p_{i:016x}" for i in range(n)],
        "clinic": ["North"] * n,
        "primary_condition": ["CRPS"] * n,
        "referral_date": [dt.date(2024, 1, 10)] * n,
        RK: list(range(n)),
    }
    return pl.DataFrame({**base, **cols})


def test_birth_date_becomes_year_and_band_at_first_treatment():
    p = _patients(
        birth_date=[dt.date(1964, 3, 1), dt.date(1964, 3, 1), dt.date(1930, 1, 1)],
        first_date=[dt.date(2024, 2, 29), dt.date(2024, 3, 1), None],
    )
    out = resolve.complete_patients(p)
    # 2024-02-29: a day before the 60th birthday -> 59; 2024-03-01: 60.
    # the third has no treatment yet: age at referral 2024-01-10 is 94 -> 90+, no birth year
    assert out.get_column("age_band").to_list() == ["50-59", "60-69", "90+"]
    assert out.get_column("birth_year").to_list() == [1964, 1964, None]
    assert out.columns[-2:] == [RK, "_owner"]


def test_birth_year_alone_gives_the_band_and_flags_default_to_no():
    p = _patients(
        birth_year=pl.Series([1980, None], dtype=pl.Int32),
        first_date=[dt.date(2024, 6, 1), dt.date(2024, 6, 1)],
        psychosis_history=[None, True],
    )
    out = resolve.complete_patients(p)
    assert out.get_column("age_band").to_list() == ["40-49", None]  # 2024 - 1980 = 44
    assert out.get_column("psychosis_history").to_list() == [False, True]
    assert out.get_column("cardiovascular_disease").to_list() == [False, False]


def test_rows_of_an_undescribed_patient_are_quarantined_and_store_patients_lists_them(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    f = tmp_path / "obs.csv"
    f.write_text("MRN,Date,Observation,Value\nA1,2024-02-01,Pain NRS,7\n", encoding="utf-8")
    db = tmp_path / "s.duckdb"
    secret = b"resolve-test-secret-resolve-test-secret"
    seed = b"MRN,Date,Observation,Value\nB1,2024-01-01,Pain NRS,6\n"
    import_files([("seed.csv", seed)], db, clinic="North", secret=secret)
    # (into a store without patients, an import naming no clinic is refused up front)
    rep = import_files([f], db, secret=secret)  # no --clinic: the patient is unknown
    assert (rep.accepted, rep.quarantined) == (0, 1)
    assert rep.files[0].quarantine_reasons[0].reason == resolve.NO_PATIENT
    f2 = tmp_path / "obs2.csv"  # new content (the same file again would be "already imported")
    f2.write_text(f.read_text() + "A1,2024-02-08,Pain NRS,5\n", encoding="utf-8")
    rep = import_files([f2], db, clinic="North", secret=secret)
    assert rep.accepted == 2
    with Store(db, read_only=True) as st:
        assert resolve.store_patients(st) == set(st.read("patients").get_column("patient_id"))
        assert len(resolve.store_patients(st)) == 2
