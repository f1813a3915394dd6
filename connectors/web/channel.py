"""aiohttp wiring of the web channel (widget script, demo shop page, API, WebSocket); set up by connectors.app."""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy.exc import SQLAlchemyError

from connectors.dispatch import Dispatcher
from connectors.errors import Busy, GatewayError, UserFacingError, describe_for_user
from connectors.keys import PUSH_KEY, SESSIONS_KEY
from connectors.models import OutboundMessage
from connectors.origins import local_port, normalize_origin, own_origins
from connectors.pages import hashed_csp
from connectors.push import PushFailed
from connectors.rasa_client import resend_key
from connectors.shared_state import LocalState, shared_state
from connectors.source import request_address, web_source
from connectors.tasks import BackgroundTasks
from connectors.web.backlog import KeptLine, TranscriptBacklog
from connectors.web.catalogue import SKU, Catalogue, DemoExample, product_svg
from connectors.web.feedback import WebFeedback
from connectors.web.ratelimit import SlidingWindowLimiter, whole_seconds
from connectors.web.settings import WebSettings
from connectors.web.transcript import Claim, Transcript
from connectors.web.translate import (
    RateLimited,
    WebInbound,
    WebInputError,
    WebLimits,
    decode_json,
    frame_type,
    history_entries,
    origin_allowed,
    parse_client_message_id,
    parse_conversation_id,
    parse_web_message,
    render_messages,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
WIDGET_FILE = HERE / "widget.js"
SHOP_PAGE_FILE = HERE / "shop.html"
API_PREFIX = "/api/web/"
#: Shared-state topic of messages pushed to web conversations (connectors.shared_state).
PUSH_TOPIC = "web.push"
#: How long browsers and CDNs may use widget.js before revalidating it (its ETag makes that cheap).
WIDGET_MAX_AGE = 300
#: First and longest pause (seconds) between attempts to write kept transcript lines while the database is away.
BACKLOG_RETRY = (0.5, 10.0)
#: Largest WebSocket frame read at all; smaller frames over the message limit get an error frame instead.
WS_HARD_LIMIT = 1024 * 1024


class TranscriptUnavailable(GatewayError):
    """The gateway database could not be read for a history request (a message is answered without it)."""


def describe_web_error(exc: GatewayError) -> UserFacingError:
    """What a web client sees for ``exc``: the shared mapping, plus the web channel's own database errors."""
    if isinstance(exc, TranscriptUnavailable):
        return UserFacingError(
            503, "transcript_unavailable", "the chat cannot take messages just now, please try again in a moment"
        )
    return describe_for_user(exc)


class WebChannel:
    """The website channel (channel name ``web``): the embeddable widget and its API.

    Routes: ``GET /`` and ``GET /shop`` (demo shop page with the widget), ``GET /widget.js``,
    ``POST /api/web/messages``, ``GET /api/web/history``, ``GET /api/web/ws``.
    """

    name = "web"

    def __init__(
        self,
        limits: WebLimits | None = None,
        allowed_origins: tuple[str, ...] = (),
        settings: WebSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        shop_db_url: str | None = None,
        catalogue: Catalogue | None = None,
        public_urls: tuple[str, ...] = (),
    ) -> None:
        """Configure the channel.

        Args:
            limits: message limits (default 2000 characters).
            allowed_origins: browser origins besides the gateway's own that may embed the widget
                and use the API and the WebSocket, e.g. ``("https://shop.example",)``.
            settings: rate limits and history size (default :class:`WebSettings`).
            clock: monotonic seconds, for the rate limits (tests pass a fake one).
            shop_db_url: the order store (the demo page's products, product pictures, photos and ratings).
            catalogue: where products come from (default: the order store at ``shop_db_url``).
            public_urls: the gateway's own origins as browsers reach it (``GATEWAY_PUBLIC_URL``); loopback
                on the gateway's own port is always one (``connectors.origins``).
        """
        self.limits = limits or WebLimits()
        self.allowed_origins = frozenset(normalize_origin(o) or o.rstrip("/").lower() for o in allowed_origins)
        self.public_urls = public_urls
        self.settings = settings or WebSettings()
        self._clock = clock
        self._per_conversation = SlidingWindowLimiter(self.settings.rate_per_conversation, self.settings.rate_window)
        self._per_address = SlidingWindowLimiter(self.settings.rate_per_address, self.settings.rate_window)
        # history reads are cheaper than turns but still hit the database: their own budget per address
        self._history_per_address = SlidingWindowLimiter(self.settings.rate_per_address, self.settings.rate_window)
        self._dispatcher: Dispatcher | None = None
        self._shared: LocalState = LocalState()  # rate limits and fan-out shared by the gateways (setup)
        self._transcript: Transcript | None = None
        # transcript lines the gateway database could not take, written by _write_backlog when it is back
        self.backlog = TranscriptBacklog(self.settings.transcript_backlog)
        self._backlog_wake = asyncio.Event()
        self._backlog_task: asyncio.Task[None] | None = None
        self._sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        # open sockets per conversation, so a pushed message (a person's reply) reaches every open tab
        self._open: dict[str, set[web.WebSocketResponse]] = {}
        self._transports: weakref.WeakKeyDictionary[web.WebSocketResponse, asyncio.Transport | None] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: BackgroundTasks[tuple[list[dict[str, Any]], bool]] = BackgroundTasks()
        self._widget: bytes = b""
        self._widget_etag = ""
        self._pages: dict[bool, tuple[bytes, str]] = {}
        self.catalogue = catalogue or Catalogue(shop_db_url)
        self.feedback = WebFeedback(
            shop_db_url,
            check_origin=self._check_origin,
            counts=lambda: self.dispatcher.counts,
            clock=clock,
            source_of=lambda request: web_source(self._client_address(request)),
            ratings_limit=(self.settings.ratings_per_source, self.settings.ratings_window),
            shared=lambda: self._shared,
        )

    def setup(self, app: web.Application, dispatcher: Dispatcher) -> None:
        """Add the web routes to ``app``, CORS headers for allowed origins, and close sockets on shutdown.

        Args:
            app: the gateway application (its ``SESSIONS_KEY`` holds the gateway database).
            dispatcher: where inbound messages go.
        """
        self._dispatcher = dispatcher
        self._shared = shared_state(app)
        self._shared.on(PUSH_TOPIC, self._deliver_pushed)  # pushes published by any gateway
        self._transcript = Transcript(app[SESSIONS_KEY])
        self._load_assets()
        app.router.add_get("/", self.shop_page)
        app.router.add_get("/shop", self.shop_page)
        app.router.add_get("/widget.js", self.widget_script)
        app.router.add_post("/api/web/messages", self.post_message)
        app.router.add_get("/api/web/history", self.get_history)
        app.router.add_route("OPTIONS", "/api/web/messages", self.preflight)
        app.router.add_route("OPTIONS", "/api/web/history", self.preflight)
        app.router.add_get("/api/web/ws", self.websocket)
        app.router.add_get("/media/products/{sku}.svg", self.product_picture)
        self.feedback.setup(app, self._transcript, self.record_customer_item)
        app.on_response_prepare.append(self._cors_headers)
        app.on_startup.append(self._start_backlog)
        app.on_cleanup.append(self._close_catalogue)
        app[PUSH_KEY].register(self.name, self)
        app.on_shutdown.append(self._close_sockets)

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher given to :meth:`setup`."""
        if self._dispatcher is None:
            raise RuntimeError("WebChannel.setup() has not been called")
        return self._dispatcher

    @property
    def transcript(self) -> Transcript:
        """The transcript store built in :meth:`setup`."""
        if self._transcript is None:
            raise RuntimeError("WebChannel.setup() has not been called")
        return self._transcript

    # ------------------------------------------------------------------ static assets

    def _load_assets(self) -> None:
        script = WIDGET_FILE.read_text(encoding="utf-8")
        script = script.replace("__MAX_CHARS__", str(self.limits.max_message_chars))
        script = script.replace("__ALLOWED_ORIGINS__", json.dumps(sorted(self.allowed_origins)))
        self._widget = script.encode("utf-8")
        self._widget_etag = '"' + hashlib.sha256(self._widget).hexdigest()[:32] + '"'
        template = SHOP_PAGE_FILE.read_text(encoding="utf-8")
        for open_on_load in (True, False):
            page = template.replace("__OPEN__", "true" if open_on_load else "false")
            csp = hashed_csp(
                page,
                script_src="'self'",  # widget.js
                img_src="'self' https: http: data: blob:",
                connect_src="'self' {ws_origins}",  # the page's own host, filled in per request
                frame_ancestors="'self'",
            )
            self._pages[open_on_load] = (page.encode("utf-8"), csp)

    async def shop_page(self, request: web.Request) -> web.Response:
        """The demo shop page with the widget embedded (``/`` opens the chat on load, ``/shop`` does not).

        It lists popular products from the shop's own catalogue (the order store), each with an "Ask about it"
        button that asks the assistant, so what the page shows is what the assistant knows.
        """
        body, csp = self._pages[request.path == "/"]
        host = request.host
        widget_url = html.escape(f"{request.scheme}://{host}/widget.js").encode("utf-8")
        products = await asyncio.to_thread(self.catalogue.featured)
        example = await asyncio.to_thread(self.catalogue.example)
        body = body.replace(b"__WIDGET_URL__", widget_url).replace(b"__EXAMPLE__", _example_text(example))
        return web.Response(
            body=body.replace(b"__PRODUCTS__", _product_items(products)),
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": csp.replace("{ws_origins}", f"ws://{host} wss://{host}"),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    async def widget_script(self, request: web.Request) -> web.StreamResponse:
        """``GET /widget.js``: the embeddable widget; cacheable for a few minutes, revalidated by ETag."""
        headers = {
            "ETag": self._widget_etag,
            "Cache-Control": f"public, max-age={WIDGET_MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
            # any page may load the script (<script crossorigin> with integrity= too); what it may
            # then talk to is decided by the API's origin checks
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if self._widget_etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self._widget, content_type="application/javascript", charset="utf-8", headers=headers)

    async def product_picture(self, request: web.Request) -> web.Response:
        """``GET /media/products/<sku>.svg``: the product's drawn picture (a plain one for an unknown SKU).

        The demo catalogue's ``image_url`` points here; cards whose own image fails to load fall back to it.
        """
        sku = request.match_info["sku"]
        if not SKU.match(sku):
            raise web.HTTPNotFound()
        product = await asyncio.to_thread(self.catalogue.product, sku)
        body = product_svg(
            sku,
            product.title if product else None,
            product.brand if product else None,
            product.category if product else None,
        )
        return web.Response(
            body=body,
            content_type="image/svg+xml",
            headers={
                "Cache-Control": "public, max-age=86400",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                "Cross-Origin-Resource-Policy": "cross-origin",  # shops embedding the widget show it too
            },
        )

    async def _close_catalogue(self, _app: web.Application) -> None:
        self.catalogue.close()

    # ------------------------------------------------------------------ HTTP API

    async def post_message(self, request: web.Request) -> web.Response:
        """``POST /api/web/messages``: one message in, the bot's replies out.

        Returns:
            200 ``{"conversation_id", "messages": [...]}`` (plus ``client_message_id`` and
            ``replayed`` when the client gave an id); errors are JSON ``{"error", "code", ...}``
            with 400/403/413/415/429/502/503.
        """
        self._check_origin(request)
        if request.content_type != "application/json":
            raise WebInputError(
                415,
                "unsupported_media_type",
                f"send the body as application/json, not {request.content_type or 'nothing'}",
            )
        raw = await request.read()  # aiohttp raises 413 past client_max_size
        parsed = parse_web_message(decode_json(raw), self.limits)
        try:
            messages, replayed = await self.answer(parsed, self._client_address(request), _connected(request))
        except RateLimited as exc:
            return web.json_response(exc.to_json(), status=429, headers={"Retry-After": str(exc.retry_after)})
        except WebInputError:
            raise
        except GatewayError as exc:
            err = describe_web_error(exc)
            body: dict[str, Any] = {"error": err.message, "code": err.code}
            if isinstance(exc, Busy):
                body["retry_after"] = exc.retry_after
                return web.json_response(body, status=err.status, headers={"Retry-After": str(exc.retry_after)})
            return web.json_response(body, status=err.status)
        answer: dict[str, Any] = {"conversation_id": parsed.message.sender_id, "messages": messages}
        if parsed.client_message_id is not None:
            answer.update(client_message_id=parsed.client_message_id, replayed=replayed)
        return web.json_response(answer)

    async def get_history(self, request: web.Request) -> web.Response:
        """``GET /api/web/history?conversation_id=...``: the newest transcript entries, oldest first.

        Returns:
            200 ``{"conversation_id", "entries": [...], "truncated": bool}`` (see
            :func:`connectors.web.translate.history_entries`), never cached.
        """
        self._check_origin(request)
        conversation_id = parse_conversation_id(request.query.get("conversation_id"))
        try:
            body = await self._history(conversation_id, self._client_address(request))
        except RateLimited as exc:
            return web.json_response(exc.to_json(), status=429, headers={"Retry-After": str(exc.retry_after)})
        except TranscriptUnavailable as exc:
            err = describe_web_error(exc)
            return web.json_response({"error": err.message, "code": err.code}, status=err.status)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight for the API: 204 for allowed origins, 403 ``origin_not_allowed`` otherwise."""
        origin = request.headers.get("Origin")
        if origin is None:
            raise WebInputError(400, "not_a_preflight", "OPTIONS here is a CORS preflight and needs an Origin")
        self._check_origin(request)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )

    # ------------------------------------------------------------------ WebSocket

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/web/ws?conversation_id=...``: a WebSocket carrying messages and history.

        Client frames: ``{"text"|"payload", "client_message_id"?, "title"?}`` and ``{"type": "history"}``.
        Server frames: ``typing``, ``bot`` (``messages``, ``client_message_id``?, ``replayed``?),
        ``history`` and ``error``; the socket stays open after errors, rate limits included.
        """
        conversation_id = parse_conversation_id(request.query.get("conversation_id"))
        self._check_origin(request)
        address = self._client_address(request)
        # Frames up to WS_HARD_LIMIT are read and refused politely when over the message limit (the socket
        # stays open); only past it does aiohttp close the socket (1009, "message too big").
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=max(WS_HARD_LIMIT, self.limits.max_body_bytes))
        await ws.prepare(request)
        self._sockets.add(ws)
        self._transports[ws] = request.transport
        self._open.setdefault(conversation_id, set()).add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    if not await self._answer_frame(ws, conversation_id, address, msg.data):
                        break
                elif msg.type == WSMsgType.BINARY:
                    error = WebInputError(400, "invalid_frame", "send JSON text frames, not binary")
                    if not await _send(ws, {"type": "error", **error.to_json()}):
                        break
                elif msg.type == WSMsgType.ERROR:
                    log.info("web socket closed with an error: %r", ws.exception())
        finally:
            self._sockets.discard(ws)
            self._transports.pop(ws, None)
            still_open = self._open.get(conversation_id)
            if still_open is not None:
                still_open.discard(ws)
                if not still_open:
                    del self._open[conversation_id]
        return ws

    # ------------------------------------------------------------------ push (PushTarget)

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """``PushTarget``: store ``messages`` in the conversation's transcript, then send them to its open sockets.

        Stored first, so a widget that is offline (or reloads) finds them in its history; open sockets get
        a ``{"type": "bot", "messages": [...], "pushed": true}`` frame at once.

        Raises:
            PushFailed: the conversation has never written (unknown id) or the gateway database is down.
        """
        rendered = render_messages(messages)
        if self.backlog.has(sender_id):  # its kept lines first, so the pushed one is stored after them
            async with self._conversation_lock(sender_id):
                await self._write_kept(sender_id)
        try:
            known = await asyncio.to_thread(self.transcript.count, sender_id)
            if not known:
                raise PushFailed("this web conversation is unknown (it never wrote)")
            await asyncio.to_thread(self.transcript.record_pushed, sender_id, rendered)
        except SQLAlchemyError as exc:
            self.dispatcher.counts["web.transcript_error"] += 1
            raise PushFailed("the gateway database is unavailable, so the message was not stored") from exc
        # every gateway delivers it to the sockets of this conversation it holds (this one included)
        await self._shared.publish(PUSH_TOPIC, {"conversation_id": sender_id, "messages": rendered})

    async def _deliver_pushed(self, payload: dict[str, Any]) -> None:
        """Send a pushed message (published by any gateway) to this gateway's sockets of its conversation."""
        for ws in list(self._open.get(str(payload.get("conversation_id")), ())):
            await _send(ws, {"type": "bot", "messages": payload.get("messages") or [], "pushed": True})

    async def _answer_frame(self, ws: web.WebSocketResponse, conversation_id: str, address: str, data: str) -> bool:
        """Answer one client frame, whatever goes wrong: one bad frame never closes the customer's socket.

        Returns:
            False once the socket can no longer be written.
        """
        try:
            return await self._handle_frame(ws, conversation_id, address, data)
        except Exception:  # the boundary: counted, logged (without the frame) and answered, never a dead socket
            self.dispatcher.counts["web.frame_error"] += 1
            log.exception("a web socket frame could not be answered")
            return await _send(
                ws,
                {
                    "type": "error",
                    "error": "something went wrong on our side; please send your message again",
                    "code": "internal_error",
                },
            )

    async def _handle_frame(self, ws: web.WebSocketResponse, conversation_id: str, address: str, data: str) -> bool:
        """Answer one client frame; return False once the socket can no longer be written."""
        echo: dict[str, Any] = {}
        try:
            if len(data) > self.limits.max_body_bytes:
                raise WebInputError(
                    413,
                    "body_too_large",
                    f"the frame is too large (the limit is {self.limits.max_body_bytes} characters)",
                    limit=self.limits.max_body_bytes,
                )
            frame = decode_json(data)
            echo = _echo_id(frame)
            if frame_type(frame) == "history":
                return await _send(ws, {"type": "history", **await self._history(conversation_id, address)})
            parsed = parse_web_message(frame, self.limits, conversation_id=conversation_id)
        except WebInputError as exc:
            return await _send(ws, {"type": "error", **exc.to_json(), **echo})
        except TranscriptUnavailable as exc:
            err = describe_web_error(exc)
            return await _send(ws, {"type": "error", "error": err.message, "code": err.code})
        if not await _send(ws, {"type": "typing", **echo}):
            return False
        try:
            messages, replayed = await self.answer(parsed, address, lambda: not ws.closed)
        except WebInputError as exc:  # rate limited
            return await _send(ws, {"type": "error", **exc.to_json(), **echo})
        except GatewayError as exc:
            err = describe_web_error(exc)
            refused: dict[str, Any] = {"type": "error", "error": err.message, "code": err.code, **echo}
            if isinstance(exc, Busy):
                refused["retry_after"] = exc.retry_after
            return await _send(ws, refused)
        frame_out: dict[str, Any] = {"type": "bot", "messages": messages, **echo}
        if echo:
            frame_out["replayed"] = replayed
        return await _send(ws, frame_out)

    # ------------------------------------------------------------------ answering

    async def answer(
        self, parsed: WebInbound, address: str, still_wanted: Callable[[], bool] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Answer one web message exactly once per client message id.

        A message whose id is already answered gets the stored replies (``replayed`` True) without
        asking rasa or counting against the rate limits. Otherwise the rate limits are charged, the
        message is recorded, sent to rasa and its replies stored; when the gateway database cannot take
        those writes they are kept and written when it is back (``connectors.web.backlog``). Messages of
        one conversation are answered one at a time, so a resend that arrives while the first copy is still with rasa
        waits for it and is then replayed. The work runs in its own task: a client that disconnects
        mid-answer does not cut it short, and its resend finds the stored replies.

        Args:
            parsed: the parsed message.
            address: the client's address (for the per-address limit).
            still_wanted: False once the client has gone: a message still waiting for its turn toward rasa
                is then dropped (``connectors.admission``); one already with rasa is answered and stored.

        Returns:
            The rendered bot messages and whether they were replayed from the transcript.

        Raises:
            RateLimited: the conversation or address is over its limit.
            GatewayError: rasa failed (the message is marked failed, so a resend retries it).
        """
        # Shielded: a client that goes away does not cancel an answer rasa is already working on.
        return await asyncio.shield(self._tasks.spawn(self._answer(parsed, address, still_wanted)))

    async def _answer(
        self, parsed: WebInbound, address: str, still_wanted: Callable[[], bool] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        conversation_id = parsed.message.sender_id
        client_id = parsed.client_message_id
        counts = self.dispatcher.counts
        async with self._conversation_lock(conversation_id):
            if client_id is not None:
                kept = self.backlog.answered(conversation_id, client_id)
                if kept is not None:  # answered during an outage, its replies not stored yet
                    counts["web.replayed"] += 1
                    return kept, True
            claim: Claim | None = None
            charged = False
            # With lines still waiting for the database this message queues behind them (the order of the
            # transcript is the order of the conversation), unless they can be written now.
            if not self.backlog.has(conversation_id) or await self._write_kept(conversation_id):
                try:
                    if client_id is not None:
                        stored = await asyncio.to_thread(self.transcript.answered, conversation_id, client_id)
                        if stored is not None:
                            counts["web.replayed"] += 1
                            return stored, True
                    await self._charge(conversation_id, address)
                    charged = True
                    claim = await asyncio.to_thread(
                        self.transcript.claim, conversation_id, client_id, parsed.transcript_body()
                    )
                except SQLAlchemyError:
                    # The turn goes on without the transcript: rasa answers a resend of the same client message id
                    # once (X-Message-ID), and the lines are written when the database is back.
                    counts["web.transcript_error"] += 1
                    log.warning("web transcript unavailable; the message is answered and its lines kept")
            if claim is None and not charged:
                await self._charge(conversation_id, address)
            elif claim is not None and claim.status == "answered":  # recorded by another gateway process meanwhile
                counts["web.replayed"] += 1
                return claim.replies, True
            key = resend_key.set(f"web:{conversation_id}/{client_id}" if client_id else "")
            try:
                # The address is the message's source: failed order checks are counted per source.
                replies = await self.dispatcher.dispatch(
                    replace(parsed.message, source=web_source(address)), still_wanted
                )
            except GatewayError:
                await self._store(
                    KeptLine(
                        conversation_id,
                        client_id,
                        None if claim else parsed.transcript_body(),
                        "failed",
                        row_id=claim.row_id if claim else None,
                    )
                )
                raise
            finally:
                resend_key.reset(key)
            rendered = render_messages(replies)
            await self._store(
                KeptLine(
                    conversation_id,
                    client_id,
                    None if claim else parsed.transcript_body(),
                    "answered",
                    rendered,
                    row_id=claim.row_id if claim else None,
                )
            )
            return rendered, False

    async def record_customer_item(
        self, conversation_id: str, client_message_id: str | None, body: dict[str, Any]
    ) -> int | None:
        """Store a photo or rating the customer sent as an answered ``user`` line, after the conversation's kept
        lines, or keep it until the database is back (connectors.web.feedback).

        Returns:
            Its row id, or None while it is kept.
        """
        async with self._conversation_lock(conversation_id):
            return await self._store(KeptLine(conversation_id, client_message_id, body, "answered"))

    async def _store(self, line: KeptLine) -> int | None:
        """Write ``line`` now, or keep it (behind the conversation's kept lines) for :meth:`_write_backlog`.

        Never raises for the database: the customer's turn is answered either way. Called under the
        conversation's lock.

        Returns:
            The customer row's id, or None when the line was kept (or dropped).
        """
        counts = self.dispatcher.counts
        if not self.backlog.has(line.conversation_id):
            try:
                return await asyncio.to_thread(self.transcript.store_kept, line)
            except SQLAlchemyError:
                counts["web.transcript_error"] += 1
                log.warning("could not store a web transcript line; kept until the database is back")
        if self.backlog.keep(line):
            counts["web.transcript_kept"] += 1
            self._backlog_wake.set()
        else:
            counts["web.transcript_dropped"] += 1
            log.error("web transcript backlog full (%d lines): a line was not stored", self.backlog.limit)
        return None

    async def _write_kept(self, conversation_id: str) -> bool:
        """Write the conversation's kept lines, oldest first, until the database fails (caller holds its lock).

        Returns:
            Whether none is left.
        """
        while (line := self.backlog.first(conversation_id)) is not None:
            try:
                await asyncio.to_thread(self.transcript.store_kept, line)
            except SQLAlchemyError:
                return False
            self.backlog.done(line)
            self.dispatcher.counts["web.transcript_recovered"] += 1
        return True

    async def _write_backlog(self) -> None:
        """Background task: whenever lines are kept, try to write them, backing off while the database is away.

        A plain loop rather than a retry library: it is woken by new lines, retries all conversations together and
        runs until the gateway stops (tenacity is not in the gateway's environment).
        """
        first, longest = BACKLOG_RETRY
        while True:
            await self._backlog_wake.wait()
            pause = first
            while len(self.backlog):
                for conversation_id in self.backlog.conversations():
                    async with self._conversation_lock(conversation_id):
                        if not await self._write_kept(conversation_id):
                            break  # still away: try again after the pause
                if len(self.backlog):
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, longest)
            self._backlog_wake.clear()

    async def _start_backlog(self, _app: web.Application) -> None:
        self._backlog_task = asyncio.create_task(self._write_backlog(), name="web-transcript-backlog")

    async def _stop_backlog(self) -> None:
        """Last try to write kept lines at shutdown; what is still kept is lost, counted and logged."""
        if self._backlog_task is not None:
            self._backlog_task.cancel()
            await asyncio.gather(self._backlog_task, return_exceptions=True)
            self._backlog_task = None
        for conversation_id in self.backlog.conversations():
            if not await self._write_kept(conversation_id):
                break
        if lost := len(self.backlog):
            self.dispatcher.counts["web.transcript_lost"] += lost
            log.error("the gateway stops with %d web transcript lines it could not write", lost)

    async def _charge(self, conversation_id: str, address: str) -> None:
        """Count a message against both limits, or raise RateLimited without counting it.

        With several gateways (shared state in Redis) the limits hold across all of them too.
        """

        now = self._clock()
        wait_conversation = self._per_conversation.retry_after(conversation_id, now)
        wait_address = self._per_address.retry_after(address, now)
        if self._shared.distributed and not (wait_conversation or wait_address):
            settings = self.settings
            wait_conversation = await self._shared.retry_after(
                "web.conversation", conversation_id, settings.rate_per_conversation, settings.rate_window
            )
            if not wait_conversation:
                wait_address = await self._shared.retry_after(
                    "web.address", address, settings.rate_per_address, settings.rate_window
                )
        if wait_conversation or wait_address:
            self.dispatcher.counts["web.rate_limited"] += 1
            scope = "conversation" if wait_conversation >= wait_address else "address"
            raise RateLimited(whole_seconds(max(wait_conversation, wait_address)), scope)
        self._per_conversation.record(conversation_id, now)
        self._per_address.record(address, now)

    @asynccontextmanager
    async def _conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    async def _history(self, conversation_id: str, address: str) -> dict[str, Any]:
        now = self._clock()
        wait = self._history_per_address.retry_after(address, now)
        if wait:
            self.dispatcher.counts["web.rate_limited"] += 1
            raise RateLimited(whole_seconds(wait), "address")
        self._history_per_address.record(address, now)
        if self.backlog.has(conversation_id):  # lines kept through an outage belong in it: write them first
            async with self._conversation_lock(conversation_id):
                await self._write_kept(conversation_id)
        try:
            rows, truncated = await asyncio.to_thread(
                self.transcript.history, conversation_id, self.settings.history_limit
            )
        except SQLAlchemyError as exc:
            self.dispatcher.counts["web.transcript_error"] += 1
            log.exception("web transcript unavailable; no history")
            raise TranscriptUnavailable("the gateway database is unavailable") from exc
        return {"conversation_id": conversation_id, "entries": history_entries(rows), "truncated": truncated}

    # ------------------------------------------------------------------ origins, addresses

    def _client_address(self, request: web.Request) -> str:
        # X-Forwarded-For only from a configured trusted proxy (GATEWAY_TRUSTED_PROXIES), never otherwise.
        return request_address(request, self.settings.trusted_proxies)

    def _origin_allowed(self, origin: str, request: web.Request) -> bool:
        own = own_origins(self.public_urls, local_port(request))
        return origin_allowed(origin, own, self.allowed_origins)

    def _check_origin(self, request: web.Request) -> None:
        """Refuse browsers on pages not allowed to embed the chat; non-browsers send no Origin."""
        origin = request.headers.get("Origin")
        if origin is None or self._origin_allowed(origin, request):
            return
        raise WebInputError(
            403,
            "origin_not_allowed",
            f"origin {origin} may not use this chat (the gateway's GATEWAY_ALLOWED_ORIGINS does not list it)",
        )

    async def _cors_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Let allowed origins read API answers (errors included); others get no CORS headers."""
        if not request.path.startswith(API_PREFIX):
            return
        vary = response.headers.get("Vary")
        response.headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
        origin = request.headers.get("Origin")
        if origin is not None and self._origin_allowed(origin, request):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Retry-After"

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        await self._tasks.drain(timeout=5)  # let answers in flight be stored before the database goes away
        await self._stop_backlog()

    def drop_connections(self) -> int:
        """Cut every open WebSocket's TCP connection without a close handshake, as a network drop would.

        Used by the browser tests to prove the widget reconnects without losing or repeating messages.

        Returns:
            How many connections were cut.
        """
        transports = [t for t in self._transports.values() if t is not None and not t.is_closing()]
        for transport in transports:
            transport.abort()
        return len(transports)


def _example_text(example: DemoExample | None) -> bytes:
    """The demo page's suggested case (escaped), read from the order store so it always verifies; nothing when
    the order store has no demo case."""
    if example is None:
        return b""
    return (
        f", for example ask where order <strong>{html.escape(example.order_number)}</strong> is and give "
        f"<strong>{html.escape(example.email)}</strong> when asked"
    ).encode()


def _product_items(products: Sequence[Any]) -> bytes:
    """The demo page's product list items (every text escaped); a note when the catalogue cannot be read."""
    if not products:
        return b'<li class="empty">The catalogue cannot be read right now; the assistant still answers.</li>'
    items = []
    for p in products:
        image = p.image_url if isinstance(p.image_url, str) and p.image_url.startswith(("/", "https://")) else None
        image = image or f"/media/products/{p.sku}.svg"
        price = f"\u00a3{p.price:.2f}"
        items.append(
            "<li>"
            f'<img src="{html.escape(image)}" alt="" width="320" height="320" loading="lazy">'
            f"<h3>{html.escape(p.title)}</h3>"
            f'<p class="brand">{html.escape(p.brand)} \u00b7 {html.escape(p.category)}</p>'
            f'<p class="price">{html.escape(price)}</p>'
            f'<button type="button" data-shop-assistant-ask="{html.escape(f"Do you have the {p.title} in stock?")}">'
            f'Ask about it<span class="vh"> ({html.escape(p.title)})</span></button>'
            "</li>"
        )
    return "".join(items).encode("utf-8")


def _connected(request: web.Request) -> Callable[[], bool]:
    """Whether the HTTP client is still there (aiohttp drops the transport once the peer closed)."""

    def connected() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return connected


def _echo_id(frame: object) -> dict[str, Any]:
    """``{"client_message_id": id}`` when a frame carries a valid one, so errors can name the message."""
    if not isinstance(frame, dict):
        return {}
    try:
        client_id = parse_client_message_id(frame.get("client_message_id"))
    except WebInputError:
        return {}
    return {"client_message_id": client_id} if client_id else {}


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> bool:
    """Send a JSON frame; return False if the client has gone."""
    if ws.closed:
        return False
    try:
        await ws.send_json(frame)
    except ConnectionError:
        return False
    return True
