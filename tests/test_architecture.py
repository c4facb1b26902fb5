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


# --- the shape of the package (issue 11): stages, loops, function length -------------------

from tests import import_graph  # noqa: E402


def test_no_import_loops():
    assert import_graph.loops(import_graph.graph()) == []


def test_no_import_from_a_lower_stage_to_a_higher_one():
    assert import_graph.upward(import_graph.graph()) == []


def test_every_library_module_belongs_to_a_stage():
    for name in import_graph.graph():
        assert import_graph.stage(name) in import_graph.STAGES, name


def test_no_library_function_over_80_lines():
    assert import_graph.long_functions(80) == []


#: the one module that speaks SQL to DuckDB
SQL_HOME = "kapoutcomes/storage/store.py"


def sql_calls(source: str) -> list[tuple[int, str]]:
    """(line, method) of every ``x.execute(...)`` / ``x.sql(...)`` / ``x.query(...)`` call."""
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("execute", "sql", "query")
    ]


def test_sql_only_inside_the_store():
    """Every query is a named method of the store: no other library module calls
    ``execute`` / ``sql`` / ``query`` on a connection or a store."""
    found = {
        f"{path.relative_to(ROOT)}:{line} .{method}("
        for path in (ROOT / "kapoutcomes").rglob("*.py")
        if path.relative_to(ROOT).as_posix() != SQL_HOME
        for line, method in sql_calls(path.read_text(encoding="utf-8"))
    }
    assert found == set()


def test_the_sql_check_finds_a_query():
    src = "def f(st):\n    st.con.execute('CHECKPOINT')\n    return st.query('SELECT 1')\n"
    assert sql_calls(src) == [(2, "execute"), (3, "query")]


def test_the_graph_finds_a_loop_and_an_upward_import():
    """The checker itself: a made-up graph with a loop and an upward import is caught."""
    g = {
        "kapoutcomes.stats.a": {"kapoutcomes.cohort.b"},
        "kapoutcomes.cohort.b": {"kapoutcomes.stats.a"},
    }
    assert import_graph.loops(g) == [["kapoutcomes.cohort.b", "kapoutcomes.stats.a"]]
    assert import_graph.upward(g) == [("kapoutcomes.stats.a", "kapoutcomes.cohort.b")]


# --- tests mirror the package (issue 11) -----------------------------------------------------


def test_every_library_module_has_a_test_module_that_imports_it():
    """kapoutcomes/<stage>/<module>.py is imported by a test module in tests/<stage>/ (top-level
    modules: by one in tests/); a package whose __init__ is only a docstring is exempt."""
    assert import_graph.untested() == [], "add a test module in the module's mirror folder"


def test_the_mirror_check_finds_an_untested_module(tmp_path, monkeypatch):
    """The checker itself: in a made-up tree, the module no test imports is the one reported,
    and a test in another stage's folder does not count."""
    pkg, tests = tmp_path / "kapoutcomes", tmp_path / "tests"
    for d in (pkg / "stats", pkg / "cohort", tests / "stats", tests / "cohort"):
        d.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""docstring only"""\n')
    (pkg / "stats" / "__init__.py").write_text('"""docstring only"""\n')
    (pkg / "cohort" / "__init__.py").write_text("X = 1\n")
    for m in ("stats/a.py", "stats/b.py", "cohort/c.py"):
        (pkg / m).write_text("def f():\n    return 1\n")
    (tests / "stats" / "test_a.py").write_text("from kapoutcomes.stats import a\n")
    (tests / "cohort" / "test_c.py").write_text("from kapoutcomes.cohort.c import f\n")
    (tests / "stats" / "test_other.py").write_text("from kapoutcomes.cohort import c\n")
    monkeypatch.setattr(import_graph, "ROOT", tmp_path)
    monkeypatch.setattr(import_graph, "PACKAGE", pkg)
    monkeypatch.setattr(import_graph, "TESTS", tests)
    assert import_graph.untested() == ["kapoutcomes.cohort", "kapoutcomes.stats.b"]


def test_colours_come_from_the_one_palette():
    """Every colour literal of the charts and printed pages lives in present/palette.py."""
    import re

    colour = re.compile(r"#[0-9A-Fa-f]{6}\b|#[0-9A-Fa-f]{3}\b|rgba\(")
    places = [
        *(ROOT / "kapoutcomes" / "present").rglob("*.py"),
        *(ROOT / "dashboards").rglob("*.py"),
    ]
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in places
        if p.name != "palette.py"
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if colour.search(line)
    ]
    assert found == []


def test_no_public_name_shadows_a_submodule():
    """`from kapoutcomes import report_html` once returned the function to_html instead of the
    module of that name, and the Cohort page's board-report button crashed: a public-API name
    must never equal a submodule or sub-package of kapoutcomes."""
    import pkgutil

    import kapoutcomes

    submodules = {m.name for m in pkgutil.iter_modules(kapoutcomes.__path__)}
    assert {"cohort", "present", "tables", "cli"} <= submodules
    assert set(kapoutcomes._API) & submodules == set()
    assert set(kapoutcomes.__all__) & submodules == set()
    assert set(kapoutcomes._API) | {"__version__"} == set(kapoutcomes.__all__)
