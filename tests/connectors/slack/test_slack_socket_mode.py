"""The real Bolt app in Socket Mode: slack-sdk's aiohttp client connects to the fake's WebSocket."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings, offer
from tests.connectors.slack.conftest import (
    DM_CHANNEL,
    STAFF_USER,
    STORE_CHANNEL,
    dm,
    event_envelope,
    mention,
    slack_settings,
)
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlackAPI


@pytest_asyncio.fixture
async def socket_channel(fake_rasa: FakeRasa, fake_slack: FakeSlackAPI) -> AsyncIterator[SlackChannel]:
    """A started gateway whose Slack channel runs in Socket Mode (no HTTP route for Slack)."""
    settings = make_settings(fake_rasa.url)
    channel = SlackChannel(slack_settings(fake_slack.url, mode="socket", signing_secret=None))
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0), channels=[channel])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await fake_slack.wait_for(lambda: fake_slack.connected)
    yield channel
    await server.close()


def _envelope(envelope_id: str, kind: str, payload: dict[str, Any], retry: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
    }


async def test_connects_with_the_app_token_and_answers_an_event_after_acking_it(
    socket_channel: SlackChannel, fake_slack: FakeSlackAPI, fake_rasa: FakeRasa
) -> None:
    [opened] = fake_slack.calls_to("apps.connections.open")
    assert opened.token == APP_TOKEN
    await fake_slack.push(_envelope("env-1", "events_api", event_envelope(dm("where is order 100185?"))))
    await fake_slack.wait_for(lambda: {"envelope_id": "env-1"} in fake_slack.acks)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postMessage")))
    assert fake_rasa.received == [
        {
            "sender": f"slack:{TEAM_ID}-{STAFF_USER}",
            "message": "where is order 100185?",
            "metadata": {"channel": "slack", "staff": {"id": STAFF_USER, "role": "staff"}},
        }
    ]
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.token == BOT_TOKEN
    assert post.args["channel"] == DM_CHANNEL
    assert post.args["text"] == "echo: where is order 100185?"


async def test_a_redelivered_envelope_is_acked_but_processed_once(
    socket_channel: SlackChannel, fake_slack: FakeSlackAPI, fake_rasa: FakeRasa
) -> None:
    event = event_envelope(mention(f"<@{BOT_USER_ID}> hello", ts="1732770100.000800"), event_id="Ev0SOCK01")
    await fake_slack.push(_envelope("env-a", "events_api", event))
    await fake_slack.push(_envelope("env-b", "events_api", event, retry=1))
    await fake_slack.wait_for(lambda: {"envelope_id": "env-b"} in fake_slack.acks)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postMessage")))
    await socket_channel.drain()
    assert {"envelope_id": "env-a"} in fake_slack.acks
    assert len(fake_rasa.received) == 1
    [post] = fake_slack.calls_to("chat.postMessage")
    assert (post.args["channel"], post.args["thread_ts"]) == (STORE_CHANNEL, "1732770100.000800")
    assert socket_channel.counts["slack.duplicate"] == 1


async def test_a_button_press_over_the_socket_is_acked_and_dispatched(
    socket_channel: SlackChannel, fake_slack: FakeSlackAPI, fake_rasa: FakeRasa
) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": "U0CUST001", "team_id": TEAM_ID},
        "channel": {"id": DM_CHANNEL},
        "message": {"ts": "1732800000.000004", "text": "Pick one", "blocks": []},
        "actions": [
            {"action_id": "rasa_button_1", "text": {"type": "plain_text", "text": "No"}, "value": "/deny"}
        ],
    }
    await offer(socket_channel.dispatcher, f"slack:{TEAM_ID}-U0CUST001", "/deny")  # the earlier reply's buttons
    await fake_slack.push(_envelope("env-int", "interactive", payload))
    await fake_slack.wait_for(lambda: {"envelope_id": "env-int"} in fake_slack.acks)
    await fake_slack.wait_for(lambda: bool(fake_slack.calls_to("chat.postMessage")))
    assert fake_rasa.received == [
        {"sender": f"slack:{TEAM_ID}-U0CUST001", "message": "/deny", "metadata": {"channel": "slack"}}
    ]
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.args["channel"] == DM_CHANNEL and "thread_ts" not in post.args


async def test_the_gateway_serves_while_slack_is_unreachable_and_shuts_down_cleanly(
    fake_rasa: FakeRasa, fake_slack: FakeSlackAPI
) -> None:
    url = fake_slack.url
    await fake_slack.stop()  # Slack is down: apps.connections.open cannot be reached
    settings = make_settings(fake_rasa.url)
    channel = SlackChannel(slack_settings(url, mode="socket", signing_secret=None))
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0), channels=[channel])
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    started = time.monotonic()
    await client.start_server()
    assert time.monotonic() - started < 2.0
    resp = await client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["ok"] is True
    await client.close()
    assert time.monotonic() - started < 10.0
