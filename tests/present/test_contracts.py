"""schemas/ is generated from the models; this test fails when they drift."""

from __future__ import annotations

import json
from pathlib import Path

from kapoutcomes import tables
from kapoutcomes.present import contracts

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schemas_match_models():
    for rel, text in contracts.contract_files().items():
        committed = ROOT / "schemas" / rel
        assert committed.exists(), f"schemas/{rel} missing: run `kapoutcomes schemas`"
        assert committed.read_text(encoding="utf-8") == text, (
            f"schemas/{rel} drifted from the models: run `kapoutcomes schemas`"
        )


def test_templates_have_every_column():
    for table in tables.MODELS:
        header = (ROOT / "schemas" / "templates" / f"{table}.csv").read_text().strip().split(",")
        assert header == tables.columns(table)


def test_schema_json_describes_checks():
    s = json.loads((ROOT / "schemas" / "sessions.schema.json").read_text())
    assert s["properties"]["route"]["enum"][0] == "IV"
    assert s["properties"]["dose_mg"]["exclusiveMinimum"] == 0
    assert s["properties"]["dose_mg"]["x-unit"] == "mg"
    assert "session_id" in s["required"] and "route" not in s["required"]
    d = (ROOT / "schemas" / "DATA_DICTIONARY.md").read_text()
    for table in tables.MODELS:
        assert f"## {table}" in d
