"""A fake Slack Web API and Socket Mode endpoint on a free loopback port, recording everything it receives.

Speaks enough of Slack's HTTP API for slack-sdk / slack-bolt: ``auth.test``, ``chat.postMessage``,
``chat.update``, the three steps of ``files_upload_v2`` (``files.getUploadURLExternal``, the upload URL it
hands out, ``files.completeUploadExternal``; uploaded bytes are kept in ``uploads``) and
``apps.connections.open`` (which hands out a ``ws://`` URL served by the same fake).
Over that WebSocket the test pushes Socket Mode envelopes and the fake records the client's acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
TEAM_ID = "T0SHOP01"
BOT_USER_ID = "U0BOT001"
BOT_ID = "B0BOT001"


@dataclass
class SlackCall:
    """One Web API call as the fake received it."""

    method: str
    token: str | None
    args: dict[str, Any]


@dataclass
class FakeSlackAPI:
    """The fake server. ``fail`` maps a method to the Slack error it answers with (``{"ok": false}``);
    ``rate_limited`` to how many of its next calls get HTTP 429 ``ratelimited`` with ``Retry-After: 0``."""

    calls: list[SlackCall] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    server: TestServer | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: int = 0
    _changed: asyncio.Event | None = None

    # ------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self.api)
        app.router.add_post("/upload/{file_id}", self.upload)
        app.router.add_get("/link", self.socket)
        self._changed = asyncio.Event()
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        """Base URL for ``SLACK_API_BASE_URL`` (ends in ``/api/``)."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}/api/"

    # --------------------------------------------------------------------------------- Web API

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update(await request.post())
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        self.calls.append(SlackCall(method, token, args))
        self._notify()
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method in self.fail:
            return web.json_response({"ok": False, "error": self.fail[method]})
        if self.rate_limited.get(method, 0) > 0:
            self.rate_limited[method] -= 1
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "0"})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://shop.slack.com/",
                    "team": "Shop",
                    "user": "shopbot",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                }
            )
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1732800000.{self._ts:06d}"
            message = {"type": "message", "text": args.get("text"), "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": ts}
            return web.json_response({"ok": True, "channel": args.get("channel"), "ts": ts, "message": message})
        if method == "chat.update":
            return web.json_response({"ok": True, "channel": args.get("channel"), "ts": args.get("ts")})
        if method == "files.getUploadURLExternal":
            assert self.server is not None
            file_id = f"F0FILE{len(self.uploads) + 1:03d}"
            self.uploads[file_id] = b""
            return web.json_response(
                {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{self.server.port}/upload/{file_id}"}
            )
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            return web.json_response({"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]})
        if method == "apps.connections.open":
            assert self.server is not None
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.server.port}/link?ticket=t1"})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def upload(self, request: web.Request) -> web.Response:
        """Step 2 of ``files_upload_v2``: the file's bytes, posted to the URL step 1 handed out."""
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404, text="unknown upload")
        self.uploads[file_id] = await request.read()
        self._notify()
        return web.Response(text="OK - uploaded")

    def calls_to(self, method: str) -> list[SlackCall]:
        """The calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    # ----------------------------------------------------------------------------- Socket Mode

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        self._notify()
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}})
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    self._notify()
        finally:
            self._sockets.remove(ws)
        return ws

    @property
    def connected(self) -> bool:
        """True while a Socket Mode client is connected."""
        return bool(self._sockets)

    async def push(self, envelope: dict[str, Any]) -> None:
        """Deliver a Socket Mode envelope to every connected client."""
        assert self._sockets, "no Socket Mode client is connected"
        for ws in self._sockets:
            await ws.send_json(envelope)

    # ----------------------------------------------------------------------------------- waiting

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``condition()`` holds (checked whenever the fake receives something)."""
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; calls: {[c.method for c in self.calls]}, acks: {self.acks}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None, content_type: str = "application/json"
) -> dict[str, str]:
    """Headers Slack sends with an Events API / interactivity request, signed with ``secret``.

    Args:
        body: the exact request body.
        secret: the signing secret (a wrong one makes a forged request).
        timestamp: ``X-Slack-Request-Timestamp`` (default now; five minutes old is stale).
        content_type: ``application/json`` for events, ``application/x-www-form-urlencoded`` for buttons.

    Returns:
        The headers.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


@contextlib.contextmanager
def serve_in_thread() -> Iterator[FakeSlackAPI]:
    """Run a fake on its own event loop in a daemon thread (for tests that drive other processes).

    Yields:
        The started fake; read ``calls`` from the test thread (appends are atomic).
    """
    loop = asyncio.new_event_loop()
    fake = FakeSlackAPI()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fake-slack-api", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the fake Slack API did not start")
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
