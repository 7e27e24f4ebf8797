"""The house's shape, checked on the code as it is: no import circle between app
packages and no domain importing a layer above it (imports inside functions count),
every domain module under an import-linter contract, and no oversized module."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import grimp

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def _contracts() -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = _pyproject()["tool"]["importlinter"]["contracts"]
    return contracts


def _layers_contract() -> dict[str, Any]:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    return layers


def _package(module: str) -> str:
    """``app.images.service`` -> ``app.images``; a top-level ``app.db`` is its own."""
    return ".".join(module.split(".")[:2])


def _edges(graph: grimp.ImportGraph) -> Iterator[tuple[str, str]]:
    for module in graph.modules:
        if not module.startswith("app."):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("app.") and _package(module) != _package(imported):
                yield module, imported


def _strongly_connected(nodes: set[str], succ: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (recursion is fine for a few dozen packages)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ.get(v, set()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            found.append(component)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_between_app_packages() -> None:
    # No cache: a stale cache once showed a circle that the code no longer had.
    graph = grimp.build_graph("app", cache_dir=None)
    edges = list(_edges(graph))
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(_package(a), set()).add(_package(b))
    nodes = set(succ) | {p for targets in succ.values() for p in targets}
    circles = [c for c in _strongly_connected(nodes, succ) if len(c) > 1]
    report = [
        f"circle {sorted(c)}:\n"
        + "\n".join(f"  {a} -> {b}" for a, b in sorted(edges) if {_package(a), _package(b)} <= c)
        for c in circles
    ]
    assert not circles, "\n".join(report)


def test_the_layers_contract_has_no_exceptions() -> None:
    assert not _layers_contract().get("ignore_imports"), "untie the import instead"


def _upward(edges: Iterable[tuple[str, str]], layers: list[str]) -> list[str]:
    rank = {layer: i for i, layer in enumerate(layers)}  # 0 is the top
    return sorted(
        f"{a} -> {b}"
        for a, b in edges
        if _package(a) in rank and _package(b) in rank and rank[_package(b)] < rank[_package(a)]
    )


def test_no_domain_imports_a_layer_above_it() -> None:
    """The layers contract checked here too, imports inside functions included."""
    layers: list[str] = _layers_contract()["layers"]
    assert "app.browse" in layers  # the order is read
    upward = _upward(_edges(grimp.build_graph("app", cache_dir=None)), layers)
    assert not upward, "a lower layer imports a higher one:\n" + "\n".join(upward)


def test_the_upward_finder_finds_an_import_of_a_higher_layer() -> None:
    edges = [
        ("app.images.tiles", "app.training.models"),  # up: caught
        ("app.training.models", "app.images.models"),  # down: fine
        ("app.db", "app.training.models"),  # a shared module: another contract's job
    ]
    found = _upward(edges, ["app.training", "app.images"])
    assert found == ["app.images.tiles -> app.training.models"]


def _covered(module: str, layers: set[str], listed: set[str]) -> bool:
    parts = module.split(".")
    prefixes = {".".join(parts[:n]) for n in range(2, len(parts) + 1)}
    return _package(module) in layers or bool(prefixes & listed)


def _domain_modules() -> list[str]:
    found = []
    for path in sorted((ROOT / "app").glob("*/**/*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        found.append(".".join(parts))
    return found


def test_every_domain_module_is_under_a_contract() -> None:
    layers = {layer for layer in _layers_contract()["layers"] if "|" not in layer}
    listed = {
        name
        for c in _contracts()
        if c["type"] == "forbidden"
        for name in [*c["source_modules"], *c["forbidden_modules"]]
        if name != "app" and "*" not in name  # the whole of app covers nothing in particular
    }
    modules = _domain_modules()
    assert "app.labeling.next_image" in modules  # the walk finds the domain modules
    missing = [m for m in modules if not _covered(m, layers, listed)]
    assert not missing, f"add these to a contract in pyproject.toml: {missing}"


def test_no_module_exceeds_the_line_limit() -> None:
    files = sorted(p for d in ("app", "workers") for p in (ROOT / d).rglob("*.py"))
    assert len(files) > 100  # the walk finds the code
    sizes = {p.relative_to(ROOT): len(p.read_text(encoding="utf-8").splitlines()) for p in files}
    over = {str(p): n for p, n in sizes.items() if n > MAX_LINES}
    assert not over, f"split these by job (more than {MAX_LINES} lines): {over}"


def test_the_circle_finder_finds_a_circle_of_three() -> None:
    succ = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    components = _strongly_connected({"a", "b", "c", "d"}, succ)
    assert {"a", "b", "c"} in components
    assert {"d"} in components
