"""Every table declared in kapoutcomes.present.table_specs, and every table of the HTML
report of the demo cohort (every comparison), read as people read tables (tests/readable)."""

from __future__ import annotations

from html.parser import HTMLParser

import polars as pl
import pytest

from kapoutcomes.cohort import summary
from kapoutcomes.cohort.groups import GROUP_DIMENSIONS
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo import generator
from kapoutcomes.present import html_report, table_specs
from kapoutcomes.present.table_display import Fraction, Interval
from tests.readable import problems


def test_every_label_is_in_words_and_every_listed_column_is_labelled():
    for name, col in table_specs.COLUMNS.items():
        assert "_" not in col.header, name
    for table, spec in table_specs.TABLES.items():
        for item in spec.columns or ():
            names = (
                [item.lower, item.upper, *([item.value] if item.value else [])]
                if isinstance(item, Interval)
                else [item.n, item.denominator, *([item.share] if item.share else [])]
                if isinstance(item, Fraction)
                else [item]
            )
            for n in names:
                assert n in spec.labels or n in table_specs.COLUMNS, (table, n)


def test_shown_formats_by_the_named_table():
    f = pl.DataFrame({"subgroup": ["all"], "level": ["all"], "stage": ["first_infusion"],
                      "n": [344], "denominator": [360], "pct_of_referred": [95.5555],
                      "pct_of_previous": [95.5555], "definition": ["d"], "caveats": [None]})  # fmt: skip
    out = table_specs.shown(f, "attrition")
    assert out.frame.row(0) == ("first infusion", "344", "360", "95.6%", "95.6%", "d", "—")
    assert out.frame.columns[:2] == ["Stage", "n"]


class _Tables(HTMLParser):
    """Each <table>'s header cells and rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[str], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag == "table":
            self.tables.append(([], []))
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "tr":
            self._row = []

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.tables[-1][0] if tag == "th" else self._row).append(text)
            self._cell = None
        elif tag == "tr" and self._row:
            self.tables[-1][1].append(self._row)


@pytest.fixture(scope="module")
def demo_html() -> str:
    t = generator.generate(seed=7).tables
    s = summary.cohort_summary(t, Settings(), comparisons=GROUP_DIMENSIONS)
    return html_report.to_html(s)


def test_every_html_report_table_reads_as_people_read_tables(demo_html):
    parser = _Tables()
    parser.feed(demo_html)
    assert len(parser.tables) >= 20
    found = []
    for i, (headers, rows) in enumerate(parser.tables):
        cols = headers or [f"cell {j}" for j in range(len(rows[0]) if rows else 0)]
        found += problems(f"HTML table {i + 1} ({cols[:2]})", cols, rows)
    assert found == []
    assert "<th class=num>Median time to loss (days)</th>" in demo_html
    assert "<th class=num>95% CI</th>" in demo_html
