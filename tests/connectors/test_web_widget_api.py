"""The widget's API against a fake rasa: transcript history, resend dedupe, rate limits, CORS and widget.js."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from connectors.errors import SettingsError
from connectors.rasa_client import RasaClient
from connectors.source import parse_trusted_proxies
from connectors.web import WebChannel
from connectors.web.ratelimit import SlidingWindowLimiter
from connectors.web.settings import WebSettings
from connectors.web.translate import WebLimits
from gateway import create_app, main
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

CID = "widget-conversation-0001"
URL = "/api/web/messages"
WS = f"/api/web/ws?conversation_id={CID}"
SHOP = "https://shop.example"


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def widget_gateway(
    fake_rasa: FakeRasa, clock: Callable[[], float] | None = None, **web: Any
) -> AsyncIterator[tuple[TestClient, WebChannel]]:
    """A gateway whose web channel has the given WebSettings, allowing SHOP as a foreign origin."""
    settings = make_settings(fake_rasa.url, allowed_origins=(SHOP,))
    channel = WebChannel(
        WebLimits(max_message_chars=2000),
        allowed_origins=settings.allowed_origins,
        settings=WebSettings(**web),
        **({"clock": clock} if clock else {}),
    )
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5), channels=[channel])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client, channel


def said(fake_rasa: FakeRasa) -> list[str]:
    return [b["message"] for b in fake_rasa.received]


async def test_history_after_reconnect(fake_rasa: FakeRasa) -> None:
    fake_rasa.replies = lambda body: [
        {"text": f"echo: {body['message']}"},
        {"buttons": [{"title": "Yes", "payload": "/affirm"}]},
    ]
    async with widget_gateway(fake_rasa, history_limit=100) as (client, _):
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"text": "where is my order", "client_message_id": "msg-000001"})
            assert await ws.receive_json() == {"type": "typing", "client_message_id": "msg-000001"}
            assert (await ws.receive_json())["replayed"] is False
            await ws.send_json({"payload": "/affirm", "title": "Yes", "client_message_id": "msg-000002"})
            await ws.receive_json()
            await ws.receive_json()
        async with client.ws_connect(WS) as ws:  # a reload: new socket, same conversation
            await ws.send_json({"type": "history"})
            frame = await ws.receive_json()
    assert frame["type"] == "history" and frame["truncated"] is False
    stamps = [datetime.fromisoformat(e["at"]) for e in frame["entries"]]  # when each was stored, UTC
    assert stamps == sorted(stamps) and all(s.utcoffset() == timedelta(0) for s in stamps)
    entries = [{k: v for k, v in e.items() if k not in ("id", "at")} for e in frame["entries"]]
    assert entries == [
        {"role": "user", "text": "where is my order", "client_message_id": "msg-000001", "status": "answered"},
        {"role": "bot", "reply_to": "msg-000001", "message": {"text": "echo: where is my order"}},
        {"role": "bot", "reply_to": "msg-000001", "message": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
        {"role": "user", "text": "Yes", "payload": "/affirm", "client_message_id": "msg-000002", "status": "answered"},
        {"role": "bot", "reply_to": "msg-000002", "message": {"text": "echo: /affirm"}},
        {"role": "bot", "reply_to": "msg-000002", "message": {"buttons": [{"title": "Yes", "payload": "/affirm"}]}},
    ]
    ids = [e["id"] for e in frame["entries"]]
    assert ids == sorted(ids)


async def test_history_over_http_is_capped_and_per_conversation(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa, history_limit=5) as (client, _):
        for i in range(4):
            resp = await client.post(URL, json={"conversation_id": CID, "text": f"m{i}"})
            assert resp.status == 200
        await client.post(URL, json={"conversation_id": "someone-else-0001", "text": "private"})
        resp = await client.get(f"/api/web/history?conversation_id={CID}")
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
        assert body["truncated"] is True
        texts = [e.get("text") or e["message"]["text"] for e in body["entries"]]
        assert texts == ["echo: m1", "m2", "echo: m2", "m3", "echo: m3"]  # the newest 5 of 8, oldest first
        assert "private" not in json.dumps(body)
        resp = await client.get("/api/web/history?conversation_id=bad")
        assert resp.status == 400 and (await resp.json())["field"] == "conversation_id"
        empty = await (await client.get("/api/web/history?conversation_id=never-used-0001")).json()
        assert empty["entries"] == [] and empty["truncated"] is False


async def test_resend_is_answered_from_the_transcript(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa) as (client, channel):
        body = {"conversation_id": CID, "text": "hello", "client_message_id": "msg-000001"}
        first = await client.post(URL, json=body)
        again = await client.post(URL, json=body)
        assert first.status == again.status == 200
        assert (await first.json())["replayed"] is False
        replay = await again.json()
        assert replay == {
            "conversation_id": CID,
            "messages": [{"text": "echo: hello"}],
            "client_message_id": "msg-000001",
            "replayed": True,
        }
        async with client.ws_connect(WS) as ws:  # the same id over the socket is a replay too
            await ws.send_json({"text": "hello", "client_message_id": "msg-000001"})
            await ws.receive_json()
            assert await ws.receive_json() == {
                "type": "bot",
                "messages": [{"text": "echo: hello"}],
                "client_message_id": "msg-000001",
                "replayed": True,
            }
        assert said(fake_rasa) == ["hello"]
        assert channel.transcript.count(CID) == 2
        assert channel.dispatcher.counts["web.replayed"] == 2


async def test_resend_while_rasa_is_still_answering_waits_and_replays(fake_rasa: FakeRasa) -> None:
    fake_rasa.delay = 0.6
    async with widget_gateway(fake_rasa) as (client, channel):
        ws = await client.ws_connect(WS)
        await ws.send_json({"text": "slow one", "client_message_id": "msg-000001"})
        assert (await ws.receive_json())["type"] == "typing"
        # the network drops before the answer (no close handshake); the widget reconnects and resends
        ws.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        await ws.close()
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"text": "slow one", "client_message_id": "msg-000001"})
            assert (await ws.receive_json())["type"] == "typing"
            frame = await ws.receive_json()
        assert frame == {
            "type": "bot",
            "messages": [{"text": "echo: slow one"}],
            "client_message_id": "msg-000001",
            "replayed": True,
        }
        assert said(fake_rasa) == ["slow one"]
        assert channel.transcript.count(CID) == 2


async def test_failed_message_is_retried_on_resend(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa) as (client, _):
        fake_rasa.status = 503
        body = {"conversation_id": CID, "text": "are you there", "client_message_id": "msg-000001"}
        resp = await client.post(URL, json=body)
        assert resp.status == 503
        history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        assert [e["status"] for e in history["entries"]] == ["failed"]
        fake_rasa.status = 200
        resp = await client.post(URL, json=body)
        assert resp.status == 200
        assert (await resp.json())["replayed"] is False
        history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        assert [e.get("status") for e in history["entries"]] == ["answered", None]
        assert said(fake_rasa) == ["are you there", "are you there"]


async def test_rate_limit_per_conversation(fake_rasa: FakeRasa) -> None:
    clock = FakeClock()
    async with widget_gateway(fake_rasa, clock, rate_per_conversation=3, rate_window=60) as (client, channel):
        for i in range(3):
            assert (await client.post(URL, json={"conversation_id": CID, "text": f"m{i}"})).status == 200
        clock.now += 10
        resp = await client.post(URL, json={"conversation_id": CID, "text": "one too many"})
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "50"
        assert await resp.json() == {
            "error": "You're sending messages faster than the assistant can answer. "
            "Please wait 50 seconds and try again.",
            "code": "rate_limited",
            "retry_after": 50,
        }
        other = await client.post(URL, json={"conversation_id": "another-conversation", "text": "hi"})
        assert other.status == 200  # the limit is per conversation
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"text": "over the socket", "client_message_id": "msg-000009"})
            await ws.receive_json()
            frame = await ws.receive_json()
            assert frame["type"] == "error" and frame["code"] == "rate_limited"
            assert frame["client_message_id"] == "msg-000009" and frame["retry_after"] == 50
            clock.now += 50  # the oldest message leaves the window: the socket is still usable
            await ws.send_json({"text": "now?", "client_message_id": "msg-000010"})
            await ws.receive_json()
            assert (await ws.receive_json())["messages"] == [{"text": "echo: now?"}]
        assert said(fake_rasa) == ["m0", "m1", "m2", "hi", "now?"]
        history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        assert "one too many" not in json.dumps(history)  # refused messages are not in the transcript
        assert channel.dispatcher.counts["web.rate_limited"] == 2


async def test_rate_limit_per_address(fake_rasa: FakeRasa) -> None:
    clock = FakeClock()
    async with widget_gateway(fake_rasa, clock, rate_per_address=3) as (client, _):
        first = {"conversation_id": "conversation-0000", "text": "hi", "client_message_id": "msg-000001"}
        assert (await client.post(URL, json=first)).status == 200
        for i in (1, 2):
            resp = await client.post(URL, json={"conversation_id": f"conversation-{i:04d}", "text": "hi"})
            assert resp.status == 200
        resp = await client.post(URL, json={"conversation_id": "conversation-0099", "text": "hi"})
        assert resp.status == 429
        assert (await resp.json())["code"] == "rate_limited"
        # a resend of an answered message is replayed: it neither reaches rasa nor counts against the limit
        replay = await client.post(URL, json=first)
        assert replay.status == 200 and (await replay.json())["replayed"] is True
        assert len(fake_rasa.received) == 3
        clock.now += 61
        resp = await client.post(URL, json={"conversation_id": "conversation-0099", "text": "hi"})
        assert resp.status == 200


async def test_forwarded_for_is_the_address_only_from_a_trusted_proxy(fake_rasa: FakeRasa) -> None:
    # The test client connects from 127.0.0.1: the proxy when it is listed, a client like any other when not.
    for proxies, expected in (("127.0.0.1", [200, 200, 429]), ("", [200, 429, 429]), ("10.0.0.0/8", [200, 429, 429])):
        fake_rasa.received.clear()
        trusted = parse_trusted_proxies(proxies)
        async with widget_gateway(fake_rasa, FakeClock(), rate_per_address=1, trusted_proxies=trusted) as (
            client,
            _,
        ):
            statuses = []
            for i, forwarded in enumerate(("203.0.113.1", "203.0.113.2", "203.0.113.2")):
                resp = await client.post(
                    URL,
                    json={"conversation_id": f"conversation-{i:04d}", "text": "hi"},
                    headers={"X-Forwarded-For": f"198.51.100.7, {forwarded}"},
                )
                statuses.append(resp.status)
            assert statuses == expected, proxies


async def test_cors_for_allowed_and_refused_origins(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa) as (client, _):
        preflight = await client.options(
            URL, headers={"Origin": SHOP, "Access-Control-Request-Method": "POST",
                          "Access-Control-Request-Headers": "content-type"}
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type"
        resp = await client.post(URL, json={"conversation_id": CID, "text": "hi"}, headers={"Origin": SHOP})
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == SHOP
        assert "Origin" in resp.headers["Vary"]
        bad = await client.post(URL, json={"conversation_id": CID, "text": "x" * 2001}, headers={"Origin": SHOP})
        assert bad.status == 413 and bad.headers["Access-Control-Allow-Origin"] == SHOP  # errors readable too
        history = await client.get(f"/api/web/history?conversation_id={CID}", headers={"Origin": SHOP})
        assert history.status == 200 and history.headers["Access-Control-Allow-Origin"] == SHOP
        async with client.ws_connect(WS, origin=SHOP) as ws:
            await ws.send_json({"type": "history"})
            assert (await ws.receive_json())["type"] == "history"

        evil = "https://evil.example"
        preflight = await client.options(URL, headers={"Origin": evil, "Access-Control-Request-Method": "POST"})
        assert preflight.status == 403
        assert "Access-Control-Allow-Origin" not in preflight.headers
        for resp in (
            await client.post(URL, json={"conversation_id": CID, "text": "steal"}, headers={"Origin": evil}),
            await client.get(f"/api/web/history?conversation_id={CID}", headers={"Origin": evil}),
        ):
            assert resp.status == 403
            assert "Access-Control-Allow-Origin" not in resp.headers
            body = await resp.json()
            assert body["code"] == "origin_not_allowed"
            assert "https://evil.example may not use this chat" in body["error"]
        assert said(fake_rasa) == ["hi"]


async def test_widget_script_is_served_with_type_and_cache_headers(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa) as (client, _):
        resp = await client.get("/widget.js")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/javascript; charset=utf-8"
        assert resp.headers["Cache-Control"] == "public, max-age=300"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        etag = resp.headers["ETag"]
        source = await resp.text()
        assert "var MAX = 2000;" in source
        assert f'var ALLOWED_ORIGINS = ["{SHOP}"];' in source
        assert "__MAX_CHARS__" not in source and "__ALLOWED_ORIGINS__" not in source
        assert "innerHTML" not in source and "eval(" not in source  # text is never parsed as HTML
        cached = await client.get("/widget.js", headers={"If-None-Match": etag})
        assert cached.status == 304 and cached.headers["ETag"] == etag
        assert await cached.read() == b""


async def test_invalid_client_fields_are_refused(fake_rasa: FakeRasa) -> None:
    async with widget_gateway(fake_rasa) as (client, _):
        for body, field in (
            ({"conversation_id": CID, "text": "hi", "client_message_id": "short"}, "client_message_id"),
            ({"conversation_id": CID, "text": "hi", "client_message_id": 12345678}, "client_message_id"),
            ({"conversation_id": CID, "text": "hi", "title": "Yes"}, "title"),
            ({"conversation_id": CID, "payload": "/affirm", "title": "y" * 2001}, "title"),
        ):
            resp = await client.post(URL, json=body)
            assert resp.status == 400, body
            assert (await resp.json())["field"] == field
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"type": "subscribe"})
            frame = await ws.receive_json()
            assert (frame["type"], frame["code"], frame["field"]) == ("error", "invalid_frame", "type")
            await ws.send_json({"text": "", "client_message_id": "msg-000001"})
            frame = await ws.receive_json()
            assert frame["client_message_id"] == "msg-000001" and frame["field"] == "text"
        assert fake_rasa.received == []


async def test_messages_of_one_conversation_are_answered_in_order(fake_rasa: FakeRasa) -> None:
    fake_rasa.delay = 0.05
    async with widget_gateway(fake_rasa) as (client, _):
        responses = await asyncio.gather(
            *(
                client.post(URL, json={"conversation_id": CID, "text": f"m{i}", "client_message_id": f"msg-00000{i}"})
                for i in range(5)
            )
        )
        assert [r.status for r in responses] == [200] * 5
        history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        users = [e["text"] for e in history["entries"] if e["role"] == "user"]
        assert sorted(users) == [f"m{i}" for i in range(5)]
        for i, entry in enumerate(history["entries"]):  # each answer directly follows its question
            if entry["role"] == "bot":
                assert history["entries"][i - 1]["client_message_id"] == entry["reply_to"]


def test_web_settings_from_env() -> None:
    assert WebSettings.from_env({}) == WebSettings(
        rate_per_conversation=20, rate_per_address=600, rate_window=60.0, history_limit=100
    )
    settings = WebSettings.from_env(
        {
            "GATEWAY_WEB_RATE_PER_CONVERSATION": "5",
            "GATEWAY_WEB_RATE_PER_ADDRESS": "50",
            "GATEWAY_WEB_RATE_WINDOW": "30",
            "GATEWAY_WEB_HISTORY_LIMIT": "20",
            "GATEWAY_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
        }
    )
    assert settings == WebSettings(
        rate_per_conversation=5,
        rate_per_address=50,
        rate_window=30.0,
        history_limit=20,
        trusted_proxies=parse_trusted_proxies("127.0.0.1,10.0.0.0/8"),
    )
    for name, value in (
        ("GATEWAY_WEB_RATE_PER_CONVERSATION", "0"),
        ("GATEWAY_WEB_RATE_PER_ADDRESS", "lots"),
        ("GATEWAY_WEB_HISTORY_LIMIT", "5000"),
        ("GATEWAY_TRUSTED_PROXIES", "my-proxy"),
        # the old switch believed anyone's X-Forwarded-For: refused with a pointer to the new setting
        ("GATEWAY_WEB_TRUST_FORWARDED_FOR", "yes"),
    ):
        with pytest.raises(SettingsError, match=name):
            WebSettings.from_env({name: value})


def test_sliding_window_limiter() -> None:
    limiter = SlidingWindowLimiter(2, 10.0)
    assert limiter.retry_after("a", 0.0) == 0.0
    limiter.record("a", 0.0)
    limiter.record("a", 4.0)
    assert limiter.retry_after("a", 5.0) == 5.0  # until the event at 0.0 leaves the window
    assert limiter.retry_after("b", 5.0) == 0.0
    assert limiter.retry_after("a", 10.0) == 0.0
    limiter.record("a", 10.0)
    assert limiter.retry_after("a", 11.0) == 3.0
    small = SlidingWindowLimiter(1, 1.0, max_keys=2)
    for i in range(5):
        small.record(f"k{i}", float(i * 2))
    assert len(small._events) <= 2  # idle keys are swept


def test_bad_web_setting_stops_the_gateway_with_status_2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", TOKEN)
    monkeypatch.setenv("GATEWAY_WEB_RATE_PER_ADDRESS", "plenty")
    assert main() == 2
    wanted = "GATEWAY_WEB_RATE_PER_ADDRESS must be a whole number between 1 and 1000000"
    assert any(wanted in r.getMessage() for r in caplog.records)


async def test_database_down_answers_and_keeps_the_lines(fake_rasa: FakeRasa) -> None:
    """The customer is answered without the transcript; its lines wait for the database (history cannot)."""
    async with widget_gateway(fake_rasa) as (client, channel):
        with channel.transcript.sessions() as session:
            session.execute(text("DROP TABLE web_messages"))
            session.commit()
        resp = await client.post(URL, json={"conversation_id": CID, "text": "hi", "client_message_id": "msg-000001"})
        assert resp.status == 200 and (await resp.json())["replayed"] is False
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"text": "hi", "client_message_id": "msg-000002"})
            await ws.receive_json()
            frame = await ws.receive_json()
            assert (frame["type"], frame["client_message_id"]) == ("bot", "msg-000002")
            await ws.send_json({"type": "history"})
            frame = await ws.receive_json()
            assert (frame["type"], frame["code"]) == ("error", "transcript_unavailable")
        resp = await client.get(f"/api/web/history?conversation_id={CID}")
        assert resp.status == 503 and (await resp.json())["code"] == "transcript_unavailable"
        assert said(fake_rasa) == ["hi", "hi"]
        counts = channel.dispatcher.counts
        assert (counts["web.transcript_kept"], len(channel.backlog)) == (2, 2)
    assert counts["web.transcript_lost"] == 2  # the gateway stopped before the database came back


async def test_history_reads_have_their_own_limit_per_address(fake_rasa: FakeRasa) -> None:
    clock = FakeClock()
    async with widget_gateway(fake_rasa, clock, rate_per_address=2) as (client, _):
        for _ in range(2):
            assert (await client.get(f"/api/web/history?conversation_id={CID}")).status == 200
        resp = await client.get(f"/api/web/history?conversation_id={CID}")
        assert resp.status == 429 and resp.headers["Retry-After"] == "60"
        assert (await resp.json())["code"] == "rate_limited"
        async with client.ws_connect(WS) as ws:
            await ws.send_json({"type": "history"})
            frame = await ws.receive_json()
            assert (frame["type"], frame["code"]) == ("error", "rate_limited")
            await ws.send_json({"text": "messages have their own budget"})
            await ws.receive_json()
            assert (await ws.receive_json())["type"] == "bot"
        clock.now += 60
        assert (await client.get(f"/api/web/history?conversation_id={CID}")).status == 200
