"""Each channel's PushTarget: what reaches the platform (fakes), the page or the socket, and what fails loudly."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.keys import PUSH_KEY
from connectors.models import Button, OutboundMessage
from connectors.push import PushFailed
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.handoff.conftest import HandoffGateway
from tests.connectors.slack.conftest import (
    DM_CHANNEL,
    STAFF_USER,
    STORE_CHANNEL,
    SlackGateway,
    dm,
    event_envelope,
    mention,
    slack_settings,
)
from tests.connectors.slack.conftest import slack_gateway as slack_gateway  # noqa: F401 (fixture)
from tests.connectors.tablet_fixtures import auth, start_tablet_gateway
from tests.connectors.telegram.conftest import GatewayFactory
from tests.connectors.telegram.conftest import start_gateway as start_gateway  # noqa: F401 (fixture)
from tests.connectors.telegram.conftest import telegram_api as telegram_api  # noqa: F401 (fixture)
from tests.fakes.slack_api import TEAM_ID, FakeSlackAPI, signed_headers
from tests.fakes.telegram_api import FakeTelegramApi

HELLO = [OutboundMessage(text="Sam (staff): hello again", custom={"type": "agent_message", "agent": "Sam"})]


# ------------------------------------------------------------------------------------------------- web


async def test_web_push_reaches_every_open_socket_and_the_history(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    await gw.say("hi")  # the conversation exists once it has written
    router = gw.client.app[PUSH_KEY]
    async with (
        gw.client.ws_connect("/api/web/ws?conversation_id=handoff-test-conversation-0001") as first,
        gw.client.ws_connect("/api/web/ws?conversation_id=handoff-test-conversation-0001") as second,
        gw.client.ws_connect("/api/web/ws?conversation_id=someone-else-entirely-0001") as other,
    ):
        await router.push("web:handoff-test-conversation-0001", HELLO)
        for ws in (first, second):
            frame = await asyncio.wait_for(ws.receive_json(), 5)
            assert frame["pushed"] is True and frame["messages"][0]["text"] == "Sam (staff): hello again"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(other.receive_json(), 0.3)
    # A widget that was closed finds it in the history when it comes back.
    assert (await gw.history_texts())[-1] == "Sam (staff): hello again"
    assert router.counts["web.pushed"] == 1


async def test_web_push_to_an_unknown_conversation_fails(handoff_gateway: HandoffGateway) -> None:
    router = handoff_gateway.client.app[PUSH_KEY]
    with pytest.raises(PushFailed, match="unknown"):
        await router.push("web:never-wrote-anything-0001", HELLO)
    assert router.counts["web.push_failed"] == 1


# -------------------------------------------------------------------------------------------- telegram


async def test_telegram_push_sends_the_message_to_the_chat(
    start_gateway: GatewayFactory,  # noqa: F811
    telegram_api: FakeTelegramApi,  # noqa: F811
) -> None:
    gw = await start_gateway()
    router = gw.client.app[PUSH_KEY]
    await router.push(
        "telegram:4242", [OutboundMessage(text="Sam (staff): found it", buttons=(Button("Thanks", "/thankyou"),))]
    )
    [sent] = telegram_api.calls_to("sendMessage")
    assert sent == {
        "chat_id": 4242,
        "text": "Sam (staff): found it",
        "reply_markup": {"inline_keyboard": [[{"text": "Thanks", "callback_data": "/thankyou"}]]},
    }
    telegram_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(PushFailed, match="blocked"):
        await router.push("telegram:4242", HELLO)
    with pytest.raises(PushFailed, match="not a Telegram chat id"):
        await router.push("telegram:abc", HELLO)
    assert router.counts["telegram.push_failed"] == 2 and gw.counts["telegram.send_failed"] == 1


# ---------------------------------------------------------------------------------------------- tablet


async def test_tablet_push_waits_for_the_kiosk_poll_and_dies_with_the_session(fake_rasa: FakeRasa) -> None:
    gw = await start_tablet_gateway(fake_rasa)
    try:
        _, token = gw.register()
        session_id = await gw.session(token)
        router = gw.client.app[PUSH_KEY]
        await router.push(f"tablet:{session_id}", HELLO)

        async def poll(session: str, device_token: str = token) -> tuple[int, dict]:
            resp = await gw.client.post("/api/tablet/updates", json={"session_id": session}, headers=auth(device_token))
            return resp.status, await resp.json()

        status, body = await poll(session_id)
        assert status == 200 and [m["text"] for m in body["messages"]] == ["Sam (staff): hello again"]
        assert (await poll(session_id))[1]["messages"] == []  # handed over once
        # Another tablet cannot read this session's messages.
        _, other_token = gw.register(name="till")
        await router.push(f"tablet:{session_id}", HELLO)
        assert (await poll(session_id, other_token))[0] == 409
        # The screen wipes (a new shopper): the old session and what waited for it are gone.
        new_session = await gw.session(token)
        with pytest.raises(PushFailed, match="ended"):
            await router.push(f"tablet:{session_id}", HELLO)
        assert (await poll(session_id))[0] == 409
        assert (await poll(new_session))[1]["messages"] == []  # nothing leaks to the next shopper
        assert (await poll("x" * 20, "tab_wrong"))[0] == 401
        bad = await gw.client.post("/api/tablet/updates", data=b"\xff\xfe", headers=auth(token))
        assert bad.status == 400
        assert router.counts["tablet.pushed"] == 2 and router.counts["tablet.push_failed"] == 1
    finally:
        await gw.client.close()


# ----------------------------------------------------------------------------------------------- slack


async def test_slack_push_goes_where_the_conversation_was_answered(slack_gateway: SlackGateway) -> None:  # noqa: F811
    gw = slack_gateway
    router = gw.client.app[PUSH_KEY]
    raw = json.dumps(event_envelope(dm("hello"), event_id="EvPush1")).encode()
    assert (await gw.client.post("/slack/events", data=raw, headers=signed_headers(raw))).status == 200
    await gw.channel.drain()
    before = len(gw.posts)
    await router.push(f"slack:{TEAM_ID}-{STAFF_USER}", HELLO)
    assert gw.posts[before:] == [
        {"channel": DM_CHANNEL, "text": "Sam (staff): hello again", "blocks": gw.posts[before]["blocks"]}
    ]
    # A thread conversation the gateway has not seen since it started cannot be placed.
    with pytest.raises(PushFailed, match="never written here"):
        await router.push(f"slack:{TEAM_ID}-{STAFF_USER}-1732770000.000100", HELLO)
    gw.fake.fail["chat.postMessage"] = "channel_not_found"
    with pytest.raises(PushFailed, match="channel_not_found"):
        await router.push(f"slack:{TEAM_ID}-{STAFF_USER}", HELLO)
    assert router.counts["slack.push_failed"] == 2 and gw.channel.counts["slack.send_failed"] == 1


async def test_a_slack_thread_conversation_is_reached_in_its_thread_after_a_gateway_restart(
    fake_rasa: FakeRasa, fake_slack: FakeSlackAPI
) -> None:
    settings = make_settings(fake_rasa.url)  # one gateway database for both processes

    async def start() -> tuple[TestClient, SlackChannel]:
        channel = SlackChannel(slack_settings(fake_slack.url), max_message_chars=settings.max_message_chars)
        rasa = RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5)
        client = TestClient(TestServer(create_app(settings, rasa, channels=[channel]), host="127.0.0.1", port=0))
        await client.start_server()
        return client, channel

    client, channel = await start()
    try:
        raw = json.dumps(event_envelope(mention("<@U0BOT001> is order 100185 in?"), event_id="EvThread1")).encode()
        assert (await client.post("/slack/events", data=raw, headers=signed_headers(raw))).status == 200
        await channel.drain()
        sender = fake_rasa.received[-1]["sender"].removeprefix("slack:")
        thread_ts = fake_slack.calls_to("chat.postMessage")[-1].args["thread_ts"]
    finally:
        await client.close()

    client, channel = await start()  # a new process: nothing in memory
    try:
        before = len(fake_slack.calls_to("chat.postMessage"))
        await client.app[PUSH_KEY].push(f"slack:{sender}", HELLO)
        posted = [c.args for c in fake_slack.calls_to("chat.postMessage")][before:]
        assert [(p["channel"], p.get("thread_ts"), p["text"]) for p in posted] == [
            (STORE_CHANNEL, thread_ts, "Sam (staff): hello again")
        ]
    finally:
        await client.close()


async def test_a_tablet_push_is_not_the_shoppers_activity_a_touch_is(fake_rasa: FakeRasa) -> None:
    """A colleague's reply reaches the page but does not keep the last shopper's conversation on screen past
    the wipe time (idle 60 + countdown 10 s); the shopper touching the screen does (NEW-5)."""
    gw = await start_tablet_gateway(fake_rasa)
    try:
        _, token = gw.register()
        session_id = await gw.session(token)
        router = gw.client.app[PUSH_KEY]

        async def poll(active: bool = False) -> int:
            resp = await gw.client.post(
                "/api/tablet/updates", json={"session_id": session_id, "active": active}, headers=auth(token)
            )
            return resp.status

        gw.clock.advance(60)
        await router.push(f"tablet:{session_id}", HELLO)
        assert await poll() == 200  # delivered, but the shopper did nothing
        gw.clock.advance(9)
        assert await poll(active=True) == 200  # "I'm still here": 69 s after the start
        gw.clock.advance(60)
        await router.push(f"tablet:{session_id}", HELLO)
        assert await poll() == 200
        gw.clock.advance(10)  # 70 s after the touch, 10 s after the reply
        with pytest.raises(PushFailed, match="ended"):
            await router.push(f"tablet:{session_id}", HELLO)
        assert await poll() == 409
    finally:
        await gw.client.close()
