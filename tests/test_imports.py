"""Imports go one way: no cycle between the project's modules, and none between its packages.

A cycle hidden behind an import inside a function ("follow_up imports this module") works until someone
moves the import, and it hides which module is built on which. The graph read here holds every import of a
project module, at module level AND inside functions, so an import moved into a function to dodge a cycle
is still an edge of the cycle and fails the test. Imports under ``if TYPE_CHECKING:`` are left out: they
never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The project's Python packages (each a directory with an __init__.py at the top of the repository).
PACKAGES = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in {"tests"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                # Alembic script directories: Alembic loads env.py and the revisions by path, never as modules;
                # env.py imports the composition root (gateway.app, store.models) to see every table.
                continue
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield from _imports(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def _resolve(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The project modules an import statement loads (a name imported from a package may be a module)."""
    targets: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
        return targets
    base = node.module or ""
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:
            targets.add(f"{base}.{alias.name}")
        elif base in MODULES:
            targets.add(base)
    return targets


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in _imports(tree):
            edges |= _resolve(module, path, node)
        edges.discard(module)
        graph[module] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as the path round it), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_graph_sees_the_project() -> None:
    """The check reads real modules and real edges (a reader that finds nothing would pass any code)."""
    graph = _graph()
    assert {"actions", "connectors", "console", "store", "recommender"} <= set(PACKAGES)
    assert "actions.returns" in graph["actions.payments"]  # a module-level import
    assert "actions.reader" in graph["actions.products"]
    assert "store.service" in graph["actions.common"]
    assert "console" in graph["gateway.app"] and "connectors.settings" in graph["console"]


def test_an_import_inside_a_function_is_an_edge() -> None:
    tree = ast.parse("def f():\n    from actions import follow_up\n    import store.db\n")
    found = set()
    for node in _imports(tree):
        found |= _resolve("actions.products", ROOT / "actions" / "products.py", node)
    assert found == {"actions.follow_up", "store.db"}
    typed = ast.parse("if TYPE_CHECKING:\n    from actions import follow_up\n")
    assert list(_imports(typed)) == []
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_module_imports_itself_round_a_cycle() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle (an import inside a function counts): " + " -> ".join(cycle or [])


def test_packages_depend_on_each_other_one_way() -> None:
    """Between packages too: the gateway mounts the console, the console builds on connectors, never back."""
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        top = module.split(".")[0]
        packages.setdefault(top, set()).update(t.split(".")[0] for t in targets if t.split(".")[0] != top)
    cycle = _cycle(packages)
    assert cycle is None, "packages import each other: " + " -> ".join(cycle or [])
