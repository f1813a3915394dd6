"""Fixtures of the hand-off tests: a gateway with web + Slack (events mode) against fake rasa and fake Slack."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import sessionmaker

from connectors.handoff import HandoffDesk
from connectors.handoff.settings import HandoffSettings, OpeningHours
from connectors.keys import HANDOFF_KEY
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from connectors.web import WebChannel
from gateway import create_app
from store.db import make_engine
from store.migrate import upgrade
from store.service import OrderStore
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.slack.conftest import (  # noqa: F401 (fake_slack is a fixture)
    MANAGER_USER,
    STAFF_USER,
    SUPPORT_CHANNEL,
    event_envelope,
    fake_slack,
    slack_settings,
)
from tests.fakes.slack_api import TEAM_ID, FakeSlackAPI, signed_headers

CONVERSATION = "handoff-test-conversation-0001"
OUTSIDER = "U0OUTSID1"


@dataclass
class Clock:
    """An aware-UTC clock the test moves (a Saturday 28 Nov 2026, 10:00 UTC, unless set)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 28, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@dataclass
class HandoffGateway:
    """A running gateway (web + Slack), its desk, the fakes and the order store the desk mirrors into."""

    client: TestClient
    desk: HandoffDesk
    slack: SlackChannel
    fake: FakeSlackAPI
    rasa: FakeRasa
    store: OrderStore
    clock: Clock

    async def say(self, text: str, conversation: str = CONVERSATION) -> dict[str, Any]:
        resp = await self.client.post("/api/web/messages", json={"conversation_id": conversation, "text": text})
        body = await resp.json()
        assert resp.status == 200, body
        return body

    async def history_texts(self, conversation: str = CONVERSATION) -> list[str]:
        resp = await self.client.get("/api/web/history", params={"conversation_id": conversation})
        body = await resp.json()
        assert resp.status == 200, body
        return [e["message"].get("text", "") if e["role"] == "bot" else f"> {e['text']}" for e in body["entries"]]

    async def press(self, action_id: str, ticket: str, user: str, name: str = "Sam", **headers: str) -> int:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "shop"},
            "user": {"id": user, "username": name.lower(), "name": name, "team_id": TEAM_ID},
            "api_app_id": "A0APP",
            "token": "legacy",
            "container": {"type": "message", "message_ts": "1732800000.000001", "channel_id": SUPPORT_CHANNEL},
            "trigger_id": f"123.456.{uuid.uuid4().hex[:12]}",  # unique per press, as Slack makes them
            "channel": {"id": SUPPORT_CHANNEL, "name": "support"},
            "message": {"type": "message", "ts": "1732800000.000001", "text": "Hand-off", "blocks": []},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "text": {"type": "plain_text", "text": "Claim"},
                    "value": ticket,
                    "action_ts": "1732800001.000000",
                }
            ],
        }
        raw = urlencode({"payload": json.dumps(payload)}).encode()
        signed = signed_headers(raw, content_type="application/x-www-form-urlencoded")
        resp = await self.client.post("/slack/events", data=raw, headers={**signed, **headers})
        await self.slack.drain()
        return resp.status

    async def thread_message(self, text: str, thread_ts: str, user: str = STAFF_USER, n: int = 0) -> int:
        event = {
            "type": "message",
            "channel": SUPPORT_CHANNEL,
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": f"1732800100.{n:06d}",
            "thread_ts": thread_ts,
            "team": TEAM_ID,
        }
        raw = json.dumps(event_envelope(event, event_id=f"EvThread{n}-{time.monotonic_ns()}")).encode()
        resp = await self.client.post("/slack/events", data=raw, headers=signed_headers(raw))
        await self.slack.drain()
        return resp.status

    def posts(self) -> list[dict[str, Any]]:
        return [c.args for c in self.fake.calls_to("chat.postMessage")]

    def updates(self) -> list[dict[str, Any]]:
        return [c.args for c in self.fake.calls_to("chat.update")]

    def thread(self, ts: str) -> list[str]:
        return [p["text"] for p in self.posts() if p.get("thread_ts") == ts]


def handoff_reply(ticket: str, reason: str = "customer asked for a person", **extra: Any) -> Callable[[dict], list]:
    """Fake rasa: ``a person please`` opens ``ticket``; anything else is echoed."""

    def answer(body: dict[str, Any]) -> list[dict[str, Any]]:
        if body["message"] == "a person please":
            return [
                {"recipient_id": body["sender"], "text": f"I've asked a colleague: your ticket is {ticket}."},
                {
                    "recipient_id": body["sender"],
                    "custom": {
                        "type": "handoff",
                        "ticket": ticket,
                        "reason": reason,
                        "summary": "customer: where is my parcel [track_order]\nbot ran action_track_order",
                        **extra,
                    },
                },
            ]
        return [{"recipient_id": body["sender"], "text": f"echo: {body['message']}"}]

    return answer


def shop_store(folder: Path) -> tuple[str, OrderStore]:
    url = f"sqlite:///{folder / 'shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return url, OrderStore(sessionmaker(engine))


@pytest_asyncio.fixture
async def handoff_gateway(fake_rasa: FakeRasa, fake_slack: FakeSlackAPI) -> AsyncIterator[HandoffGateway]:  # noqa: F811
    """Web + Slack (events mode) gateway; the desk always open, 10 minute claim timeout, the clock held."""
    shop_url, store = shop_store(Path(tempfile.mkdtemp(prefix="handoff-shop-")))
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    slack = SlackChannel(slack_settings(fake_slack.url), max_message_chars=settings.max_message_chars)
    app = create_app(
        settings,
        RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5),
        channels=[WebChannel(shop_db_url=shop_url), slack],
    )
    desk = app[HANDOFF_KEY]
    clock = Clock()
    desk.now = clock
    # The sweeper sleeps an hour: tests call desk.sweep() themselves at the moments they choose.
    desk.settings = HandoffSettings(claim_timeout_minutes=10, opening_hours=OpeningHours(), sweep_seconds=3600)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield HandoffGateway(client, desk, slack, fake_slack, fake_rasa, store, clock)
    await client.close()
