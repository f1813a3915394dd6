"""Red-team findings F5, F9, F11 and F12 from outside: HTTP against the real gateway app, rasa faked.

F5: a burst of concurrent messages never puts more than ``GATEWAY_MAX_IN_FLIGHT`` turns on rasa; the rest wait
briefly or are told at once that the assistant is busy (503 ``busy`` with ``Retry-After``), messages whose
client left are never sent, and the next customer is answered at once after the burst. F9: a button payload
reaches rasa only if the assistant offered exactly that payload in this conversation; text never starts
with ``/``. F11: the gateway's own origin comes from ``GATEWAY_PUBLIC_URL`` (whole origin), never from the Host
header; other host names get 421. F12: fingerprints of sources are keyed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.admission import AdmissionSettings
from connectors.rasa_client import RasaClient
from connectors.web import WebChannel
from connectors.web.settings import WebSettings
from console.checks import shown_source
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

ASK_CANCEL = [
    {
        "text": "Shall I cancel order ORD-100270?",
        "buttons": [{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
    }
]


class CountingRasa(FakeRasa):
    """The fake rasa, also recording how many turns it had at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = 0
        self.most = 0

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().webhook(request)
        finally:
            self.now -= 1


@pytest_asyncio.fixture
async def rasa() -> AsyncIterator[CountingRasa]:
    fake = CountingRasa()
    await fake.start()
    yield fake
    await fake.stop()


async def _gateway(rasa: FakeRasa, **overrides: Any) -> TestServer:
    settings = make_settings(rasa.url, rasa_timeout=10.0, **overrides)
    client = RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout)
    channel = WebChannel(
        settings=WebSettings(rate_per_address=10_000, rate_per_conversation=10_000),
        public_urls=settings.public_urls,
    )
    server = TestServer(create_app(settings, client, [channel]), host="127.0.0.1", port=0)
    await server.start_server()
    return server


async def _post(session: aiohttp.ClientSession, server: TestServer, body: dict[str, Any], **kw: Any):
    url = f"http://127.0.0.1:{server.port}/api/web/messages"
    async with session.post(url, json=body, **kw) as resp:
        return resp.status, dict(resp.headers), await resp.json()


# ------------------------------------------------------------------------------------------------------ F5


async def test_a_burst_never_floods_rasa_and_the_next_customer_is_answered(rasa: CountingRasa) -> None:
    rasa.delay = 0.3
    server = await _gateway(
        rasa, admission=AdmissionSettings(max_in_flight=2, max_waiting=6, wait_seconds=2.0)
    )
    try:
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            burst = [
                _post(session, server, {"conversation_id": uuid.uuid4().hex, "text": "x" * 2000}) for _ in range(60)
            ]
            results = await asyncio.gather(*burst)
            took = time.monotonic() - started
            statuses = [status for status, _h, _b in results]
            busy = [(h, b) for status, h, b in results if status == 503]
            assert rasa.most <= 2  # never more than the bound with rasa at once
            assert statuses.count(200) >= 2 and len(busy) >= 40
            assert all(b["code"] == "busy" and 1 <= int(h["Retry-After"]) <= 60 for h, b in busy)
            assert all("again in a moment" in b["error"] for _h, b in busy)
            assert took < 5  # told at once, not after the gateway's rasa timeout
            assert len(rasa.received) == statuses.count(200)  # a refused message never reached rasa
            # the burst is over: the next customer is answered at once
            rasa.delay = 0
            probe_started = time.monotonic()
            status, _h, body = await _post(session, server, {"conversation_id": uuid.uuid4().hex, "text": "hi"})
            assert status == 200 and body["messages"][0]["text"] == "echo: hi"
            assert time.monotonic() - probe_started < 1
    finally:
        await server.close()


async def test_messages_whose_client_left_are_never_sent_to_rasa(rasa: CountingRasa) -> None:
    rasa.delay = 1.0
    server = await _gateway(rasa, admission=AdmissionSettings(max_in_flight=1, max_waiting=50, wait_seconds=30))
    try:
        async with aiohttp.ClientSession() as session:
            first = asyncio.ensure_future(_post(session, server, {"conversation_id": uuid.uuid4().hex, "text": "a"}))
            await asyncio.sleep(0.2)
            impatient = [
                _post(
                    session,
                    server,
                    {"conversation_id": uuid.uuid4().hex, "text": f"gone {i}"},
                    timeout=aiohttp.ClientTimeout(total=0.3),
                )
                for i in range(5)
            ]
            gone = await asyncio.gather(*impatient, return_exceptions=True)
            assert all(isinstance(g, asyncio.TimeoutError) for g in gone)
            assert (await first)[0] == 200
            rasa.delay = 0
            status, _h, _b = await _post(session, server, {"conversation_id": uuid.uuid4().hex, "text": "next"})
            assert status == 200
        assert [b["message"] for b in rasa.received] == ["a", "next"]
    finally:
        await server.close()


async def test_one_conversation_sends_one_message_at_a_time(rasa: CountingRasa) -> None:
    rasa.delay = 0.3
    server = await _gateway(rasa, admission=AdmissionSettings(max_in_flight=4, max_waiting=50, wait_seconds=5))
    try:
        conversation = uuid.uuid4().hex
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(
                *(_post(session, server, {"conversation_id": conversation, "text": f"m{i}"}) for i in range(3))
            )
        assert [r[0] for r in results] == [200, 200, 200]
        assert rasa.most == 1
    finally:
        await server.close()


# ------------------------------------------------------------------------------------------------------ F9


async def test_only_payloads_the_assistant_offered_reach_rasa(rasa: CountingRasa) -> None:
    rasa.replies = lambda body: ASK_CANCEL if body["message"] == "cancel my order" else []
    server = await _gateway(rasa)
    conversation = uuid.uuid4().hex
    try:
        async with aiohttp.ClientSession() as session:

            async def send(**body: Any) -> int:
                status, _h, _b = await _post(session, server, {"conversation_id": conversation, **body})
                return status

            assert await send(text="cancel my order") == 200
            # the finding: the yes button with another order's number in it
            forged = '/affirm{"order_number": "ORD-100275"}'
            assert await send(payload=forged, title="Yes, cancel it") == 200
            assert await send(text="cancel my order") == 200
            assert await send(payload=forged) == 400  # no title to read instead: refused, nothing sent
            assert await send(payload="/affirm", title="Yes, cancel it") == 200  # offered: passes as is
            assert await send(payload='/deny{"order_number": "ORD-100275"}', title="No, keep it") == 200
            assert await send(text='/affirm{"order_number": "ORD-100275"}') == 200  # typed: plain text
            assert await send(text=' / /restart') == 200
        messages = [b["message"] for b in rasa.received]
        assert messages == [
            "cancel my order",
            "Yes, cancel it",
            "cancel my order",
            "/affirm",
            "No, keep it",
            'affirm{"order_number": "ORD-100275"}',
            "restart",
        ]
        assert not any(m.startswith("/") and m != "/affirm" for m in messages)
    finally:
        await server.close()


# ----------------------------------------------------------------------------------------------------- F11


@pytest.mark.parametrize(
    ("public_url", "host", "origin", "expected"),
    [
        ("", "evil.example:{port}", "http://evil.example:{port}", 421),  # the finding: DNS rebinding
        ("", "127.0.0.1:{port}", "https://127.0.0.1:{port}", 403),  # wrong scheme
        ("", "127.0.0.1:{port}", "http://127.0.0.1:{port}", 200),
        ("", "localhost:{port}", "http://localhost:{port}", 200),
        ("https://chat.shop.example", "chat.shop.example", "https://chat.shop.example", 200),
        ("https://chat.shop.example", "chat.shop.example", "http://chat.shop.example", 403),
        ("https://chat.shop.example", "chat.shop.example:8443", "https://chat.shop.example:8443", 421),
        ("https://chat.shop.example", "evil.example", "https://evil.example", 421),
    ],
)
async def test_the_gateways_own_origin_is_configured_not_taken_from_host(
    rasa: CountingRasa, public_url: str, host: str, origin: str, expected: int
) -> None:
    server = await _gateway(rasa, public_urls=(public_url,) if public_url else ())
    host, origin = host.format(port=server.port), origin.format(port=server.port)
    try:
        async with aiohttp.ClientSession() as session:
            status, headers, _body = await _post(
                session,
                server,
                {"conversation_id": uuid.uuid4().hex, "text": "hi"},
                headers={"Host": host, "Origin": origin},
            )
            assert status == expected
            assert (headers.get("Access-Control-Allow-Origin") == origin) == (expected == 200)
            url = f"http://127.0.0.1:{server.port}/api/web/messages"
            async with session.options(
                url, headers={"Host": host, "Origin": origin, "Access-Control-Request-Method": "POST"}
            ) as preflight:
                assert preflight.headers.get("Access-Control-Allow-Origin") in (None, "null") or expected == 200
            ws_url = f"http://127.0.0.1:{server.port}/api/web/ws?conversation_id={uuid.uuid4().hex}"
            if expected == 200:
                async with session.ws_connect(ws_url, headers={"Host": host, "Origin": origin}) as ws:
                    assert not ws.closed
            else:
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(ws_url, headers={"Host": host, "Origin": origin})
                assert refused.value.status == expected
        assert len(rasa.received) == (1 if expected == 200 else 0)
    finally:
        await server.close()


async def test_health_and_signed_webhooks_answer_any_host(rasa: CountingRasa) -> None:
    server = await _gateway(rasa)
    try:
        async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{server.port}/healthz", headers={"Host": "10.0.0.5:8000"}
        ) as resp:
            assert resp.status == 200
    finally:
        await server.close()


# ----------------------------------------------------------------------------------------------------- F12


def test_source_fingerprints_are_keyed() -> None:
    key = "web:ip:127.0.0.50"
    shown = shown_source(key, raw=False, secret="one-secret")
    assert shown.startswith("web:ip:#")
    assert hashlib.sha256(key.encode()).hexdigest()[:10] not in shown  # the finding's offline reversal
    assert shown == shown_source(key, raw=False, secret="one-secret")  # stable: one attacker stays one
    assert shown != shown_source(key, raw=False, secret="another-secret")
    assert shown_source(key, raw=True, secret="one-secret") == key  # admins see it as recorded
