"""Hand-off through Slack on a running gateway: ticket posted, claimed, relayed both ways, resolved.

Real Bolt (signed Events API requests) against the fake Slack Web API, the web channel's HTTP API and
WebSocket as the customer, fake rasa. Every step asserts what reached Slack, rasa and the customer.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from connectors.handoff.translate import CLAIM_ACTION, RESOLVE_ACTION
from console.web import STATE_KEY
from store import models as m
from tests.connectors.gateway_fakes import TOKEN
from tests.connectors.handoff.conftest import (
    CONVERSATION,
    MANAGER_USER,
    OUTSIDER,
    STAFF_USER,
    SUPPORT_CHANNEL,
    HandoffGateway,
    handoff_reply,
)


def open_ticket(gw: HandoffGateway, **extra: object) -> str:
    ticket = gw.store.open_handoff(f"web:{CONVERSATION}", channel="web", reason="customer asked", summary="...")
    gw.rasa.replies = handoff_reply(ticket.ticket_number, **extra)
    return ticket.ticket_number


def store_row(gw: HandoffGateway, ticket: str) -> m.HandoffTicket:
    with gw.store._session_factory() as session:  # noqa: SLF001 - the test reads what the mirror wrote
        return session.execute(select(m.HandoffTicket).where(m.HandoffTicket.ticket_number == ticket)).scalar_one()


async def test_claim_relay_both_ways_and_resolve(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = open_ticket(gw, order_number="ORD-100100", customer="verified customer #12")

    # 1. The customer asks for a person: they read the bot's sentence, never the staff-only payload.
    body = await gw.say("a person please")
    assert [msg.get("text") for msg in body["messages"]] == [f"I've asked a colleague: your ticket is {ticket}."]
    assert all("custom" not in msg for msg in body["messages"])

    # 2. The ticket is in the support channel with the summary and a Claim button.
    [post] = gw.posts()
    assert post["channel"] == SUPPORT_CHANNEL and ticket in post["text"]
    shown = str(post["blocks"])
    console_id = gw.client.app[STATE_KEY].pseudonyms.of(f"web:{CONVERSATION}")
    for fact in (
        ticket,
        "customer asked for a person",
        "website chat",
        "verified customer #12",
        "ORD-100100",
        console_id,  # the conversation by its console id: staff open it there
        "where is my parcel",
    ):
        assert fact in shown
    assert CONVERSATION not in str(post)  # never the customer's own id, their secret
    [actions] = [b for b in post["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [(CLAIM_ACTION, ticket)]
    ticket_ts = "1732800000.000001"  # the fake's first ts

    # 3. Sam claims it: the message shows who, the order store says assigned, the customer is told.
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER, "Sam") == 200
    [update] = gw.updates()
    assert update["channel"] == SUPPORT_CHANNEL and update["ts"] == ticket_ts
    assert f"Claimed by <@{STAFF_USER}>" in str(update["blocks"])
    [actions] = [b for b in update["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [RESOLVE_ACTION]
    row = store_row(gw, ticket)
    assert (row.status, row.assigned_to) == ("assigned", f"Sam ({STAFF_USER})") and row.assigned_at is not None
    assert (await gw.history_texts())[
        -1
    ] == f"Sam from our team has picked up your ticket {ticket} and will answer you here."

    # 4. A second claim is refused in the thread; Sam keeps it.
    assert await gw.press(CLAIM_ACTION, ticket, MANAGER_USER, "Alex") == 200
    assert gw.thread(ticket_ts) == [f"<@{MANAGER_USER}>: {ticket} is already taken by <@{STAFF_USER}>."]
    assert len(gw.updates()) == 1 and gw.desk.state.get(ticket).claimed_by == STAFF_USER  # type: ignore[union-attr]

    # 5. The bot is silent: the customer's message goes to the thread, not to rasa.
    asked = len(gw.rasa.received)
    assert (await gw.say("is anyone there?"))["messages"] == []
    assert len(gw.rasa.received) == asked
    assert gw.thread(ticket_ts)[-1] == "*Customer:* is anyone there?"

    # 6. Sam answers in the thread: an open widget gets it at once, attributed, and the history keeps it.
    async with gw.client.ws_connect(f"/api/web/ws?conversation_id={CONVERSATION}") as ws:
        assert await gw.thread_message("Your parcel is being traced & we'll refund if lost", ticket_ts, n=1) == 200
        frame = await asyncio.wait_for(ws.receive_json(), 5)
    said = "Your parcel is being traced & we'll refund if lost"
    assert frame == {
        "type": "bot",
        "pushed": True,
        "messages": [
            {"text": f"Sam (staff): {said}", "custom": {"type": "agent_message", "agent": "Sam", "text": said}}
        ],
    }
    assert (await gw.history_texts())[-1] == f"Sam (staff): {said}"
    assert len(gw.rasa.received) == asked

    # 7. "resolve" in the thread closes it; the customer hears the bot is back, and the bot answers again.
    assert await gw.thread_message("resolve", ticket_ts, n=2) == 200
    closed = gw.updates()[-1]
    assert f"Resolved by <@{STAFF_USER}>" in str(closed["blocks"])
    assert not [b for b in closed["blocks"] if b["type"] == "actions"]
    assert store_row(gw, ticket).status == "closed" and store_row(gw, ticket).closed_at is not None
    assert (await gw.history_texts())[-1].startswith(
        f"Our team has closed ticket {ticket}. I'm the shop assistant again"
    )
    assert (await gw.say("thanks"))["messages"] == [{"text": "echo: thanks"}]
    assert len(gw.rasa.received) == asked + 1

    # 8. The read API lists the ticket with its history, behind the gateway token.
    assert (await gw.client.get("/api/handoffs")).status == 401
    resp = await gw.client.get("/api/handoffs", headers={"Authorization": f"Bearer {TOKEN}"})
    [item] = (await resp.json())["handoffs"]
    assert item["ticket"] == ticket and item["status"] == "closed" and item["claimed_by_name"] == "Sam"
    kinds = [h["kind"] for h in item["history"]]
    assert kinds == [
        "opened",
        "posted",
        "claimed",
        "told_customer",
        "claim_refused",
        "customer",
        "staff",
        "resolved",
        "told_customer",
    ]
    bad = await gw.client.get("/api/handoffs?status=lost", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status == 400 and (await bad.json())["field"] == "status"


async def test_resolve_button_and_thread_notes_before_a_claim(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = open_ticket(gw)
    await gw.say("a person please")
    ts = "1732800000.000001"  # the fake's first ts: the ticket message
    # Before a claim the thread is for staff among themselves: nothing reaches the customer or rasa.
    before = await gw.history_texts()
    assert await gw.thread_message("I'll look at this after lunch", ts, n=1) == 200
    assert await gw.history_texts() == before
    assert gw.slack.counts["handoff.notes"] == 1 and gw.posts()[1:] == []
    # Someone outside the staff allowlist can neither claim nor speak to the customer.
    assert await gw.press(CLAIM_ACTION, ticket, OUTSIDER, "Eve") == 200
    assert gw.thread(ts)[-1] == f"<@{OUTSIDER}>: only staff on the allowlist can claim tickets."
    assert gw.desk.state.get(ticket).status == "open"  # type: ignore[union-attr]
    # Claim, then the Resolve button.
    assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER, "Sam") == 200
    assert await gw.press(RESOLVE_ACTION, ticket, STAFF_USER, "Sam") == 200
    assert gw.desk.state.get(ticket).status == "closed"  # type: ignore[union-attr]
    # Pressing Resolve (or Claim) again is answered in the thread, nothing changes.
    assert await gw.press(RESOLVE_ACTION, ticket, STAFF_USER, "Sam") == 200
    assert gw.thread(ts)[-1] == f"<@{STAFF_USER}>: {ticket} is already resolved."
    assert await gw.press(CLAIM_ACTION, ticket, MANAGER_USER, "Alex") == 200
    assert gw.thread(ts)[-1] == f"<@{MANAGER_USER}>: {ticket} is already resolved."
    assert gw.slack.counts["handoff.resolved"] == 1 and gw.slack.counts["handoff.claimed"] == 1


async def test_a_forged_claim_is_refused_and_changes_nothing(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    ticket = open_ticket(gw)
    await gw.say("a person please")
    status = await gw.press(CLAIM_ACTION, ticket, STAFF_USER, "Sam", **{"X-Slack-Signature": "v0=" + "0" * 64})
    assert status == 401
    assert gw.desk.state.get(ticket).status == "open" and gw.updates() == []  # type: ignore[union-attr]
