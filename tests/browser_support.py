"""Start the app with `streamlit run` and drive it with Debian's Chromium through Playwright.

Never downloads a browser: Chromium comes from the Debian package (installed by
`.ci/install-browser.sh`, which `make test` runs).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            "Debian's chromium is not installed: run `bash .ci/install-browser.sh` (make test does)"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_app(
    env_extra: dict[str, str],
    timeout: float = 90.0,
    port: int | None = None,
    extra_args: list[str] | None = None,
) -> Iterator[str]:
    """Run `streamlit run dashboards/serve.py` (the app as `kapoutcomes dashboard` serves it) on
    a loopback port; yield its URL."""
    port = port or free_port()
    env = {**os.environ, **env_extra}
    log = open(env_extra.get("KAPOUTCOMES_HOME", "/tmp") + "/streamlit.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "dashboards" / "serve.py"),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            *(extra_args or []),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(
            url, proc, Path(env_extra.get("KAPOUTCOMES_HOME", "/tmp"), "streamlit.log"), timeout
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Wait until the Streamlit server at ``url`` answers its health check; RuntimeError with
    the end of ``log`` when the process ends or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"streamlit did not start: {text[-2000:]}")
        time.sleep(0.3)


def wait_ready(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has rendered and finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(500)


#: every grid on screen has drawn its header row (the grid's accessible table holds it)
_GRIDS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
  .filter(e => e.getBoundingClientRect().width > 60)
  .every(e => [...e.querySelectorAll('th')].some(t => t.innerText.trim() !== ''))"""


def wait_grids_drawn(page, timeout: int = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until every table on screen has drawn its headers: the grids draw after the page
    run, on their own time, so a fixed pause is not enough on a loaded machine."""
    page.wait_for_function(_GRIDS_DRAWN, timeout=timeout)


def store_riverside(home: Path) -> None:
    """A clinic's own store in ``home`` (Riverside's visits, with its key beside it): views and
    downloads of the demo cohort are never audited (issue 14 item 6), so the tests of audited
    views and downloads need stored patients."""
    import os

    from kapoutcomes.ingest import import_files

    before = os.environ.get("KAPOUTCOMES_HOME")
    os.environ["KAPOUTCOMES_HOME"] = str(home)  # the key beside the store, as the app finds it
    try:
        import_files(
            [ROOT / "sample_data/exports/riverside_visits.csv"],
            home / "store.duckdb",
            mapping=ROOT / "sample_data/mappings/riverside_visits.toml",
        )
    finally:
        if before is None:
            del os.environ["KAPOUTCOMES_HOME"]
        else:
            os.environ["KAPOUTCOMES_HOME"] = before
