"""The package's shape as a specification: dependencies point one way and no import cycles exist.

Layers (DEVELOPERS.md): modes and front ends (cli, agents, experiments, bench, pow, dso, flower) →
learning/control/costs → crypto/secagg/chain/data → ``hefl.errors`` (and the other top-level
helper modules, which import nothing but ``hefl.errors``). Every import counts, also one inside a
function: a lazy import that hides a cycle is still a cycle.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "offchain" / "hefl"

LAYERS: dict[str, int] = {
    "crypto": 1,
    "secagg": 1,
    "chain": 1,
    "data": 1,
    "learning": 2,
    "control": 2,
    "costs": 2,
    "agents": 3,
    "experiments": 3,
    "bench": 3,
    "pow": 3,
    "dso": 3,
    "flower": 3,
    "cli": 4,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every hefl module ``path`` imports, resolved to a module that exists in the tree."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("hefl")}


@functools.cache
def _graph() -> dict[str, set[str]]:
    # a compiled extension module is known by its stub (hefl.crypto._multiexp)
    files = {_module_name(p): p for p in [*ROOT.rglob("*.py"), *ROOT.rglob("*.pyi")]}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        for name in _imports(path, module):
            # resolve "hefl.a.b.Name" to the longest existing module prefix
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0  # the package root holds the version and the map of the sources, nothing more
    return LAYERS.get(parts[1], 0)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with more than one module (or a self-loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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


def test_the_scanner_sees_the_package():
    graph = _graph()
    assert "hefl.errors" in graph and "hefl.crypto" in graph
    assert "hefl.errors" in graph["hefl.crypto.vector"] or any(
        "hefl.errors" in graph[m] for m in graph if m.startswith("hefl.crypto")
    )


def test_no_import_cycles_between_modules():
    cycles = _strongly_connected(_graph())
    assert cycles == [], f"import cycles: {cycles}"


def test_no_import_cycles_between_packages():
    graph = _graph()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        src = ".".join(module.split(".")[:2])
        for target in targets:
            dst = ".".join(target.split(".")[:2])
            if dst != src and module != "hefl":
                packages.setdefault(src, set()).add(dst)
    assert _strongly_connected(packages) == []


@pytest.mark.parametrize("module", sorted(_graph()))
def test_dependencies_point_down(module):
    graph = _graph()
    upward = sorted(t for t in graph[module] if _layer(t) > _layer(module))
    assert upward == [], f"{module} (layer {_layer(module)}) imports higher layers: {upward}"
