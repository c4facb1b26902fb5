"""The rules in force per instrument: registry values with the clinic's settings on top."""

from __future__ import annotations

import polars as pl

from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes import rules


def _row(frame: pl.DataFrame, instrument: str) -> dict:
    return frame.filter(pl.col("instrument") == instrument).row(0, named=True)


def test_pain_and_phq9_rules_come_from_settings():
    r = rules.response_rules(Settings(pain_response_pct=50.0, phq9_remission_below=4.0))
    pain = _row(r, "pain_nrs")
    assert pain["response_pct"] == 50.0
    assert "response: reduction from baseline >= 50%" in pain["definition"]
    assert _row(r, "phq9")["remission_below"] == 4.0


def test_defaults_are_the_cited_thresholds():
    # IMMPACT (Dworkin 2008): >= 30% pain reduction; PHQ-9 remission < 5 (Kroenke 2001)
    r = rules.response_rules(Settings())
    assert _row(r, "pain_nrs")["response_pct"] == 30.0
    assert _row(r, "phq9")["remission_below"] == 5.0
    assert r.get_column("source").is_not_null().all()


def test_phq9_bands_by_hand():
    # Kroenke 2001: 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe
    f = pl.DataFrame({"instrument": ["phq9"] * 5, "score": [0.0, 5.0, 14.0, 15.0, 27.0]})
    bands = rules.add_band(f).get_column("band").to_list()
    assert bands[0] != bands[1] != bands[2] != bands[3] != bands[4]
    assert len(set(bands)) == 5
