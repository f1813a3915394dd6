"""Tests of bot/turn_speedups.py's kept action-server session (graph runner, rule keys: test_tracker_speedups)."""

from __future__ import annotations

import pytest

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa


@pytest.fixture(scope="module")
def probe() -> dict:
    """One run of the probe for every test of the module."""
    return run_probe("turn_speedups_probe.py", env={"ACTION_RETRY_SECONDS": "1"})


def test_action_calls_reuse_one_connection_and_survive_idle_and_restart(probe: dict) -> None:
    result = probe
    assert result["echoed"] == [0, 1, 2]
    assert result["connections_for_three_calls"] == 1
    assert result["connections_after_idle"] == 2
    assert result["answered_after_restart"] == 4


def test_an_action_call_whose_retries_ran_out_is_answered_with_an_apology_never_silence(probe: dict) -> None:
    result = probe
    # the action server's 503 was sent again until the window closed, then its apology is what rasa utters
    assert result["busy_attempts"] >= 3
    assert result["busy_answer"] == {"events": [], "responses": [{"text": "sorry from the action server"}]}
    # no action server answered at all: rasa's own apology (without the hand-off button: that is an action too)
    (reply,) = result["unreached_answer"]["responses"]
    assert reply["text"].startswith("Sorry, something went wrong on my side")
    assert "buttons" not in reply
    assert result["not_an_action_call"] == "ClientConnectorError"
