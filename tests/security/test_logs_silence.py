"""Never silence: a turn rasa answers with nothing (action server down, an action's events lost) gets an apology."""

from __future__ import annotations

import pytest

from connectors.dispatch import is_empty_turn_apology
from tests.security.conftest import Gateway


@pytest.mark.parametrize("empty", [[], [{"recipient_id": "web:abcdefgh12", "text": ""}]])
async def test_an_empty_turn_becomes_an_apology_with_a_person_offered(all_channels: Gateway, empty: list) -> None:
    all_channels.rasa.replies = empty
    resp = await all_channels.client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "hi"})
    assert resp.status == 200
    (message,) = (await resp.json())["messages"]
    assert is_empty_turn_apology(message["text"])
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/human_handoff"}]


async def test_tablet_shoppers_are_sent_to_staff_in_the_shop(all_channels: Gateway) -> None:
    all_channels.rasa.replies = []
    session = await all_channels.tablet_session()
    resp = await all_channels.client.post(
        "/api/tablet/messages", json={"session_id": session, "text": "hi"}, headers=all_channels.tablet_headers()
    )
    (message,) = (await resp.json())["messages"]
    assert "member of staff in the shop" in message["text"] and not message.get("buttons")


async def test_the_same_apology_twice_in_one_turn_is_said_once(all_channels: Gateway) -> None:
    sorry = {"recipient_id": "web:abcdefgh12", "text": "Sorry, something went wrong on my side"}
    all_channels.rasa.replies = [sorry, sorry, {"recipient_id": "web:abcdefgh12", "text": "Anything else?"}]
    resp = await all_channels.client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "hi"})
    assert [m["text"] for m in (await resp.json())["messages"]] == [sorry["text"], "Anything else?"]
