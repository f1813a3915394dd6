"""The Telegram channel in long-polling mode: real python-telegram-bot against the fake Bot API and fake rasa."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from aiohttp.test_utils import TestClient

from connectors.errors import RESTARTING
from connectors.keys import ENGINE_KEY
from connectors.telegram.ratelimit import MAX_RETRY_AFTER, BoundedRateLimiter
from connectors.telegram.state import TelegramCallback
from connectors.telegram.translate import (
    EDIT_REPLY,
    EXPIRED_BUTTON,
    UNSUPPORTED_REPLY,
    callback_data_for,
)
from tests.connectors.gateway_fakes import FakeRasa
from tests.connectors.telegram.conftest import GatewayFactory, eventually
from tests.fakes.telegram_api import TOKEN as BOT_TOKEN
from tests.fakes.telegram_api import (
    FakeTelegramApi,
    callback_update,
    channel_post_update,
    edited_update,
    member_update,
    photo_update,
    sticker_update,
    text_update,
)

pytestmark = pytest.mark.asyncio

CHAT = 4242
LONG_PAYLOAD = '/recommend_product{"product": "Hydrating Rose Water Facial Toner with Hyaluronic Acid"}'


def reply(text: str, **extra: object) -> dict:
    return {"recipient_id": f"telegram:{CHAT}", "text": text, **extra}


async def test_polling_start_deletes_the_webhook_and_a_message_is_answered(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    assert telegram_api.methods()[:2] == ["getMe", "deleteWebhook"]
    polls = await telegram_api.wait_for("getUpdates")
    assert polls[0]["timeout"] == 5
    assert polls[0]["allowed_updates"] == ["message", "edited_message", "callback_query"]

    telegram_api.add_update(text_update("where is my order?"))
    sent = await telegram_api.wait_for("sendMessage")

    assert fake_rasa.received == [
        {"sender": f"telegram:{CHAT}", "message": "where is my order?", "metadata": {"channel": "telegram"}}
    ]
    assert sent == [{"chat_id": CHAT, "text": "echo: where is my order?"}]
    assert telegram_api.calls_to("sendChatAction") == [{"chat_id": CHAT, "action": "typing"}]
    await eventually(lambda: gw.counts["telegram.sent"] == 1)
    assert gw.counts["telegram.inbound"] == 1


async def test_the_bot_token_stays_out_of_the_log(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.NOTSET)  # as a fresh process has it
    await start_gateway()
    telegram_api.add_update(text_update("hi"))
    await telegram_api.wait_for("sendMessage")
    logging.getLogger("httpx").warning("request to %s failed", f"{telegram_api.base_url}/bot{BOT_TOKEN}/getMe")
    # the fake API's own access log (aiohttp.access) shows the token: it is Telegram's side
    gateway_side = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "telegram", "connectors"))]
    assert any("/bot<TELEGRAM_BOT_TOKEN>/getMe" in m for m in gateway_side)
    assert len(gateway_side) > 10 and not [m for m in gateway_side if BOT_TOKEN in m]


async def test_start_command_greets_and_typed_intents_are_defused(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    await start_gateway()
    telegram_api.add_update(text_update("/start"))
    telegram_api.add_update(text_update('/inform{"order_number":"ORD-100001"}'))
    await telegram_api.wait_for("sendMessage", 2)
    assert [body["message"] for body in fake_rasa.received] == ["/greet", 'inform{"order_number":"ORD-100001"}']


async def test_buttons_become_an_inline_keyboard_and_presses_reach_rasa(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    fake_rasa.replies = [
        reply(
            "Would you like something similar?",
            buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "More like this", "payload": LONG_PAYLOAD}],
        )
    ]
    telegram_api.add_update(text_update("recommend something"))
    [sent] = await telegram_api.wait_for("sendMessage")
    short_id = callback_data_for(LONG_PAYLOAD)
    assert short_id != LONG_PAYLOAD and len(short_id.encode()) <= 64
    keyboard = [[{"text": "Yes", "callback_data": "/affirm"}, {"text": "More like this", "callback_data": short_id}]]
    assert sent == {
        "chat_id": CHAT,
        "text": "Would you like something similar?",
        "reply_markup": {"inline_keyboard": keyboard},
    }

    # the next answer offers the same buttons again: only the latest reply's buttons are pressable
    telegram_api.add_update(callback_update(short_id, query_id="q-long", keyboard=keyboard))
    await telegram_api.wait_for("sendMessage", 2)
    telegram_api.add_update(callback_update("/affirm", query_id="q-short", keyboard=keyboard))
    await telegram_api.wait_for("sendMessage", 3)

    assert telegram_api.calls_to("answerCallbackQuery") == [
        {"callback_query_id": "q-long"},
        {"callback_query_id": "q-short"},
    ]
    assert [b["message"] for b in fake_rasa.received[1:]] == [LONG_PAYLOAD, "/affirm"]
    assert gw.counts["telegram.buttons"] == 2


async def test_a_forged_or_unknown_short_id_is_answered_and_not_dispatched(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    telegram_api.add_update(callback_update("~AAAAAAAAAAAAAAAAAAAAAA", query_id="q1"))
    [answer] = await telegram_api.wait_for("answerCallbackQuery")
    assert answer == {"callback_query_id": "q1", "text": EXPIRED_BUTTON}
    assert fake_rasa.received == []
    assert gw.counts["telegram.button_expired"] == 1


async def test_an_update_delivered_twice_is_processed_once(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    first = telegram_api.add_update(text_update("hello"))
    await telegram_api.wait_for("sendMessage")
    telegram_api.deliver_again(first)
    telegram_api.add_update(text_update("second"))
    await telegram_api.wait_for("sendMessage", 2)
    assert [b["message"] for b in fake_rasa.received] == ["hello", "second"]
    assert [c["text"] for c in telegram_api.calls_to("sendMessage")] == ["echo: hello", "echo: second"]
    assert gw.counts["telegram.duplicates"] == 1


async def test_edits_stickers_and_non_message_updates_are_handled_without_rasa(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    for update in (
        edited_update("where is my order ORD-100001?"),
        sticker_update(),
        photo_update(None),
        channel_post_update(),
        member_update(),
        text_update("hello group", chat_id=-100777, chat_type="supergroup"),
        text_update("x" * 2001),
    ):
        telegram_api.add_update(update)
    telegram_api.add_update(text_update("still there?"))
    await telegram_api.wait_for("sendMessage", 5)

    assert [c["text"] for c in telegram_api.calls_to("sendMessage")] == [
        EDIT_REPLY,
        UNSUPPORTED_REPLY,
        UNSUPPORTED_REPLY,
        "Sorry, that message is too long for me (2001 characters). Please keep it under 2000 characters.",
        "echo: still there?",
    ]
    assert {c["chat_id"] for c in telegram_api.calls_to("sendMessage")} == {CHAT}
    assert [b["message"] for b in fake_rasa.received] == ["still there?"]
    assert (gw.counts["telegram.edits"], gw.counts["telegram.unsupported"], gw.counts["telegram.ignored"]) == (1, 2, 3)


async def test_a_photo_caption_is_read_as_text(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    await start_gateway()
    telegram_api.add_update(photo_update("it arrived broken"))
    await telegram_api.wait_for("sendMessage")
    assert fake_rasa.received[0]["message"] == "it arrived broken"


async def test_product_cards_are_photos_with_captions_and_the_text_fallback_is_not_repeated(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    card_buttons = [
        {"title": "More like this", "payload": LONG_PAYLOAD},
        {"title": "Is it in stock?", "payload": '/check_stock{"product": "Rose Toner"}'},
    ]
    card = {
        "sku": "SKU-1",
        "title": "Rose Toner",
        "brand": "Bloom",
        "price": "12.50",
        "price_text": "£12.50",
        "currency": "GBP",
        "image": "https://images.shop.example/products/sk-0001.jpg",
        "text": "Rose Toner by Bloom: £12.50",
        "buttons": card_buttons,
    }
    fake_rasa.replies = [
        reply("Here are popular picks in skincare:"),
        {"recipient_id": f"telegram:{CHAT}", "custom": {"type": "product_cards", "products": [card]}},
        reply("Rose Toner by Bloom: £12.50", buttons=card_buttons),
        {"recipient_id": f"telegram:{CHAT}", "image": card["image"]},
        {"recipient_id": f"telegram:{CHAT}", "custom": {"type": "handoff", "ticket": "HO-000001", "reason": "x"}},
    ]
    telegram_api.add_update(text_update("recommend skincare"))
    [photo] = await telegram_api.wait_for("sendPhoto")
    await asyncio.sleep(0.1)  # nothing else may follow

    assert telegram_api.methods() == ["getMe", "deleteWebhook", "sendChatAction", "sendMessage", "sendPhoto"]
    assert telegram_api.calls_to("sendMessage") == [{"chat_id": CHAT, "text": "Here are popular picks in skincare:"}]
    assert photo == {
        "chat_id": CHAT,
        "photo": card["image"],
        "caption": "Rose Toner by Bloom\n£12.50",
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "More like this", "callback_data": callback_data_for(LONG_PAYLOAD)},
                    {"text": "Is it in stock?", "callback_data": '/check_stock{"product": "Rose Toner"}'},
                ]
            ]
        },
    }
    # the staff-only hand-off payload never reaches the channel: the dispatcher takes it out
    assert gw.counts["telegram.skipped.custom:handoff"] == 0


async def test_a_long_reply_is_split_under_telegrams_limit(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    await start_gateway()
    paragraph = ("word " * 199 + "end.").strip()  # 1000 characters
    long_text = "\n\n".join([paragraph] * 9)
    fake_rasa.replies = [reply(long_text, buttons=[{"title": "OK", "payload": "/affirm"}])]
    telegram_api.add_update(text_update("tell me everything"))
    sent = await telegram_api.wait_for("sendMessage", 3)
    await asyncio.sleep(0.1)
    sent = telegram_api.calls_to("sendMessage")
    assert len(sent) == 3 and all(len(c["text"]) <= 4096 for c in sent)
    assert "\n\n".join(c["text"] for c in sent) == long_text
    assert ["reply_markup" in c for c in sent] == [False, False, True]


async def test_rasa_down_gets_the_same_polite_text_as_the_web(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    fake_rasa.status = 503
    telegram_api.add_update(text_update("hello?"))
    [sent] = await telegram_api.wait_for("sendMessage")
    assert sent == {"chat_id": CHAT, "text": RESTARTING}
    assert gw.counts["telegram.rasa_unavailable"] == 1

    await fake_rasa.stop()  # connection refused: same answer
    telegram_api.add_update(text_update("anyone?"))
    sent = await telegram_api.wait_for("sendMessage", 2)
    assert sent[1] == {"chat_id": CHAT, "text": RESTARTING}


async def test_a_failed_send_is_counted_and_polling_goes_on(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    telegram_api.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    telegram_api.add_update(text_update("first"))
    await telegram_api.wait_for("sendMessage", 1)
    telegram_api.add_update(text_update("second"))
    sent = await telegram_api.wait_for("sendMessage", 2)
    assert sent[1] == {"chat_id": CHAT, "text": "echo: second"}
    await eventually(lambda: gw.counts["telegram.sent"] == 1)
    assert gw.counts["telegram.send_failed"] == 1
    assert gw.channel.application.updater is not None and gw.channel.application.updater.running


async def test_a_photo_telegram_cannot_fetch_falls_back_to_its_caption(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    fake_rasa.replies = [reply("Here it is", image="https://images.shop.example/missing.jpg")]
    telegram_api.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")
    telegram_api.add_update(text_update("show me"))
    [sent] = await telegram_api.wait_for("sendMessage")
    assert telegram_api.calls_to("sendPhoto") == [
        {"chat_id": CHAT, "photo": "https://images.shop.example/missing.jpg", "caption": "Here it is"}
    ]
    assert sent == {"chat_id": CHAT, "text": "Here it is"}
    assert gw.counts["telegram.photo_fallback"] == 1 and gw.counts["telegram.send_failed"] == 0


async def test_a_429_is_waited_out_and_the_message_sent_again(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    assert isinstance(gw.channel.application.bot.rate_limiter, BoundedRateLimiter)
    telegram_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    telegram_api.add_update(text_update("hi"))
    sent = await telegram_api.wait_for("sendMessage", 2)
    assert sent[0] == sent[1] == {"chat_id": CHAT, "text": "echo: hi"}
    first, second = telegram_api.times_of("sendMessage")
    assert second - first >= 1.0  # Telegram's retry_after was honoured
    await eventually(lambda: gw.counts["telegram.sent"] == 1)
    assert gw.counts["telegram.rate_limited"] == 1 and gw.counts["telegram.send_failed"] == 0


async def test_a_second_429_for_the_same_message_fails_the_send(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway()
    telegram_api.fail("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1}, times=2)
    telegram_api.add_update(text_update("hi"))
    await telegram_api.wait_for("sendMessage", 2)
    await eventually(lambda: gw.counts["telegram.send_failed"] == 1)
    assert gw.counts["telegram.rate_limited"] == 2 and gw.counts["telegram.sent"] == 0
    assert len(telegram_api.calls_to("sendMessage")) == 2  # sent again once, not a third time
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1 and "still refused after 1 retry" in failures[0].getMessage()  # logged once


async def test_a_429_asking_for_more_than_the_maximum_fails_at_once_and_the_next_message_goes_out(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    wait = int(MAX_RETRY_AFTER) + 1
    telegram_api.fail("sendMessage", 429, f"Too Many Requests: retry after {wait}", parameters={"retry_after": wait})
    telegram_api.add_update(text_update("first"))
    await eventually(lambda: gw.counts["telegram.send_failed"] == 1)
    assert gw.counts["telegram.rate_limited"] == 1 and len(telegram_api.calls_to("sendMessage")) == 1
    started = asyncio.get_running_loop().time()
    telegram_api.add_update(text_update("second"))
    sent = await telegram_api.wait_for("sendMessage", 2)
    assert sent[1] == {"chat_id": CHAT, "text": "echo: second"}
    assert asyncio.get_running_loop().time() - started < 2.0  # nothing waits out the refused wait
    await eventually(lambda: gw.counts["telegram.sent"] == 1)


async def test_a_429_on_the_typing_indicator_is_waited_out_and_the_turn_goes_on(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    telegram_api.fail("sendChatAction", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    telegram_api.add_update(text_update("hi"))
    await telegram_api.wait_for("sendMessage")
    assert len(telegram_api.calls_to("sendChatAction")) == 2
    assert gw.counts["telegram.rate_limited"] == 1 and gw.counts["telegram.typing_failed"] == 0


async def test_the_flood_limits_do_not_slow_a_normal_conversation(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    # A long answer (8 messages) to each of three quick customer messages: 27 calls in about a second,
    # under Telegram's 30 per second, so PTB's limiter lets every one through at once.
    gw = await start_gateway()
    assert isinstance(gw.channel.application.bot.rate_limiter, BoundedRateLimiter)
    fake_rasa.replies = [reply(f"part {i}") for i in range(8)]
    started = asyncio.get_running_loop().time()
    for text in ("hi", "where is my order?", "thanks"):
        telegram_api.add_update(text_update(text))
    await telegram_api.wait_for("sendMessage", 24)
    assert asyncio.get_running_loop().time() - started < 1.5
    times = telegram_api.times_of("sendMessage")
    assert max(b - a for a, b in itertools.pairwise(times)) < 0.5  # no pause between messages
    assert gw.counts["telegram.rate_limited"] == 0


async def test_telegram_unreachable_at_start_is_retried_and_the_gateway_serves_meanwhile(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    telegram_api.fail("getMe", 502, "Bad Gateway", times=2)
    gw = await start_gateway(wait_ready=False)
    health = await gw.client.get("/healthz")
    assert health.status == 200
    await asyncio.wait_for(gw.channel.ready.wait(), 10)
    assert telegram_api.methods()[:4] == ["getMe", "getMe", "getMe", "deleteWebhook"]
    assert gw.counts["telegram.connect_failed"] == 2
    telegram_api.add_update(text_update("hi"))
    await telegram_api.wait_for("sendMessage")


async def test_a_rejected_token_leaves_the_channel_off_and_the_gateway_up(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway(token="999:AAWrongTokenWrongTokenWrongToken", wait_ready=False)
    client: TestClient = gw.client
    for _ in range(100):
        if gw.counts["telegram.connect_failed"]:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    assert gw.counts["telegram.connect_failed"] == 1  # not retried: the token is wrong, not the network
    assert not gw.channel.ready.is_set()
    assert telegram_api.methods() == ["getMe"]
    resp = await client.post("/api/web/messages", json={"conversation_id": "c0ffee00c0ffee00", "text": "hi"})
    assert resp.status == 200


async def test_an_unexpected_error_is_counted_and_the_next_update_is_answered(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway()
    TelegramCallback.__table__.drop(gw.client.app[ENGINE_KEY])  # the gateway database lost its table
    telegram_api.add_update(callback_update(callback_data_for(LONG_PAYLOAD), query_id="q-lost"))
    await eventually(lambda: gw.counts["telegram.handler_failed"] == 1)
    assert telegram_api.calls_to("answerCallbackQuery") == [{"callback_query_id": "q-lost"}]
    telegram_api.add_update(text_update("are you still there?"))
    [sent] = await telegram_api.wait_for("sendMessage")
    assert sent == {"chat_id": CHAT, "text": "echo: are you still there?"}
    assert [b["message"] for b in fake_rasa.received] == ["are you still there?"]
