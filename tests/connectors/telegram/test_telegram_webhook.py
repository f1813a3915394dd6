"""The Telegram channel in webhook mode: setWebhook at start, the secret-token check, bad bodies, retries."""

from __future__ import annotations

import asyncio
import json

import pytest

from connectors.telegram.channel import SECRET_HEADER
from tests.connectors.gateway_fakes import FakeRasa, offer
from tests.connectors.telegram.conftest import SECRET, WEBHOOK_URL, GatewayFactory, TelegramGateway
from tests.fakes.telegram_api import FakeTelegramApi, callback_update, text_update

pytestmark = pytest.mark.asyncio

PATH = "/telegram/webhook"


async def post(gw: TelegramGateway, body: object, secret: str | None = SECRET, raw: bytes | None = None) -> tuple:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = raw if raw is not None else json.dumps(body).encode()
    resp = await gw.client.post(PATH, data=data, headers=headers)
    return resp.status, await resp.json()


async def test_webhook_mode_registers_the_webhook_with_its_secret_and_does_not_poll(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi
) -> None:
    await start_gateway("webhook")
    assert telegram_api.methods(ignore=()) == ["getMe", "setWebhook"]
    assert telegram_api.calls_to("setWebhook") == [
        {
            "url": WEBHOOK_URL,
            "secret_token": SECRET,
            "allowed_updates": ["message", "edited_message", "callback_query"],
        }
    ]


async def test_correct_missing_and_wrong_secret(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway("webhook")
    assert await post(gw, text_update("no secret", update_id=1), secret=None) == (
        401,
        {"error": f"the {SECRET_HEADER} header is required", "code": "missing_secret"},
    )
    status, body = await post(gw, text_update("forged", update_id=2), secret="s3cret-webhook-token-0123456788")
    assert (status, body["code"]) == (403, "wrong_secret")
    status, _ = await post(gw, text_update("forged", update_id=3), secret="")
    assert status == 403
    status, _ = await post(gw, text_update("forged", update_id=4), secret="ünïcode")
    assert status == 403

    assert await post(gw, text_update("where is my order?", update_id=5)) == (200, {"ok": True})
    [sent] = await telegram_api.wait_for("sendMessage")
    assert sent == {"chat_id": 4242, "text": "echo: where is my order?"}
    await asyncio.sleep(0.1)
    assert fake_rasa.received == [
        {"sender": "telegram:4242", "message": "where is my order?", "metadata": {"channel": "telegram"}}
    ]
    assert (gw.counts["telegram.webhook_unauthorized"], gw.counts["telegram.webhook_forbidden"]) == (1, 3)
    assert gw.counts["telegram.updates"] == 1


async def test_malformed_and_foreign_bodies_get_400_and_the_gateway_keeps_serving(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway("webhook")
    status, body = await post(gw, None, raw=b'{"update_id": 7, "message": ')
    assert (status, body["code"]) == (400, "invalid_json")
    status, body = await post(gw, None, raw=b"\xff\xfe\x00binary")
    assert (status, body["code"]) == (400, "invalid_json")
    for not_an_update in ([1, 2], {"message": {"text": "no id"}}, {"update_id": "7"}, {"update_id": True}):
        status, body = await post(gw, not_an_update)
        assert (status, body["code"]) == (400, "not_an_update"), not_an_update
    status, body = await post(gw, None, raw=b'{"update_id": 1, "x": "' + b"a" * (1024 * 1024) + b'"}')
    assert (status, body["code"]) == (413, "body_too_large")

    assert (await post(gw, text_update("ok now", update_id=8)))[0] == 200
    await telegram_api.wait_for("sendMessage")
    assert [b["message"] for b in fake_rasa.received] == ["ok now"]
    assert gw.counts["telegram.webhook_bad_request"] == 7


async def test_a_retried_webhook_delivery_is_processed_once(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway("webhook")
    update = text_update("hello", update_id=42)
    assert (await post(gw, update))[0] == 200
    assert (await post(gw, update))[0] == 200  # Telegram retries when it did not see our 200
    assert (await post(gw, text_update("next", update_id=43)))[0] == 200
    await telegram_api.wait_for("sendMessage", 2)
    await asyncio.sleep(0.1)
    assert [b["message"] for b in fake_rasa.received] == ["hello", "next"]
    assert gw.counts["telegram.duplicates"] == 1


async def test_a_button_press_through_the_webhook(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    gw = await start_gateway("webhook")
    keyboard = [[{"text": "Yes", "callback_data": "/affirm"}]]
    await offer(gw.channel.dispatcher, "telegram:4242", "/affirm")  # the reply that showed this keyboard
    assert (await post(gw, callback_update("/affirm", query_id="q9", keyboard=keyboard, update_id=50)))[0] == 200
    await telegram_api.wait_for("sendMessage")
    assert telegram_api.calls_to("answerCallbackQuery") == [{"callback_query_id": "q9"}]
    assert fake_rasa.received[0]["message"] == "/affirm"
    assert gw.counts["telegram.buttons"] == 1


async def test_webhook_before_the_bot_is_up_asks_telegram_to_retry(
    start_gateway: GatewayFactory, telegram_api: FakeTelegramApi, fake_rasa: FakeRasa
) -> None:
    telegram_api.fail("getMe", 502, "Bad Gateway", times=1000)
    gw = await start_gateway("webhook", wait_ready=False)
    status, body = await post(gw, text_update("too early", update_id=60))
    assert (status, body["code"]) == (503, "not_ready")
    assert fake_rasa.received == []


async def test_polling_mode_has_no_webhook_route(start_gateway: GatewayFactory) -> None:
    gw = await start_gateway()
    resp = await gw.client.post(PATH, json=text_update("hi", update_id=70), headers={SECRET_HEADER: SECRET})
    assert resp.status == 404
