"""The Safety page in headless Chromium (Debian package) on a clinic store: the must-not-miss
signals, a review recorded through the form and shown beside its signal, and the link to the
patient's view by pseudonym. Screenshots at 1440 px and 820 px (a tablet) go to
test-artifacts/browser/ (never committed)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.cohort import safety
from kapoutcomes.demo import generator
from kapoutcomes.storage import keys
from kapoutcomes.storage.store import Store
from tests.browser_support import ARTIFACTS, serve_app, wait_ready

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def clinic_store(tmp_path, monkeypatch):
    """A store with the demo patients who have a PHQ-9 item 9 answer above 0 or a serious
    event (a clinic's store: no demo banner, reviews are recorded), its key in the same
    installation folder as the app's."""
    home = tmp_path
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(home))
    cohort = generator.generate(seed=7).tables
    pids = set(safety.item9_by_patient(cohort["assessments"])["patient_id"]) | set(
        safety.serious_events(cohort["adverse_events"])["patient_id"]
    )
    with Store(home / "store.duckdb") as st:
        keys.for_store(st)
        st.write_tables(
            {n: cohort[n].filter(pl.col("patient_id").is_in(sorted(pids))) for n in tables.MODELS}
        )
    return home


def test_safety_page_review_and_patient_link(browser, clinic_store):
    home = clinic_store
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_app({**env, "KAPOUTCOMES_DEMO": "0"}, port=8631) as url:
        ctx = browser.new_context(viewport={"width": 1440, "height": 4200})
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/safety")
        wait_ready(page)
        page.get_by_text("Record review", exact=True).wait_for(timeout=120_000)
        assert page.get_by_text("Events per 100 IV infusions").count() >= 1
        # the first action waits until the page has finished computing (slow on a busy CI)
        page.locator('.st-key-review-outcome [data-testid="stRadioOption"]').filter(
            has_text="action taken"
        ).click(timeout=120_000)
        page.locator(".st-key-review-note input").fill("safety plan")
        page.get_by_text("Record review", exact=True).click()
        page.get_by_text("Recorded in the store and the audit trail").wait_for(timeout=60_000)
        wait_ready(page)
        page.screenshot(path=str(ARTIFACTS / "safety-1440.png"), full_page=True)
        page.set_viewport_size({"width": 820, "height": 5600})
        wait_ready(page)
        page.screenshot(path=str(ARTIFACTS / "safety-820.png"), full_page=True)
        link = page.get_by_role("link").filter(has_text="in the Patient view")
        pid = re.search(r"p_[0-9a-f]{16}", link.inner_text()).group(0)
        link.click()
        page.get_by_role("heading", name="Maintenance review").wait_for(timeout=60_000)
        assert f"patient={pid}" in page.url and "DEMO-" not in page.url
        wait_ready(page)
        page.screenshot(path=str(ARTIFACTS / "safety-linked-patient-820.png"), full_page=True)
        ctx.close()
    assert errors == []
    with Store(home / "store.duckdb") as st:
        reviews = st.signal_reviews()
    assert reviews.height == 1 and reviews["outcome"][0] == "action taken"
    assert reviews["note"][0] == "safety plan"
