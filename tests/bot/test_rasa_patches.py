"""Tests of bot/rasa_patches.py: rasa's action-reply validation, built once, gives rasa's own verdicts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


def test_importing_bot_patches_validation_with_rasas_own_verdicts_and_messages() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("rasa_patches_probe.py"))],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["patched"] is True
    assert result["ours"] == result["rasa"]
    assert result["rasa"][:2] == ["ok", "ok"]
    for verdict in result["rasa"][2:5]:
        assert verdict.startswith("ValidationError") and "Failed to validate Action server response" in verdict
    assert result["rasa"][5] == "ok"  # rasa's schema does not require "events"
    assert all(verdict.startswith("ValidationError") for verdict in result["rasa"][6:-1])
    assert result["rasa"][-1] == "ok"


def test_the_short_check_accepts_exactly_what_the_full_schema_accepts() -> None:
    """``_valid_quickly`` on the replies above and hundreds of variants: the full validator's verdict, every time."""
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("rasa_patches_probe.py"))],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    pairs = json.loads(done.stdout.strip().splitlines()[-1])["quick_vs_full"]
    assert len(pairs) > 300
    assert [quick for quick, _ in pairs] == [full for _, full in pairs]
    assert sum(full for _, full in pairs) > 50 and sum(not full for _, full in pairs) > 50
