"""The Cohort review's first render for a new browser session, at 10,000 patients.

``python -m bench.cohort_render [--runs 5] [--source DIR --label before]`` measures, with
Streamlit's AppTest running ``dashboards/app.py`` (the root URL, which opens the Cohort review)
on a 10,000-patient store (the demo generator, seed 7; its key beside it):

* **cold**: the first session of a freshly started server (a new process each run): loads the
  store and computes the cohort summary and figures;
* **cold, warmed up**: the first session of a freshly started server after the server's
  start-up preparation (``common.warm_up``, which dashboards/serve.py runs in a background
  thread when it starts): what the first person after a restart waits for once that is done;
  the preparation's own time is recorded as ``warm_up``;
* **new session**: another person opening the app on a running server (a new AppTest in a
  process whose first session has rendered): what the 3 s target is about;
* **new session after an audit entry**: the same, after something wrote to the audit trail
  (a sign-in, a patient viewed, a download), which changes the store file.

Each figure is the median of ``--runs`` runs (default 5), in seconds of script time (AppTest
has no browser: the network and the browser's drawing come on top). ``--source`` measures
another copy of the code (e.g. ``git archive <commit> kapoutcomes dashboards | tar -x -C DIR``)
for a before/after comparison; results are added to ``bench/cohort_render_results.json`` under
``--label``. The store is made once under ``bench/.data/cohort_render/`` (gitignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / ".data" / "cohort_render"
RESULTS = HERE / "cohort_render_results.json"
PATIENTS = 10_000


def ensure_store(patients: int = PATIENTS) -> Path:
    """A store of the demo cohort at ``patients`` with its installation key (home folder)."""
    home = DATA / str(patients)
    if (home / "store.duckdb").exists():
        return home
    home.mkdir(parents=True, exist_ok=True)
    os.environ["KAPOUTCOMES_HOME"] = str(home)
    from kapoutcomes.demo import generator
    from kapoutcomes.storage import keys
    from kapoutcomes.storage.store import Store

    cohort = generator.generate(seed=7, patients=patients)
    part = home / "store.part.duckdb"
    part.unlink(missing_ok=True)
    with Store(part) as st:
        keys.for_store(st)  # a new installation's key first: a store with data needs its key
        st.write_tables(cohort.tables)
    part.rename(home / "store.duckdb")
    return home


def _session(app: str) -> float:
    """Open the app in a new AppTest session; seconds until the Cohort review has rendered."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(app, default_timeout=600)
    t = time.perf_counter()
    at.run()
    took = time.perf_counter() - t
    assert not at.exception, at.exception
    assert [x.value for x in at.title] == ["Cohort review"], [x.value for x in at.title]
    assert at.metric, "the Cohort review showed no headline figure"
    return took


def _audit_entry(home: Path) -> None:
    from kapoutcomes.storage import audit, keys

    s, k = keys.open_store(home / "store.duckdb")
    with s:
        audit.record(s, k.audit, "bench", "local", "sign_in", "", "")


def _worker(mode: str, runs: int, home: Path) -> list[float]:
    """Run in a child process (its own Streamlit caches): the timings of one mode."""
    app = str(Path(os.environ.get("BENCH_SOURCE", REPO)) / "dashboards" / "app.py")
    if mode == "cold":
        return [_session(app)]
    if mode == "warmed":
        sys.path.insert(0, os.environ.get("BENCH_SOURCE", str(REPO)))
        from dashboards import common

        t = time.perf_counter()
        said = common.warm_up()
        took = time.perf_counter() - t
        assert said.startswith("Cohort review prepared"), said
        return [took, _session(app)]
    _session(app)  # the server's first session
    times = []
    for _ in range(runs):
        if mode == "after_audit":
            _audit_entry(home)
            time.sleep(0.05)
        times.append(_session(app))
    return times


def _child(mode: str, runs: int, home: Path, source: Path) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "BENCH_SOURCE": str(source),
            "KAPOUTCOMES_HOME": str(home),
            "KAPOUTCOMES_STORE": str(home / "store.duckdb"),
            "KAPOUTCOMES_DEMO": "0",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        }
        out = Path(tmp) / "times.json"
        shutil.copytree(REPO / ".streamlit", Path(tmp) / ".streamlit")
        code = (
            "import json, sys; from pathlib import Path; "
            f"sys.path.append({str(REPO)!r}); from bench import cohort_render as c; "
            f"Path({str(out)!r}).write_text(json.dumps(c._worker({mode!r}, {runs}, "
            f"Path({str(home)!r}))))"
        )
        # beside a copy of the checkout's .streamlit/config.toml (local single-user mode on
        # loopback); not in the checkout, whose packages would shadow --source's
        subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=tmp)
        return json.loads(out.read_text())


def _can_warm(source: Path) -> bool:
    """Whether the measured code has the start-up preparation (older commits do not)."""
    return "def warm_up" in (source / "dashboards" / "common.py").read_text(encoding="utf-8")


def measure(runs: int, source: Path) -> dict[str, Any]:
    home = ensure_store()
    cold = [_child("cold", 1, home, source)[0] for _ in range(runs)]
    warmed = [_child("warmed", 1, home, source) for _ in range(runs)] if _can_warm(source) else []
    new = _child("new_session", runs, home, source)
    after = _child("after_audit", runs, home, source)
    return {
        "cold": cold,
        "warm_up": [w[0] for w in warmed],
        "cold_warmed_up": [w[1] for w in warmed],
        "new_session": new,
        "new_session_after_audit": after,
        "median": {
            "cold": statistics.median(cold),
            **(
                {
                    "warm_up": statistics.median(w[0] for w in warmed),
                    "cold_warmed_up": statistics.median(w[1] for w in warmed),
                }
                if warmed
                else {}
            ),
            "new_session": statistics.median(new),
            "new_session_after_audit": statistics.median(after),
        },
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--source", type=Path, default=REPO, help="the code to measure")
    ap.add_argument("--label", default="after")
    args = ap.parse_args(argv)
    from bench.run import machine

    res = measure(args.runs, args.source.resolve())
    res["machine"] = machine()
    res["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    res["runs"] = args.runs
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    recorded[args.label] = res
    RESULTS.write_text(json.dumps(recorded, indent=2) + "\n")
    print(json.dumps(res["median"], indent=2))


if __name__ == "__main__":
    main()
