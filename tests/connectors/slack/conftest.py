"""Fixtures of the Slack tests: the fake Slack API, Slack settings, a gateway serving the real Bolt app."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel, SlackSettings
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.fakes.slack_api import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlackAPI, signed_headers

STAFF_USER = "U0STAFF01"
MANAGER_USER = "U0MNGR001"
CUSTOMER_USER = "U0CUST001"
DM_CHANNEL = "D0DM00001"
STORE_CHANNEL = "C0LDN0001"
SUPPORT_CHANNEL = "C0SUPP001"


def slack_settings(api_url: str, mode: str = "events", **overrides: Any) -> SlackSettings:
    """Settings of the channel under test, pointed at the fake Slack API."""
    values: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "mode": mode,
        "app_token": APP_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "api_base_url": api_url,
        "staff": {STAFF_USER: "staff", MANAGER_USER: "manager"},
        "store_channels": {"LDN-01": STORE_CHANNEL},
        "support_channel": SUPPORT_CHANNEL,
    }
    values.update(overrides)
    return SlackSettings(**values)


@dataclass
class SlackGateway:
    """A running gateway with the Slack channel, and helpers to send it what Slack would."""

    client: TestClient
    channel: SlackChannel
    fake: FakeSlackAPI
    rasa: FakeRasa

    async def post_event(self, body: dict[str, Any], **header_overrides: str) -> Any:
        """POST a signed Events API body; extra headers (retry number...) are added as given."""
        raw = json.dumps(body).encode()
        headers = {**signed_headers(raw), **header_overrides}
        return await self.client.post("/slack/events", data=raw, headers=headers)

    async def press(self, payload: dict[str, Any]) -> Any:
        """POST a signed interactivity request (form body ``payload=<json>``), as Slack sends a button press."""
        from urllib.parse import urlencode

        raw = urlencode({"payload": json.dumps(payload)}).encode()
        headers = signed_headers(raw, content_type="application/x-www-form-urlencoded")
        return await self.client.post("/slack/events", data=raw, headers=headers)

    @property
    def posts(self) -> list[dict[str, Any]]:
        """Arguments of every chat.postMessage that reached the fake Slack API."""
        return [c.args for c in self.fake.calls_to("chat.postMessage")]


@pytest_asyncio.fixture
async def fake_slack() -> AsyncIterator[FakeSlackAPI]:
    """A running fake Slack API on a free loopback port."""
    fake = FakeSlackAPI()
    await fake.start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def slack_gateway(fake_rasa: FakeRasa, fake_slack: FakeSlackAPI) -> AsyncIterator[SlackGateway]:
    """The gateway app with the Slack channel in Events API mode, rasa and Slack both faked."""
    settings = make_settings(fake_rasa.url)
    channel = SlackChannel(slack_settings(fake_slack.url), max_message_chars=settings.max_message_chars)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5), channels=[channel])
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield SlackGateway(client, channel, fake_slack, fake_rasa)
    await client.close()


def event_envelope(event: dict[str, Any], event_id: str = "Ev0001", team: str = TEAM_ID) -> dict[str, Any]:
    """An ``event_callback`` body as Slack sends it (Events API and inside Socket Mode envelopes)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "U0BOT001", "is_bot": True}],
    }


def dm(text: str, user: str = STAFF_USER, ts: str = "1732770000.000100", **extra: Any) -> dict[str, Any]:
    """A direct-message ``message`` event."""
    return {
        "type": "message",
        "channel": DM_CHANNEL,
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "team": TEAM_ID,
        **extra,
    }


def mention(text: str, user: str = CUSTOMER_USER, ts: str = "1732770100.000200", **extra: Any) -> dict[str, Any]:
    """An ``app_mention`` event in a store channel."""
    event = {"type": "app_mention", "channel": STORE_CHANNEL, "user": user, "text": text, "ts": ts, "team": TEAM_ID}
    return {**event, **extra}
