"""The web channel's WebSocket against a fake rasa input channel."""

from __future__ import annotations

import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient

from connectors.keys import DISPATCHER_KEY
from connectors.web.channel import WS_HARD_LIMIT
from tests.connectors.gateway_fakes import FakeRasa, offer

pytestmark = pytest.mark.asyncio

CID = "ws-conversation-01"
WS = f"/api/web/ws?conversation_id={CID}"


async def test_text_and_payload_frames(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    async with gateway.ws_connect(WS) as ws:
        await ws.send_json({"text": "hello"})
        assert await ws.receive_json() == {"type": "typing"}
        assert await ws.receive_json() == {
            "type": "bot",
            "messages": [{"text": "echo: hello"}],
        }
        await offer(gateway.app[DISPATCHER_KEY], f"web:{CID}", "/affirm")  # an earlier reply's button
        await ws.send_json({"payload": "/affirm"})
        assert await ws.receive_json() == {"type": "typing"}
        assert await ws.receive_json() == {
            "type": "bot",
            "messages": [{"text": "echo: /affirm"}],
        }
    assert fake_rasa.received == [
        {"sender": f"web:{CID}", "message": "hello", "metadata": {"channel": "web"}},
        {"sender": f"web:{CID}", "message": "/affirm", "metadata": {"channel": "web"}},
    ]


async def test_bad_frames_get_errors_and_socket_stays_open(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    async with gateway.ws_connect(WS) as ws:
        await ws.send_str("{not json")
        frame = await ws.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "invalid_json")
        await ws.send_json({"nothing": 1})
        frame = await ws.receive_json()
        assert (frame["type"], frame["field"]) == ("error", "text")
        await ws.send_json({"text": "y" * 2001})
        frame = await ws.receive_json()
        assert (frame["type"], frame["code"], frame["limit"]) == (
            "error",
            "too_long",
            2000,
        )
        await ws.send_bytes(b"\x00\xff\x10binary")
        frame = await ws.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "invalid_frame")
        await ws.send_json({"text": "still here\x00"})
        assert await ws.receive_json() == {"type": "typing"}
        assert (await ws.receive_json())["messages"] == [{"text": "echo: still here"}]
    assert [b["message"] for b in fake_rasa.received] == ["still here"]


async def test_rasa_down_gives_error_frame_then_recovers(
    gateway: TestClient, fake_rasa: FakeRasa
) -> None:
    port = fake_rasa.port
    async with gateway.ws_connect(WS) as ws:
        await fake_rasa.stop()
        await ws.send_json({"text": "anyone?"})
        assert await ws.receive_json() == {"type": "typing"}
        assert await ws.receive_json() == {
            "type": "error",
            "error": "the assistant is restarting, please try again in a moment",
            "code": "rasa_unavailable",
        }
        await fake_rasa.start(port=port)
        await ws.send_json({"text": "back?"})
        assert await ws.receive_json() == {"type": "typing"}
        assert (await ws.receive_json())["messages"] == [{"text": "echo: back?"}]


async def test_invalid_conversation_id_is_refused_before_upgrade(
    gateway: TestClient,
) -> None:
    for query in (
        "",
        "?conversation_id=short",
        "?conversation_id=has%20space%20in%20it",
    ):
        resp = await gateway.get(f"/api/web/ws{query}")
        assert resp.status == 400
        assert (await resp.json())["field"] == "conversation_id"


async def test_foreign_origin_is_refused(gateway: TestClient) -> None:
    resp = await gateway.get(
        WS,
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert resp.status == 403
    assert (await resp.json())["code"] == "origin_not_allowed"
    own = f"http://{gateway.server.host}:{gateway.server.port}"
    async with gateway.ws_connect(WS, origin=own) as ws:
        await ws.send_json({"text": "same origin"})
        assert (await ws.receive_json())["type"] == "typing"


async def test_oversized_frame_is_refused_and_the_socket_stays(gateway: TestClient) -> None:
    async with gateway.ws_connect(WS) as ws:
        await ws.send_str("x" * 200_000)
        error = await ws.receive_json()
        assert error["type"] == "error" and error["code"] == "body_too_large"
        await ws.send_json({"text": "still here"})
        assert (await ws.receive_json())["type"] == "typing"
        assert (await ws.receive_json())["type"] == "bot"


async def test_frame_past_the_hard_limit_closes_socket_with_1009(gateway: TestClient) -> None:
    async with gateway.ws_connect(WS, max_msg_size=0) as ws:
        await ws.send_str("x" * (WS_HARD_LIMIT + 1))
        msg = await ws.receive()
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == WSCloseCode.MESSAGE_TOO_BIG
