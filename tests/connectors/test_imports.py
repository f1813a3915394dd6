"""No import cycles in the gateway: each module imports alone in a fresh interpreter; no import hides in a function.

The console imports connectors.handoff on its own, while the gateway reaches it through the Slack channel;
a cycle between the two once broke only the first path, and only in a fresh process.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import connectors
import console
import gateway

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    name
    for package in (connectors, console, gateway)
    for name in [package.__name__]
    + [m.name for m in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + ".")]
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _gateway_files() -> list[Path]:
    return sorted(p for package in ("connectors", "console", "gateway") for p in (ROOT / package).rglob("*.py"))


def test_no_function_local_import_of_gateway_modules() -> None:
    """A function-local import of ``connectors``/``console``/``gateway`` is how a cycle hides; none is left. Nor of
    the order store: the gateway imports it at start-up anyway (the notifier does), so deferring it saved nothing."""
    found = []
    for path in _gateway_files():
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                modules = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {m}"
                    for m in modules
                    if m.split(".")[0] in ("connectors", "console", "gateway", "store")
                ]
    assert found == []


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_layers() -> None:
    """No connectors module knows the console (the gateway package mounts it); the console and the channels
    never import connectors.app; the Slack channel knows nothing of hand-offs; connectors.keys imports no
    gateway module at run time."""
    wrong = []
    for path in _gateway_files():
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if name.startswith("connectors.migrations."):
            continue  # Alembic's env.py loads every table through the composition root; not an importable module
        imported = _imported(path)
        if name.startswith("connectors."):
            wrong += [f"{name} imports {m}" for m in imported if m.split(".")[0] in ("console", "gateway")]
        if name != "connectors.app":
            wrong += [f"{name} imports {m}" for m in imported if m == "connectors.app"]
        if name.startswith("connectors.slack"):
            wrong += [f"{name} imports {m}" for m in imported if m.startswith("connectors.handoff")]
    keys = ast.parse((ROOT / "connectors" / "keys.py").read_text())
    runtime = [n for n in keys.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("connectors")]
    assert wrong == [] and runtime == []
