"""Fake identities for the messy exports (kapoutcomes.demo.identities): one per patient,
reproducible, and fake by construction (555-01xx phones, 9xx SSNs, 0xxxx ZIP codes)."""

from __future__ import annotations

import polars as pl

from kapoutcomes.demo import identities as ident


def test_one_fake_identity_per_patient(small_cohort):
    ids = ident.identities(small_cohort)
    assert ids.height == 80 and ids.get_column("patient_id").n_unique() == 80
    assert ids.get_column("phone").str.contains(r"^\(\d{3}\) 555-01\d{2}$").all()
    assert ids.get_column("ssn").str.contains(r"^9\d{2}-\d{2}-\d{4}$").all()
    assert ids.get_column("zip").str.contains(r"^0\d{4}$").all()
    assert set(ids.get_column("city")) <= {p[0] for p in ident.PLACES}


def test_first_names_follow_sex_and_draws_repeat(small_cohort):
    ids = ident.identities(small_cohort)
    men = ids.filter(pl.col("sex") == "male").get_column("first")
    women = ids.filter(pl.col("sex") == "female").get_column("first")
    assert set(men) <= set(ident.FIRST_M) and set(women) <= set(ident.FIRST_F)
    assert ident.identities(small_cohort).equals(ids)
    # keyed by the cohort's own MRNs
    assert all(small_cohort.mrns[p] == m for p, m in ids.select("patient_id", "mrn").rows())
