"""One customer across channels, end to end: verified on the web chat API and on Telegram (fake Bot API),
linked in the order store, and a carrier event through the signed webhook reaches Telegram exactly once.

Real rasa (trained model), real action server and the real gateway process; Telegram is the fake Bot API
the gateway long-polls. A second Telegram chat that fails verification is not linked.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.notify.translate import SIGNATURE_HEADER, sign
from tests.e2e.conftest import Chat, launch
from tests.e2e.test_telegram import TelegramChat
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

pytestmark = pytest.mark.e2e

SECRET = "carrier-e2e-secret-0123456789"
CHAT = 880011
STRANGER = 880012


@dataclass
class IdentityStack:
    """The running gateway's URL, the fake Bot API, the shop file and its demo cases."""

    gateway_url: str
    api: FakeTelegramApi
    shop: Path
    cases: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def identity_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityStack]:
    """rasa, actions and a gateway with Telegram (fake Bot API) and the carrier webhook on (one per module)."""
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
    }
    var = tmp_path_factory.mktemp("e2e-identity")
    try:
        with launch(var, extra) as running:
            api.wait_for_sync("getUpdates", timeout=60)
            yield IdentityStack(running.config.gateway_url, api, var / "shop.db", running.cases)
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


async def test_verified_on_web_and_telegram_then_news_reaches_telegram_once(identity_stack: IdentityStack) -> None:
    case = identity_stack.cases["in_transit"]
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
    reply = telegram.say(case["email"], expect=f"that matches order {number}")
    assert "Welcome back" in reply and "web chat" in reply, telegram.transcript

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
