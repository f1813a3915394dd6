"""The web widget's photos and ratings: ``/api/web/attachments`` and ``/api/web/ratings`` (set up by the web channel).

A customer attaches a photo (a damaged item, a wrong shade) to their return or complaint: the bytes are
checked and re-encoded without metadata (``connectors.web.photos``), kept in the order store with the
conversation's open ticket or its return (``store.feedback``), shown in the conversation's history, posted
into the ticket's Slack thread when the desk relays it, and listed for staff in the console. Only the
conversation that sent a photo can fetch it here: the conversation id (the customer's secret) travels in the
``X-Conversation-Id`` header, never in a URL; another conversation, no id and a made-up photo id all get the
same 404. A rating (1-5 and an optional comment) is taken once per subject, and only where the assistant
asked for one (its goodbye, or a person resolving a hand-off).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from connectors.keys import HANDOFF_KEY
from connectors.web.photos import MAX_BYTES, PhotoRejected, check_photo
from connectors.web.ratelimit import SlidingWindowLimiter, whole_seconds
from connectors.web.transcript import Transcript
from connectors.web.translate import (
    RateLimited,
    WebInputError,
    decode_json,
    parse_client_message_id,
    parse_conversation_id,
)
from store.db import make_engine
from store.feedback import AlreadyRated, CustomerFeedback, NotRateable, PhotoNotFound
from store.settings import Settings as StoreSettings

log = logging.getLogger(__name__)

CONVERSATION_HEADER = "X-Conversation-Id"
CLIENT_ID_HEADER = "X-Client-Message-Id"
PHOTOS_PER_HOUR = 10
MAX_COMMENT_CHARS = 1000


class WebFeedback:
    """Routes for photos and ratings; needs the order store (``shop_db_url``) and the web transcript."""

    def __init__(
        self,
        shop_db_url: str | None,
        *,
        check_origin: Callable[[web.Request], None],
        counts: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
        max_photo_bytes: int = MAX_BYTES,
        source_of: Callable[[web.Request], str] | None = None,
        ratings_limit: tuple[int, float] = (5, 3600.0),
        shared: Callable[[], Any] | None = None,
    ) -> None:
        """Configure the routes.

        Args:
            shop_db_url: the order store.
            check_origin: the web channel's browser-origin check (403 for pages not allowed to embed the chat).
            counts: returns the dispatcher's counters (set up later than this object).
            clock: monotonic seconds for the photo and rating limits.
            max_photo_bytes: the largest upload read.
            source_of: the client source of a request (``connectors.source.web_source`` of its address).
            ratings_limit: ratings per source and window seconds (``WebSettings.ratings_per_source``).
            shared: returns the gateways' shared state (Redis), so the ratings limit holds across gateways.
        """
        self._url = shop_db_url
        self._check_origin = check_origin
        self._counts = counts
        self._clock = clock
        self.max_photo_bytes = max_photo_bytes
        self._photos_per_conversation = SlidingWindowLimiter(PHOTOS_PER_HOUR, 3600.0)
        self._source_of = source_of or (lambda request: f"web:ip:{request.remote or 'unknown'}")
        self._ratings_limit = ratings_limit
        self._ratings_per_source = SlidingWindowLimiter(*ratings_limit)
        self._shared = shared
        self._engine: Engine | None = None
        self._transcript: Transcript | None = None
        self._app: web.Application | None = None
        self._record_item: Callable[[str, str | None, dict[str, Any]], Awaitable[int | None]] | None = None

    def setup(
        self,
        app: web.Application,
        transcript: Transcript,
        record_item: Callable[[str, str | None, dict[str, Any]], Awaitable[int | None]],
    ) -> None:
        """Add the routes to ``app``; ``record_item`` stores a photo or rating line in the transcript, or keeps it
        until the database is back (``WebChannel.record_customer_item``)."""
        self._transcript = transcript
        self._record_item = record_item
        self._app = app
        app.router.add_post("/api/web/attachments", self.upload)
        app.router.add_get("/api/web/attachments/{photo_id}", self.download)
        app.router.add_post("/api/web/ratings", self.rate)
        for path in ("/api/web/attachments", "/api/web/ratings"):
            app.router.add_route("OPTIONS", path, self.preflight)
        app.on_cleanup.append(self._close)

    # ------------------------------------------------------------------ order store

    def _feedback(self) -> Any:
        if self._engine is None:
            url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._url or ""}).database_url
            self._engine = make_engine(url)
        return CustomerFeedback(sessionmaker(self._engine, expire_on_commit=False))

    async def _close(self, _app: web.Application) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def record_item(self) -> Callable[[str, str | None, dict[str, Any]], Awaitable[int | None]]:
        """Stores a photo or rating line in the transcript (after :meth:`setup`)."""
        if self._record_item is None:
            raise RuntimeError("WebFeedback.setup() has not been called")
        return self._record_item

    @property
    def transcript(self) -> Transcript:
        """The web transcript (after :meth:`setup`)."""
        if self._transcript is None:
            raise RuntimeError("WebFeedback.setup() has not been called")
        return self._transcript

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight: the custom headers these routes read are allowed for allowed origins."""
        if request.headers.get("Origin") is None:
            raise WebInputError(400, "not_a_preflight", "OPTIONS here is a CORS preflight and needs an Origin")
        self._check_origin(request)
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                "Access-Control-Allow-Headers": f"Content-Type, {CONVERSATION_HEADER}, {CLIENT_ID_HEADER}",
                "Access-Control-Max-Age": "600",
            },
        )

    async def _known_conversation(self, conversation_id: str) -> None:
        """Photos and ratings belong to a conversation that has written (so nobody fills the store blindly)."""
        try:
            known = await asyncio.to_thread(self.transcript.count, conversation_id)
        except SQLAlchemyError as exc:
            raise WebInputError(
                503, "transcript_unavailable", "the chat cannot take this just now, please try again in a moment"
            ) from exc
        if not known:
            raise WebInputError(404, "unknown_conversation", "send a message first: this conversation has not started")

    # ------------------------------------------------------------------ photos

    async def upload(self, request: web.Request) -> web.Response:
        """``POST /api/web/attachments``: the photo's bytes as the body (``image/jpeg``, ``image/png``, ``image/webp``).

        Headers: ``X-Conversation-Id`` (required), ``X-Client-Message-Id`` (optional; a resend is answered
        from the first upload). The body is read up to the limit, checked by decoding it and re-encoded.

        Returns:
            201 ``{"photo": {"id", "width", "height", "content_type", "ticket", "rma"}, "entry": {...}}``
            (``entry`` as in the history); 400/413/415 for a bad photo, 404 for a conversation that never
            wrote, 429 over 10 photos an hour, 503 when the order store cannot keep it.
        """
        self._check_origin(request)
        conversation_id = parse_conversation_id(request.headers.get(CONVERSATION_HEADER))
        client_id = parse_client_message_id(request.headers.get(CLIENT_ID_HEADER))
        raw = await self._read_capped(request)
        await self._known_conversation(conversation_id)
        now = self._clock()
        wait = self._photos_per_conversation.retry_after(conversation_id, now)
        if wait:
            exc = RateLimited(whole_seconds(wait), "conversation")
            return web.json_response(exc.to_json(), status=429, headers={"Retry-After": str(exc.retry_after)})
        try:
            photo = await asyncio.to_thread(check_photo, raw, max_bytes=self.max_photo_bytes)
        except PhotoRejected as exc:
            self._counts()["web.photo_rejected"] += 1
            raise WebInputError(exc.status, exc.code, exc.message) from None
        sender = f"web:{conversation_id}"
        try:
            kept = await asyncio.to_thread(
                lambda: self._feedback().add_photo(
                    sender, "web", photo.data, photo.content_type, photo.width, photo.height
                )
            )
        except SQLAlchemyError as exc:
            log.exception("could not keep a customer's photo")
            raise WebInputError(
                503, "store_unavailable", "the photo could not be saved just now, please try again"
            ) from exc
        self._photos_per_conversation.record(conversation_id, now)
        self._counts()["web.photos"] += 1
        described = {
            "id": kept.photo_id,
            "width": kept.width,
            "height": kept.height,
            "content_type": kept.content_type,
            "ticket": kept.ticket_number,
            "rma": kept.rma_number,
        }
        shown = "Photo" + (
            f" for {kept.ticket_number}" if kept.ticket_number else f" for {kept.rma_number}" if kept.rma_number else ""
        )
        row_id = await self.record_item(conversation_id, client_id, {"text": shown, "photo": described})
        await self._to_slack_thread(kept, photo.data)
        entry: dict[str, Any] = {"id": row_id, "role": "user", "text": shown, "status": "answered", "photo": described}
        if client_id:
            entry["client_message_id"] = client_id
        return web.json_response({"photo": described, "entry": entry}, status=201)

    async def _rating_wait(self, source: str) -> float:
        """Seconds until ``source`` may rate again (0.0: now). Only kept ratings count against it here; with
        shared state (several gateways) Redis counts each allowed attempt across all of them too."""
        wait = self._ratings_per_source.retry_after(source, self._clock())
        shared = self._shared() if self._shared is not None else None
        if not wait and shared is not None and shared.distributed:
            wait = await shared.retry_after("web.ratings", source, *self._ratings_limit)
        return wait

    async def _read_capped(self, request: web.Request) -> bytes:
        if request.content_type not in ("image/jpeg", "image/png", "image/webp", "application/octet-stream"):
            raise WebInputError(
                415, "unsupported_media_type", "send the photo's bytes as image/jpeg, image/png or image/webp"
            )
        length = request.content_length
        if length is not None and length > self.max_photo_bytes:
            raise WebInputError(
                413,
                "photo_too_large",
                f"the photo is larger than {self.max_photo_bytes // (1024 * 1024)} MB: send a smaller one",
            )
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_photo_bytes:
                raise WebInputError(
                    413,
                    "photo_too_large",
                    f"the photo is larger than {self.max_photo_bytes // (1024 * 1024)} MB: send a smaller one",
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def _to_slack_thread(self, kept: Any, data: bytes) -> None:
        """Put the photo in the Slack thread of its ticket, when the desk relays that ticket."""
        if kept.ticket_number is None or self._app is None:
            return
        desk = self._app.get(HANDOFF_KEY)
        if desk is None:
            return
        case = await asyncio.to_thread(desk.state.get, kept.ticket_number)
        if case is None or not case.slack_channel or not case.slack_ts:
            return
        extension = kept.content_type.split("/")[1].replace("jpeg", "jpg")
        try:
            await desk.client.files_upload_v2(
                channel=case.slack_channel,
                thread_ts=case.slack_ts,
                content=data,
                filename=f"{kept.ticket_number}-photo-{kept.photo_id}.{extension}",
                title=f"Photo from the customer ({kept.ticket_number})",
                initial_comment="The customer sent a photo.",
            )
            await asyncio.to_thread(
                desk.state.add_event, kept.ticket_number, "photo", desk.now(), "the customer sent a photo", "customer"
            )
            self._counts()["web.photo_to_slack"] += 1
        except Exception as exc:  # noqa: BLE001 - Slack's errors vary; the photo is kept and in the console either way
            self._counts()["web.photo_to_slack_failed"] += 1
            log.warning("could not post photo %s to the Slack thread of %s: %s", kept.photo_id, kept.ticket_number, exc)

    async def download(self, request: web.Request) -> web.Response:
        """``GET /api/web/attachments/{id}`` with ``X-Conversation-Id``: the photo, for the conversation that sent it.

        Anything else (no id, another conversation, an unknown or malformed photo id) is the same 404, so a
        guessed URL learns nothing. Never cached by shared caches, never framed or run as a document.
        """
        self._check_origin(request)
        raw_id = request.match_info["photo_id"]
        missing = WebInputError(404, "not_found", "no such photo")
        try:
            conversation_id = parse_conversation_id(request.headers.get(CONVERSATION_HEADER))
        except WebInputError:
            raise missing from None
        if not raw_id.isdigit() or len(raw_id) > 18:
            raise missing
        try:
            found = await asyncio.to_thread(self._feedback().photo, int(raw_id))
        except PhotoNotFound:
            raise missing from None
        except SQLAlchemyError as exc:
            raise WebInputError(503, "store_unavailable", "the photo cannot be read just now") from exc
        if found.info.conversation_id != f"web:{conversation_id}":
            self._counts()["web.photo_refused"] += 1
            raise missing
        return web.Response(
            body=found.data,
            content_type=found.info.content_type,
            headers={
                "Cache-Control": "private, no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cross-Origin-Resource-Policy": "same-site",
            },
        )

    # ------------------------------------------------------------------ ratings

    async def rate(self, request: web.Request) -> web.Response:
        """``POST /api/web/ratings`` ``{"conversation_id", "score": 1-5, "comment"?, "ticket"?, "client_message_id"?}``.

        Returns:
            201 ``{"rating": {"score", "subject", "outcome"}, "entry": {...}}``; 400 for a bad score or comment,
            404 ``not_asked`` when the assistant did not ask this conversation for this rating, 409
            ``already_rated`` the second time, 429 (``Retry-After``) past ``ratings_limit`` ratings from one
            client source, 503 when the order store cannot keep it.
        """
        self._check_origin(request)
        if request.content_type != "application/json":
            raise WebInputError(415, "unsupported_media_type", "send the body as application/json")
        body = decode_json(await request.read())
        if not isinstance(body, dict):
            raise WebInputError(400, "invalid_json", "the body must be a JSON object")
        conversation_id = parse_conversation_id(body.get("conversation_id"))
        client_id = parse_client_message_id(body.get("client_message_id"))
        score = body.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise WebInputError(400, "invalid_field", "score must be a whole number from 1 to 5", field="score")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS):
            raise WebInputError(
                400, "invalid_field", f"comment must be text of at most {MAX_COMMENT_CHARS} characters", field="comment"
            )
        ticket = body.get("ticket")
        if ticket is not None and (not isinstance(ticket, str) or not ticket.startswith("HO-") or len(ticket) > 16):
            raise WebInputError(400, "invalid_field", "ticket must be a ticket number like HO-000123", field="ticket")
        subject = ticket or "conversation"
        try:
            asked = await asyncio.to_thread(self.transcript.rating_offered, conversation_id, subject)
        except SQLAlchemyError as exc:
            raise WebInputError(503, "transcript_unavailable", "the rating cannot be saved just now") from exc
        if not asked:
            raise WebInputError(404, "not_asked", "this conversation was not asked for that rating")
        source = self._source_of(request)
        wait = await self._rating_wait(source)
        if wait:
            self._counts()["web.rating_rate_limited"] += 1
            limited = RateLimited(whole_seconds(wait), "address")
            return web.json_response(limited.to_json(), status=429, headers={"Retry-After": str(limited.retry_after)})
        try:
            rating = await asyncio.to_thread(
                lambda: self._feedback().rate(
                    f"web:{conversation_id}", "web", score, comment if isinstance(comment, str) else None, subject
                )
            )
        except AlreadyRated:
            raise WebInputError(409, "already_rated", "thank you, this was rated already") from None
        except NotRateable as exc:
            raise WebInputError(404, "not_asked", str(exc)) from None
        except SQLAlchemyError as exc:
            log.exception("could not keep a rating")
            raise WebInputError(503, "store_unavailable", "the rating cannot be saved just now") from exc
        self._ratings_per_source.record(source, self._clock())
        self._counts()["web.ratings"] += 1
        described = {"score": rating.score, "subject": rating.subject, "outcome": rating.outcome}
        shown = f"Rated {rating.score} out of 5"
        row_id = await self.record_item(conversation_id, client_id, {"text": shown, "rating": described})
        entry: dict[str, Any] = {"id": row_id, "role": "user", "text": shown, "status": "answered", "rating": described}
        return web.json_response({"rating": described, "entry": entry}, status=201)
