"""Issue 14 items 3 and 4 in a real browser (Chromium, 1440 px desktop and 820 px tablet): every
table on the Cohort review, Safety and Data quality pages reads as words (no snake_case
header, no "None"/"nan", no long decimals, percentages with "%", no internal ids) and fits
the page without a sideways scrollbar at 1440 px; every chart says what it shows (nested
attrition, weeks, numbers at risk to the end of each curve, intervals and n per month with
the greyed-month rule, paired or cross-sectional MME, at most six groups and "other", no
funnel plot for one clinic, "higher = better") and fits the viewport.

One server on the bundled demo cohort for the module; each width walks the pages once and
every test reads what that walk saw. Screenshots go to test-artifacts/browser/ (not
committed)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import pytest

from tests.browser_support import ARTIFACTS, serve_app, wait_grids_drawn, wait_ready
from tests.readable import problems

pytestmark = pytest.mark.browser

pytest.importorskip("playwright.sync_api")

WIDTHS = [1440, 820]
PORT = 8712  # this module's app server (each browser test module starts its own)

#: what each table shows: its headers and cells (the grid's accessible table, which holds
#: the rows and columns in view), and whether its grid scrolls sideways
_TABLES = """els => els.filter(e => e.getBoundingClientRect().width > 60).map(e => {
  const s = e.querySelector('.dvn-scroller');
  return {
    headers: [...e.querySelectorAll('th')].map(t => t.innerText),
    cells: [...e.querySelectorAll('td')].map(t => t.innerText),
    scroll: s ? s.scrollWidth : 0, client: s ? s.clientWidth : 0,
  };
})"""

#: what each chart draws: plotly keeps the figure on its element
_CHARTS = """els => els.filter(e => e.getBoundingClientRect().width > 0).map(e => {
  const L = e.layout || {}, box = e.getBoundingClientRect();
  const txt = t => (t && typeof t === 'object') ? (t.text || '') : (t || '');
  return {
    title: txt(L.title), x: txt((L.xaxis || {}).title), y: txt((L.yaxis || {}).title),
    width: box.width, height: box.height,
    traces: (e.data || []).map(d => ({
      type: d.type || 'scatter', name: d.name || '', x: d.x ? [...d.x] : [],
      y: d.y ? [...d.y] : [], error: !!(d.error_y && (d.error_y.array || d.error_y.value)),
      colour: (d.marker && typeof d.marker.color === 'string') ? d.marker.color : '',
      colorbar: d.colorbar ? txt(d.colorbar.title) : '',
    })),
    notes: (L.annotations || []).map(a => ({name: a.name || '', text: a.text || '', x: a.x})),
    cut: [...e.querySelectorAll('.annotation, .gtitle')].filter(a => {
      const r = a.getBoundingClientRect();
      return r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1);
    }).map(a => a.textContent),
  };
})"""


@dataclass
class Walk:
    """What one width's walk through the pages saw, by page (and tab)."""

    width: int
    tables: dict[str, list[dict]] = field(default_factory=dict)
    #: the first header of each table that scrolls sideways, after scrolling it to its end
    scrolled: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    charts: dict[str, list[dict]] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("kap-home")  # empty: the app shows the bundled demo cohort
    env = {"KAPOUTCOMES_HOME": str(home), "KAPOUTCOMES_STORE": str(home / "store.duckdb")}
    with serve_app(env, timeout=180, port=PORT) as url:
        yield url


#: scroll every grid that is wider than its box to its right end
_SCROLL_TO_END = """els => els.filter(e => e.getBoundingClientRect().width > 60).forEach(e => {
  const s = e.querySelector('.dvn-scroller');
  if (s && s.scrollWidth > s.clientWidth + 1) { s.scrollLeft = s.scrollWidth; }
})"""


def _read(page, walk: Walk, where: str, width: int) -> None:
    wait_ready(page)
    wait_grids_drawn(page)  # the grids draw after the page run
    grids = page.locator('[data-testid="stDataFrame"]')
    walk.tables[where] = grids.evaluate_all(_TABLES)
    for i, e in enumerate(grids.all()):
        box = e.bounding_box()
        if box and box["width"] > 60:
            e.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the app header
            e.screenshot(path=str(ARTIFACTS / f"table-{where}-{i}-{width}.png"))
    for i, e in enumerate(page.locator(".js-plotly-plot").all()):
        box = e.bounding_box()
        if box and box["width"] > 0:
            e.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the app header
            e.screenshot(path=str(ARTIFACTS / f"chart-{where}-{i}-{width}.png"))
    if any(t["scroll"] > t["client"] + 1 for t in walk.tables[where]):
        grids.evaluate_all(_SCROLL_TO_END)
        page.wait_for_timeout(600)
        wait_grids_drawn(page)
        after = grids.evaluate_all(_TABLES)
        walk.scrolled[where] = [
            (t["headers"][0], a["headers"][0] if a["headers"] else "")
            for t, a in zip(walk.tables[where], after, strict=True)
            if t["scroll"] > t["client"] + 1
        ]
    walk.charts[where] = page.locator(".js-plotly-plot").evaluate_all(_CHARTS)
    walk.text[where] = page.locator('[data-testid="stMain"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / f"tables-charts-{where}-{width}.png"), full_page=True)


def _walk(browser, url: str, width: int) -> Walk:
    """Cohort review (Outcomes, Durability, Comparisons by clinician, Opioids), Safety and the
    Data page's quality tab at ``width`` px: three page loads."""
    ctx = browser.new_context(viewport={"width": width, "height": 1200})
    page = ctx.new_page()
    walk = Walk(width)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{url}/cohort")
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=180_000)
        _read(page, walk, "cohort-outcomes", width)
        for tab in ("Durability", "Comparisons", "Opioids"):
            page.get_by_role("tab", name=tab).click()
            if tab == "Comparisons":
                wait_ready(page)
                box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare by")
                box.click()
                page.get_by_role("option", name="clinician", exact=True).click()
                page.get_by_text("Response rate by clinician").first.wait_for(timeout=120_000)
            _read(page, walk, f"cohort-{tab.lower()}", width)
        page.goto(f"{url}/safety")
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=180_000)
        _read(page, walk, "safety", width)
        page.goto(f"{url}/data")
        wait_ready(page)
        page.get_by_role("tab", name="Data quality").click()
        page.get_by_text("Patients without a baseline").first.wait_for(timeout=120_000)
        _read(page, walk, "data-quality", width)
    finally:
        ctx.close()
    return walk


_WALKS: dict[int, Walk] = {}


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def walk(request, browser, app_url) -> Walk:
    width = request.param
    if width not in _WALKS:
        _WALKS[width] = _walk(browser, app_url, width)
    return _WALKS[width]


# --- tables (item 3) --------------------------------------------------------------------

_LONG_DECIMALS = re.compile(r"\d\.\d{4,}")
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_INTERNAL = re.compile(r"\b(imp|ses|evt|con)_[0-9a-z]+")


def test_every_page_shows_its_tables(walk):
    for where in ("cohort-outcomes", "cohort-durability", "cohort-comparisons", "cohort-opioids"):
        assert walk.tables[where], where
    assert len(walk.tables["safety"]) >= 5
    assert len(walk.tables["data-quality"]) == 2


def test_tables_read_as_words(walk):
    found = []
    for where, tables in walk.tables.items():
        for t in tables:
            k = len(t["headers"])
            rows = [t["cells"][i : i + k] for i in range(0, len(t["cells"]), k)] if k else []
            found += problems(f"{where} {t['headers'][:2]}", t["headers"], rows)
            # and this module's own reading of the same rules
            for h in t["headers"]:
                assert "_" not in h, (where, h)
            for c in t["cells"]:
                assert c.strip() not in ("None", "null", "nan", "NaN", "NaT"), (where, t["headers"])
                assert not _LONG_DECIMALS.search(c), (where, c)
                assert not _SHA256.search(c), (where, c)
                assert not _INTERNAL.search(c), (where, c)
    assert found == []


def _column(t: dict, header: str) -> list[str]:
    """The cells under ``header`` (the accessible table lists cells row by row)."""
    k = len(t["headers"])
    i = t["headers"].index(header)
    return [c for j, c in enumerate(t["cells"]) if j % k == i]


def test_percentages_carry_the_sign(walk):
    """Every cell of a rate or share column reads as a percentage (or a missing value)."""
    seen = 0
    for where, tables in walk.tables.items():
        for t in tables:
            for h in t["headers"]:
                if h.rstrip().endswith(("rate", "Censored", "% of patients", "% of sessions")):
                    for c in _column(t, h):
                        assert c.endswith("%") or c in ("—", ""), (where, h, c)
                        seen += 1
    assert seen > (20 if walk.width == 1440 else 0)  # a tablet shows fewer columns at once


def test_no_table_scrolls_sideways_on_a_desktop(walk):
    if walk.width != 1440:
        pytest.skip("at 820 px see test_a_wide_table_on_a_tablet_keeps_its_first_column")
    wide = [
        (where, t["headers"][:3], t["scroll"], t["client"])
        for where, tables in walk.tables.items()
        for t in tables
        if t["scroll"] > t["client"] + 1
    ]
    assert wide == []


def test_a_wide_table_on_a_tablet_keeps_its_first_column(walk):
    """At 820 px some tables are wider than the page and scroll sideways; what each row is
    about (the first column) is pinned, so it stays in view at the far right."""
    if walk.width != 820:
        pytest.skip("at 1440 px no table scrolls")
    seen = [pair for pairs in walk.scrolled.values() for pair in pairs]
    assert seen, "expected some tables to scroll at 820 px"
    for before, after in seen:
        assert after == before, (before, after)


# --- charts (item 4) --------------------------------------------------------------------


def _chart(walk: Walk, where: str, title: str) -> dict:
    found = [c for c in walk.charts[where] if title.lower() in c["title"].lower()]
    assert found, (where, title, [c["title"] for c in walk.charts[where]])
    return found[0]


def test_charts_fit_the_viewport(walk):
    width = walk.width
    for where, charts in walk.charts.items():
        for c in charts:
            assert c["width"] <= width, (where, c["title"], c["width"])
            if width == 820:
                assert c["height"] >= 250, (where, c["title"], c["height"])


def test_no_chart_text_runs_off_its_chart(walk):
    """Titles and notes under a chart (the paired-MME note ran off it at 820 px)."""
    cut = [(where, c["title"], c["cut"]) for where, cs in walk.charts.items() for c in cs]
    assert [x for x in cut if x[2]] == []


def test_attrition_bars_are_nested(walk):
    c = _chart(walk, "cohort-outcomes", "Attrition from referral")
    counts = c["traces"][0]["x"]
    assert len(counts) >= 3
    assert all(b <= a for a, b in itertools.pairwise(counts)), counts


def test_durability_reads_in_weeks_with_numbers_at_risk_to_the_end(walk):
    c = _chart(walk, "cohort-durability", "Time to loss of response")
    assert "Weeks" in c["x"]
    headers = [h for t in walk.tables["cohort-durability"] for h in t["headers"]]
    assert any("(weeks)" in h for h in headers), headers  # the table in the chart's unit
    assert not any("(days)" in h for h in headers), headers
    assert "week" in walk.text["cohort-durability"].lower()
    assert "weeks" in walk.text["cohort-outcomes"].lower()  # the durability headline
    curves = [t for t in c["traces"] if t["name"] and not t["name"].endswith(" band")]
    at_risk = [float(n["x"]) for n in c["notes"] if n["name"] == "at risk"]
    assert curves and at_risk
    for t in curves:
        last = max(t["x"])
        # the last number at risk is written within the curve's last 4-week step
        assert max(x for x in at_risk if x <= last + 1e-9) >= last - 4, (t["name"], last)


def test_improvement_by_month_has_intervals_n_and_greyed_months(walk):
    c = _chart(walk, "cohort-outcomes", "Improvement by treatment month")
    lines = [t for t in c["traces"] if "fewer than" not in t["name"]]
    greyed = [t for t in c["traces"] if "fewer than" in t["name"]]
    assert lines and all(t["error"] for t in lines)
    assert any(n["name"] == "patients scored" for n in c["notes"])
    assert greyed, "the demo cohort has late months with fewer than 10 patients"
    assert all(g["colour"] and g["colour"] not in {t["colour"] for t in lines} for g in greyed)
    rule = " ".join(n["text"] for n in c["notes"] if n["name"] == "rule")
    assert "fewer than 10 patients" in rule


def test_mme_chart_says_whether_it_follows_the_same_patients(walk):
    charts = walk.charts["cohort-opioids"]
    assert charts
    said = " ".join(c["title"] + " " + c["x"] for c in charts)
    assert "same patients" in said or "cross-sectional" in said


def test_comparison_shows_at_most_six_groups_and_other(walk):
    c = _chart(walk, "cohort-comparisons", "Response rate by clinician")
    bars = [t for t in c["traces"] if t["type"] == "bar"]
    assert bars
    for t in bars:
        assert len(t["x"]) <= 7, t["x"]
        others = [x for x in t["x"] if str(x).startswith("other (")]
        assert len(others) == 1 and "groups" in others[0] and "patients" in others[0], t["x"]


def test_quality_heatmap_says_higher_is_better(walk):
    c = _chart(walk, "data-quality", "Completeness by clinic")
    assert "higher = better" in c["traces"][0]["colorbar"]


def test_no_funnel_plot_for_one_clinic(browser, app_url):
    """The sidebar's clinic filter holding one clinic: the Comparisons tab says why there is no
    funnel plot instead of drawing one clinic against itself."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 1200})
    page = ctx.new_page()
    try:
        page.goto(f"{app_url}/cohort")
        wait_ready(page)
        page.get_by_role("tab", name="Comparisons").click()
        page.get_by_text("Clinic response rates against the network").first.wait_for(
            timeout=180_000
        )  # several clinics: the funnel plot is drawn
        side = page.locator('[data-testid="stSidebar"]')
        side.locator('[data-testid="stMultiSelect"]').first.click()
        page.get_by_role("option", name="Riverside Pain Clinic").click()
        page.keyboard.press("Escape")
        page.get_by_text("One clinic only").first.wait_for(timeout=180_000)
        wait_ready(page)
        titles = page.locator(".js-plotly-plot").evaluate_all(
            "els => els.map(e => (e.layout.title || {}).text || '')"
        )
        assert not any("against the network" in t for t in titles), titles
        page.screenshot(path=str(ARTIFACTS / "tables-charts-one-clinic-1440.png"), full_page=True)
    finally:
        ctx.close()
