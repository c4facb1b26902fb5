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


def test_the_definitions_page_renders_the_file():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(
        str(ROOT / "dashboards" / "views" / "definitions.py"), default_timeout=60
    )
    at.run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "Who a measure is about" in shown or "Eligible (who a measure is about)" in shown
