"""Honest charts (issue 14 item 4), one test per point, on the plotly figure objects (traces,
axis titles, annotations): the nested attrition funnel, one time unit per page, numbers at
risk to the end of each curve, n and intervals with too-few points greyed, paired MME,
comparisons limited to the largest groups, no funnel plot for one clinic, and one colour
direction on the quality heatmap."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from kapoutcomes.cohort.durability import at_risk_weeks
from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo.generator import generate
from kapoutcomes.present import cohort_page
from kapoutcomes.present import figures as fg

S = Settings()


@pytest.fixture(scope="module")
def demo_summary():
    return cohort_summary(generate(seed=7, patients=160).tables, S)


@pytest.fixture(scope="module")
def view(demo_summary):
    return cohort_page.cohort_view(demo_summary, S)


def _curves(level: str, days: list[float]) -> pl.DataFrame:
    k = len(days)
    return pl.DataFrame(
        {
            "level": [level] * k,
            "instrument": ["pain_nrs"] * k,
            "time_days": days,
            "survival": [1.0 - i / (2 * k) for i in range(k)],
            "lower": [0.5] * k,
            "upper": [1.0] * k,
            "at_risk": list(range(k, 0, -1)),
        }
    )


# -- a. the nested attrition funnel ----------------------------------------------------------
def test_attrition_bars_never_grow_and_each_says_who_it_counts(view):
    bar = view.attrition_figure.data[0]
    n = list(bar.x)
    assert all(b <= a for a, b in itertools.pairwise(n))
    # each bar's label names its population under the stage
    assert "completed induction and scored after it" in bar.y[4]
    assert bar.text[3].endswith("%)")  # n (% of referred)
    assert "% of the bar above" in bar.customdata[3]
    assert "subset" in view.attrition_figure.layout.title.text


# -- b. one time unit per page ---------------------------------------------------------------
def test_durability_headline_and_km_axis_share_one_unit(view):
    head = next(h for h in view.headlines if "loss of pain response" in h.label)
    assert fg.KM_UNIT == "weeks"
    assert head.value.endswith(" weeks") and "weeks" in head.caption
    assert "days" not in f"{head.label} {head.value} {head.caption}"
    axis = view.durability_figure.layout.xaxis.title.text
    assert axis.startswith("Weeks from the end of induction")
    assert "Weeks" in fg.km_figure(_curves("all", [0.0, 7.0])).layout.xaxis.title.text


# -- c. numbers at risk to the end of the curve ----------------------------------------------
def test_at_risk_weeks_reach_the_end_of_a_long_curve():
    assert at_risk_weeks(None) == [0, 4, 8, 12, 16, 20, 24]
    assert at_risk_weeks(38 * 7.0)[-1] == 36  # the curve runs to week 38
    assert at_risk_weeks(40 * 7.0)[-1] == 40


def test_km_chart_writes_numbers_at_risk_up_to_each_curve_end():
    curves = pl.concat([_curves("A", [0.0, 70.0, 266.0]), _curves("B", [0.0, 35.0, 60.0])])
    at_risk = pl.DataFrame(
        {
            "level": ["A"] * 10 + ["B"] * 7,
            "instrument": ["pain_nrs"] * 17,
            "week": [*range(0, 40, 4), *range(0, 28, 4)],
            "at_risk": [*range(10, 0, -1), *range(7, 0, -1)],
        }
    )
    fig = fg.km_figure(curves, at_risk=at_risk)
    numbers = [a for a in fig.layout.annotations if a.name == "at risk"]
    a_weeks = [a.x for a in numbers if a.font.color == fig.data[1].line.color]
    b_weeks = [a.x for a in numbers if a.font.color == fig.data[3].line.color]
    assert max(a_weeks) == 36  # curve A ends at week 38: at risk up to week 36
    assert max(b_weeks) == 8  # curve B ends at week 8.6: nothing drawn beyond it
    assert list(fig.layout.xaxis.tickvals) == list(range(0, 40, 4))
    assert any(a.text == "<b>Numbers at risk</b>" for a in fig.layout.annotations)


def test_the_page_km_chart_carries_numbers_at_risk_past_week_24(view):
    fig = view.durability_figure
    numbers = [a for a in fig.layout.annotations if a.name == "at risk"]
    assert numbers
    last = max(float(t) for t in view.durability_curves.get_column("time_days")) / 7
    assert max(a.x for a in numbers) > last - 4


# -- g. no funnel plot for one clinic --------------------------------------------------------
def test_one_clinic_gets_a_sentence_not_a_funnel_plot():
    t = generate(seed=3, patients=60).tables
    one = {**t, "patients": t["patients"].with_columns(clinic=pl.lit("Riverside"))}
    cmp = cohort_page.comparison(cohort_summary(one, S), "clinic")
    assert cmp.funnel_figure is None
    assert cmp.funnel_note is not None and "One clinic only (Riverside)" in cmp.funnel_note
    many = cohort_page.comparison(cohort_summary(t, S), "clinic")
    assert many.funnel_figure is not None and many.funnel_note is None


# -- h. one colour direction on the quality heatmap ------------------------------------------
def test_quality_heatmap_reads_higher_is_better_on_every_row():
    from kapoutcomes.cohort import quality
    from kapoutcomes.present.figures import quality as quality_figure

    comp = pl.DataFrame(
        {
            "level": ["North", "North"],
            "measure": ["no_baseline", "sessions_with_score"],
            "instrument": ["pain_nrs", "pain_nrs"],
            "n": [1, 9],  # 1 of 4 without a baseline; 9 of 10 sessions scored
            "denominator": [4, 10],
            "rate": [0.25, 0.9],
        }
    )
    fig = quality_figure.completeness_figure(quality.completeness_cells(comp))
    heat = fig.data[0]
    rows = {lab: (z[0], t[0]) for lab, z, t in zip(heat.y, heat.z, heat.text, strict=True)}
    # the missing-baseline measure is turned round: 3 of 4 have a baseline = 75% (better)
    assert rows["dosed patients with a baseline<br>Pain NRS"] == (75.0, "75%<br>3/4")
    assert rows["dosing sessions with a score<br>Pain NRS"] == (90.0, "90%<br>9/10")
    assert heat.colorbar.orientation == "h"  # under the chart: beside it, a fifth of a tablet
    assert "higher = better" in fig.layout.title.text
    assert "higher = better" in heat.colorbar.title.text
    assert (heat.zmin, heat.zmax) == (0, 100)
    assert quality_figure.completeness_figure(quality.completeness_cells(comp.clear())) is None


# -- d. n and intervals by month and week; too few patients greyed, the rule written ---------
def test_the_too_few_rule_is_a_cited_setting():
    f = next(x for x in S.describe() if x["setting"] == "min_patients_per_point")
    assert f["value"] == "10" and "our choice" not in f["source"]  # the source says why
    assert "grey" in f["meaning"]


def test_month_chart_greys_thin_months_and_shows_n_and_intervals():
    months = pl.DataFrame(
        {
            "instrument": ["pain_nrs"] * 3,
            "treatment_month": [1, 2, 3],
            "scored": [40, 25, 6],
            "mean_reduction_pct": [30.0, 35.0, 60.0],
            "mean_reduction_lower": [24.0, 27.0, 20.0],
            "mean_reduction_upper": [36.0, 43.0, 100.0],
        }
    )
    fig = fg.month_figure(months, min_n=10)
    line, grey = fig.data
    assert list(line.y) == [30.0, 35.0, None]  # month 3 is not joined to the line
    assert list(line.error_y.array) == [6.0, 8.0, None]
    assert list(line.error_y.arrayminus) == [6.0, 8.0, None]
    assert list(grey.x) == [3] and list(grey.y) == [60.0]
    assert "fewer than 10 patients" in grey.name and grey.marker.color == "#999999"
    counts = [(a.x, a.text) for a in fig.layout.annotations if a.name == "patients scored"]
    assert counts == [(1, "40"), (2, "25"), (3, "6")]
    rule = next(a for a in fig.layout.annotations if a.name == "rule")
    assert "fewer than 10 patients" in rule.text and "min_patients_per_point" in rule.text
    assert "CI" in fig.layout.yaxis.title.text


def test_safety_month_chart_greys_months_with_few_patients_dosed():
    # the Safety page's events per 100 sessions by month followed the same rule nowhere:
    # late months of 2-3 patients were joined into the line with intervals of 0-125
    import datetime as dt

    monthly = pl.DataFrame(
        {
            "month": [dt.date(2025, m, 1) for m in (1, 2, 3)],
            "events": [12, 9, 2],
            "sessions": [60, 50, 4],
            "patients": [30, 22, 3],
            "per_100_sessions": [20.0, 18.0, 50.0],
            "per_100_lower": [10.3, 8.2, 6.1],
            "per_100_upper": [34.9, 34.2, 180.6],
        }
    )
    fig = fg.adverse_events_by_month_figure(monthly, min_n=10)
    line, grey = fig.data
    assert list(line.y) == [20.0, 18.0, None]
    assert list(line.error_y.array)[2] is None
    assert list(grey.y) == [50.0] and "fewer than 10 patients" in grey.name
    counts = [a.text for a in fig.layout.annotations if a.name == "patients dosed"]
    assert counts == ["30", "22", "3"]
    rule = next(a for a in fig.layout.annotations if a.name == "rule")
    assert "fewer than 10 patients" in rule.text and "min_patients_per_point" in rule.text


def test_trajectory_chart_shows_n_intervals_and_the_rule(view):
    fig = view.trajectories["pain_nrs"]
    assert fig is not None
    median = next(t for t in fig.data if t.name.startswith("median"))
    assert median.error_y.array is not None
    counts = [a for a in fig.layout.annotations if a.name == "patients"]
    assert counts and all(int(a.text) >= S.min_patients_per_point for a in counts)
    rule = next(a for a in fig.layout.annotations if a.name == "rule")
    assert f"fewer than {S.min_patients_per_point} patients" in rule.text


def test_the_cohort_month_chart_uses_the_setting(demo_summary):
    s = Settings(min_patients_per_point=1000)
    v = cohort_page.cohort_view(demo_summary, s)
    line = v.months_figure.data[0]
    assert all(y is None for y in line.y)  # every month greyed under a rule of 1000


# -- f. comparisons limited to the largest groups, the rest pooled and stated ----------------
def test_largest_groups_keep_six_and_pool_the_rest():
    from kapoutcomes.cohort import groups

    sizes = {"A": 9, "B": 8, "C": 7, "D": 6, "E": 5, "F": 4, "G": 3, "H": 2, "I": 1}
    levels = [lv for lv, n in sizes.items() for _ in range(n)]
    g = pl.DataFrame(
        {"patient_id": [f"p{i}" for i in range(len(levels))], "clinician": levels}
    ).with_columns(dosed=pl.lit(True))
    pool = groups.largest_groups(g, "clinician")
    assert pool.other == "other (3 groups, 6 patients)"
    assert [pool.shown[lv] for lv in "ABCDEF"] == list("ABCDEF")
    assert {pool.shown[lv] for lv in "GHI"} == {pool.other}
    assert "6 largest clinician groups" in pool.sentence()
    rates = pl.DataFrame(
        {
            "level": list("GHA"),
            "n": [1, 2, 5],
            "denominator": [2, 4, 8],
            "itt_denominator": [3, 4, 9],
        }
    )
    pooled = groups.pooled_rates(rates, pool, 0.95)
    other = pooled.filter(pl.col("level") == pool.other).row(0, named=True)
    assert (other["n"], other["denominator"], other["itt_denominator"]) == (3, 6, 7)
    assert other["rate"] == pytest.approx(0.5)
    few = groups.largest_groups(g.filter(pl.col("clinician").is_in(list("ABC"))), "clinician")
    assert few.other is None and few.sentence() is None


def test_comparison_charts_draw_at_most_seven_groups(demo_summary):
    t = generate(seed=7, patients=160).tables
    many = t["sessions"].with_columns(
        clinician=pl.format("C{}", pl.col("patient_id").hash() % 12)  # 12 clinicians
    )
    summ = cohort_summary({**t, "sessions": many}, S, comparisons=("clinician",))
    cmp = cohort_page.comparison(summ, "clinician", S)
    lines = [tr.name for tr in cmp.durability_figure.data if not tr.name.endswith("band")]
    assert len(lines) <= 7 and any(n.startswith("other (") for n in lines)
    bars = list(cmp.response_figure.data[0].x)
    assert len(bars) <= 7 and bars[-1].startswith("other (")
    assert cmp.pooled_note and "pooled as 'other (" in cmp.pooled_note
    assert cmp.response.height > 7  # the table keeps every clinician
    # numbers at risk under the comparison chart too
    assert any(a.name == "at risk" for a in cmp.durability_figure.layout.annotations)


# -- e. MME over time for the same patients ---------------------------------------------------
def test_mme_chart_pairs_the_same_patients_with_n_per_timepoint():
    paired = pl.DataFrame(
        {
            "timepoint": ["6 months", "3 months"],
            "day": [183, 91],
            "n": [12, 30],
            "baseline_median": [80.0, 75.0],
            "baseline_q1": [60.0, 50.0],
            "baseline_q3": [100.0, 90.0],
            "median": [40.0, 50.0],
            "q1": [20.0, 30.0],
            "q3": [60.0, 70.0],
        }
    )
    fig = fg.paired_mme_figure(paired)
    first, later = fig.data
    assert list(first.x) == ["3 months<br>n = 30 patients", "6 months<br>n = 12 patients"]
    assert list(first.y) == [75.0, 80.0] and list(later.y) == [50.0, 40.0]
    assert list(later.error_y.array) == [20.0, 20.0]
    assert "same patients" in fig.layout.title.text and "paired" in fig.layout.title.text
    assert any(a.name == "rule" and "same patients" in a.text for a in fig.layout.annotations)
    # the cross-sectional chart (HTML report) says that it is not the same patients
    assert "cross-sectional" in fg.mme_figure(pl.DataFrame(schema={"measure": pl.String,
        "timepoint": pl.String, "value": pl.Float64, "lower": pl.Float64,
        "upper": pl.Float64, "n": pl.Int64})).layout.title.text  # fmt: skip


def test_the_cohort_page_draws_the_paired_mme_chart(view):
    assert view.opioids_paired.height and view.opioids_paired["n"].sum() > 0
    assert "paired" in view.opioids_figure.layout.title.text


def test_durability_lines_name_instruments_as_the_page_does(demo_summary):
    # the before/after walk saw "**pain_nrs**: 133 responders ..." and "pain_nrs median time
    # to loss ..." under the durability chart: codes, not the clinic's words
    v = cohort_page.cohort_view(demo_summary, Settings())
    assert v.durability_populations[0].startswith("**Pain NRS (0-10)**: ")
    shown = " ".join(v.durability_populations + v.durability_caveats)
    assert "pain_nrs" not in shown and "phq9" not in shown
