"""The library's import graph, read from the source with ast (no module is imported).

``STAGES`` is the one written order of the package's stages, lowest first: a module may
import from its own stage or a lower one, never a higher one. ``tests/test_architecture.py``
checks the graph against it; ``python tests/import_graph.py`` prints the findings.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "kapoutcomes"

#: the stages, lowest first; each is a sub-package or a top-level module of ``kapoutcomes``
STAGES: tuple[str, ...] = (
    "stats",  # estimators only: no clinical import
    "definitions",  # settings, instruments, MME tables
    "tables",  # the data contract
    "storage",  # the store and its guards
    "ingest",  # reading exports
    "outcomes",  # one patient
    "cohort",  # populations and cohort sections
    "present",  # figures, tables, reports
    "demo",  # the synthetic demo cohort and its exports
    "cli",  # the command line
    "__init__",  # the curated public API (lazy)
)


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. kapoutcomes.cohort.summary
    path: Path
    is_package: bool


def modules() -> dict[str, Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        out[name] = Module(name, path, is_package)
    return out


def imports(mod: Module, known: dict[str, Module]) -> set[str]:
    """The kapoutcomes modules ``mod`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(mod.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "kapoutcomes"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.name.split(".")
                if not mod.is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.split(".")[0] == "kapoutcomes":
                target = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    found.discard(mod.name)
    return {f for f in found if f in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(m, known) for name, m in known.items()}


def stage(name: str) -> str:
    parts = name.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def loops(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def upward(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower stage to a higher one."""
    rank = {s: i for i, s in enumerate(STAGES)}
    return sorted((a, b) for a, bs in g.items() for b in bs if rank[stage(b)] > rank[stage(a)])


def long_functions(limit: int = 80) -> list[tuple[int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > limit:
                    found.append((n, f"{path.relative_to(ROOT)}:{node.name}"))
    return sorted(found, reverse=True)


# -- tests mirror the package -------------------------------------------------------------------
TESTS = ROOT / "tests"


def has_code(mod: Module) -> bool:
    """More than a docstring (a package whose ``__init__`` only describes it has nothing to test)."""
    body = ast.parse(mod.path.read_text(encoding="utf-8")).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def mirror(name: str) -> Path:
    """The test folder of a library module: tests/<stage>/ for a stage's modules, tests/ for the
    top-level ones (tables, cli, the package itself)."""
    parts = name.split(".")
    return TESTS / parts[1] if len(parts) > 1 and (TESTS / parts[1]).is_dir() else TESTS


def test_modules(folder: Path) -> list[Module]:
    """The test modules of a folder: tests/<stage>/ with its sub-folders, tests/ on its own."""
    paths = folder.glob("test_*.py") if folder == TESTS else folder.rglob("test_*.py")
    return [
        Module(".".join(p.relative_to(ROOT).with_suffix("").parts), p, False) for p in sorted(paths)
    ]


def tested_by(name: str, known: dict[str, Module] | None = None) -> list[str]:
    """The test modules in ``name``'s mirror folder that import it."""
    known = known or modules()
    return [t.name for t in test_modules(mirror(name)) if name in imports(t, known)]


def untested() -> list[str]:
    """Library modules with code that no test module in their mirror folder imports."""
    known = modules()
    return [n for n, m in known.items() if has_code(m) and not tested_by(n, known)]


if __name__ == "__main__":
    g = graph()
    print("top-level modules:", [m for m in g if m.count(".") == 1 and not modules()[m].is_package])
    print("loops:", loops(g))
    print("upward:", *upward(g), sep="\n  ")
    print("long functions:", *long_functions(), sep="\n  ")
    print("without a test module:", *untested(), sep="\n  ")
