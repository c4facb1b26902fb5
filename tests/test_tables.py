"""The canonical table models reject impossible values with the row and the reason."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kapoutcomes import tables
from kapoutcomes.definitions import instruments
from tests.builders import PID, assessment_row, frame, patient_row, session_row


def test_valid_small_tables_pass(small_tables):
    for name, df in small_tables.items():
        v = tables.validate(name, df)
        assert v.ok, v.failures
        assert v.valid.height == df.height
    assert tables.check_relations(small_tables).height == 0


def test_phq9_of_31_and_pain_of_11_rejected_with_row_and_reason():
    df = frame(
        "assessments",
        [
            assessment_row(),
            assessment_row(instrument="phq9", score=31.0),
            assessment_row(score=11.0),
        ],
    )
    v = tables.validate("assessments", df)
    got = {(r["row"], r["column"]): r for r in v.failures.to_dicts()}
    assert set(got) == {(1, "score"), (2, "score")}
    assert got[(1, "score")]["value"] == "31.0"
    assert "phq9 total from 0 to 27" in got[(1, "score")]["reason"]
    assert "pain_nrs total from 0 to 10" in got[(2, "score")]["reason"]
    assert v.valid.height == 1


def test_item_answers_use_item_range():
    df = frame(
        "assessments",
        [
            assessment_row(instrument="phq9", item=9, score=3.0),
            assessment_row(instrument="phq9", item=9, score=4.0),
            assessment_row(instrument="phq9", item=10, score=1.0),
            assessment_row(instrument="pain_nrs", item=1, score=1.0),
        ],
    )
    v = tables.validate("assessments", df)
    rows = sorted(set(v.failures.get_column("row").to_list()))
    assert rows == [1, 2, 3]


def test_negative_dose_rejected():
    df = frame("sessions", [session_row(), session_row("s2", dose_mg=-5.0, dose_mg_per_kg=None)])
    v = tables.validate("sessions", df)
    f = v.failures.to_dicts()
    assert [(r["row"], r["column"], r["value"]) for r in f] == [(1, "dose_mg", "-5.0")]
    assert f[0]["reason"] == "expected a value above 0"


def test_session_before_birth_year_rejected():
    pts = frame("patients", [patient_row(birth_year=1980)])
    ses = frame("sessions", [session_row(), session_row("s2", started_at=dt.datetime(2001, 5, 1))])
    # a session in 2001 is fine for someone born in 1980, impossible for someone born in 2005
    ses2 = frame("sessions", [session_row("s3", started_at=dt.datetime(2001, 5, 1))])
    pts2 = frame("patients", [patient_row(birth_year=2005, referral_date=dt.date(2024, 1, 1))])
    assert tables.check_relations({"patients": pts, "sessions": ses}).height == 0
    f = tables.check_relations({"patients": pts2, "sessions": ses2})
    assert f.select("table", "row", "column", "reason").to_dicts() == [
        {
            "table": "sessions",
            "row": 0,
            "column": "started_at",
            "reason": "date is before the patient's birth year",
        }
    ]


def test_unknown_patient_and_session_keys_reported(small_tables):
    t = dict(small_tables)
    t["assessments"] = frame(
        "assessments",
        [
            assessment_row(pid="p_ffffffffffffffff"),
            assessment_row(session_id="nope"),
        ],
    )
    f = tables.check_relations(t)
    reasons = {(r["row"], r["reason"]) for r in f.to_dicts()}
    assert (0, "patient_id not found in patients") in reasons
    assert (1, "session_id not found in sessions") in reasons


def test_wrong_type_fails_only_its_row():
    df = pl.DataFrame(
        [session_row(), session_row("s2", bp_systolic_before="high")],
        schema_overrides={"bp_systolic_before": pl.String},
    )
    df = df.with_columns(pl.col("bp_systolic_before").cast(pl.String))
    v = tables.validate("sessions", df)
    assert v.failures.select("row", "column", "value").to_dicts() == [
        {"row": 1, "column": "bp_systolic_before", "value": "high"}
    ]
    assert v.valid.height == 1


def test_missing_columns_is_a_contract_error():
    with pytest.raises(tables.TableContractError, match="missing columns: score"):
        tables.validate("assessments", frame("assessments", [assessment_row()]).drop("score"))


@pytest.mark.parametrize(
    ("table", "row", "column"),
    [
        ("sessions", session_row(session_type="psychotherapy"), "dose_mg"),
        ("sessions", session_row(route=None), "route"),
        (
            "sessions",
            session_row(bp_diastolic_before=150, bp_systolic_before=120),
            "bp_diastolic_before",
        ),
        ("sessions", session_row(dose_mg_per_kg=2.0), "dose_mg_per_kg"),
        ("sessions", session_row(spo2_before=101), "spo2_before"),
        ("sessions", session_row(started_at=dt.datetime(2999, 1, 1)), "started_at"),
        ("patients", patient_row(primary_condition="gout"), "primary_condition"),
        ("patients", patient_row(birth_year=2020), "birth_year"),
        ("patients", patient_row(patient_id="Jane Doe"), "patient_id"),
    ],
)
def test_value_checks(table, row, column):
    v = tables.validate(table, frame(table, [row]))
    assert column in v.failures.get_column("column").to_list(), v.failures


instrument_codes = st.sampled_from(sorted(instruments.INSTRUMENTS))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_scores_in_range_pass_and_out_of_range_fail(data):
    """Any total inside an instrument's range passes (a whole number for a summed instrument);
    any outside fails on that row only."""
    rows = []
    expected_bad = set()
    n = data.draw(st.integers(1, 8))
    for i in range(n):
        code = data.draw(instrument_codes)
        inst = instruments.get(code)
        inside = data.draw(st.booleans())
        if inside:
            score = data.draw(st.floats(inst.minimum, inst.maximum, allow_nan=False))
            if inst.summed:  # a summed total is a whole number (its own check)
                score = float(round(score))
        else:
            score = data.draw(
                st.one_of(
                    st.floats(inst.maximum + 0.01, inst.maximum + 1000),
                    st.floats(inst.minimum - 1000, inst.minimum - 0.01),
                )
            )
            expected_bad.add(i)
        rows.append(
            assessment_row(
                instrument=code,
                score=score,
                assessed_at=dt.datetime(2024, 1, 1) + dt.timedelta(days=i),
            )
        )
    v = tables.validate("assessments", frame("assessments", rows))
    assert set(v.failures.get_column("row").to_list()) == expected_bad
    assert v.valid.height + len(expected_bad) == n


def test_every_table_has_a_natural_key_of_real_columns():
    for name in tables.MODELS:
        assert set(tables.NATURAL_KEYS[name]) <= set(tables.columns(name))


def test_pid_fixture_is_pseudonymous():
    assert PID.startswith("p_") and len(PID) == 18


def test_a_time_beyond_year_9999_fails_its_row_not_the_import():
    """The attack (issue 15, second pass): a visit on 12/31/9999 at 11:59 PM gets its
    after-dose score stamped an hour later, in year 10000. That value has no Python datetime,
    so pandera's report of it had no row and the whole import aborted ("assessment date is in
    the future"). It must fail its own row, with one reason, and the other rows go on."""
    import datetime as dt

    import polars as pl

    from kapoutcomes import tables

    at = pl.Series([dt.datetime(2024, 12, 31, 23, 59)] * 2) + pl.Series(
        [dt.timedelta(0), dt.timedelta(days=365 * 7990)]
    )
    frame = pl.DataFrame(
        {
            "patient_id": ["p_0123456789abcdef"] * 2,
            "assessed_at": at,
            "instrument": ["pain_nrs"] * 2,
            "item": pl.Series([None, None], dtype=pl.Int32),
            "score": [6.0, 3.0],
            "session_id": ["s_1", "s_1"],
            "timing": ["before_dose", "after_dose"],
        }
    )
    assert at.dt.year()[1] > 9999
    v = tables.validate("assessments", frame)
    assert v.valid.height == 1
    assert v.failures.select("row", "column", "reason").rows() == [
        (1, "assessed_at", tables.BEYOND)
    ]
