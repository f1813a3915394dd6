"""Tests of bot/tracker_speedups.py and turn_speedups.py: rasa's own states, predictions and parses, long talk."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
MODEL = ROOT / "models" / "current.tar.gz"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


@pytest.fixture(scope="module")
def probe() -> dict:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run the tests with `make test`, which trains it once")
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("tracker_speedups_probe.py"))],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_states_applied_events_copies_and_predictions_match_rasas_own(probe: dict) -> None:
    assert probe["mismatches"] == []
    counts = probe["counts"]
    assert probe["events"] > 300
    assert counts["points"] > 150 and counts["predictions"] == counts["points"] and counts["copies"] > 30
    # bot/turn_speedups.py's rule lookup was compared with rasa's at every point, and found rules
    assert counts["rule_lookups"] == 4 * counts["points"] and counts["rules_found"] > counts["points"]


def test_states_are_continued_not_rebuilt(probe: dict) -> None:
    stats = probe["stats"]
    # rebuilt at the start, after the rewind, the restart and the new session, and when a form first appears
    assert stats["states_continued"] > 10 * stats["states_rebuilt"]
    assert stats["walks_continued"] > 10 * stats["walks_rebuilt"]


def test_action_server_gets_the_last_turns_from_the_listen_before_them(probe: dict) -> None:
    windows = probe["windows"]
    assert windows["users"] > 3
    assert windows["users_in_window"] == 3
    assert windows["starts_with_listen"] and windows["ends_like_events"] and windows["all_when_zero"]


def test_graph_runner_parses_like_dask(probe: dict) -> None:
    assert probe["parses"]["texts"] >= 20
    assert probe["parses"]["differ"] == []
