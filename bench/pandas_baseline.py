"""BENCHMARK BASELINE - NOT PRODUCT CODE.

The comparison implementation for ``bench.run``: the same import and the same cohort
figures kapoutcomes computes, written the way a capable analyst would write them with
pandas + pandera (pandas backend) + lifelines, so that the benchmark compares equal work.
``tests/test_bench_agreement.py`` checks that its figures agree with kapoutcomes'.

What it reuses from kapoutcomes is *data*, not computation: the instrument registry (score
ranges, LOINC codes, response thresholds), the MME factor table, the outcome definitions
(``Settings``) and the pseudonymisation rule (HMAC-SHA256 of the MRN). Everything else -
reading, parsing, validating, de-duplicating, baselines, change, induction, response
episodes, rates, Kaplan-Meier, MME, adverse-event rates - is pandas / scipy / lifelines.

Scope: the import of a long observation export into a fresh store (assessments and patient
rows; vitals need sessions, which a fresh store lacks, so they are skipped, as kapoutcomes
does), and the cohort figures: baselines, change and % change at the end of induction,
response rates (evaluable and ITT, Wilson intervals), Kaplan-Meier durability of the first
response episode (lifelines), opioid daily MME at baseline / 3 / 6 months, and adverse
events per 100 dosing sessions (exact Poisson intervals), overall and by each comparison
dimension. kapoutcomes' ``cohort_summary`` computes more (attrition, monthly improvement,
cost, completeness, excursions, flags, log-rank, funnel), so the comparison favours this
baseline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
from lifelines import KaplanMeierFitter
from scipy import stats

from kapoutcomes import tables
from kapoutcomes.definitions import instruments, opioids
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.outcomes.rules import response_rules

DIMENSIONS = ("clinic", "condition", "route", "care_model", "clinician", "start_period")
DOSING = ("induction", "maintenance", "booster")
MEASURES = ("response", "substantial", "remission", "mcid_improved", "reliable_improvement")
INSTRUMENT_BY_LOINC = {i.loinc: i.code for i in instruments.INSTRUMENTS.values() if i.loinc}
ITEM_BY_LOINC = {instruments.PHQ9_ITEM9_LOINC: ("phq9", instruments.PHQ9_ITEM9)}
VITAL_LOINC = {"8480-6", "8462-4", "8867-4", "59408-5", "29463-7"}
RANGES = pd.DataFrame(
    [
        {
            "instrument": i.code,
            "minimum": float(i.minimum),
            "maximum": float(i.maximum),
            "item_minimum": np.nan if i.item_minimum is None else float(i.item_minimum),
            "item_maximum": np.nan if i.item_maximum is None else float(i.item_maximum),
            "items": i.items,
        }
        for i in instruments.INSTRUMENTS.values()
    ]
)


# == import ===================================================================================
class AssessmentSchema(pa.DataFrameModel):
    """tables.Assessments in pandera's pandas backend."""

    patient_id: str = pa.Field(str_matches=tables.PATIENT_ID)
    assessed_at: pd.Timestamp = pa.Field(ge=pd.Timestamp(tables.EARLIEST))
    instrument: str = pa.Field(isin=list(instruments.INSTRUMENTS))
    item: pd.Int32Dtype = pa.Field(ge=1, le=99, nullable=True)
    score: float
    session_id: str = pa.Field(nullable=True)
    timing: str = pa.Field(isin=list(tables.TIMINGS), nullable=True)

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check
    def score_in_range(cls, df: pd.DataFrame) -> pd.Series:
        r = df[["instrument"]].merge(RANGES, on="instrument", how="left").set_index(df.index)
        total = df["score"].between(r["minimum"], r["maximum"])
        item = df["score"].between(r["item_minimum"], r["item_maximum"])
        return total.where(df["item"].isna(), item) | r["minimum"].isna()

    @pa.dataframe_check
    def item_exists(cls, df: pd.DataFrame) -> pd.Series:
        items = df["instrument"].map(RANGES.set_index("instrument")["items"])
        return df["item"].isna() | (df["item"] <= items).fillna(False).astype(bool)

    @pa.dataframe_check
    def not_future(cls, df: pd.DataFrame) -> pd.Series:
        return df["assessed_at"] <= pd.Timestamp.now() + pd.Timedelta(days=1)


class PatientSchema(pa.DataFrameModel):
    patient_id: str = pa.Field(str_matches=tables.PATIENT_ID, unique=True)
    clinic: str = pa.Field(str_length={"min_value": 1, "max_value": 80})
    primary_condition: str = pa.Field(isin=list(tables.CONDITIONS))

    class Config:
        coerce = True


def pseudonymise(mrns: pd.Series, secret: bytes) -> pd.Series:
    """HMAC-SHA256 of each distinct normalised MRN (the kapoutcomes rule), mapped back."""
    uniq = mrns.dropna().unique()
    ids = {
        m: "p_"
        + hmac.new(secret, re.sub(r"\s+", "", m).upper().encode(), hashlib.sha256).hexdigest()[:16]
        for m in uniq
    }
    return mrns.map(ids)


def import_long(
    path: str,
    store_path: str,
    secret: bytes,
    clinic: str,
    condition: str = "other",
    settings: Settings | None = None,
) -> dict[str, int]:
    """Read a long observation export, normalise, validate (pandera, pandas backend),
    de-duplicate and write assessments and new patients to a fresh DuckDB store file."""
    settings = settings or Settings()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw.columns = [c.strip() for c in raw.columns]
    counts = {"rows_read": len(raw)}
    code = raw["loinc_code"].str.strip()
    value = raw["value"].str.strip()
    instrument = code.map(INSTRUMENT_BY_LOINC)
    item_inst = code.map({k: v[0] for k, v in ITEM_BY_LOINC.items()})
    item = code.map({k: v[1] for k, v in ITEM_BY_LOINC.items()}).astype("Int32")
    instrument = item_inst.fillna(instrument)
    is_vital = code.isin(VITAL_LOINC)
    blank = value.isin(["", "N/A", "NA", "n/a", "--", "-", "declined", "null", "NULL"])
    tracked = instrument.notna() | is_vital
    counts["skipped_untracked"] = int((~tracked).sum())
    counts["skipped_blank"] = int((tracked & blank).sum())
    # vitals belong to sessions; a fresh store has none, so they are skipped with a reason
    counts["skipped_vitals_without_session"] = int((is_vital & ~blank).sum())
    keep = instrument.notna() & ~blank
    # every row's patient and time are read (patients named only by untracked or vital rows
    # still get a patient row, referred on their first observation date)
    all_ids = pseudonymise(raw["patient_mrn"].str.strip().replace("", None), secret)
    ts = pd.to_datetime(raw["observed_at"].str.strip(), utc=True, format="ISO8601", errors="coerce")
    local = ts.dt.tz_convert(settings.clinic_timezone).dt.tz_localize(None)
    first_seen = local.groupby(all_ids).min().dt.date
    d = pd.DataFrame(
        {
            "patient_id": all_ids[keep],
            "assessed_at": local[keep],
            "instrument": instrument[keep],
            "item": item[keep],
            "value": value[keep],
        }
    )
    d["score"] = pd.to_numeric(d["value"].str.extract(r"^([-+]?\d+(?:\.\d+)?)")[0], errors="coerce")
    bad = d["score"].isna() | d["assessed_at"].isna() | d["patient_id"].isna()
    counts["quarantined_unparsed"] = int(bad.sum())
    d = d[~bad]
    a = d.assign(session_id=pd.Series(None, index=d.index, dtype=object), timing=None)[
        ["patient_id", "assessed_at", "instrument", "item", "score", "session_id", "timing"]
    ]
    try:
        a = AssessmentSchema.validate(a, lazy=True)
    except pa.errors.SchemaErrors as e:
        rows = e.failure_cases["index"].dropna().unique()
        counts["quarantined_invalid"] = len(rows)
        a = AssessmentSchema.validate(a.drop(index=rows), lazy=True)
    key = ["patient_id", "assessed_at", "instrument", "item"]
    dup = a.duplicated([*key, "score"], keep="first")
    counts["duplicates"] = int(dup.sum())
    a = a[~dup]
    conflict = a.duplicated(key, keep=False)
    counts["conflicts"] = int(conflict.sum())
    a = a[~conflict]
    # every patient the export names gets a row, as kapoutcomes does
    patients = pd.DataFrame({"patient_id": all_ids.dropna().unique()})
    patients["clinic"] = clinic
    patients["primary_condition"] = condition
    patients = PatientSchema.validate(patients)
    from kapoutcomes.storage.store import Store

    Store(store_path).close()  # the same table definitions as kapoutcomes' store
    con = duckdb.connect(store_path)
    try:
        con.execute("BEGIN TRANSACTION")
        known = set(con.execute("SELECT patient_id FROM patients").df()["patient_id"])
        new = patients[~patients["patient_id"].isin(known)].assign(
            comorbid_depression=False,
            sex="unknown",
            birth_year=None,
            age_band=None,
            referral_date=lambda f: f["patient_id"].map(first_seen),
            psychosis_history=False,
            cardiovascular_disease=False,
            raised_intracranial_pressure=False,
            substance_use_disorder=False,
            interacting_medication=False,
        )
        con.register("new_patients", new)
        cols = ", ".join(tables.columns("patients"))
        con.execute(f"INSERT INTO patients ({cols}) SELECT {cols} FROM new_patients")
        con.register("new_assessments", a)
        cols = ", ".join(tables.columns("assessments"))
        con.execute(f"INSERT INTO assessments ({cols}) SELECT {cols} FROM new_assessments")
        con.execute("COMMIT")
    finally:
        con.close()
    counts["assessments"] = len(a)
    counts["patients"] = len(new)
    return counts


# == cohort figures ===========================================================================
def read_store(store_path: str) -> dict[str, pd.DataFrame]:
    """The canonical tables as pandas frames (DuckDB -> pandas), assessments validated with
    pandera's pandas backend as the analyst's loading step."""
    con = duckdb.connect(store_path, read_only=True)
    try:
        t = {name: con.execute(f'SELECT * FROM "{name}"').df() for name in tables.MODELS}
    finally:
        con.close()
    t["assessments"]["item"] = t["assessments"]["item"].astype("Int32")
    t["assessments"] = AssessmentSchema.validate(t["assessments"], lazy=True)
    return t


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / 86400.0


def patient_groups(patients: pd.DataFrame, dosing: pd.DataFrame) -> pd.DataFrame:
    fd = dosing.drop_duplicates("patient_id").set_index("patient_id")[
        ["started_at", "route", "care_model", "clinician"]
    ]
    g = patients[["patient_id", "clinic", "primary_condition", "comorbid_depression"]].rename(
        columns={"primary_condition": "condition"}
    )
    g = g.merge(fd.rename(columns={"started_at": "first_dose_at"}), on="patient_id", how="left")
    g["dosed"] = g["first_dose_at"].notna()
    q = g["first_dose_at"]
    g["start_period"] = (
        q.dt.year.astype("Int64").astype(str) + "-Q" + q.dt.quarter.astype("Int64").astype(str)
    ).where(g["dosed"])
    return g


def _by_levels(frame: pd.DataFrame, groups: pd.DataFrame, dims=DIMENSIONS):
    """Yield (subgroup, frame with a 'level' column) overall and for each dimension."""
    f = frame.drop(columns=[d for d in dims if d in frame.columns])
    f = f.merge(groups[["patient_id", *dims]], on="patient_id", how="left")
    yield "all", f.assign(level="all")
    for d in dims:
        yield d, f.assign(level=f[d].astype(object).where(f[d].notna(), "unknown").astype(str))


def _wilson(k: np.ndarray, n: np.ndarray, cl: float) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = [], []
    for kk, nn in zip(k, n, strict=True):
        if nn > 0:
            ci = stats.binomtest(int(kk), int(nn)).proportion_ci(cl, method="wilson")
            lo.append(ci.low)
            hi.append(ci.high)
        else:
            lo.append(np.nan)
            hi.append(np.nan)
    return np.asarray(lo), np.asarray(hi)


def baselines(totals: pd.DataFrame, dosing: pd.DataFrame, s: Settings) -> pd.DataFrame:
    fd = dosing.drop_duplicates("patient_id").set_index("patient_id")[["started_at", "session_id"]]
    fd = fd.rename(columns={"started_at": "first_dose_at", "session_id": "first_session_id"})
    fd = fd.reset_index()
    inst = pd.DataFrame({"instrument": sorted(totals["instrument"].unique())})
    grid = fd.merge(inst, how="cross")
    t = totals.merge(fd, on="patient_id")
    before = (t["assessed_at"] <= t["first_dose_at"]) | (
        (t["session_id"] == t["first_session_id"]) & t["timing"].isin(["baseline", "before_dose"])
    )
    cand = t[before]
    win = cand[
        cand["assessed_at"] >= cand["first_dose_at"] - pd.Timedelta(days=s.baseline_window_days)
    ]
    last = (
        win.sort_values(["patient_id", "instrument", "assessed_at"], kind="stable")
        .groupby(["patient_id", "instrument"], sort=False)
        .tail(1)[["patient_id", "instrument", "score", "assessed_at"]]
        .rename(columns={"score": "baseline_score", "assessed_at": "baseline_at"})
    )
    out = grid.merge(last, on=["patient_id", "instrument"], how="left")
    out["has_baseline"] = out["baseline_score"].notna()
    return out.drop(columns="first_session_id")


def changes(totals: pd.DataFrame, base: pd.DataFrame, s: Settings) -> pd.DataFrame:
    rules = response_rules(s).to_pandas()
    sd = (
        base[base["has_baseline"]]
        .groupby("instrument")["baseline_score"]
        .std()
        .rename("baseline_sd")
        .reset_index()
    )
    t = totals.merge(
        base[["patient_id", "instrument", "first_dose_at", "baseline_score", "baseline_at"]],
        on=["patient_id", "instrument"],
    )
    t = t[
        (t["assessed_at"] > t["first_dose_at"])
        & ((t["assessed_at"] != t["baseline_at"]) | t["baseline_at"].isna())
    ]
    t = t.merge(rules, on="instrument", how="left").merge(sd, on="instrument", how="left")
    b = t["baseline_score"]
    has_b = b.notna()
    direction = np.where(t["higher_is_worse"], 1.0, -1.0)
    t["change"] = t["score"] - b
    t["pct_change"] = (t["change"] / b * 100.0).where(b != 0)
    t["improvement"] = -direction * t["change"]
    t["reduction_pct"] = -direction * t["pct_change"]
    red = t["reduction_pct"]

    def rule(threshold: str) -> pd.Series:
        ok = t[threshold].notna() & has_b
        return (red >= t[threshold]).astype(object).where(ok, None)

    t["responder"] = rule("response_pct")
    t["substantial"] = rule("substantial_pct")
    rem = pd.Series(None, index=t.index, dtype=object)
    rb, ra = t["remission_below"], t["remission_at_or_below"]
    rem = rem.mask(ra.notna(), (t["score"] <= ra).astype(object))
    rem = rem.mask(rb.notna(), (t["score"] < rb).astype(object))
    t["remission"] = rem
    t["mcid_improved"] = (
        (t["improvement"] >= t["mcid"]).astype(object).where(t["mcid"].notna() & has_b, None)
    )
    sem = t["baseline_sd"] * np.sqrt(1.0 - t["reliability"])
    rci = (t["change"] / (np.sqrt(2.0) * sem)).where(sem > 0)
    t["reliable_improvement"] = (
        (-direction * rci > instruments.RCI_CRITERION).astype(object).where(rci.notna(), None)
    )
    return t.sort_values(["patient_id", "instrument", "assessed_at"], kind="stable")


def induction_series(dosing: pd.DataFrame, s: Settings) -> pd.DataFrame:
    ind = dosing[dosing["session_type"] == "induction"].copy()
    gap = ind.groupby("patient_id", sort=False)["started_at"].diff().dt.total_seconds() / 86400
    ind["course"] = (gap.isna() | (gap > s.induction_max_gap_days)).astype(int)
    ind["course"] = ind.groupby("patient_id", sort=False)["course"].cumsum()
    out = ind.groupby(["patient_id", "course"], sort=False).agg(
        induction_start=("started_at", "first"),
        induction_end=("started_at", "last"),
        last_session_id=("session_id", "last"),
        infusions=("session_id", "size"),
    )
    out = out.reset_index()
    out["completed"] = out["infusions"] >= s.induction_complete_infusions
    return out


def end_of_induction(ch: pd.DataFrame, ind: pd.DataFrame, s: Settings) -> pd.DataFrame:
    first = ind[ind["course"] == 1][["patient_id", "induction_end", "last_session_id", "completed"]]
    c = ch.merge(first, on="patient_id")
    end = c["induction_end"] + pd.Timedelta(days=s.end_of_induction_window_days)
    c = c[
        (c["assessed_at"] > c["induction_end"])
        & ((c["session_id"] != c["last_session_id"]) | c["session_id"].isna())
        & (c["assessed_at"] <= end)
    ]
    return c.groupby(["patient_id", "instrument"], sort=False).head(1)


def itt_population(groups, totals, s: Settings) -> pd.DataFrame:
    rules = response_rules(s).to_pandas()
    rules = rules[
        rules[["response_pct", "remission_below", "remission_at_or_below", "mcid", "reliability"]]
        .notna()
        .any(axis=1)
    ]
    inst = rules[rules["instrument"].isin(totals["instrument"].unique())][["instrument", "domain"]]
    dosed = groups[groups["dosed"]][["patient_id", "comorbid_depression"]]
    scored = totals[["patient_id", "instrument"]].drop_duplicates().assign(scored=True)
    grid = dosed.merge(inst, how="cross").merge(scored, on=["patient_id", "instrument"], how="left")
    keep = (grid["domain"] != "depression") | grid["comorbid_depression"] | grid["scored"].eq(True)
    return grid[keep][["patient_id", "instrument"]]


def measure_population(itt, base, ind, groups, as_of, s: Settings) -> pd.DataFrame:
    """Eligible (baseline in the instrument's range), due (end-of-induction window closed by
    the data end) and completers, per patient and instrument of the ITT population."""
    rules = response_rules(s).to_pandas()[["instrument", "eligible_from", "best_score"]]
    p = itt.merge(base[["patient_id", "instrument", "baseline_score"]], how="left")
    p = p.merge(rules, on="instrument", how="left")
    b = p["baseline_score"]
    cut = p["eligible_from"]
    p["eligible"] = b.notna() & np.where(cut.notna(), b >= cut, b != p["best_score"])
    first = ind[ind["course"] == 1][["patient_id", "induction_end", "completed"]]
    g = groups[groups["dosed"]][["patient_id", "first_dose_at"]].merge(
        first, on="patient_id", how="left"
    )
    closes = g["induction_end"].fillna(g["first_dose_at"]) + pd.Timedelta(
        days=s.end_of_induction_window_days
    )
    g["due"] = closes <= as_of
    g["completed"] = g["completed"].fillna(False).astype(bool)
    p = p.merge(g[["patient_id", "due", "completed"]], on="patient_id", how="left")
    p["in_itt"] = p["eligible"] & p["due"].fillna(False).astype(bool)
    p["not_yet_due"] = p["eligible"] & ~p["in_itt"]
    p["missing"] = b.isna()
    p["not_eligible"] = b.notna() & ~p["eligible"]
    return p


def response_rates(eoi, pop, groups, s: Settings) -> pd.DataFrame:
    col = {"response": "responder"}
    rules = response_rules(s).to_pandas().set_index("instrument")
    defined = {
        "response": rules["response_pct"].notna(),
        "substantial": rules["substantial_pct"].notna(),
        "remission": rules["remission_below"].notna() | rules["remission_at_or_below"].notna(),
        "mcid_improved": rules["mcid"].notna(),
        "reliable_improvement": rules["reliability"].notna(),
    }
    e = eoi[["patient_id", "instrument", *[col.get(m, m) for m in MEASURES]]]
    joined = pop.merge(e, on=["patient_id", "instrument"], how="left")
    out = []
    for sub, f in _by_levels(joined, groups):
        for (lv, inst), x in f.groupby(["level", "instrument"]):
            itt = x[x["in_itt"]]
            for m in MEASURES:
                if not defined[m].get(inst, False):
                    continue
                c = col.get(m, m)
                known = itt[itt[c].notna()]
                done = known[known["completed"]]
                out.append(
                    {
                        "subgroup": sub,
                        "level": lv,
                        "instrument": inst,
                        "measure": m,
                        "n": int(known[c].astype(bool).sum()),
                        "denominator": len(known),
                        "itt_denominator": len(itt),
                        "completers_n": int(done[c].astype(bool).sum()),
                        "completers_denominator": len(done),
                        "started": len(x),
                        "missing_baseline": int(x["missing"].sum()),
                        "not_eligible": int(x["not_eligible"].sum()),
                        "not_yet_due": int(x["not_yet_due"].sum()),
                    }
                )
    r = pd.DataFrame(out)
    r["rate"] = (r["n"] / r["denominator"]).where(r["denominator"] > 0)
    r["lower"], r["upper"] = _wilson(
        r["n"].to_numpy(), r["denominator"].to_numpy(), s.confidence_level
    )
    r["itt_rate"] = (r["n"] / r["itt_denominator"]).where(r["itt_denominator"] > 0)
    r["itt_lower"], r["itt_upper"] = _wilson(
        r["n"].to_numpy(), r["itt_denominator"].to_numpy(), s.confidence_level
    )
    return r


def change_summary(eoi, groups, s: Settings) -> pd.DataFrame:
    rows = []
    for sub, e in _by_levels(eoi, groups):
        for (lv, inst), f in e.groupby(["level", "instrument"]):
            c = f["change"].dropna()
            rows.append(
                {
                    "subgroup": sub,
                    "level": lv,
                    "instrument": inst,
                    "n": len(c),
                    "denominator": len(f),
                    "mean_baseline": f.loc[c.index, "baseline_score"].mean(),
                    "mean": c.mean(),
                    "median": c.median(),
                    "mean_reduction_pct": f.loc[c.index, "reduction_pct"].mean(),
                }
            )
    return pd.DataFrame(rows)


def response_episodes(ch: pd.DataFrame, dosing: pd.DataFrame, s: Settings) -> pd.DataFrame:
    """The loss-of-response state machine, one (patient, instrument) stream at a time.

    The benchmark's own copy: the tests check the library against the plain-Python reference
    in tests/reference/episodes.py, not against this."""
    k = s.loss_consecutive_assessments
    a = ch[ch["responder"].notna()][["patient_id", "instrument", "assessed_at", "responder"]]
    a = a.rename(columns={"assessed_at": "t"}).assign(kind=0)
    streams = [a]
    if s.loss_on_unscheduled_booster:
        pi = a[["patient_id", "instrument"]].drop_duplicates()
        b = dosing[dosing["session_type"] == "booster"][["patient_id", "started_at"]]
        b = b.rename(columns={"started_at": "t"}).merge(pi, on="patient_id")
        streams.append(b.assign(kind=1, responder=None))
    st = pd.concat(streams, ignore_index=True).sort_values(
        ["patient_id", "instrument", "t", "kind"], kind="stable"
    )
    episodes = []
    for (pid, inst), g in st.groupby(["patient_id", "instrument"], sort=False):
        active = False
        n_below = 0
        first_below = None
        ep = 0
        onset = last = None
        for t, kind, resp in zip(g["t"], g["kind"], g["responder"], strict=True):
            if kind == 1:
                if active:
                    episodes.append((pid, inst, ep, onset, t, "booster", last))
                    active = False
                n_below = 0
                continue
            if resp:
                if not active:
                    active, ep, onset = True, ep + 1, t
                n_below, first_below, last = 0, None, t
            elif active:
                n_below += 1
                last = t
                if n_below == 1:
                    first_below = t
                if n_below >= k:
                    episodes.append((pid, inst, ep, onset, first_below, "loss", last))
                    active = False
        if active:
            episodes.append((pid, inst, ep, onset, None, None, last))
    ep = pd.DataFrame(
        episodes,
        columns=["patient_id", "instrument", "episode", "onset_at", "end_at", "end_reason", "last"],
    )
    dt_type = dosing["started_at"].dtype
    for c in ("onset_at", "end_at", "last"):
        ep[c] = pd.to_datetime(ep[c]).astype(dt_type)
    # origin: the dose that started the response (latest dose at or before onset)
    d = dosing.copy()
    d["origin_at"] = d["started_at"]
    ep = pd.merge_asof(
        ep.sort_values("onset_at"),
        d[["patient_id", "started_at", "origin_at", "session_type"]].sort_values("started_at"),
        left_on="onset_at",
        right_on="started_at",
        by="patient_id",
    )
    ep["event"] = ep["end_at"].notna()
    stop = ep["end_at"].where(ep["event"], ep["last"])
    ep["duration_days"] = _days(stop, ep["origin_at"])
    return ep.sort_values(["patient_id", "instrument", "episode"])


def primary_observations(ep: pd.DataFrame, eoi: pd.DataFrame, pop: pd.DataFrame) -> pd.DataFrame:
    """End-of-induction responders of the response rates (eligible and due: ``pop.in_itt``)
    with the episode running at their end-of-induction score, timed from the end of
    induction."""
    rated = pop[pop["in_itt"]][["patient_id", "instrument"]]
    r = eoi[eoi["responder"].eq(True)].merge(rated, on=["patient_id", "instrument"])
    r = r[["patient_id", "instrument", "assessed_at", "induction_end"]].sort_values("assessed_at")
    e = ep[["patient_id", "instrument", "onset_at", "end_at", "event", "last"]]
    e = e.assign(onset_at=e["onset_at"].astype(r["assessed_at"].dtype))
    j = pd.merge_asof(
        r,
        e.sort_values("onset_at"),
        left_on="assessed_at",
        right_on="onset_at",
        by=["patient_id", "instrument"],
    )
    j = j[j["onset_at"].notna() & (j["end_at"].isna() | (j["end_at"] >= j["assessed_at"]))]
    j = j.assign(event=j["event"].astype(bool))
    stop = j["end_at"].where(j["event"], j["last"])
    return j.assign(duration_days=_days(stop, j["induction_end"]))


def _first_at_or_below(curve: pd.Series, has_events: bool) -> float | None:
    hit = curve.index[curve.to_numpy() <= 0.5 + 1e-12]
    return float(hit[0]) if has_events and len(hit) else None


def durability(obs: pd.DataFrame, groups: pd.DataFrame, s: Settings) -> pd.DataFrame:
    rows = []
    for sub, e in _by_levels(obs, groups):
        for (lv, inst), f in e.groupby(["level", "instrument"]):
            kmf = KaplanMeierFitter(alpha=1 - s.confidence_level)
            kmf.fit(f["duration_days"], f["event"])
            # the median is the first time S(t) <= 0.5; lifelines' median_survival_time_
            # misses a product that lands a rounding error above 0.5 (e.g. 5/6 * 3/5), so
            # compare with a 1e-12 tolerance, and read the median's limits off the band
            sf = kmf.survival_function_.iloc[:, 0]
            ci = kmf.confidence_interval_
            has_events = bool(f["event"].any())

            row = {
                "subgroup": sub,
                "level": lv,
                "instrument": inst,
                "n": len(f),
                "events": int(f["event"].sum()),
                "median_days": _first_at_or_below(sf, has_events),
                "median_lower": _first_at_or_below(ci.iloc[:, 0], has_events),
                "median_upper": _first_at_or_below(ci.iloc[:, 1], has_events),
            }
            for w in (4, 8, 12):
                t = 7.0 * w
                observed = f["duration_days"].max() >= t
                row[f"s_{w}w"] = (
                    float(kmf.survival_function_at_times(t).iloc[0]) if observed else None
                )
            rows.append(row)
    return pd.DataFrame(rows)


def mme_course(opi, dosing, sessions, assessments, s: Settings) -> pd.DataFrame:
    fd = dosing.drop_duplicates("patient_id").set_index("patient_id")["started_at"]
    fd = fd.rename("first_dose_at")
    points = pd.DataFrame({"timepoint": ["baseline", "3 months", "6 months"], "day": [0, 91, 183]})
    grid = fd.reset_index().merge(points, how="cross")
    grid["date"] = (grid["first_dose_at"] + pd.to_timedelta(grid["day"], unit="D")).dt.normalize()
    last = (
        pd.concat(
            [
                sessions[["patient_id", "started_at"]].rename(columns={"started_at": "at"}),
                assessments[["patient_id", "assessed_at"]].rename(columns={"assessed_at": "at"}),
            ]
        )
        .groupby("patient_id")["at"]
        .max()
    )
    grid["observed"] = (grid["day"] == 0) | (
        grid["patient_id"].map(last).dt.normalize() >= grid["date"]
    )
    tab = opioids.TABLES[s.mme_table]
    o = opi.copy()
    ing = o["ingredient"].str.lower()

    def factor(row) -> float:
        f = tab.get(row.ing)
        return np.nan if f is None else f.for_dose(row.daily_dose)

    o["factor"] = [
        factor(r) for r in pd.DataFrame({"ing": ing, "daily_dose": o["daily_dose"]}).itertuples()
    ]
    o["mme"] = o["daily_dose"] * o["factor"]
    o["start"] = pd.to_datetime(o["start_date"])
    o["stop"] = pd.to_datetime(o["stop_date"])
    g = grid.reset_index().merge(
        o[["patient_id", "start", "stop", "mme", "ingredient"]], on="patient_id"
    )
    g = g[(g["start"] <= g["date"]) & ((g["stop"] >= g["date"]) | g["stop"].isna())]
    agg = g.groupby("index").agg(
        daily_mme=("mme", "sum"),
        on_opioids=("mme", lambda v: v.notna().any()),
        buprenorphine=("ingredient", lambda v: (v == "buprenorphine").any()),
    )
    grid = grid.join(agg)
    grid["daily_mme"] = grid["daily_mme"].fillna(0.0).where(grid["observed"])
    grid["on_opioids"] = grid["on_opioids"].eq(True).where(grid["observed"])
    grid["buprenorphine"] = grid["buprenorphine"].eq(True).where(grid["observed"])
    base = grid[grid["day"] == 0].set_index("patient_id")["daily_mme"]
    grid["baseline_mme"] = grid["patient_id"].map(base)
    grid["reduction_pct"] = (
        -(grid["daily_mme"] - grid["baseline_mme"]) / grid["baseline_mme"] * 100
    ).where(grid["baseline_mme"] > 0)
    return grid


def opioid_summary(mme: pd.DataFrame, groups: pd.DataFrame, s: Settings) -> pd.DataFrame:
    rows = []
    for sub, e in _by_levels(mme, groups):
        for (lv, tp, day), every in e.groupby(["level", "timepoint", "day"]):
            # every timepoint has its rows, 0 of 0 when nobody was observed there
            f = every[every["observed"].astype(bool)]
            on_base = f["baseline_mme"] > 0
            mm = f["daily_mme"]
            rows += [
                (sub, lv, tp, "on_opioids", int(f["on_opioids"].astype(bool).sum()), len(f)),
                (sub, lv, tp, "above_50_mme", int((mm >= 50).sum()), len(f)),
                (sub, lv, tp, "above_90_mme", int((mm >= 90).sum()), len(f)),
                (sub, lv, tp, "buprenorphine", int(f["buprenorphine"].eq(True).sum()), len(f)),
            ]
            if day > 0:
                rows += [
                    (
                        sub,
                        lv,
                        tp,
                        "reduction_50",
                        int((on_base & (f["reduction_pct"] >= 50)).sum()),
                        int(on_base.sum()),
                    ),
                    (
                        sub,
                        lv,
                        tp,
                        "discontinued",
                        int((on_base & (mm == 0)).sum()),
                        int(on_base.sum()),
                    ),
                ]
            rows.append((sub, lv, tp, "median_mme_all", float(mm.median()), len(f)))
    out = pd.DataFrame(
        rows, columns=["subgroup", "level", "timepoint", "measure", "n", "denominator"]
    )
    share = ~out["measure"].str.startswith("median")
    out["value"] = np.where(
        share, 100.0 * out["n"] / out["denominator"].where(out["denominator"] > 0), out["n"]
    )
    return out


def adverse_event_rates(aes, dosing, groups, s: Settings) -> pd.DataFrame:
    a = aes.copy()
    serious = a["serious"].fillna(False).astype(bool) | a["event"].isin(tables.SERIOUS_EVENTS)
    a["seriousness"] = np.where(serious, "serious", "not serious")
    a["overall"] = "any adverse event"
    dos_levels = dict(_by_levels(dosing, groups))
    rows = []
    alpha = 1 - s.confidence_level
    for sub, e in _by_levels(a, groups):
        d = dos_levels[sub]
        sess = d.groupby("level").size()
        for dim, col in (
            ("overall", "overall"),
            ("event", "event"),
            ("seriousness", "seriousness"),
        ):
            g = e.groupby(["level", col]).size().rename("events").reset_index()
            g = g.rename(columns={col: "category"}).assign(subgroup=sub, dimension=dim)
            g["sessions"] = g["level"].map(sess).fillna(0).astype(int)
            rows.append(g)
    out = pd.concat(rows, ignore_index=True)
    k, n = out["events"].to_numpy(float), out["sessions"].to_numpy(float)
    out["per_100_sessions"] = 100 * k / n
    out["per_100_lower"] = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0) / n * 100
    out["per_100_upper"] = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / n * 100
    return out


def cohort_figures(t: dict[str, pd.DataFrame], s: Settings | None = None) -> dict[str, Any]:
    """Every figure of the comparison from the canonical tables (pandas frames)."""
    s = s or Settings()
    sessions = t["sessions"]
    dosing = sessions[sessions["session_type"].isin(DOSING)].sort_values(
        ["patient_id", "started_at", "session_id"], kind="stable"
    )
    assessments = t["assessments"]
    totals = assessments[assessments["item"].isna() & (assessments["timing"] != "after_dose")]
    groups = patient_groups(t["patients"], dosing)
    base = baselines(totals, dosing, s)
    ch = changes(totals, base, s)
    ind = induction_series(dosing, s)
    eoi = end_of_induction(ch, ind, s)
    itt = itt_population(groups, totals, s)
    as_of = max(sessions["started_at"].max(), assessments["assessed_at"].max())
    pop = measure_population(itt, base, ind, groups, as_of, s)
    ep = response_episodes(ch, dosing, s)
    mme = mme_course(t["opioids"], dosing, sessions, assessments, s)
    return {
        "baselines": base,
        "response": response_rates(eoi, pop, groups, s),
        "change": change_summary(eoi, groups, s),
        "durability": durability(primary_observations(ep, eoi, pop), groups, s),
        "opioids": opioid_summary(mme, groups, s),
        "adverse_events": adverse_event_rates(t["adverse_events"], dosing, groups, s),
    }


def cohort_report(store_path: str, s: Settings | None = None) -> dict[str, Any]:
    """Read the store and compute every figure (the benchmarked step)."""
    return cohort_figures(read_store(store_path), s)
