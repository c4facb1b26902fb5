"""The app ships inside the installed package: build a wheel of the repository, install it in
an empty virtual environment outside the checkout (its dependencies borrowed from this
environment through a .pth file), run `kapoutcomes dashboard` from a folder with no
.streamlit/ and check that the served app is the installed copy showing the demo cohort."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from tests.browser_support import ROOT, free_port, wait_healthy, wait_ready

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

SOURCES = ("pyproject.toml", "README.md", "kapoutcomes", "dashboards")


def _can_build_without_isolation() -> bool:
    """setuptools builds wheels by itself from 70.1; before that it needs the wheel package."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def build_wheel(tmp: Path) -> Path:
    """A wheel of the checkout, built from a copy so that no build/ or egg-info lands in it."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist")]
    if _can_build_without_isolation():
        cmd.append("--no-build-isolation")
    # else: this environment's setuptools cannot build a wheel; pip fetches a build backend
    # from its configured index into an isolated build environment
    subprocess.run([*cmd, f"{src}{os.sep}"], check=True, timeout=300, env=_clean_env())
    (wheel,) = (tmp / "dist").glob("kapoutcomes-*.whl")
    return wheel


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would put the checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


def make_venv(tmp: Path) -> Path:
    """An empty venv whose dependencies come from this environment's site-packages, added as
    plain paths (not site dirs, so this environment's editable kapoutcomes is not loaded)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(purelib, "project-deps.pth").write_text("\n".join(ours) + "\n")
    return venv


def test_installed_dashboard_serves_the_installed_app(tmp_path, browser):
    wheel = build_wheel(tmp_path)
    venv = make_venv(tmp_path)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=300,
        env=_clean_env(),
    )
    work = tmp_path / "work"  # outside the checkout, no .streamlit/ anywhere
    home = tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = _clean_env(
        HOME=str(home),
        KAPOUTCOMES_HOME=str(home),
        KAPOUTCOMES_STORE=str(home / "store.duckdb"),
    )
    where = subprocess.run(
        [
            python,
            "-c",
            "import kapoutcomes, dashboards; print(kapoutcomes.__file__, dashboards.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    port = free_port()
    log = open(tmp_path / "dashboard.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(venv / "bin" / "kapoutcomes"), "dashboard", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the CLI starts streamlit as a child: stop the whole group
    )
    url = f"http://127.0.0.1:{port}"
    try:
        log.flush()
        try:
            wait_healthy(url, proc, tmp_path / "dashboard.log")
        except RuntimeError as e:
            pytest.fail(f"dashboard did not start: {e}")
        # the server runs the installed copy of the app with the CLI's own options
        children = subprocess.run(
            ["pgrep", "-s", str(proc.pid), "-a"], capture_output=True, text=True
        ).stdout
        installed_app = str(next(venv.rglob("site-packages/dashboards/serve.py")))
        assert installed_app in children, children
        assert "--server.maxUploadSize 200" in children, children

        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(url)
        wait_ready(page)
        page.get_by_text("Demo data.").first.wait_for(timeout=60_000)
        page.get_by_text("Cohort review").first.wait_for(timeout=60_000)
        page.get_by_text("Pain responders").first.wait_for(timeout=60_000)
        page.close()
    finally:
        stop_group(proc)
        log.close()


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the CLI and the streamlit server it started (one process group): SIGTERM, then
    SIGKILL for whatever is still running after a grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
