"""Test doubles for the gateway tests: the network guard, a fake rasa input channel, test settings."""

from __future__ import annotations

import asyncio
import ipaddress
import tempfile
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.models import Button, OutboundMessage
from connectors.settings import Settings

TOKEN = "test-token-0123456789"


# ---------------------------------------------------------------- network guard


class NetworkGuard:
    """Records (and refuses) every attempt to reach a non-loopback address."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def check(self, what: str, host: object) -> None:
        if _is_local(host):
            return
        self.violations.append(f"{what} {host!r}")
        raise NonLoopbackAccess(
            f"test tried to reach a non-loopback address: {what} {host!r}"
        )


class NonLoopbackAccess(RuntimeError):
    """Raised by the guard; RuntimeError so network code does not mistake it for a refused connection."""


def _is_local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host in ("", "localhost"):
        return True
    if not isinstance(host, str):
        return False
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host.endswith(".localhost")
    return ip.is_loopback or ip.is_unspecified


# ---------------------------------------------------------------- fake rasa


@dataclass
class FakeRasa:
    """A stand-in for rasa's ``gateway`` input channel (contract in docs/CONTRACTS.md).

    It checks the bearer token, records each accepted body and answers with ``replies``
    (a list of bot messages, or a callable building them from the body), echoing by default.
    """

    token: str = TOKEN
    received: list[dict[str, Any]] = field(default_factory=list)
    replies: Any = None
    status: int = 200
    raw_body: bytes | None = None
    delay: float = 0.0
    server: TestServer | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.root)
        app.router.add_post("/webhooks/gateway/webhook", self.webhook)
        return app

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "malformed body"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("sender"), str):
            return web.json_response({"error": "malformed body"}, status=400)
        self.received.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.raw_body is not None:
            return web.Response(
                body=self.raw_body, status=self.status, content_type="application/json"
            )
        if self.status != 200:
            return web.json_response({"error": "nope"}, status=self.status)
        replies = self.replies
        if callable(replies):
            replies = replies(body)
        if replies is None:
            replies = [
                {"recipient_id": body["sender"], "text": f"echo: {body['message']}"}
            ]
        return web.json_response(replies)

    async def start(self, port: int = 0) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1", port=port)
        await self.server.start_server()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.port is not None
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def make_settings(rasa_url: str, **overrides: Any) -> Settings:
    """Settings for tests: the test token, rasa at ``rasa_url``, short timeouts."""
    values: dict[str, Any] = {
        "gateway_token": TOKEN,
        "rasa_url": rasa_url,
        "host": "127.0.0.1",
        "port": 0,
        "max_message_chars": 2000,
        "rasa_timeout": 2.0,
        "health_timeout": 0.5,
        # A fresh file per app: tests never share gateway state or touch var/.
        "database_url": f"sqlite:///{tempfile.mkdtemp(prefix='gateway-test-')}/gateway.db",
    }
    values.update(overrides)
    return Settings(**values)


async def offer(dispatcher: Any, conversation_id: str, *payloads: str) -> None:
    """Record that the assistant's latest reply to ``conversation_id`` offered these buttons (as a turn would):
    the dispatcher forwards only offered payloads (connectors/offers.py)."""
    buttons = tuple(Button(p, p) for p in payloads)
    await dispatcher.offers.record(conversation_id, [OutboundMessage(text="an earlier reply", buttons=buttons)])
