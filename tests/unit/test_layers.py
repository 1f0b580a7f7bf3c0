"""The layers of the code base, read from every module's imports (lazy imports included).

    data_contracts  <- kernel  <- transforms  <- pipelines (Dagster, ingest, command line)
                                         ^           |
                                         |           v
                                       dashboards (the read side: after the published copy)

`generator` (synthetic exports) sits beside them on data_contracts and kernel; `benchmarks`
and `tests` may use everything. Dagster is imported only under pipelines/, Streamlit only by
the Streamlit app (dashboards/app.py, ui.py, data.py, views/); nothing the pipeline imports
pulls Streamlit in; and no two files import each other, directly or in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("data_contracts", "kernel", "transforms", "pipelines", "dashboards", "generator")
ALLOWED = {
    "data_contracts": {"data_contracts"},
    "kernel": {"kernel", "data_contracts"},
    "transforms": {"transforms", "kernel", "data_contracts"},
    "generator": {"generator", "kernel", "data_contracts"},
    "dashboards": {"dashboards", "transforms", "kernel", "data_contracts"},
    "pipelines": {"pipelines", "dashboards", "generator", "transforms", "kernel", "data_contracts"},
}
STREAMLIT_APP = (
    "dashboards.app",
    "dashboards.ui",
    "dashboards.filters",
    "dashboards.data",
    "dashboards.views",
    "dashboards.server",  # the st.App entry: app.py behind the download guard
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
        if "__pycache__" not in p.parts
    }


MODULES = _modules()


def _resolve(name: str) -> str:
    """The module file an import refers to (`from a.b import c` may name module a.b.c)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(path: Path) -> set[str]:
    """Every module imported anywhere in the file (top level, functions, lazy imports)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:  # `from pkg import mod` imports pkg.mod, else a name of pkg
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in MODULES else node.module)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for mod, path in MODULES.items():
        targets = {_resolve(i) for i in imports_of(path) if i.split(".")[0] in PACKAGES}
        graph[mod] = {t for t in targets if t and t != mod}
    return graph


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module):
    layer = module.split(".")[0]
    wrong = sorted(t for t in GRAPH[module] if t.split(".")[0] not in ALLOWED[layer])
    assert not wrong, f"{module} ({layer}) must not import {wrong}"


def test_dagster_only_under_pipelines():
    users = sorted(
        m for m, p in MODULES.items() if any(i.split(".")[0] == "dagster" for i in imports_of(p))
    )
    assert users and all(m.startswith("pipelines.") for m in users), users


def test_streamlit_only_in_the_streamlit_app():
    users = sorted(
        m for m, p in MODULES.items() if any(i.split(".")[0] == "streamlit" for i in imports_of(p))
    )
    assert users and all(m.startswith(STREAMLIT_APP) for m in users), users


def test_nothing_the_pipeline_imports_pulls_in_streamlit():
    seen, stack = set(), [m for m in MODULES if m.startswith("pipelines")]
    while stack:
        mod = stack.pop()
        if mod in seen:
            continue
        seen.add(mod)
        stack.extend(GRAPH[mod])
    reached = sorted(
        m for m in seen if any(i.split(".")[0] == "streamlit" for i in imports_of(MODULES[m]))
    )
    assert not reached, f"the pipeline imports Streamlit through {reached}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one file (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_files():
    assert _cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_modules_stay_readable():
    """No Python module over 600 lines outside the generator (data tables live there)."""
    long = {
        m: n
        for m, p in MODULES.items()
        if not m.startswith("generator")
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, long
