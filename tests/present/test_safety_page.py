"""The Safety page's content (present.safety_page): rates per route (never one mixed
denominator), severity and grade apart, reviews beside the signals, and a cohort without dosing
sessions or without anything (what is shown, what is missing)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo.generator import generate
from kapoutcomes.present import safety_page
from kapoutcomes.storage import signal_reviews
from kapoutcomes.storage.store import Store

S = Settings()


@pytest.fixture(scope="module")
def demo():
    return generate(seed=7, patients=120).tables


def test_headline_rate_is_per_100_iv_infusions(demo):
    view = safety_page.safety_view(demo, S)
    first = view.headlines[0]
    assert first.label == "Events per 100 IV infusions"
    assert "IM injections" in first.caption  # the other routes, each with its own rate
    routes = view.by_route.get_column("route").to_list()
    assert routes[0] == "IV infusions" and "IM injections" in routes
    assert set(view.event_figures) <= set(routes)
    assert "grade" in view.by_grade.columns and "severity" in view.by_severity.columns
    assert not view.by_severity.get_column("severity").str.starts_with("grade").any()
    assert view.missing == ()


def test_reviews_are_shown_beside_their_signal(demo):
    item9 = safety_page.safety_view(demo, S).item9
    row = item9.row(0, named=True)
    st = Store(":memory:")
    review = signal_reviews.SignalReview(
        row["signal_id"], row["kind"], row["patient_id"], row["signal_at"], "reviewed"
    )
    signal_reviews.record(st, b"k" * 32, "local user", "local", review, dt.datetime(2025, 12, 1))
    view = safety_page.safety_view(demo, S, st.signal_reviews())
    shown = view.item9.filter(pl.col("signal_id") == row["signal_id"])["review"][0]
    assert shown == "reviewed by local user (local) on 2025-12-01"
    labels = {h.label: h.value for h in view.headlines}
    before = {h.label: h.value for h in safety_page.safety_view(demo, S).headlines}
    assert int(labels["Signals not reviewed yet"]) == int(before["Signals not reviewed yet"]) - 1


def test_without_dosing_sessions_shows_what_it_can(demo):
    t = {**demo, "sessions": demo["sessions"].clear()}
    view = safety_page.safety_view(t, S)
    assert view.missing[0].startswith("No dosing sessions in this cohort")
    assert view.headlines[0].value == "—"
    assert view.events_table["n events"].sum() == demo["adverse_events"].height  # none dropped
    assert view.serious.height == safety_page.safety_view(demo, S).serious.height
    if not demo["adverse_events"].filter(serious=True).is_empty():
        assert view.serious.height >= 1
    assert view.item9.height > 0
    assert view.monthly_figure is None and view.event_figures == {}


def test_an_empty_cohort_says_what_is_missing():
    view = safety_page.safety_view({n: tables.empty(n) for n in tables.MODELS}, S)
    assert len(view.missing) == 3
    assert view.serious.height == 0 and view.by_route.height == 0
