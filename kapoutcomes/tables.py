"""The canonical tables: pandera-polars models, the data contract at every boundary.

Each model checks names, types and values. Checks that need more than one column carry an
``error`` of the form ``"column|reason"`` so that a failure can be reported against the
column a person would correct. ``validate`` turns pandera's failure cases into one row per
(row, column, value, reason); ``check_relations`` checks keys between tables.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from kapoutcomes.definitions import instruments, opioids

CONDITIONS = ("CRPS", "neuropathic", "fibromyalgia", "phantom_limb", "migraine_headache", "other")
SEXES = ("female", "male", "other", "unknown")
SESSION_TYPES = (
    "screening",
    "induction",
    "maintenance",
    "booster",
    "preparation",
    "integration",
    "psychotherapy",
)
#: Session types at which ketamine is given.
DOSING_TYPES = ("induction", "maintenance", "booster")
ROUTES = ("IV", "IM", "intranasal", "sublingual", "oral", "topical")
CARE_MODELS = ("KAP", "infusion_only")
TIMINGS = ("baseline", "before_dose", "after_dose", "follow_up")
#: Controlled vocabulary of adverse events (clinical reference, safety monitoring).
EVENTS = (
    "dissociation",
    "nausea_vomiting",
    "dizziness",
    "sedation",
    "raised_blood_pressure",
    "raised_heart_rate",
    "headache",
    "anxiety_panic",
    "hallucinations",
    "vivid_dreams",
    "visual_disturbance",
    "memory_effects",
    "urinary_symptoms",
    "psychosis",
    "hypertensive_crisis",
    "respiratory_depression",
    "abuse_misuse",
    "other",
)
#: Events that are serious whatever severity is recorded (clinical reference: serious).
SERIOUS_EVENTS = ("psychosis", "hypertensive_crisis", "respiratory_depression", "abuse_misuse")
SEVERITIES = ("mild", "moderate", "severe")
ACTIONS = (
    "none",
    "observation_extended",
    "infusion_slowed",
    "infusion_paused",
    "infusion_stopped",
    "medication_given",
    "next_dose_reduced",
    "hospital_transfer",
    "other",
)
OPIOID_UNITS = ("mg", "mcg/hr")

EARLIEST = dt.datetime(2000, 1, 1)
EARLIEST_DATE = dt.date(2000, 1, 1)
PATIENT_ID = r"^p_[0-9a-f]{16}$"


def _now_limit() -> dt.datetime:
    """Latest plausible time: one day after now (clock skew, time zones)."""
    return dt.datetime.now() + dt.timedelta(days=1)


class Patients(pa.DataFrameModel):
    """One row per patient. No direct identifiers: the id is a keyed hash of the MRN."""

    patient_id: str = pa.Field(
        str_matches=PATIENT_ID,
        unique=True,
        description="pseudonymous patient id: keyed hash of the clinic MRN (p_ + 16 hex)",
    )
    clinic: str = pa.Field(str_length={"min_value": 1, "max_value": 80}, description="clinic name")
    primary_condition: str = pa.Field(isin=CONDITIONS, description="primary chronic pain condition")
    comorbid_depression: bool = pa.Field(description="comorbid depression at intake")
    sex: str = pa.Field(isin=SEXES, description="sex recorded by the clinic")
    birth_year: pl.Int32 = pa.Field(
        ge=1900, le=2100, nullable=True, description="year of birth (never the full date)"
    )
    age_band: str = pa.Field(
        str_matches=r"^(\d{2}-\d{2}|90\+)$",
        nullable=True,
        description="age band at first treatment, e.g. 40-49; 90+ above 89",
    )
    referral_date: pl.Date = pa.Field(ge=EARLIEST_DATE, description="date of referral")
    psychosis_history: bool = pa.Field(description="screening flag: history of psychosis")
    cardiovascular_disease: bool = pa.Field(
        description="screening flag: severe cardiovascular disease"
    )
    raised_intracranial_pressure: bool = pa.Field(
        description="screening flag: elevated intracranial pressure"
    )
    substance_use_disorder: bool = pa.Field(description="screening flag: substance-use disorder")
    interacting_medication: bool = pa.Field(
        description="screening flag: interacting medication or food (clarithromycin, grapefruit)"
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="referral_date|referral date is in the future")
    def referral_not_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("referral_date") <= pl.lit(_now_limit().date()))

    @pa.dataframe_check(error="birth_year|birth year gives an age outside 12-110 years at referral")
    def plausible_age(cls, data: pa.PolarsData) -> pl.LazyFrame:
        age = pl.col("referral_date").dt.year() - pl.col("birth_year")
        return data.lazyframe.select(pl.col("birth_year").is_null() | age.is_between(12, 110))


class Sessions(pa.DataFrameModel):
    """One row per treatment contact (screening, dosing, preparation, integration, therapy)."""

    session_id: str = pa.Field(
        unique=True, str_length={"min_value": 1, "max_value": 64}, description="session id"
    )
    patient_id: str = pa.Field(str_matches=PATIENT_ID, description="pseudonymous patient id")
    started_at: pl.Datetime = pa.Field(
        ge=EARLIEST, description="start of the session, clinic local time"
    )
    session_type: str = pa.Field(
        isin=SESSION_TYPES,
        description="screening, induction, maintenance (scheduled), booster (unscheduled), "
        "preparation, integration or psychotherapy (no dosing)",
    )
    route: str = pa.Field(
        isin=ROUTES, nullable=True, description="route of ketamine; dosing sessions only"
    )
    dose_mg: float = pa.Field(
        gt=0, le=1500, nullable=True, description="ketamine dose given", metadata={"unit": "mg"}
    )
    dose_mg_per_kg: float = pa.Field(
        gt=0,
        le=20,
        nullable=True,
        description="dose per kg body weight when weight is known",
        metadata={"unit": "mg/kg"},
    )
    weight_kg: float = pa.Field(
        ge=25, le=350, nullable=True, description="body weight", metadata={"unit": "kg"}
    )
    infusion_minutes: pl.Int32 = pa.Field(
        ge=1, le=1440, nullable=True, description="infusion duration", metadata={"unit": "min"}
    )
    care_model: str = pa.Field(
        isin=CARE_MODELS, description="KAP (with psychotherapy) or infusion_only"
    )
    clinician: str = pa.Field(nullable=True, description="clinician code (staff, not patient)")
    bp_systolic_before: pl.Int32 = pa.Field(
        ge=50,
        le=300,
        nullable=True,
        description="systolic BP before dosing",
        metadata={"unit": "mmHg"},
    )
    bp_diastolic_before: pl.Int32 = pa.Field(
        ge=20,
        le=200,
        nullable=True,
        description="diastolic BP before dosing",
        metadata={"unit": "mmHg"},
    )
    heart_rate_before: pl.Int32 = pa.Field(
        ge=20,
        le=250,
        nullable=True,
        description="heart rate before dosing",
        metadata={"unit": "beats/min"},
    )
    spo2_before: pl.Int32 = pa.Field(
        ge=50,
        le=100,
        nullable=True,
        description="oxygen saturation before dosing",
        metadata={"unit": "%"},
    )
    bp_systolic_after: pl.Int32 = pa.Field(
        ge=50,
        le=300,
        nullable=True,
        description="systolic BP after dosing",
        metadata={"unit": "mmHg"},
    )
    bp_diastolic_after: pl.Int32 = pa.Field(
        ge=20,
        le=200,
        nullable=True,
        description="diastolic BP after dosing",
        metadata={"unit": "mmHg"},
    )
    heart_rate_after: pl.Int32 = pa.Field(
        ge=20,
        le=250,
        nullable=True,
        description="heart rate after dosing",
        metadata={"unit": "beats/min"},
    )
    spo2_after: pl.Int32 = pa.Field(
        ge=50,
        le=100,
        nullable=True,
        description="oxygen saturation after dosing",
        metadata={"unit": "%"},
    )
    cost_usd: float = pa.Field(
        ge=0,
        le=20000,
        nullable=True,
        description="charge for the session when exported",
        metadata={"unit": "USD"},
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="started_at|session date is in the future")
    def not_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("started_at") <= pl.lit(_now_limit()))

    @pa.dataframe_check(
        error="route|a dosing session (induction, maintenance, booster) needs a route"
    )
    def dosing_has_route(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            ~pl.col("session_type").is_in(DOSING_TYPES) | pl.col("route").is_not_null()
        )

    @pa.dataframe_check(error="dose_mg|a session without dosing cannot carry a ketamine dose")
    def dose_only_when_dosing(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("session_type").is_in(DOSING_TYPES) | pl.col("dose_mg").is_null()
        )

    @pa.dataframe_check(error="bp_diastolic_before|diastolic BP must be below systolic")
    def bp_before_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("bp_diastolic_before") < pl.col("bp_systolic_before")).fill_null(True)
        )

    @pa.dataframe_check(error="bp_diastolic_after|diastolic BP must be below systolic")
    def bp_after_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("bp_diastolic_after") < pl.col("bp_systolic_after")).fill_null(True)
        )

    @pa.dataframe_check(
        error="dose_mg_per_kg|dose per kg does not match dose_mg / weight_kg (5% tolerance)"
    )
    def per_kg_consistent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        expected = pl.col("dose_mg") / pl.col("weight_kg")
        ok = ((pl.col("dose_mg_per_kg") - expected).abs() <= 0.05 * expected + 0.01).fill_null(True)
        return data.lazyframe.select(ok)


class Assessments(pa.DataFrameModel):
    """Long format: one score per row; item answers (PHQ-9 item 9) sit beside totals."""

    patient_id: str = pa.Field(str_matches=PATIENT_ID, description="pseudonymous patient id")
    assessed_at: pl.Datetime = pa.Field(
        ge=EARLIEST, description="time of the assessment, clinic local time"
    )
    instrument: str = pa.Field(
        isin=tuple(instruments.INSTRUMENTS), description="instrument code from the registry"
    )
    item: pl.Int32 = pa.Field(
        ge=1,
        le=99,
        nullable=True,
        description="item number for item-level answers; empty for totals",
    )
    score: float = pa.Field(description="total score, or the item answer when item is set")
    session_id: str = pa.Field(nullable=True, description="the session this assessment belongs to")
    timing: str = pa.Field(
        isin=TIMINGS, nullable=True, description="baseline, before_dose, after_dose or follow_up"
    )

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="score|score outside the instrument's range")
    def score_in_range(cls, data: pa.PolarsData) -> pl.LazyFrame:
        lf = data.lazyframe.join(
            instruments.range_frame().lazy(), on="instrument", how="left", maintain_order="left"
        )
        total_ok = pl.col("score").is_between(pl.col("minimum"), pl.col("maximum"))
        item_ok = pl.col("score").is_between(pl.col("item_minimum"), pl.col("item_maximum"))
        ok = pl.when(pl.col("item").is_null()).then(total_ok).otherwise(item_ok)
        return lf.select(ok.fill_null(False) | pl.col("minimum").is_null())

    @pa.dataframe_check(error="score|an item answer is a whole number (e.g. 0, 1, 2 or 3)")
    def item_answer_whole(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("item").is_null() | (pl.col("score") == pl.col("score").round(0)).fill_null(True)
        )

    @pa.dataframe_check(
        error=(
            "score|this instrument's total is a whole number (the sum of its item answers); a "
            "total prorated or averaged over missing items is not a score: import the item "
            "answers, or the rounded total your proration rule gives"
        )
    )
    def summed_total_whole(cls, data: pa.PolarsData) -> pl.LazyFrame:
        lf = data.lazyframe.join(
            instruments.range_frame().lazy(), on="instrument", how="left", maintain_order="left"
        )
        whole = (pl.col("score") == pl.col("score").round(0)).fill_null(True)
        return lf.select(pl.col("item").is_not_null() | ~pl.col("summed").fill_null(False) | whole)

    @pa.dataframe_check(error="item|item number beyond the instrument's item count")
    def item_exists(cls, data: pa.PolarsData) -> pl.LazyFrame:
        lf = data.lazyframe.join(
            instruments.range_frame().lazy(), on="instrument", how="left", maintain_order="left"
        )
        return lf.select(
            pl.col("item").is_null() | (pl.col("item") <= pl.col("items")).fill_null(False)
        )

    @pa.dataframe_check(error="assessed_at|assessment date is in the future")
    def not_future(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("assessed_at") <= pl.lit(_now_limit()))


class Opioids(pa.DataFrameModel):
    """Opioid prescriptions or reported use, with the daily MME derived from them."""

    patient_id: str = pa.Field(str_matches=PATIENT_ID, description="pseudonymous patient id")
    ingredient: str = pa.Field(isin=opioids.INGREDIENTS, description="opioid ingredient")
    strength: float = pa.Field(
        gt=0,
        le=2000,
        nullable=True,
        description="strength of one unit (tablet, patch)",
        metadata={"unit": "mg or mcg/hr"},
    )
    unit: str = pa.Field(
        isin=OPIOID_UNITS, description="mg (per day) or mcg/hr (transdermal patch)"
    )
    frequency_per_day: float = pa.Field(
        gt=0, le=24, nullable=True, description="units taken per day", metadata={"unit": "per day"}
    )
    daily_dose: float = pa.Field(
        gt=0,
        le=5000,
        description="daily dose: mg/day, or mcg/hr for transdermal fentanyl",
        metadata={"unit": "mg/day or mcg/hr"},
    )
    start_date: pl.Date = pa.Field(ge=EARLIEST_DATE, description="start of use")
    stop_date: pl.Date = pa.Field(nullable=True, description="end of use; empty while ongoing")
    mme_factor: float = pa.Field(
        ge=0, le=20, nullable=True, description="conversion factor used; empty when none exists"
    )
    daily_mme: float = pa.Field(
        ge=0,
        le=100000,
        nullable=True,
        description="daily morphine milligram equivalents",
        metadata={"unit": "MME/day"},
    )
    mme_table: str = pa.Field(isin=tuple(opioids.TABLES), description="MME factor table used")
    rxnorm: str = pa.Field(nullable=True, description="RxNorm code as exported")
    description: str = pa.Field(nullable=True, description="medication description as exported")

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="stop_date|stop date before start date")
    def stop_after_start(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("stop_date") >= pl.col("start_date")).fill_null(True))

    @pa.dataframe_check(error="unit|transdermal fentanyl is dosed in mcg/hr, everything else in mg")
    def unit_matches(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("ingredient") == "fentanyl") == (pl.col("unit") == "mcg/hr")
        )

    @pa.dataframe_check(error="daily_mme|daily MME is not daily_dose x mme_factor")
    def mme_consistent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        expected = pl.col("daily_dose") * pl.col("mme_factor")
        ok = (pl.col("daily_mme") - expected).abs() <= 1e-6 * (1 + expected)
        both_null = pl.col("daily_mme").is_null() & pl.col("mme_factor").is_null()
        return data.lazyframe.select(ok.fill_null(False) | both_null)


class AdverseEvents(pa.DataFrameModel):
    """Side effects and adverse events in a controlled vocabulary."""

    event_id: str = pa.Field(
        unique=True, str_length={"min_value": 1, "max_value": 64}, description="event id"
    )
    patient_id: str = pa.Field(str_matches=PATIENT_ID, description="pseudonymous patient id")
    session_id: str = pa.Field(
        nullable=True, description="the session during or after which it began"
    )
    event: str = pa.Field(isin=EVENTS, description="event from the controlled vocabulary")
    event_text: str = pa.Field(nullable=True, description="free text; required when event is other")
    severity: str = pa.Field(isin=SEVERITIES, nullable=True, description="mild, moderate or severe")
    grade: pl.Int32 = pa.Field(ge=1, le=5, nullable=True, description="CTCAE-style grade 1-5")
    serious: bool = pa.Field(description="serious adverse event")
    onset_at: pl.Datetime = pa.Field(ge=EARLIEST, description="onset, clinic local time")
    resolved_at: pl.Datetime = pa.Field(
        nullable=True, description="resolution; empty while ongoing"
    )
    action_taken: str = pa.Field(isin=ACTIONS, nullable=True, description="action taken")

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(error="event_text|an event of 'other' needs its text")
    def other_has_text(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("event") != "other") | pl.col("event_text").is_not_null()
        )

    @pa.dataframe_check(error="severity|give a severity (mild, moderate, severe) or a grade 1-5")
    def has_severity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("severity").is_not_null() | pl.col("grade").is_not_null()
        )

    @pa.dataframe_check(error="resolved_at|resolved before onset")
    def resolved_after_onset(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("resolved_at") >= pl.col("onset_at")).fill_null(True))


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "patients": Patients,
    "sessions": Sessions,
    "assessments": Assessments,
    "opioids": Opioids,
    "adverse_events": AdverseEvents,
}

#: Natural keys: two rows with the same key describe the same fact.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "sessions": ("patient_id", "started_at", "session_type"),
    "assessments": ("patient_id", "assessed_at", "instrument", "item"),
    "opioids": ("patient_id", "ingredient", "start_date", "daily_dose"),
    "adverse_events": ("patient_id", "onset_at", "event"),
}

FAILURE_SCHEMA = {
    "table": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "reason": pl.String,
}


class TableContractError(ValueError):
    """A frame that does not have the table's columns at all (not a row-level problem)."""


@dataclass(frozen=True)
class Validation:
    """Rows that passed (``valid``) and one failure row per (row, column, reason)."""

    table: str
    valid: pl.DataFrame
    failures: pl.DataFrame  # FAILURE_SCHEMA; row is the 0-based position in the input

    @property
    def ok(self) -> bool:
        return self.failures.height == 0


def _expected(check: str) -> str:
    """Turn a pandera check name into words a person can act on."""
    m = re.fullmatch(r"(\w+)\((.*)\)", check, flags=re.S)
    if not m:
        return check
    name, arg = m.groups()
    words = {
        "greater_than_or_equal_to": f"expected a value of at least {arg}",
        "less_than_or_equal_to": f"expected a value of at most {arg}",
        "greater_than": f"expected a value above {arg}",
        "less_than": f"expected a value below {arg}",
        "in_range": f"expected a value in the range {arg}",
        "isin": f"expected one of {arg}",
        "str_matches": f"expected text matching {arg}",
        "str_length": f"expected text of length {arg}",
        "dtype": f"expected type {arg}",
        "field_uniqueness": "expected a unique value (duplicate)",
    }
    return words.get(name, check)


def _reason(column: str, check: str) -> tuple[str, str]:
    if "|" in check:
        col, why = check.split("|", 1)
        return col, why
    if check == "not_nullable":
        return column, "a value is required"
    return column, _expected(check)


def _score_range_words(instrument: str | None, item: int | None) -> str:
    inst = instruments.INSTRUMENTS.get(instrument or "")
    if inst is None:
        return "score outside the instrument's range"
    if item is None:
        return f"expected a {inst.code} total from {inst.minimum:g} to {inst.maximum:g}"
    if inst.item_minimum is None:
        return f"{inst.code} has no item-level answers"
    return f"expected a {inst.code} item answer from {inst.item_minimum:g} to {inst.item_maximum:g}"


def validate(table: str, frame: pl.DataFrame) -> Validation:
    """Validate ``frame`` against the model of ``table`` row by row.

    Raises ``TableContractError`` when columns are missing or unexpected (the whole frame is
    unusable); otherwise returns the passing rows and the failures.
    """
    model = MODELS[table]
    schema = model.to_schema()
    expected_cols = list(schema.columns)
    missing = [c for c in expected_cols if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected_cols]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected columns: {', '.join(extra)}")
        raise TableContractError(f"{table}: {'; '.join(parts)}")
    frame = frame.select(expected_cols)
    # Coerce column by column first so a value of the wrong type fails its own row only.
    failures: list[dict[str, object]] = []
    coerced = {}
    for name, col in schema.columns.items():
        target = col.dtype.type
        s = frame.get_column(name)
        try:
            cast = s.cast(target, strict=False)
        except Exception:
            cast = pl.Series(name, [None] * len(s), dtype=target)
        cast, beyond = _within_calendar(cast)
        failures += [{"table": table, **f} for f in beyond]
        bad = s.is_not_null() & cast.is_null() & ~_flagged(beyond, len(s))
        if bad.any():
            for i in bad.arg_true().to_list():
                failures.append(
                    {
                        "table": table,
                        "row": i,
                        "column": name,
                        "value": str(s[i]),
                        "reason": f"expected type {target}",
                    }
                )
        coerced[name] = cast
    frame = pl.DataFrame(coerced)
    outside_calendar = {(f["row"], f["column"]) for f in failures if f["reason"] == BEYOND}
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        for rec in fc.iter_rows(named=True):
            col, why = _reason(rec["column"] or "", rec["check"] or "")
            idx = rec["index"]
            if idx is None:
                raise TableContractError(f"{table}: {col}: {why}") from None
            if (int(idx), col) in outside_calendar:  # already failed, with its reason
                continue
            value = frame[idx, col] if col in frame.columns else rec["failure_case"]
            if table == "assessments" and col == "score" and "range" in why:
                why = _score_range_words(frame[idx, "instrument"], frame[idx, "item"])
            failures.append(
                {
                    "table": table,
                    "row": int(idx),
                    "column": col,
                    "value": None if value is None else str(value),
                    "reason": why,
                }
            )
    fail = pl.DataFrame(failures, schema=FAILURE_SCHEMA).unique(maintain_order=True)
    bad_rows = set(fail.get_column("row").to_list())
    keep = pl.Series([i not in bad_rows for i in range(frame.height)], dtype=pl.Boolean)
    return Validation(table=table, valid=frame.filter(keep), failures=fail.sort("row", "column"))


#: The years a date can be checked in: Python's calendar (pandera reports a failing value
#: as a Python object, and a datetime of year 10000, such as 9999-12-31 23:59 plus an
#: infusion's hour, has none: its failure would abort the whole import instead of its row).
CALENDAR_YEARS = (1, 9999)
BEYOND = f"expected a date between the years {CALENDAR_YEARS[0]} and {CALENDAR_YEARS[1]}"


def _within_calendar(s: pl.Series) -> tuple[pl.Series, list[dict[str, object]]]:
    """A date or time column with the values outside ``CALENDAR_YEARS`` set to null, and one
    failure per such value (its row is quarantined with the reason, the others go on)."""
    if not s.dtype.is_temporal() or s.dtype == pl.Time or s.dtype == pl.Duration:
        return s, []
    year = s.dt.year()
    outside = (year < CALENDAR_YEARS[0]) | (year > CALENDAR_YEARS[1])
    if not outside.fill_null(False).any():
        return s, []
    outside = outside.fill_null(False)
    shown = s.cast(pl.String)  # a year-10000 value has no Python datetime to print
    failures: list[dict[str, object]] = [
        {
            "column": s.name,
            "row": i,
            "value": shown[i],
            "reason": BEYOND,
        }
        for i in outside.arg_true().to_list()
    ]
    kept = s.to_frame().select(pl.when(outside).then(None).otherwise(pl.col(s.name)))
    return kept.to_series().alias(s.name), failures


def _flagged(failures: list[dict[str, object]], n: int) -> pl.Series:
    rows = {int(f["row"]) for f in failures}  # type: ignore[call-overload]
    return pl.Series([i in rows for i in range(n)], dtype=pl.Boolean)


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the table's columns and types."""
    schema = MODELS[table].to_schema()
    return pl.DataFrame(schema={name: col.dtype.type for name, col in schema.columns.items()})


def columns(table: str) -> list[str]:
    return list(MODELS[table].to_schema().columns)


def check_relations(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Keys between tables: every patient_id exists in patients, every session_id in sessions,
    and no session, assessment or event falls before the patient's birth year.
    Returns failures in ``FAILURE_SCHEMA`` (row = position in the child table)."""
    out: list[pl.DataFrame] = []
    patients = tables.get("patients", empty("patients"))
    sessions = tables.get("sessions", empty("sessions"))
    pids = patients.select("patient_id", "birth_year")
    sids = sessions.select("session_id")

    def fails(table: str, frame: pl.DataFrame, mask: pl.Expr, column: str, reason: str) -> None:
        f = (
            frame.with_row_index("row")
            .filter(mask)
            .select(
                pl.lit(table).alias("table"),
                pl.col("row").cast(pl.Int64),
                pl.lit(column).alias("column"),
                pl.col(column).cast(pl.String).alias("value"),
                pl.lit(reason).alias("reason"),
            )
        )
        out.append(f)

    date_cols = {
        "sessions": "started_at",
        "assessments": "assessed_at",
        "adverse_events": "onset_at",
        "opioids": "start_date",
    }
    for table, frame in tables.items():
        if table == "patients" or frame.height == 0:
            continue
        known = frame.join(pids, on="patient_id", how="left", maintain_order="left")
        fails(
            table,
            known.with_columns(
                _m=pl.col("patient_id").is_in(pids.get_column("patient_id").implode())
            ),
            ~pl.col("_m"),
            "patient_id",
            "patient_id not found in patients",
        )
        if table in date_cols:
            year = pl.col(date_cols[table]).dt.year()
            fails(
                table,
                known,
                pl.col("birth_year").is_not_null() & (year < pl.col("birth_year")),
                date_cols[table],
                "date is before the patient's birth year",
            )
        if "session_id" in frame.columns and table != "sessions":
            fails(
                table,
                frame.with_columns(
                    _m=pl.col("session_id").is_in(sids.get_column("session_id").implode())
                ),
                pl.col("session_id").is_not_null() & ~pl.col("_m"),
                "session_id",
                "session_id not found in sessions",
            )
    if not out:
        return pl.DataFrame(schema=FAILURE_SCHEMA)
    return pl.concat(out).sort("table", "row")
