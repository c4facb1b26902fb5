"""Text is text (issue 15, item 5): clinic and clinician names, side-effect text, uploaded file
names and e-mail claims are shown as their literal characters wherever the app renders
Markdown. Written as the attack: a store and a sign-in whose strings are Markdown and HTML
(links, images, <img onerror>, $LaTeX$, :red[...] directives), then every page's element tree
is searched for a construct Streamlit would render."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from kapoutcomes import tables
from kapoutcomes.demo import generator
from kapoutcomes.storage import keys
from kapoutcomes.storage.store import Store
from tests.app.test_app import ROOT, run

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

CLINIC = "[click](http://evil.example)"
CLINICIAN = "![x](http://evil.example/p.png)"
FILE_NAME = "**bold** <img src=x onerror=alert(1)> $x^2$ :red[hi].tsv"
EVENT_TEXT = "fainted <a href='http://evil.example'>see</a> www.evil.example :material/skull:"
EMAIL = "[boss](http://evil.example)@clinic.test"
#: what must never be live Markdown / HTML in an element's text
LIVE = ("](", "![", "<img", "<a ", "://", "www.", "$x", ":red[", "**bold**", ":material/skull")
#: element types whose text Streamlit never renders as Markdown (cells, plain text, charts)
NOT_MARKDOWN = {"arrow_data_frame", "text", "code", "json", "plotly_chart", "exception"}
#: widgets whose options are plain text: only their label and help are Markdown
OPTIONS_PLAIN = {"selectbox", "multiselect"}
ATTACK_MARK = re.compile(r"evil|onerror|x\^2|red\[|material/skull", re.IGNORECASE)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
#: the autolinks Streamlit's Markdown finds in text after escapes are resolved (its bundled
#: mdast-util-gfm-autolink-literal, regexes copied from streamlit/static StreamlitMarkdown.js)
AUTOLINK = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+")
JOINER = "\u2060"


def active(text: str) -> str:
    """The Markdown syntax left in ``text``: each backslash-escaped character becomes NUL."""
    return _ESCAPE.sub("\0", text)


def literal(text: str) -> str:
    """The text Streamlit's Markdown holds once the backslash escapes are resolved."""
    return _ESCAPE.sub(r"\1", text)


def seen(text: str) -> str:
    """What a reader sees of ``text`` (the word joiner is invisible)."""
    return literal(text).replace(JOINER, "")


def _strings(message, skip: frozenset[str] = frozenset()) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    for field, value in message.ListFields():
        if field.name in skip:
            continue
        single = isinstance(value, str | bytes) or hasattr(value, "ListFields")
        values = [value] if single or not hasattr(value, "__iter__") else list(value)
        for v in values:
            if isinstance(v, str):
                out.append(v)
            elif hasattr(v, "ListFields"):
                out += _strings(v)
    return out


def markdown_texts(at: AppTest) -> list[str]:
    """Every string of the page that Streamlit renders as Markdown: bodies, captions, alerts,
    titles, metric labels and values, expander, tab, button and widget labels, help texts."""
    out: list[str] = []
    for node in at._tree:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None or kind in NOT_MARKDOWN:
            continue
        skip = frozenset({"options", "default", "value", "raw_values"})
        out += _strings(proto, skip if kind in OPTIONS_PLAIN else frozenset({"id"}))
    return out


def assert_text_is_text(at: AppTest, *expected: str) -> None:
    """No attack string is live anywhere; each ``expected`` is shown literally somewhere."""
    assert not at.exception, at.exception
    shown = markdown_texts(at)
    hits = [s for s in shown if ATTACK_MARK.search(seen(s))]
    for s in hits:
        live = [frag for frag in LIVE if frag in active(s)]
        assert not live, f"live Markdown {live} in {s!r}"
        assert not AUTOLINK.search(literal(s)), f"an autolink in {s!r}"
    for want in expected:
        assert any(want in seen(s) for s in hits), f"{want!r} not shown literally"


def write_attack_store(folder: Path) -> str:
    """A store in ``folder`` holding one patient of the demo cohort whose clinic, clinician
    and a serious side effect's text are Markdown / HTML attacks; the patient's id."""
    cohort = generator.generate(seed=7).tables
    dosed = cohort["sessions"].filter(pl.col("session_type") == "induction")["patient_id"][0]
    one = {k: v.filter(pl.col("patient_id") == dosed) for k, v in cohort.items()}
    one["patients"] = one["patients"].with_columns(clinic=pl.lit(CLINIC))
    one["sessions"] = one["sessions"].with_columns(clinician=pl.lit(CLINICIAN))
    first = one["sessions"].sort("started_at").row(0, named=True)
    serious = pl.DataFrame(
        {
            "event_id": ["ae-attack"],
            "patient_id": [dosed],
            "session_id": [first["session_id"]],
            "event": ["other"],
            "event_text": [EVENT_TEXT],
            "severity": ["severe"],
            "serious": [True],
            "onset_at": [first["started_at"]],
        }
    )
    ae = one["adverse_events"]
    one["adverse_events"] = pl.concat([ae, serious], how="diagonal_relaxed").select(ae.columns)
    full = {name: one.get(name, tables.empty(name)) for name in tables.MODELS}
    with Store(folder / "store.duckdb") as s:
        keys.for_store(s, folder / "secret.key")  # where the app run on folder looks
        s.write_tables(full)
    return dosed


@pytest.fixture
def attack_env(monkeypatch, tmp_path):
    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    monkeypatch.setenv("KAPOUTCOMES_DEMO", "0")
    return tmp_path, write_attack_store(tmp_path)


def test_cohort_page_filtered_by_an_attack_clinic_shows_it_literally(attack_env):
    at = run("views/cohort.py")
    at.multiselect(key="cohort-clinic").select(CLINIC).run()
    at.multiselect(key="cohort-clinician").select(CLINICIAN).run()
    assert_text_is_text(at, CLINIC, CLINICIAN)


def test_safety_page_filtered_by_an_attack_clinic_shows_it_literally(attack_env):
    at = run("views/safety.py")
    at.multiselect(key="safety-clinic").select(CLINIC).run()
    assert_text_is_text(at, CLINIC)


def test_patient_header_and_side_effect_text_are_literal(attack_env):
    _, pid = attack_env
    at = run("views/patient.py")
    at.selectbox(key="patient-pick").select(pid).run()
    assert_text_is_text(at, CLINIC, EVENT_TEXT)


def test_uploaded_file_name_is_literal_in_the_import_report(attack_env):
    rows = (ROOT / "sample_data" / "exports" / "riverside_medications.tsv").read_bytes()
    data = b"\n".join(rows.splitlines()[:12]) + b"\nDEMO-000005\t\t\t\tnot a date\t\t\n"
    at = run("views/data.py")
    at.file_uploader(key="upload-files").upload(FILE_NAME, data, "text/tab-separated-values")
    at.run()
    at.button(key="upload-go").click().run()
    assert_text_is_text(at)
    for tab in ("Quarantine", "Import history"):
        assert tab in [t.label for t in at.tabs]
    shown = "\n".join(literal(s) for s in markdown_texts(at))
    assert "Import report" in shown


def _signed_in(tmp_path, monkeypatch, email: str, access_toml: str) -> AppTest:
    access = tmp_path / "access.toml"
    access.write_text(access_toml)
    monkeypatch.setenv("KAPOUTCOMES_ACCESS", str(access))
    at = AppTest.from_file(str(ROOT / "dashboards" / "app.py"), default_timeout=120)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8651/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "kapoutcomes-test",
        "client_secret": "test-secret",
        "server_metadata_url": "http://localhost:1/.well-known/openid-configuration",
    }
    at.user = {
        "is_logged_in": True,
        "iss": "https://idp.clinic.test",
        "sub": "s-1",
        "email": email,
        "email_verified": True,
    }
    at.run()
    return at


def test_e_mail_claim_and_clinic_restriction_are_literal(attack_env, monkeypatch):
    home, _ = attack_env
    access = (
        '[subjects."https://idp.clinic.test"]\n'
        f's-1 = {{ role = "clinician", clinics = ["{CLINIC}"] }}\n'
    )
    at = _signed_in(home, monkeypatch, EMAIL, access)
    at.switch_page("views/cohort.py")
    at.run()
    assert_text_is_text(at, EMAIL.lower(), CLINIC)


def test_e_mail_claim_without_a_role_is_literal(attack_env, monkeypatch):
    home, _ = attack_env
    at = _signed_in(home, monkeypatch, EMAIL, "[users]\n")
    assert "No access yet" in [t.value for t in at.title]
    assert_text_is_text(at, EMAIL.lower())


def test_no_user_string_is_ever_rendered_as_html():
    """unsafe_allow_html, st.html and components.html render HTML: none in the app or library
    (the HTML report and patient summary are downloads, escaped by their own tests)."""
    found = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in ("dashboards", "kapoutcomes")
        for p in sorted((ROOT / folder).rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"unsafe_allow_html|st\.html\(|components\.v1|components\.html", line)
    ]
    assert found == []


def test_the_checker_sees_a_live_link():
    assert "](" in active(CLINIC)
    assert "](" not in active(r"\[click\]\(http\:\/\/evil\.example\)")
    assert literal(r"\[click\]\(http\:\/\/evil\.example\)") == CLINIC
    assert AUTOLINK.search(literal(r"http\:\/\/evil\.example"))  # escapes do not stop it
    assert AUTOLINK.search("www.evil.example") and AUTOLINK.search("a@b.example")
    assert not AUTOLINK.search(f"http{JOINER}://evil www{JOINER}.evil a{JOINER}@b.example")


SHOTS = Path("/tmp/shots/text")
BROWSER_PORT = 8651


@pytest.mark.browser
def test_browser_renders_no_link_or_image_from_an_attack_clinic(browser, tmp_path):
    """The real app in Chromium: the patient header (clinic) and its safety flag (side-effect
    text with an <a href>, a www. autolink and an icon shortcode) leave no link or image
    pointing outside the app in the DOM, and the characters are shown as typed. (The cohort
    page's clinic filter and caption were checked the same way by hand: AppTest covers them.)"""
    from tests.browser_support import serve_app, wait_ready

    pid = write_attack_store(tmp_path)
    env = {
        "KAPOUTCOMES_HOME": str(tmp_path),
        "KAPOUTCOMES_STORE": str(tmp_path / "store.duckdb"),
        "KAPOUTCOMES_DEMO": "0",
    }
    outside = "a[href*='evil'], img[src*='evil'], [src*='evil'], a[href^='mailto']"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve_app(env, port=BROWSER_PORT) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(f"{url}/patient")
        box = page.get_by_test_id("stTextInputField").first
        box.wait_for(timeout=90_000)
        box.fill(pid)
        box.press("Enter")
        page.get_by_role("heading", name="Maintenance review").wait_for(timeout=60_000)
        wait_ready(page)
        page.screenshot(path=str(SHOTS / "patient-attack-clinic.png"), full_page=True)
        body = page.inner_text("body").replace(JOINER, "")
        assert CLINIC in body and EVENT_TEXT in body
        assert page.locator(outside).count() == 0

        page.close()
