"""The importer's batch pseudonyms equal ``privacy.pseudonymise`` MRN by MRN."""

from __future__ import annotations

import polars as pl

from kapoutcomes.ingest import deid
from kapoutcomes.storage import privacy


def test_batch_pseudonyms_equal_privacy_pseudonymise() -> None:
    secret = b"k" * 32
    mrns = [
        "MRN-0012",
        " mrn-0012 ",
        "mrn\t00 12",
        "émile-7\u00a0x",  # a no-break space inside, an accented letter
        "straße-1",  # upper-cases to STRASSE
        "p_0123456789abcdef",  # already a pseudonym: kept
        "P_0123456789ABCDEF",  # not one (upper case): pseudonymised
        "",
        None,
    ]
    got = deid.pseudonymise(pl.Series("mrn", mrns, dtype=pl.String), secret).to_list()
    want = [
        None
        if m is None or not m.strip()
        else m.strip()
        if privacy.looks_like_patient_id(m.strip())
        else privacy.pseudonymise(m.strip(), secret)
        for m in mrns
    ]
    assert got == want
    assert got[0] == got[1]
