"""The package's layers (docs/architecture.md): imports point only downward and make no cycle.

Each top-level subpackage of ``radledger`` is a layer with a rank; a module may import from its
own subpackage or from a lower rank, never from a higher rank nor sideways into another
subpackage of the same rank. Function-local imports count like any other, so a cycle cannot
hide inside a function; the only function-local imports allowed are the lazy imports of
optional extras listed in :data:`LAZY_OPTIONAL`. Nothing inside the package imports the
``radledger`` facade itself (its ``__init__`` re-exports the public API from the layers).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "client" / "radledger"

RANKS: dict[str, int] = {
    "chain": 0,
    "registries": 1,
    "deployment": 2,
    "audit": 3,
    "gateway": 3,
    "portal": 4,
    "gas": 5,
    "demo": 5,
    "cli": 6,
}
"""The layers, lowest first. Same rank, different subpackage: neither may import the other."""

LAZY_OPTIONAL: dict[str, str] = {
    "radledger.cli": "the gateway and portal commands import starlette, uvicorn and httpx (the [gateway] extra) "
    "only when run, so the rest of the CLI works without them",
}
"""Module prefixes whose function-local imports of radledger modules are allowed, and why."""


LAYERS = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
"""The subpackages there are (a layer of RANKS may not exist yet)."""


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    local: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an imported dotted name lives in (a name imported from a package resolves to the package)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    local_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    local_lines.add(inner.lineno)
    found: list[Import] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from pkg import sub` imports the submodule when there is one
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in known else module for alias in node.names
            ]
        for target in targets:
            if not target.startswith("radledger"):
                continue
            resolved = _resolve(target, known)
            if resolved is not None and resolved != name:
                found.append(Import(name, resolved, node.lineno, node.lineno in local_lines))
    return found


def all_imports() -> list[Import]:
    known = modules()
    return [imp for name, path in known.items() for imp in imports_of(name, path, known)]


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_layer() -> None:
    unranked = sorted(LAYERS - set(RANKS))
    assert unranked == [], "a new subpackage needs a rank in RANKS and a paragraph in docs/architecture.md"
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside the layers: {loose}"


def test_nothing_inside_the_package_imports_the_facade() -> None:
    offenders = [imp for imp in all_imports() if imp.target == "radledger"]
    assert offenders == []


def test_imports_point_only_downward() -> None:
    upward = []
    for imp in all_imports():
        src, dst = layer(imp.source), layer(imp.target)
        if src is None or dst is None or src == dst:
            continue
        if RANKS[dst] >= RANKS[src]:
            upward.append(
                f"{imp.source}:{imp.line} imports {imp.target} ({src} rank {RANKS[src]} -> {dst} rank {RANKS[dst]})"
            )
    assert upward == []


def test_no_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in all_imports():
        graph[imp.source].add(imp.target)
    cycles = _strongly_connected(graph)
    assert [sorted(c) for c in cycles if len(c) > 1] == []


def test_function_local_imports_only_for_optional_extras() -> None:
    local = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in all_imports()
        if imp.local and not any(imp.source.startswith(prefix) for prefix in LAZY_OPTIONAL)
    ]
    assert local == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    nodes = set(graph) | {t for ts in graph.values() for t in ts}
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    result.append(component)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return result


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}, {"d"}]


def _readme_layout() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Project layout") :]
    return section[: section.index("\n## ", 1)]


@pytest.mark.parametrize("subpackage", sorted(LAYERS))
def test_readme_layout_names_every_layer(subpackage: str) -> None:
    assert re.search(rf"^\s+{subpackage}/", _readme_layout(), re.M), f"README's layout does not show {subpackage}/"


def test_architecture_doc_describes_every_layer() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    missing = [name for name in sorted(LAYERS) if f"`radledger.{name}`" not in doc]
    assert missing == []
