"""The benchmark (issue 7): ``make bench`` or ``python -m bench.run [--sizes ...] [--quick]``.

For each cohort size it runs, each in a fresh process (``bench.steps``) and side by side in
one run, the import of the long observation export (kapoutcomes vs polars' read alone vs the
pandas baseline), the full cohort report from the store (kapoutcomes vs the pandas /
lifelines baseline) and, at 10,000 patients, the dashboard (Streamlit AppTest). It records
medians, peak memory and ratios in ``bench/results.json`` and ``bench/results.md``, checks
the issue's targets and appends ``bench/analysis.md`` (profiles of misses, explanations).
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import data

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
PACKAGES = ("polars", "pandas", "pandera", "lifelines", "scipy", "duckdb", "streamlit", "numpy")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
DASHBOARD_SIZE = 10_000
#: steps are stopped above this resident memory (the report target is 16 GB; shared machine)
MEMORY_CAP_MB = 16 * 1024.0


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": mem_gib,
        "cpu": cpu,
        "platform": platform.platform(),
        "load_average": _load(),
    }


def _load() -> list[float] | None:
    """The 1/5/15-minute load averages (a busy machine makes wall times longer)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def before_figures(path: Path) -> dict[str, Any]:
    """Per size and step, the figures of an earlier results file (``--before``), for the
    before/after table: each step's medians with the commit they were measured at."""
    old = json.loads(path.read_text())
    commit = str(old.get("versions", {}).get("kapoutcomes_commit", "?")).split()[0]
    out: dict[str, Any] = {}
    for n, steps in old.get("sizes", {}).items():
        for step, fig in steps.items():
            if isinstance(fig, dict) and "seconds" in fig:
                keep = {k: v for k, v in fig.items() if k != "raw"}
                keep.setdefault("commit", commit)
                out.setdefault(n, {})[step] = keep
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    try:
        out["kapoutcomes_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "kapoutcomes", "dashboards"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if dirty:
            out["kapoutcomes_commit"] += " (+ uncommitted changes in kapoutcomes/ or dashboards/)"
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_step(
    step: str,
    patients: int,
    timeout: float,
    env: dict[str, str] | None = None,
    memory_cap_mb: float | None = None,
) -> dict[str, Any]:
    """One step in a fresh interpreter; its JSON line (or the error). A step whose resident
    memory passes ``memory_cap_mb`` is stopped (the machine is shared) and reported so."""
    t = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-m", "bench.steps", step, "--patients", str(patients)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    peak = 0.0
    killed = None
    while p.poll() is None:
        peak = max(peak, _rss_mb(p.pid))
        if memory_cap_mb and peak > memory_cap_mb:
            killed = f"stopped: resident memory passed {memory_cap_mb / 1024:.0f} GiB"
        elif time.perf_counter() - t > timeout:
            killed = f"stopped: no result within {timeout:.0f} s"
        if killed:
            p.kill()
            break
        time.sleep(0.2)
    stdout, stderr = p.communicate()
    wall = time.perf_counter() - t
    if killed:
        return {
            "error": f"{killed} after {wall:.0f} s",
            "process_seconds": wall,
            "max_rss_mb": peak,
        }
    lines = [x for x in stdout.splitlines() if x.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (stderr or stdout)[-2000:], "process_seconds": wall}
    out = json.loads(lines[-1])
    out["process_seconds"] = wall
    return out


def measure(
    step: str,
    patients: int,
    repeats: int,
    budget: float,
    timeout: float,
    log,
    env: dict[str, str] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Run ``step`` up to ``repeats`` times, fewer when one run takes longer than
    ``budget / repeats`` seconds (a slow step is run once; the count is recorded)."""
    runs: list[dict[str, Any]] = []
    for i in range(repeats):
        r = run_step(step, patients, timeout, env, MEMORY_CAP_MB)
        runs.append(r)
        log(f"  {label or step:28s} {patients:>9,} run {i + 1}: " + _short(r))
        if "error" in r:
            break
        spent = sum(x.get("process_seconds", 0) for x in runs)
        if i + 1 < repeats and spent / (i + 1) * (i + 2) > budget and i + 1 >= 1:
            break
    ok = [r for r in runs if "error" not in r]
    summary: dict[str, Any] = {"runs": len(ok), "raw": runs}
    if not ok:
        summary["error"] = runs[-1].get("error", "failed")
        if "max_rss_mb" in runs[-1]:
            summary["max_rss_mb"] = runs[-1]["max_rss_mb"]
        return summary
    keys = {k for r in ok for k, v in r.items() if isinstance(v, int | float)}
    for k in sorted(keys):
        vals = [r[k] for r in ok if isinstance(r.get(k), int | float)]
        summary[k] = max(vals) if k == "max_rss_mb" else statistics.median(vals)
    for k in {k for r in ok for k, v in r.items() if not isinstance(v, int | float)}:
        summary[k] = ok[-1][k]
    return summary


def _short(r: dict[str, Any]) -> str:
    if "error" in r:
        return "ERROR " + ((r["error"].strip().splitlines() or ["(no message)"])[-1][:200])
    return f"{r.get('seconds', float('nan')):.2f} s, {r.get('max_rss_mb', 0):.0f} MB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 2)


def evaluate(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and met / missed."""
    sizes = res["sizes"]
    out: list[dict[str, Any]] = []

    def add(target: str, figure: str, met: bool | None, note: str = "") -> None:
        out.append(
            {
                "target": target,
                "figure": figure,
                "status": "n/a" if met is None else ("met" if met else "MISSED"),
                "note": note,
            }
        )

    imp = [
        (n, s)
        for n, s in sizes.items()
        if "import_kapoutcomes" in s and "seconds" in s["import_kapoutcomes"]
    ]
    if imp:
        n, s = max(imp, key=lambda x: int(x[0]))
        k, p, pd_ = (
            s["import_kapoutcomes"].get("seconds"),
            s.get("import_polars", {}).get("seconds"),
            s.get("import_pandas", {}).get("seconds"),
        )
        arows = s.get("data", {}).get("rows", {}).get("assessments", 0)
        where = f"{int(n):,} patients ({arows:,} assessment rows, {int(s['import_kapoutcomes'].get('rows', 0)):,} file rows)"
        r1 = _ratio(k, p)
        add(
            "Import within 3x the polars-only read (>= 1M assessment rows)",
            f"{r1}x ({k:.1f} s vs {p:.2f} s) at {where}",
            None if r1 is None else r1 <= 3,
        )
        r2 = _ratio(pd_, k)
        add(
            "Import at least 5x faster than the pandas baseline",
            f"pandas / kapoutcomes = {r2}x ({pd_:.1f} s vs {k:.1f} s) at {where}",
            None if r2 is None else r2 >= 5,
        )
    rep = {int(n): s.get("report_kapoutcomes", {}) for n, s in sizes.items()}
    base = {int(n): s.get("report_pandas", {}) for n, s in sizes.items()}
    if 100_000 in rep and "seconds" in rep[100_000]:
        k = rep[100_000]["seconds"]
        add(
            "Full cohort report, 100,000 patients, under 5 s",
            f"{k:.1f} s (read store {rep[100_000].get('seconds_read_store', 0):.1f} s + "
            f"cohort_summary {rep[100_000].get('seconds_cohort_summary', 0):.1f} s)",
            k < 5,
        )
        b = base.get(100_000, {}).get("seconds")
        r = _ratio(b, k)
        add(
            "Full cohort report at least 10x faster than pandas / lifelines (100,000 patients)",
            f"{r}x ({b:.1f} s vs {k:.1f} s)" if r else "baseline not run",
            None if r is None else r >= 10,
        )
    ok = sorted(n for n, r in rep.items() if "seconds" in r)
    if len(ok) >= 2:
        lo, hi = ok[0], ok[-1]
        growth = rep[hi]["seconds"] / rep[lo]["seconds"]
        add(
            f"Report cost grows no worse than linearly ({lo:,} -> {hi:,} patients)",
            f"x{growth:.1f} time for x{hi / lo:.0f} patients",
            growth <= hi / lo * 1.1,
            "10% allowance for noise",
        )
    if 1_000_000 in rep and "seconds" in rep[1_000_000]:
        r = rep[1_000_000]
        add(
            "1,000,000 patients: report under 60 s within 16 GB",
            f"{r['seconds']:.1f} s, peak {r['max_rss_mb'] / 1024:.1f} GiB",
            r["seconds"] < 60 and r["max_rss_mb"] < 16 * 1024,
        )
    elif 1_000_000 in rep and "error" in rep[1_000_000]:
        add(
            "1,000,000 patients: report under 60 s within 16 GB",
            (rep[1_000_000]["error"].strip().splitlines() or ["stopped"])[-1][:200],
            False,
        )
    d = sizes.get(str(DASHBOARD_SIZE), sizes.get(DASHBOARD_SIZE, {})).get("dashboard", {})
    if "first_render" in d:
        add(
            "Dashboard (10,000): cohort page first render within 3 s",
            f"{d['first_render']:.2f} s",
            d["first_render"] <= 3,
        )
        add(
            "Dashboard (10,000): re-render after a filter change within 1 s",
            f"{d['filter_change']:.2f} s",
            d["filter_change"] <= 1,
        )
        add(
            "Dashboard (10,000): patient view within 0.5 s",
            f"{d['patient_view']:.2f} s (opening the page: {d['patient_page_open']:.2f} s)",
            d["patient_view"] <= 0.5,
        )
        mb = max(d.get("figure_bytes", 0), d.get("figure_bytes_patient", 0)) / 1e6
        add("Dashboard: figures sent to the browser under a few MB", f"{mb:.3f} MB", mb < 3)
    return out


def _later_runs(res: dict[str, Any]) -> list[str]:
    runs = res.get("later_runs", [])
    if not runs:
        return []
    parts = []
    for r in runs:
        argv = " ".join(a for a in r["argv"] if not a.startswith("/tmp") and a != "--out")
        parts.append(
            f"{r['date']} `python -m bench.run {argv}` (commit {r['commit']}, "
            f"{r['minutes']:.1f} min)"
        )
    return [
        "Later runs merged in (each group of steps - import, report, dashboard - measured "
        "side by side in one of them; the before/after table names the commit of each "
        "figure): " + "; ".join(parts) + ".",
        "",
    ]


def _load_text(res: dict[str, Any]) -> str:
    start, end = res["machine"].get("load_average"), res.get("load_average_end")
    if not start:
        return "The machine may have been shared with other work while this ran."
    text = f"Load average (1/5/15 min) at the start {start[0]}/{start[1]}/{start[2]}"
    if end:
        text += f", at the end {end[0]}/{end[1]}/{end[2]}"
    return text + " (2 would mean both cores busy with other work)."


def markdown(res: dict[str, Any]) -> str:
    m, v = res["machine"], res["versions"]
    lines = [
        "# Benchmark results",
        "",
        f"Recorded {res['date']} by `python -m bench.run {' '.join(res['argv'])}`"
        f" in {res['total_minutes']:.1f} min. How to run and what each figure means: "
        "docs/benchmarks.md.",
        "",
        *_later_runs(res),
        f"**Machine:** {m['cores']} cores ({m['usable_cores']} usable), {m['memory_gib']} GiB, "
        f"{m['cpu']}; {m['platform']}. " + _load_text(res),
        "",
        "**Versions:** " + ", ".join(f"{k} {x}" for k, x in v.items()),
        "",
        "Times are medians of the runs shown (each run a fresh process; the work only, after "
        "imports); memory is the peak RSS of the process (max over runs). Ratios compare "
        "figures measured side by side in one run. 'Process CPU s' is the CPU time of "
        "the whole process (imports included; polars may use both cores): when it is well "
        "below the wall time, the step was waiting for a CPU other work held.",
        "",
        "## Targets",
        "",
        "| target | measured | status |",
        "|---|---|---|",
    ]
    for t in res["targets"]:
        note = f" ({t['note']})" if t["note"] else ""
        lines.append(f"| {t['target']} | {t['figure']}{note} | **{t['status']}** |")
    notes = [
        f"{step} at {int(n):,} patients: {v['note']}"
        for n, sz in res["sizes"].items()
        for step, v in sz.items()
        if isinstance(v, dict) and v.get("note")
    ]
    notes += [
        f"{step} at {int(n):,} patients failed: "
        + (v["error"].strip().splitlines() or ["(no message)"])[-1][:160]
        for n, sz in res["sizes"].items()
        for step, v in sz.items()
        if isinstance(v, dict) and "error" in v and "seconds" not in v
    ]
    if notes:
        lines += ["", "Notes:", ""] + [f"* {x}" for x in notes]
    lines += ["", "## Import of the long observation export into a fresh store", ""]
    lines += [
        "| patients | assessment rows | file rows | MB | polars read (floor) | kapoutcomes "
        "import | pandas baseline | kapoutcomes / polars | pandas / kapoutcomes | peak MB "
        "(polars / kapoutcomes / pandas) | process CPU s (kapoutcomes / pandas) | runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, s in res["sizes"].items():
        if "import_skipped" in s:
            lines.append(f"| {int(n):,} | | | | skipped: {s['import_skipped']} | | | | | | |")
            continue
        if "import_kapoutcomes" not in s:
            continue
        k, p, b = s["import_kapoutcomes"], s["import_polars"], s.get("import_pandas", {})
        dd = s.get("data", {})
        lines.append(
            f"| {int(n):,} | {dd.get('rows', {}).get('assessments', 0):,} | "
            f"{dd.get('observation_rows', 0):,} | {dd.get('observation_bytes', 0) / 1e6:.0f} | "
            f"{_s(p)} | {_s(k)} | {_s(b)} | {_ratio(k.get('seconds'), p.get('seconds'))}x | "
            f"{_ratio(b.get('seconds'), k.get('seconds'))}x | {_mb(p)} / {_mb(k)} / {_mb(b)} | "
            f"{_cpu(k)} / {_cpu(b)} | {p.get('runs')}/{k.get('runs')}/{b.get('runs', 0)} |"
        )
    lines += ["", "## Full cohort report from the store", ""]
    lines += [
        "| patients | kapoutcomes: read store + cohort_summary | of which read | of which "
        "summary | + JSON | + HTML | pandas / lifelines baseline | pandas / kapoutcomes | "
        "peak MB (kapoutcomes / pandas) | process CPU s (kapoutcomes / pandas) | runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, s in res["sizes"].items():
        k = s.get("report_kapoutcomes", {})
        if "seconds" not in k:
            continue
        b = s.get("report_pandas", {})
        bs = _s(b) if "seconds" in b else f"not run: {s.get('report_pandas_skipped', '')}"
        lines.append(
            f"| {int(n):,} | {_s(k)} | {k.get('seconds_read_store', 0):.2f} s | "
            f"{k.get('seconds_cohort_summary', 0):.2f} s | {k.get('seconds_json', 0):.2f} s | "
            f"{k.get('seconds_html', 0):.2f} s | {bs} | "
            f"{_x(_ratio(b.get('seconds'), k.get('seconds')))} | {_mb(k)} / {_mb(b)} | "
            f"{_cpu(k)} / {_cpu(b)} | {k.get('runs')}/{b.get('runs', 0)} |"
        )
    d = res["sizes"].get(str(DASHBOARD_SIZE), {}).get("dashboard", {})
    if "first_render" in d:
        lines += [
            "",
            f"## Dashboard (AppTest, {DASHBOARD_SIZE:,} patients in the store)",
            "",
            "| step | seconds |",
            "|---|---|",
            f"| cohort page, first render (cold: loads the store) | {d['first_render']:.2f} |",
            f"| cohort page, re-run with nothing changed | {d['rerun_unchanged']:.2f} |",
            f"| cohort page, after choosing a clinic in the sidebar filter | "
            f"{d['filter_change']:.2f} |",
            f"| switch to the patient view (no patient chosen yet) | "
            f"{d['patient_page_open']:.2f} |",
            f"| patient view after entering a patient id | {d['patient_view']:.2f} |",
            "",
            f"Figures sent to the browser (plotly JSON): cohort page {d['charts']} chart(s), "
            f"{d['figure_bytes'] / 1e3:.1f} kB; after the filter {d['figure_bytes_filtered'] / 1e3:.1f}"
            f" kB; patient view {d['charts_patient']} chart(s), "
            f"{d['figure_bytes_patient'] / 1e3:.1f} kB. Peak memory {_mb(d)} MB; "
            f"{d.get('runs')} run(s), medians.",
        ]
    before = res.get("before", {})
    now = str(res["versions"].get("kapoutcomes_commit", "?")).split()[0]
    if before:
        lines += [
            "",
            "## Before and after the fixes",
            "",
            "The library changed during this work, partly in answer to the profiles below. "
            f"'Before' is {res.get('before_from', 'an earlier run')}; 'after' is this run. "
            "Both on the same machine, whose load differed: the baselines' rows (polars, "
            "pandas - code that did not change) show how much of a difference is the "
            "machine; the process CPU seconds in the tables above are less sensitive to it.",
            "",
            "| step | patients | before | after | before / after | peak MB before / after |",
            "|---|---|---|---|---|---|",
        ]
        for n, steps in before.items():
            for step, b in steps.items():
                a = res["sizes"].get(n, {}).get(step, {})
                for key in ("seconds", "filter_change", "patient_view"):
                    if key != "seconds" and step != "dashboard":
                        continue
                    if key not in b or key not in a:
                        continue
                    label = step if key == "seconds" else f"{step}: {key.replace('_', ' ')}"
                    if step == "dashboard" and key == "seconds":
                        label = "dashboard: first render"
                    lines.append(
                        f"| {label} | {int(n):,} | {b[key]:.2f} s ({b.get('commit', '?')}) | "
                        f"{a[key]:.2f} s ({a.get('commit', now)}) | "
                        f"{_ratio(b[key], a[key])}x | {_mb(b)} / {_mb(a)} |"
                    )
    gen = [
        (n, s["data"]) for n, s in res["sizes"].items() if s.get("data", {}).get("seconds_generate")
    ]
    if gen:
        lines += [
            "",
            "## Generating the cohorts (bench/data.py, cached in bench/.data/)",
            "",
            "| patients | sessions | assessments | generate | canonical CSV | long export | store |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, g in gen:
            lines.append(
                f"| {int(n):,} | {g['rows']['sessions']:,} | {g['rows']['assessments']:,} | "
                f"{g['seconds_generate']:.1f} s | {g.get('seconds_canonical_csv', 0):.1f} s | "
                + (
                    f"{g['seconds_observations_csv']:.1f} s | "
                    if "seconds_observations_csv" in g
                    else "not written | "
                )
                + f"{g.get('seconds_store', 0):.1f} s |"
            )
    analysis = ROOT / "analysis.md"
    if analysis.exists():
        lines += ["", analysis.read_text().strip()]
    return "\n".join(lines) + "\n"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio}x"


def _s(r: dict[str, Any]) -> str:
    if "seconds" not in r:
        return "-"
    return f"{r['seconds']:.2f} s"


def _cpu(r: dict[str, Any]) -> str:
    return f"{r['cpu_seconds_process']:.1f}" if "cpu_seconds_process" in r else "-"


def _mb(r: dict[str, Any]) -> str:
    return f"{r['max_rss_mb']:.0f}" if "max_rss_mb" in r else "-"


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description="kapoutcomes benchmark (issue 7)")
    ap.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    ap.add_argument("--repeats", type=int, default=3, help="runs per step (median)")
    ap.add_argument(
        "--budget",
        type=float,
        default=200.0,
        help="seconds per step and size: a step slower than budget/repeats is run fewer times",
    )
    ap.add_argument(
        "--import-max",
        type=int,
        default=100_000,
        help="largest cohort whose long export is imported (the 1M export has ~80M rows)",
    )
    ap.add_argument(
        "--pandas-max",
        type=int,
        default=100_000,
        help="largest cohort for the pandas report baseline (its per-patient episode loop "
        "would take ~30 min at 1M on 2 cores)",
    )
    ap.add_argument("--no-dashboard", action="store_true")
    ap.add_argument(
        "--only",
        choices=("import", "report", "dashboard"),
        default=None,
        help="run one group of steps only",
    )
    ap.add_argument(
        "--before",
        type=Path,
        help="an earlier results.json whose figures fill the before/after table",
    )
    ap.add_argument("--quick", action="store_true", help="10,000 patients, one run per step")
    ap.add_argument("--out", default=str(ROOT / "results"), help="results path without suffix")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per step run")
    ap.add_argument(
        "--render", action="store_true", help="only rewrite results.md from results.json"
    )
    args = ap.parse_args(argv)
    if args.render:
        res = json.loads(Path(args.out).with_suffix(".json").read_text())
        res["targets"] = evaluate(res)
        Path(args.out).with_suffix(".md").write_text(markdown(res))
        return
    if args.quick:
        args.sizes, args.repeats = "10000", 1
    sizes = [int(x) for x in args.sizes.split(",")]
    t_start = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, flush=True)

    res: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": argv,
        "machine": machine(),
        "versions": versions(),
        "settings": {
            "repeats": args.repeats,
            "budget_seconds": args.budget,
            "import_max": args.import_max,
            "pandas_max": args.pandas_max,
        },
        "sizes": {},
    }
    if args.before:
        old = json.loads(args.before.read_text())
        res["before"] = before_figures(args.before)
        res["before_from"] = f"the results recorded {old.get('date', '?')}"
    for n in sizes:
        log(f"== {n:,} patients")
        do_import = n <= args.import_max and args.only in (None, "import")
        meta = data.ensure(n, long=do_import)
        s: dict[str, Any] = {"data": meta}
        res["sizes"][str(n)] = s
        if do_import:
            for step in ("import_polars", "import_kapoutcomes", "import_pandas"):
                s[step] = measure(step, n, args.repeats, args.budget, args.timeout, log)
        elif args.only in (None, "import"):
            s["import_skipped"] = (
                f"above --import-max {args.import_max:,} (the long export of this cohort is "
                "tens of millions of rows; the import target is stated at 1M assessment rows, "
                "which the 100,000-patient cohort already exceeds)"
            )
        if args.only in (None, "report"):
            s["report_kapoutcomes"] = measure(
                "report_kapoutcomes", n, args.repeats, args.budget, args.timeout, log
            )
            if n <= args.pandas_max:
                s["report_pandas"] = measure(
                    "report_pandas", n, args.repeats, args.budget, args.timeout, log
                )
            else:
                s["report_pandas_skipped"] = (
                    f"above --pandas-max {args.pandas_max:,}: the baseline's per-patient "
                    "episode loop grows linearly; extrapolated from 100,000 it would take "
                    "tens of minutes"
                )
        if n == DASHBOARD_SIZE and not args.no_dashboard and args.only in (None, "dashboard"):
            s["dashboard"] = measure("dashboard", n, args.repeats, args.budget, args.timeout, log)
        _write(res, args.out, t_start)
    res["load_average_end"] = _load()
    res["targets"] = evaluate(res)
    _write(res, args.out, t_start)
    for t in res["targets"]:
        log(f"{t['status']:7s} {t['target']}: {t['figure']}")


def _write(res: dict[str, Any], out: str, t_start: float) -> None:
    res["total_minutes"] = (time.perf_counter() - t_start) / 60
    res.setdefault("targets", [])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).with_suffix(".json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    Path(out).with_suffix(".md").write_text(markdown(res))


if __name__ == "__main__":
    main()
