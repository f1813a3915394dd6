"""Fixtures for the gateway tests: the autouse network guard, a fake rasa and a running gateway."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.rasa_client import RasaClient
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, NetworkGuard, make_settings


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    """Fail the test loudly if it connects to, sends to or resolves a non-loopback address."""
    guard = NetworkGuard()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto, real_getaddrinfo = socket.socket.sendto, socket.getaddrinfo

    def inet(sock: socket.socket, address: Any) -> bool:
        return sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(
            address, tuple
        )

    def connect(self: socket.socket, address: Any) -> None:
        if inet(self, address):
            guard.check("connect", address[0])
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if inet(self, address):
            guard.check("connect", address[0])
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        address = args[-1]
        if inet(self, address):
            guard.check("sendto", address[0])
        return real_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        guard.check("resolve", host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard
    if guard.violations:
        pytest.fail(
            "test reached for the network: " + "; ".join(guard.violations),
            pytrace=False,
        )


@pytest_asyncio.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    """A running fake rasa on a free loopback port."""
    fake = FakeRasa()
    await fake.start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def gateway(fake_rasa: FakeRasa) -> AsyncIterator[TestClient]:
    """A test client for a gateway app wired to ``fake_rasa``."""
    settings = make_settings(fake_rasa.url)
    app = create_app(
        settings,
        RasaClient(settings.rasa_url, TOKEN, settings.rasa_timeout, health_timeout=0.5),
    )
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    yield client
    await client.close()
