"""Serve nothing unsafe: without sign-in the app answers only on loopback, whichever way it
was started. Each test is an attack: a wildcard bind, a host name that looks like loopback
but resolves elsewhere, a name that does not resolve, `streamlit run` from another folder
with no address, and a SIGTERM that must not leave the server running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kapoutcomes.storage import access, binding
from tests.browser_support import ROOT, free_port, wait_healthy

APP = str(ROOT / "dashboards" / "app.py")


def fake_resolver(monkeypatch, table: dict[str, list[str]]) -> None:
    def getaddrinfo(host, port, *a, **kw):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in table[host]]

    monkeypatch.setattr(binding.socket, "getaddrinfo", getaddrinfo)


def test_loopback_literals_pass():
    for host in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "unix:///tmp/kap.sock"):
        assert binding.address_problem(host) is None, host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", None, "10.1.2.3", "192.168.0.5"])
def test_wildcard_and_outside_addresses_refused(host):
    assert binding.address_problem(host) is not None
    with pytest.raises(access.AccessError, match="Refusing to serve"):
        access.check_listen_address(host, sign_in_configured=False)


def test_name_starting_127_that_resolves_elsewhere_is_refused(monkeypatch):
    fake_resolver(monkeypatch, {"127.0.0.1.evil.test": ["203.0.113.7"]})
    problem = binding.address_problem("127.0.0.1.evil.test")
    assert problem and "203.0.113.7" in problem


def test_name_resolving_to_loopback_and_elsewhere_is_refused(monkeypatch):
    fake_resolver(monkeypatch, {"kap.test": ["127.0.0.1", "198.51.100.2"]})
    assert "198.51.100.2" in (binding.address_problem("kap.test") or "")


def test_name_that_does_not_resolve_is_refused(monkeypatch):
    fake_resolver(monkeypatch, {})
    assert "does not resolve" in (binding.address_problem("127.nowhere.test") or "")


def test_localhost_resolving_to_loopback_passes(monkeypatch):
    fake_resolver(monkeypatch, {"localhost": ["127.0.0.1", "::1"]})
    assert binding.address_problem("localhost") is None


def test_sign_in_allows_any_address():
    access.check_listen_address("0.0.0.0", sign_in_configured=True)


def test_proc_net_parsing_sees_wildcard_binds():
    v4 = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 111 1\n"
        "   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 222 1\n"
        "   2: 0100007F:1F92 0100007F:9999 01 00000000:00000000 00:00000000 00000000  1000 0 333 1\n"
    )
    got = binding.parse_proc_net(v4, {"111", "222", "333"})
    assert [(s.address, s.port, s.is_loopback) for s in got] == [
        ("0.0.0.0", 8080, False),
        ("127.0.0.1", 8081, True),
    ]
    v6 = (
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000  1000 0 444 1\n"
        "   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A "
        "00000000:00000000 00:00000000 00000000  1000 0 555 1\n"
    )
    got6 = binding.parse_proc_net(v6, {"444", "555"})
    assert [(s.address, s.is_loopback) for s in got6] == [("::", False), ("::1", True)]


def test_this_process_listening_sockets_are_read():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        mine = binding.listening_addresses()
        assert binding.Listening("127.0.0.1", port) in mine
        assert binding.serving_problem("127.0.0.1") is None


def test_app_shows_only_a_refusal_on_a_wildcard_address(tmp_path, monkeypatch):
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("KAPOUTCOMES_HOME", str(tmp_path))
    monkeypatch.setenv("KAPOUTCOMES_STORE", str(tmp_path / "store.duckdb"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert any("Demo data" in w.value for w in at.warning)  # loopback (AppTest's default)
    for host in ("0.0.0.0", "127.0.0.1.evil.test"):
        fake_resolver(monkeypatch, {"127.0.0.1.evil.test": ["203.0.113.7"]})
        at = AppTest.from_file(APP, default_timeout=120)  # no [auth]: local mode

        old = config.get_option("server.address")
        config.set_option("server.address", host)
        try:
            at.run()
        finally:
            config.set_option("server.address", old)
        assert at.error and at.error[0].value.startswith("Refusing to serve"), host
        assert not at.warning and not at.dataframe and not at.metric


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode("utf-8", "replace")


@pytest.mark.browser
def test_streamlit_run_from_another_folder_serves_only_a_refusal(tmp_path):
    """`streamlit run /abs/path/app.py` from elsewhere, no --server.address: Streamlit binds
    every interface; the page a browser gets must hold the refusal and no patient data.
    (Connections go to 127.0.0.1 only.)"""
    sync_api = pytest.importorskip("playwright.sync_api")
    from kapoutcomes.demo import generator
    from kapoutcomes.storage.store import Store
    from tests.browser_support import CHROMIUM_ARGS, chromium_path, wait_healthy, wait_ready

    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with Store(home / "store.duckdb") as st:
        st.replace_all(generator.generate(seed=7, patients=20).tables)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_SERVER_ADDRESS")} | {
        "KAPOUTCOMES_HOME": str(home),
        "KAPOUTCOMES_STORE": str(home / "store.duckdb"),
    }
    log = tmp_path / "streamlit.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                APP,
                "--server.port",
                str(port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=elsewhere,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        wild = [s for s in binding.listening_addresses(str(proc.pid)) if not s.is_loopback]
        assert wild, "expected Streamlit's default bind to be a wildcard"
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("Refusing to serve").first.wait_for(timeout=60_000)
            wait_ready(page)
            text = page.inner_text("body")
            browser.close()
        assert "Refusing to serve" in text
        assert "listens on" in text or "every interface" in text
        for leak in ("Demo data", "Cohort review", "patients", "p_", "Riverside"):
            assert leak not in text, leak
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_sigterm_to_dashboard_stops_the_streamlit_child(tmp_path):
    port = free_port()
    env = dict(os.environ) | {
        "KAPOUTCOMES_HOME": str(tmp_path),
        "KAPOUTCOMES_STORE": str(tmp_path / "store.duckdb"),
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "cli.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kapoutcomes.cli", "dashboard", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert children
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{c}").exists() for c in children):
            assert time.monotonic() < deadline, "the streamlit child kept running"
            time.sleep(0.2)
        with pytest.raises(OSError):
            _get(f"{url}/_stcore/health")
    finally:
        if proc.poll() is None:
            proc.kill()
