"""Pure translation between Telegram updates / Bot API calls and the normalized model; used by the channel.

Every Telegram quirk lives here: which updates are answered, the 64-byte ``callback_data`` limit, the
4096-character message and 1024-character caption limits, inline keyboards, product cards as photos.
Nothing here does I/O, so all of it is tested without a network.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from telegram import Update

from connectors.models import Button, InboundMessage, OutboundMessage
from connectors.rich import Cards, ProductCard, custom_type, layout
from connectors.text import clean_payload, clean_typed_text

CHANNEL = "telegram"

#: Telegram's limits, counted in UTF-16 code units like the Bot API counts them.
MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
#: callback_data is 1-64 *bytes*.
MAX_CALLBACK_BYTES = 64
#: Long payloads travel as this prefix plus a digest; real payloads start with ``/`` or text, never ``~``.
SHORT_ID_PREFIX = "~"

#: Which updates the bot asks Telegram for (others are never delivered).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

EDIT_REPLY = (
    "I only read new messages, so I did not see your edit. "
    "If something changed, please send it again as a new message."
)
UNSUPPORTED_REPLY = (
    "Sorry, I can only read text messages for now. Please type your question, "
    "or tell me if you'd like to talk to a person."
)
EXPIRED_BUTTON = "This button has expired. Please type your answer instead."
BUTTONS_ONLY_TEXT = "Please choose:"

_START = re.compile(r"/start(?:@\w+)?(?:\s.*)?", re.DOTALL)
#: What ``/start`` (the first message of every Telegram chat) means to rasa.
START_PAYLOAD = "/greet"

Kind = Literal["message", "button", "edited", "unsupported", "too_long", "ignored"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """What one update asks of the bot.

    Attributes:
        update_id: Telegram's id of the update (used to process each update once).
        kind: ``message`` (dispatch ``inbound``), ``button`` (answer the callback query, resolve
            ``callback_data``, then dispatch), ``edited`` / ``unsupported`` / ``too_long`` (answer
            politely without asking rasa), ``ignored`` (nothing to do; ``reason`` says why).
        chat_id: the private chat to answer in; None when there is none.
        inbound: the message for rasa (``message`` only).
        callback_query_id: the query to answer (``button``, and ``ignored`` callback queries).
        callback_data: the pressed button's data as Telegram returned it (``button`` only).
        button_title: the pressed button's title, when the keyboard is still known.
        length: the text length (``too_long`` only).
        reason: why an update is ignored (``channel_post``, ``group_chat``, ``service_message``...).
    """

    update_id: int
    kind: Kind
    chat_id: int | None = None
    inbound: InboundMessage | None = None
    callback_query_id: str | None = None
    callback_data: str | None = None
    button_title: str | None = None
    length: int = 0
    reason: str = ""


def utf16_len(text: str) -> int:
    """Length of ``text`` as Telegram counts it (UTF-16 code units: most emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def classify_update(update: Update, max_message_chars: int) -> Incoming:
    """Decide what an update asks for, without I/O.

    Only private chats are served: in a group several people would share one conversation, and
    with it each other's verified orders. Edited messages get :data:`EDIT_REPLY` (rasa already
    answered the original, and replaying an edit could act twice). Stickers, photos, voice notes
    and other content without text get :data:`UNSUPPORTED_REPLY`; a photo's caption counts as text.
    ``/start`` becomes the ``/greet`` intent; other typed text loses leading ``/`` so it can never
    set slots (see :func:`connectors.text.clean_typed_text`).

    Args:
        update: the update as python-telegram-bot parsed it.
        max_message_chars: the gateway's longest accepted message.

    Returns:
        The classified update.
    """
    uid = update.update_id
    chat = update.effective_chat
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or chat is None or not query.data:
            # inline-mode messages and games have no chat of ours: answer the query so the spinner stops
            return Incoming(uid, "ignored", callback_query_id=query.id, reason="callback_without_chat")
        if chat.type != "private":
            return Incoming(uid, "ignored", callback_query_id=query.id, reason="group_chat")
        return Incoming(
            uid,
            "button",
            chat_id=chat.id,
            callback_query_id=query.id,
            callback_data=query.data,
            button_title=_button_title(update, query.data),
        )
    if update.message is None and update.edited_message is None:
        return Incoming(uid, "ignored", reason=_update_type(update))
    if chat is None or chat.type != "private":
        return Incoming(uid, "ignored", reason="group_chat")
    if update.edited_message is not None:
        return Incoming(uid, "edited", chat_id=chat.id)
    message = update.message
    assert message is not None  # checked above; for the type checker
    raw = message.text if message.text is not None else message.caption
    if raw is None:
        if message.effective_attachment is None:
            return Incoming(uid, "ignored", reason="service_message")
        return Incoming(uid, "unsupported", chat_id=chat.id)
    if len(raw) > max_message_chars:
        return Incoming(uid, "too_long", chat_id=chat.id, length=len(raw))
    if message.text is not None and _START.fullmatch(raw.strip()):
        inbound = InboundMessage(CHANNEL, str(chat.id), text="/start", payload=START_PAYLOAD, payload_from_gateway=True)
        return Incoming(uid, "message", chat_id=chat.id, inbound=inbound)
    text = clean_typed_text(raw)
    if not text:
        return Incoming(uid, "unsupported", chat_id=chat.id)
    return Incoming(uid, "message", chat_id=chat.id, inbound=InboundMessage(CHANNEL, str(chat.id), text=text))


def button_inbound(chat_id: int, payload: str, title: str | None = None) -> InboundMessage:
    """The message for rasa when a button is pressed.

    Args:
        chat_id: the private chat.
        payload: the button's payload (already resolved from a short id).
        title: the button's title, shown in transcripts.

    Returns:
        A payload message for ``/...`` payloads; other payloads are treated as typed text.
    """
    cleaned = clean_payload(payload)
    if cleaned.startswith("/") and len(cleaned) > 1:
        return InboundMessage(CHANNEL, str(chat_id), text=title, payload=cleaned)
    return InboundMessage(CHANNEL, str(chat_id), text=clean_typed_text(payload) or title or "?")


def too_long_reply(length: int, limit: int) -> str:
    """What a customer is told when a message is over the gateway's limit."""
    return (
        f"Sorry, that message is too long for me ({length} characters). "
        f"Please keep it under {limit} characters."
    )


def callback_data_for(payload: str) -> str:
    """The ``callback_data`` of a button: the payload itself when it fits in 64 bytes, else a short id.

    The short id is a digest of the payload, so the same payload always gets the same id and the
    server-side table of long payloads grows only with distinct payloads.

    Args:
        payload: the button's payload.

    Returns:
        At most 64 bytes.
    """
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(SHORT_ID_PREFIX):
        return payload
    digest = hashlib.sha256(payload.encode("utf-8")).digest()
    return SHORT_ID_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def is_short_id(data: str) -> bool:
    """True when ``data`` is a short id made by :func:`callback_data_for` (it must be looked up)."""
    return data.startswith(SHORT_ID_PREFIX)


@dataclass(frozen=True, slots=True)
class BotCall:
    """One Bot API call, as JSON parameters (what the fake API records, too).

    Attributes:
        method: Bot API method (``sendMessage``, ``sendPhoto``).
        params: its parameters; ``reply_markup`` is the inline keyboard as a dict.
    """

    method: str
    params: dict[str, Any]


@dataclass
class Rendering:
    """The calls answering one turn, and what could not be shown.

    Attributes:
        calls: Bot API calls in the order they must be made.
        long_payloads: short id -> payload for buttons whose payload is over 64 bytes; they must be
            stored before the calls are made, so a press can be resolved.
        skipped: one reason per thing not shown (``custom:<type>``, ``image_not_public``, ``card_invalid``).
    """

    calls: list[BotCall] = field(default_factory=list)
    long_payloads: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split ``text`` into pieces Telegram accepts, at paragraph, line or word boundaries when possible.

    Args:
        text: the text.
        limit: the longest piece, in UTF-16 code units.

    Returns:
        Non-empty pieces, in order; their concatenation keeps every word.
    """
    pieces: list[str] = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            pieces.append(rest)
            break
        cut = _fit(rest, limit)
        window = rest[:cut]
        for separator in ("\n\n", "\n", " "):
            at = window.rfind(separator)
            if at > cut // 2:
                cut = at
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in pieces if p]


def _fit(text: str, limit: int) -> int:
    """The largest prefix length of ``text`` within ``limit`` UTF-16 units (never splits a code point)."""
    units = 0
    for index, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return max(index, 1)
    return len(text)


def truncate(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` UTF-16 units, marking the cut with an ellipsis."""
    if utf16_len(text) <= limit:
        return text
    return text[: _fit(text, limit - 1)].rstrip() + "…"


def keyboard(buttons: Sequence[Button], data_for: Callable[[str], str] = callback_data_for) -> dict[str, Any]:
    """An inline keyboard: short titles share a row (up to 3 buttons, 30 characters), long ones get their own.

    Args:
        buttons: the buttons, in order.
        data_for: payload -> callback_data.

    Returns:
        ``{"inline_keyboard": [[{"text", "callback_data"}, ...], ...]}``.
    """
    rows: list[list[dict[str, str]]] = []
    row_chars = 0
    for button in buttons:
        key = {"text": button.title, "callback_data": data_for(button.payload)}
        title_len = len(button.title)
        if rows and len(rows[-1]) < 3 and row_chars + title_len <= 30 and title_len <= 20:
            rows[-1].append(key)
            row_chars += title_len
        else:
            rows.append([key])
            row_chars = title_len if title_len <= 20 else 31
    return {"inline_keyboard": rows}


def is_public_image(image: str) -> bool:
    """True for an http(s) URL Telegram can fetch itself (a gateway path is not reachable from Telegram)."""
    return image.lower().startswith(("http://", "https://"))


def render(chat_id: int, messages: Iterable[OutboundMessage]) -> Rendering:
    """Turn rasa's bot messages into Bot API calls, drawn from :func:`connectors.rich.layout`.

    - text -> ``sendMessage`` (split at 4096 characters; the keyboard goes on the last piece);
    - buttons -> an inline keyboard; payloads over 64 bytes travel as a short id
      (:func:`callback_data_for`) listed in ``long_payloads``;
    - image -> ``sendPhoto`` (with the message's text as caption when it fits in 1024 characters);
      images that are gateway paths are skipped (Telegram cannot fetch them);
    - product cards -> one ``sendPhoto`` per card, caption title and price, the card's buttons as its
      keyboard (``layout`` leaves out the plain per-product messages sent for text-only channels);
    - other ``custom`` payloads are skipped (listed in ``skipped``);
    - ``attachment`` -> its text as a message.

    Args:
        chat_id: the chat to answer in.
        messages: the bot messages, in order.

    Returns:
        The calls and what was skipped.
    """
    out = Rendering()

    def data_for(payload: str) -> str:
        data = callback_data_for(payload)
        if data != payload:
            out.long_payloads[data] = payload
        return data

    for part in layout(messages):
        if isinstance(part, Cards):
            out.calls.extend(_card_call(chat_id, card, data_for) for card in part.cards)
            out.skipped.extend(["card_invalid"] * part.dropped)
            message = part.message
        else:
            message = part
            if message.custom is not None:
                out.skipped.append(f"custom:{custom_type(message) or 'untyped'}")
        if message.text or message.image or message.buttons or message.attachment:
            out.calls.extend(_message_calls(chat_id, message, data_for, out.skipped))
    return out


def _message_calls(
    chat_id: int, message: OutboundMessage, data_for: Callable[[str], str], skipped: list[str]
) -> list[BotCall]:
    calls: list[BotCall] = []
    text = message.text or ""
    if message.attachment:
        text = f"{text}\n{message.attachment}".strip()
    markup = keyboard(message.buttons, data_for) if message.buttons else None
    image = message.image
    if image and not is_public_image(image):
        skipped.append("image_not_public")
        image = None
    if image and utf16_len(text) <= MAX_CAPTION_CHARS:
        params: dict[str, Any] = {"chat_id": chat_id, "photo": image}
        if text:
            params["caption"] = text
        if markup:
            params["reply_markup"] = markup
        return [BotCall("sendPhoto", params)]
    if image:
        calls.append(BotCall("sendPhoto", {"chat_id": chat_id, "photo": image}))
    if not text.strip() and markup:
        text = BUTTONS_ONLY_TEXT
    pieces = split_text(text)
    for index, piece in enumerate(pieces):
        params = {"chat_id": chat_id, "text": piece}
        if markup and index == len(pieces) - 1:
            params["reply_markup"] = markup
        calls.append(BotCall("sendMessage", params))
    return calls


def card_caption(card: ProductCard) -> str:
    """A product card's caption: the title (with its brand), then the price."""
    lines = [card.headline] + ([card.price_line] if card.price_line else [])
    return truncate("\n".join(lines), MAX_CAPTION_CHARS)


def _card_call(chat_id: int, card: ProductCard, data_for: Callable[[str], str]) -> BotCall:
    params: dict[str, Any] = {"chat_id": chat_id}
    if card.image and is_public_image(card.image):
        method = "sendPhoto"
        params.update(photo=card.image, caption=card_caption(card))
    else:
        method = "sendMessage"
        params["text"] = card_caption(card)
    if card.buttons:
        params["reply_markup"] = keyboard(card.buttons, data_for)
    return BotCall(method, params)


def _button_title(update: Update, data: str) -> str | None:
    """The title of the pressed button, read from the message's keyboard (absent for old messages)."""
    query = update.callback_query
    message = getattr(query, "message", None)
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for key in row:
            if key.callback_data == data:
                return str(key.text)
    return None


def _update_type(update: Update) -> str:
    kinds = [k for k in update.to_dict() if k != "update_id"]
    return kinds[0] if kinds else "empty"
