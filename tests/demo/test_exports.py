"""Writing the demo cohort (kapoutcomes.demo.exports): every file listed in the catalogue,
canonical tables with every row, the wide export in Windows-1252, and the same bytes twice."""

from __future__ import annotations

import hashlib

import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import exports


def _digest(root, paths) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths
    }


def test_write_all(tmp_path, small_cohort):
    paths = exports.write_all(tmp_path / "a", small_cohort)
    rel = {p.relative_to(tmp_path / "a").as_posix() for p in paths}
    assert {f"demo/{t}.csv" for t in tables.MODELS} <= rel
    assert "CATALOG.md" in rel and len(rel) == len(paths)
    catalog = (tmp_path / "a" / "CATALOG.md").read_text(encoding="utf-8")
    for r in rel - {"CATALOG.md"}:
        assert f"`{r}`" in catalog, r
    # canonical tables: every row, read back with the table's columns
    for t in tables.MODELS:
        back = pl.read_csv(tmp_path / "a" / "demo" / f"{t}.csv", infer_schema=False)
        assert back.columns == tables.columns(t)
        assert back.height == small_cohort.tables[t].height
    # the Riverside wide export is Windows-1252 (as its mapping says)
    wide = next(p for p in paths if "riverside" in p.name and p.suffix == ".csv")
    raw = wide.read_bytes()
    assert any(b > 127 for b in raw)  # accented names
    try:
        raw.decode("utf-8")
        raise AssertionError("the wide export should not be UTF-8")
    except UnicodeDecodeError:
        pass
    assert "ë" in raw.decode("cp1252") or "é" in raw.decode("cp1252")
    # deterministic: written again, byte for byte the same
    again = exports.write_all(tmp_path / "b", small_cohort)
    assert _digest(tmp_path / "b", again) == _digest(tmp_path / "a", paths)
