"""aiohttp wiring of the web channel: POST API, WebSocket and the chat page; set up by connectors.app."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from connectors.dispatch import Dispatcher
from connectors.errors import GatewayError, describe_for_user
from connectors.models import InboundMessage
from connectors.web.translate import (
    WebInputError,
    WebLimits,
    decode_json,
    inbound_from_json,
    parse_conversation_id,
    render_messages,
)

log = logging.getLogger(__name__)

PAGE_FILE = Path(__file__).with_name("chat.html")
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


class WebChannel:
    """The website chat channel (channel name ``web``).

    Routes: ``GET /`` (chat page), ``POST /api/web/messages``, ``GET /api/web/ws``.
    """

    name = "web"

    def __init__(
        self, limits: WebLimits | None = None, allowed_origins: tuple[str, ...] = ()
    ) -> None:
        """Configure the channel.

        Args:
            limits: message limits (default 2000 characters).
            allowed_origins: browser origins besides the gateway's own that may open the
                WebSocket, e.g. ``("https://shop.example",)``.
        """
        self.limits = limits or WebLimits()
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self._dispatcher: Dispatcher | None = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._page: bytes = b""
        self._page_csp: str = ""

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Add the web routes to ``app`` and close open WebSockets on shutdown.

        Args:
            app: the gateway application.
            dispatcher: where inbound messages go.
        """
        self._dispatcher = dispatcher
        self._load_page()
        app.router.add_get("/", self.chat_page)
        app.router.add_post("/api/web/messages", self.post_message)
        app.router.add_get("/api/web/ws", self.websocket)
        app.on_shutdown.append(self._close_sockets)

    def _load_page(self) -> None:
        html = PAGE_FILE.read_text(encoding="utf-8")
        html = html.replace("__MAX_CHARS__", str(self.limits.max_message_chars))
        hashes: dict[str, list[str]] = {"script": [], "style": []}
        for tag, body in _INLINE.findall(html):
            digest = base64.b64encode(
                hashlib.sha256(body.encode("utf-8")).digest()
            ).decode()
            hashes[tag].append(f"'sha256-{digest}'")
        self._page = html.encode("utf-8")
        self._page_csp = (
            "default-src 'none'; "
            f"script-src {' '.join(hashes['script'])}; "
            f"style-src {' '.join(hashes['style'])}; "
            "img-src 'self' https: http: data:; "
            "connect-src 'self' {ws_origins}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
        )

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher given to :meth:`setup`."""
        if self._dispatcher is None:
            raise RuntimeError("WebChannel.setup() has not been called")
        return self._dispatcher

    async def chat_page(self, request: web.Request) -> web.Response:
        """Serve the chat page (inline CSS/JS, locked down by a hash-based CSP)."""
        host = request.host
        csp = self._page_csp.replace("{ws_origins}", f"ws://{host} wss://{host}")
        return web.Response(
            body=self._page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /api/web/messages``: one message in, the bot's replies out.

        Returns:
            200 ``{"conversation_id", "messages": [...]}``; errors are JSON
            ``{"error", "code", "field"?, "limit"?}`` with 400/413/415/502/503.
        """
        if request.content_type != "application/json":
            raise WebInputError(
                415,
                "unsupported_media_type",
                f"send the body as application/json, not {request.content_type or 'nothing'}",
            )
        raw = await request.read()  # aiohttp raises 413 past client_max_size
        inbound = inbound_from_json(decode_json(raw), self.limits)
        try:
            replies = await self.dispatcher.dispatch(inbound)
        except GatewayError as exc:
            err = describe_for_user(exc)
            return web.json_response(
                {"error": err.message, "code": err.code}, status=err.status
            )
        return web.json_response(
            {"conversation_id": inbound.sender_id, "messages": render_messages(replies)}
        )

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/web/ws?conversation_id=...``: a WebSocket carrying the same messages.

        Client frames: ``{"text": ...}`` or ``{"payload": ...}``. Server frames:
        ``{"type": "typing"}``, ``{"type": "bot", "messages": [...]}`` and
        ``{"type": "error", "error", "code", ...}`` (the socket stays open after errors).
        """
        conversation_id = parse_conversation_id(request.query.get("conversation_id"))
        self._check_origin(request)
        ws = web.WebSocketResponse(
            heartbeat=30.0, max_msg_size=self.limits.max_body_bytes
        )
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    if not await self._handle_frame(ws, conversation_id, msg.data):
                        break
                elif msg.type == WSMsgType.BINARY:
                    error = WebInputError(
                        400, "invalid_frame", "send JSON text frames, not binary"
                    )
                    if not await _send(ws, {"type": "error", **error.to_json()}):
                        break
                elif msg.type == WSMsgType.ERROR:
                    log.info("web socket closed with an error: %r", ws.exception())
        finally:
            self._sockets.discard(ws)
        return ws

    async def _handle_frame(
        self, ws: web.WebSocketResponse, conversation_id: str, data: str
    ) -> bool:
        """Answer one client frame; return False once the socket can no longer be written."""
        try:
            inbound: InboundMessage = inbound_from_json(
                decode_json(data), self.limits, conversation_id=conversation_id
            )
        except WebInputError as exc:
            return await _send(ws, {"type": "error", **exc.to_json()})
        if not await _send(ws, {"type": "typing"}):
            return False
        try:
            replies = await self.dispatcher.dispatch(inbound)
        except GatewayError as exc:
            err = describe_for_user(exc)
            return await _send(
                ws, {"type": "error", "error": err.message, "code": err.code}
            )
        return await _send(ws, {"type": "bot", "messages": render_messages(replies)})

    def _check_origin(self, request: web.Request) -> None:
        """Refuse browsers on foreign pages (cross-site WebSocket hijacking); non-browsers send no Origin."""
        origin = request.headers.get("Origin")
        if origin is None:
            return
        normalized = origin.rstrip("/").lower()
        if (
            urlsplit(normalized).netloc == request.host.lower()
            or normalized in self.allowed_origins
        ):
            return
        raise WebInputError(
            403, "origin_not_allowed", f"origin {origin} may not use this chat"
        )

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> bool:
    """Send a JSON frame; return False if the client has gone."""
    if ws.closed:
        return False
    try:
        await ws.send_json(frame)
    except ConnectionError:
        return False
    return True
