"""Patient timeline, one-page summary and data quality on the demo cohort and tiny cases."""

from __future__ import annotations

import html

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort import quality
from kapoutcomes.definitions.settings import DEFAULT
from kapoutcomes.demo import generator
from kapoutcomes.present import figures, patient_summary


@pytest.fixture(scope="module")
def demo():
    return generator.generate(seed=7).tables


def some_patient(demo, kind="maintenance"):
    s = demo["sessions"]
    return s.filter(pl.col("session_type") == kind)["patient_id"][0]


def test_timeline_has_titles_units_and_every_infusion(demo):
    pid = some_patient(demo)
    fig = figures.patient_timeline(demo, pid, DEFAULT)
    titles = [a.text for a in fig.layout.annotations]
    assert "Pain (NRS 0-10) with infusions" in titles
    assert "Opioids (daily MME, mg/day)" in titles
    n_dose = (
        demo["sessions"]
        .filter((pl.col("patient_id") == pid) & pl.col("session_type").is_in(tables.DOSING_TYPES))
        .height
    )
    plotted = sum(len(t.x) for t in fig.data if t.name and t.name.endswith("infusion"))
    assert plotted == n_dose
    assert fig.layout.yaxis.title.text == "Pain (0-10)"


def test_summary_is_self_contained_and_escapes(demo):
    pid = some_patient(demo)
    t = dict(demo)
    ae = t["adverse_events"]
    # a hostile free text must come out escaped
    t["adverse_events"] = ae.with_columns(
        event_text=pl.when(pl.col("patient_id") == pid)
        .then(pl.lit("<script>alert(1)</script>"))
        .otherwise(pl.col("event_text")),
        serious=pl.when(pl.col("patient_id") == pid).then(True).otherwise(pl.col("serious")),
    )
    out = patient_summary.one_page_html(t, pid, DEFAULT)
    assert "<script>" not in out
    assert html.escape("<script>alert(1)</script>") in out
    assert "http://" not in out and "https://" not in out
    assert "Maintenance review" in out and "Safety flags" in out


def test_data_quality_counts(demo):
    q = quality.data_quality(demo, DEFAULT)
    assert set(q.completeness["level"].unique()) == set(demo["patients"]["clinic"].unique())
    assert (q.completeness["n"] <= q.completeness["denominator"]).all()
    never = q.outside_windows.filter(pl.col("reason").str.starts_with("patient never dosed"))
    dosed = set(
        demo["sessions"].filter(pl.col("session_type").is_in(tables.DOSING_TYPES))["patient_id"]
    )
    assert not set(never["patient_id"]) & dosed
    assert quality.completeness_figure(q.completeness) is not None


def test_empty_tables():
    empty = {n: tables.empty(n) for n in tables.MODELS}
    q = quality.data_quality(empty, DEFAULT)
    assert q.completeness.height == 0 and q.no_baseline.height == 0
    assert quality.completeness_figure(q.completeness) is None
