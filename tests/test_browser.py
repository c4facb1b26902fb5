"""Browser tests: the real app in headless Chromium (Debian package) driven by Playwright.

Screenshots are kept in test-artifacts/browser/ as test artifacts (not committed).
"""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS, chromium_path, serve_app

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("kap-home")
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def wait_ready(page) -> None:
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(500)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_app_opens_on_demo_cohort(page, app_url):
    page.goto(app_url)
    wait_ready(page)
    page.get_by_text("Demo data.").first.wait_for(timeout=60_000)
    page.get_by_text("Cohort review").first.wait_for()
    page.get_by_text("Patients dosed").first.wait_for()
    shot(page, "cohort-demo")
    assert page.console_errors == []
