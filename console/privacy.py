"""Retention and per-customer deletion (GDPR) across every database: rasa's tracker, the gateway's, the order store.

Called by ``python -m console retention`` and ``forget-customer``. Each part deletes through its owner's API:
the tracker and console index here (console.tracker), the order store through store.erasure, and the gateway's
copies through each channel's state (web transcripts, tablet sessions and kept messages, Slack reply targets,
Telegram button payloads, the hand-off relay's cases).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, inspect, or_, select
from sqlalchemy.orm import Session, sessionmaker

from connectors.handoff.state import HandoffState
from connectors.slack.state import ReplyTargets
from connectors.tablet.devices import TabletRegistry
from connectors.telegram.state import CallbackStore
from connectors.web.transcript import Transcript
from console.models import ConsoleConversation, ConsoleConversationText
from console.queries import _like
from console.tracker import Indexer, delete_conversations
from store import erasure
from store.core import opt_aware

FORGOTTEN = erasure.FORGOTTEN


@dataclass
class DeletionReport:
    """What a privacy command deleted."""

    conversations: list[str] = field(default_factory=list)
    events_deleted: int = 0
    customer_found: bool | None = None
    channel_identities_deleted: list[str] = field(default_factory=list)
    access_grants_deleted: int = 0
    verification_attempts_deleted: int = 0
    handoff_tickets_anonymised: int = 0
    handoff_relay_cases_anonymised: int = 0
    notifications_deleted: int = 0
    return_drafts_deleted: int = 0
    orders_anonymised: int = 0
    customer_anonymised: bool = False
    gateway_rows_deleted: dict[str, int] = field(default_factory=dict)
    photos_deleted: int = 0
    rating_comments_blanked: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (printed by the CLI)."""
        return asdict(self)


def _has(sessions: sessionmaker[Session], table: str) -> bool:
    with sessions() as session:
        return inspect(session.connection()).has_table(table)


def forget_gateway_copies(
    sessions: sessionmaker[Session],
    conversations: Iterable[str],
    *,
    needles: Iterable[str] = (),
    before: datetime | None = None,
) -> dict[str, int]:
    """Delete what the gateway kept of these conversations (and, with ``before``, of any older one).

    Args:
        sessions: gateway database sessions.
        conversations: ``"{channel}:{id}"`` conversation ids.
        needles: texts that tie a stored Telegram button payload to the customer (payloads name no chat).
        before: the retention cut-off (naive UTC), or None.

    Returns:
        Rows deleted per table.
    """
    ids = sorted(set(conversations))
    by_channel: dict[str, list[str]] = {}
    for conversation in ids:
        channel, _, external = conversation.partition(":")
        by_channel.setdefault(channel, []).append(external)
    deleted: dict[str, int] = {}
    if _has(sessions, "web_messages"):
        aware = opt_aware(before)
        deleted["web_messages"] = Transcript(sessions).forget(by_channel.get("web", []), before=aware)
    if _has(sessions, "tablet_outbox"):
        deleted["tablet_outbox"] = TabletRegistry(sessions).forget_sessions(by_channel.get("tablet", []), before=before)
    if _has(sessions, "slack_reply_targets"):
        aware = opt_aware(before)
        deleted["slack_reply_targets"] = ReplyTargets(sessions).forget(
            [f"slack:{i}" for i in by_channel.get("slack", [])], before=aware
        )
    if _has(sessions, "telegram_callbacks"):
        aware = opt_aware(before)
        deleted["telegram_callbacks"] = CallbackStore(sessions).forget(needles, before=aware)
    return deleted


def retention(
    tracker: Engine,
    sessions: sessionmaker[Session],
    days: int,
    *,
    shop: Engine | None = None,
    now: float | None = None,
) -> DeletionReport:
    """Delete every conversation whose last activity is more than ``days`` days ago, everywhere.

    Args:
        tracker: rasa's tracker store.
        sessions: gateway database sessions (the index and the channels' copies).
        days: how many days to keep (at least 1).
        shop: the order store (its grants and attempts of those conversations go too); None skips it.
        now: the current time as a UNIX timestamp (tests pass one).

    Returns:
        Which conversations went and how many events.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    Indexer(tracker, sessions).refresh()
    cutoff = (time.time() if now is None else now) - days * 86400
    with sessions() as session:
        old = list(session.scalars(select(ConsoleConversation.sender_id).where(ConsoleConversation.last_ts < cutoff)))
    report = DeletionReport(conversations=sorted(old))
    before = datetime.fromtimestamp(cutoff, UTC).replace(tzinfo=None)
    report.gateway_rows_deleted = forget_gateway_copies(sessions, old, before=before)
    if _has(sessions, "handoff_cases"):
        report.handoff_relay_cases_anonymised = HandoffState(sessions).anonymise(old, (), FORGOTTEN)
    if shop is not None:
        report.access_grants_deleted = erasure.forget_conversations(sessionmaker(shop), old, before=before)
    report.events_deleted = delete_conversations(tracker, sessions, old)
    return report


def forget_customer(
    tracker: Engine, sessions: sessionmaker[Session], shop_engine: Engine, email: str
) -> DeletionReport:
    """Delete a customer everywhere: conversations, the gateway's copies, and their details in the order store.

    Their conversations are those the store ties to them (access grants and verification attempts on their
    orders, hand-off tickets, linked chats, news deliveries) and any conversation in which the customer
    wrote their email, their full name, a postcode of theirs or one of their order numbers. Those
    conversations are deleted from the tracker and the console's index (tags, notes, corrections), with the
    gateway's copies (web transcripts, tablet sessions and kept messages, Slack reply targets); Telegram
    button payloads naming them are deleted, and so are the photos they sent; their ratings lose their
    comments; hand-off cases and tickets keep their number but lose summary, customer, order number and
    relayed texts; the order store keeps the orders for the shop's
    accounts with the person's name, email and addresses overwritten (store/erasure.py).

    Args:
        tracker: rasa's tracker store.
        sessions: gateway database sessions.
        shop_engine: the order store.
        email: the customer's email address.

    Returns:
        The report.
    """
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    Indexer(tracker, sessions).refresh()
    report = DeletionReport()
    shop = sessionmaker(shop_engine)
    found = erasure.footprint(shop, email)
    report.customer_found = found.customer_id is not None
    needles = found.needles() or [email]
    senders = set(found.conversations)
    with sessions() as session:
        texts = ConsoleConversationText.search_text
        matching = or_(*(texts.like(_like(needle), escape="\\") for needle in needles))
        senders |= set(session.scalars(select(ConsoleConversationText.sender_id).where(matching)))
    erased = erasure.erase_customer(shop, found, senders)
    report.channel_identities_deleted = erased.channel_identities_deleted
    report.access_grants_deleted = erased.access_grants_deleted
    report.verification_attempts_deleted = erased.verification_attempts_deleted
    report.handoff_tickets_anonymised = erased.handoff_tickets_anonymised
    report.notifications_deleted = erased.notifications_deleted
    report.return_drafts_deleted = erased.return_drafts_deleted
    report.orders_anonymised = erased.orders_anonymised
    report.customer_anonymised = erased.customer_anonymised
    report.photos_deleted = erased.photos_deleted
    report.rating_comments_blanked = erased.rating_comments_blanked
    report.gateway_rows_deleted = forget_gateway_copies(sessions, senders, needles=needles)
    if _has(sessions, "handoff_cases"):
        report.handoff_relay_cases_anonymised = HandoffState(sessions).anonymise(
            senders, erased.handoff_tickets, FORGOTTEN
        )
    report.conversations = sorted(senders)
    report.events_deleted = delete_conversations(tracker, sessions, senders)
    return report
