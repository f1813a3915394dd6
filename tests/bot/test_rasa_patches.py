"""Tests of bot/rasa_patches.py: rasa's action-reply validation, built once, gives rasa's own verdicts."""

from __future__ import annotations

import pytest

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa


@pytest.fixture(scope="module")
def probe() -> dict:
    """One run of the probe for every test of the module."""
    return run_probe("rasa_patches_probe.py")


def test_importing_bot_patches_validation_with_rasas_own_verdicts_and_messages(probe: dict) -> None:
    result = probe
    assert result["patched"] is True
    assert result["ours"] == result["rasa"]
    assert result["rasa"][:2] == ["ok", "ok"]
    for verdict in result["rasa"][2:5]:
        assert verdict.startswith("ValidationError") and "Failed to validate Action server response" in verdict
    assert result["rasa"][5] == "ok"  # rasa's schema does not require "events"
    assert all(verdict.startswith("ValidationError") for verdict in result["rasa"][6:-1])
    assert result["rasa"][-1] == "ok"


def test_the_short_check_accepts_exactly_what_the_full_schema_accepts(probe: dict) -> None:
    """``_valid_quickly`` on the replies above and hundreds of variants: the full validator's verdict, every time."""
    pairs = probe["quick_vs_full"]
    assert len(pairs) > 300
    assert [quick for quick, _ in pairs] == [full for _, full in pairs]
    assert sum(full for _, full in pairs) > 50 and sum(not full for _, full in pairs) > 50
