"""The Patient view as a clinician reads it before a booster, in Chromium at 1440 px (a desk)
and 820 px (a tablet): every "now" dated and flagged when stale, induction progress, the day
since the last infusion, nothing cut off, and a timeline tall enough to read (issue 14 item 1:
at 820 px the metrics were truncated and the plot was about 60 px high)."""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, serve_app, wait_ready

pytestmark = pytest.mark.browser

pytest.importorskip("playwright.sync_api")

MRN = "DEMO-000012"  # a demo patient whose latest scores are far older than the data end


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("kap-home")
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env) as url:
        yield url


@pytest.fixture(scope="module")
def expected():
    """What the library says of the patient (present.patient_page): the page must show it."""
    from kapoutcomes.definitions.settings import DEFAULT
    from kapoutcomes.demo import generator
    from kapoutcomes.present import patient_page
    from kapoutcomes.storage import privacy

    t = generator.generate(seed=7).tables
    pid = patient_page.find_patient(MRN, privacy.DEMO_SECRET)
    return patient_page.patient_view(t, pid, DEFAULT)


#: what a reader sees cut off: an element whose text is wider than its box
_CUT = "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"


@pytest.mark.parametrize("width", [1440, 820])
def test_patient_view_is_dated_and_readable(browser, app_url, expected, width):
    ctx = browser.new_context(viewport={"width": width, "height": 1400})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{app_url}/patient")
        wait_ready(page)
        box = page.get_by_test_id("stTextInputField").first
        box.wait_for(timeout=120_000)
        box.fill(MRN)
        box.press("Enter")
        page.get_by_role("heading", name="Maintenance review").wait_for(timeout=120_000)
        plot = page.locator(".js-plotly-plot").first
        plot.wait_for(timeout=120_000)
        wait_ready(page)
        text = page.inner_text("body")
        # the as-of date, the stale flags, and the patient's own dated facts
        assert "As of 28 Nov 2025" in text and "not today" in text
        for note in expected.stale:
            assert note.split(" (")[0] in text
        for h in expected.headlines:
            assert h.value in text and h.label.split(" ⚠")[0] in text
        assert "5 of 6" in text and "day 550" in text and "519 days old" in text
        # nothing cut off: metric values, labels and deltas
        cut = page.locator(
            '[data-testid="stMetricValue"] div, [data-testid="stMetricLabel"] p, '
            '[data-testid="stMetricDelta"] div'
        )
        assert cut.count() >= 3 * len(expected.headlines) - 1
        assert cut.evaluate_all(_CUT) == []
        # the timeline fits the screen and is tall enough to read
        bbox = plot.bounding_box()
        assert bbox is not None and bbox["height"] >= 300 and bbox["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"patient-view-{width}.png"))
        plot.scroll_into_view_if_needed()
        plot.screenshot(path=str(ARTIFACTS / f"patient-timeline-{width}.png"))
        assert errors == []
    finally:
        ctx.close()
