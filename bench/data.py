"""Benchmark cohorts at network scale: 10,000 / 100,000 / 1,000,000 patients.

``kapoutcomes.demo.generator.generate`` is already vectorised (measured here: 100,000 patients in
~6-15 s; 1,000,000 in 80 s, and 150 s / 9.5 GB peak including the canonical CSV and the
store), so the cohorts are the demo cohort's own simulation, only larger. This module writes, per size, under ``bench/.data/<patients>/`` (gitignored):

* ``demo/<table>.csv``       the canonical tables (``exports.canonical_csv`` format);
* ``observations.csv``       the long observation export of the whole cohort in the layout of
  ``exports._long`` (Lakeshore's LOINC export): one row per patient / time / code,
  UTC times with a Z, scores, vitals around each dose and untracked codes, a BOM, a note
  column with the odd quoted multi-line note and a few blank pain values. Written here with
  vectorised polars instead of the per-row Python loop of ``sample_exports`` (which is built
  for a few thousand rows);
* ``store.duckdb``           the canonical tables loaded into a kapoutcomes store (the input
  of the report and dashboard benchmarks);
* ``meta.json``              row counts and how long each part took to make.

Everything is cached: a file that exists is not made again (delete the folder to rebuild).
Run ``python -m bench.data --sizes 10000,100000`` to make them ahead of a benchmark.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import polars as pl

from kapoutcomes import tables
from kapoutcomes.demo import exports, generator, long_export

ROOT = Path(__file__).resolve().parent
DATA = ROOT / ".data"
SEED = 7
LONG_CLINIC = "Lakeshore Ketamine Center"
NOTES = (
    'pt says pain "8, maybe 9"\nafter a bad week',
    "repeat reading after 5 min rest",
    "taken on the left arm",
    "pt reported via portal",
)


def folder(patients: int) -> Path:
    return DATA / str(patients)


def _write_canonical(cohort: generator.SampleCohort, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in cohort.tables.items():
        dec = exports.DECIMALS.get(name, {})
        f = frame.select(tables.columns(name)).with_columns(
            exports._fixed(c, d) for c, d in dec.items() if c in frame.columns
        )
        f.write_csv(
            out / f"{name}.csv",
            datetime_format=exports.ISO_TIME,
            date_format="%Y-%m-%d",
            line_terminator="\n",
            null_value="",
        )


def observations_frame(cohort: generator.SampleCohort, seed_stream: int = 103) -> pl.DataFrame:
    """The long observation rows (vectorised ``exports._observations`` for every
    patient): patient_id, session_id, at (clinic local), code, value."""
    rng = np.random.default_rng([cohort.seed, seed_stream])
    s = cohort.tables["sessions"]
    parts = long_export.coded_observations(cohort.tables["assessments"], s)
    scr = s.filter(pl.col("session_type") == "screening").sort("patient_id")
    k = scr.height
    height = np.clip(rng.normal(170, 9, k), 148, 198).round()
    weight = scr.get_column("weight_kg").fill_null(75.0).to_numpy()
    smoking = np.asarray(
        [
            "Never smoked tobacco (finding)",
            "Former smoker (finding)",
            "Smokes tobacco daily (finding)",
        ]
    )[rng.choice(3, k, p=(0.6, 0.28, 0.12))]
    before4 = pl.col("started_at") - pl.duration(minutes=4)
    parts += [
        scr.select(
            "patient_id",
            "session_id",
            at=before4,
            code=pl.lit("8302-2"),
            value=pl.Series(height).cast(pl.Int64).cast(pl.String),
        ),
        scr.select(
            "patient_id",
            "session_id",
            at=before4,
            code=pl.lit("39156-5"),
            value=pl.Series(weight / (height / 100) ** 2).round(1).cast(pl.String),
        ),
        scr.select(
            "patient_id",
            "session_id",
            at=pl.col("started_at") - pl.duration(minutes=3),
            code=pl.lit("72166-2"),
            value=pl.Series(smoking, dtype=pl.String),
        ),
    ]
    labs = scr.filter(pl.Series(rng.random(k) < 0.4))
    parts.append(
        labs.select(
            "patient_id",
            "session_id",
            at=pl.col("started_at") - pl.duration(days=2, minutes=-30),
            code=pl.lit("2093-3"),
            value=pl.Series(rng.normal(195, 35, labs.height))
            .round(0)
            .cast(pl.Int64)
            .cast(pl.String),
        )
    )
    a1c = scr.filter(pl.Series(rng.random(k) < 0.15))
    parts.append(
        a1c.select(
            "patient_id",
            "session_id",
            at=pl.col("started_at") - pl.duration(days=2, minutes=-31),
            code=pl.lit("4548-4"),
            value=pl.Series(rng.normal(5.7, 0.6, a1c.height)).round(1).cast(pl.String),
        )
    )
    return pl.concat(parts, how="vertical_relaxed")


def write_observations(cohort: generator.SampleCohort, path: Path, seed_stream: int = 102) -> int:
    """Write the long export of the whole cohort to ``path``; return its number of rows."""
    rng = np.random.default_rng([cohort.seed, seed_stream])
    mrns = pl.DataFrame(
        {"patient_id": list(cohort.mrns), "patient_mrn": list(cohort.mrns.values())}
    )
    obs = observations_frame(cohort).join(mrns, on="patient_id", how="left")
    obs = obs.with_columns(
        observed_at=pl.col("at")
        .dt.replace_time_zone(exports.CLINIC_TZ, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    ).sort("patient_mrn", "observed_at", "code", "value", maintain_order=True)
    sids = obs.get_column("session_id").drop_nulls().unique().sort()
    enc = pl.DataFrame(
        {
            "session_id": sids,
            "encounter_id": pl.Series(np.arange(1, sids.len() + 1)).cast(pl.String).str.zfill(7),
        }
    ).with_columns(encounter_id=pl.lit("LKC-E") + pl.col("encounter_id"))
    obs = obs.join(enc, on="session_id", how="left", maintain_order="left")
    n = obs.height
    r = rng.random((n, 3))
    code = obs.get_column("code").to_numpy()
    is_pain = code == "72514-3"
    is_bp = (code == "8480-6") | (code == "8462-4")
    newline = np.flatnonzero(is_pain & (r[:, 0] < 0.05))[:3]
    note = np.full(n, "", dtype=object)
    noted = is_bp & (r[:, 0] < 0.01)
    note[noted] = np.asarray(NOTES[1:], dtype=object)[(r[noted, 1] * 3).astype(int)]
    note[newline] = NOTES[0]
    blank = is_pain & (r[:, 2] < 0.004)
    note[blank] = "patient asleep"
    desc = {c: d for c, (d, _) in exports.LOINC.items()}
    unit = {c: u for c, (_, u) in exports.LOINC.items()}
    out = obs.select(
        "patient_mrn",
        "encounter_id",
        "observed_at",
        loinc_code=pl.col("code"),
        description=pl.col("code").replace_strict(desc, return_dtype=pl.String),
        value=pl.when(pl.Series(blank)).then(None).otherwise(pl.col("value")),
        unit=pl.col("code").replace_strict(unit, return_dtype=pl.String),
        note=pl.Series(note, dtype=pl.String).replace("", None),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write("\ufeff".encode())
        out.write_csv(f, line_terminator="\n", null_value="")
    return n


#: the store's installation key, beside it in the size's folder (KAPOUTCOMES_SECRET_FILE)
KEY = "secret.key"


def ensure(patients: int, long: bool = True, store: bool = True) -> dict:
    """Make (or reuse) the files of one size; return meta (row counts, seconds to make)."""
    from kapoutcomes.storage import keys
    from kapoutcomes.storage.store import Store

    out = folder(patients)
    meta_path = out / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"patients": patients}
    need_csv = not (out / "demo" / "assessments.csv").exists()
    need_long = long and not (out / "observations.csv").exists()
    # a store with data needs its key beside it (stores made before the key was written
    # with them are made again)
    need_store = store and not ((out / "store.duckdb").exists() and (out / KEY).exists())
    if not (need_csv or need_long or need_store):
        return meta
    t = time.perf_counter()
    cohort = generator.generate(seed=SEED, patients=patients)
    meta["seconds_generate"] = round(time.perf_counter() - t, 2)
    meta["rows"] = {k: v.height for k, v in cohort.tables.items()}
    if need_csv:
        t = time.perf_counter()
        _write_canonical(cohort, out / "demo")
        meta["seconds_canonical_csv"] = round(time.perf_counter() - t, 2)
    if need_long:
        t = time.perf_counter()
        tmp = out / "observations.csv.part"
        meta["observation_rows"] = write_observations(cohort, tmp)
        tmp.rename(out / "observations.csv")
        meta["seconds_observations_csv"] = round(time.perf_counter() - t, 2)
        meta["observation_bytes"] = (out / "observations.csv").stat().st_size
    if need_store:
        t = time.perf_counter()
        tmp = out / "store.part.duckdb"
        tmp.unlink(missing_ok=True)
        (out / KEY).unlink(missing_ok=True)
        with Store(tmp) as st:
            keys.for_store(st, out / KEY)  # a new installation's key, before any data
            st.write_tables(cohort.tables)
        tmp.rename(out / "store.duckdb")
        meta["seconds_store"] = round(time.perf_counter() - t, 2)
    del cohort
    meta_path.write_text(json.dumps(meta, indent=2))
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--no-long", action="store_true", help="skip the long observation export")
    ap.add_argument(
        "--long-max",
        type=int,
        default=100_000,
        help="largest cohort to write the long export for (1M patients: ~80M rows, ~8 GB)",
    )
    args = ap.parse_args(argv)
    for n in (int(x) for x in args.sizes.split(",")):
        long = not args.no_long and n <= args.long_max
        print(json.dumps(ensure(n, long=long)), flush=True)


if __name__ == "__main__":
    main()
