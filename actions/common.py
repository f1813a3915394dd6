"""Shared plumbing for the custom actions: the order store handle, what the gateway vouches for, reply helpers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rasa_sdk import Tracker

from connectors.claims import CLAIM_KEY, Claim, ClaimError, verify_claim
from store.accounts import CustomerAccounts
from store.normalize import normalize_order_number, normalize_rma
from store.service import OrderStore

logger = logging.getLogger(__name__)

_store: OrderStore | None = None
_claims_secret: str | None = None


def get_store() -> OrderStore:
    """The process-wide order store, built on first use from the environment's settings."""
    global _store
    if _store is None:
        _store = OrderStore.from_settings()
    return _store


def accounts() -> CustomerAccounts:
    """The accounts API on the actions' order store (same database and clock)."""
    return CustomerAccounts.of(get_store())


def set_store(store: OrderStore | None) -> None:
    """Use `store` for every action (tests); `None` goes back to building one from settings."""
    global _store
    _store = store


def conversation_id(tracker: Tracker) -> str:
    """The id the store keys verification and grants by: one per conversation."""
    return tracker.sender_id


def current_order(tracker: Tracker) -> str | None:
    """The canonical order number in the `order_number` slot, if any.

    An RMA number that belongs to no return stands for itself there (`OrderStore.case_key`): it is asked for a
    proof and checked like an order number that does not exist, and no proof ever opens it.
    """
    value = tracker.get_slot("order_number") or ""
    return normalize_order_number(value) or normalize_rma(value)


def verified_order(tracker: Tracker) -> str | None:
    """The order number this conversation has proved it may see, or None."""
    number = current_order(tracker)
    if number and get_store().is_verified(conversation_id(tracker), number):
        return number
    return None


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


def claims_secret() -> str:
    """``GATEWAY_CLAIMS_SECRET``, read once; empty means no claim can be believed."""
    global _claims_secret
    if _claims_secret is None:
        _claims_secret = os.environ.get("GATEWAY_CLAIMS_SECRET", "").strip()
        if not _claims_secret:
            logger.error(
                "GATEWAY_CLAIMS_SECRET is not set: no message is trusted (no staff, no tablet shop); `make run` sets it"
            )
    return _claims_secret


def set_claims_secret(secret: str | None) -> None:
    """Use ``secret`` to check claims (tests); None reads ``GATEWAY_CLAIMS_SECRET`` again on next use."""
    global _claims_secret
    _claims_secret = secret


@dataclass(frozen=True)
class ChannelContext:
    """What the gateway vouches for about the latest message (see docs/CONTRACTS.md, "Metadata").

    Attributes:
        channel: ``web``, ``tablet``, ``telegram``, ``slack``; ``rest``/``unknown`` for other callers.
        trusted: True only when the message carries a claim the gateway signed for this conversation
            (``connectors.claims``), unexpired, for the channel rasa received it on. Plain metadata
            proves nothing: rasa's HTTP API and a forged action call can write any.
        store_id: the physical store of an in-store tablet (``tablet`` only).
        staff_id: the staff member's platform id (``slack`` staff on the allowlist only).
        staff_role: their role (``staff``, ``manager``...), None for customers.
        source: who sent it (the web client's address, the tablet, the Telegram or Slack user), for
            counting failed proofs; None when untrusted.
    """

    channel: str
    trusted: bool = False
    store_id: str | None = None
    staff_id: str | None = None
    staff_role: str | None = None
    source: str | None = None

    @property
    def is_staff(self) -> bool:
        """A staff member the gateway recognised (never true for untrusted metadata)."""
        return self.trusted and self.staff_role is not None


def _claim(tracker: Tracker, input_channel: str) -> Claim | None:
    """The latest message's claim if it can be believed, else None (and a log line saying why)."""
    metadata: dict[str, Any] = tracker.latest_message.get("metadata") or {}
    token = metadata.get(CLAIM_KEY) if isinstance(metadata, dict) else None
    try:
        claim = verify_claim(claims_secret(), token, sender=tracker.sender_id)
    except ClaimError as error:
        if token is not None or input_channel in GATEWAY_CHANNELS:
            # Never the conversation id: a web conversation id is the customer's bearer secret.
            logger.warning("ignoring the metadata of a %s message: %s", input_channel or "unknown", error.reason)
        return None
    if claim.channel != input_channel or claim.channel not in GATEWAY_CHANNELS:
        logger.warning("ignoring a claim for channel %s on a %s message", claim.channel, input_channel or "unknown")
        return None
    return claim


def channel_context(tracker: Tracker) -> ChannelContext:
    """The trusted channel context of the latest user message.

    Only the gateway's signed claim is believed (``connectors.claims``); the plain metadata keys beside it
    (``channel``, ``staff``, ``store_id``) are for rasa and the console. Rasa's gateway channel sets the
    input channel to the metadata's ``channel``; a claim for another channel is refused too.
    """
    input_channel = tracker.get_latest_input_channel() or ""
    claim = _claim(tracker, input_channel)
    if claim is None:
        return ChannelContext(channel=input_channel or "unknown")
    return ChannelContext(
        channel=claim.channel,
        trusted=True,
        store_id=claim.store_id if claim.channel == "tablet" else None,
        staff_id=claim.staff_id if claim.channel == "slack" and claim.staff_role else None,
        staff_role=claim.staff_role if claim.channel == "slack" and claim.staff_id else None,
        source=claim.source,
    )


def channel_of(tracker: Tracker) -> str:
    """The channel the gateway vouched for on the latest message, else the conversation id's prefix."""
    context = channel_context(tracker)
    if context.trusted:
        return context.channel
    prefix, sep, _ = tracker.sender_id.partition(":")
    return prefix if sep and prefix in GATEWAY_CHANNELS else (context.channel or "unknown")
