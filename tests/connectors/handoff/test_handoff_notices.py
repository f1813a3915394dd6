"""Nobody is free: out of hours the customer is told at once, unclaimed tickets after the timeout; once each.

Also what happens when Slack or the customer's channel fails: counted, kept in the ticket's history,
said to whoever can act on it.
"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from connectors.handoff.settings import HandoffSettings, OpeningHours
from connectors.handoff.translate import CLAIM_ACTION, HandoffRequest
from connectors.models import InboundMessage
from tests.connectors.handoff.conftest import STAFF_USER, HandoffGateway, handoff_reply

TICKET_TS = "1732800000.000001"


def ticket_for(gw: HandoffGateway, **extra: object) -> str:
    ticket = gw.store.open_handoff("web:x", channel="web", reason="customer asked", summary="...").ticket_number
    gw.rasa.replies = handoff_reply(ticket, **extra)
    return ticket


async def test_unclaimed_after_the_timeout_the_customer_is_told_once(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw, order_number="ORD-100100")
    await gw.say("a person please")
    gw.clock.advance(9)
    assert await gw.desk.sweep() == 0
    gw.clock.advance(2)
    assert await gw.desk.sweep() == 1
    notice = (await gw.history_texts())[-1]
    assert notice == (
        "Everyone on our team is busy right now, so nobody has picked up your ticket yet. "
        f"Ticket {ticket} stays open. A colleague will answer you here in this chat, "
        "or by email to the address on order ORD-100100."
    )
    gw.clock.advance(30)
    assert await gw.desk.sweep() == 0
    assert (await gw.history_texts()).count(notice) == 1
    # The ticket stays open and can still be claimed.
    assert gw.desk.state.get(ticket).status == "open"  # type: ignore[union-attr]
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER) == 200
    assert gw.desk.state.get(ticket).status == "assigned"  # type: ignore[union-attr]


async def test_a_claimed_ticket_gets_no_notice(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw)
    await gw.say("a person please")
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER) == 200
    gw.clock.advance(60)
    assert await gw.desk.sweep() == 0


async def test_out_of_hours_the_customer_is_told_at_once_and_not_again(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    # The clock says Saturday 10:00 UTC; the team works weekdays only.
    gw.desk.settings = HandoffSettings(
        claim_timeout_minutes=10, opening_hours=OpeningHours.parse("Mon-Fri 09:00-18:00"), sweep_seconds=3600
    )
    ticket = ticket_for(gw)
    body = await gw.say("a person please")
    assert [msg["text"] for msg in body["messages"]] == [
        f"I've asked a colleague: your ticket is {ticket}.",
        f"Our team is away right now (we answer Mon-Fri 09:00-18:00). Ticket {ticket} stays open. "
        "A colleague will answer you here in this chat.",
    ]
    assert len(gw.posts()) == 1  # staff still get the ticket, for Monday
    gw.clock.advance(60)
    assert await gw.desk.sweep() == 0
    assert gw.slack.counts["handoff.notices"] == 1


async def test_slack_refusing_the_ticket_is_said_and_retried_by_the_sweep(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw)
    gw.fake.fail["chat.postMessage"] = "channel_not_found"
    body = await gw.say("a person please")
    assert body["messages"][-1]["text"].startswith(f"I couldn't alert our team just now. Ticket {ticket} is saved")
    assert gw.slack.counts["handoff.post_failed"] == 1
    del gw.fake.fail["chat.postMessage"]
    gw.clock.advance(11)
    assert await gw.desk.sweep() == 1  # posted now, and the customer told what happens next
    assert [p["text"] for p in gw.posts() if "thread_ts" not in p][-1].startswith(f"Hand-off {ticket}")
    assert gw.desk.state.get(ticket).slack_ts is not None  # type: ignore[union-attr]


async def test_a_customer_message_that_cannot_reach_the_thread_is_apologised_for(
    handoff_gateway: HandoffGateway,
) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw)
    await gw.say("a person please")
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER) == 200
    asked = len(gw.rasa.received)
    gw.fake.fail["chat.postMessage"] = "ratelimited"
    body = await gw.say("hello?")
    assert [msg["text"] for msg in body["messages"]] == [
        "Sorry, your message didn't reach our team just now. Please send it again in a moment."
    ]
    assert len(gw.rasa.received) == asked  # still not the bot's turn
    assert gw.slack.counts["handoff.slack_failed"] >= 1


async def test_a_reply_that_cannot_reach_the_customer_is_said_in_the_thread(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = gw.store.open_handoff("web:x", channel="web", reason="r", summary="").ticket_number
    # A conversation on a channel this gateway does not run (Telegram is not configured here).
    await gw.desk.open(HandoffRequest(ticket, "asked"), InboundMessage("telegram", "4242", text="a person please"))
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER) == 200
    assert gw.thread(TICKET_TS)[-1] == (
        "Not delivered to the customer: the telegram channel is not running here, so it cannot be reached"
    )
    assert await gw.thread_message("are you there?", TICKET_TS, n=5) == 200
    assert gw.thread(TICKET_TS)[-1].startswith("Not delivered to the customer")
    assert gw.slack.counts["handoff.push_failed"] == 2
    history = gw.desk.state.queue()[0]["history"]
    assert [h["kind"] for h in history].count("push_failed") == 2


async def test_gateway_database_down_nothing_reaches_rasa_and_the_customer_is_told(
    handoff_gateway: HandoffGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw)

    def down(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(gw.desk.state, "open_case", down)
    body = await gw.say("a person please")
    assert body["messages"][-1]["text"].startswith(f"I couldn't pass ticket {ticket} to our team just now")
    assert gw.posts() == []
    monkeypatch.setattr(gw.desk.state, "held_by_person", down)
    asked = len(gw.rasa.received)
    resp = await gw.client.post("/api/web/messages", json={"conversation_id": "handoff-db-down-0001", "text": "hi"})
    assert resp.status == 500 and (await resp.json())["code"] == "internal_error"
    assert len(gw.rasa.received) == asked
    assert gw.slack.counts["handoff.state_error"] == 2


async def test_a_failed_ticket_update_still_tells_the_customer_and_is_counted(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = ticket_for(gw)
    await gw.say("a person please")
    gw.fake.fail["chat.update"] = "message_not_found"
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER) == 200
    assert gw.desk.state.get(ticket).status == "assigned"  # type: ignore[union-attr]
    assert (await gw.history_texts())[-1].startswith("Sam from our team has picked up")
    assert gw.slack.counts["handoff.slack_failed"] == 1
