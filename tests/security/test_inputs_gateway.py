"""Hostile bodies and frames on every public endpoint: a clear 4xx, the process and the WebSocket keep serving."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import WSMsgType

from connectors import safejson
from connectors.telegram.channel import SECRET_HEADER
from tests.security.conftest import BODY_TIMEOUT, Gateway, as_body, deep

# Each of these used to escape the gateway's JSON handling: 500 on the HTTP APIs, a dead WebSocket.
HOSTILE_JSON = {
    "nested 5,000 deep": '{"conversation_id": "abcdefgh12", "text": ' + deep(5000) + "}",
    "nested 900 deep": '{"conversation_id": "abcdefgh12", "text": ' + deep(900) + "}",
    "4,400-digit integer": '{"conversation_id": "abcdefgh12", "text": ' + "9" * 4400 + "}",
    "NaN": '{"conversation_id": "abcdefgh12", "text": NaN}',
    "huge float": '{"conversation_id": "abcdefgh12", "text": 1e999999}',
}


@pytest.mark.parametrize("name", HOSTILE_JSON)
def test_safejson_refuses_with_a_reason(name: str) -> None:
    with pytest.raises(safejson.JsonRejected) as refused:
        safejson.loads(HOSTILE_JSON[name])
    assert str(refused.value)


def test_safejson_accepts_ordinary_json() -> None:
    assert safejson.loads(b'{"a": [1, -2.5, "\\u00e9", null, true, {"b": 12345678901234567890}]}') == {
        "a": [1, -2.5, "é", None, True, {"b": 12345678901234567890}]
    }
    assert safejson.loads(deep(safejson.MAX_DEPTH)) is not None


@pytest.mark.parametrize("name", HOSTILE_JSON)
async def test_web_messages_answer_400_and_keep_serving(all_channels: Gateway, name: str) -> None:
    client = all_channels.client
    resp = await client.post(
        "/api/web/messages", data=HOSTILE_JSON[name].encode(), headers={"Content-Type": "application/json"}
    )
    body = await resp.json()
    assert resp.status == 400, body
    assert body["code"] == "invalid_json"
    assert all_channels.rasa.received == []  # nothing hostile reached rasa
    ok = await client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "hello"})
    assert ok.status == 200
    assert (await ok.json())["messages"][0]["text"] == "echo: hello"


@pytest.mark.parametrize("name", HOSTILE_JSON)
async def test_tablet_messages_answer_400(all_channels: Gateway, name: str) -> None:
    session = await all_channels.tablet_session()
    text = HOSTILE_JSON[name].replace('"conversation_id": "abcdefgh12"', f'"session_id": "{session}"')
    resp = await all_channels.client.post(
        "/api/tablet/messages",
        data=text.encode(),
        headers={"Content-Type": "application/json", **all_channels.tablet_headers()},
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["code"] == "invalid_json"
    for path in ("/api/tablet/updates",):
        resp = await all_channels.client.post(path, data=deep(5000).encode(), headers=all_channels.tablet_headers())
        assert resp.status == 400


@pytest.mark.parametrize("name", HOSTILE_JSON)
async def test_console_bodies_answer_400(all_channels: Gateway, name: str) -> None:
    client = all_channels.client
    resp = await client.post(
        "/api/console/login", data=HOSTILE_JSON[name].encode(), headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400, await resp.text()
    resp = await client.post(
        "/api/console/conversations/web:abcdefgh12/tags",
        data=HOSTILE_JSON[name].encode(),
        headers={"Content-Type": "application/json", **all_channels.console_headers()},
    )
    assert resp.status == 400, await resp.text()


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "²"},  # str.isdigit() says yes, int() says no
        {"limit": "9" * 5000},
        {"below": "³"},
        {"cursor": "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tb" * 50},
    ],
)
async def test_console_query_parameters_answer_400(all_channels: Gateway, query: dict[str, str]) -> None:
    for path in ("/api/console/conversations", "/api/console/counts", "/api/console/handoffs"):
        resp = await all_channels.client.get(path, params=query, headers=all_channels.console_headers())
        assert resp.status in (200, 400), (path, resp.status, await resp.text())
    resp = await all_channels.client.get(
        "/api/console/conversations", params=query, headers=all_channels.console_headers()
    )
    assert resp.status == 400


async def test_forged_console_cursor_nested_deep_is_400(all_channels: Gateway) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(deep(1500).encode()).decode().rstrip("=")
    resp = await all_channels.client.get(
        "/api/console/conversations", params={"cursor": cursor}, headers=all_channels.console_headers()
    )
    assert resp.status == 400
    assert (await resp.json())["field"] == "cursor"


@pytest.mark.parametrize("name", HOSTILE_JSON)
async def test_signed_carrier_telegram_and_slack_bodies_answer_400(all_channels: Gateway, name: str) -> None:
    client = all_channels.client
    raw = HOSTILE_JSON[name].encode()
    resp = await client.post("/api/carrier/events", data=raw, headers=all_channels.carrier_headers(raw))
    assert resp.status == 400, await resp.text()
    resp = await client.post("/telegram/webhook", data=raw, headers=all_channels.telegram_headers())
    assert resp.status == 400, await resp.text()
    resp = await client.post("/slack/events", data=raw, headers=all_channels.slack_headers(raw))
    assert resp.status == 400, await resp.text()
    assert all_channels.rasa.received == []


@pytest.mark.parametrize("name", HOSTILE_JSON)
async def test_websocket_answers_an_error_frame_and_stays_open(all_channels: Gateway, name: str) -> None:
    async with all_channels.client.ws_connect("/api/web/ws?conversation_id=abcdefgh12") as ws:
        await ws.send_str(HOSTILE_JSON[name].replace('"conversation_id": "abcdefgh12", ', ""))
        error = await ws.receive_json(timeout=5)
        assert error["type"] == "error" and error["code"] == "invalid_json"
        await ws.send_json({"text": "still there?"})
        assert (await ws.receive_json(timeout=5))["type"] == "typing"
        bot = await ws.receive_json(timeout=5)
        assert bot["messages"][0]["text"] == "echo: still there?"


async def test_websocket_survives_binary_huge_and_broken_frames(all_channels: Gateway) -> None:
    async with all_channels.client.ws_connect("/api/web/ws?conversation_id=abcdefgh12") as ws:
        for send in (
            ws.send_bytes(bytes(range(256)) * 100),
            ws.send_str("x" * 300_000),
            ws.send_str("\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
            ws.send_str(json.dumps({"text": "a" * 50_000})),
            ws.send_str(json.dumps({"type": "history", "x": deep(60)})),
        ):
            await send
            frame = await ws.receive(timeout=5)
            assert frame.type == WSMsgType.TEXT, frame
            assert json.loads(frame.data)["type"] in ("error", "history")
        await ws.send_json({"text": "hello"})
        assert (await ws.receive_json(timeout=5))["type"] == "typing"
        assert (await ws.receive_json(timeout=5))["messages"][0]["text"] == "echo: hello"


async def test_an_unexpected_error_answering_a_frame_keeps_the_socket(
    all_channels: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.web.channel import WebChannel

    real = WebChannel.answer
    calls = {"n": 0}

    async def explode_once(self: WebChannel, parsed: object, address: str, still_wanted: object = None) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in the gateway")
        return await real(self, parsed, address, still_wanted)  # type: ignore[arg-type]

    monkeypatch.setattr(WebChannel, "answer", explode_once)
    async with all_channels.client.ws_connect("/api/web/ws?conversation_id=abcdefgh12") as ws:
        await ws.send_json({"text": "first"})
        frames = [await ws.receive_json(timeout=5), await ws.receive_json(timeout=5)]
        assert frames[-1]["type"] == "error" and frames[-1]["code"] == "internal_error"
        await ws.send_json({"text": "second"})
        assert (await ws.receive_json(timeout=5))["type"] == "typing"
        assert (await ws.receive_json(timeout=5))["messages"][0]["text"] == "echo: second"


async def _raw_request(port: int, head: bytes, body_part: bytes, wait: float) -> tuple[bytes, float]:
    """Send headers and part of a body, then wait for the answer; returns it and how long it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head + body_part)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(65536), wait)  # the first bytes of the answer
    finally:
        writer.close()
    return answer, time.monotonic() - started


@pytest.mark.parametrize(
    "path, extra",
    [
        ("/api/web/messages", b""),
        ("/api/tablet/messages", b"AUTH"),
        ("/api/console/login", b""),
        ("/api/carrier/events", b""),
        ("/telegram/webhook", b"TELEGRAM"),
        ("/slack/events", b""),
    ],
)
async def test_a_stalled_body_is_answered_408_and_closed(all_channels: Gateway, path: str, extra: bytes) -> None:
    header = b""
    if extra == b"AUTH":
        header = f"Authorization: Bearer {all_channels.tablet_token}\r\n".encode()
    elif extra == b"TELEGRAM":
        header = f"{SECRET_HEADER}: {all_channels.telegram_headers()[SECRET_HEADER]}\r\n".encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n".encode()
        + header
        + b"\r\n"
    )
    answer, took = await _raw_request(all_channels.client.server.port, head, b'{"text": "', wait=BODY_TIMEOUT + 5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"body_timeout" in answer
    assert took < BODY_TIMEOUT + 3
    assert all_channels.rasa.received == []
    # and the gateway keeps serving
    ok = await all_channels.client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "hi"})
    assert ok.status == 200


async def test_a_slow_but_complete_body_is_answered(all_channels: Gateway) -> None:
    body = as_body({"conversation_id": "abcdefgh12", "text": "slowly"})
    reader, writer = await asyncio.open_connection("127.0.0.1", all_channels.client.server.port)
    writer.write(
        b"POST /api/web/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body[:10]
    )
    await writer.drain()
    await asyncio.sleep(BODY_TIMEOUT / 3)
    writer.write(body[10:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b"echo: slowly" in answer


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"x" * 100_000, "application/json", 413),
        (bytes(range(256)) * 10, "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b'{"conversation_id": "abcdefgh12", "text": "hi"}', "application/octet-stream", 415),
        (json.dumps({"conversation_id": "abcdefgh12", "text": "a" * 5000}).encode(), "application/json", 413),
    ],
)
async def test_huge_or_binary_web_bodies_get_a_clear_4xx_and_nothing_is_lost(
    all_channels: Gateway, body: bytes, content_type: str, status: int
) -> None:
    client = all_channels.client
    first = await client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "before"})
    assert first.status == 200
    resp = await client.post("/api/web/messages", data=body, headers={"Content-Type": content_type})
    assert resp.status == status, await resp.text()
    assert "error" in await resp.json()
    history = await client.get("/api/web/history", params={"conversation_id": "abcdefgh12"})
    entries = (await history.json())["entries"]
    assert [e.get("text") for e in entries if e["role"] == "user"] == ["before"]
    after = await client.post("/api/web/messages", json={"conversation_id": "abcdefgh12", "text": "after"})
    assert after.status == 200


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[1, 2]",
        b'{"event": null}',
        b'{"type": "event_callback", "event": []}',
        b'{"type": "block_actions", "actions": null}',
        b'{"authorizations": 5}',
    ],
)
async def test_signed_slack_bodies_of_the_wrong_shape_are_400(all_channels: Gateway, body: bytes) -> None:
    resp = await all_channels.client.post("/slack/events", data=body, headers=all_channels.slack_headers(body))
    assert resp.status == 400, await resp.text()
    form = b"payload=" + body
    resp = await all_channels.client.post(
        "/slack/events",
        data=form,
        headers={**all_channels.slack_headers(form), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status in (400, 404), await resp.text()
    assert all_channels.rasa.received == []
