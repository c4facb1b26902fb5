"""One measured benchmark step, run in its own process by ``bench.run``.

``python -m bench.steps STEP --patients N`` prints one JSON line: ``seconds`` (wall time of
the work itself, after the imports), ``max_rss_mb`` (peak resident memory of this process,
``getrusage(RUSAGE_SELF).ru_maxrss``, which covers the imports too), and step details.
Each step runs in a fresh process so that caches, allocator state and peak memory of one
step never leak into another.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import data

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- import ----------------------------------------------------------------------------------
def import_polars(n: int) -> dict[str, Any]:
    """The floor: read the same file with polars alone (no parsing, validation or store)."""
    import polars as pl

    path = data.folder(n) / "observations.csv"
    t = time.perf_counter()
    f = pl.read_csv(path)
    return {"seconds": time.perf_counter() - t, "rows": f.height}


def import_kapoutcomes(n: int) -> dict[str, Any]:
    """kapoutcomes.ingest.import_files of the long export into a fresh DuckDB file."""
    from kapoutcomes import ingest
    from kapoutcomes.ingest import read
    from kapoutcomes.storage import privacy

    path = data.folder(n) / "observations.csv"
    extra: dict[str, Any] = {}
    if hasattr(read, "ImportLimits"):  # the upload limits do not apply to a benchmark
        extra["limits"] = read.ImportLimits(max_bytes=2**40, max_rows=2**40)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KAPOUTCOMES_HOME"] = tmp
        t = time.perf_counter()
        r = ingest.import_files(
            [path],
            Path(tmp) / "store.duckdb",
            clinic=data.LONG_CLINIC,
            secret=privacy.DEMO_SECRET,
            **extra,
        )
        sec = time.perf_counter() - t
    f = r.files[0]
    return {
        "seconds": sec,
        "rows": f.rows_read,
        "accepted": f.accepted,
        "skipped": f.skipped,
        "quarantined": f.quarantined,
        "written": dict(f.written),
    }


def import_pandas(n: int) -> dict[str, Any]:
    """The pandas + pandera (pandas backend) baseline of the same import."""
    from bench import pandas_baseline as pb
    from kapoutcomes.storage import privacy

    path = data.folder(n) / "observations.csv"
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        counts = pb.import_long(
            str(path), str(Path(tmp) / "store.duckdb"), privacy.DEMO_SECRET, data.LONG_CLINIC
        )
        sec = time.perf_counter() - t
    return {"seconds": sec, **counts}


# -- cohort report ---------------------------------------------------------------------------
def report_kapoutcomes(n: int) -> dict[str, Any]:
    """Read the store as the report does (not re-validated: rows are validated on write;
    only ``REPORT_COLUMNS``) + cohort_summary; then the JSON and HTML renderings."""
    from kapoutcomes.cohort.summary import REPORT_COLUMNS, cohort_summary
    from kapoutcomes.present import report
    from kapoutcomes.storage.store import Store

    store = data.folder(n) / "store.duckdb"
    t0 = time.perf_counter()
    with Store(store, read_only=True) as st:
        # as `kapoutcomes report` reads it: not re-validated, only the columns it uses
        tabs = st.read_all(validate=False, columns=REPORT_COLUMNS)
    t1 = time.perf_counter()
    summary = cohort_summary(tabs)
    t2 = time.perf_counter()
    js = report.to_json(summary)
    t3 = time.perf_counter()
    html = report.to_html(summary)
    t4 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "seconds_read_store": t1 - t0,
        "seconds_cohort_summary": t2 - t1,
        "seconds_patient_metrics": summary.meta["seconds_patient_metrics"],
        "seconds_json": t3 - t2,
        "seconds_html": t4 - t3,
        "seconds_with_json_html": t4 - t0,
        "json_bytes": len(js.encode()),
        "html_bytes": len(html.encode()),
        "rss_mb_before_summary": None,
    }


def report_pandas(n: int) -> dict[str, Any]:
    """The pandas / pandera / lifelines baseline: read the store + the same figures."""
    from bench import pandas_baseline as pb

    store = data.folder(n) / "store.duckdb"
    t0 = time.perf_counter()
    t = pb.read_store(str(store))
    t1 = time.perf_counter()
    figures = pb.cohort_figures(t)
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "seconds_read_store": t1 - t0,
        "seconds_figures": t2 - t1,
        "response_rows": len(figures["response"]),
    }


# -- dashboard -------------------------------------------------------------------------------
def _figure_bytes(at) -> tuple[int, int]:
    """(number of plotly charts, total bytes of their figure JSON) in the element tree."""
    count = size = 0

    def walk(node) -> None:
        nonlocal count, size
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(node, "type", "") == "plotly_chart":
            count += 1
            spec = getattr(proto, "spec", "") or getattr(getattr(proto, "figure", None), "spec", "")
            size += len(spec.encode()) if isinstance(spec, str) else 0
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return count, size


def dashboard(n: int) -> dict[str, Any]:
    """AppTest: cohort page first render, re-render after a clinic filter, patient view."""
    from streamlit.testing.v1 import AppTest

    from kapoutcomes.demo import generator

    store = data.folder(n) / "store.duckdb"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KAPOUTCOMES_HOME"] = tmp
        os.environ["KAPOUTCOMES_STORE"] = str(store)
        os.environ["KAPOUTCOMES_SECRET_FILE"] = str(store.parent / data.KEY)  # the store's key
        os.environ["KAPOUTCOMES_DEMO"] = "0"
        # BENCH_APP: another copy of the app (to measure a proposed change before/after)
        app = os.environ.get("BENCH_APP", str(ROOT / "dashboards" / "app.py"))
        at = AppTest.from_file(app, default_timeout=600)
        t = time.perf_counter()
        at.run()
        out["first_render"] = time.perf_counter() - t
        assert not at.exception, at.exception
        out["charts"], out["figure_bytes"] = _figure_bytes(at)
        t = time.perf_counter()
        at.run()
        out["rerun_unchanged"] = time.perf_counter() - t
        t = time.perf_counter()
        at.multiselect(key="cohort-clinic").set_value([generator.CLINICS[0]]).run()
        out["filter_change"] = time.perf_counter() - t
        assert not at.exception, at.exception
        out["charts_filtered"], out["figure_bytes_filtered"] = _figure_bytes(at)
        t = time.perf_counter()
        at.switch_page("views/patient.py").run()
        out["patient_page_open"] = time.perf_counter() - t
        assert not at.exception, at.exception
        pid = at.selectbox(key="patient-pick").options[1]
        t = time.perf_counter()
        at.text_input(key="patient-query").input(pid).run()
        out["patient_view"] = time.perf_counter() - t
        assert not at.exception, at.exception
        out["charts_patient"], out["figure_bytes_patient"] = _figure_bytes(at)
    out["seconds"] = out["first_render"]
    return out


STEPS = {
    "import_polars": import_polars,
    "import_kapoutcomes": import_kapoutcomes,
    "import_pandas": import_pandas,
    "report_kapoutcomes": report_kapoutcomes,
    "report_pandas": report_pandas,
    "dashboard": dashboard,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=sorted(STEPS))
    ap.add_argument("--patients", type=int, required=True)
    args = ap.parse_args(argv)
    result = STEPS[args.step](args.patients)
    result = {k: v for k, v in result.items() if v is not None}
    result["max_rss_mb"] = round(_rss_mb(), 1)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds_process"] = round(ru.ru_utime + ru.ru_stime, 2)
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
