"""How the report writes numbers (kapoutcomes.present.formatting): values worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.present.formatting import JOINER, format_value, overall, percent, plain


def test_percent_one_decimal_and_a_dash_for_missing():
    assert percent(0.4567) == "45.7%"
    assert percent(1.0) == "100.0%"
    assert percent(None) == "–"


@pytest.mark.parametrize(
    ("value", "col", "text"),
    [
        (0.125, "rate", "12.5%"),  # rates, limits and survival read as percentages
        (0.0304, "itt_lower", "3.0%"),
        (0.5, "s_12w", "50.0%"),
        (0.9991, "upper998", "99.9%"),
        (0.00012345, "pvalue", "0.00012"),  # below 0.001: two significant figures
        (0.0123, "logrank_p", "0.012"),  # else three decimals
        (0.001, "pvalue", "0.001"),
        (1234.5678, "mean", "1,234.57"),  # other floats: two decimals, thousands separated
        (float("nan"), "mean", "–"),
        (None, "rate", "–"),
        (1234567, "n", "1,234,567"),  # counts with separators
        (True, "event", "True"),  # a bool is not a count
        ("CRPS", "level", "CRPS"),
        (dt.datetime(2024, 3, 5, 14, 7, 59), "at", "2024-03-05 14:07"),
    ],
)
def test_format_value(value, col, text):
    assert format_value(value, col) == text


def test_overall_keeps_the_all_rows_and_passes_frames_without_subgroups():
    f = pl.DataFrame({"subgroup": ["all", "clinic", "all"], "n": [3, 1, 2]})
    assert overall(f).get_column("n").to_list() == [3, 2]
    g = pl.DataFrame({"n": [1, 2]})
    assert overall(g).equals(g)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("[click](http://evil.example)", r"\[click\]\(http¦\:\/\/evil\.example\)"),
        ("![x](HTTPS://e.example/p.png)", r"\!\[x\]\(HTTPS¦\:\/\/e\.example\/p\.png\)"),
        ("<img src=x onerror=alert(1)>", r"\<img src\=x onerror\=alert\(1\)\>"),
        ("$x^2$ :red[hi] **b** _i_ `c`", r"\$x\^2\$ \:red\[hi\] \*\*b\*\* \_i\_ \`c\`"),
        ("www.evil.example a@b.org", r"www¦\.evil\.example a¦\@b\.org"),
        (":streamlit: :fire: at 10:30", r"\:¦streamlit\: \:¦fire\: at 10\:30"),
        (":material/warning: &amp; # 1. - >", r"\:material\/warning\: \&amp\; \# 1\. \- \>"),
        ("Riverside Pain Clinic", "Riverside Pain Clinic"),
    ],
)
def test_plain_escapes_every_markdown_and_html_construct(text, escaped):
    """Expected texts write the invisible joiner as ¦."""
    assert plain(text) == escaped.replace("¦", JOINER)


def test_the_joiner_is_the_invisible_word_joiner():
    """The joiner that breaks autolinks and shortcodes (¦ in the cases above) is U+2060,
    which shows nothing and does not break a word."""
    assert JOINER == "\u2060"
    assert plain("http://x").count(JOINER) == 1


def test_plain_drops_bidirectional_overrides():
    """The second attacker's pass (issue 15): a right-to-left override made a clinic name or
    file name show reversed ("\u202ecod.exe" reads "exe.doc"); Hebrew and Arabic letters keep
    their own direction."""
    assert plain("Riverside\u202ecod.exe") == "Riverside" + "cod\\.exe"
    assert plain("\u2066North\u2069 \u202aClinic\u202c") == "North Clinic"
    assert plain("מרפאה צפון") == "מרפאה צפון"


def test_plain_keeps_a_backslash_and_makes_one_line():
    assert plain("a\\[b]") == r"a\\\[b\]"  # the user's backslash cannot un-escape the bracket
    assert plain("line one\n\n# heading\r\nthree") == r"line one \# heading three"
    assert plain(42) == "42"


def test_codes_in_words():
    from kapoutcomes.present.formatting import words

    assert words("nausea_vomiting") == "nausea vomiting"
    assert words("spo2_after") == "SpO2 after"
    assert words("abuse_misuse") == "abuse/misuse"  # one event, not two words


def test_layouts_in_words():
    from kapoutcomes.ingest import presets
    from kapoutcomes.present.formatting import LAYOUTS, layout_words

    assert set(LAYOUTS) == set(presets.PRESETS)  # every layout the importer knows has words
    assert layout_words("long:observations") == "long export: observations"
    assert layout_words("medications:medications") == "medication list"
    assert layout_words("canonical:sessions") == "kapoutcomes template: sessions"
