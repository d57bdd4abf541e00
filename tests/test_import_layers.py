"""No import circles between camaudit's modules (the ast of device/camaudit, nothing run).

Every import counts: at the top, inside a function (lazy) and under TYPE_CHECKING, since a
circle that only type-checks still ties two layers together. A package's own `__init__`
re-exporting its submodules is an edge like any other; a submodule is not taken to import its
parent package (Python runs the parent's `__init__` first, but that is not a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "device"
PKG = ROOT / "camaudit"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest known module `name` is in (a.b.C -> a.b when C is a class)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(pkg: Path = PKG) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in pkg.rglob("*.py")}
    modules = set(files)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for t in targets:
                dep = _resolve(t, modules)
                if dep is not None and dep != mod:
                    graph[mod].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (iterative DFS, colours)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph[nxt])))
    return None


def test_the_graph_sees_the_hub_and_its_rooms() -> None:
    g = import_graph()
    assert "camaudit.hub.ingest.collector" in g
    assert "camaudit.core.record" in g["camaudit.hub.ingest.verify"] or any(
        d.startswith("camaudit.core") for d in g["camaudit.hub.ingest.verify"])


def test_no_import_circle_between_camaudit_modules() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_a_reintroduced_circle_is_found(tmp_path: Path) -> None:
    # the detector itself: core.policy importing config.model again (the old circle) is caught
    pkg = tmp_path / "camaudit"
    for name, text in {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/policy.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from camaudit.config.model import Config\n",
        "config/__init__.py": "",
        "config/model.py": "from .notices import Notice\n",
        "config/notices.py": "def f():\n    from camaudit.core.policy import parse_hours\n",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    global ROOT
    old, ROOT = ROOT, tmp_path
    try:
        cycle = find_cycle(import_graph(pkg))
    finally:
        ROOT = old
    assert cycle is not None and "camaudit.core.policy" in cycle and "camaudit.config.model" in cycle


def test_core_imports_nothing_outside_core() -> None:
    # pure core: the config layer builds a Policy in the wiring (pipeline/policy.py), not here
    g = import_graph()
    outside = {(m, d) for m, ds in g.items() if m.startswith("camaudit.core") for d in ds
               if not d.startswith("camaudit.core")}
    assert outside == set()


def test_report_does_not_import_the_hub() -> None:
    g = import_graph()
    assert {(m, d) for m, ds in g.items() if m.startswith("camaudit.report") for d in ds
            if d.startswith("camaudit.hub")} == set()
