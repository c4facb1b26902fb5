"""Clinical tables are data with sources: instruments, MME factors and outcome settings."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from kapoutcomes.definitions import instruments, opioids
from kapoutcomes.definitions.settings import Settings, SettingsError, load_settings


def test_every_instrument_has_a_source():
    for inst in instruments.INSTRUMENTS.values():
        assert inst.source.strip(), inst.code
        if inst.reliability is not None:
            assert inst.reliability_source, inst.code


def test_every_setting_has_a_source_and_meaning():
    for f in dataclasses.fields(Settings):
        assert f.metadata.get("source", "").strip(), f.name
        assert f.metadata.get("meaning", "").strip(), f.name


def test_every_mme_table_has_a_source():
    assert set(opioids.TABLES) == set(opioids.TABLE_SOURCES)
    for name in opioids.TABLES:
        assert opioids.TABLE_SOURCES[name].strip()


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_match_kroenke_2001(score, band):
    assert instruments.PHQ9.band(score) == band


@pytest.mark.parametrize(
    ("code", "score", "band"),
    [
        ("bdi2", 13, "minimal"),
        ("bdi2", 14, "mild"),
        ("bdi2", 28, "moderate"),
        ("bdi2", 29, "severe"),
        ("madrs", 6, "normal"),
        ("madrs", 7, "mild"),
        ("madrs", 34, "moderate"),
        ("madrs", 35, "severe"),
        ("gad7", 4, "minimal"),
        ("gad7", 5, "mild"),
        ("gad7", 10, "moderate"),
        ("gad7", 15, "severe"),
        ("pain_nrs", 0, "none"),
        ("pain_nrs", 4, "mild"),
        ("pain_nrs", 5, "moderate"),
        ("pain_nrs", 7, "severe"),
    ],
)
def test_bands_match_clinical_reference(code, score, band):
    assert instruments.get(code).band(score) == band


def test_instrument_ranges_and_codes_from_reference():
    assert (instruments.PHQ9.minimum, instruments.PHQ9.maximum) == (0, 27)
    assert (instruments.BDI2.minimum, instruments.BDI2.maximum) == (0, 63)
    assert (instruments.MADRS.minimum, instruments.MADRS.maximum) == (0, 60)
    assert (instruments.GAD7.minimum, instruments.GAD7.maximum) == (0, 21)
    assert (instruments.PCL5.minimum, instruments.PCL5.maximum) == (0, 80)
    assert (instruments.CADSS.minimum, instruments.CADSS.maximum) == (0, 92)
    assert instruments.by_loinc("72514-3") is instruments.PAIN_NRS
    assert instruments.by_loinc("44261-6") is instruments.PHQ9
    assert instruments.by_loinc("70274-6") is instruments.GAD7
    assert instruments.by_loinc("55758-7") is instruments.PHQ2
    assert instruments.PHQ9.response_pct == 50 and instruments.PHQ9.remission_below == 5
    assert instruments.PHQ9.mcid == 5
    assert instruments.PAIN_NRS.response_pct == 30 and instruments.PAIN_NRS.substantial_pct == 50


def test_recognise_instrument_names():
    assert instruments.recognise("PHQ-9") is instruments.PHQ9
    assert instruments.recognise(" gad 7 ") is instruments.GAD7
    assert instruments.recognise("Pain score") is instruments.PAIN_NRS
    assert instruments.recognise("cholesterol") is None
    with pytest.raises(KeyError, match="known instruments"):
        instruments.get("phq10")


# CDC 2022 Clinical Practice Guideline, Table 1 (as in the clinical reference).
CDC_2022 = {
    "codeine": 0.15,
    "fentanyl": 2.4,
    "hydrocodone": 1.0,
    "hydromorphone": 5.0,
    "methadone": 4.7,
    "morphine": 1.0,
    "oxycodone": 1.5,
    "oxymorphone": 3.0,
    "tapentadol": 0.4,
    "tramadol": 0.2,
}


def test_mme_factors_match_cdc_2022():
    got = {k: v.factor for k, v in opioids.TABLES[opioids.CDC_2022].items()}
    assert got == CDC_2022
    assert opioids.DEFAULT_TABLE == opioids.CDC_2022


def test_daily_mme_examples():
    # oxycodone 10 mg three times a day = 30 mg/day x 1.5 = 45 MME/day
    assert opioids.daily_mme("oxycodone", 30) == pytest.approx(45.0)
    # fentanyl patch 25 mcg/hr x 2.4 = 60 MME/day
    assert opioids.daily_mme("fentanyl", 25) == pytest.approx(60.0)
    # methadone 20 mg/day x 4.7 = 94 MME/day (CDC 2022); older table: tier 4 -> 80
    assert opioids.daily_mme("methadone", 20) == pytest.approx(94.0)
    assert opioids.daily_mme("methadone", 20, opioids.CDC_2016) == pytest.approx(80.0)
    assert opioids.daily_mme("methadone", 50, opioids.CDC_2016) == pytest.approx(500.0)
    assert opioids.daily_mme("tramadol", 200, opioids.CDC_2016) == pytest.approx(20.0)
    assert opioids.daily_mme("buprenorphine", 8) is None


def test_add_daily_mme_vectorised_agrees_with_scalar():
    df = pl.DataFrame(
        {
            "ingredient": ["oxycodone", "Methadone", "fentanyl", "buprenorphine", "tramadol"],
            "daily_dose": [30.0, 50.0, 25.0, 8.0, 200.0],
        }
    )
    for table in opioids.TABLES:
        out = opioids.add_daily_mme(df, table)
        for ing, dose, mme in out.select("ingredient", "daily_dose", "daily_mme").iter_rows():
            assert mme == (
                None
                if opioids.daily_mme(ing, dose, table) is None
                else pytest.approx(opioids.daily_mme(ing, dose, table))
            )
        assert out["mme_table"].to_list() == [table] * 5


def test_settings_toml_override(tmp_path):
    p = tmp_path / "outcomes.toml"
    p.write_text("[outcomes]\npain_response_pct = 50\nbaseline_window_days = 14\n")
    s = load_settings(p)
    assert s.pain_response_pct == 50.0 and s.baseline_window_days == 14
    assert s.depression_response_pct == Settings().depression_response_pct
    assert any(d["setting"] == "pain_response_pct" and d["value"] == "50.0" for d in s.describe())


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("pain_respons_pct = 30", "unknown setting 'pain_respons_pct'"),
        ("pain_response_pct = 'thirty'", "should be a float"),
        ("pain_response_pct = 130", "percentage"),
        ("baseline_window_days = 0", "at least 1"),
        ("mme_table = 'CDC-1999'", "CDC-2022"),
        ("clinic_timezone = 'Mars/Olympus'", "time zone"),
        ("pain_response_pct = ", "not valid TOML"),
    ],
)
def test_settings_errors_name_file_and_fix(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(SettingsError, match=match) as e:
        load_settings(p)
    assert str(p) in str(e.value)


def test_settings_missing_file(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_treatment_month_and_review_windows_come_from_settings():
    """Issue 4: every window comes from the settings (here: month length, months reported,
    recent doses and the trend's minimum points)."""
    from kapoutcomes.cohort import summary
    from kapoutcomes.demo import generator
    from kapoutcomes.outcomes import maintenance_review

    t = generator.generate(seed=3, patients=80).tables
    s15 = load_settings(treatment_month_days=15, max_treatment_month=4)
    months = summary.cohort_summary(t, s15, comparisons=())["improvement_by_month"].frames["months"]
    assert months["treatment_month"].max() <= 4
    assert "15-day" in months["definition"][0]
    pid = t["sessions"].filter(t["sessions"]["session_type"] == "maintenance")["patient_id"][0]
    one = maintenance_review.patient_facts(t, pid, load_settings(recent_benefit_doses=1))
    assert len(one.recent_benefit_days) <= 1
    never = maintenance_review.patient_facts(t, pid, load_settings(trend_min_points=1000))
    assert never.slope_per_week is None


def test_an_unreadable_settings_file_is_a_settings_error_naming_it(tmp_path):
    """The attack (issue 15, second pass): $KAPOUTCOMES_SETTINGS pointing at a file saved as
    UTF-16 (or at a folder). load_settings raised UnicodeDecodeError (IsADirectoryError), which
    the app's settings guard (it catches SettingsError) let through as a traceback, and the
    command line printed without the file's name. Each is a SettingsError naming the file."""
    import pytest

    from kapoutcomes.definitions import settings as settings_mod

    utf16 = tmp_path / "settings.toml"
    utf16.write_text("[outcomes]\npain_response_pct = 30\n", encoding="utf-16")
    with pytest.raises(settings_mod.SettingsError, match=r"settings\.toml: not a UTF-8 text file"):
        settings_mod.load_settings(utf16)
    with pytest.raises(settings_mod.SettingsError, match="cannot be read"):
        settings_mod.load_settings(tmp_path)
