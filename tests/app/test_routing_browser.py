"""Every page opened directly at its own URL (a bookmark, a link in an e-mail, a reload) shows
that page, and the browser's network log holds no failed request (issue 14 item 7: /cohort
showed "Page not found", and each direct load logged two 404s from Streamlit's search for the
server's root, streamlit/streamlit#7074; dashboards/serve.py answers page URLs itself)."""

from __future__ import annotations

import time

import pytest

from dashboards.navigation import PAGES
from tests.browser_support import serve_app, wait_ready

pytestmark = pytest.mark.browser

pytest.importorskip("playwright.sync_api")

# the heading each page shows first (its st.title)
HEADINGS = {
    "cohort": "Cohort review",
    "patient": "Patient view",
    "safety": "Safety",
    "data": "Data",
    "audit": "Audit trail",
    "definitions": "Definitions in force",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("kap-home")


@pytest.fixture(scope="module")
def app_url(home):
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env) as url:
        yield url


def open_directly(browser, url: str):  # type: ignore[no-untyped-def]
    """Open ``url`` in a new browser session; the page and every failed response seen."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else 0)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.goto(url)
    wait_ready(page)
    return ctx, page, failed


def test_the_server_prepares_the_first_cohort_review_when_it_starts(browser, app_url, home):
    """The server's start-up preparation ran (dashboards/serve.py's lifespan) and said so in
    its log, in words without patient data."""
    ctx, page, _ = open_directly(browser, f"{app_url}/cohort")
    try:
        page.get_by_role("heading", name="Cohort review", level=1).first.wait_for(timeout=60_000)
        said = "kapoutcomes: Cohort review prepared for the demo cohort in "
        for _ in range(240):  # it may finish after the page it sped up
            log = (home / "streamlit.log").read_text()
            if said in log:
                break
            time.sleep(0.5)
        assert said in log, log
        assert "missing ScriptRunContext" not in log  # the preparation's thread runs no page
    finally:
        ctx.close()


def test_every_page_is_listed():
    assert set(HEADINGS) == set(PAGES)


@pytest.mark.parametrize("key", list(PAGES))
def test_page_opens_at_its_own_url(browser, app_url, key):
    ctx, page, failed = open_directly(browser, f"{app_url}/{key}")
    try:
        page.get_by_role("heading", name=HEADINGS[key], level=1).first.wait_for(timeout=60_000)
        wait_ready(page)
        assert page.get_by_text("Page not found").count() == 0
        assert page.url == f"{app_url}/{key}"
        assert page.title() == f"{PAGES[key][0]} · kapoutcomes"
        assert failed == []
    finally:
        ctx.close()


def test_root_opens_the_cohort_review_at_its_url(browser, app_url):
    ctx, page, failed = open_directly(browser, app_url)
    try:
        page.get_by_role("heading", name="Cohort review", level=1).first.wait_for(timeout=60_000)
        assert page.url == f"{app_url}/cohort"
        assert failed == []
    finally:
        ctx.close()


#: what a reader sees cut off: an element whose text is wider than its box
_CUT = "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"


@pytest.mark.parametrize("width", [1440, 820])
def test_headline_figures_and_labels_are_never_cut_off(browser, app_url, width):
    """Issue 14: at 820 px (a tablet) the Cohort review's four headline figures read "4.5 ..."
    and their labels lost "all starters"; each headline is now a card that wraps."""
    ctx = browser.new_context(viewport={"width": width, "height": 1400})
    page = ctx.new_page()
    try:
        page.goto(f"{app_url}/cohort")
        wait_ready(page)
        values = page.locator('[data-testid="stMetricValue"]')
        values.first.wait_for(timeout=120_000)
        wait_ready(page)
        assert values.count() >= 4
        cut = page.locator('[data-testid="stMetricValue"] div, [data-testid="stMetricLabel"] p')
        assert cut.evaluate_all(_CUT) == []
    finally:
        ctx.close()
