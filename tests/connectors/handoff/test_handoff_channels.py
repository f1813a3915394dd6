"""Hand-off for customers on other channels: Telegram relayed both ways, a tablet ticket in its shop's channel."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from connectors.handoff.settings import HandoffSettings, OpeningHours
from connectors.handoff.translate import CLAIM_ACTION, HandoffRequest
from connectors.keys import HANDOFF_KEY
from connectors.models import InboundMessage
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from connectors.telegram import TelegramChannel, TelegramSettings
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings
from tests.connectors.handoff.conftest import HandoffGateway, handoff_reply, shop_store
from tests.connectors.slack.conftest import STAFF_USER, STORE_CHANNEL, slack_settings
from tests.connectors.slack.conftest import fake_slack as fake_slack  # noqa: F401 (fixture)
from tests.connectors.telegram.conftest import telegram_api as telegram_api  # noqa: F401 (fixture)
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi, text_update

CHAT = 4242


async def test_a_telegram_customer_talks_to_a_person_through_the_thread(
    fake_rasa: FakeRasa,
    fake_slack: FakeSlackAPI,  # noqa: F811
    telegram_api: FakeTelegramApi,  # noqa: F811
) -> None:
    shop_url, store = shop_store(Path(tempfile.mkdtemp(prefix="handoff-telegram-")))
    ticket = store.open_handoff(f"telegram:{CHAT}", channel="telegram", reason="asked", summary="").ticket_number
    fake_rasa.replies = handoff_reply(ticket)
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    telegram = TelegramChannel(
        TelegramSettings(bot_token=TELEGRAM_TOKEN, api_base_url=telegram_api.base_url, poll_timeout=5),
        max_message_chars=settings.max_message_chars,
        retry_delay=0.05,
    )
    slack = SlackChannel(slack_settings(fake_slack.url), max_message_chars=settings.max_message_chars)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5), [telegram, slack])
    app[HANDOFF_KEY].settings = HandoffSettings(opening_hours=OpeningHours())  # open whatever day the test runs
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        await asyncio.wait_for(telegram.ready.wait(), 10)
        gw = HandoffGateway(client, app[HANDOFF_KEY], slack, fake_slack, fake_rasa, store, None)  # type: ignore[arg-type]
        telegram_api.add_update(text_update("a person please", chat_id=CHAT))
        await fake_slack.wait_for(lambda: len(gw.posts()) == 1)
        ticket_ts = "1732800000.000001"
        assert gw.posts()[0]["text"].startswith(f"Hand-off {ticket} (Telegram)")

        assert await gw.press(CLAIM_ACTION, ticket, STAFF_USER, "Sam") == 200
        [_, joined] = await telegram_api.wait_for("sendMessage", 2)
        assert joined == {
            "chat_id": CHAT,
            "text": f"Sam from our team has picked up your ticket {ticket} and will answer you here.",
        }

        asked = len(fake_rasa.received)
        telegram_api.add_update(text_update("it's the blue one", chat_id=CHAT))
        await fake_slack.wait_for(lambda: "*Customer:* it's the blue one" in gw.thread(ticket_ts))
        assert len(fake_rasa.received) == asked

        assert await gw.thread_message("Got it, sending a replacement", ticket_ts, n=1) == 200
        sent = await telegram_api.wait_for("sendMessage", 3)
        assert sent[-1] == {"chat_id": CHAT, "text": "Sam (staff): Got it, sending a replacement"}
    finally:
        await client.close()


async def test_a_tablet_ticket_goes_to_its_shops_channel(handoff_gateway: HandoffGateway) -> None:
    gw = handoff_gateway
    inbound = InboundMessage(
        "tablet", "session-0123456789abcdef", text="I want to complain", metadata={"store_id": "LDN-01"}
    )
    assert await gw.desk.open(HandoffRequest("HO-000777", "complaint"), inbound) == []
    [post] = gw.posts()
    assert (
        post["channel"] == STORE_CHANNEL
        and "in-store tablet" in str(post["blocks"])
        and "LDN-01" in str(post["blocks"])
    )
    case = gw.desk.state.get("HO-000777")
    assert case is not None and case.store_id == "LDN-01" and case.conversation_id == "tablet:session-0123456789abcdef"
