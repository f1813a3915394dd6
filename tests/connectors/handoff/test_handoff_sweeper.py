"""The gateway's own background sweeper (settings from ``HANDOFF_*``) tells an unclaimed customer once."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.keys import HANDOFF_KEY
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from connectors.web import WebChannel
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.handoff.conftest import handoff_reply, shop_store
from tests.connectors.slack.conftest import fake_slack as fake_slack  # noqa: F401 (fixture)
from tests.connectors.slack.conftest import slack_settings
from tests.fakes.slack_api import FakeSlackAPI


async def test_nobody_claims_and_the_running_gateway_says_so_once(
    fake_rasa: FakeRasa,
    fake_slack: FakeSlackAPI,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HANDOFF_CLAIM_TIMEOUT_MINUTES", "0.005")  # 0.3 s
    monkeypatch.setenv("HANDOFF_SWEEP_SECONDS", "0.1")
    monkeypatch.setenv("HANDOFF_OPENING_HOURS", "always")
    shop_url, store = shop_store(Path(tempfile.mkdtemp(prefix="handoff-sweeper-")))
    ticket = store.open_handoff("web:c", channel="web", reason="asked", summary="").ticket_number
    fake_rasa.replies = handoff_reply(ticket)
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    slack = SlackChannel(slack_settings(fake_slack.url), max_message_chars=settings.max_message_chars)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5), [WebChannel(), slack])
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        resp = await client.post(
            "/api/web/messages", json={"conversation_id": "sweeper-test-0001", "text": "a person please"}
        )
        assert resp.status == 200
        notice = f"Ticket {ticket} stays open. A colleague will answer you here in this chat."

        async def bot_texts() -> list[str]:
            history = await (
                await client.get("/api/web/history", params={"conversation_id": "sweeper-test-0001"})
            ).json()
            return [e["message"].get("text", "") for e in history["entries"] if e["role"] == "bot"]

        for _ in range(50):
            if any(notice in text for text in await bot_texts()):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # several more sweeps
        assert sum(notice in text for text in await bot_texts()) == 1
        assert app[HANDOFF_KEY].counts["handoff.notices"] == 1
        assert app[HANDOFF_KEY].state.get(ticket).status == "open"  # type: ignore[union-attr]
    finally:
        await client.close()
