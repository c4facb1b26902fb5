"""Browser tests: the real app in headless Chromium (Debian package) driven by Playwright.

Screenshots are kept in test-artifacts/browser/ as test artifacts (not committed).
"""

from __future__ import annotations

import pytest

from tests.browser_support import ARTIFACTS, ROOT, serve_app, store_riverside, wait_ready

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api")


class AppURL(str):
    """The app's URL, with the installation folder it runs on."""

    def __new__(cls, url: str, home):  # type: ignore[no-untyped-def]
        obj = super().__new__(cls, url)
        obj.home = home  # type: ignore[attr-defined]
        return obj


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("kap-home")
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env) as url:
        yield AppURL(url, home)


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_app_opens_on_demo_cohort(page, app_url):
    page.goto(app_url)
    wait_ready(page)
    page.get_by_text("Demo data.").first.wait_for(timeout=60_000)
    page.get_by_text("Cohort review").first.wait_for()
    page.get_by_text("Pain responders").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "cohort-demo")
    for tab in ("Durability", "Comparisons", "Opioids"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(1500)
        shot(page, f"cohort-demo-{tab.lower()}")
    assert page.console_errors == []


def goto(page, app_url: str, title: str) -> None:
    """Open the app and go to a page through the sidebar navigation, as a person would."""
    page.goto(app_url)
    wait_ready(page)
    # the root moves on to the first page (a second script run): under load the menu can take
    # longer than Playwright's default 30 s to arrive
    nav = page.locator('[data-testid="stSidebarNav"]')
    nav.get_by_text(title, exact=True).click(timeout=120_000)
    wait_ready(page)


def test_patient_view_by_mrn(page, app_url):
    goto(page, app_url, "Patient view")
    box = page.get_by_test_id("stTextInputField").first
    box.fill("DEMO-000012")
    box.press("Enter")
    page.get_by_role("heading", name="Maintenance review").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "patient-view")
    assert page.console_errors == []


def audit_log(home):
    """The app's audit trail, read when the app is not holding the store for a moment."""
    import time

    from kapoutcomes.storage import audit
    from kapoutcomes.storage.store import Store, StoreError

    deadline = time.monotonic() + 30
    while True:
        try:
            with Store(home / "store.duckdb", read_only=True) as st:
                return audit.entries(st)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_download_csv_of_the_demo_cohort(page, app_url):
    # the bundled demo cohort is no clinic's record: its downloads work and are not audited
    goto(page, app_url, "Cohort review")
    button = page.get_by_role("button", name="Attrition (CSV)").first
    button.wait_for(timeout=90_000)
    wait_ready(page)  # the deferred download is wired once the page run is done
    with page.expect_download(timeout=120_000) as dl:
        button.click()
    path = dl.value.path()
    text = open(path, encoding="utf-8-sig").read()  # noqa: SIM115
    assert text.splitlines()[0].startswith("subgroup,level,stage,population,n,reached,denominator")
    assert page.console_errors == []
    if (app_url.home / "store.duckdb").exists():
        log = audit_log(app_url.home)
        assert log.filter(log["action"] == "export").height == 0


def test_download_audited_and_refused_when_it_cannot_be_audited(browser, tmp_path):
    """A clinic's store: the download is recorded in the audit trail before any byte leaves.
    Attack: the audit trail cannot be written (here: secret.key damaged after the page was
    shown). The download must fail: no byte of the file is sent."""
    home = tmp_path / "home"
    home.mkdir()
    store_riverside(home)
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        pg = ctx.new_page()
        pg.goto(url)  # the cohort review is the first page
        button = pg.get_by_role("button", name="Attrition (CSV)").first
        button.wait_for(timeout=120_000)
        wait_ready(pg)
        with pg.expect_download(timeout=120_000) as dl:
            button.click()
        assert open(dl.value.path(), encoding="utf-8-sig").read().startswith("subgroup,")  # noqa: SIM115
        log = audit_log(home)
        assert "attrition.csv" in log.filter(log["action"] == "export")["target"].to_list()
        key = (home / "secret.key").read_bytes()
        (home / "secret.key").write_text("damaged")
        got = []
        pg.on("download", lambda d: got.append(d))
        button.click()
        pg.wait_for_timeout(10_000)
        assert got == []
        # the click's rerun now finds the damaged key and shows only the refusal
        pg.get_by_text("The store cannot be used").first.wait_for(timeout=120_000)
        # control: with the key restored, the same button downloads again, so the refusal
        # above was not a slow download
        (home / "secret.key").write_bytes(key)
        pg.goto(url)
        button.wait_for(timeout=120_000)
        wait_ready(pg)
        with pg.expect_download(timeout=60_000) as dl:
            button.click()
        assert dl.value.path()
        ctx.close()


def test_every_other_page_on_the_demo_cohort(page, app_url):
    goto(page, app_url, "Safety")
    page.get_by_text("Events per 100 IV infusions").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "safety-demo")
    goto(page, app_url, "Data")
    page.get_by_role("tab", name="Data quality").click()
    page.get_by_text("Patients without a baseline").first.wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "data-quality-demo")
    goto(page, app_url, "Definitions")
    page.get_by_text("Outcome instruments").first.wait_for(timeout=60_000)
    shot(page, "definitions")
    goto(page, app_url, "Audit trail")
    # every view and download so far was of the demo cohort: nothing was written, no store made
    page.get_by_text("No store yet, so nothing has been recorded").first.wait_for(timeout=60_000)
    assert not (app_url.home / "store.duckdb").exists()
    shot(page, "audit-trail")
    assert page.console_errors == []


def test_upload_messy_export_and_read_report(page, app_url):
    goto(page, app_url, "Data")
    page.get_by_text("Upload exports").first.wait_for()
    page.get_by_test_id("stTextInputField").first.fill("Lakeshore Ketamine Center")
    page.locator('input[type="file"]').first.set_input_files(
        str(ROOT / "sample_data" / "exports" / "lakeshore_observations.csv")
    )
    button = page.get_by_role("button", name="Import", exact=True)
    sync_api.expect(button).to_be_enabled(timeout=30_000)
    button.click()
    page.get_by_text("Import report").first.wait_for(timeout=180_000)
    page.get_by_text("Every row is accounted for.").first.wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "data-import-report")
    assert page.console_errors == []
    assert page.get_by_text("quarantined").count() > 0


def test_after_import_cohort_and_patient_show_clinic_data(page, app_url):
    # runs after the upload: the store now holds the imported patients, no demo banner
    goto(page, app_url, "Cohort review")
    # the imported observation export has scores but no infusions: the page says so
    page.get_by_text("none has a dosing session yet").first.wait_for(timeout=60_000)
    assert page.get_by_text("Demo data.").count() == 0
    shot(page, "cohort-after-import")
    goto(page, app_url, "Patient view")
    box = page.get_by_test_id("stTextInputField").first
    box.fill("DEMO-000001")  # an MRN from the imported export, hashed with this installation's key
    box.press("Enter")
    page.get_by_role("heading", name="Maintenance review").wait_for(timeout=60_000)
    wait_ready(page)
    shot(page, "patient-after-import")
    assert page.console_errors == []
