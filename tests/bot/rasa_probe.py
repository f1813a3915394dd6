"""Running a probe script in the rasa environment (.venv-rasa) from the tests of bot/, which run in .venv.

Each ``*_probe.py`` next to the tests imports rasa, does its work and prints one JSON object as its last line
starting with ``{``; :func:`run_probe` runs it with a minimal environment and returns that object.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

#: Mark for a test module whose tests need the rasa environment.
needs_rasa = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


def run_probe(script: str, *args: str, env: dict[str, str] | None = None, timeout: int = 300) -> Any:
    """Run ``tests/bot/<script>`` with rasa's Python and return the JSON object it printed last.

    Args:
        script: the probe's file name, next to this module.
        *args: its command-line arguments.
        env: variables on top of PATH and rasa's quiet settings.
        timeout: seconds before the probe is stopped (and the test fails).
    """
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name(script)), *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
