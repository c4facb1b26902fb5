"""Architecture rules: the library never imports streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_library_source_never_imports_streamlit():
    for path in (ROOT / "kapoutcomes").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_importing_every_module_loads_no_streamlit():
    code = (
        "import pkgutil, importlib, sys, kapoutcomes\n"
        "for m in pkgutil.walk_packages(kapoutcomes.__path__, 'kapoutcomes.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_names_exist():
    import kapoutcomes

    for name in kapoutcomes.__all__:
        assert hasattr(kapoutcomes, name), name
    km = kapoutcomes.kaplan_meier([1.0, 2.0, 3.0], [True, False, True])
    assert km.median is not None
