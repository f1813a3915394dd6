"""RasaClient error mapping and lifecycle against the fake rasa; and the network guard itself."""

from __future__ import annotations

import socket

import pytest

from connectors.errors import RasaAuthError, RasaError, RasaUnavailable
from connectors.models import InboundMessage
from connectors.rasa_client import RasaClient
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, NetworkGuard, NonLoopbackAccess

MSG = InboundMessage(
    "web", "abcdefgh", text="hi", metadata={"store_id": "LDN-1", "channel": "spoofed"}
)


@pytest.mark.asyncio
async def test_send_posts_contract_body_and_channel_wins(fake_rasa: FakeRasa) -> None:
    client = RasaClient(fake_rasa.url, TOKEN, 2.0)
    assert client._session is None  # nothing opened before the first message
    try:
        replies = await client.send(MSG)
    finally:
        await client.close()
        await client.close()  # idempotent
    assert [r.text for r in replies] == ["echo: hi"]
    assert fake_rasa.received == [
        {
            "sender": "web:abcdefgh",
            "message": "hi",
            "metadata": {"store_id": "LDN-1", "channel": "web"},
        }
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "raw", "error"),
    [
        (401, None, RasaAuthError),
        (403, None, RasaAuthError),
        (404, None, RasaError),
        (400, None, RasaError),
        (500, None, RasaError),
        (502, None, RasaUnavailable),
        (503, None, RasaUnavailable),
        (200, b"not json", RasaError),
        (200, b'{"text": "not a list"}', RasaError),
        (200, b'[{"buttons": "junk"}]', RasaError),
    ],
)
async def test_send_maps_failures(
    fake_rasa: FakeRasa, status: int, raw: bytes | None, error: type
) -> None:
    fake_rasa.status, fake_rasa.raw_body = status, raw
    client = RasaClient(fake_rasa.url, TOKEN, 2.0)
    try:
        with pytest.raises(error):
            await client.send(MSG)
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_unreachable_rasa_is_unavailable(fake_rasa: FakeRasa) -> None:
    url = fake_rasa.url
    await fake_rasa.stop()
    client = RasaClient(url, TOKEN, 2.0)
    try:
        with pytest.raises(RasaUnavailable, match="cannot reach rasa"):
            await client.send(MSG)
        assert await client.is_healthy() is False
    finally:
        await client.close()


def test_guard_refuses_non_loopback(network_guard: NetworkGuard) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(NonLoopbackAccess),
    ):
        sock.connect(("203.0.113.7", 80))
    with pytest.raises(NonLoopbackAccess):
        socket.getaddrinfo("example.com", 443)
    assert len(network_guard.violations) == 2
    network_guard.violations.clear()  # expected here; any other test with violations fails


def test_guard_allows_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
