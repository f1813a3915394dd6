"""Tests of bot/turn_speedups.py's kept action-server session (graph runner, rule keys: test_tracker_speedups)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


def test_action_calls_reuse_one_connection_and_survive_idle_and_restart() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("turn_speedups_probe.py"))],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
            "ACTION_RETRY_SECONDS": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["echoed"] == [0, 1, 2]
    assert result["connections_for_three_calls"] == 1
    assert result["connections_after_idle"] == 2
    assert result["answered_after_restart"] == 4


def test_an_action_call_whose_retries_ran_out_is_answered_with_an_apology_never_silence() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("turn_speedups_probe.py"))],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "RASA_TELEMETRY_ENABLED": "false",
            "ACTION_RETRY_SECONDS": "1",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # the action server's 503 was sent again until the window closed, then its apology is what rasa utters
    assert result["busy_attempts"] >= 3
    assert result["busy_answer"] == {"events": [], "responses": [{"text": "sorry from the action server"}]}
    # no action server answered at all: rasa's own apology (without the hand-off button: that is an action too)
    (reply,) = result["unreached_answer"]["responses"]
    assert reply["text"].startswith("Sorry, something went wrong on my side")
    assert "buttons" not in reply
    assert result["not_an_action_call"] == "ClientConnectorError"
