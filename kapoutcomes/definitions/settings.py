"""Outcome definitions: windows and thresholds with cited defaults, overridable from TOML.

One home for every definition the analytics use. Each field carries a source; where no
published standard exists the source says it is the project's own choice, and the value is
shown to the user next to each result (``Settings.describe``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kapoutcomes.definitions import opioids

PROJECT_CHOICE = "kapoutcomes default (no published standard; configurable)"


def _f(default: Any, source: str, meaning: str) -> Any:
    return dataclasses.field(default=default, metadata={"source": source, "meaning": meaning})


@dataclass(frozen=True)
class Settings:
    """Outcome definitions in force. Build with ``load_settings`` to apply a TOML file."""

    baseline_window_days: int = _f(
        30,
        f"{PROJECT_CHOICE}; baseline is judged against the patient's own pre-treatment score "
        "(clinical reference: judge change against the patient's baseline)",
        "baseline = last score within this many days before the first dose (not imputed)",
    )
    pain_response_pct: float = _f(
        30.0,
        "IMMPACT, Dworkin et al., J Pain 2008;9:105 (>=30% moderately important)",
        "pain responder: % reduction from baseline at or above this",
    )
    pain_substantial_pct: float = _f(
        50.0,
        "IMMPACT, Dworkin et al., J Pain 2008;9:105 (>=50% substantial)",
        "substantial pain improvement: % reduction at or above this",
    )
    depression_response_pct: float = _f(
        50.0,
        "Löwe et al., Med Care 2004;42:1194 (PHQ-9 response >=50% reduction)",
        "depression responder: % reduction from baseline at or above this",
    )
    phq9_remission_below: float = _f(
        5.0,
        "Kroenke 2001; Löwe et al. 2004 (PHQ-9 remission < 5)",
        "PHQ-9 remission: score below this",
    )
    pain_baseline_min: float = _f(
        4.0,
        "IMMPACT: a minimum baseline pain of 4 on a 0-10 NRS as the inclusion criterion of "
        "chronic-pain trials, to limit floor effects (Dworkin et al., Pain 2012;153:1148; "
        "Dworkin et al., Pain 2010;149:177)",
        "pain response is measured only for patients whose baseline pain is at least this "
        "(0-10 scales; the 0-100 mm VAS uses 10 times this)",
    )
    phq9_baseline_min: float = _f(
        10.0,
        "HEDIS DRR-E (NCQA) and NQF 0710 / CMS159: index PHQ-9 > 9 (moderate depression, "
        "Kroenke 2001)",
        "PHQ-9 response and remission are measured only for patients whose baseline PHQ-9 is at "
        "least this",
    )
    bdi2_baseline_min: float = _f(
        20.0,
        "Beck, Steer & Brown, BDI-II manual 1996: 20-28 moderate depression",
        "BDI-II outcomes are measured only for patients whose baseline BDI-II is at least this",
    )
    madrs_baseline_min: float = _f(
        20.0,
        "Snaith et al. 1986: MADRS 20-34 moderate depression",
        "MADRS response and remission are measured only for patients whose baseline MADRS is at "
        "least this",
    )
    gad7_baseline_min: float = _f(
        10.0,
        "Spitzer et al., Arch Intern Med 2006;166:1092: GAD-7 10-14 moderate anxiety",
        "GAD-7 outcomes are measured only for patients whose baseline GAD-7 is at least this",
    )
    induction_max_gap_days: int = _f(
        14,
        f"{PROJECT_CHOICE}; induction series are 4-8 infusions over 1-4 weeks (ASRA/AAPM/ASA "
        "consensus, Cohen et al., Reg Anesth Pain Med 2018;43:521)",
        "an induction infusion more than this many days after the previous one starts a new course",
    )
    induction_complete_infusions: int = _f(
        6,
        "6-infusion series (Murrough et al. 2013; Osmind real-world data report completion of 6)",
        "an induction series is complete with at least this many infusions",
    )
    end_of_induction_window_days: int = _f(
        31,
        "ORKA-1 (McInnes 2022) assessed end-of-induction response at 14-31 days; "
        f"{PROJECT_CHOICE} for the exact window",
        "end-of-induction response uses the first assessment from the last induction infusion "
        "up to this many days after it",
    )
    loss_consecutive_assessments: int = _f(
        2,
        f"{PROJECT_CHOICE}; modelled on SUSTAIN-1 relapse on consecutive MADRS assessments",
        "response is lost when % reduction falls below the response threshold on this many "
        "consecutive assessments",
    )
    loss_on_unscheduled_booster: bool = _f(
        True,
        f"{PROJECT_CHOICE} (clinical reference: durability and loss of response)",
        "an unscheduled booster infusion also ends a response episode",
    )
    trend_weeks: int = _f(
        6,
        PROJECT_CHOICE,
        "the recent trend is the least-squares slope of scores over this many weeks",
    )
    trend_min_points: int = _f(
        3,
        PROJECT_CHOICE,
        "the recent trend is stated only with at least this many assessments in its window",
    )
    stale_score_days: int = _f(
        30,
        f"{PROJECT_CHOICE}; about one maintenance interval, so a score older than this says "
        "nothing about the current interval",
        "the patient view flags a latest score (and its trend) older than this many days "
        "before the as-of date as stale",
    )
    recent_benefit_doses: int = _f(
        3,
        f"{PROJECT_CHOICE}; the maintenance review states benefit after the last few infusions",
        "the maintenance review states how long benefit lasted after this many recent infusions",
    )
    treatment_month_days: int = _f(
        30,
        f"{PROJECT_CHOICE}; measurement-based-care platforms report improvement by treatment "
        "month (clinical reference, comparable products)",
        "a treatment month for 'improvement by treatment month' is this many days from the "
        "first dose",
    )
    max_treatment_month: int = _f(
        12,
        f"{PROJECT_CHOICE}; registries follow up to 12 months (clinical reference: REDCap "
        "3- and 12-month follow-up; OKAPI 12 months)",
        "improvement by treatment month is reported up to this month",
    )
    small_n: int = _f(
        20,
        f"{PROJECT_CHOICE}; below this a rate is flagged as imprecise",
        "results with fewer evaluable patients than this carry a small-n caveat",
    )
    min_patients_per_point: int = _f(
        10,
        f"{PROJECT_CHOICE}; with fewer patients a point's 95% interval is too wide to read a "
        "trend from (the t multiplier is 2.26 at n = 10 and 2.78 at n = 5, and one patient "
        "moves a mean by a tenth or more); registries commonly suppress cells under 10 "
        "(e.g. CMS cell-size suppression policy, counts 1-10)",
        "charts by month or week grey out (monthly improvement) or leave out (trajectories) "
        "a point with fewer patients than this, and say so under the chart",
    )
    missing_baseline_caveat_pct: float = _f(
        20.0,
        PROJECT_CHOICE,
        "a caveat is shown when more than this % of patients lack a baseline",
    )
    heavy_censoring_pct: float = _f(
        50.0,
        PROJECT_CHOICE,
        "a Kaplan-Meier caveat is shown when more than this % of episodes are censored",
    )
    confidence_level: float = _f(
        0.95, "conventional 95% confidence level", "confidence level for intervals"
    )
    bp_systolic_limit: int = _f(
        140,
        "Esketamine REMS: consider delaying dosing when BP > 140/90 before dosing",
        "hypertensive before dosing: systolic above this",
    )
    bp_diastolic_limit: int = _f(
        90,
        "Esketamine REMS: consider delaying dosing when BP > 140/90 before dosing",
        "hypertensive before dosing: diastolic above this",
    )
    spo2_low_pct: float = _f(
        90.0,
        "clinical reference, safety monitoring: SpO2 < 90% is hypoxaemia",
        "desaturation: SpO2 below this (after dosing: a must-not-miss flag)",
    )
    bp_crisis_systolic_above: int = _f(
        180,
        "ACC/AHA 2017 guideline (Whelton et al., Hypertension 2018;71:e13): hypertensive crisis "
        "= systolic > 180 and/or diastolic > 120 mmHg; Yip et al., Front Psychiatry 2022;"
        "13:1017504 apply it to ketamine infusions (urgency without, emergency with organ "
        "damage)",
        "hypertensive crisis after dosing (must-not-miss flag): systolic after dosing above this",
    )
    bp_crisis_diastolic_above: int = _f(
        120,
        "ACC/AHA 2017 guideline (Whelton et al., Hypertension 2018;71:e13): hypertensive crisis "
        "= systolic > 180 and/or diastolic > 120 mmHg",
        "hypertensive crisis after dosing (must-not-miss flag): diastolic after dosing above this",
    )
    heart_rate_after_above: int = _f(
        120,
        f"{PROJECT_CHOICE}: adult tachycardia is a heart rate above 100 beats/min; ketamine "
        "commonly raises heart rate, so the flag is set at marked tachycardia",
        "tachycardia after dosing (must-not-miss flag): heart rate after dosing above this",
    )
    cadss_dissociation_above: float = _f(
        4.0,
        "peak CADSS total > 4 marks dissociation in the esketamine TRANSFORM-2 / SUSTAIN-1 "
        "post hoc analysis of dissociation and antidepressant effect (Int J "
        "Neuropsychopharmacol 2022); yet no CADSS cut-off separated investigator-reported "
        "dissociation well (Int J Neuropsychopharmacol 2023;26:198): a descriptive share",
        "after-dose CADSS: share of sessions with a total above this",
    )
    bp_rise_mmhg: int = _f(
        20,
        f"{PROJECT_CHOICE}; raised BP is a common ketamine effect (clinical reference, safety)",
        "a rise in systolic BP after dosing of at least this many mmHg is an excursion",
    )
    mme_table: str = _f(
        opioids.DEFAULT_TABLE,
        opioids.TABLE_SOURCES[opioids.DEFAULT_TABLE],
        "the MME conversion-factor table used for daily MME",
    )
    clinic_timezone: str = _f(
        "America/New_York",
        f"{PROJECT_CHOICE}; set to the clinic's own zone",
        "time-zone-stamped export times are converted to this zone before dates are taken",
    )
    date_order: str = _f(
        "",
        PROJECT_CHOICE,
        "how to read dates such as 03/04/2024 in a column whose values do not settle it: "
        '"day-first", "month-first", or "" (not set: such values are quarantined)',
    )
    two_digit_year_pivot: int = _f(
        -1,
        PROJECT_CHOICE,
        "two-digit years 00 to this value are 20xx, the rest 19xx; -1: this year's last two "
        "digits, so no two-digit year is read as a future year",
    )

    def describe(self) -> list[dict[str, str]]:
        """Every definition in force with its meaning and source, for display next to results."""
        return [
            {
                "setting": f.name,
                "value": str(getattr(self, f.name)),
                "meaning": f.metadata["meaning"],
                "source": f.metadata["source"],
            }
            for f in fields(self)
        ]

    def sources(self) -> dict[str, str]:
        return {f.name: f.metadata["source"] for f in fields(self)}


class SettingsError(ValueError):
    """A settings file that cannot be used; the message says what to fix."""


def _check(s: Settings, origin: str) -> None:
    def bad(name: str, why: str) -> SettingsError:
        return SettingsError(f"{origin}: setting {name} = {getattr(s, name)!r} {why}")

    for name in ("pain_response_pct", "pain_substantial_pct", "depression_response_pct"):
        if not 0 < getattr(s, name) <= 100:
            raise bad(name, "must be a percentage above 0 and at most 100")
    for name in (
        "baseline_window_days",
        "induction_max_gap_days",
        "induction_complete_infusions",
        "end_of_induction_window_days",
        "loss_consecutive_assessments",
        "trend_weeks",
        "trend_min_points",
        "recent_benefit_doses",
        "stale_score_days",
        "treatment_month_days",
        "max_treatment_month",
        "small_n",
        "min_patients_per_point",
    ):
        if getattr(s, name) < 1:
            raise bad(name, "must be a whole number of at least 1")
    for name in (
        "pain_baseline_min",
        "phq9_baseline_min",
        "bdi2_baseline_min",
        "madrs_baseline_min",
        "gad7_baseline_min",
    ):
        if getattr(s, name) < 0:
            raise bad(name, "must be a score of at least 0")
    if not 0.5 < s.confidence_level < 1:
        raise bad("confidence_level", "must be between 0.5 and 1, for example 0.95")
    if s.date_order not in ("", "day-first", "month-first"):
        raise bad("date_order", 'must be "day-first", "month-first" or "" (not set)')
    if not -1 <= s.two_digit_year_pivot <= 99:
        raise bad("two_digit_year_pivot", "must be -1 (this year) or 0 to 99")
    if s.mme_table not in opioids.TABLES:
        raise bad("mme_table", f"must be one of {', '.join(opioids.TABLES)}")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.clinic_timezone)
    except Exception:
        raise bad("clinic_timezone", "is not a known time zone such as America/New_York") from None


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file at ``path`` (section ``[outcomes]`` or top level), then
    keyword overrides. Unknown names and wrong types raise ``SettingsError`` naming the file.
    """
    values: dict[str, Any] = {}
    origin = "settings"
    if path is not None:
        p = Path(path)
        origin = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"{p}: settings file not found") from None
        except UnicodeDecodeError:
            raise SettingsError(f"{p}: not a UTF-8 text file; save it as UTF-8 TOML") from None
        except OSError as e:  # a folder, no permission: the app shows this, never a traceback
            raise SettingsError(f"{p}: cannot be read ({e.strerror or e})") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{p}: not valid TOML ({e})") from None
        values.update(data.get("outcomes", data))
    values.update(overrides)
    if isinstance(values.get("day_first"), bool):  # the former setting: an order when true
        values.setdefault("date_order", "day-first" if values["day_first"] else "")
        del values["day_first"]
    known = {f.name: f for f in fields(Settings)}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise SettingsError(
                f"{origin}: unknown setting {name!r}; known settings: {', '.join(known)}"
            )
        default = known[name].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, str)
        if not ok:
            raise SettingsError(
                f"{origin}: setting {name} = {value!r} should be a "
                f"{type(default).__name__} like {default!r}"
            )
        clean[name] = value
    s = Settings(**clean)
    _check(s, origin)
    return s


DEFAULT = Settings()
