"""Tests of bot/rasa_patches.py's debug-argument copies and ``Domain.is_empty`` (perf20): rasa's own behaviour,
without the deep copies its debug entries need when debug is not logged."""

from __future__ import annotations

import pytest

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa

MODULES = ("rasa.core.processor", "rasa.core.actions.forms", "rasa.core.policies.memoization")


@pytest.fixture(scope="module")
def probe() -> dict:
    """One run of the probe for every test of the module."""
    return run_probe("debug_copies_probe.py")


def test_only_modules_whose_copies_are_debug_arguments_get_the_debug_copy(probe: dict) -> None:
    assert probe["before"] == dict.fromkeys(MODULES, True)
    assert probe["after"] == dict.fromkeys(MODULES, "_DebugCopies")
    assert probe["checks"] == {**dict.fromkeys(MODULES, True), "rasa.core.actions.action": False}


def test_values_are_copied_exactly_while_debug_entries_are_logged(probe: dict) -> None:
    assert probe["at_info"] == {"same_object": True, "equal": True, "debug_logged": False}
    assert probe["at_debug"] == {"same_object": False, "equal": True, "debug_logged": True}


def test_debug_entries_are_rasas_own(probe: dict) -> None:
    """At DEBUG the entry holds a copy taken when it was logged, as with rasa's own ``copy``."""
    assert probe["entries_patched"] == probe["entries_rasa"]
    assert probe["entries_rasa"][0]["tracker_states"][0]["user"]["intent"] == "greet"


def test_is_empty_answers_as_rasas_own(probe: dict) -> None:
    assert probe["is_empty_patched"] is True
    assert probe["is_empty"] == {
        "empty": [True, True, True],
        "from_empty_dict": [True, True, True],
        "one_intent": [False, False, False],
        "project": [False, False, False],
    }
