"""Every table the app and the HTML report show, declared as data: the shared vocabulary of
column labels (``COLUMNS``, the clinic's word for each column name the library produces) and
one ``TableSpec`` per table (``TABLES``): which columns, in what order, labelled how.

Internal keys are never shown: session, event and import ids, hashes and the content
SHA-256; the pseudonymous patient id is shown where it is needed to find a patient (safety
lists, data quality), not on the patient's own page. ``shown`` formats a frame by its table's
spec with ``table_display.display_table``.
"""

from __future__ import annotations

import polars as pl

from kapoutcomes.present.table_display import (
    MISSING,
    Column,
    DisplayTable,
    Fraction,
    Interval,
    TableSpec,
)
from kapoutcomes.present.table_display import display_table as _display

#: how every table reads, said once under the tables (app) and at the foot of the report
READING_TABLES = (
    "In every table, — marks a value that is missing or cannot be computed; a blank item, "
    "remission or LOINC cell means the row has none. Rates are percentages of the "
    "denominator beside them; intervals are {ci}s, written lower–upper; a median a curve "
    "never reached reads 'not reached'."
)

_C = Column
_WIDE = "large"

#: the clinic's word for each column the library produces (tables may override a label)
COLUMNS: dict[str, Column] = {
    # who and what
    "patient_id": _C("Patient", help="pseudonymous id: the same patient on every page"),
    "clinic": _C("Clinic"),
    "instrument": _C("Instrument", "instrument"),
    "measure": _C("Measure", "words"),
    "subgroup": _C("Compared by", "words"),
    "level": _C("Group"),
    "stage": _C("Stage", "words"),
    "timepoint": _C("Time point", "words"),
    "dimension": _C("By", "words"),
    "category": _C("Category", "words"),
    "definition": _C("Definition", width=_WIDE, note=True),
    "caveats": _C("Caveats", width=_WIDE, note=True),
    "population": _C("Population", width=_WIDE),
    "excluded": _C("Left out, and why", width=_WIDE, note=True),
    "status": _C("Status"),
    "detail": _C("Detail", width=_WIDE),
    "flag": _C("Flag", "words"),
    "source": _C("Source", width=_WIDE),
    # counts and denominators
    "n": _C("n", "count"),
    "denominator": _C("Denominator", "count"),
    "events": _C("Events", "count"),
    "sessions": _C("Sessions", "count"),
    "patients": _C("Patients", "count"),
    "responders": _C("Responders", "count"),
    "evaluable": _C("Evaluable", "count"),
    "non_responders": _C("Non-responders", "count"),
    "not_evaluable": _C("Not evaluable", "count"),
    "started": _C("Started treatment", "count"),
    "itt_denominator": _C("ITT denominator", "count", help="intention-to-treat: every starter"),
    "completers_n": _C("Completers responding", "count"),
    "completers_denominator": _C("Completers", "count"),
    "occurrences": _C("Occurrences", "count"),
    "scored": _C("Scored", "count"),
    "remission_n": _C("In remission", "count"),
    "not_eligible": _C("Not eligible", "count"),
    "levels": _C("Groups", "count"),
    "df": _C("Degrees of freedom", "count"),
    # rates, fractions 0-1
    "rate": _C("Rate", "percent"),
    "lower": _C("Lower limit", "percent"),
    "upper": _C("Upper limit", "percent"),
    "itt_rate": _C("ITT rate", "percent", help="intention-to-treat: every starter"),
    "itt_lower": _C("ITT lower limit", "percent"),
    "itt_upper": _C("ITT upper limit", "percent"),
    "completers_rate": _C("Completers' rate", "percent"),
    "remission_rate": _C("Remission rate", "percent"),
    "remission_lower": _C("Remission lower limit", "percent"),
    "remission_upper": _C("Remission upper limit", "percent"),
    "share_above": _C("Share above", "percent"),
    "network_rate": _C("Network rate", "percent"),
    "lower95": _C("95% control limit, lower", "percent"),
    "upper95": _C("95% control limit, upper", "percent"),
    "lower998": _C("99.8% control limit, lower", "percent"),
    "upper998": _C("99.8% control limit, upper", "percent"),
    "s_4w": _C("Still responding at 4 weeks", "percent"),
    "s_4w_lower": _C("4-week lower limit", "percent"),
    "s_4w_upper": _C("4-week upper limit", "percent"),
    "s_8w": _C("Still responding at 8 weeks", "percent"),
    "s_8w_lower": _C("8-week lower limit", "percent"),
    "s_8w_upper": _C("8-week upper limit", "percent"),
    "s_12w": _C("Still responding at 12 weeks", "percent"),
    "s_12w_lower": _C("12-week lower limit", "percent"),
    "s_12w_upper": _C("12-week upper limit", "percent"),
    # percentages already 0-100
    "pct_of_referred": _C("% of referred", "percent_points"),
    "pct_of_previous": _C("% of previous stage", "percent_points"),
    "censored_pct": _C("Censored", "percent_points"),
    "mean_reduction_pct": _C("Mean reduction", "percent_points"),
    # scores and statistics
    "mean_baseline": _C("Mean baseline score", "number", 1),
    "mean_score": _C("Mean score", "number", 1),
    "mean": _C("Mean change (points)", "number", 2),
    "mean_lower": _C("Mean lower limit", "number", 2),
    "mean_upper": _C("Mean upper limit", "number", 2),
    "sd": _C("SD (points)", "number", 2),
    "median": _C("Median change (points)", "number", 1),
    "median_lower": _C("Median lower limit", "number", 1),
    "median_upper": _C("Median upper limit", "number", 1),
    "mean_change": _C("Mean change (points)", "number", 2),
    "median_change": _C("Median change (points)", "number", 1),
    "wilcoxon_statistic": _C("Wilcoxon statistic", "number", 1),
    "wilcoxon_p": _C("Wilcoxon p-value", "pvalue", help="Wilcoxon signed-rank test"),
    "pvalue": _C("p-value", "pvalue"),
    "statistic": _C("Chi-square", "number", 2),
    "z": _C("z", "number", 2),
    "srm": _C("SRM", "number", 2, help="standardised response mean: mean change / SD of change"),
    "effect_size": _C("Effect size", "number", 2),
    "treatment_month": _C("Treatment month", "count"),
    # durability
    "median_days": _C("Median time to loss", "days", missing="not reached"),
    "turnbull_median_days": _C("Interval-censored median", "days", missing="not reached"),
    "turnbull_median_from": _C("Interval-censored median, from", "days"),
    "turnbull_median_to": _C("Interval-censored median, to", "days", missing="not reached"),
    # safety
    "per_100_sessions": _C("Per 100 sessions", "rate", unit=""),
    "per_100_lower": _C("Lower limit", "rate"),
    "per_100_upper": _C("Upper limit", "rate"),
    "per_100 {ci}": _C("{ci}"),
    "% patients": _C("% of patients", "percent_points"),
    "% of sessions": _C("% of sessions", "percent_points"),
    "{ci} (%)": _C("{ci}", unit="%"),
    "patients affected": _C("Patients affected", "count"),
    "excursion": _C("Excursion", "words"),
    "dose_band": _C("Dose band", unit="mg/kg"),
    "q1": _C("Lower quartile", "number", 1),
    "q3": _C("Upper quartile", "number", 1),
    "above": _C("Sessions above threshold", "count"),
    "threshold": _C("Threshold (CADSS score)", "number", 0),
    "answers_above_0": _C("Answers above 0", "count"),
    "highest": _C("Highest", "number", 0, help="highest item 9 answer (0-3)"),
    "first_at": _C("First above 0", "date"),
    "last_above_0_at": _C("Latest above 0", "date"),
    "latest_answer": _C("Latest", "number", 0, help="latest item 9 answer (0-3)"),
    "latest_at": _C("Latest on", "datetime", help="when the latest item 9 answer was given"),
    "at": _C("When", "datetime"),
    "value": _C("Value"),
    # the store's own tables (patient records)
    "started_at": _C("Started", "datetime"),
    "session_type": _C("Session", "words"),
    "route": _C("Route"),
    "review": _C("Review", help="who reviewed the signal, when, and what was done"),
    "dose_mg": _C("Dose", "mg"),
    "dose_mg_per_kg": _C("Dose", "number", 2, unit="mg/kg"),
    "weight_kg": _C("Weight", "number", 1, unit="kg"),
    "infusion_minutes": _C("Infusion", "number", 0, unit="minutes"),
    "care_model": _C("Care model", "words"),
    "clinician": _C("Clinician"),
    "bp_systolic_before": _C("Systolic BP before", "count", unit="mmHg"),
    "bp_diastolic_before": _C("Diastolic BP before", "count", unit="mmHg"),
    "heart_rate_before": _C("Heart rate before", "count", unit="beats/min"),
    "spo2_before": _C("SpO2 before", "percent_points", 0),
    "bp_systolic_after": _C("Systolic BP after", "count", unit="mmHg"),
    "bp_diastolic_after": _C("Diastolic BP after", "count", unit="mmHg"),
    "heart_rate_after": _C("Heart rate after", "count", unit="beats/min"),
    "spo2_after": _C("SpO2 after", "percent_points", 0),
    "cost_usd": _C("Charge", "currency", 0, unit="USD"),
    "assessed_at": _C("Assessed", "datetime"),
    "item": _C("Item (blank: total)", "count", missing=""),
    "score": _C("Score", "number", 1),
    "timing": _C("Timing", "words"),
    "event": _C("Event", "words"),
    "event_text": _C("As written", missing="", help="the event as written in the record"),
    "severity": _C("Severity"),
    "grade": _C("Grade", "count"),
    "serious": _C("Serious", "yes_no"),
    "onset_at": _C("Onset", "datetime"),
    "resolved_at": _C("Resolved", "datetime", missing="not recorded"),
    "action_taken": _C("Action taken", "words"),
    "ingredient": _C("Opioid"),
    "strength": _C("Strength", "number", 1),
    "unit": _C("Unit"),
    "frequency_per_day": _C("Times a day", "number", 1),
    "daily_dose": _C("Daily dose", "number", 1),
    "start_date": _C("Start", "date"),
    "stop_date": _C("Stop", "date", missing="ongoing"),
    "mme_factor": _C("MME factor", "number", 2),
    "daily_mme": _C("Daily MME", "mme"),
    "mme_table": _C("MME table"),
    "rxnorm": _C("RxNorm code"),
    "description": _C("Description", width=_WIDE),
    # imports
    "file_name": _C("File"),
    "preset": _C("Layout"),
    "imported_at": _C("Imported", "datetime"),
    "rows_read": _C("Rows read", "count"),
    "accepted": _C("Accepted", "count"),
    "quarantined": _C("Quarantined", "count"),
    "skipped": _C("Skipped", "count"),
    "duplicates": _C("Duplicates", "count"),
    "conflicts": _C("Conflicts", "count"),
    "undone_at": _C("Undone", "datetime", missing=""),
    "already_imported": _C("Already imported", "yes_no"),
    "file": _C("File"),
    "quarantine_reason": _C("Why quarantined", width=_WIDE),
    "quarantine_file": _C("Source file"),
    "quarantine_row": _C("Line in file"),
    "conflict_id": _C("Conflict"),
    "table_name": _C("Table", "words"),
    "natural_key": _C("Which record", width="medium"),
    "stored_value": _C("Stored value"),
    "incoming_value": _C("Imported value"),
    "row_number": _C("Line in file", "count"),
    "baseline_status": _C("Baseline", width=_WIDE),
    "reason": _C("Reason", width=_WIDE),
    "assessments": _C("Assessments", "count"),
    # audit trail
    "seq": _C("Entry", "count"),
    "user_name": _C("User"),
    "role": _C("Role", "words"),
    "action": _C("Action", "words"),
    "target": _C("Target"),
    # settings and reference tables
    "setting": _C("Setting"),
    "meaning": _C("Meaning", width=_WIDE),
    "name": _C("Name", width="medium"),
    "domain": _C("Domain"),
    "minimum": _C("Lowest score", "number", 0),
    "maximum": _C("Highest score", "number", 0),
    "higher_is_worse": _C("Higher is worse", "yes_no"),
    "loinc": _C("LOINC code", missing=""),
    "items": _C("Items", "count", missing=""),
    "item_minimum": _C("Item lowest", "number", 0, missing=""),
    "item_maximum": _C("Item highest", "number", 0, missing=""),
    "bands": _C("Severity bands", width=_WIDE, missing=""),
    "response_pct": _C("Response: reduction of at least", "percent_points", 0, missing=""),
    "remission": _C("Remission", missing=""),
    "mcid": _C("Minimal important change (points)", "number", 1, missing=""),
    "factor": _C("MME factor", "number", 2),
    "dose_unit": _C("Dose unit"),
    "tiers": _C("Dose tiers", missing=""),
    "table": _C("Table"),
}

_OUT = frozenset({"subgroup", "level"})  # whole-cohort tables: always "all"
_NOTES = ("definition", "caveats")


def _iv(stat: str, label: str = "{ci}") -> Interval:
    return Interval(f"{stat}_lower", f"{stat}_upper", label)


def _iv_with(
    stat: str,
    label: str,
    lower: str = "{}_lower",
    upper: str = "{}_upper",
    help: str | None = None,
) -> Interval:
    """``stat`` and its interval in one cell: "-2.77 (-3.36 to -2.17)"."""
    return Interval(lower.format(stat), upper.format(stat), label, value=stat, help=help)


_RATE = ("n", "denominator", "rate", Interval("lower", "upper"))
_PER_100 = ("events", "sessions", "per_100_sessions", _iv("per_100", "{ci} (per 100 sessions)"))
_MEDIAN_DAYS = ("median_days", Interval("median_lower", "median_upper", "{ci} (days)"))
_DAYS = {
    "median_lower": _C("lower", "days"),
    "median_upper": _C("upper", "days", missing="not reached"),
}
#: the primary durability table and its secondary: in weeks, the unit of the durability chart
#: and headline (present.figures.KM_UNIT)
_WEEKS = {
    name: _C(label, "weeks", 1, missing=missing, from_days=True)
    for name, label, missing in (
        ("median_days", "Median time to loss", "not reached"),
        ("median_lower", "lower", MISSING),
        ("median_upper", "upper", "not reached"),
        ("turnbull_median_days", "Interval-censored median", "not reached"),
        ("turnbull_median_from", "Interval-censored median, from", MISSING),
        ("turnbull_median_to", "Interval-censored median, to", "not reached"),
    )
}
_MEDIAN_WITH_CI = _iv_with(
    "median_days", "Median time to loss, {ci} (weeks)", "median_lower", "median_upper"
)
_STILL = "still responding {w} weeks after the origin (Kaplan-Meier)"
_DURABILITY = (
    "instrument", "n", "events", "censored_pct", _MEDIAN_WITH_CI,
    *(_iv_with(f"s_{w}w", f"At {w} weeks, {{ci}}", help=_STILL.format(w=w)) for w in (4, 8, 12)),
    "caveats",
)  # fmt: skip
_SECONDARY = (
    "instrument", "n", "events", "censored_pct", _MEDIAN_WITH_CI,
    "turnbull_median_days", "turnbull_median_from", "turnbull_median_to", "caveats",
)  # fmt: skip
_WHO = (
    "instrument",
    "measure",
    Fraction(
        "n", "denominator", "rate", "Evaluable",
        "responders / patients evaluable at the end of induction (eligible baseline, "
        "end-of-induction window closed) (% responding)",
    ),
    Fraction(
        "n", "itt_denominator", "itt_rate", "Intention to treat",
        "responders / every eligible patient who started treatment (% responding)",
    ),
    Fraction(
        "completers_n", "completers_denominator", "completers_rate", "Completers",
        "responders / patients who completed induction (% responding)",
    ),
    "started",
    "excluded",
)  # fmt: skip
_WHO_LABELS = {
    "n": _C("Responders (evaluable)", "count"),
    "denominator": _C("Evaluable", "count"),
    "rate": _C("Rate among evaluable", "percent"),
}
_MEASURED = {"value": _C("Value", "number", 1), "lower": _C("lower", "number", 1)}

_QUARANTINE = ("quarantine_file", "quarantine_row", "quarantine_reason")

_BY_ROUTE = (
    "route",
    "n events",
    "sessions of the route",
    "per 100 sessions of the route",
    "per 100 {ci}",
    "patients",
    "% patients",
    "caveats",
)
_BY_ROUTE_LABELS = {
    "n events": _C("Events", "count"),
    "sessions of the route": _C("Sessions", "count", help="dosing sessions of the route"),
    "per 100 sessions of the route": _C(
        "Per 100 sessions", "rate", unit="", help="events per 100 dosing sessions of the route"
    ),
    "per 100 {ci}": _C("{ci}", help="interval of the rate per 100 sessions of the route"),
    "patients": _C("Patients with an event (n/N)"),
}

#: every table shown, by name
TABLES: dict[str, TableSpec] = {
    # cohort review and the HTML report
    "who": TableSpec(_WHO, _WHO_LABELS),
    "response": TableSpec(
        (
            "instrument",
            "measure",
            *_RATE,
            "itt_denominator",
            "itt_rate",
            Interval("itt_lower", "itt_upper", "ITT {ci}"),
            "completers_n",
            "completers_denominator",
            "completers_rate",
            "started",
            "excluded",
            *_NOTES,
        ),
        _WHO_LABELS,
    ),
    "change": TableSpec(
        (
            "instrument",
            Fraction(
                "n",
                "denominator",
                None,
                "n/N",
                "patients with a baseline and an end-of-induction score / patients evaluable",
            ),
            Interval(
                "mean_baseline",
                "mean_score",
                "Baseline → end",
                joined="{a} → {b}",
                help="mean score at baseline and at the end of induction",
            ),
            _iv_with("mean", "Mean change, {ci} (points)"),
            _iv_with("median", "Median, {ci} (points)"),
            "mean_reduction_pct",
            "wilcoxon_p",
            Interval("srm", "effect_size", "SRM / effect size", joined="{a} / {b}"),
            *_NOTES,
        ),
    ),
    "months": TableSpec(
        (
            "instrument",
            "treatment_month",
            "n",
            "denominator",
            "mean_change",
            "mean_reduction_pct",
            "rate",
            Interval("lower", "upper"),
            "caveats",
        ),
    ),
    "attrition": TableSpec(
        ("stage", "n", "denominator", "pct_of_referred", "pct_of_previous", *_NOTES)
    ),
    "at_risk": TableSpec(numbered=_C("Week {n}", "count")),
    "durability": TableSpec(_DURABILITY, _WEEKS),
    "durability_secondary": TableSpec(_SECONDARY, _WEEKS),
    "opioids": TableSpec(
        (
            "timepoint",
            "measure",
            "n",
            "denominator",
            "value",
            Interval("lower", "upper", "{ci} (IQR for medians)"),
            *_NOTES,
        ),
        _MEASURED,
        unit_column="unit",
    ),
    "cost": TableSpec(
        ("measure", "n", "denominator", "value", *_NOTES),
        {"value": _C("Cost", "number", 0)},
        unit_column="unit",
    ),
    "completeness": TableSpec(("instrument", "measure", *_RATE, *_NOTES)),
    "definitions": TableSpec(),
    # comparisons by subgroup (app and HTML report)
    "response_by_subgroup": TableSpec(
        ("subgroup", "level", *_RATE, "itt_denominator", "itt_rate", "caveats"), _WHO_LABELS
    ),
    "change_by_subgroup": TableSpec(
        (
            "subgroup",
            "level",
            "n",
            "mean",
            _iv("mean", "Mean {ci} (points)"),
            "median",
            "wilcoxon_p",
            "caveats",
        ),
    ),
    "durability_by_subgroup": TableSpec(
        (
            "subgroup",
            "level",
            "responders",
            "evaluable",
            "events",
            *_MEDIAN_DAYS,
            "s_12w",
            "caveats",
        ),
        _DAYS,
    ),
    "logrank": TableSpec(
        ("subgroup", "instrument", "levels", "n", "events", "statistic", "df", "pvalue", *_NOTES)
    ),
    "adverse_events_by_subgroup": TableSpec(
        ("subgroup", "level", *_PER_100, "n", "denominator", "rate", "caveats"),
        {"n": _C("Patients with an event", "count"), "rate": _C("% of patients", "percent")},
    ),
    "attrition_by_subgroup": TableSpec(
        ("subgroup", "level", "stage", "n", "denominator", "pct_of_referred", "caveats")
    ),
    "funnel": TableSpec(
        (
            "clinic",
            "n",
            "denominator",
            "rate",
            "network_rate",
            Interval("lower95", "upper95", "95% control limits"),
            Interval("lower998", "upper998", "99.8% control limits"),
            "position",
            "caveats",
        ),
        {"position": _C("Position", "words")},
    ),
    # safety
    "adverse_events": TableSpec(
        ("dimension", "category", *_PER_100, *_RATE, "caveats"),
        {"n": _C("Patients with an event", "count"), "rate": _C("% of patients", "percent")},
    ),
    "adverse_event_rates_by": TableSpec(
        (
            "category",
            "events",
            "sessions",
            "per_100_sessions",
            "per_100 {ci}",
            "patients",
            "% patients",
            "caveats",
        ),
        {"patients": _C("Patients with an event (n/N)")},
    ),
    # the Safety page's per-route rates: each rate's denominator is the sessions of its route
    "adverse_events_by_route": TableSpec(_BY_ROUTE, _BY_ROUTE_LABELS),
    "adverse_events_by_severity": TableSpec(
        (*_BY_ROUTE[:1], "severity", *_BY_ROUTE[1:]), _BY_ROUTE_LABELS
    ),
    "adverse_events_by_grade": TableSpec(
        (*_BY_ROUTE[:1], "grade", *_BY_ROUTE[1:]), {**_BY_ROUTE_LABELS, "grade": _C("Grade")}
    ),
    "adverse_events_by_type": TableSpec(
        ("event", "n events", "patients", "serious"),
        {"n events": _C("Events", "count"), "serious": _C("Serious events", "count")},
    ),
    "excursions": TableSpec(("excursion", *_RATE, "patients", *_NOTES)),
    "excursions_table": TableSpec(
        (
            "excursion",
            "definition",
            "n",
            "denominator",
            "% of sessions",
            "{ci} (%)",
            "patients affected",
            "caveats",
        ),
        {
            "n": _C("Sessions with it", "count"),
            "denominator": _C("Sessions with the reading", "count"),
        },
    ),
    "flags": TableSpec(("flag", "occurrences", "patients", "definition")),
    "after_dose_flags": TableSpec(("at", "patient_id", "flag", "value", "detail")),
    "serious_events": TableSpec(
        (
            "patient_id",
            "review",
            "onset_at",
            "event",
            "event_text",
            Interval("severity", "grade", "Severity, grade", joined="{a}, grade {b}"),
            "action_taken",
            "resolved_at",
        ),
        # the record's own words under the list: beside each event they widened it past the page
        {"event_text": _C("As written in the record", missing="", note=True)},
    ),
    "item9": TableSpec(
        (
            "patient_id",
            "review",
            "answers_above_0",
            "highest",
            "first_at",
            "last_above_0_at",
            "latest_answer",
            "latest_at",
            "status",
        ),
    ),
    "dissociation": TableSpec(
        (
            "dose_band",
            "sessions",
            "patients",
            "median",
            "q1",
            "q3",
            "threshold",
            "above",
            "share_above",
            Interval("lower", "upper"),
            "caveats",
        ),
        {
            "median": _C("Median CADSS score", "number", 1),
            "share_above": _C("Sessions above threshold", "percent"),
            "above": _C("Sessions above threshold", "count", unit="n"),
        },
    ),
    # the patient's own records (every column but the keys)
    "patient_sessions": TableSpec(hidden=frozenset({"session_id", "patient_id"})),
    "patient_assessments": TableSpec(hidden=frozenset({"session_id", "patient_id"})),
    "patient_adverse_events": TableSpec(hidden=frozenset({"event_id", "session_id", "patient_id"})),
    "patient_opioids": TableSpec(hidden=frozenset({"patient_id"})),
    "patient_flags": TableSpec(("at", "flag", "value", "detail", "source")),
    # the printable one-page summary (present.patient_summary)
    "summary_infusions": TableSpec(
        (
            "started_at",
            "session_type",
            "route",
            "dose_mg",
            "bp_before",
            "bp_after",
            "heart_rate_after",
            "spo2_after",
        ),
        {
            "started_at": _C("Date", "date"),
            "bp_before": _C("BP before", unit="mmHg"),
            "bp_after": _C("BP after", unit="mmHg"),
            "heart_rate_after": _C("HR after", "count", unit="/min"),
            "spo2_after": _C("SpO2 after", "percent_points", 0),
        },
    ),
    "summary_side_effects": TableSpec(
        ("onset_at", "event", "severity", "serious"), {"onset_at": _C("Date", "date")}
    ),
    "benefit": TableSpec(
        ("measure", "infusion", "type", "next_infusion", "benefit_days", "status"),
        {
            "infusion": _C("Infusion", "date"),
            "type": _C("Session", "words"),
            "next_infusion": _C("Next infusion", "date", missing="none yet"),
            "benefit_days": _C("Benefit lasted", "days"),
        },
    ),
    # data: imports, quarantine, conflicts, quality
    "import_history": TableSpec(
        (
            "file_name",
            "preset",
            "imported_at",
            "rows_read",
            "accepted",
            "quarantined",
            "skipped",
            "duplicates",
            "conflicts",
            "undone_at",
        ),
    ),
    "quarantine": TableSpec(
        labels={
            **{k: COLUMNS[k] for k in _QUARANTINE},
            "line": _C("Line in file", "count"),
            "why": _C("Why quarantined", width=_WIDE),
        },
        lead=(*_QUARANTINE, "line", "why"),
        hidden=frozenset({"quarantine_import"}),
        file_columns=True,
    ),
    "conflicts": TableSpec(
        ("what", "kept (stored)", "not stored (imported)", "kind", "from", "patient"),
        {
            "what": _C("What (measure and time)", width=_WIDE),
            "kept (stored)": _C("Stored value (kept)"),
            "not stored (imported)": _C("Imported value (not stored)"),
            "kind": _C("Kind of conflict"),
            "from": _C("From (file, line)", width=_WIDE),
            "patient": COLUMNS["patient_id"],
        },
    ),
    "import_files": TableSpec(
        (
            "file",
            "preset",
            "rows_read",
            "accepted",
            "quarantined",
            "skipped",
            "duplicates",
            "conflicts",
            "already_imported",
        ),
    ),
    "reasons": TableSpec(
        labels={
            "column": _C("Column"),
            "rows": _C("Rows", "count"),
            "example rows (line numbers)": _C("Example lines", width=_WIDE),
        }
    ),
    "review_now": TableSpec(
        labels={
            "signal": _C("Signal", width=_WIDE),
            "line": _C("Line", "count"),
            "seen": _C("Seen"),
            "not stored because": _C("Not stored because", width=_WIDE),
            "what to do": _C("What to do", width=_WIDE),
            "imported at": _C("Imported", "datetime"),
        }
    ),
    "no_baseline": TableSpec(("patient_id", "clinic", "instrument", "baseline_status")),
    "outside_windows": TableSpec(("clinic", "instrument", "reason", "assessments")),
    # audit trail and definitions page
    "audit": TableSpec(("seq", "at", "user_name", "role", "action", "target", "detail")),
    "settings": TableSpec(("setting", "value", "meaning", "source")),
    "instruments": TableSpec(
        labels={"instrument": _C("Code"), "remission": _C("Remission below", missing="")}
    ),
    "mme_factors": TableSpec(labels={"ingredient": _C("Ingredient")}),
}


def shown(frame: pl.DataFrame, table: str, ci: str = "95% CI") -> DisplayTable:
    """``frame`` formatted as the table ``table`` is declared."""
    return _display(frame, TABLES[table], COLUMNS, ci=ci, table=table)
