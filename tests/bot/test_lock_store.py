"""bot/lock_store.py: rasa's Redis lock store waits out a Redis restart instead of failing the turn."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa


def test_a_lock_call_waits_for_redis_to_come_back_and_gives_up_after_its_budget(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server (CI installs it)")
    result = run_probe("lock_store_probe.py", str(tmp_path), timeout=120)
    assert result["lock_found"] is True  # the append-only file kept the ticket across the restart
    assert result["is_locked_for_next"] is True  # the next message of the conversation still waits its turn
    assert 1.0 <= result["waited_s"] < 8
    assert result["gave_up"] == "ConnectionError"


def test_a_message_behind_a_dead_replicas_lock_is_served_once_the_dead_ticket_expires(tmp_path: Path) -> None:
    """bench-faults, kill -9 rasa-1: a message waited 120 s behind the dead replica's lock until the gateway gave up."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: apt-get install redis-server (CI installs it)")
    result = run_probe("lock_wait_probe.py", str(tmp_path), timeout=120)
    # rasa's own store: the waiter's ticket expired first, and it never gets the lock
    assert result["rasa"] == "still waiting"
    assert result["rasa_key_lost"] == "LockError"
    # here: served once the dead ticket (2.5 s) is gone, although the waiter's own lifetime is 1.5 s
    assert 2.4 <= result["ours"] < 5
    assert isinstance(result["ours_key_lost"], float)
    assert result["lock_left_after_ours"] is None  # cleaned up: nobody left waiting
    # a turn longer than its ticket's lifetime (3 s against 1 s): rasa serves the next message of the conversation
    # beside it once the ticket expires; here the served ticket is renewed and the next message waits for the turn
    assert result["long_turn_rasa"] < 2.5
    assert result["long_turn_ours"] >= 3.0
