"""The normalized message model every channel connector speaks; pure and typed, used across the gateway."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import InvalidMessage

_CHANNEL_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_IMAGE_RE = re.compile(r"(https?://[^\s]+|/[^\s/][^\s]*)", re.IGNORECASE)
_LEADING_SLASHES = re.compile(r"^[\s/]+")


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One thing a customer said or pressed, on any channel.

    Attributes:
        channel: channel name (``web``, ``telegram``, ``slack``, ``tablet``).
        sender_id: the sender within that channel (web: the conversation id).
        text: what the customer typed, or the title of the button they pressed.
        payload: the pressed button's payload (e.g. ``/inform{"order_number":"ORD-100001"}``).
            When set, it is what rasa receives instead of ``text``.
        metadata: extra facts the connector adds (store id, staff...).
        source: who sent it, as the platform vouches (``connectors.source``): the web client's address, the
            tablet's device, the Slack user; None lets `connectors.source.source_of` derive it.
        payload_from_gateway: the gateway built ``payload`` itself (Telegram's ``/start``, the tablet's stock
            question), so it needs no offer; a payload a client sent is forwarded only if the assistant offered
            it (``connectors.offers``).
    """

    channel: str
    sender_id: str
    text: str | None = None
    payload: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    payload_from_gateway: bool = False

    def __post_init__(self) -> None:
        """Validate the fields.

        Raises:
            InvalidMessage: on an unknown-looking channel, empty sender or no content.
        """
        if not isinstance(self.channel, str) or not _CHANNEL_RE.fullmatch(self.channel):
            raise InvalidMessage(
                f"channel must be a short lower-case name, got {self.channel!r}"
            )
        if not isinstance(self.sender_id, str) or not self.sender_id:
            raise InvalidMessage("sender_id must be a non-empty string")
        for name in ("text", "payload"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidMessage(f"{name} must be a string or None")
        if not self.text and not self.payload:
            raise InvalidMessage("a message needs text or a payload")
        if not isinstance(self.metadata, Mapping):
            raise InvalidMessage("metadata must be a mapping")
        if self.source is not None and (not isinstance(self.source, str) or not 0 < len(self.source) <= 160):
            raise InvalidMessage("source must be a non-empty string of at most 160 characters")

    @property
    def conversation_id(self) -> str:
        """The rasa sender id: ``"{channel}:{sender_id}"``, unique across channels."""
        return f"{self.channel}:{self.sender_id}"

    @property
    def rasa_text(self) -> str:
        """What rasa receives as the user message: the payload if any, else the text.

        Text never starts with ``/`` here, whatever a channel forgot to clean: rasa would read it as an intent
        with entities (slots set by the client). Only a payload may, and the dispatcher let it through only
        because the assistant offered it (``connectors.offers``).
        """
        if self.payload:
            return self.payload
        return _LEADING_SLASHES.sub("", self.text or "")


@dataclass(frozen=True, slots=True)
class Button:
    """A reply button: the title a person sees and the payload sent back when pressed."""

    title: str
    payload: str

    def to_json(self) -> dict[str, str]:
        """Return the button as ``{"title", "payload"}``."""
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One bot message, mirroring what Rasa's CollectingOutputChannel produces.

    Attributes:
        text: message text.
        buttons: reply buttons, in order.
        image: image URL (``http(s)://...`` or a path on the gateway).
        attachment: attachment text/URL as rasa sends it.
        custom: a channel-specific JSON object (``custom`` in a response).
        recipient_id: the rasa sender id this answers, when rasa gave one.
    """

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    attachment: str | None = None
    custom: Mapping[str, Any] | None = None
    recipient_id: str | None = None

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to show (rasa sometimes sends an empty text)."""
        return not (
            self.text or self.buttons or self.image or self.attachment or self.custom
        )

    @classmethod
    def from_rasa(cls, data: object) -> OutboundMessage:
        """Parse one bot message dict as rasa returns it.

        Args:
            data: e.g. ``{"recipient_id": "web:abc", "text": "Hi", "buttons": [...]}``.

        Returns:
            The parsed message. Unknown keys are ignored; an empty text becomes None.

        Raises:
            InvalidMessage: if ``data`` is not a dict or a known key has the wrong shape.
        """
        if not isinstance(data, dict):
            raise InvalidMessage(
                f"a bot message must be a JSON object, got {type(data).__name__}"
            )
        text = _optional_str(data, "text") or None
        recipient_id = _optional_str(data, "recipient_id")
        attachment = _optional_str(data, "attachment") or None
        image = _optional_str(data, "image") or None
        if image is not None and not _IMAGE_RE.fullmatch(image):
            raise InvalidMessage(
                f"image must be an http(s) URL or a path, got {image[:80]!r}"
            )
        custom = data.get("custom")
        if custom is not None and not isinstance(custom, dict):
            raise InvalidMessage("custom must be a JSON object")
        raw_buttons = data.get("buttons")
        if raw_buttons is None:
            raw_buttons = []
        if not isinstance(raw_buttons, list):
            raise InvalidMessage("buttons must be a list")
        buttons = tuple(_parse_button(b, i) for i, b in enumerate(raw_buttons))
        return cls(
            text=text,
            buttons=buttons,
            image=image,
            attachment=attachment,
            custom=custom or None,
            recipient_id=recipient_id,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the message for channel clients: only the keys that are set, no recipient id."""
        out: dict[str, Any] = {}
        if self.text is not None:
            out["text"] = self.text
        if self.buttons:
            out["buttons"] = [b.to_json() for b in self.buttons]
        if self.image is not None:
            out["image"] = self.image
        if self.attachment is not None:
            out["attachment"] = self.attachment
        if self.custom is not None:
            out["custom"] = dict(self.custom)
        return out


def parse_rasa_reply(data: object) -> list[OutboundMessage]:
    """Parse the JSON list rasa's input channel answers with.

    Args:
        data: the decoded JSON body.

    Returns:
        The bot messages in order, without empty ones.

    Raises:
        InvalidMessage: if the body is not a list of well-formed bot messages.
    """
    if not isinstance(data, list):
        raise InvalidMessage(
            f"rasa's reply must be a JSON list, got {type(data).__name__}"
        )
    messages = []
    for index, item in enumerate(data):
        try:
            message = OutboundMessage.from_rasa(item)
        except InvalidMessage as exc:
            raise InvalidMessage(f"bot message {index}: {exc}") from exc
        if not message.is_empty:
            messages.append(message)
    return messages


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidMessage(f"{key} must be a string, got {type(value).__name__}")
    return value


def _parse_button(data: object, index: int) -> Button:
    if not isinstance(data, dict):
        raise InvalidMessage(f"button {index} must be a JSON object")
    title, payload = data.get("title"), data.get("payload")
    if not isinstance(title, str) or not title.strip():
        raise InvalidMessage(f"button {index} needs a non-empty string title")
    if not isinstance(payload, str) or not payload:
        raise InvalidMessage(f"button {index} needs a non-empty string payload")
    return Button(title=title, payload=payload)
