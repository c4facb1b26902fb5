"""The ``kapoutcomes`` command.

Each sub-command is one small function; errors a person can act on are printed as one line
and exit with status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kapoutcomes.storage import store as store_mod


class UserError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=None,
        help=f"store file (default: ${store_mod.STORE_ENV} or ~/.kapoutcomes/store.duckdb)",
    )


def _cmd_sample(args: argparse.Namespace) -> int:
    from kapoutcomes.demo import exports, generator

    out = Path(args.out)
    written = exports.write_sample(out, seed=args.seed, patients=args.patients)
    print(f"wrote {len(written)} files to {out} (seed {args.seed})")
    if args.store:
        from kapoutcomes.storage import keys

        st, _ = keys.open_store(args.store)  # a new store gets its key; a keyless one is refused
        with st:
            st.replace_all(generator.generate(seed=args.seed, patients=args.patients).tables)
            print(f"loaded the demo cohort into {st.path}")
    return 0


def _cmd_schemas(args: argparse.Namespace) -> int:
    from kapoutcomes.present import contracts

    written = contracts.write_contracts(args.out)
    print(f"wrote {len(written)} contract files to {args.out}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    path = args.store or store_mod.default_path()
    if not Path(path).exists():
        raise UserError(f"{path}: no store here yet; run `kapoutcomes import FILE` first")
    st, _ = _open_checked(path, read_only=True)
    with st:
        info = st.info()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"store: {info['store']}")
    for table, n in info["rows"].items():
        print(f"  {table:<16} {n:>10,} rows")
    print(f"  clinics: {info['clinics']}")
    if info["first_session"]:
        print(f"  sessions from {info['first_session']} to {info['last_session']}")
    return 0


def app_options() -> dict[str, object]:
    """The Streamlit options the app runs with, passed on the command line by
    ``kapoutcomes dashboard`` so that no ``.streamlit/config.toml`` in the working directory
    is needed (the source checkout's copy, for ``streamlit run``, is checked against this).
    The upload limit is the importer's own (``MAX_BYTES``), in Streamlit's megabytes."""
    from kapoutcomes.ingest.read import MAX_BYTES

    return {
        "server.headless": True,
        "server.maxUploadSize": MAX_BYTES // (1024 * 1024),
        "browser.gatherUsageStats": False,
        "client.toolbarMode": "viewer",
        "theme.base": "light",
    }


def _secrets_files() -> list[Path]:
    """The secrets files Streamlit reads for an app started in the working directory."""
    return [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]


def _app_script() -> Path:
    """The installed app's server entry point (dashboards/serve.py: the app of dashboards/app.py
    with page URLs that load without 404s), found by import (not by a path in a source
    checkout)."""
    import importlib.util

    spec = importlib.util.find_spec("dashboards")
    if spec is None or spec.origin is None:
        raise UserError("the dashboards package is not installed; reinstall kapoutcomes")
    return Path(spec.origin).parent / "serve.py"


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from kapoutcomes.storage import access

    configured = any(access.sign_in_configured(access.secrets_auth(p)) for p in _secrets_files())
    access.check_listen_address(args.host, configured)
    app = _app_script()
    env = dict(os.environ)
    if args.store:
        env[store_mod.STORE_ENV] = str(args.store)
    options = {**app_options(), "server.address": args.host, "server.port": args.port}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app)]
    for name, value in options.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        cmd += [f"--{name}", text]
    print(f"serving kapoutcomes on http://{args.host}:{args.port}", flush=True)
    return _run_child(cmd, env=env)


def _run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server as a child; SIGTERM, SIGHUP or Ctrl-C to this command stops
    the child too (it must not keep serving after the command that started it has gone)."""
    import signal

    child = subprocess.Popen(cmd, env=env)

    def stop(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.terminate()
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return child.wait()
    except (KeyboardInterrupt, SystemExit):
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _cmd_import(args: argparse.Namespace) -> int:
    from kapoutcomes.definitions import settings as settings_mod
    from kapoutcomes.ingest import import_files

    if args.undo:
        return _undo(args)
    if args.history:
        return _history(args)
    if args.quarantine_csv:
        return _quarantine_files(args)
    if not args.paths:
        raise UserError("give one or more files or folders to import")
    last = [0.0, False]  # time of the last line, finished

    def progress(done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if last[1] or (done < total and now - last[0] < 0.5):
            return
        last[0] = now
        pct = 100 * done / total if total else 100
        print(f"\rreading {done:,} of {total:,} bytes ({pct:.0f}%)", end="", file=sys.stderr)
        if done >= total:
            last[1] = True
            print(file=sys.stderr)

    settings = settings_mod.load_settings(args.settings) if args.settings else settings_mod.DEFAULT
    report = import_files(
        args.paths,
        args.store or store_mod.default_path(),
        preset=args.preset,
        mapping=args.mapping,
        settings=settings,
        dry_run=args.dry_run,
        on_progress=None if args.json else progress,
        sheet=args.sheet,
        clinic=args.clinic,
        condition=args.condition,
        day_first=True if args.day_first else None,
        date_order=args.date_order,
        audit_as=(_os_user(), "command line"),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.text())
    return 0


def _quarantine_files(args: argparse.Namespace) -> int:
    """One CSV per source file: OUT itself for a single source file named *.csv, else
    files in the folder OUT."""
    from kapoutcomes.ingest import quarantine_files, quarantine_frame
    from kapoutcomes.storage import exports

    st, k = _open_checked(args.store)
    with st:
        files = quarantine_files(st, import_id=args.import_id)
        empty = exports.safe_csv(quarantine_frame(st, import_id=args.import_id))
        _audit(st, k, "export", str(args.quarantine_csv), "open quarantine (CSV)")
    out = Path(args.quarantine_csv)
    if len(files) <= 1 and out.suffix.lower() == ".csv":
        # one source file (or none: an empty quarantine file, with its columns)
        exports.write_private(out, next(iter(files.values()), empty))
        print(f"wrote the open quarantine to {out}")
        return 0
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, data in files.items():
        exports.write_private(out / name, data)
        print(f"wrote {out / name}")
    return 0


def _undo(args: argparse.Namespace) -> int:
    from kapoutcomes.ingest.undo import UndoError, undo_import

    with _open_checked(args.store)[0] as st:
        try:
            result = undo_import(st, args.undo, (_os_user(), "command line"))
        except UndoError as e:
            raise UserError(str(e)) from None
    print(result.text())
    return 0


def _history(args: argparse.Namespace) -> int:
    with _open_checked(args.store)[0] as st:
        ledger = st.ledger()
    for r in ledger.iter_rows(named=True):
        state = f"undone {r['undone_at']:%Y-%m-%d %H:%M}" if r["undone_at"] else ""
        print(
            f"{r['import_id']}  {r['imported_at']:%Y-%m-%d %H:%M}  {r['file_name']}  "
            f"accepted {r['accepted']:,} quarantined {r['quarantined']:,}  {state}".rstrip()
        )
    return 0


def _cmd_conflicts(args: argparse.Namespace) -> int:
    from kapoutcomes.ingest import review

    st, k = _open_checked(args.store)
    with st:
        if args.keep:
            which, conflict_id = args.keep
            try:
                print(review.keep(st, conflict_id, which, (_os_user(), "command line")).text())
            except review.ReviewError as e:
                raise UserError(str(e)) from None
            return 0
        frame = review.conflicts(st, None if args.all else "open")
        if frame.height:  # both values of patients' rows: recorded before they are shown
            shape = "JSON" if args.json else "text"
            _audit(st, k, "export", "standard output", f"conflicts ({shape}, {frame.height})")
    if args.json:
        print(json.dumps(frame.to_dicts(), indent=2, default=str))
        return 0
    if frame.height == 0:
        print("no open conflicts" if not args.all else "no conflicts")
        return 0
    for c in frame.iter_rows(named=True):
        print(
            f"{c['conflict_id']}  {c['table_name']}  {c['file_name']} row {c['row_number']}"
            f"  [{c['status']}]\n  key:      {c['natural_key']}\n"
            f"  stored:   {c['stored_value']}\n  imported: {c['incoming_value']}"
        )
    print(
        f"{frame.height} conflict(s); settle one with "
        "`kapoutcomes conflicts --keep IMPORTED|STORED CONFLICT_ID`"
    )
    return 0


def _os_user() -> str:
    """The operating-system user, for the audit trail of command-line actions."""
    import getpass

    try:
        return getpass.getuser()
    except OSError:
        return "unknown"


def _cmd_report(args: argparse.Namespace) -> int:
    from kapoutcomes.cohort.summary import REPORT_COLUMNS, cohort_summary
    from kapoutcomes.definitions import settings as settings_mod
    from kapoutcomes.present import html_report, report

    settings = settings_mod.load_settings(args.settings) if args.settings else None
    if args.demo:
        from kapoutcomes.demo import generator

        tabs = generator.generate(seed=7).tables
    else:
        path = Path(args.store or store_mod.default_path())
        if not path.exists():
            raise UserError(
                f"{path}: no store here yet; import exports with `kapoutcomes import FILE`, "
                "or run `kapoutcomes report --demo` on the demo cohort"
            )
        st, k = _open_checked(path)
        with st:
            if st.is_empty():
                raise UserError(
                    f"{path}: the store holds no patients yet; import exports with "
                    "`kapoutcomes import FILE`, or run `kapoutcomes report --demo`"
                )
            # validated on write; only the columns the summary reads
            tabs = st.read_all(validate=False, columns=REPORT_COLUMNS)
            shape = "html" if args.html else "json" if args.json else "text"
            _audit(st, k, "report", str(args.html or "standard output"), f"cohort report ({shape})")
    summary = cohort_summary(tabs, settings)
    if args.html:
        from kapoutcomes.storage import exports

        out = exports.write_private(args.html, html_report.to_html(summary).encode("utf-8"))
        print(f"wrote the HTML report to {out}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(report.to_json(summary))
    elif not args.html:
        print(report.to_text(summary))
    return 0


def _open_checked(path_arg: str | os.PathLike[str] | None, read_only: bool = False):  # type: ignore[no-untyped-def]
    """An existing store and its keys (refused when its key is lost, damaged or another's)."""
    from kapoutcomes.storage import keys

    path = Path(path_arg) if path_arg else store_mod.default_path()
    if not path.exists():
        raise UserError(f"{path}: no store here yet; run `kapoutcomes import FILE` first")
    return keys.open_store(path, read_only=read_only)


def _audit(st: store_mod.Store, k, action: str, target: str, detail: str = "") -> None:  # type: ignore[no-untyped-def]
    """Record a command-line action before its output is written (no entry, no output)."""
    from kapoutcomes.storage import audit

    audit.record(st, k.audit, _os_user(), "command line", action, target, detail)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from kapoutcomes.storage import audit

    st, k = _open_checked(args.store)
    with st:
        adopted = audit.start_checkpoint(st, k.audit)
        result = audit.verify(st, k.audit)
    if adopted:
        print(
            f"no audit checkpoint yet: started one at entry {adopted} ({st.path}"
            f"{audit.CHECKPOINT_SUFFIX})"
        )
    if result.ok:
        print(f"audit trail intact: {result.entries} entries verified")
        return 0
    print(f"audit trail BROKEN: {len(result.problems)} problem(s) in {result.entries} entries")
    for problem in result.problems:
        print(f"  {problem}")
    return 1


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from kapoutcomes.storage import audit, exports

    st, k = _open_checked(args.store)
    with st:
        _audit(st, k, "export", str(args.out), "audit trail (CSV)")
        log = audit.entries(st)
    exports.write_private(args.out, exports.safe_csv(log))
    print(f"wrote {log.height} audit entries to {args.out}")
    return 0


def _cmd_store_check(args: argparse.Namespace) -> int:
    from kapoutcomes.storage import check

    path = Path(args.store) if args.store else store_mod.default_path()
    if not path.exists():
        raise UserError(f"{path}: no store here yet; run `kapoutcomes import FILE` first")
    result = check.check_store(path)
    for line in result.lines:
        print(line)
    if result.ok:
        print(f"store OK: {path}")
        return 0
    print(f"store has {len(result.problems)} problem(s):")
    for problem in result.problems:
        print(f"  {problem}")
    return 1


def _build() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kapoutcomes",
        description="Outcome tracking for ketamine infusion and KAP clinics",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write the seeded demo cohort and messy example exports")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", default="sample_data")
    p.add_argument("--patients", type=int, default=360)
    p.add_argument("--store", default=None, help="also load the demo cohort into this store")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("schemas", help="write the data contracts (schemas, templates, dictionary)")
    p.add_argument("--out", default="schemas")
    p.set_defaults(func=_cmd_schemas)

    p = sub.add_parser("info", help="what the store holds")
    _store_arg(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("dashboard", help="serve the dashboards")
    _store_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=_cmd_dashboard)

    _import_parser(sub)
    _conflicts_parser(sub)

    p = sub.add_parser("report", help="cohort outcome report (text, JSON or HTML)")
    _store_arg(p)
    p.add_argument("--settings", default=None, help="settings TOML with outcome definitions")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--html", default=None, metavar="FILE", help="write a self-contained HTML file")
    p.add_argument("--demo", action="store_true", help="report on the seeded demo cohort")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("audit", help="check or export the audit trail")
    _store_arg(p)
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    a = audit_sub.add_parser("verify", help="check the hash chain; exit 1 when it is broken")
    a.set_defaults(func=_cmd_audit_verify)
    a = audit_sub.add_parser("export", help="write the audit trail as CSV (formula-safe)")
    a.add_argument("--out", required=True)
    a.set_defaults(func=_cmd_audit_export)

    p = sub.add_parser("store", help="check the store file")
    _store_arg(p)
    store_sub = p.add_subparsers(dest="store_command", required=True)
    a = store_sub.add_parser(
        "check", help="verify the whole store: every table, ledger counts, audit trail, key"
    )
    a.set_defaults(func=_cmd_store_check)
    return parser


def _import_parser(sub) -> None:  # type: ignore[no-untyped-def]
    p = sub.add_parser(
        "import", help="import clinic EHR exports (CSV, TSV, Excel, FHIR R4 .json / .ndjson)"
    )
    p.add_argument(
        "paths", nargs="*", help="files or folders to import (a FHIR bulk-export folder too)"
    )
    _store_arg(p)
    p.add_argument(
        "--preset", default=None, help="canonical, fhir, long, medications, synthea, wide"
    )
    p.add_argument("--mapping", default=None, help="TOML mapping file for a wide per-visit export")
    p.add_argument("--sheet", default=None, help="worksheet of an Excel workbook")
    p.add_argument("--clinic", default=None, help="clinic of patients the export does not describe")
    p.add_argument("--condition", default="other", help="their primary condition (default other)")
    p.add_argument(
        "--date-order",
        choices=("day-first", "month-first"),
        default=None,
        help="how to read 03/04/2024 where a column's own values do not settle it",
    )
    p.add_argument("--day-first", action="store_true", help="the same as --date-order day-first")
    p.add_argument("--settings", default=None, help="settings TOML (time zone, MME table)")
    p.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--quarantine-csv",
        default=None,
        metavar="OUT",
        help="write the open quarantine as CSV to correct and re-import",
    )
    p.add_argument("--import-id", default=None, help="with --quarantine-csv: one import only")
    p.add_argument(
        "--undo",
        default=None,
        metavar="IMPORT_ID",
        help="remove everything the import command that wrote IMPORT_ID wrote (audited)",
    )
    p.add_argument("--history", action="store_true", help="list the imports (ids, files, undone)")
    p.set_defaults(func=_cmd_import)


def _conflicts_parser(sub) -> None:  # type: ignore[no-untyped-def]
    p = sub.add_parser("conflicts", help="list conflicts kept for review; keep one value")
    _store_arg(p)
    p.add_argument(
        "--keep",
        nargs=2,
        metavar=("IMPORTED|STORED", "CONFLICT_ID"),
        default=None,
        help="settle a conflict: keep the imported or the stored value (audited)",
    )
    p.add_argument("--all", action="store_true", help="also the conflicts already settled")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_conflicts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build()
    args = parser.parse_args(argv)
    os.umask(0o077)  # everything this command writes (store, WAL, exports) is owner-only
    store_path = getattr(args, "store", None) or store_mod.default_path()
    # a file name, clinic or cell with a terminal's escape codes is shown, never acted on
    with (
        contextlib.redirect_stdout(_Terminal(sys.stdout)),
        contextlib.redirect_stderr(_Terminal(sys.stderr)),
    ):
        return _run(args, store_path)


def _run(args: argparse.Namespace, store_path: str | os.PathLike[str]) -> int:
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"kapoutcomes: {e}", file=sys.stderr)
        return 2
    except (store_mod.StoreError, ValueError, KeyError, OSError) as e:  # AccessError too
        print(f"kapoutcomes: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # a DuckDB error mid-command (disk full, damaged file), ...
        if os.environ.get("KAPOUTCOMES_DEBUG"):
            raise
        print(f"kapoutcomes: {_describe(e, str(store_path))}", file=sys.stderr)
        return 2


def _printable(text: str) -> str:
    """``text`` without a terminal's control sequences: every control character other than a
    line break or tab (ESC, BEL, CR, C1 codes) shown as ``\\xNN`` instead of acted on."""
    return "".join(
        c if c in "\n\t" or not (ord(c) < 32 or 127 <= ord(c) < 160) else f"\\x{ord(c):02x}"
        for c in text
    )


class _Terminal:
    """Standard output or error with control characters shown as ``\\xNN`` (``_printable``);
    a write that starts with a carriage return (the progress line) keeps that one."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        lead = "\r" if text.startswith("\r") else ""
        return self._out.write(lead + _printable(text[len(lead) :]))

    def __getattr__(self, name: str) -> object:
        return getattr(self._out, name)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _describe(e: Exception, path: str) -> str:
    """One line for an unexpected error; a store-level error is explained like StoreError."""
    import duckdb

    if isinstance(e, duckdb.Error):
        return store_mod.problem(path, e)
    return (
        f"{type(e).__name__}: {_one_line(e)[:300]} (set KAPOUTCOMES_DEBUG=1 to see the "
        "traceback and report it)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
