"""The printable one-page summary (present.patient_summary): the MRN as typed, post-dose
vitals, labels that never overlap, and exactly one page when Chromium prints it to PDF on
A4 and on Letter."""

from __future__ import annotations

import re

import polars as pl
import pytest

from kapoutcomes.definitions.settings import DEFAULT
from kapoutcomes.demo import generator
from kapoutcomes.present import patient_summary
from kapoutcomes.present.figures import printed


@pytest.fixture(scope="module")
def demo():
    return generator.generate(seed=7).tables


def busiest(demo, table: str, n: int = 2) -> list[str]:
    counts = demo[table].group_by("patient_id").len().sort(["len", "patient_id"], descending=True)
    return counts["patient_id"].head(n).to_list()


def pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF ("/Type /Page", not the "/Type /Pages" tree)."""
    try:
        import io

        import pypdf

        return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf))


def test_mrn_as_typed_is_printed_and_escaped(demo):
    pid = busiest(demo, "sessions", 1)[0]
    out = patient_summary.one_page_html(demo, pid, DEFAULT, mrn=" DEMO-<000012> ")
    assert "MRN DEMO-&lt;000012&gt;" in out and "<000012>" not in out
    blank = patient_summary.one_page_html(demo, pid, DEFAULT)
    assert "MRN ________________" in blank  # a line to write it on, never a stored MRN


def test_post_dose_vitals_are_listed(demo):
    pid = busiest(demo, "sessions", 1)[0]
    out = patient_summary.one_page_html(demo, pid, DEFAULT)
    for head in ("BP before (mmHg)", "BP after (mmHg)", "HR after (/min)", "SpO2 after"):
        assert re.search(f"<th[^>]*>{re.escape(head)}</th>", out)
    last = (
        demo["sessions"]
        .filter((pl.col("patient_id") == pid) & pl.col("bp_systolic_after").is_not_null())
        .sort("started_at")
        .row(-1, named=True)
    )
    assert f"<td>{last['bp_systolic_after']}/{last['bp_diastolic_after']}</td>" in out


def test_tables_use_the_shared_formatter(demo):
    # issue 14 item 3: one table formatter for every page, the HTML report and this summary
    from kapoutcomes.present.table_display import html_table
    from kapoutcomes.present.table_specs import shown

    pid = busiest(demo, "sessions", 1)[0]
    sessions = demo["sessions"].filter(pl.col("patient_id") == pid)
    dosing = sessions.filter(pl.col("session_type").is_in(["induction", "maintenance", "booster"]))
    recent = dosing.sort("started_at", descending=True).head(patient_summary.MAX_INFUSIONS)
    out = patient_summary.one_page_html(demo, pid, DEFAULT)
    expected = shown(
        recent.with_columns(bp_before=pl.lit(None), bp_after=pl.lit(None)), "summary_infusions"
    )
    assert html_table(expected).split("<tbody>")[0] in out  # the same headers
    assert "None" not in out and "<td></td>" not in out
    # a missing vital reads as the em dash of every other table
    gap = sessions.with_columns(heart_rate_after=pl.lit(None, dtype=pl.Int32))
    t = {**demo, "sessions": demo["sessions"].filter(pl.col("patient_id") != pid).vstack(gap)}
    assert "<td class='num'>—</td>" in patient_summary.one_page_html(t, pid, DEFAULT)


def test_reference_labels_are_spread_at_least_a_line_apart():
    # baseline 2 and 30% below it (1.4) are 0.6 points apart: 6 px on a 10-point, 100 px
    # scale, so the second label moves down to 10 px below the first; a label below the
    # plot's floor is pulled back up, keeping the gap.
    assert printed.spread_labels([80.0, 86.0], 10, 20, 130) == [80.0, 90.0]
    assert printed.spread_labels([129.0, 128.0], 10, 20, 130) == [130.0, 120.0]
    assert printed.spread_labels([50.0], 10, 20, 130) == [50.0]


@pytest.mark.browser
def test_exactly_one_page_on_a4_and_letter(demo, browser):
    t = dict(demo)
    crowded = busiest(demo, "adverse_events", 1)[0]
    # a patient with many long flags and side effects stays on one page
    long_text = "very long free text " * 30
    t["adverse_events"] = demo["adverse_events"].with_columns(
        serious=pl.when(pl.col("patient_id") == crowded).then(True).otherwise(pl.col("serious")),
        event_text=pl.lit(long_text),
    )
    page = browser.new_page()
    try:
        for pid in {*busiest(demo, "sessions"), *busiest(demo, "assessments"), crowded}:
            page.set_content(patient_summary.one_page_html(t, pid, DEFAULT, mrn="DEMO-000012"))
            for size in ("A4", "Letter"):
                assert pdf_pages(page.pdf(format=size)) == 1, (pid, size)
    finally:
        page.close()
