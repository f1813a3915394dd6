"""Tests of the action call's encoding (bot/tracker_speedups.py): saved events and the domain encoded once, the
request body the action server gets byte for byte rasa's."""

from __future__ import annotations

import pytest

from tests.bot.rasa_probe import needs_rasa, run_probe

pytestmark = needs_rasa


@pytest.fixture(scope="module")
def probe() -> dict:
    return run_probe("action_call_probe.py")


def test_action_server_gets_rasas_bytes_with_saved_events_and_domain_encoded_once(probe: dict) -> None:
    assert probe["kept_session"] > 30
    assert probe["same"] == probe["calls"], probe.get("first_difference")
    # most events sent are ones the store saved, so the short way was really taken
    assert probe["stored_events_sent"] > 5 * probe["fresh_events_sent"] > 0


def test_rasas_own_session_still_gets_plain_json(probe: dict) -> None:
    assert probe["rasa_session"] == 2 * probe["kept_session"]  # and every one of those calls was the same too


def test_a_changed_copy_of_a_saved_event_is_encoded_as_it_is_now(probe: dict) -> None:
    assert probe["copy_encoded_fresh"] is True
    assert probe["saved_encoded_as_stored"] is True


def test_encoded_parts_never_go_out_through_a_plain_encoder(probe: dict) -> None:
    assert probe["plain_dumps_refuses"] is True
