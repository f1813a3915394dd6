"""Pure translation between web-channel JSON and the normalized model; used by connectors.web.channel."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from connectors import safejson
from connectors.errors import GatewayError
from connectors.models import InboundMessage, OutboundMessage
from connectors.origins import normalize_origin
from connectors.rich import page_json
from connectors.text import clean_payload, clean_typed_text
from store.core import iso_utc

CHANNEL = "web"
CONVERSATION_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


class WebInputError(GatewayError):
    """A web client sent something we cannot accept; carries the HTTP status and a clear reason."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        limit: int | None = None,
    ) -> None:
        """Describe the problem.

        Args:
            status: HTTP status (400, 413, 415...).
            code: stable machine-readable code.
            message: a sentence for the client.
            field: the offending JSON field, if any.
            limit: the limit that was exceeded, if any.
        """
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.limit = limit

    def to_json(self) -> dict[str, Any]:
        """Return the error body: ``{"error", "code", "field"?, "limit"?}``."""
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.field is not None:
            body["field"] = self.field
        if self.limit is not None:
            body["limit"] = self.limit
        return body


@dataclass(frozen=True, slots=True)
class WebLimits:
    """Limits on what a web client may send.

    Attributes:
        max_message_chars: longest ``text`` or ``payload``, in characters.
    """

    max_message_chars: int = 2000

    @property
    def max_body_bytes(self) -> int:
        """Largest request body or WebSocket frame: room for the longest message, fully escaped."""
        return max(16 * 1024, self.max_message_chars * 12 + 1024)


def decode_json(raw: bytes | str) -> object:
    """Decode a request body or a WebSocket frame (bounded: see :mod:`connectors.safejson`).

    Args:
        raw: the bytes (must be UTF-8) or text.

    Returns:
        The decoded JSON value.

    Raises:
        WebInputError: 400 ``invalid_json`` if it is not UTF-8 JSON, or is nested too deeply, or holds a
            huge number.
    """
    try:
        return safejson.loads(raw)
    except safejson.JsonRejected as exc:
        raise WebInputError(400, "invalid_json", str(exc)) from None


def parse_conversation_id(value: object) -> str:
    """Validate a client-generated conversation id.

    Args:
        value: the raw value from the body or the query string.

    Returns:
        The id (8-64 characters from ``A-Z a-z 0-9 _ -``).

    Raises:
        WebInputError: 400 naming ``conversation_id``.
    """
    if value is None or value == "":
        raise WebInputError(400, "missing_field", "conversation_id is required", field="conversation_id")
    if not isinstance(value, str) or not CONVERSATION_ID_RE.fullmatch(value):
        raise WebInputError(
            400,
            "invalid_field",
            "conversation_id must be 8-64 characters from A-Z, a-z, 0-9, '_' and '-'",
            field="conversation_id",
        )
    return value


def inbound_from_json(
    body: object,
    limits: WebLimits,
    *,
    conversation_id: str | None = None,
) -> InboundMessage:
    """Build an InboundMessage from a POST body or a WebSocket frame.

    Args:
        body: decoded JSON: ``{"conversation_id"?, "text": str}`` or ``{"conversation_id"?, "payload": str}``.
        limits: the web limits.
        conversation_id: the already validated id (WebSocket); when None, it is read from ``body``.

    Returns:
        The normalized message for channel ``web``. Typed text is cleaned
        (see :func:`connectors.text.clean_typed_text`); payloads must start with ``/``.

    Raises:
        WebInputError: 400 for a missing/invalid field, 413 for a message over the limit.
    """
    if not isinstance(body, dict):
        raise WebInputError(400, "invalid_json", "the body must be a JSON object")
    if conversation_id is None:
        conversation_id = parse_conversation_id(body.get("conversation_id"))
    text, payload = body.get("text"), body.get("payload")
    if text is not None and payload is not None:
        raise WebInputError(
            400,
            "invalid_field",
            "send either text or payload, not both",
            field="payload",
        )
    if text is None and payload is None:
        raise WebInputError(400, "missing_field", "text (or payload) is required", field="text")
    field = "text" if text is not None else "payload"
    raw = text if text is not None else payload
    if not isinstance(raw, str):
        raise WebInputError(400, "invalid_field", f"{field} must be a string", field=field)
    if len(raw) > limits.max_message_chars:
        raise WebInputError(
            413,
            "too_long",
            f"{field} is too long ({len(raw)} characters; the limit is {limits.max_message_chars})",
            field=field,
            limit=limits.max_message_chars,
        )
    if field == "text":
        cleaned = clean_typed_text(raw)
        if not cleaned:
            raise WebInputError(400, "invalid_field", "text is empty", field="text")
        return InboundMessage(CHANNEL, conversation_id, text=cleaned)
    cleaned = clean_payload(raw)
    if not cleaned.startswith("/") or len(cleaned) < 2:
        raise WebInputError(
            400,
            "invalid_field",
            "payload must be a button payload starting with '/'",
            field="payload",
        )
    return InboundMessage(CHANNEL, conversation_id, payload=cleaned)


def render_messages(messages: Iterable[OutboundMessage]) -> list[dict[str, Any]]:
    """Render bot messages as web JSON (``text``, ``buttons``, ``image``, ``attachment``, ``custom``).

    Product cards arrive checked (``connectors.rich.page_json``); the widget draws them.

    Args:
        messages: the bot messages.

    Returns:
        One JSON object per message.
    """
    return page_json(messages)


@dataclass(frozen=True, slots=True)
class WebInbound:
    """A parsed web message: the normalized message plus what only the web channel needs.

    Attributes:
        message: the normalized message for rasa.
        client_message_id: the client's id for this message (dedupes resends), if it sent one.
        shown: what the transcript shows for it: the text, or the pressed button's title
            (the payload when the client sent no title).
    """

    message: InboundMessage
    client_message_id: str | None
    shown: str

    def transcript_body(self) -> dict[str, Any]:
        """The ``user`` row body: ``{"text"}`` or ``{"text": title, "payload"}``."""
        if self.message.payload is not None:
            return {"text": self.shown, "payload": self.message.payload}
        return {"text": self.shown}


def parse_client_message_id(value: object) -> str | None:
    """Validate an optional client message id (same alphabet and length as conversation ids).

    Raises:
        WebInputError: 400 naming ``client_message_id``.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not CONVERSATION_ID_RE.fullmatch(value):
        raise WebInputError(
            400,
            "invalid_field",
            "client_message_id must be 8-64 characters from A-Z, a-z, 0-9, '_' and '-'",
            field="client_message_id",
        )
    return value


def parse_web_message(
    body: object,
    limits: WebLimits,
    *,
    conversation_id: str | None = None,
) -> WebInbound:
    """Parse a POST body or a WebSocket message frame, with the optional web-only fields.

    Besides what :func:`inbound_from_json` reads: ``client_message_id`` (optional, see
    :func:`parse_client_message_id`) and ``title`` (optional, the pressed button's title, shown in
    the history; only with ``payload``, at most ``limits.max_message_chars``, cleaned like text).

    Raises:
        WebInputError: as :func:`inbound_from_json`, and for a bad ``client_message_id`` or ``title``.
    """
    message = inbound_from_json(body, limits, conversation_id=conversation_id)
    assert isinstance(body, dict)  # inbound_from_json refused anything else
    client_message_id = parse_client_message_id(body.get("client_message_id"))
    shown = message.text or message.payload or ""
    title = body.get("title")
    if title is not None:
        if message.payload is None:
            raise WebInputError(400, "invalid_field", "title goes with a payload only", field="title")
        if not isinstance(title, str) or len(title) > limits.max_message_chars:
            raise WebInputError(
                400,
                "invalid_field",
                f"title must be a string of at most {limits.max_message_chars} characters",
                field="title",
            )
        shown = clean_typed_text(title) or shown
        if clean_typed_text(title):
            # the button's title goes along: a press the assistant did not offer is read as this text
            message = replace(message, text=clean_typed_text(title))
    return WebInbound(message, client_message_id, shown)


def frame_type(frame: object) -> str:
    """The kind of a client WebSocket frame: ``message`` (no ``type``) or ``history``.

    Raises:
        WebInputError: 400 ``invalid_frame`` for another ``type``.
    """
    if isinstance(frame, dict) and "type" in frame:
        kind = frame["type"]
        if kind in ("message", "history"):
            return str(kind)
        raise WebInputError(
            400,
            "invalid_frame",
            'type must be "message" or "history" (or left out for a message)',
            field="type",
        )
    return "message"


def history_entries(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Render transcript rows (``connectors.web.transcript.WebMessage``) for the client.

    Returns:
        ``{"id", "role": "user", "text", "payload"?, "client_message_id"?, "status", "photo"?, "rating"?}`` for
        what the customer sent and ``{"id", "role": "bot", "reply_to"?, "message": {...}}`` for each bot
        message (the same shape as in ``bot`` frames); each with ``at`` (ISO 8601, UTC) when it was stored.
    """
    entries: list[dict[str, Any]] = []
    for row in rows:
        entry: dict[str, Any] = {"id": row.id, "role": row.role}
        if getattr(row, "created_at", None) is not None:
            entry["at"] = _iso(row.created_at)
        if row.role == "user":
            entry["text"] = row.body.get("text", "")
            if row.body.get("payload"):
                entry["payload"] = row.body["payload"]
            for kind in ("photo", "rating"):  # a photo sent, a rating given (not sent to rasa)
                if isinstance(row.body.get(kind), dict):
                    entry[kind] = row.body[kind]
            if row.client_message_id:
                entry["client_message_id"] = row.client_message_id
            entry["status"] = row.status
        else:
            if row.reply_to:
                entry["reply_to"] = row.reply_to
            entry["message"] = row.body
        entries.append(entry)
    return entries


def _iso(moment: datetime) -> str:
    return iso_utc(moment)


def origin_allowed(origin: str, own: frozenset[str], allowed: frozenset[str]) -> bool:
    """Whether a browser ``Origin`` may use the web API: one of the gateway's own origins or a listed one.

    Whole origins are compared (scheme, host and port; ``connectors.origins.normalize_origin``), never the
    ``Host`` header a request names: a rebound host name (DNS rebinding) is not the gateway.

    Args:
        origin: the request's ``Origin`` header.
        own: the gateway's own origins (``connectors.origins.own_origins``).
        allowed: normalized origins from ``GATEWAY_ALLOWED_ORIGINS``.
    """
    normalized = normalize_origin(origin)
    return normalized is not None and (normalized in own or normalized in allowed)


class RateLimited(WebInputError):
    """A conversation or client address sent more messages than its limit allows (429)."""

    def __init__(self, retry_after: int, scope: str) -> None:
        """Describe the limit.

        Args:
            retry_after: whole seconds until the next message is accepted.
            scope: ``conversation`` or ``address``: which limit was hit.
        """
        super().__init__(
            429,
            "rate_limited",
            f"You're sending messages faster than the assistant can answer. "
            f"Please wait {retry_after} second{'s' if retry_after != 1 else ''} and try again.",
        )
        self.retry_after = retry_after
        self.scope = scope

    def to_json(self) -> dict[str, Any]:
        """The error body plus ``retry_after`` (seconds)."""
        return {**super().to_json(), "retry_after": self.retry_after}
