"""The minimal Telegram push target: pushed text reaches the chat through the real PTB bot and the fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from connectors.keys import PUSH_KEY
from connectors.models import OutboundMessage
from connectors.push import PushFailed
from connectors.telegram.ratelimit import MAX_RETRY_AFTER
from tests.connectors.telegram.conftest import GatewayFactory


async def test_pushed_news_reaches_the_chat_exactly_once(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway()
    router = gw.client.app[PUSH_KEY]
    assert "telegram" in router.channels
    await router.push("telegram:424242", [OutboundMessage(text="Good news: order ORD-100001 is out for delivery.")])
    sent = gw.api.calls_to("sendMessage")
    assert [(c["chat_id"], c["text"]) for c in sent] == [(424242, "Good news: order ORD-100001 is out for delivery.")]
    assert router.counts["telegram.pushed"] == 1


async def test_bad_chat_id_and_refusal_raise_push_failed(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway()
    router = gw.client.app[PUSH_KEY]
    with pytest.raises(PushFailed, match="not a Telegram chat id"):
        await router.push("telegram:web-abc", [OutboundMessage(text="x")])
    gw.api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(PushFailed, match="blocked"):
        await router.push("telegram:7", [OutboundMessage(text="x")])
    assert router.counts["telegram.push_failed"] == 2
    assert gw.counts["telegram.send_failed"] == 1


async def test_a_push_telegram_rate_limits_beyond_the_maximum_fails_without_waiting(
    start_gateway: GatewayFactory,
) -> None:
    gw = await start_gateway()
    router = gw.client.app[PUSH_KEY]
    wait = int(MAX_RETRY_AFTER) * 10
    gw.api.fail("sendMessage", 429, f"Too Many Requests: retry after {wait}", parameters={"retry_after": wait})
    with pytest.raises(PushFailed, match=f"asks for {wait} s, longer than the 30 s we wait"):
        await asyncio.wait_for(router.push("telegram:7", [OutboundMessage(text="x")]), 5)
    assert gw.counts["telegram.send_failed"] == 1 and gw.counts["telegram.rate_limited"] == 1
    # a 429 within the maximum is waited out: the push is delivered
    gw.api.fail("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    await router.push("telegram:7", [OutboundMessage(text="y")])
    assert [c["text"] for c in gw.api.calls_to("sendMessage")] == ["x", "y", "y"]
    assert router.counts["telegram.pushed"] == 1 and gw.counts["telegram.rate_limited"] == 2


async def test_push_before_the_bot_is_connected_fails(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway(wait_ready=False, token="123:not-a-valid-token-at-all-xxxxxxxx")
    # Telegram refuses the bot's token: the push fails loudly instead of pretending to have delivered.
    with pytest.raises(PushFailed, match="Unauthorized"):
        await gw.client.app[PUSH_KEY].push("telegram:7", [OutboundMessage(text="x")])
