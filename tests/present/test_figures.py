"""Figure builders (kapoutcomes.present.figures): tidy frames in, the numbers in the traces
checked by hand (percent scaling, weeks, error-bar arms), titles and the palette."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.present import figures as fg
from kapoutcomes.present import palette
from kapoutcomes.present.figures import cohort, layout, per_patient, printed, timeline


def test_palette_is_okabe_ito_and_labels_fall_back_to_the_code():
    # Okabe & Ito (2008), "Color Universal Design": the eight colours in their order
    assert fg.OKABE_ITO[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert len(set(fg.OKABE_ITO)) == 8
    assert palette.translucent(palette.BLUE, 0.15) == "rgba(0,114,178,0.15)"
    assert palette.series(9) == palette.OKABE_ITO[1]


def test_the_package_exports_each_family_member():
    # one figures family: the package's names are the submodules' own functions
    assert fg.km_figure is cohort.km_figure
    assert fg.label is layout.label
    assert fg.patient_timeline is timeline.patient_timeline
    assert fg.score_chart_svg is printed.score_chart_svg
    assert set(per_patient.__all__ if hasattr(per_patient, "__all__") else dir(per_patient)) & set(
        fg.__all__
    )
    assert fg.label("phq9") == "PHQ-9 (0-27)"
    assert fg.label("new_scale") == "new_scale"


def test_km_figure_weeks_percent_and_band():
    curves = pl.DataFrame(
        {
            "level": ["all"] * 3,
            "instrument": ["pain_nrs"] * 3,
            "time_days": [14.0, 0.0, 28.0],  # unsorted on purpose
            "survival": [0.5, 1.0, 0.25],
            "lower": [0.2, 1.0, None],
            "upper": [0.8, 1.0, 0.6],
            "at_risk": [4, 8, 2],
        }
    )
    fig = fg.km_figure(curves)
    band, line = fig.data
    assert list(line.x) == [0.0, 2.0, 4.0]  # days / 7
    assert list(line.y) == [100.0, 50.0, 25.0]
    # the band goes out along the upper limit and back along the lower one
    assert list(band.x) == [0.0, 2.0, 4.0, 4.0, 2.0, 0.0]
    assert list(band.y) == [100.0, 80.0, 60.0, None, 20.0, 100.0]
    assert line.name == "Pain NRS (0-10)"
    assert fig.layout.title.text == "Time to loss of response"


def test_km_figure_names_subgroup_levels_and_says_when_empty():
    curves = pl.DataFrame(
        {
            "level": ["IV", "IM"],
            "instrument": ["phq9", "phq9"],
            "time_days": [0.0, 0.0],
            "survival": [1.0, 1.0],
            "lower": [1.0, 1.0],
            "upper": [1.0, 1.0],
            "at_risk": [3, 2],
        }
    )
    fig = fg.km_figure(curves)
    names = [t.name for t in fig.data if not t.name.endswith("band")]
    # groups compared on one instrument: the y axis names the instrument
    assert names == ["IV", "IM"] and fig.layout.yaxis.title.text.endswith("PHQ-9 (0-27)")
    two = pl.concat([curves, curves.with_columns(instrument=pl.lit("pain_nrs"))])
    names = [t.name for t in fg.km_figure(two).data if not t.name.endswith("band")]
    assert names[0] == "IV: PHQ-9 (0-27)"
    empty = fg.km_figure(curves.clear())
    assert empty.data == ()
    assert empty.layout.title.text.endswith("(no episodes)")


def test_attrition_figure_overall_rows_with_counts_and_percent():
    stages = pl.DataFrame(
        {
            "level": ["all", "all", "IV"],
            "stage": ["referred", "first_dose", "referred"],
            "n": [1200, 900, 10],
            "pct_of_referred": [100.0, 75.0, None],
        }
    )
    bar = fg.attrition_figure(stages).data[0]
    assert list(bar.x) == [1200, 900]
    assert list(bar.y) == ["Referred", "First dose"]
    assert list(bar.text) == ["1,200 (100%)", "900 (75%)"]


def test_rates_figure_error_arms_are_distances_from_the_rate():
    rates = pl.DataFrame(
        {
            "instrument": ["pain_nrs", "phq9"],
            "measure": ["response", "remission"],
            "n": [6, 0],
            "denominator": [10, 0],  # no evaluable patient: left out
            "itt_denominator": [12, 3],
            "rate": [0.6, None],
            "lower": [0.31, None],
            "upper": [0.83, None],
            "itt_rate": [0.5, None],
            "itt_lower": [0.25, None],
            "itt_upper": [0.75, None],
        }
    )
    evaluable, itt = fg.rates_figure(rates).data
    assert list(evaluable.y) == ["Pain NRS (0-10): response"]
    assert list(evaluable.x) == [pytest.approx(60.0)]
    assert list(evaluable.error_x.array) == [pytest.approx(23.0)]  # 83 - 60
    assert list(evaluable.error_x.arrayminus) == [pytest.approx(29.0)]  # 60 - 31
    assert list(itt.x) == [pytest.approx(50.0)]
    assert list(itt.customdata[0]) == [6, 12]


def test_month_figure_one_line_per_instrument_in_month_order():
    months = pl.DataFrame(
        {
            "instrument": ["pain_nrs", "pain_nrs", "phq9"],
            "treatment_month": [2, 1, 1],
            "mean_reduction_pct": [40.0, 25.0, 10.0],
            "denominator": [5, 7, 3],
        }
    )
    pain, phq = fg.month_figure(months, min_n=3).data
    assert list(pain.x) == [1, 2] and list(pain.y) == [25.0, 40.0]
    assert phq.name == "PHQ-9 (0-27)"


def test_funnel_figure_network_line_and_clinic_points():
    clinics = pl.DataFrame(
        {
            "clinic": ["North", "South"],
            "denominator": [40, 10],
            "rate": [0.5, None],
            "network_rate": [0.45, 0.45],
        }
    )
    fig = fg.funnel_figure(clinics)
    network = next(t for t in fig.data if t.name.startswith("network"))
    assert network.name == "network 45%"
    assert list(network.y) == [pytest.approx(45.0)] * 2
    assert list(network.x) == [1, 48.0]  # 1.2 x the largest clinic
    points = fig.data[-1]
    assert list(points.text) == ["North", "South"]
    assert points.y[0] == pytest.approx(50.0)
    # limits: two lines for each of the 95% and 99.8% limits, the 99.8% ones outside
    lines = [t for t in fig.data if "limits" in t.name]
    assert len(lines) == 4
    lo95, hi95, lo998, hi998 = (list(t.y) for t in lines)
    assert all(a <= b for a, b in zip(lo998, lo95, strict=True))
    assert all(a >= b for a, b in zip(hi998, hi95, strict=True))
    assert fg.funnel_figure(clinics.clear()).layout.title.text.endswith("(no data)")


def test_adverse_event_figure_sorted_with_exact_interval_arms():
    ae = pl.DataFrame(
        {
            "dimension": ["event", "event", "overall"],
            "category": ["nausea_vomiting", "dissociation", "all"],
            "per_100_sessions": [2.0, 5.0, 7.0],
            "per_100_lower": [1.0, 3.5, 6.0],
            "per_100_upper": [4.0, 7.0, 8.0],
        }
    )
    bar = fg.adverse_event_figure(ae).data[0]
    assert list(bar.x) == ["dissociation", "nausea vomiting"]
    assert list(bar.error_y.array) == [2.0, 2.0]
    assert list(bar.error_y.arrayminus) == [1.5, 1.0]


def test_mme_figure_median_with_iqr_arms():
    op = pl.DataFrame(
        {
            "measure": ["median_mme_on_opioids", "median_mme_on_opioids", "on_opioids"],
            "timepoint": ["baseline", "3 months", "baseline"],
            "value": [60.0, 45.0, 0.4],
            "lower": [30.0, 20.0, None],
            "upper": [90.0, 60.0, None],
            "n": [12, 9, 30],
        }
    )
    bar = fg.mme_figure(op).data[0]
    assert list(bar.x) == ["baseline", "3 months"]
    assert list(bar.error_y.array) == [30.0, 15.0]
    assert list(bar.error_y.arrayminus) == [30.0, 25.0]
    assert list(bar.text) == ["n=12", "n=9"]


def test_patient_figure_scores_baseline_and_dose_markers():
    t0 = dt.datetime(2024, 1, 1)
    ch = pl.DataFrame(
        {
            "instrument": ["pain_nrs", "pain_nrs", "phq9"],
            "assessed_at": [t0 + dt.timedelta(days=7), t0, t0],
            "score": [4.0, 8.0, 20.0],
            "baseline_score": [8.0, 8.0, 20.0],
        }
    )
    doses = pl.DataFrame(
        {
            "session_type": ["induction", "booster"],
            "started_at": [t0, t0 + dt.timedelta(days=30)],
        }
    )
    fig = fg.patient_figure(ch, doses)
    scores, induction, booster = fig.data
    assert list(scores.y) == [8.0, 4.0]
    assert (induction.name, booster.name) == ("induction infusion", "booster infusion")
    assert fig.layout.shapes[0].y0 == 8.0
    assert fig.layout.annotations[0].text == "baseline 8"
    assert fig.layout.title.text == "Pain NRS (0-10) over time"
