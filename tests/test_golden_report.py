"""The report JSON is unchanged by the re-layout: the demo cohort and the sample exports give
the figures recorded before the move (tests/data/golden, README there), key by key. Timings
are ignored; floats agree to a relative 1e-9 (sums may differ in the last digit)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest

from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.demo import generator
from kapoutcomes.ingest import import_files
from kapoutcomes.present import report
from kapoutcomes.storage.store import Store

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
EXPORTS = ROOT / "sample_data" / "exports"
MAPPING = ROOT / "sample_data" / "mappings" / "riverside_visits.toml"
SECRET = b"golden-report-secret-golden-report-secret"


def _recorded(name: str) -> dict[str, Any]:
    return json.loads(gzip.decompress((GOLDEN / name).read_bytes()))


def _differences(a: Any, b: Any, path: str = "$") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [
            d
            for k in a
            if not k.startswith("seconds")
            for d in _differences(a[k], b[k], f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} vs {b}"]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def test_demo_report_equals_the_recorded_one():
    now = json.loads(report.to_json(cohort_summary(generator.generate(seed=7).tables, None)))
    assert _differences(now, _recorded("report_demo.json.gz")) == []


def exports_store(db: Path) -> dict:
    """The sample exports imported into the store ``db`` (Riverside with its mapping,
    Lakeshore + Riverside medications, the Synthea folder as Summit); its tables."""
    import_files([EXPORTS / "riverside_visits.csv"], db, mapping=MAPPING, secret=SECRET)
    import_files(
        [EXPORTS / "lakeshore_observations.csv", EXPORTS / "riverside_medications.tsv"],
        db,
        clinic="Lakeshore Ketamine Center",
        secret=SECRET,
    )
    import_files([EXPORTS / "synthea"], db, clinic="Summit", secret=SECRET)
    with Store(db, read_only=True) as st:
        return st.read_all()


@pytest.mark.skipif(not (EXPORTS / "synthea").exists(), reason="sample exports not generated")
def test_sample_exports_report_equals_the_recorded_one(tmp_path):
    now = json.loads(report.to_json(cohort_summary(exports_store(tmp_path / "s.duckdb"), None)))
    assert _differences(now, _recorded("report_exports.json.gz")) == []
