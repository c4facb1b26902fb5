"""Data contracts for EHR integrators, generated from the table models.

``write_contracts(out)`` writes into ``schemas/``: one machine-readable schema per table
(``<table>.schema.json``), a CSV template per table (``templates/<table>.csv``), a data
dictionary (``DATA_DICTIONARY.md``) and the clinical reference tables the checks use
(``instruments.csv``, ``mme_factors.csv``). A test regenerates them and fails on drift.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from kapoutcomes import tables
from kapoutcomes.definitions import instruments, opioids

_TYPE_WORDS = {
    "String": "text",
    "Int32": "integer",
    "Int64": "integer",
    "Float64": "number",
    "Boolean": "true/false",
    "Date": "date (YYYY-MM-DD)",
    "Datetime(time_unit='us', time_zone=None)": "date-time (YYYY-MM-DD HH:MM[:SS], clinic local time)",
}

_JSON_TYPES = {
    "String": "string",
    "Int32": "integer",
    "Int64": "integer",
    "Float64": "number",
    "Boolean": "boolean",
    "Date": "string",
    "Datetime(time_unit='us', time_zone=None)": "string",
}

TABLE_MEANINGS = {
    "patients": "one row per patient; no direct identifiers (the id is a keyed hash of the MRN)",
    "sessions": "one row per treatment contact: screening, dosing, preparation, integration, therapy",
    "assessments": "long format, one score per row; item-level answers sit beside totals",
    "opioids": "opioid prescriptions or reported use, with daily morphine milligram equivalents",
    "adverse_events": "side effects and adverse events in a controlled vocabulary",
}


def _column_facts(table: str) -> list[dict[str, Any]]:
    schema = tables.MODELS[table].to_schema()
    out = []
    for name, col in schema.columns.items():
        dtype = str(col.dtype)
        facts: dict[str, Any] = {
            "column": name,
            "type": _TYPE_WORDS.get(dtype, dtype),
            "json_type": _JSON_TYPES.get(dtype, "string"),
            "unit": (col.metadata or {}).get("unit", ""),
            "required": not col.nullable,
            "unique": bool(col.unique),
            "meaning": col.description or "",
        }
        allowed: list[str] = []
        for check in col.checks:
            st = check.statistics
            if check.name == "isin":
                facts["allowed_values"] = list(st["allowed_values"])
            elif check.name == "greater_than_or_equal_to":
                facts["minimum"] = _plain(st["min_value"])
            elif check.name == "greater_than":
                facts["exclusive_minimum"] = _plain(st["min_value"])
            elif check.name == "less_than_or_equal_to":
                facts["maximum"] = _plain(st["max_value"])
            elif check.name == "less_than":
                facts["exclusive_maximum"] = _plain(st["max_value"])
            elif check.name == "str_matches":
                facts["pattern"] = st["pattern"]
            elif check.name == "str_length":
                facts["max_length"] = st.get("max_value")
            else:
                allowed.append(check.name)
        out.append(facts)
    return out


def _plain(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else v


def _table_rules(table: str) -> list[dict[str, str]]:
    schema = tables.MODELS[table].to_schema()
    rules = []
    for check in schema.checks:
        col, _, why = (check.error or "").partition("|")
        rules.append({"column": col, "rule": why})
    if table == "assessments":
        rules.append(
            {
                "column": "score",
                "rule": "score outside the instrument's own range (see instruments.csv); item answers "
                "use the item range",
            }
        )
    rules.append(
        {"column": "patient_id", "rule": "patient_id not found in patients"}
        if table != "patients"
        else {"column": "patient_id", "rule": "duplicate patient_id (must be unique)"}
    )
    return rules


def table_schema(table: str) -> dict[str, Any]:
    """A JSON-Schema-flavoured description of one table (one object per row)."""
    props: dict[str, Any] = {}
    required = []
    for f in _column_facts(table):
        p: dict[str, Any] = {
            "type": [f["json_type"], "null"] if not f["required"] else f["json_type"]
        }
        if f["meaning"]:
            p["description"] = f["meaning"]
        if f["unit"]:
            p["x-unit"] = f["unit"]
        for k_src, k_dst in (
            ("allowed_values", "enum"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("exclusive_minimum", "exclusiveMinimum"),
            ("exclusive_maximum", "exclusiveMaximum"),
            ("pattern", "pattern"),
            ("max_length", "maxLength"),
        ):
            if k_src in f:
                p[k_dst] = f[k_src]
        if f["type"].startswith("date"):
            for k in ("minimum", "maximum"):
                if k in p:
                    p[f"x-{k}"] = p.pop(k)
        if f["type"].startswith("date-time"):
            p["format"] = "date-time"
        elif f["type"].startswith("date"):
            p["format"] = "date"
        props[f["column"]] = p
        if f["required"]:
            required.append(f["column"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"kapoutcomes {table}",
        "description": TABLE_MEANINGS[table],
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
        "x-natural-key": list(tables.NATURAL_KEYS[table]),
        "x-rules": _table_rules(table),
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    if not rows:
        return ""
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def dictionary_markdown() -> str:
    lines = [
        "# kapoutcomes data dictionary",
        "",
        "Generated from the table models by `kapoutcomes schemas`; do not edit by hand.",
        "Each table's CSV template is in `templates/`, its machine-readable schema in",
        "`<table>.schema.json`. Dates are ISO (YYYY-MM-DD), times clinic local time.",
        "",
    ]
    for table in tables.MODELS:
        lines += [f"## {table}", "", TABLE_MEANINGS[table], ""]
        lines += [
            "| column | type | unit | allowed values / range | required | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for f in _column_facts(table):
            if "allowed_values" in f:
                allowed = ", ".join(map(str, f["allowed_values"]))
            else:
                parts = []
                if "minimum" in f:
                    parts.append(f">= {f['minimum']}")
                if "exclusive_minimum" in f:
                    parts.append(f"> {f['exclusive_minimum']}")
                if "maximum" in f:
                    parts.append(f"<= {f['maximum']}")
                if "exclusive_maximum" in f:
                    parts.append(f"< {f['exclusive_maximum']}")
                if "pattern" in f:
                    parts.append(f"pattern `{f['pattern']}`".replace("|", "\\|"))
                allowed = ", ".join(parts)
            req = "yes" if f["required"] else "no"
            if f["unique"]:
                req += " (unique)"
            lines.append(
                f"| {f['column']} | {f['type']} | {f['unit']} | {allowed} | {req} | {f['meaning']} |"
            )
        lines += ["", "Checks across columns (the message a failing row is quarantined with):", ""]
        for r in _table_rules(table):
            lines.append(f"- `{r['column']}`: {r['rule']}")
        lines += ["", f"Natural key: {', '.join(tables.NATURAL_KEYS[table])}", ""]
    lines += [
        "## Reference tables",
        "",
        "- `instruments.csv`: every instrument code with range, bands, thresholds and source.",
        "- `mme_factors.csv`: MME conversion factors (CDC 2022 default and the older CDC 2016 table).",
        "",
    ]
    return "\n".join(lines)


def contract_files() -> dict[str, str]:
    """Relative path -> file text, for every generated contract file."""
    files: dict[str, str] = {}
    for table in tables.MODELS:
        files[f"{table}.schema.json"] = json.dumps(table_schema(table), indent=2) + "\n"
        files[f"templates/{table}.csv"] = ",".join(tables.columns(table)) + "\n"
    files["DATA_DICTIONARY.md"] = dictionary_markdown()
    files["instruments.csv"] = _csv(instruments.registry_frame().to_dicts())
    mme = []
    for name in opioids.TABLES:
        mme += opioids.factor_frame(name).to_dicts()
    files["mme_factors.csv"] = _csv(mme)
    return files


def write_contracts(out: str | Path) -> list[Path]:
    out = Path(out)
    written = []
    for rel, text in contract_files().items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8", newline="\n")
        written.append(p)
    return written
