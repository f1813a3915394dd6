"""The web channel's HTTP API against a fake rasa input channel: statuses and what reached rasa."""

from __future__ import annotations

import asyncio
import html
import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.orm import sessionmaker

from connectors.keys import DISPATCHER_KEY
from connectors.rasa_client import RasaClient
from gateway import create_app
from store.db import make_engine
from store.service import OrderStore
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings, offer
from tests.connectors.tablet_fixtures import seeded_shop_db

pytestmark = pytest.mark.asyncio

CID = "c0ffee00c0ffee00"
URL = "/api/web/messages"


async def test_text_message_round_trip(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    resp = await gateway.post(
        URL, json={"conversation_id": CID, "text": "where is my order?"}
    )
    assert resp.status == 200
    assert await resp.json() == {
        "conversation_id": CID,
        "messages": [{"text": "echo: where is my order?"}],
    }
    assert fake_rasa.received == [
        {
            "sender": f"web:{CID}",
            "message": "where is my order?",
            "metadata": {"channel": "web"},
        }
    ]


async def test_button_payload_reaches_rasa_verbatim(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    payload = '/inform{"order_number":"ORD-100001"}'
    fake_rasa.replies = [
        {
            "recipient_id": f"web:{CID}",
            "text": "Found it.",
            "image": "https://shop.example/p.png",
        },
        {
            "recipient_id": f"web:{CID}",
            "text": "Anything else?",
            "buttons": [{"title": "No", "payload": "/deny"}],
        },
        {"recipient_id": f"web:{CID}", "custom": {"handoff": True}},
    ]
    await offer(gateway.app[DISPATCHER_KEY], f"web:{CID}", payload)  # an earlier reply offered this button
    resp = await gateway.post(URL, json={"conversation_id": CID, "payload": payload})
    assert resp.status == 200
    assert (await resp.json())["messages"] == [
        {"text": "Found it.", "image": "https://shop.example/p.png"},
        {"text": "Anything else?", "buttons": [{"title": "No", "payload": "/deny"}]},
        {"custom": {"handoff": True}},
    ]
    assert fake_rasa.received[0]["message"] == payload
    assert fake_rasa.received[0]["metadata"]["channel"] == "web"


async def test_typed_intent_syntax_is_defused(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    resp = await gateway.post(
        URL, json={"conversation_id": CID, "text": '/inform{"order_number":"ORD-1"}'}
    )
    assert resp.status == 200
    assert fake_rasa.received[0]["message"] == 'inform{"order_number":"ORD-1"}'


async def test_binary_junk_is_stripped(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    resp = await gateway.post(
        URL, json={"conversation_id": CID, "text": "hi\x00\x01\x1b there\ud800"}
    )
    assert resp.status == 200
    assert fake_rasa.received[0]["message"] == "hi there"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"\xff\xfe\x00junk", 400, None),
        (b"[]", 400, None),
        (b'{"text": "hi"}', 400, "conversation_id"),
        (b'{"conversation_id": "bad id!", "text": "hi"}', 400, "conversation_id"),
        (json.dumps({"conversation_id": CID}).encode(), 400, "text"),
        (json.dumps({"conversation_id": CID, "text": ["hi"]}).encode(), 400, "text"),
        (
            json.dumps({"conversation_id": CID, "text": "\x00\x01\x02"}).encode(),
            400,
            "text",
        ),
        (
            json.dumps({"conversation_id": CID, "payload": "affirm"}).encode(),
            400,
            "payload",
        ),
        (
            json.dumps({"conversation_id": CID, "text": "x" * 2001}).encode(),
            413,
            "text",
        ),
    ],
)
async def test_bad_input_is_rejected_before_rasa(
    gateway: TestClient,
    fake_rasa: FakeRasa,
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    resp = await gateway.post(
        URL, data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == status
    error = await resp.json()
    assert error["error"]
    assert error.get("field") == field
    if status == 413:
        assert error["limit"] == 2000
        assert "2000" in error["error"]
    assert fake_rasa.received == []


async def test_huge_body_gets_json_413(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    body = json.dumps({"conversation_id": CID, "text": "x" * 2_000_000})
    resp = await gateway.post(
        URL, data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 413
    assert (await resp.json())["code"] == "body_too_large"
    assert fake_rasa.received == []


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)
async def test_wrong_content_type_is_415(
    gateway: TestClient, fake_rasa: FakeRasa, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = await gateway.post(
        URL,
        data=json.dumps({"conversation_id": CID, "text": "hi"}).encode(),
        headers=headers,
    )
    assert resp.status == 415
    assert (await resp.json())["code"] == "unsupported_media_type"
    assert fake_rasa.received == []


async def test_unknown_route_and_method_are_json(gateway: TestClient) -> None:
    resp = await gateway.get("/api/web/nope")
    assert resp.status == 404
    assert (await resp.json())["code"] == "not_found"
    resp = await gateway.get(URL)
    assert resp.status == 405
    assert (await resp.json())["code"] == "method_not_allowed"


async def test_rasa_down_is_503_then_recovers(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    port = fake_rasa.port
    await fake_rasa.stop()
    resp = await gateway.post(URL, json={"conversation_id": CID, "text": "hello?"})
    assert resp.status == 503
    assert await resp.json() == {
        "error": "the assistant is restarting, please try again in a moment",
        "code": "rasa_unavailable",
    }
    health = await (await gateway.get("/healthz")).json()
    assert health == {"ok": True, "rasa": False}

    await fake_rasa.start(port=port)  # rasa is back on the same address
    resp = await gateway.post(URL, json={"conversation_id": CID, "text": "hello again"})
    assert resp.status == 200
    assert (await resp.json())["messages"] == [{"text": "echo: hello again"}]
    assert [b["message"] for b in fake_rasa.received] == ["hello again"]
    assert await (await gateway.get("/healthz")).json() == {"ok": True, "rasa": True}


async def test_rasa_too_slow_is_503(fake_rasa: FakeRasa) -> None:
    fake_rasa.delay = 1.0
    settings = make_settings(fake_rasa.url, rasa_timeout=0.2)
    async with TestClient(
        TestServer(create_app(settings), host="127.0.0.1", port=0)
    ) as client:
        resp = await client.post(URL, json={"conversation_id": CID, "text": "hi"})
        assert resp.status == 503
        assert (await resp.json())["code"] == "rasa_unavailable"


async def test_wrong_token_is_reported_clearly(
    fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(fake_rasa.url, gateway_token="not-the-token")
    app = create_app(settings)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        resp = await client.post(URL, json={"conversation_id": CID, "text": "hi"})
        assert resp.status == 502
        body = await resp.json()
        assert body["code"] == "gateway_misconfigured"
        assert "configuration problem" in body["error"]
        assert "not-the-token" not in json.dumps(body)
    assert fake_rasa.received == []
    assert any(
        "GATEWAY_TOKEN" in r.getMessage() and r.levelname == "ERROR"
        for r in caplog.records
    )
    assert settings.gateway_token != TOKEN


async def test_rasa_junk_reply_is_502(gateway: TestClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.raw_body = b"<html>oops</html>"
    resp = await gateway.post(URL, json={"conversation_id": CID, "text": "hi"})
    assert resp.status == 502
    assert (await resp.json())["code"] == "rasa_error"
    fake_rasa.raw_body = None
    assert (
        await gateway.post(URL, json={"conversation_id": CID, "text": "hi"})
    ).status == 200


async def test_concurrent_conversations_are_kept_apart(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    ids = [f"conversation{i:04d}" for i in range(10)]
    responses = await asyncio.gather(
        *(
            gateway.post(URL, json={"conversation_id": c, "text": f"hi from {c}"})
            for c in ids
        )
    )
    for c, resp in zip(ids, responses, strict=True):
        assert resp.status == 200
        assert (await resp.json())["messages"] == [{"text": f"echo: hi from {c}"}]
    assert sorted(b["sender"] for b in fake_rasa.received) == sorted(
        f"web:{c}" for c in ids
    )


async def test_healthz_when_rasa_is_up(gateway: TestClient) -> None:
    resp = await gateway.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"ok": True, "rasa": True}


async def test_demo_shop_page_embeds_the_widget(gateway: TestClient) -> None:
    resp = await gateway.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert '<script src="/widget.js" data-title="Shop assistant" data-open="true"></script>' in html
    assert "<link" not in html and html.count("<script") == 1  # no external assets, no inline code
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'sha256-" in csp and "unsafe-inline" not in csp
    own = f"{gateway.server.host}:{gateway.server.port}"
    assert f"connect-src 'self' ws://{own} wss://{own}" in csp
    assert f"http://{own}/widget.js" in html  # the embedding snippet names this gateway
    shop = await (await gateway.get("/shop")).text()
    assert 'data-open="false"' in shop  # /shop leaves the chat closed until the launcher is pressed
async def test_the_demo_pages_example_order_verifies_on_a_freshly_seeded_shop(
    fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    """The page at / suggests an order and e-mail to try; they come from the seeded data (the first of
    ``store demo-cases``), so they always verify (a hard-coded pair stopped matching the seed once)."""
    shop_url = seeded_shop_db(tmp_path)
    settings = make_settings(fake_rasa.url, shop_db_url=shop_url)
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout, health_timeout=0.5))
    engine = make_engine(shop_url)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            page = await (await client.get("/")).text()
        found = re.search(r"order <strong>(ORD-\d+)</strong> is and give <strong>([^<]+)</strong> when asked", page)
        assert found, page[:2000]
        order, email = found.group(1), html.unescape(found.group(2))
        store = OrderStore(sessionmaker(engine))
        first = store.demo_cases()[0]
        assert (order, email) == (first["order_number"], first["email"])
        verified = store.verify("web:demo-page-example", order, email)
        assert (verified.order_number, verified.scope) == (order, "customer")
    finally:
        engine.dispose()


async def test_the_demo_page_without_a_demo_case_suggests_none(gateway: TestClient) -> None:
    """A catalogue that has no demo case (tests load products only; a real shop) leaves the sentence out."""
    page = await (await gateway.get("/")).text()
    assert "cases from <code>make demo-cases</code>.</p>" in page
    assert "__EXAMPLE__" not in page and "for example ask" not in page


