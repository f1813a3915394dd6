"""The gateway's "never silent" guard: an empty turn from rasa reaches the customer as an apology."""

from __future__ import annotations

import logging

import pytest

from connectors.dispatch import Dispatcher, empty_turn_apology, is_empty_turn_apology
from connectors.models import InboundMessage
from connectors.rasa_client import RasaClient
from tests.connectors.gateway_fakes import TOKEN, FakeRasa

SECRET_TEXT = "my card 4111 1111 1111 1111 never arrived"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "replies",
    [
        [],
        [{"recipient_id": "web:abcdefgh", "text": ""}],
        [{"recipient_id": "web:abcdefgh", "text": "   "}],
        # a staff-only payload alone is nothing the customer sees
        [{"recipient_id": "web:abcdefgh", "custom": {"type": "handoff", "ticket": "HO-000001", "reason": "x"}}],
        [{"recipient_id": "web:abcdefgh", "custom": {"type": "something_new"}}],
    ],
)
async def test_an_empty_turn_becomes_an_apology_counted_and_logged_without_text(
    fake_rasa: FakeRasa, replies: list, caplog: pytest.LogCaptureFixture
) -> None:
    fake_rasa.replies = replies
    client = RasaClient(fake_rasa.url, TOKEN, 2.0)
    dispatcher = Dispatcher(client)
    try:
        with caplog.at_level(logging.WARNING, logger="connectors.dispatch"):
            inbound = InboundMessage("web", "abcdefgh", text=SECRET_TEXT)
            out = await dispatcher.dispatch(inbound)
    finally:
        await client.close()
    # the one apology of connectors.dispatch, with the way to a person, whatever kind of nothing rasa sent
    assert [m for m in out if m.text and m.text.strip()] == [empty_turn_apology(inbound)]
    assert not any(m.custom and m.custom.get("type") == "handoff" for m in out)
    assert dispatcher.counts["web.silent_turn"] == 1
    assert fake_rasa.received[0]["message"] == SECRET_TEXT  # it did reach rasa
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "answered nothing" in logged
    assert "4111" not in logged and "abcdefgh" not in logged


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "reply",
    [
        {"text": "Hello!"},
        {"buttons": [{"title": "Yes", "payload": "/affirm"}]},
        {"image": "https://shop.example/p.png"},
        {"custom": {"type": "product_cards", "products": []}},
        # the tablet channel turns a staff call into "someone is coming" after the dispatcher
        {"custom": {"type": "staff_call", "store_id": "LDN-01", "ticket": "HO-000002", "summary": "s"}},
    ],
)
async def test_answers_pass_untouched(fake_rasa: FakeRasa, reply: dict) -> None:
    fake_rasa.replies = [{"recipient_id": "web:abcdefgh", **reply}]
    client = RasaClient(fake_rasa.url, TOKEN, 2.0)
    dispatcher = Dispatcher(client)
    try:
        out = await dispatcher.dispatch(InboundMessage("web", "abcdefgh", text="hi"))
    finally:
        await client.close()
    assert len(out) == 1 and not is_empty_turn_apology(out[0].text)
    assert dispatcher.counts["web.silent_turn"] == 0
