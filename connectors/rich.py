"""The ``custom`` payloads' wire shapes (docs/CONTRACTS.md) read once; every channel's renderer draws from them.

Rasa's actions and the gateway put rich content in a bot message's ``custom`` object. Its shapes are declared
here as TypedDicts, and :func:`layout` turns one answer into what every channel draws: product cards parsed
into :class:`ProductCard` (invalid ones dropped), the messages to show as they are, and none of the plain
per-product messages rasa sends after the cards for text-only channels (they would show each product twice).
Telegram, Slack, the web widget and the tablet render from :func:`layout`; the dispatcher and ``offers`` read
payload types and card buttons here too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict, cast

from connectors.models import Button, OutboundMessage

#: The title of a card's button when the card has only a ``payload``.
CARD_BUTTON_TITLE = "Tell me more"
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


class ButtonJSON(TypedDict):
    """A button as JSON: what a person reads and the payload sent back."""

    title: str
    payload: str


class ProductJSON(TypedDict, total=False):
    """One product of ``product_cards`` (``actions/products.py``); only ``title`` is required to draw a card."""

    sku: str
    title: str
    brand: str
    category: str
    price: str
    price_text: str
    currency: str
    image: str
    url: str
    reason: str
    final_sale: bool
    text: str
    buttons: list[ButtonJSON]
    payload: str
    in_store: int


class ProductCardsJSON(TypedDict):
    """``{"type": "product_cards", "products": [...]}``: cards on every channel; text fallback sent after."""

    type: Literal["product_cards"]
    products: list[ProductJSON]


class HandoffJSON(TypedDict):
    """``{"type": "handoff", ...}``: a conversation was handed to a person; for staff only (never shown)."""

    type: Literal["handoff"]
    ticket: str
    reason: str
    summary: NotRequired[str]
    order_number: NotRequired[str | None]
    customer: NotRequired[str]


class StaffCallJSON(TypedDict):
    """``{"type": "staff_call", ...}``: a tablet shopper asked for a staff member (the summary is for staff)."""

    type: Literal["staff_call"]
    store_id: str
    ticket: str
    summary: str


class StaffCallStatusJSON(TypedDict):
    """The tablet's answer to a ``staff_call``: whether Slack or the console's queue took it."""

    type: Literal["staff_call_status"]
    delivered: bool
    queued: bool
    ticket: str


class RatingRequestJSON(TypedDict):
    """``{"type": "rating_request", "ticket"?}``: the widget draws stars; other channels show the text."""

    type: Literal["rating_request"]
    ticket: NotRequired[str]


class AgentMessageJSON(TypedDict):
    """A person's reply relayed from Slack (pushed)."""

    type: Literal["agent_message"]
    agent: str
    text: str


class AgentJoinedJSON(TypedDict):
    """A person picked the ticket up (pushed)."""

    type: Literal["agent_joined"]
    agent: str
    ticket: str


class HandoffResolvedJSON(TypedDict):
    """A person resolved the ticket, in Slack or the console (pushed); the widget asks for a rating."""

    type: Literal["handoff_resolved"]
    ticket: str


CustomJSON = (
    ProductCardsJSON
    | HandoffJSON
    | StaffCallJSON
    | StaffCallStatusJSON
    | RatingRequestJSON
    | AgentMessageJSON
    | AgentJoinedJSON
    | HandoffResolvedJSON
)


@dataclass(frozen=True, slots=True)
class ProductCard:
    """One product card as every channel draws it.

    Attributes:
        title: the product's name (a card without one is not drawn).
        brand: its brand, or "".
        price: the price as shown (``price_text``, else the amount with its currency), or "".
        final_sale: the product cannot be returned.
        image: picture URL or gateway path, or "".
        url: product page, or "".
        reason: why it is suggested, or "".
        buttons: what can be pressed (the card's buttons, else one for its ``payload``).
        raw: the product as it arrived, for the web and tablet pages (which draw the same fields).
    """

    title: str
    brand: str
    price: str
    final_sale: bool
    image: str
    url: str
    reason: str
    buttons: tuple[Button, ...]
    raw: ProductJSON

    @property
    def headline(self) -> str:
        """``"Title by Brand"``."""
        return f"{self.title} by {self.brand}" if self.brand else self.title

    @property
    def price_line(self) -> str:
        """The price, marked ``(final sale)`` when it cannot be returned."""
        return self.price + (" (final sale)" if self.price and self.final_sale else "")

    def to_json(self) -> ProductJSON:
        """The product for the web and tablet pages: the fields it arrived with, buttons normalized."""
        out: ProductJSON = {**self.raw, "title": self.title}
        out["buttons"] = [ButtonJSON(title=b.title, payload=b.payload) for b in self.buttons]
        return out


@dataclass(frozen=True, slots=True)
class Cards:
    """A ``product_cards`` message in :func:`layout`: its valid cards, how many products were not (no title),
    and the message (for its text, if any)."""

    cards: tuple[ProductCard, ...]
    dropped: int
    message: OutboundMessage


def custom_type(message: OutboundMessage) -> str | None:
    """The ``type`` of the message's custom payload, or None."""
    kind = message.custom.get("type") if isinstance(message.custom, Mapping) else None
    return kind if isinstance(kind, str) else None


def product_cards(message: OutboundMessage) -> tuple[ProductCard, ...] | None:
    """The cards of a ``product_cards`` message (invalid products dropped); None for any other message."""
    custom = message.custom
    if custom_type(message) != "product_cards" or custom is None:
        return None
    products = custom.get("products")
    if not isinstance(products, list):
        return ()
    return tuple(card for card in (parse_card(p) for p in products) if card is not None)


def parse_card(product: object) -> ProductCard | None:
    """Read one product of ``product_cards``.

    Args:
        product: the JSON object (anything: rasa's payload is not trusted to be well formed).

    Returns:
        The card, or None when it is not an object with a non-empty title.
    """
    if not isinstance(product, Mapping):
        return None
    title = _text(product.get("title"))
    if not title:
        return None
    price = _text(product.get("price_text")) or _price(product.get("price"), product.get("currency"))
    return ProductCard(
        title=title,
        brand=_text(product.get("brand")),
        price=price,
        final_sale=product.get("final_sale") is True,
        image=_text(product.get("image")),
        url=_text(product.get("url")),
        reason=_text(product.get("reason")),
        buttons=_card_buttons(product),
        raw=cast(ProductJSON, dict(product)),
    )


def layout(messages: Iterable[OutboundMessage]) -> list[Cards | OutboundMessage]:
    """One answer as every channel draws it.

    A ``product_cards`` message becomes :class:`Cards`; a later message repeating a card's ``text``, or only
    its picture, is the text-only fallback and is left out. Everything else stays, in order; each channel
    decides how to draw (or skip) it.

    Args:
        messages: the bot messages of one answer, in order.

    Returns:
        Cards and messages, in order.
    """
    out: list[Cards | OutboundMessage] = []
    texts: set[str] = set()
    pictures: set[str] = set()
    for message in messages:
        cards = product_cards(message)
        if cards is not None:
            products = message.custom.get("products") if message.custom else None
            out.append(Cards(cards, len(products) - len(cards) if isinstance(products, list) else 0, message))
            texts.update(_text(card.raw.get("text")) for card in cards)
            pictures.update(card.image for card in cards if card.image)
            continue
        if message.text and message.text in texts:
            continue
        if message.image and message.image in pictures and not (message.text or message.buttons):
            continue
        out.append(message)
    return out


def page_json(messages: Iterable[OutboundMessage]) -> list[dict[str, Any]]:
    """Bot messages as the web widget and the tablet page receive them (``OutboundMessage.to_json``).

    The pages draw cards themselves and skip the text fallback the same way as :func:`layout`; what they get
    is the checked shape: only valid products, each with its ``buttons`` list. A ``product_cards`` message
    with no valid product and no text of its own is left out.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        data = message.to_json()
        cards = product_cards(message)
        if cards is not None:
            if not cards and not message.text:
                continue
            data["custom"] = ProductCardsJSON(type="product_cards", products=[card.to_json() for card in cards])
        out.append(data)
    return out


def card_payloads(message: OutboundMessage) -> list[str]:
    """Every payload a message's product cards can send (their buttons, or their ``payload``)."""
    return [button.payload for card in product_cards(message) or () for button in card.buttons]


def _card_buttons(product: Mapping[str, Any]) -> tuple[Button, ...]:
    raw = product.get("buttons")
    if isinstance(raw, list):
        return tuple(
            Button(item["title"].strip(), item["payload"])
            for item in raw
            if isinstance(item, Mapping)
            and isinstance(item.get("title"), str)
            and item["title"].strip()
            and isinstance(item.get("payload"), str)
            and item["payload"]
        )
    payload = product.get("payload")
    return (Button(CARD_BUTTON_TITLE, payload),) if isinstance(payload, str) and payload else ()


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _price(amount: object, currency: object) -> str:
    if amount in (None, "") or isinstance(amount, bool):
        return ""
    code = _text(currency) or "GBP"
    try:
        value = f"{float(str(amount)):,.2f}"
    except ValueError:
        return str(amount)
    symbol = _SYMBOLS.get(code)
    return f"{symbol}{value}" if symbol else f"{value} {code}"


__all__ = [
    "CARD_BUTTON_TITLE",
    "AgentJoinedJSON",
    "AgentMessageJSON",
    "ButtonJSON",
    "Cards",
    "CustomJSON",
    "HandoffJSON",
    "HandoffResolvedJSON",
    "ProductCard",
    "ProductCardsJSON",
    "ProductJSON",
    "RatingRequestJSON",
    "StaffCallJSON",
    "StaffCallStatusJSON",
    "card_payloads",
    "custom_type",
    "layout",
    "page_json",
    "parse_card",
    "product_cards",
]
