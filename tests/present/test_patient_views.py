"""Patient timeline, one-page summary and data quality on the demo cohort and tiny cases."""

from __future__ import annotations

import html

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort import quality
from kapoutcomes.definitions.settings import DEFAULT
from kapoutcomes.demo import generator
from kapoutcomes.present import figures, palette, patient_summary


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
    assert figures.completeness_figure(quality.completeness_cells(q.completeness)) is not None


def test_empty_tables():
    empty = {n: tables.empty(n) for n in tables.MODELS}
    q = quality.data_quality(empty, DEFAULT)
    assert q.completeness.height == 0 and q.no_baseline.height == 0
    assert figures.completeness_figure(quality.completeness_cells(q.completeness)) is None


def test_timeline_marks_after_dose_cadss():
    # two doses with after-dose CADSS 2 and 8: both written on the side-effects row, the one
    # above the threshold (4) in vermillion; a before-dose CADSS is not drawn
    from tests.builders import patient, pid, score, session, tables_of

    t = tables_of(
        [patient(1)],
        [session(1, 0, "induction", 0), session(1, 2, "induction", 1)],
        [
            score(1, 0.05, 2, "cadss", timing="after_dose", sid="s1_0"),
            score(1, 2.05, 8, "cadss", timing="after_dose", sid="s1_1"),
            score(1, 2.0, 30, "cadss", timing="before_dose", sid="s1_1"),
        ],
    )
    fig = figures.patient_timeline(t, pid(1), DEFAULT)
    (trace,) = [d for d in fig.data if d.name == "CADSS after dose"]
    assert list(trace.text) == ["2", "8"]
    assert list(trace.marker.color) == [palette.SKY, palette.HARM]
