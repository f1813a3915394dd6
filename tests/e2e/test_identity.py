"""One customer across channels, end to end: verified on the web chat API and on Telegram (fake Bot API),
linked in the order store, a carrier event through the signed webhook reaches Telegram exactly once, a
return started on the web is finished on Telegram, and a Telegram customer talks to a person through Slack.

Real rasa (trained model), real action server and the real gateway process; Telegram is the fake Bot API
the gateway long-polls, Slack the fake Web API with signed Events API requests for staff. A second Telegram
chat that fails verification is not linked. The stack is out of opening hours (a weekday three days away),
so the hand-off also shows the customer being told at once, and only once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from connectors.notify.translate import SIGNATURE_HEADER, sign
from tests.e2e.conftest import Chat, RunningStack, launch
from tests.e2e.test_handoff import (
    STAFF_USER,
    SUPPORT_CHANNEL,
    claim,
    console_id_of,
    rasa_turns,
    slack,
    thread,
    thread_event,
    ticket_in,
    ticket_post,
    ticket_ts,
    wait,
)
from tests.e2e.test_telegram import TelegramChat
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, FakeSlackAPI, serve_in_thread
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, text_update

pytestmark = pytest.mark.e2e

SECRET = "carrier-e2e-secret-0123456789"
CHAT = 880011
STRANGER = 880012
RETURNER = 880013
ASKS_FOR_A_PERSON = 880014
# Out of opening hours for the whole run: the only opening day is three days away (in the shop's zone).
CLOSED_DAY = (datetime.now(ZoneInfo("Europe/London")) + timedelta(days=3)).strftime("%a")
OPENING_HOURS = f"{CLOSED_DAY} 09:00-18:00"


@dataclass
class IdentityStack:
    """The running gateway's URL, the fake Bot API, the shop file and its demo cases."""

    gateway_url: str
    api: FakeTelegramApi
    shop: Path
    cases: dict[str, dict[str, Any]]
    running: RunningStack
    slack: FakeSlackAPI


@pytest.fixture(scope="module")
def identity_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityStack]:
    """rasa, actions and a gateway with Telegram (fake Bot API), Slack for hand-offs (fake Web API, Events API
    mode, out of hours) and the carrier webhook on (one per module)."""
    api = FakeTelegramApi()
    api.start_in_thread()
    extra = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_POLL_TIMEOUT": "2",
        "CARRIER_WEBHOOK_SECRET": SECRET,
        "NOTIFY_POLL_SECONDS": "0.5",
        "NOTIFY_RETRY_SECONDS": "1",
        "GATEWAY_WEB_RATE_PER_ADDRESS": "100000",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_MODE": "events",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_STAFF": f"{STAFF_USER}:staff",
        "SLACK_SUPPORT_CHANNEL": SUPPORT_CHANNEL,
        "HANDOFF_OPENING_HOURS": OPENING_HOURS,
        # unclaimed tickets are swept often and soon, to show the out-of-hours notice is not repeated
        "HANDOFF_CLAIM_TIMEOUT_MINUTES": "0.05",
        "HANDOFF_SWEEP_SECONDS": "0.5",
    }
    var = tmp_path_factory.mktemp("e2e-identity")
    try:
        with serve_in_thread() as fake_slack, launch(var, {**extra, "SLACK_API_BASE_URL": fake_slack.url}) as running:
            api.wait_for_sync("getUpdates", timeout=60)
            yield IdentityStack(running.config.gateway_url, api, var / "shop.db", running.cases, running, fake_slack)
    finally:
        api.stop_thread()


def linked(shop: Path) -> set[str]:
    """Every linked channel account in the shop, as conversation ids."""
    with sqlite3.connect(shop) as conn:
        return {f"{c}:{e}" for c, e in conn.execute("SELECT channel, external_id FROM channel_identities")}


def news_for(api: FakeTelegramApi, chat_id: int) -> list[str]:
    """Pushed order news (not conversation replies) that reached a Telegram chat."""
    return [
        c["text"]
        for c in api.calls_to("sendMessage")
        if c.get("chat_id") == chat_id and "stop notifications" in c["text"]
    ]


def in_transit_with_an_open_return_elsewhere(shop: Path) -> tuple[dict[str, str], str, str]:
    """A customer with an order in transit and an open return on another order: (proof case, RMA, its order).

    The demo cases come from one-order customers, who have nothing to carry over to a second channel
    (tests/actions/test_account.py finds its customer the same way).
    """
    with sqlite3.connect(shop) as conn:
        row = conn.execute(
            "SELECT o.number, c.email, r.rma_number, a.number FROM returns r"
            " JOIN orders a ON a.id = r.order_id"
            " JOIN orders o ON o.customer_id = a.customer_id AND o.id != a.id"
            " JOIN shipments s ON s.order_id = o.id"
            " JOIN customers c ON c.id = o.customer_id"
            " WHERE r.status IN ('requested', 'approved', 'received') AND s.status = 'in_transit'"
            " ORDER BY r.rma_number, o.number LIMIT 1"
        ).fetchone()
    assert row, "the demo shop has no customer with an order in transit and an open return on another order"
    number, email, rma, returned = (str(v) for v in row)
    return {"order_number": number, "email": email}, rma, returned


async def test_verified_on_web_and_telegram_then_news_reaches_telegram_once(identity_stack: IdentityStack) -> None:
    case, rma, returned = in_transit_with_an_open_return_elsewhere(identity_stack.shop)
    number = case["order_number"]

    web = Chat(identity_stack.gateway_url)
    assert "order number" in (await web.say("where is my order?")).lower()
    await web.say(number)
    reply = await web.say(case["email"])
    assert f"that matches order {number}" in reply, web.dump()
    reply = await web.say("notify me about my orders")
    assert "I'll message you on the web chat" in reply, web.dump()
    assert linked(identity_stack.shop) == {f"web:{web.conversation_id}"}

    telegram = TelegramChat(identity_stack.api, CHAT)
    telegram.say("hi, where is my order?", expect="order number")
    telegram.say(number, expect="postcode")
    # the answer to the question first, then what is open from the web chat: the other order's return
    reply = telegram.say(case["email"], expect="Welcome back")
    assert f"that matches order {number}" in reply, telegram.transcript
    welcome = reply[reply.index("Welcome back") :]
    assert "web chat" in welcome and rma in welcome and returned in welcome, telegram.transcript
    assert reply.index(f"that matches order {number}") < reply.index("Welcome back"), telegram.transcript

    stranger = TelegramChat(identity_stack.api, STRANGER)
    stranger.say("track my order", expect="order number")
    stranger.say(number, expect="postcode")
    stranger.say("not-the-owner@example.com", expect="couldn't match")
    assert linked(identity_stack.shop) == {f"web:{web.conversation_id}", f"telegram:{CHAT}"}

    event = json.dumps({"order_number": number, "event": "out_for_delivery", "event_id": "scan-1"}).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SECRET, event)}
    async with aiohttp.ClientSession() as session:
        url = f"{identity_stack.gateway_url}/api/carrier/events"
        async with session.post(url, data=event, headers={**headers, SIGNATURE_HEADER: "sha256=forged"}) as resp:
            assert resp.status == 401
        async with session.post(url, data=event, headers=headers) as resp:
            assert resp.status == 202, await resp.text()
        async with session.post(url, data=event, headers=headers) as resp:  # the carrier retries
            assert resp.status == 200 and (await resp.json())["duplicate"] is True

    deadline = time.monotonic() + 30
    while not news_for(identity_stack.api, CHAT) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # several notifier passes later ...
    assert news_for(identity_stack.api, CHAT) == [
        f'Good news: order {number} is out for delivery today. (Say "stop notifications" to turn these off.)'
    ]
    assert news_for(identity_stack.api, STRANGER) == []


def returns_of(shop: Path, order_number: str) -> list[tuple[str, str]]:
    """RMA number and reason of every return of an order in the shop."""
    with sqlite3.connect(shop) as conn:
        rows = conn.execute(
            "SELECT r.rma_number, r.reason FROM returns r JOIN orders o ON o.id = r.order_id WHERE o.number = ?",
            (order_number,),
        )
        return [(str(rma), str(reason)) for rma, reason in rows]


async def test_a_return_started_on_the_web_is_finished_on_telegram_once(identity_stack: IdentityStack) -> None:
    case = identity_stack.cases["returnable"]
    number = case["order_number"]
    before = returns_of(identity_stack.shop, number)

    # On the web chat: verified, the return started and an item chosen ... then the customer leaves.
    web = Chat(identity_stack.gateway_url)
    assert "order number" in (await web.say("I want to return something")).lower(), web.dump()
    await web.say(number)
    reply, buttons = await web.buttons(case["email"])
    assert f"that matches order {number}" in reply, web.dump()
    if buttons:  # several returnable items: pick the first
        assert "Which item" in reply, web.dump()
        reply = await web.press(buttons[0]["payload"])
    assert "the reason you're sending it back" in reply, web.dump()
    assert returns_of(identity_stack.shop, number) == before

    # On Telegram the customer's first words are "finish my return": verified there, then picked up.
    telegram = TelegramChat(identity_stack.api, RETURNER)
    telegram.say("finish my return", expect="order number")
    telegram.say(number, expect="postcode")
    reply = telegram.say(case["email"], expect="the reason you're sending it back")
    assert f"that matches order {number}" in reply, telegram.transcript
    assert f"Let's finish the return for order {number}." in reply, telegram.transcript
    assert "Which item" not in reply and "Shall we finish it here" not in reply, telegram.transcript
    reply = telegram.say("it was too small", expect="Shall I set it up?")
    assert returns_of(identity_stack.shop, number) == before, telegram.transcript  # not before the yes
    reply = telegram.say("yes", expect="Return number: RMA-")
    rma = reply.split("Return number: ")[1].split()[0]

    assert returns_of(identity_stack.shop, number) == [*before, (rma, "it was too small")]
    assert f"telegram:{RETURNER}" in linked(identity_stack.shop)
    telegram.say("finish my return", expect="no unfinished return")
    assert returns_of(identity_stack.shop, number) == [*before, (rma, "it was too small")]


def test_a_telegram_customer_talks_to_a_person_out_of_hours(identity_stack: IdentityStack) -> None:
    stack, fake_slack, api = identity_stack.running, identity_stack.slack, identity_stack.api
    sender = f"telegram:{ASKS_FOR_A_PERSON}"
    chat = TelegramChat(api, ASKS_FOR_A_PERSON)

    def sent() -> list[str]:
        return [c["text"] for c in api.calls_to("sendMessage") if c.get("chat_id") == ASKS_FOR_A_PERSON]

    # Out of hours: the ticket sentence and, at once, the honest notice.
    reply = chat.say("I want to talk to a person", expect="Our team is away right now")
    ticket = ticket_in(reply.splitlines())
    notice = (
        f"Our team is away right now (we answer {OPENING_HOURS}). Ticket {ticket} stays open. "
        "A colleague will answer you here in this chat."
    )
    assert notice in sent(), chat.transcript

    # The ticket reaches Slack; Sam claims it anyway; the customer hears it on Telegram.
    post = wait(lambda: ticket_post(fake_slack, ticket), "the ticket in Slack")
    # The conversation by its console id (where staff open it), as for every channel.
    assert "Telegram" in post["text"] and console_id_of(stack, sender) in json.dumps(post["blocks"]), post
    ts = wait(lambda: ticket_ts(stack, ticket), "the ticket's Slack ts in the read API")
    claim(stack, ticket, ts, post)
    joined = f"Sam from our team has picked up your ticket {ticket} and will answer you here."
    wait(lambda: joined in sent(), "the join note on Telegram")

    # The customer writes on Telegram: it lands in the thread, not in rasa, and the bot says nothing.
    turns, said = rasa_turns(stack, sender), len(sent())
    api.add_update(text_update("the box arrived empty", chat_id=ASKS_FOR_A_PERSON))
    wait(lambda: "*Customer:* the box arrived empty" in thread(fake_slack, ts), "the customer's line in the thread")
    assert rasa_turns(stack, sender) == turns and len(sent()) == said

    # Sam's thread reply reaches Telegram through sendMessage, attributed; then Sam resolves.
    assert slack(stack, thread_event(ts, "So sorry! A replacement goes out today.")) == 200
    wait(lambda: "Sam (staff): So sorry! A replacement goes out today." in sent(), "Sam's reply on Telegram")
    assert slack(stack, thread_event(ts, "resolve")) == 200
    wait(lambda: any(f"Our team has closed ticket {ticket}" in t for t in sent()), "the resolved note on Telegram")
    assert rasa_turns(stack, sender) == turns
    chat.say("hello", expect="assistant")
    assert rasa_turns(stack, sender) == turns + 1

    # Many sweeps past the 3 s claim timeout later: the out-of-hours notice was the only one.
    assert sent().count(notice) == 1
    assert not any("nobody has picked up" in t for t in sent()), sent()
    assert sent().count("Sam (staff): So sorry! A replacement goes out today.") == 1
