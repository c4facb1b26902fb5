"""The one table formatter (kapoutcomes.present.table_display): values worked by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from kapoutcomes.present.table_display import (
    MISSING,
    Column,
    Fraction,
    Interval,
    TableSpec,
    UnlabelledColumn,
    display_table,
    format_cell,
    measured_cell,
    notes_beneath,
    row_label_columns,
)


@pytest.mark.parametrize(
    ("value", "column", "text"),
    [
        (0.432343, Column("Rate", "percent"), "43.2%"),  # a fraction reads as a percentage
        (29.323308, Column("Censored", "percent_points"), "29.3%"),  # already 0-100
        (31.8333, Column("Median", "days"), "32"),  # whole days
        (31.8333, Column("Median", "weeks", 1, from_days=True), "4.5"),  # days in weeks
        (1234567, Column("n", "count"), "1,234,567"),
        (-1.830619, Column("Mean", "number", 2), "-1.83"),
        (0.00012, Column("p", "pvalue"), "<0.001"),
        (0.0456, Column("p", "pvalue"), "0.046"),
        (None, Column("Rate", "percent"), MISSING),  # never "None"
        (float("nan"), Column("Mean", "number"), MISSING),  # never "nan"
        (None, Column("Median", "days", missing="not reached"), "not reached"),
        (True, Column("Serious", "yes_no"), "yes"),
        ("reliable_improvement", Column("Measure", "words"), "reliable improvement"),
        ("pain_nrs", Column("Instrument", "instrument"), "Pain NRS (0-10)"),
        (dt.datetime(2024, 3, 5, 14, 7, 59), Column("At", "datetime"), "2024-03-05 14:07"),
        (dt.date(2024, 3, 5), Column("Start", "date"), "2024-03-05"),
        (350.0, Column("Charge", "currency", unit="USD"), "350"),
        (21.77, Column("Per 100", "rate"), "21.8"),
        (0.0466, Column("Per 100", "rate"), "0.05"),  # one event in 2,144 sessions
    ],
)
def test_format_cell(value, column, text):
    assert format_cell(value, column) == text


def test_units_go_into_headers():
    assert Column("Median time to loss", "days").header == "Median time to loss (days)"
    assert Column("Daily MME", "mme").header == "Daily MME (MME/day)"
    assert Column("Events", "rate").header == "Events (per 100 sessions)"
    assert Column("Charge", "currency", unit="USD").header == "Charge (USD)"
    assert Column("Clinic").header == "Clinic"


def test_measured_cells_carry_their_rows_unit():
    col = Column("Value", "number", 1)
    assert measured_cell(12.5, "%", col) == "12.5%"
    assert measured_cell(3478.27, "USD", col) == "$3,478"
    assert measured_cell(3478.27, "CHF", col) == "3,478 CHF"
    assert measured_cell(45.25, "MME/day", col) == "45.2 MME/day"
    assert measured_cell(None, "%", col) == MISSING


VOCAB = {
    "rate": Column("Rate", "percent"),
    "lower": Column("lower", "percent"),
    "upper": Column("upper", "percent"),
    "n": Column("n", "count"),
    "median_days": Column("Median", "days", missing="not reached"),
}


def test_display_table_labels_orders_joins_intervals_and_hides():
    f = pl.DataFrame(
        {"n": [131, 0], "rate": [0.4323, None], "lower": [0.378, None], "upper": [0.489, None]}
    )
    spec = TableSpec(("rate", Interval("lower", "upper"), "n", "not_here"))
    out = display_table(f, spec, VOCAB, ci="90% CI")
    assert out.frame.columns == ["Rate", "90% CI", "n"]
    assert out.frame.rows() == [("43.2%", "37.8%–48.9%", "131"), (MISSING, MISSING, "0")]
    assert [c.numeric for c in out.columns] == [True, True, True]
    assert out.frame.dtypes == [pl.String] * 3


def test_an_open_upper_limit_reads_as_its_word():
    f = pl.DataFrame({"median_days": [None], "lo": [40.2], "hi": [None]})
    vocab = {
        **VOCAB,
        "lo": Column("lo", "days"),
        "hi": Column("hi", "days", missing="not reached"),
    }
    out = display_table(f, TableSpec(("median_days", Interval("lo", "hi"))), vocab)
    assert out.frame.row(0) == ("not reached", "40–not reached")


def test_an_unlabelled_column_is_an_error_not_snake_case():
    f = pl.DataFrame({"n": [1], "itt_mystery": [0.5]})
    with pytest.raises(UnlabelledColumn, match="itt_mystery"):
        display_table(f, TableSpec(), VOCAB, table="who")
    out = display_table(f, TableSpec(hidden=frozenset({"itt_mystery"})), VOCAB)
    assert out.frame.columns == ["n"]


def test_file_columns_keep_the_exports_headers_and_drop_other_files_empty_columns():
    f = pl.DataFrame(
        {"rate": ["9"], "Pain Before": ["7"], "dob": [""], "why": ["x"], "import": ["imp_1"]}
    )
    spec = TableSpec(
        labels={"why": Column("Why quarantined")},
        lead=("why",),
        hidden=frozenset({"import"}),
        file_columns=True,
    )
    out = display_table(f, spec, VOCAB)
    # the file's own "rate" is not the vocabulary's rate: its header stays the file's
    assert out.frame.columns == [
        "Why quarantined",
        "rate (file column)",
        "Pain Before (file column)",
    ]
    assert out.frame.row(0) == ("x", "9", "7")


def test_numbered_columns_and_columns_named_after_the_level():
    f = pl.DataFrame({"0": [133], "4": [88], "per_100 90% CI": ["1.0-2.0"]})
    spec = TableSpec(numbered=Column("Week {n}", "count"))
    vocab = {"per_100 {ci}": Column("{ci}", unit="per 100 sessions")}
    out = display_table(f, spec, vocab, ci="90% CI")
    assert out.frame.columns == ["Week 0", "Week 4", "90% CI (per 100 sessions)"]


def test_codes_in_words_keep_their_capitals():
    col = Column("Measure", "words")
    assert format_cell("median_mme_on_opioids", col) == "median MME on opioids"
    assert format_cell("mcid_improved", col) == "MCID improved"


def test_a_measured_interval_writes_its_unit_once():
    f = pl.DataFrame({"value": [40.0], "lower": [30.0], "upper": [60.0], "unit": ["MME/day"]})
    vocab = {k: Column(k, "number", 1) for k in ("value", "lower", "upper")}
    spec = TableSpec(("value", Interval("lower", "upper")), unit_column="unit")
    out = display_table(f, spec, vocab)
    assert out.frame.row(0) == ("40.0 MME/day", "30.0–60.0 MME/day")


def test_an_interval_with_a_negative_limit_reads_lower_to_upper():
    f = pl.DataFrame({"lo": [-2.98, -0.5], "hi": [-1.84, 1.25]})
    vocab = {"lo": Column("lo", "number", 2), "hi": Column("hi", "number", 2)}
    out = display_table(f, TableSpec((Interval("lo", "hi"),)), vocab)
    assert out.frame.get_column("95% CI").to_list() == ["-2.98 to -1.84", "-0.50 to 1.25"]


def test_html_table_escapes_every_cell_and_aligns_numbers():
    from kapoutcomes.present.table_display import html_table

    spec = TableSpec(("clinic", "n"))
    frame = pl.DataFrame({"clinic": ["<b>North</b>", None], "n": [3, None]})
    out = html_table(
        display_table(frame, spec, {"clinic": Column("Clinic"), "n": Column("n", "count")})
    )
    assert "<b>North</b>" not in out and "&lt;b&gt;North&lt;/b&gt;" in out
    assert "<th class=num>n</th>" in out and "<td class='num'>3</td>" in out
    assert out.count("—") == 2  # both missing values, as every table shows them


_VOCAB = {
    "instrument": Column("Instrument"),
    "measure": Column("Measure"),
    "n": Column("n", "count"),
    "denominator": Column("Denominator", "count"),
    "rate": Column("Rate", "percent"),
    "mean": Column("Mean change", "number", 2),
    "mean_lower": Column("lower", "number", 2),
    "mean_upper": Column("upper", "number", 2),
    "baseline": Column("Baseline", "number", 1),
    "end": Column("End", "number", 1),
    "excluded": Column("Left out, and why", note=True),
    "caveats": Column("Caveats", note=True),
}


def test_a_count_reads_over_its_denominator_with_its_share():
    f = pl.DataFrame(
        {"n": [131, 0, 2], "denominator": [303, 0, None], "rate": [0.432343, None, None]}
    )
    spec = TableSpec((Fraction("n", "denominator", "rate", "Evaluable", "who"),))
    out = display_table(f, spec, _VOCAB)
    assert out.frame.to_series().to_list() == ["131/303 (43.2%)", "0/0", MISSING]
    assert out.columns[0].help == "who" and out.columns[0].numeric
    alone = display_table(f, TableSpec((Fraction("n", "denominator", None, "n/N"),)), _VOCAB)
    assert alone.frame.to_series().to_list() == ["131/303", "0/0", MISSING]


def test_an_estimate_reads_before_its_interval_and_two_values_join():
    f = pl.DataFrame({"mean": [-2.765217, None], "mean_lower": [-3.362219, None],
                      "mean_upper": [-2.168216, None], "baseline": [6.37, 6.0], "end": [3.61, None]})  # fmt: skip
    spec = TableSpec(
        (
            Interval("mean_lower", "mean_upper", "Mean change, {ci}", value="mean"),
            Interval("baseline", "end", "Baseline → end", joined="{a} → {b}"),
        )
    )
    out = display_table(f, spec, _VOCAB)
    assert out.frame.row(0) == ("-2.77 (-3.36 to -2.17)", "6.4 → 3.6")
    assert out.frame.row(1) == (MISSING, "6.0")  # no end score: the baseline alone
    assert out.frame.columns == ["Mean change, 95% CI", "Baseline → end"]


def test_notes_go_under_the_table_once_each_naming_their_rows():
    f = pl.DataFrame(
        {
            "instrument": ["pain_nrs", "pain_nrs", "phq9"],
            "measure": ["response", "substantial", "response"],
            "excluded": ["21 without a baseline", "21 without a baseline", "25 without"],
            "caveats": ["small n", None, None],
        }
    )
    spec = TableSpec(("instrument", "measure", "excluded", "caveats"))
    table, notes = notes_beneath(display_table(f, spec, _VOCAB))
    assert table.frame.columns == ["Instrument", "Measure"]
    assert [c.header for c in table.columns] == ["Instrument", "Measure"]
    assert notes == (
        "Left out, and why · pain_nrs: 21 without a baseline",  # decided by the instrument
        "Left out, and why · phq9: 25 without",
        "Caveats · pain_nrs, response: small n",  # one row of an instrument: named by both
    )
    same = pl.DataFrame({"instrument": ["a", "b"], "caveats": ["one rule", "one rule"]})
    _, notes = notes_beneath(display_table(same, TableSpec(("instrument", "caveats")), _VOCAB))
    assert notes == ("Caveats: one rule",)  # every row: said once, about the table
    plain = display_table(same, TableSpec(("instrument",)), _VOCAB)
    assert notes_beneath(plain) == (plain, ())


def test_the_columns_that_say_what_a_row_is_about():
    spec = TableSpec(("instrument", "measure", "n"))
    two = pl.DataFrame({"instrument": ["pain", "pain"], "measure": ["a", "b"], "n": [1, 2]})
    one = pl.DataFrame({"instrument": ["pain", "phq9"], "measure": ["a", "a"], "n": [1, 2]})
    assert row_label_columns(display_table(two, spec, _VOCAB)) == 2  # pain twice: and measure
    assert row_label_columns(display_table(one, spec, _VOCAB)) == 1
    numeric = TableSpec(("instrument", "n"))
    assert row_label_columns(display_table(two, numeric, _VOCAB)) == 1  # a number is no label
