"""Every gateway package imports on its own in a fresh interpreter (no circular imports by entry point).

The console imports connectors.handoff on its own, while the gateway reaches it through the Slack channel;
a cycle between the two once broke only the first path, and only in a fresh process.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import connectors
import console

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    name
    for package in (connectors, console)
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
