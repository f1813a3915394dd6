"""Shared plumbing for the custom actions: the order store handle and reply formatting helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker

from store.normalize import normalize_order_number
from store.service import OrderStore

_store: OrderStore | None = None


def get_store() -> OrderStore:
    """The process-wide order store, built on first use from the environment's settings."""
    global _store
    if _store is None:
        _store = OrderStore.from_settings()
    return _store


def set_store(store: OrderStore | None) -> None:
    """Use `store` for every action (tests); `None` goes back to building one from settings."""
    global _store
    _store = store


def conversation_id(tracker: Tracker) -> str:
    """The id the store keys verification and grants by: one per conversation."""
    return tracker.sender_id


def current_order(tracker: Tracker) -> str | None:
    """The canonical order number in the `order_number` slot, if any."""
    return normalize_order_number(tracker.get_slot("order_number") or "")


def verified_order(tracker: Tracker) -> str | None:
    """The order number this conversation has proved it may see, or None."""
    number = current_order(tracker)
    if number and get_store().is_verified(conversation_id(tracker), number):
        return number
    return None


def latest_entity(tracker: Tracker, name: str) -> str | None:
    """The value of entity `name` in the latest user message, falling back to the slot of that name."""
    value = next(tracker.get_latest_entity_values(name), None)
    if value is None:
        value = tracker.slots.get(name)
    return str(value) if value not in (None, "") else None


def money(amount: Decimal | float | int | None, currency: str = "GBP") -> str:
    """`Decimal("12.5")` -> `£12.50`; other currencies keep their code."""
    if amount is None:
        return "-"
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency)
    value = f"{Decimal(amount):,.2f}"
    return f"{symbol}{value}" if symbol else f"{value} {currency}"


def day(value: date | datetime | None) -> str:
    """A date people read at a glance: `Tue 3 Dec 2026`."""
    if value is None:
        return "unknown"
    return f"{value:%a} {value.day} {value:%b %Y}"


def when(value: datetime | None) -> str:
    """A timestamp with the time of day: `Tue 3 Dec 2026, 14:05`."""
    if value is None:
        return "unknown"
    return f"{day(value)}, {value:%H:%M}"


def humanize(status: str) -> str:
    """`payment_failed` -> `payment failed`."""
    return status.replace("_", " ")


def join_words(items: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


GATEWAY_CHANNELS = frozenset({"web", "tablet", "telegram", "slack"})


@dataclass(frozen=True)
class ChannelContext:
    """What the gateway vouches for about the latest message (see docs/CONTRACTS.md, "Metadata").

    Attributes:
        channel: ``web``, ``tablet``, ``telegram``, ``slack``; ``rest``/``unknown`` for other callers.
        trusted: True only when the message came through the gateway input channel, whose
            bearer token proves the metadata was set by the gateway, not typed by a client.
        store_id: the physical store of an in-store tablet (``tablet`` only).
        staff_id: the staff member's platform id (``slack`` staff on the allowlist only).
        staff_role: their role (``staff``, ``manager``...), None for customers.
    """

    channel: str
    trusted: bool = False
    store_id: str | None = None
    staff_id: str | None = None
    staff_role: str | None = None

    @property
    def is_staff(self) -> bool:
        """A staff member the gateway recognised (never true for untrusted metadata)."""
        return self.trusted and self.staff_role is not None


def channel_context(tracker: Tracker) -> ChannelContext:
    """The trusted channel context of the latest user message.

    Metadata is trusted only when rasa received the message on a gateway channel: the gateway
    input channel sets the input channel to the metadata's ``channel``, and Rasa's ``rest``
    channel (which anyone on the host can call, with any metadata) always reports ``rest``.
    """
    latest: dict[str, Any] = tracker.latest_message.get("metadata") or {}
    input_channel = tracker.get_latest_input_channel() or ""
    channel = str(latest.get("channel") or input_channel or "unknown")
    trusted = input_channel in GATEWAY_CHANNELS and latest.get("channel") == input_channel
    if not trusted:
        return ChannelContext(channel=input_channel or channel)

    def text(key: str) -> str | None:
        value = latest.get(key)
        return str(value) if isinstance(value, (str, int)) and str(value) else None

    staff = latest.get("staff") if isinstance(latest.get("staff"), dict) else {}
    return ChannelContext(
        channel=channel,
        trusted=True,
        store_id=text("store_id"),
        staff_id=str(staff["id"]) if staff.get("id") else None,
        staff_role=str(staff["role"]) if staff.get("role") else None,
    )


def channel_of(tracker: Tracker) -> str:
    """The channel the gateway said this conversation comes from (metadata), else the input channel."""
    metadata: dict[str, Any] = tracker.get_slot("session_started_metadata") or {}
    latest = tracker.latest_message.get("metadata") or {}
    return str(latest.get("channel") or metadata.get("channel") or tracker.get_latest_input_channel() or "unknown")
