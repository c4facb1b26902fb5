"""End-to-end sign-in: a local OpenID Connect provider (oidc-provider-mock, from PyPI), the
real app with an [auth] secrets section, and headless Chromium. Each role signs in, sees
exactly its pages, and signs out; an unauthenticated browser sees only the sign-in page;
a patient view lands in the audit trail with the user who looked."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import urllib.request

import pytest

from kapoutcomes.storage import access, audit, keys, privacy
from kapoutcomes.storage.store import Store, StoreError
from tests.browser_support import (
    ARTIFACTS,
    ROOT,
    free_port,
    serve_app,
    store_riverside,
    wait_ready,
)

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("oidc_provider_mock")

USERS = {
    "director": ("director@clinic.test", "medical_director"),
    "clinician": ("dr.lee@clinic.test", "clinician"),
    "datamanager": ("data@clinic.test", "data_manager"),
    "admin": ("admin@clinic.test", "administrator"),
    "stranger": ("stranger@elsewhere.test", None),
}
TITLES = {
    "cohort": "Cohort review",
    "patient": "Patient view",
    "safety": "Safety",
    "data": "Data",
    "audit": "Audit trail",
    "definitions": "Definitions",
}


@pytest.fixture(scope="module")
def provider():
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "-p", str(port)]
    for sub, (email, _) in USERS.items():
        claims = {"sub": sub, "email": email, "name": sub, "email_verified": True}
        args += ["--user-claims", json.dumps(claims)]
    # an account whose provider has not verified the director's e-mail it claims
    impostor = {"sub": "impostor", "email": USERS["director"][0], "email_verified": False}
    args += ["--user-claims", json.dumps(impostor)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the OIDC provider did not start") from None
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def signed_app(provider, tmp_path_factory):
    home = tmp_path_factory.mktemp("kap-signin")
    app_port = free_port()
    (home / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        'client_id = "kapoutcomes-test"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    lines = ["[users]"] + [
        f'"{email}" = "{role}"'
        if role != "clinician"
        else f'"{email}" = {{ role = "clinician", clinics = ["Riverside Pain Clinic"] }}'
        for email, role in USERS.values()
        if role
    ]
    (home / "access.toml").write_text("\n".join(lines) + "\n")
    env = {
        "KAPOUTCOMES_HOME": str(home),
        "KAPOUTCOMES_STORE": str(home / "store.duckdb"),
        "KAPOUTCOMES_ACCESS": str(home / "access.toml"),
    }
    store_riverside(home)
    with serve_app(
        env, port=app_port, extra_args=["--secrets.files", str(home / "secrets.toml")]
    ) as url:
        yield url.replace("127.0.0.1", "localhost"), home


def sign_in(page, url: str, sub: str) -> None:
    page.goto(url)
    wait_ready(page)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=sub, exact=True).click()  # the provider's one-click user
    page.wait_for_url(f"{url}/**", timeout=60_000)
    wait_ready(page)


def nav_titles(page) -> set[str]:
    nav = page.locator('[data-testid="stSidebarNav"] a')
    # each link's text is the icon's ligature name, then the title
    return {t.strip().splitlines()[-1].strip() for t in nav.all_inner_texts() if t.strip()}


def test_unauthenticated_sees_only_sign_in(browser, signed_app):
    url, _ = signed_app
    page = browser.new_page()
    page.goto(url)
    wait_ready(page)
    page.get_by_role("button", name="Sign in").wait_for()
    assert nav_titles(page) == set()
    assert page.get_by_text("Demo data.").count() == 0
    page.close()


@pytest.mark.parametrize("sub", ["director", "clinician", "datamanager", "admin"])
def test_each_role_sees_exactly_its_pages(browser, signed_app, sub):
    url, _ = signed_app
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    sign_in(page, url, sub)
    email, role = USERS[sub]
    # the address is shown as text: plain() puts an invisible word joiner before the "@"
    page.get_by_text(f"Signed in as {email.split('@')[0]}").wait_for(timeout=60_000)
    # a single page shows no navigation list; otherwise the list is exactly the role's pages
    expected = {TITLES[p] for p in access.pages_for(role)}
    wait_ready(page)
    got = nav_titles(page)
    deadline = time.monotonic() + 60  # the root moves on to the first page: a second run
    while got != expected and not (len(expected) == 1 and got == set()):
        if time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
        got = nav_titles(page)
    assert got == expected or (len(expected) == 1 and got == set())
    wait_ready(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signin-{sub}.png"))
    page.get_by_role("button", name="Sign out").click()
    # the provider asks to confirm the end of its own session, then sends the browser back
    page.get_by_role("button", name="End session").click(timeout=60_000)
    page.wait_for_url(f"{url}/**", timeout=60_000)
    wait_ready(page)
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    assert nav_titles(page) == set()
    ctx.close()


def test_stranger_without_role_is_refused(browser, signed_app):
    url, _ = signed_app
    ctx = browser.new_context()
    page = ctx.new_page()
    sign_in(page, url, "stranger")
    page.get_by_text("No access yet").wait_for(timeout=60_000)
    assert nav_titles(page) == set()
    ctx.close()


def test_unverified_email_gets_no_role(browser, signed_app):
    """Attack: sign in with an account that merely claims the director's e-mail."""
    url, _ = signed_app
    ctx = browser.new_context()
    page = ctx.new_page()
    sign_in(page, url, "impostor")
    page.get_by_text("No access yet").wait_for(timeout=60_000)
    assert nav_titles(page) == set()
    ctx.close()


def test_patient_view_is_audited_with_the_user(browser, signed_app):
    url, home = signed_app
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    sign_in(page, url, "clinician")
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Patient view").click()
    wait_ready(page)
    box = page.get_by_test_id("stTextInputField").first
    box.fill("DEMO-000012")  # a Riverside patient: the clinician is limited to Riverside
    box.press("Enter")
    page.get_by_role("heading", name="Maintenance review").wait_for(timeout=60_000)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click(timeout=60_000)
    page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
    ctx.close()
    log = None
    deadline = time.monotonic() + 30
    while log is None:  # the app may still be finishing the page run that holds the file
        try:
            with Store(home / "store.duckdb") as st:
                log = audit.entries(st)
                store_keys = keys.for_store(st, home / "secret.key")
                chain_ok = audit.verify(st, store_keys.audit).ok
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    views = log.filter(log["action"] == "view_patient")
    assert views.height >= 1
    # the person and their verified identity (issuer#subject)
    assert views["user_name"][0].startswith("dr.lee@clinic.test [http")
    assert views["user_name"][0].endswith("#clinician]") and views["role"][0] == "clinician"
    # a stored patient, by the store's pseudonym (demo patients' views are not audited)
    assert views["target"][0] == privacy.pseudonymise("DEMO-000012", store_keys.pseudonym)
    assert {"sign_in", "sign_out"} <= set(log["action"].to_list())
    assert chain_ok


def test_repo_root_is_unchanged():
    assert not (ROOT / ".streamlit" / "secrets.toml").exists()
