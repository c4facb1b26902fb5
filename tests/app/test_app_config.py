"""One home for each app setting: the upload limit is the importer's MAX_BYTES, the Streamlit
options are kapoutcomes.cli.app_options (the source checkout's .streamlit/config.toml must
agree), and whether sign-in is configured is decided by kapoutcomes.storage.access only."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

from kapoutcomes import cli
from kapoutcomes.ingest.read import MAX_BYTES
from kapoutcomes.storage import access

ROOT = Path(__file__).resolve().parents[2]


def test_checkout_streamlit_config_agrees_with_the_cli_options():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    flat = {f"{section}.{k}": v for section, values in config.items() for k, v in values.items()}
    flat.pop("server.address")  # the CLI's --host
    assert flat == cli.app_options()


def test_upload_limit_is_the_importers():
    assert cli.app_options()["server.maxUploadSize"] * 1024 * 1024 == MAX_BYTES
    from kapoutcomes.present import data_page

    assert data_page.UPLOAD_LIMIT_MB * 1024 * 1024 == MAX_BYTES
    assert f"{data_page.UPLOAD_LIMIT_MB} MB" in data_page.upload_help()
    # no page states a number of its own
    page = (ROOT / "dashboards" / "views" / "data.py").read_text(encoding="utf-8")
    assert re.search(r"\b200\b", page) is None  # ("before 2000" is a date, not the limit)


def test_sign_in_rule_has_one_home(tmp_path):
    assert not access.sign_in_configured(None)
    assert not access.sign_in_configured({"cookie_secret": "x"})
    assert access.sign_in_configured({"cookie_secret": "x", "redirect_uri": "http://h/cb"})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\ncookie_secret = "x"\nredirect_uri = "http://h/cb"\n')
    assert access.sign_in_configured(access.secrets_auth(secrets))
    assert access.secrets_auth(tmp_path / "missing.toml") is None
    for path in [ROOT / "kapoutcomes" / "cli.py", ROOT / "dashboards" / "access_gate.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert "sign_in_configured" not in defined, path


def test_dashboard_reads_secrets_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tmp_path / ".streamlit" / "secrets.toml" in cli._secrets_files()


def test_the_app_clears_only_caches_it_has():
    """st.cache_data.clear() where no st.cache_data exists clears nothing the app uses."""
    dash = ROOT / "dashboards"
    text = "\n".join(p.read_text(encoding="utf-8") for p in dash.rglob("*.py"))
    for kind in ("cache_data", "cache_resource"):
        if f"st.{kind}.clear()" in text:
            assert f"@st.{kind}" in text, kind
