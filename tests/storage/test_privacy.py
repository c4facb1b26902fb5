"""Pseudonyms are keyed, stable and owner-only; identifiers are recognised."""

from __future__ import annotations

import datetime as dt
import os
import stat

from hypothesis import given
from hypothesis import strategies as st

from kapoutcomes.storage import privacy


def test_secret_created_once_owner_only(tmp_path):
    p = tmp_path / "k" / "secret.key"
    a = privacy.create_keys(p)
    b = privacy.read_keys(p)
    assert a == b and len(a.master) == 32 and a.derivation == privacy.DERIVATION
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(p.parent).st_mode) == 0o700
    assert privacy.create_keys(p) == a  # never overwritten


def test_pseudonym_is_keyed_and_normalised():
    k1, k2 = b"a" * 32, b"b" * 32
    assert privacy.pseudonymise("mrn-0012", k1) == privacy.pseudonymise(" MRN-0012 ", k1)
    assert privacy.pseudonymise("MRN-0012", k1) != privacy.pseudonymise("MRN-0012", k2)
    assert privacy.looks_like_patient_id(privacy.pseudonymise("MRN-0012", k1))
    assert "0012" not in privacy.pseudonymise("MRN-0012", k1)[2:6]


@given(st.text(min_size=1, max_size=30))
def test_pseudonym_shape_property(mrn):
    pid = privacy.pseudonymise(mrn, b"k" * 32)
    assert privacy.looks_like_patient_id(pid)


def test_birth_year_and_band():
    assert privacy.birth_year_and_band(dt.date(1970, 6, 15), dt.date(2024, 6, 14)) == (
        1970,
        "50-59",
    )
    assert privacy.birth_year_and_band(dt.date(1970, 6, 15), dt.date(2020, 6, 15)) == (
        1970,
        "50-59",
    )
    assert privacy.birth_year_and_band(dt.date(1930, 1, 1), dt.date(2024, 6, 1)) == (None, "90+")


def test_identifier_headers_and_text():
    for h in ("First Name", "LAST", "SSN", "Phone", "e-mail", "Address", "DRIVERS", "PASSPORT"):
        assert privacy.is_identifier_header(h), h
    for h in ("pain", "MRN", "visit date", "dose"):
        assert not privacy.is_identifier_header(h), h
    text = privacy.scrub_text("call 555-123-4567 or jo@example.org, ssn 123-45-6789")
    assert "555-123-4567" not in text and "jo@example.org" not in text and "123-45-6789" not in text
