"""Extractors: one RawTable in a known layout -> candidate rows of the canonical tables.

Every input row is identified by a row key ``_rk`` (file index x 10^9 + line number). An
extractor returns the candidate rows (each carrying the ``_rk`` of the input row it came
from), row-level problems (quarantine) and skipped rows with their reasons. Validation,
relations, de-duplication and the final accounting happen once, in ``pipeline``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from kapoutcomes import tables
from kapoutcomes.definitions import instruments, opioids
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.ingest import deid, opioid_text, safety_signals
from kapoutcomes.ingest import normalise as nm
from kapoutcomes.ingest.read import LINE, SHAPE, RawTable
from kapoutcomes.storage import privacy

RK = "_rk"
PROBLEM_SCHEMA = {RK: pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}
SKIP_SCHEMA = {RK: pl.Int64, "reason": pl.String}
VITAL_SCHEMA = {
    RK: pl.Int64,
    "patient_id": pl.String,
    "at": pl.Datetime("us"),
    "vital": pl.String,  # systolic | diastolic | heart_rate | spo2 | weight_kg
    "value": pl.Float64,
}
ACTIVITY_SCHEMA = {
    RK: pl.Int64,
    "patient_id": pl.String,
    "at_date": pl.Date,
    "clinic": pl.String,
    "primary_condition": pl.String,
    "sex": pl.String,
    "birth_date": pl.Date,
    "comorbid_depression": pl.Boolean,
}

#: LOINC codes of vital signs and where they land on a session.
VITAL_LOINC = {
    "8480-6": "systolic",
    "8462-4": "diastolic",
    "8867-4": "heart_rate",
    "59408-5": "spo2",
    "2708-6": "spo2",
    "29463-7": "weight_kg",
}
VITAL_NAMES = {
    "systolic": "systolic",
    "systolicbloodpressure": "systolic",
    "sbp": "systolic",
    "diastolic": "diastolic",
    "diastolicbloodpressure": "diastolic",
    "dbp": "diastolic",
    "heartrate": "heart_rate",
    "pulse": "heart_rate",
    "hr": "heart_rate",
    "spo2": "spo2",
    "oxygensaturation": "spo2",
    "oxygensaturationinarterialbloodbypulseoximetry": "spo2",
    "bodyweight": "weight_kg",
    "weight": "weight_kg",
}
#: Item-level answers the product keeps: PHQ-9 item 9 (clinical reference), LOINC 44260-8.
ITEM_LOINC = {"44260-8": ("phq9", 9)}
INSTRUMENT_LOINC = {i.loinc: i.code for i in instruments.INSTRUMENTS.values() if i.loinc}


@dataclass
class Options:
    settings: Settings
    secret: bytes
    clinic: str | None
    condition: str
    date_order: str | None  # day-first / month-first as configured; None: decide per column
    assume_frequency: bool = False
    century_pivot: int | None = None  # two-digit years 00..pivot are 20xx (see normalise)


@dataclass
class Extract:
    """Candidates from one file."""

    kind: str
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)
    problems: list[pl.DataFrame] = field(default_factory=list)
    skipped: list[pl.DataFrame] = field(default_factory=list)
    vitals: pl.DataFrame | None = None
    activity: pl.DataFrame | None = None
    patient_rows: pl.DataFrame | None = None  # explicit patients (+ birth_date, referral null)
    notes: list[str] = field(default_factory=list)
    date_orders: list[nm.DateOrder] = field(default_factory=list)
    mrn_col: str | None = None
    dob_col: str | None = None
    patient_ids: pl.Series | None = None  # pseudonym per input row, for raw-row JSON
    #: rows carrying a safety signal (``safety_signals.SIGNAL_SCHEMA``): a PHQ-9 item 9 answer
    #: not known to be 0, a serious adverse event; kept after the candidates are released
    signals: list[pl.DataFrame] = field(default_factory=list)

    def release_candidates(self) -> None:
        """Drop the candidates, problems, skips, vital signs and activity once resolved
        (``Resolved`` holds what is written and accounted): millions of rows at scale."""
        self.outputs, self.problems, self.skipped = {}, [], []
        self.vitals = self.activity = self.patient_rows = None


def nulls(n: int, dtype: pl.DataType | type[pl.DataType] = pl.String) -> pl.Series:
    """``n`` nulls (without a Python list of ``n`` Nones)."""
    return pl.repeat(None, n, dtype=dtype, eager=True)


def repeat(value: str, n: int) -> pl.Series:
    """``value`` ``n`` times, as text."""
    return pl.repeat(value, n, dtype=pl.String, eager=True)


class Rows:
    """The input rows of one file with helpers to record problems and skips."""

    def __init__(self, raw: RawTable, rk_base: int, ex: Extract) -> None:
        self.f = raw.frame
        self.rk = (self.f.get_column(LINE) + rk_base).alias(RK)
        self.ex = ex
        shape = self.f.get_column(SHAPE)
        self.bad(shape.is_not_null(), "(row)", nulls(len(shape)), shape)

    def col(self, header: str | None) -> pl.Series:
        if not header:
            return nulls(self.f.height).alias("")
        return self.f.get_column(header)

    def bad(
        self,
        mask: pl.Series,
        column: str,
        values: pl.Series,
        reason: str | pl.Series,
    ) -> None:
        mask = mask.fill_null(False)
        if not mask.any():
            return
        rk = self.rk.filter(mask)
        self.ex.problems.append(
            pl.DataFrame(
                {
                    RK: rk,
                    "column": repeat(column, rk.len()),
                    "value": values.cast(pl.String).filter(mask),
                    "reason": repeat(reason, rk.len())
                    if isinstance(reason, str)
                    else reason.cast(pl.String).filter(mask),
                },
                schema=PROBLEM_SCHEMA,
            )
        )

    def skip(self, mask: pl.Series, reason: str | pl.Series) -> None:
        mask = mask.fill_null(False)
        if not mask.any():
            return
        rk = self.rk.filter(mask)
        why = (
            repeat(reason, rk.len())
            if isinstance(reason, str)
            else reason.cast(pl.String).filter(mask)
        )
        self.ex.skipped.append(pl.DataFrame({RK: rk, "reason": why}, schema=SKIP_SCHEMA))

    # -- typed columns with their problems ----------------------------------------------------
    def patient(self, header: str | None, secret: bytes) -> pl.Series:
        raw = self.col(header)
        # cleaned and pseudonymised once per distinct MRN text
        pid = nm.per_distinct(raw, lambda d: deid.pseudonymise(nm.clean(d), secret))
        pid = pid.alias("patient_id")
        self.bad(pid.is_null(), header or "MRN", raw, "the patient identifier (MRN) is missing")
        self.ex.mrn_col = header
        self.ex.patient_ids = pid
        return pid

    def datetime(
        self, header: str | None, opts: Options, required: bool = True, birth: bool = False
    ) -> pl.Series:
        """``birth``: a date of birth, which may be its year alone (as a downloaded
        quarantine file writes it): read as 1 January of that year (only the year is kept)."""
        raw = self.col(header)
        if birth:
            raw = raw.cast(pl.String).str.replace(r"^\s*((?:19|20)\d\d)\s*$", "$1-01-01")
        decided, against = nm.decide_date_order(raw, opts.date_order)
        order = decided.order if decided is not None else opts.date_order
        day_first = order == nm.DAY_FIRST
        if decided is not None:
            self.ex.date_orders.append(decided)
        out, present = nm.parse_datetime(
            raw,
            day_first,
            opts.settings.clinic_timezone,
            with_presence=True,
            century_pivot=opts.century_pivot,
        )
        unreadable = present & out.is_null()
        if decided is not None and decided.quarantined:  # values its order cannot read
            self.bad(against.is_not_null(), header or "date", raw, against)
            out = pl.select(pl.when(against.is_null()).then(out)).to_series().alias(out.name)
            unreadable = unreadable & against.is_null()
        if unreadable.any():
            hints = {
                v: nm.date_hint(v, day_first) for v in raw.filter(unreadable).unique().to_list()
            }
            why = raw.replace_strict(hints, default=None, return_dtype=pl.String)
            self.bad(unreadable, header or "date", raw, why)
        if required:
            self.bad(~present, header or "date", raw, "a date is required")
        return out

    def number(self, header: str | None, what: str = "a number") -> pl.Series:
        raw = self.col(header)
        out = nm.parse_number(raw)
        self.bad(nm.present(raw) & out.is_null(), header or "", raw, f"expected {what}")
        return out

    def integer(self, header: str | None, what: str = "a whole number") -> pl.Series:
        raw = self.col(header)
        out = nm.parse_int(raw)
        self.bad(nm.present(raw) & out.is_null(), header or "", raw, f"expected {what}")
        return out

    def boolean(self, header: str | None) -> pl.Series:
        raw = self.col(header)
        out = nm.parse_bool(raw)
        self.bad(nm.present(raw) & out.is_null(), header or "", raw, "expected yes or no")
        return out

    def vocab(self, header: str | None, vocabulary: tuple[str, ...], table: dict | None = None):
        raw = self.col(header)
        out = nm.translate(raw, table or {}, vocabulary)
        self.bad(
            nm.clean(raw, keep=tuple(v.lower() for v in vocabulary)).is_not_null() & out.is_null(),
            header or "",
            raw,
            f"expected one of {', '.join(vocabulary)}",
        )
        return out

    def text(self, header: str | None) -> pl.Series:
        out = nm.clean(self.col(header))
        return out.map_elements(privacy.scrub_text, return_dtype=pl.String) if out.len() else out


def stable_id(prefix: str, *parts: pl.Series) -> pl.Series:
    """Deterministic ids (so a repeated import yields the same ids)."""
    joined = pl.select(
        pl.concat_str([p.cast(pl.String).fill_null("") for p in parts], separator="|")
    ).to_series()
    return joined.map_elements(
        lambda s: f"{prefix}_{hashlib.sha256(s.encode()).hexdigest()[:16]}", return_dtype=pl.String
    )


def activity(rk: pl.Series, pid: pl.Series, at: pl.Series, **demo: pl.Series) -> pl.DataFrame:
    n = len(rk)
    data = {RK: rk, "patient_id": pid, "at_date": at.cast(pl.Date)}
    for c, t in ACTIVITY_SCHEMA.items():
        if c not in data:
            data[c] = demo.get(c, nulls(n, t).alias(c))
    return pl.DataFrame(data, schema=ACTIVITY_SCHEMA)


# -- long observations ----------------------------------------------------------------------
def _lookup(s: pl.Series, mapping: dict, dtype) -> pl.Series:
    return s.replace_strict(mapping, default=None, return_dtype=dtype)


_MEASURE_ROLES = ("code", "name", "value", "units", "item")


def _distinct_rows(frame: pl.DataFrame, columns: dict[str, str]) -> tuple[pl.DataFrame, pl.Series]:
    """The distinct combinations of some text columns (renamed ``role: header``) and, per row,
    the index of its combination: what is computed once per combination is then taken for each
    row with ``gather`` (a long export repeats a handful of codes, names, units and values over
    every row)."""
    cols = {role: frame.get_column(h).cast(pl.String).fill_null("") for role, h in columns.items()}
    if not cols:
        return pl.DataFrame({"_none": [None]}), pl.Series([0] * frame.height, dtype=pl.UInt32)
    sep = "\x1f"
    key = pl.select(pl.concat_str(list(cols.values()), separator=sep)).to_series()
    keys, idx = nm.distinct_index(key)  # (key has no null: its cells are filled)
    if (keys.str.count_matches(sep, literal=True) != len(cols) - 1).any():
        # a cell holds the separator (never in a real export): keys could be ambiguous
        keyed = pl.DataFrame(cols)
        distinct = keyed.unique(maintain_order=True).with_row_index("_k")
        idx = keyed.join(distinct, on=list(cols), how="left", maintain_order="left")
        return distinct.drop("_k"), idx.get_column("_k")
    distinct = (
        keys.str.split_exact(sep, len(cols) - 1).struct.rename_fields(list(cols)).struct.unnest()
        if len(cols) > 1
        else keys.alias(next(iter(cols))).to_frame()
    )
    return distinct, idx


@dataclass(frozen=True)
class _Distinct:
    """A long export's distinct (code, name, value, units, item) cells, ``idx`` giving each
    row's combination; problems and skips found per combination land on every row of it."""

    r: Rows
    d: pl.DataFrame
    idx: pl.Series

    def cell(self, role: str) -> pl.Series:
        if role in self.d.columns:
            return self.d.get_column(role)
        return pl.Series(role, [None] * self.d.height, dtype=pl.String)

    def rows(self, s: pl.Series) -> pl.Series:
        return s.gather(self.idx)

    def bad(self, mask: pl.Series, column: str, values: pl.Series, reason: str) -> None:
        mask = mask.fill_null(False)
        if mask.any():
            self.r.bad(self.rows(mask), column, self.rows(values), reason)

    def skip(self, mask: pl.Series, reason: str | pl.Series) -> None:
        mask = mask.fill_null(False)
        if mask.any():
            self.r.skip(self.rows(mask), reason if isinstance(reason, str) else self.rows(reason))


@dataclass(frozen=True)
class _Measured:
    """Per distinct combination: what was measured."""

    code: pl.Series
    name: pl.Series
    instrument: pl.Series  # an instrument code, or null
    vital: pl.Series  # a vital sign, or null
    item: pl.Series  # an item number, or null

    @property
    def tracked(self) -> pl.Series:
        return self.instrument.is_not_null() | self.vital.is_not_null()


def extract_long(raw: RawTable, roles: dict[str, str], opts: Options, rk_base: int) -> Extract:
    ex = Extract("observations")
    r = Rows(raw, rk_base, ex)
    pid = r.patient(roles.get("patient"), opts.secret)
    at = r.datetime(roles.get("date"), opts)
    # Everything below depends only on the code, name, value, units and item cells of a row:
    # computed once per distinct combination (``d``), then taken for each row (``idx``).
    d, idx = _distinct_rows(raw.frame, {k: roles[k] for k in _MEASURE_ROLES if roles.get(k)})
    c = _Distinct(r, d, idx)
    m = _measured(c, roles)
    _skip_untracked(c, m)
    value_raw = c.cell("value")
    value_present = nm.present(value_raw)
    score, assessed = _scores(c, m, roles, value_present)
    # the per-row columns each output takes, filtered together (one parallel pass per output)
    per_row = pl.DataFrame({RK: r.rk, "patient_id": pid, "at": at, "_k": idx})
    a = per_row.filter(c.rows(assessed.fill_null(False)))
    ia = a.get_column("_k")
    ex.outputs["assessments"] = pl.DataFrame(
        {
            RK: a.get_column(RK),
            "patient_id": a.get_column("patient_id"),
            "assessed_at": a.get_column("at"),
            "instrument": m.instrument.gather(ia),
            "item": m.item.gather(ia),
            "score": score.gather(ia),
            "session_id": nulls(a.height),
            "timing": nulls(a.height),
        }
    )
    ex.vitals = _vital_readings(c, m, roles, per_row, value_present)
    act = per_row.filter(c.rows((m.tracked & value_present).fill_null(False)))
    ex.activity = activity(act.get_column(RK), act.get_column("patient_id"), act.get_column("at"))
    return ex


def _measured(c: _Distinct, roles: dict[str, str]) -> _Measured:
    """The instrument (by item or instrument LOINC code, else by name) or vital sign (by
    LOINC code, else by name) and item number of each combination."""
    code = nm.clean(c.cell("code")).str.strip_chars()
    name = nm.clean(c.cell("name"))
    item_raw = c.cell("item")
    inst_by_code = _lookup(code, INSTRUMENT_LOINC, pl.String)
    item_inst = _lookup(code, {k: v[0] for k, v in ITEM_LOINC.items()}, pl.String)
    item_no = _lookup(code, {k: v[1] for k, v in ITEM_LOINC.items()}, pl.Int32)
    vital_by_code = _lookup(code, VITAL_LOINC, pl.String)
    names = name.unique().drop_nulls().to_list()
    recog = {n: (i.code if (i := instruments.recognise(n)) else None) for n in names}
    inst_by_name = _lookup(name, recog, pl.String)
    # a PHQ-9 item named by a name or local code ("PHQ9_9", "PHQ-9 item 9", its question)
    items_named = {
        t: n
        for t in {*names, *code.unique().drop_nulls().to_list()}
        if (n := safety_signals.phq9_item_of_name(t)) is not None
    }
    item_by_name = pl.select(
        pl.coalesce(
            _lookup(code, items_named, pl.Int32),
            _lookup(name, items_named, pl.Int32),
        )
    ).to_series()
    item_name_inst = pl.select(pl.when(item_by_name.is_not_null()).then(pl.lit("phq9"))).to_series()
    vital_names = {
        n: VITAL_NAMES[key] for n in names if (key := privacy.normalise_header(n)) in VITAL_NAMES
    }
    vital_by_name = _lookup(name, vital_names, pl.String)
    instrument = pl.select(
        pl.coalesce(item_inst, inst_by_code, item_name_inst, inst_by_name)
    ).to_series()
    vital = pl.select(pl.coalesce(vital_by_code, vital_by_name)).to_series()
    # an explicit item column (e.g. "PHQ-9", item 9 / "Q9" / "item 9" / "PHQ9_9")
    item_col = safety_signals.item_numbers(nm.clean(item_raw))
    c.bad(
        nm.present(item_raw) & item_col.is_null(),
        roles.get("item", ""),
        item_raw,
        "expected an item number such as 9, Q9 or item 9",
    )
    item = pl.select(pl.coalesce(item_no, item_by_name, item_col)).to_series().cast(pl.Int32)
    return _Measured(code, name, instrument, vital, item)


#: A code the skip reason may name: LOINC (``8302-2``), a LOINC answer (``LA6568-5``) or a
#: SNOMED / local code of up to eight digits. Anything else in the code cell (a phone number,
#: an MRN, text) is not echoed, nor is the description text: reasons never hold cell text.
_CODE_SHAPE = r"^(?:[A-Za-z]{1,2}\d{1,6}-\d|\d{1,7}-\d|\d{1,8})$"


def _skip_untracked(c: _Distinct, m: _Measured) -> None:
    """Rows measuring something kapoutcomes does not track are skipped, saying what (the code
    when it is code-shaped; never the description text, which is free text)."""
    code, name, tracked = m.code, m.name, m.tracked
    shown = code.str.strip_chars()
    label = pl.select(
        pl.when(shown.str.contains(_CODE_SHAPE).fill_null(False))
        .then(pl.lit("code ") + shown)
        .when(code.is_not_null())
        .then(pl.lit("an unrecognised code"))
        .otherwise(pl.lit("an unrecognised name"))
    ).to_series()
    c.skip(
        ~tracked & code.is_null() & name.is_null(),
        "no code or name: nothing says what was measured",
    )
    c.skip(
        ~tracked & (code.is_not_null() | name.is_not_null()),
        pl.select(pl.lit("observation not tracked by kapoutcomes: ") + label).to_series(),
    )


def _scores(
    c: _Distinct, m: _Measured, roles: dict[str, str], value_present: pl.Series
) -> tuple[pl.Series, pl.Series]:
    """Each combination's score ("7", "7/10"; for an item, also an LL358-3 answer text or LA
    code) and whether it is an assessment to keep. PHQ-9 item 9 answers not known to be 0 are
    marked as safety signals."""
    instrument, item = m.instrument, m.item
    value_raw = c.cell("value")
    item_other = instrument.is_not_null() & item.is_not_null() & (instrument != "phq9")
    sc = nm.parse_score(value_raw)
    answer = safety_signals.answer_points(nm.clean(value_raw))
    answer = pl.select(pl.when(item.is_not_null()).then(answer)).to_series()
    score = pl.select(pl.coalesce(sc.get_column("value"), answer)).to_series()
    maxima = {i.code: float(i.maximum) for i in instruments.INSTRUMENTS.values()}
    inst_max = _lookup(instrument, maxima, pl.Float64)
    denom = sc.get_column("denominator")
    c.skip(
        m.tracked & ~value_present,
        "no value (blank or a missing marker such as N/A, --, declined): nothing to import",
    )
    is_inst = instrument.is_not_null() & value_present
    c.bad(
        is_inst & score.is_null(),
        roles.get("value", "value"),
        value_raw,
        "expected a score such as 7, 7/10 or 7 out of 10",
    )
    c.bad(
        is_inst & item.is_null() & denom.is_not_null() & (denom != inst_max),
        roles.get("value", "value"),
        value_raw,
        "the score is written out of a different maximum than the instrument's",
    )
    c.skip(item_other, "item-level answers are kept for PHQ-9 item 9 only")
    is_item9 = (instrument == "phq9") & (item == instruments.PHQ9_ITEM9) & value_present
    if is_item9.fill_null(False).any():
        c.r.ex.signals.append(
            safety_signals.item9_signals(
                c.r.rk, c.rows(is_item9.fill_null(False)), c.rows(score), c.rows(value_raw)
            )
        )
    return score, is_inst & ~item_other


def _vital_readings(
    c: _Distinct,
    m: _Measured,
    roles: dict[str, str],
    per_row: pl.DataFrame,
    value_present: pl.Series,
) -> pl.DataFrame:
    """Vital-sign readings as numbers (weights in lb converted to kg)."""
    value_raw = c.cell("value")
    units = nm.clean(c.cell("units")).str.to_lowercase()
    v = nm.parse_number(value_raw)
    lb = units.str.contains(r"lb").fill_null(False)
    v = pl.select(
        pl.when(lb & (m.vital == "weight_kg")).then((v * 0.45359237).round(1)).otherwise(v)
    ).to_series()
    is_vital = m.vital.is_not_null() & m.instrument.is_null() & value_present
    c.bad(is_vital & v.is_null(), roles.get("value", "value"), value_raw, "expected a number")
    vs = per_row.filter(c.rows(is_vital.fill_null(False)))
    iv = vs.get_column("_k")
    return pl.DataFrame(
        {
            RK: vs.get_column(RK),
            "patient_id": vs.get_column("patient_id"),
            "at": vs.get_column("at"),
            "vital": m.vital.gather(iv),
            "value": v.gather(iv),
        },
        schema=VITAL_SCHEMA,
    )


# -- medications ----------------------------------------------------------------------------
def extract_medications(
    raw: RawTable, roles: dict[str, str], opts: Options, rk_base: int, kind: str = "medications"
) -> Extract:
    ex = Extract(kind)
    r = Rows(raw, rk_base, ex)
    pid = r.patient(roles.get("patient"), opts.secret)
    start = r.datetime(roles.get("start"), opts).cast(pl.Date)
    stop = r.datetime(roles.get("stop"), opts, required=False).cast(pl.Date)
    desc = nm.clean(r.col(roles.get("description")))
    code = nm.clean(r.col(roles.get("code")))
    pairs = pl.DataFrame({"d": desc, "c": code})
    cache = {(d, c): opioid_text.parse(d, c) for d, c in pairs.unique().iter_rows()}
    parsed = [cache[(d, c)] for d, c in pairs.iter_rows()]
    ingredient = pl.Series([p.ingredient for p in parsed], dtype=pl.String)
    strength = pl.Series([p.strength for p in parsed], dtype=pl.Float64)
    unit = pl.Series([p.unit for p in parsed], dtype=pl.String)
    problem = pl.Series([p.problem for p in parsed], dtype=pl.String)
    is_op = ingredient.is_not_null()
    r.skip(
        ~is_op & (desc.is_not_null() | code.is_not_null()),
        "not an opioid: kapoutcomes tracks opioid prescriptions only",
    )
    r.skip(~is_op & desc.is_null() & code.is_null(), "no medication description or code")
    where = roles.get("description") or roles.get("code") or "description"
    r.bad(is_op & problem.is_not_null(), where, desc.fill_null(code), problem)
    # daily dose: a daily_dose column, else strength x frequency (patches: the mcg/hr)
    freq_raw = r.col(roles.get("frequency"))
    freq = pl.Series([opioid_text.parse_frequency(v) for v in nm.clean(freq_raw)], dtype=pl.Float64)
    r.bad(
        nm.present(freq_raw) & freq.is_null(),
        roles.get("frequency", ""),
        freq_raw,
        "expected a frequency such as 4, 4/day, QID, q6h or every 6 hours",
    )
    patch = unit == "mcg/hr"
    assumed = pl.Series([opioid_text.assumed_frequency(p) for p in parsed], dtype=pl.Float64)
    if opts.assume_frequency:
        n_assumed = int((is_op & ~patch & freq.is_null() & problem.is_null()).sum())
        if n_assumed:
            ex.notes.append(
                f"{n_assumed} opioid prescription(s) had no dosing frequency; assumed "
                f"{opioid_text.ASSUMED_IR_PER_DAY:g} a day for immediate-release and 24 / hours "
                "for extended-release products (Synthea exports carry no dosing instructions)"
            )
        freq = pl.select(pl.when(freq.is_null() & ~patch).then(assumed).otherwise(freq)).to_series()
    given = r.number(roles.get("daily_dose"), "a daily dose in mg (or mcg/hr for a patch)")
    daily = pl.select(
        pl.coalesce(given, pl.when(patch).then(strength).otherwise(strength * freq))
    ).to_series()
    r.bad(
        is_op & problem.is_null() & daily.is_null(),
        roles.get("frequency") or where,
        freq_raw,
        "no dosing frequency, so no daily dose: add a frequency column (e.g. 4, QID or q6h) "
        "or a daily_dose column",
    )
    frame = pl.DataFrame(
        {
            RK: r.rk,
            "patient_id": pid,
            "ingredient": ingredient,
            "strength": strength,
            "unit": unit,
            "frequency_per_day": pl.select(pl.when(~patch).then(freq)).to_series(),
            "daily_dose": daily,
            "start_date": start,
            "stop_date": stop,
            "rxnorm": code,
            "description": desc.map_elements(privacy.scrub_text, return_dtype=pl.String)
            if desc.len()
            else desc,
        }
    ).filter(is_op)
    frame = opioids.add_daily_mme(frame, table=opts.settings.mme_table)
    bup = int((frame.get_column("ingredient") == "buprenorphine").sum())
    if bup:
        ex.notes.append(f"{bup} buprenorphine row(s): {opioids.NO_FACTOR['buprenorphine']}")
    ex.outputs["opioids"] = frame
    ex.activity = activity(r.rk, pid, start.cast(pl.Datetime("us"))).filter(is_op)
    return ex


# -- Synthea patients.csv -------------------------------------------------------------------
def extract_unused(raw: RawTable, kind: str, rk_base: int) -> Extract:
    """A file of a known layout that kapoutcomes does not import (a Synthea encounters or
    conditions file ...): every row skipped, with the reason."""
    ex = Extract(kind)
    rk = (raw.frame.get_column(LINE) + rk_base).alias(RK)
    reason = (
        f"a Synthea {kind} file: not used by kapoutcomes (it imports Synthea patients, "
        "observations and medications)"
    )
    ex.skipped.append(
        pl.DataFrame({RK: rk, "reason": repeat(reason, rk.len())}, schema=SKIP_SCHEMA)
    )
    return ex


def extract_synthea_patients(
    raw: RawTable, roles: dict[str, str], opts: Options, rk_base: int
) -> Extract:
    ex = Extract("patients")
    r = Rows(raw, rk_base, ex)
    pid = r.patient(roles.get("patient"), opts.secret)
    birth = r.datetime(roles.get("birth_date"), opts, required=False, birth=True).cast(pl.Date)
    ex.dob_col = roles.get("birth_date")
    sex = nm.parse_sex(r.col(roles.get("sex")))
    n = len(pid)
    if not opts.clinic:
        r.bad(
            pl.Series([True] * n),
            "clinic",
            pl.Series([None] * n, dtype=pl.String),
            "Synthea exports name no clinic: import with --clinic NAME (clinic= in Python)",
        )
    ex.patient_rows = pl.DataFrame(
        {
            RK: r.rk,
            "patient_id": pid,
            "clinic": pl.Series([opts.clinic] * n, dtype=pl.String),
            "primary_condition": pl.Series([opts.condition] * n, dtype=pl.String),
            "comorbid_depression": pl.Series([False] * n),
            "sex": sex.fill_null("unknown"),
            "birth_date": birth,
            "referral_date": pl.Series([None] * n, dtype=pl.Date),
        }
    )
    return ex


# -- canonical tables -----------------------------------------------------------------------
def _vocab_for(table: str, column: str) -> tuple[str, ...] | None:
    return {
        ("patients", "primary_condition"): tables.CONDITIONS,
        ("patients", "sex"): tables.SEXES,
        ("sessions", "session_type"): tables.SESSION_TYPES,
        ("sessions", "route"): tables.ROUTES,
        ("sessions", "care_model"): tables.CARE_MODELS,
        ("assessments", "timing"): tables.TIMINGS,
        ("adverse_events", "event"): tables.EVENTS,
        ("adverse_events", "severity"): tables.SEVERITIES,
        ("adverse_events", "action_taken"): tables.ACTIONS,
        ("opioids", "unit"): tables.OPIOID_UNITS,
        ("opioids", "ingredient"): opioids.INGREDIENTS,
    }.get((table, column))


def extract_canonical(
    raw: RawTable, table: str, roles: dict[str, str], opts: Options, rk_base: int
) -> Extract:
    ex = Extract(table)
    r = Rows(raw, rk_base, ex)
    schema = tables.empty(table).schema
    n = raw.height
    out: dict[str, pl.Series] = {RK: r.rk}
    for col, dtype in schema.items():
        h = roles.get(col)
        if col == "patient_id":
            out[col] = r.patient(h, opts.secret)
        elif h is None:
            out[col] = pl.Series(col, [None] * n, dtype=dtype)
        else:
            out[col] = _canonical_column(r, table, col, dtype, h, opts)
    frame = pl.DataFrame(out)
    if table == "patients":
        ex.patient_rows = _canonical_patients(r, frame, roles, opts)
        return ex
    frame = _derived_columns(table, frame, roles, opts)
    if table == "assessments":
        frame = _canonical_items(r, frame, roles)
    if table == "adverse_events":
        ex.signals.append(safety_signals.serious_event_signals(frame))
    ex.outputs[table] = frame
    date_col = {
        "sessions": "started_at",
        "assessments": "assessed_at",
        "opioids": "start_date",
        "adverse_events": "onset_at",
    }[table]
    ex.activity = activity(r.rk, frame["patient_id"], frame[date_col].cast(pl.Datetime("us")))
    return ex


def _canonical_column(
    r: Rows, table: str, col: str, dtype: Any, h: str, opts: Options
) -> pl.Series:
    """One column of a canonical-layout file, read by the column's vocabulary or type."""
    vocab = _vocab_for(table, col)
    if col == "sex":
        s = r.vocab(h, vocab, nm.SEX_WORDS).fill_null("unknown")  # blank: unknown
    elif vocab is not None:
        s = r.vocab(h, vocab)
    elif col == "instrument":
        rawc = r.col(h)
        vals = {
            v: (
                i.code
                if (i := instruments.recognise(v))
                else ("phq9" if safety_signals.phq9_item_of_name(v) else None)
            )
            for v in nm.clean(rawc).unique().drop_nulls()
        }
        s = _lookup(nm.clean(rawc), vals, pl.String)
        r.bad(nm.present(rawc) & s.is_null(), h, rawc, "not an instrument in the registry")
    elif col == "score":
        rawc = r.col(h)
        s = nm.parse_score(rawc).get_column("value")
        s = pl.select(pl.coalesce(s, safety_signals.answer_points(nm.clean(rawc)))).to_series()
        r.bad(
            nm.present(rawc) & s.is_null(),
            h,
            rawc,
            "expected a score such as 7 or 7/10 (an item answer may also be written as "
            "LOINC answer text such as Several days)",
        )
    elif col == "item":
        rawc = r.col(h)
        s = safety_signals.item_numbers(nm.clean(rawc))
        r.bad(
            nm.present(rawc) & s.is_null(),
            h,
            rawc,
            "expected an item number such as 9, Q9 or item 9",
        )
    elif isinstance(dtype, pl.Datetime):
        s = r.datetime(h, opts, required=False)
    elif dtype == pl.Date:
        s = r.datetime(h, opts, required=False).cast(pl.Date)
    elif dtype == pl.Boolean:
        s = r.boolean(h)
    elif dtype == pl.Float64:
        s = r.number(h)
    elif dtype == pl.Int32:
        s = r.integer(h)
    elif col in ("event_text", "description", "clinician"):
        s = r.text(h)
    else:
        s = nm.clean(r.col(h))
    return s.cast(dtype, strict=False).alias(col)


def _canonical_patients(
    r: Rows, frame: pl.DataFrame, roles: dict[str, str], opts: Options
) -> pl.DataFrame:
    """Patient rows: the clinic given when the file has none, the full birth date (kept
    only until de-identification)."""
    n = frame.height
    if "clinic" not in roles:
        frame = frame.with_columns(clinic=pl.lit(opts.clinic, dtype=pl.String))
        if not opts.clinic:
            r.bad(
                pl.Series([True] * n),
                "clinic",
                pl.Series([None] * n, dtype=pl.String),
                "no clinic column and no clinic given: import with --clinic NAME",
            )
    birth_h = roles.get("birth_date")
    birth = (
        r.datetime(birth_h, opts, required=False, birth=True).cast(pl.Date)
        if birth_h
        else pl.Series([None] * n, dtype=pl.Date)
    )
    r.ex.dob_col = birth_h
    return frame.with_columns(birth_date=birth)


def _canonical_items(r: Rows, frame: pl.DataFrame, roles: dict[str, str]) -> pl.DataFrame:
    """Assessment rows: a PHQ-9 item named in the instrument column ("PHQ9_9", read as
    instrument phq9) gives the item number; answer text on a total is a problem; PHQ-9 item 9
    answers not known to be 0 are marked as safety signals."""
    inst_raw = nm.clean(r.col(roles.get("instrument")))
    named = {
        t: n
        for t in inst_raw.unique().drop_nulls().to_list()
        if (n := safety_signals.phq9_item_of_name(t)) is not None
    }
    if named:
        by_name = _lookup(inst_raw, named, pl.Int32)
        frame = frame.with_columns(item=pl.coalesce(pl.col("item"), by_name))
    raw_score = r.col(roles.get("score"))
    answer = safety_signals.answer_points(nm.clean(raw_score)).is_not_null()
    r.bad(
        answer & frame.get_column("item").is_null(),
        roles.get("score", "score"),
        raw_score,
        "answer text such as Several days is an item answer: give the item number (e.g. 9)",
    )
    is_item9 = (frame.get_column("instrument") == "phq9") & (
        frame.get_column("item") == instruments.PHQ9_ITEM9
    )
    r.ex.signals.append(
        safety_signals.item9_signals(
            r.rk, is_item9 & nm.present(raw_score), frame.get_column("score"), raw_score
        )
    )
    return frame


def _derived_columns(
    table: str, frame: pl.DataFrame, roles: dict[str, str], opts: Options
) -> pl.DataFrame:
    """Columns the store derives: an opioid's daily dose and MME, session and event ids."""
    if table == "opioids":
        if "daily_dose" not in roles:
            frame = frame.with_columns(
                daily_dose=pl.when(pl.col("unit") == "mcg/hr")
                .then(pl.col("strength"))
                .otherwise(pl.col("strength") * pl.col("frequency_per_day"))
            )
        frame = opioids.add_daily_mme(
            frame.drop("mme_factor", "daily_mme", "mme_table"), table=opts.settings.mme_table
        )
    if table == "sessions" and "session_id" not in roles:
        frame = frame.with_columns(
            session_id=stable_id(
                "s", frame["patient_id"], frame["started_at"], frame["session_type"]
            )
        )
    if table == "adverse_events" and "event_id" not in roles:
        frame = frame.with_columns(
            event_id=stable_id("e", frame["patient_id"], frame["onset_at"], frame["event"])
        )
    return frame
