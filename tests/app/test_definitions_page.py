"""One page of definitions (issue 12 item 10): docs/definitions.md has an entry for every
report section, states the eligible cut-offs in force by default, and the app's Definitions
page renders it."""

from __future__ import annotations

import re
from pathlib import Path

from kapoutcomes.cohort import summary
from kapoutcomes.definitions.settings import DEFAULT

ROOT = Path(__file__).resolve().parent
while not (ROOT / "docs" / "definitions.md").exists() and ROOT.parent != ROOT:
    ROOT = ROOT.parent
DOC = ROOT / "docs" / "definitions.md"


def _headings() -> list[str]:
    return re.findall(r"^#+ .*$", DOC.read_text(encoding="utf-8"), flags=re.M)


def test_every_report_section_has_an_entry():
    keys = [spec.key for spec in summary.SECTION_SPECS]
    assert keys == list(summary.SECTIONS)
    heads = _headings()
    missing = [k for k in keys if not any(f"(`{k}`)" in h for h in heads)]
    assert not missing, f"add a heading '... (`key`)' to {DOC} for: {missing}"


def test_the_default_cut_offs_and_windows_are_the_ones_in_force():
    text = DOC.read_text(encoding="utf-8")
    for words in (
        f"*{DEFAULT.phq9_baseline_min:g} or more*",
        f"*{DEFAULT.bdi2_baseline_min:g} or more*",
        f"*{DEFAULT.madrs_baseline_min:g} or more*",
        f"*{DEFAULT.gad7_baseline_min:g} or more*",
        f"*{DEFAULT.pain_baseline_min:g} or more*",
        f"*{DEFAULT.baseline_window_days} days*",
        f"*{DEFAULT.end_of_induction_window_days} days*",
        f"*{DEFAULT.induction_complete_infusions} infusions*",
        f"*{DEFAULT.induction_max_gap_days} days*",
        f"*{DEFAULT.pain_response_pct:g}%*",
        f"*{DEFAULT.depression_response_pct:g}%*",
        f"below *{DEFAULT.phq9_remission_below:g}*",
    ):
        assert words in text, words


def _isolated(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.delenv("KAPOUTCOMES_DEMO", raising=False)
    monkeypatch.delenv("KAPOUTCOMES_SETTINGS", raising=False)


def _page(name: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(f"views/{name}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_definitions_page_renders_the_file(monkeypatch, tmp_path):
    _isolated(monkeypatch, tmp_path)
    at = _page("definitions")
    shown = " ".join(m.value for m in at.markdown)
    assert "Eligible (who a measure is about)" in shown
    assert "HEDIS DRR-E" in shown


def test_the_cohort_page_shows_the_populations_of_the_demo(monkeypatch, tmp_path):
    """The demo (seed 7, as recorded in the golden report): pain response 131 of 303
    evaluable, ITT 319, completers 64 of 118, 4 not eligible and 21 without a baseline;
    PHQ-9 response 83 of 153, ITT 178, completers 35 of 60, 140 not eligible."""
    _isolated(monkeypatch, tmp_path)
    at = _page("cohort")
    metrics = {m.label: m.value for m in at.metric}
    assert (
        metrics["Pain responders (≥30%), all starters"] == "43.2%"
    )  # 131/303, one decimal as in the report
    assert metrics["PHQ-9 responders (≥50%), all starters"] == "54.2%"  # 83/153
    captions = " ".join(c.value for c in at.caption)
    assert "131/303 evaluable" in captions and "ITT 41.1% of 319" in captions
    assert "completers 64/118" in captions
    assert "4 not eligible: baseline pain NRS below 4; 21 without a baseline" in captions
    assert "83/153 evaluable" in captions and "completers 35/60" in captions
    assert "140 not eligible: baseline PHQ-9 below 10" in captions
    who = [d.value for d in at.dataframe]
    assert any("Evaluable" in f.columns and "Started treatment" in f.columns for f in who)
    # who was left out, under the table (plain() escapes the punctuation for Markdown)
    assert r"Left out\, and why · Pain NRS \(0\-10\)\: 4 not eligible" in captions
