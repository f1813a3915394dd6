"""Fixtures for the Telegram channel tests: the fake Bot API and a gateway running the real PTB client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.dispatch import Dispatcher
from connectors.rasa_client import RasaClient
from connectors.telegram import TelegramChannel, TelegramSettings
from connectors.web import WebChannel
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.fakes.telegram_api import TOKEN as BOT_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi

SECRET = "s3cret-webhook-token-0123456789"
WEBHOOK_URL = "https://bot.shop.example/telegram/webhook"


@dataclass
class TelegramGateway:
    """A running gateway with the Telegram channel, and what it talks to."""

    client: TestClient
    channel: TelegramChannel
    api: FakeTelegramApi
    rasa: FakeRasa

    @property
    def counts(self) -> Any:
        """The dispatcher's counters."""
        dispatcher: Dispatcher = self.channel.dispatcher
        return dispatcher.counts


@pytest_asyncio.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramApi]:
    """A running fake Bot API on a free loopback port."""
    fake = FakeTelegramApi()
    await fake.start()
    yield fake
    await fake.stop()


GatewayFactory = Callable[..., Awaitable[TelegramGateway]]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check()`` holds: the fake records a call before the channel has read the answer."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout} s")
        await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def start_gateway(
    fake_rasa: FakeRasa, telegram_api: FakeTelegramApi
) -> AsyncIterator[GatewayFactory]:
    """Start a gateway whose Telegram channel talks to ``telegram_api``; ``wait_ready`` waits for getMe etc."""
    clients: list[TestClient] = []

    async def start(
        mode: str = "polling", *, token: str = BOT_TOKEN, wait_ready: bool = True, **overrides: Any
    ) -> TelegramGateway:
        values: dict[str, Any] = {
            "bot_token": token,
            "mode": mode,
            "api_base_url": telegram_api.base_url,
            "poll_timeout": 5,
        }
        if mode == "webhook":
            values.update(webhook_url=WEBHOOK_URL, webhook_secret=SECRET)
        values.update(overrides)
        settings = make_settings(fake_rasa.url)
        channel = TelegramChannel(
            TelegramSettings(**values), max_message_chars=settings.max_message_chars, retry_delay=0.05
        )
        app = create_app(
            settings,
            RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout, health_timeout=0.5),
            channels=[WebChannel(), channel],
        )
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        if wait_ready:
            await asyncio.wait_for(channel.ready.wait(), 10)
        return TelegramGateway(client, channel, telegram_api, fake_rasa)

    yield start
    for client in clients:
        await client.close()
