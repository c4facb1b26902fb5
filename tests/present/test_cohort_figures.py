"""Waterfall and trajectory figures: hand-made frames with known medians and groups."""

from __future__ import annotations

import polars as pl

from kapoutcomes.definitions.settings import DEFAULT
from kapoutcomes.present import figures as cf


def eoi(values):
    return pl.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(len(values))],
            "instrument": ["pain_nrs"] * len(values),
            "reduction_pct": values,
        }
    )


def test_waterfall_groups_by_thresholds_and_sorts_best_first():
    fig = cf.waterfall_figure(eoi([10.0, 60.0, -20.0, 35.0, 50.0, None]), DEFAULT)
    bars = {t.name: (list(t.x), list(t.y)) for t in fig.data}
    assert bars[">= 50% (substantial)"] == ([1, 2], [60.0, 50.0])
    assert bars["30-50% (responder)"] == ([3], [35.0])
    assert bars["0-30% (below threshold)"] == ([4], [10.0])
    assert bars["no change or worse"] == ([5], [-20.0])
    assert "n = 5" in fig.layout.title.text  # the patient without a value is not drawn


def test_waterfall_none_without_evaluable_patients():
    assert cf.waterfall_figure(eoi([None]), DEFAULT) is None


def test_trajectory_frame_medians_and_baseline_week():
    # baseline 8 for every patient; week 1 scores 2..7 -> median 4.5, q1 3.25, q3 5.75
    data = pl.DataFrame(
        {
            "patient_id": [f"p{p}" for p in range(6)],
            "instrument": ["pain_nrs"] * 6,
            "days_from_first_dose": [9.0] * 6,
            "score": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "baseline_score": [8.0] * 6,
        }
    )
    f = cf.trajectory_frame(data, "pain_nrs", min_n=5)
    # 6 values: (min, max) covers the median with 1 - 2 / 64 = 0.969 >= 0.95 (Conover)
    assert f.to_dicts() == [
        {"week": -1, "n": 6, "median": 8.0, "q1": 8.0, "q3": 8.0,
         "median_lower": 8.0, "median_upper": 8.0},
        {"week": 1, "n": 6, "median": 4.5, "q1": 3.25, "q3": 5.75,
         "median_lower": 2.0, "median_upper": 7.0},
    ]  # fmt: skip
    fig = cf.trajectory_figure(data, "pain_nrs", min_n=5)
    assert fig.data[-1].name == "median (95% CI)" and list(fig.data[-1].y) == [8.0, 4.5]
    assert list(fig.data[-1].error_y.array) == [0.0, 2.5]
    # the default rule (the min_patients_per_point setting, 10) leaves both weeks out
    assert cf.trajectory_figure(data, "pain_nrs") is None


def test_trajectory_needs_the_minimum_of_patients_a_week():
    data = pl.DataFrame(
        {
            "patient_id": ["a", "b"],
            "instrument": ["pain_nrs"] * 2,
            "days_from_first_dose": [3.0, 4.0],
            "score": [5.0, 6.0],
            "baseline_score": [7.0, 7.0],
        }
    )
    assert cf.trajectory_frame(data, "pain_nrs", min_n=5).height == 0
    assert cf.trajectory_figure(data, "pain_nrs", min_n=5) is None


def _rates(first_level: str) -> pl.DataFrame:
    """Two subgroup levels' response rates: ``first_level`` (30%) and "A" (50%)."""
    return pl.DataFrame(
        {
            "level": [first_level, "A"],
            "n": [3, 5],
            "denominator": [10, 10],
            "itt_denominator": [12, 11],
            "rate": [0.3, 0.5],
            "lower": [0.1, 0.24],
            "upper": [0.6, 0.76],
            "itt_rate": [0.25, 0.45],
            "itt_lower": [0.09, 0.21],
            "itt_upper": [0.53, 0.72],
        }
    )


def test_subgroup_rates_one_bar_per_level():
    rates = _rates("B")
    fig = cf.subgroup_rates_figure(rates, "clinic")
    assert [list(t.x) for t in fig.data] == [["A", "B"], ["A", "B"]]
    assert list(fig.data[0].y) == [50.0, 30.0]
    assert cf.subgroup_rates_figure(rates.head(0), "clinic") is None


def test_sessions_figure_stacks_each_session_type_in_its_palette_colour():
    import datetime as dt

    from kapoutcomes.present import palette

    monthly = pl.DataFrame(
        {
            "month": [dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
            "session_type": ["screening", "induction", "induction"],
            "sessions": [3, 5, 2],
        }
    )
    fig = cf.sessions_figure(monthly)
    assert [t.name for t in fig.data] == ["screening", "induction"]
    assert fig.data[1].marker.color == palette.DOSE_COLOURS["induction"]
    assert list(fig.data[1].y) == [5, 2]
    assert fig.layout.barmode == "stack"
    assert fig.layout.yaxis.title.text == "Sessions (count)"


def test_a_clinic_name_with_markup_is_shown_as_typed_never_as_a_link():
    # issue 15 item 5: Plotly reads <a href>, <b> and <br> in names, categories and text
    evil = '<a href="http://evil.example">Main St</a> & <b>co</b>'
    rates = _rates(evil)
    fig = cf.subgroup_rates_figure(rates, "clinic")
    shown = [str(x) for t in fig.data for x in t.x]
    assert (
        '&lt;a href="http://evil.example"&gt;Main St&lt;/a&gt; &amp; &lt;b&gt;co&lt;/b&gt;' in shown
    )
    assert not any("<a" in x or "<b>" in x for x in shown)
    from kapoutcomes.present.figures import cohort as figures_cohort

    for one in (False, True):
        assert "<" not in figures_cohort._curve_name(evil, "pain_nrs", one)
    # nor reversed by a right-to-left override (it would read as another clinic)
    fig = cf.subgroup_rates_figure(_rates("North\u202ekaL"), "clinic")
    assert "NorthkaL" in [str(x) for t in fig.data for x in t.x]
