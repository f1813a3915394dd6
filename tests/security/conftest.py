"""Fixtures of the security regression tests: the order store on both backends, the actions' seeded shop, and one
gateway serving every public endpoint (rasa, Telegram and Slack faked) for the bad-input tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine

from connectors.keys import SESSIONS_KEY
from connectors.notify import NotifyService, NotifySettings
from connectors.notify.translate import SIGNATURE_HEADER, sign
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from connectors.tablet import TabletChannel, TabletSettings
from connectors.tablet.channel import StoreNames
from connectors.tablet.devices import TabletRegistry
from connectors.telegram import TelegramChannel, TelegramSettings
from connectors.telegram.channel import SECRET_HEADER
from connectors.web import WebChannel
from console.auth import add_user
from console.settings import ConsoleSettings
from console.tracker import events
from console.web import COOKIE, STATE_KEY
from gateway import create_app
from tests.actions.helpers import CLAIMS_SECRET, claims_secret, domain, seeded_db  # noqa: F401
from tests.connectors.conftest import fake_rasa, network_guard  # noqa: F401  (fixtures: rasa stand-in, loopback guard)
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.slack.conftest import (
    fake_slack,  # noqa: F401
    slack_settings,
)
from tests.connectors.tablet_fixtures import SHOPS, make_shop_db
from tests.fakes.slack_api import FakeSlackAPI, signed_headers
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi
from tests.store.conftest import backend, db, postgres_url, seeded_engine, session_factory, store  # noqa: F401

CARRIER_SECRET = "carrier-secret-for-the-fuzz-tests-0123"
TELEGRAM_SECRET = "telegram-secret-for-the-fuzz-tests-0123"
LEAD_PASSWORD = "lead-password-for-tests"
BODY_TIMEOUT = 0.5


@dataclass
class Gateway:
    """A running gateway with every channel and the console, and what the tests need to call it."""

    client: TestClient
    rasa: FakeRasa
    tablet_token: str
    lead_cookie: str
    lead_csrf: str

    @property
    def url(self) -> str:
        """Base URL of the running gateway."""
        return f"http://127.0.0.1:{self.client.server.port}"

    async def tablet_session(self) -> str:
        """A new shopper session on the registered tablet."""
        resp = await self.client.post("/api/tablet/session", headers=self.tablet_headers())
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["session_id"])

    def tablet_headers(self) -> dict[str, str]:
        """The registered tablet's device token."""
        return {"Authorization": f"Bearer {self.tablet_token}"}

    def console_headers(self) -> dict[str, str]:
        """A signed-in lead's cookie and CSRF token."""
        return {"Cookie": f"{COOKIE}={self.lead_cookie}", "X-CSRF-Token": self.lead_csrf}

    @staticmethod
    def carrier_headers(body: bytes) -> dict[str, str]:
        """A correctly signed carrier webhook (the fuzzed body gets past the signature to the parser)."""
        return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(CARRIER_SECRET, body)}

    @staticmethod
    def telegram_headers() -> dict[str, str]:
        """Telegram's secret-token header."""
        return {"Content-Type": "application/json", SECRET_HEADER: TELEGRAM_SECRET}

    @staticmethod
    def slack_headers(body: bytes) -> dict[str, str]:
        """A correctly signed Slack Events API request."""
        return signed_headers(body)


def tracker_db(folder: Path) -> str:
    """An empty SQLite tracker store with rasa's ``events`` table (as rasa creates it on its first save)."""
    url = f"sqlite:///{folder / 'tracker.db'}"
    engine = create_engine(url)
    events.metadata.create_all(engine, tables=[events])
    engine.dispose()
    return url


async def start_all_channels(
    fake_rasa: FakeRasa, folder: Path  # noqa: F811 (a parameter, not the fixture)
) -> tuple[Gateway, Callable[[], Awaitable[None]]]:
    """Start a gateway with web, tablet, Telegram (webhook), Slack (Events API), the carrier webhook and the console.

    Returns:
        The running gateway and the coroutine function that stops it and its fakes.
    """
    telegram_api, slack_api = FakeTelegramApi(), FakeSlackAPI()
    await telegram_api.start()
    await slack_api.start()
    shop_url = make_shop_db(folder)
    settings = make_settings(
        fake_rasa.url, shop_db_url=shop_url, tracker_db_url=tracker_db(folder), body_timeout=BODY_TIMEOUT
    )
    telegram = TelegramChannel(
        TelegramSettings(
            bot_token=TELEGRAM_TOKEN,
            mode="webhook",
            api_base_url=telegram_api.base_url,
            webhook_url="https://bot.shop.example/telegram/webhook",
            webhook_secret=TELEGRAM_SECRET,
        ),
        max_message_chars=settings.max_message_chars,
        retry_delay=0.05,
    )
    channels = [
        WebChannel(),
        TabletChannel(
            TabletSettings(idle_seconds=60, countdown_seconds=10), store_names=StoreNames(load=lambda: SHOPS)
        ),
        telegram,
        SlackChannel(slack_settings(slack_api.url), max_message_chars=settings.max_message_chars),
        NotifyService(NotifySettings(webhook_secret=CARRIER_SECRET, enabled=False), shop_db_url=shop_url),
    ]
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5), channels=channels)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    await asyncio.wait_for(telegram.ready.wait(), 10)
    state = app[STATE_KEY]
    state.settings = state.auth.settings = ConsoleSettings()
    add_user(app[SESSIONS_KEY], "lead@example.com", "lead", LEAD_PASSWORD)
    resp = await client.post("/api/console/login", json={"email": "lead@example.com", "password": LEAD_PASSWORD})
    assert resp.status == 200, await resp.text()
    csrf = (await resp.json())["csrf_token"]
    cookie = resp.cookies[COOKIE].value
    client.session.cookie_jar.clear()
    _device, token = TabletRegistry(app[SESSIONS_KEY]).register("LDN-01", "fuzz tablet", SHOPS)

    async def stop() -> None:
        await client.close()
        await telegram_api.stop()
        await slack_api.stop()

    return Gateway(client, fake_rasa, token, cookie, csrf), stop


@pytest_asyncio.fixture
async def all_channels(
    fake_rasa: FakeRasa, tmp_path: Path  # noqa: F811 (the fixture imported above)
) -> AsyncIterator[Gateway]:
    """A gateway serving every public endpoint (see :func:`start_all_channels`)."""
    gateway, stop = await start_all_channels(fake_rasa, tmp_path)
    try:
        yield gateway
    finally:
        await stop()


def deep(levels: int) -> str:
    """JSON arrays nested ``levels`` deep."""
    return "[" * levels + "]" * levels


def as_body(value: Any) -> bytes:
    """A JSON body."""
    return json.dumps(value).encode()
