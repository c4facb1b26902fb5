"""The cohort report: `kapoutcomes report --json` prints every section, the JSON keys are
documented, the HTML is self-contained and escapes data, and an empty or missing store is
said plainly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from kapoutcomes import cli
from kapoutcomes.cohort import summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.present import html_report, report
from tests.builders import (
    SIX,
    induction,
    maintenance_patient,
    patient,
    score,
    session,
    tables_of,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "report-json.md"


@pytest.fixture(scope="module")
def demo_json() -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(["report", "--demo", "--json"]) == 0
    return json.loads(buf.getvalue())


def test_report_json_on_demo_prints_every_section(demo_json):
    assert demo_json["schema_version"] == report.SCHEMA_VERSION
    for key in ("meta", "definitions", *summary.SECTIONS):
        assert key in demo_json, key
    for key in summary.SECTIONS:
        sec = demo_json[key]
        assert set(sec) == {"title", "definition", "caveats", "tables"}
        assert sec["definition"]
    meta = demo_json["meta"]
    assert meta["patients"] > 0 and meta["dosed_patients"] > 0
    stages = [r["stage"] for r in demo_json["attrition"]["tables"]["stages"]]
    assert stages == [
        "referred",
        "screened",
        "first_infusion",
        "completed_induction",
        "any_follow_up",
        "maintenance",
    ]
    rates = demo_json["response"]["tables"]["rates"]
    pain = next(r for r in rates if r["instrument"] == "pain_nrs" and r["measure"] == "response")
    for k in (
        "n",
        "denominator",
        "itt_denominator",
        "rate",
        "lower",
        "upper",
        "definition",
        "caveats",
    ):
        assert k in pain
    assert pain["lower"] <= pain["rate"] <= pain["upper"]
    dur = demo_json["durability"]["tables"]["summary"]
    assert {r["instrument"] for r in dur} >= {"pain_nrs"}
    for name in (
        "adverse_events",
        "serious_events",
        "excursions",
        "flags",
        "open_item9",
        "dissociation",
    ):
        assert name in demo_json["safety"]["tables"]
    assert {r["flag"] for r in demo_json["safety"]["tables"]["flags"]} == {
        "phq9_item9",
        "serious_adverse_event",
        "hypertensive_before_dosing",
        "hypertensive_crisis_after_dosing",
        "hypoxaemia_after_dosing",
        "tachycardia_after_dosing",
    }
    comp = demo_json["comparisons"]["tables"]
    subgroups = {r["subgroup"] for r in comp["response"]}
    assert subgroups == {"clinic", "condition", "route", "care_model", "clinician", "start_period"}
    assert demo_json["funnel"]["tables"]["clinics"]
    assert {r["measure"] for r in demo_json["opioids"]["tables"]["timepoints"]} >= {
        "on_opioids",
        "median_mme_on_opioids",
        "above_50_mme",
        "above_90_mme",
        "reduction_50",
        "discontinued",
        "buprenorphine",
    }
    assert demo_json["cost"]["tables"]["cost"]
    assert demo_json["completeness"]["tables"]["completeness"]


def test_every_json_key_is_documented(demo_json):
    doc = DOC.read_text(encoding="utf-8")
    keys = set(demo_json)
    for sec in summary.SECTIONS:
        keys |= set(demo_json[sec]["tables"])
        for rows in demo_json[sec]["tables"].values():
            if rows:
                keys |= set(rows[0])
    keys |= set(demo_json["meta"])
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"document these keys in {DOC}: {missing}"


def test_html_is_self_contained_and_escapes_data(tmp_path):
    t = maintenance_patient()
    evil = "<script>alert('x')</script> & Co"
    t["patients"] = t["patients"].with_columns(clinic=pl.lit(evil))
    s = summary.cohort_summary(t, Settings())
    out = html_report.write_html(s, tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    assert "<script>alert(" not in text
    assert "&lt;script&gt;alert(" in text
    assert not re.search(r"<script[^>]+src=", text)  # nothing fetched from a CDN
    assert "<link" not in text
    assert text.count("plotly.js v") >= 1 or "Plotly" in text  # the bundle is inline
    assert len(text) > 3_000_000  # plotly.js (~4.5 MB) embedded once
    assert text.count("!function") < 50


def test_text_report_and_small_cohort_caveats(capsys):
    t = maintenance_patient()
    s = summary.cohort_summary(t, Settings())
    txt = report.to_text(s)
    assert "small cohort" in txt
    assert "attrition" in txt and "durability" in txt


def test_missing_and_empty_store_are_said_plainly(tmp_path, capsys):
    missing = tmp_path / "nope.duckdb"
    assert cli.main(["report", "--store", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "no store here yet" in err and "--demo" in err
    from kapoutcomes.storage.store import Store

    empty = tmp_path / "empty.duckdb"
    Store(empty).close()
    assert cli.main(["report", "--store", str(empty), "--json"]) == 2
    assert "holds no patients" in capsys.readouterr().err


def test_report_from_store_with_settings_file(tmp_path, capsys):
    from kapoutcomes.storage import keys

    t = tables_of(
        [patient(1), patient(2)],
        [*induction(1, SIX), *induction(2, SIX), session(2, 30, "booster", 9)],
        # the day-45 score puts the data end after the end-of-induction window (day 11 + 31)
        [score(1, -1, 8), score(1, 14, 5), score(2, -1, 6), score(2, 14, 3), score(1, 45, 5)],
    )
    path = tmp_path / "s.duckdb"
    st, _ = keys.open_store(path)  # a new store and its key, as import would make them
    with st:
        st.replace_all(t)
    toml = tmp_path / "o.toml"
    toml.write_text("[outcomes]\npain_response_pct = 40\n", encoding="utf-8")
    assert cli.main(["report", "--store", str(path), "--settings", str(toml), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # 8 -> 5 is 37.5% (not >= 40%); 6 -> 3 is 50%: 1 of 2 responders
    r = next(
        x
        for x in d["response"]["tables"]["rates"]
        if x["instrument"] == "pain_nrs" and x["measure"] == "response"
    )
    assert (r["n"], r["denominator"]) == (1, 2)
    assert ">= 40.0%" in r["definition"]
    assert {x["setting"]: x["value"] for x in d["definitions"]}["pain_response_pct"] == "40.0"
    html_path = tmp_path / "r.html"
    assert cli.main(["report", "--store", str(path), "--html", str(html_path)]) == 0
    assert html_path.exists()


@pytest.mark.parametrize(
    "case",
    ["empty", "patients only", "no assessments", "screening only"],
)
def test_degenerate_cohorts_still_report(case):
    t = {
        "empty": tables_of(),
        "patients only": tables_of([patient(1), patient(2)]),
        "no assessments": tables_of([patient(1)], induction(1, SIX)),
        "screening only": tables_of(
            [patient(1)], [session(1, 0, "screening", 0)], [score(1, 0, 5)]
        ),
    }[case]
    s = summary.cohort_summary(t, Settings())
    d = json.loads(report.to_json(s))
    assert set(summary.SECTIONS) <= set(d)
    assert "<html" in html_report.to_html(s)
    assert report.to_text(s)


def test_report_columns_are_all_the_summary_reads(tmp_path):
    """The report reads only summary.REPORT_COLUMNS from the store: the summary of those
    columns equals the summary of the full tables (demo cohort)."""
    from kapoutcomes.demo import generator
    from kapoutcomes.storage.store import Store

    full = generator.generate(seed=7).tables
    with Store(tmp_path / "s.duckdb") as st:
        st.replace_all(full)
        read = st.read_all(validate=False, columns=summary.REPORT_COLUMNS)
    for name, cols in summary.REPORT_COLUMNS.items():
        assert read[name].columns == list(cols)
    as_of = summary.episodes.data_end(full)
    a = report.to_dict(summary.cohort_summary(full, as_of=as_of))
    b = report.to_dict(summary.cohort_summary(read, as_of=as_of))
    for d in (a, b):
        d["meta"] = {k: v for k, v in d["meta"].items() if not k.startswith("seconds")}
    # means may differ in the last bits (polars sums groups in no fixed order, run to run)
    _assert_close(a, b, "")


def _assert_close(a, b, path: str) -> None:
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, nan_ok=True), path
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_summary_computed_in_parts_equals_the_whole(monkeypatch):
    """Large cohorts run patient_metrics part by part: the same report as all at once."""
    from kapoutcomes.cohort import metrics
    from kapoutcomes.demo import generator

    t = generator.generate(seed=7).tables
    as_of = summary.episodes.data_end(t)
    a = report.to_dict(summary.cohort_summary(t, as_of=as_of))
    monkeypatch.setattr(metrics, "PART_PATIENTS", max(1, t["patients"].height // 3))
    b = report.to_dict(summary.cohort_summary(t, as_of=as_of))
    for d in (a, b):
        d["meta"] = {k: v for k, v in d["meta"].items() if not k.startswith("seconds")}
    _assert_close(a, b, "")
