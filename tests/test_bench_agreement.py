"""The pandas benchmark baseline (bench/pandas_baseline.py) computes the same cohort figures
as kapoutcomes, so that the benchmark compares equal work (issue 7)."""

from __future__ import annotations

import math

import pandas as pd
import polars as pl
import pytest

from kapoutcomes.cohort.summary import cohort_summary
from kapoutcomes.definitions.settings import Settings
from kapoutcomes.demo import generator
from kapoutcomes.outcomes import change, dosing
from kapoutcomes.storage.store import Store

pytest.importorskip("lifelines")
from bench import pandas_baseline as pb

PATIENTS = 400


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "store.duckdb"
    with Store(path) as st:
        st.write_tables(generator.generate(seed=11, patients=PATIENTS).tables)
    with Store(path, read_only=True) as st:
        tabs = st.read_all()
    s = Settings()
    return tabs, cohort_summary(tabs, s), pb.cohort_report(str(path), s)


def _merge(ours: pl.DataFrame, theirs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    m = ours.to_pandas().merge(theirs, on=keys, how="outer", suffixes=("", "_pd"), indicator=True)
    missing = m[m["_merge"] != "both"]
    assert missing.empty, f"rows only on one side:\n{missing[[*keys, '_merge']].head(20)}"
    return m


def _close(m: pd.DataFrame, cols: list[str], tol: float = 1e-9) -> None:
    for c in cols:
        a, b = m[c].astype(float), m[f"{c}_pd"].astype(float)
        both_nan = a.isna() & b.isna()
        ok = both_nan | ((a - b).abs() <= tol * (1 + b.abs()))
        bad = m.loc[~ok]
        assert bad.empty, f"{c} differs:\n{bad.iloc[:10][[c, c + '_pd']]}"


def _all_levels(summary, section: str, frame: str, comp: str) -> pl.DataFrame:
    overall = summary[section].frames[frame]
    return pl.concat([overall, summary["comparisons"].frames[comp]], how="diagonal_relaxed")


def test_baselines_agree(both):
    tabs, _, theirs = both
    dos = dosing.dosing_sessions(tabs["sessions"])
    ours = change.baselines(tabs["assessments"], dos, Settings())
    m = _merge(ours.select("patient_id", "instrument", "baseline_score", "has_baseline"),
               theirs["baselines"][["patient_id", "instrument", "baseline_score", "has_baseline"]],
               ["patient_id", "instrument"])  # fmt: skip
    assert (m["has_baseline"] == m["has_baseline_pd"]).all()
    _close(m, ["baseline_score"])


def test_response_rates_agree(both):
    _, summary, theirs = both
    ours = _all_levels(summary, "response", "rates", "response")
    keys = ["subgroup", "level", "instrument", "measure"]
    cols = ["n", "denominator", "itt_denominator", "missing_baseline", "rate", "lower",
            "upper", "itt_rate", "itt_lower", "itt_upper", "completers_n",
            "completers_denominator", "started", "not_eligible", "not_yet_due"]  # fmt: skip
    m = _merge(ours.select(*keys, *cols), theirs["response"], keys)
    _close(m, cols, 1e-9)
    assert ours.height > 100


def test_change_from_baseline_agrees(both):
    _, summary, theirs = both
    ours = _all_levels(summary, "change", "end_of_induction", "change")
    keys = ["subgroup", "level", "instrument"]
    m = _merge(ours.select(*keys, "n", "denominator", "mean_baseline", "mean", "median",
                           "mean_reduction_pct"), theirs["change"], keys)  # fmt: skip
    _close(m, ["n", "denominator", "mean_baseline", "mean", "median", "mean_reduction_pct"])


def test_durability_agrees_with_lifelines(both):
    _, summary, theirs = both
    ours = pl.concat(
        [summary["durability"].frames["summary"], summary["comparisons"].frames["durability"]],
        how="diagonal_relaxed",
    )
    keys = ["subgroup", "level", "instrument"]
    cols = ["n", "events", "median_days", "median_lower", "median_upper", "s_4w", "s_8w", "s_12w"]
    m = _merge(ours.select(*keys, *cols), theirs["durability"], keys)
    _close(m, ["n", "events", "median_days", "s_4w", "s_8w", "s_12w"], 1e-9)
    assert m["events"].sum() > 50


def test_durability_median_ci_agrees_with_lifelines(both):
    _, summary, theirs = both
    ours = pl.concat(
        [summary["durability"].frames["summary"], summary["comparisons"].frames["durability"]],
        how="diagonal_relaxed",
    )
    keys = ["subgroup", "level", "instrument"]
    m = _merge(ours.select(*keys, "median_lower", "median_upper"), theirs["durability"], keys)
    _close(m, ["median_lower", "median_upper"], 1e-6)


def test_opioid_mme_agrees(both):
    _, summary, theirs = both
    ours = _all_levels(summary, "opioids", "timepoints", "opioids").filter(
        ~pl.col("measure").is_in(["median_mme_on_opioids", "mean_mme_change"])
    )
    keys = ["subgroup", "level", "timepoint", "measure"]
    m = _merge(ours.select(*keys, "n", "denominator", "value"), theirs["opioids"], keys)
    share = ~m["measure"].str.startswith("median")
    _close(m[share], ["n", "denominator", "value"])
    _close(m[~m.index.isin(m[share].index)].assign(value_pd=m["n_pd"]), ["value"])


AE_KEYS = ["subgroup", "level", "dimension", "category"]
AE_COLS = ["events", "sessions", "per_100_sessions", "per_100_lower", "per_100_upper"]


def _ae(summary, theirs, route: bool) -> pd.DataFrame:
    ours = _all_levels(summary, "safety", "adverse_events", "adverse_events").filter(
        pl.col("dimension").is_in(["overall", "event", "seriousness"])
        & ((pl.col("subgroup") == "route") == route)
    )
    t = theirs["adverse_events"]
    return _merge(ours.select(*AE_KEYS, *AE_COLS), t[(t["subgroup"] == "route") == route], AE_KEYS)


def test_adverse_events_per_100_sessions_agree(both):
    _, summary, theirs = both
    m = _ae(summary, theirs, route=False)
    _close(m, AE_COLS)
    assert not math.isnan(m["per_100_sessions"].sum())


def test_adverse_events_by_route_agree(both):
    _, summary, theirs = both
    _close(_ae(summary, theirs, route=True), AE_COLS)


def test_import_baseline_writes_what_kapoutcomes_writes(tmp_path, monkeypatch):
    """The pandas import baseline and kapoutcomes' importer store the same assessments and
    patients from the benchmark's long observation export."""
    from bench import data
    from kapoutcomes import ingest
    from kapoutcomes.storage import privacy

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    cohort_ = generator.generate(seed=5, patients=150)
    path = tmp_path / "observations.csv"
    rows = data.write_observations(cohort_, path)
    ours, theirs = tmp_path / "ours.duckdb", tmp_path / "theirs.duckdb"
    report = ingest.import_files([path], ours, clinic=data.LONG_CLINIC, secret=privacy.DEMO_SECRET)
    counts = pb.import_long(str(path), str(theirs), privacy.DEMO_SECRET, data.LONG_CLINIC)
    assert report.files[0].rows_read == counts["rows_read"] == rows
    cols = ["patient_id", "assessed_at", "instrument", "item", "score"]
    with Store(ours, read_only=True) as a, Store(theirs, read_only=True) as b:
        for table, key in (("assessments", cols), ("patients", ["patient_id"])):
            x = a.read(table).select(key).sort(key)
            y = b.read(table).select(key).sort(key)
            assert x.height > 0
            assert x.equals(y), table
