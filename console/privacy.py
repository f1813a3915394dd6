"""Retention and per-customer deletion (GDPR): conversations in the tracker and index, and channel identities."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from console.models import ConsoleConversation, ConsoleConversationText
from console.queries import _like
from console.tracker import Indexer, delete_conversations
from store import models as shop

FORGOTTEN = "[deleted at the customer's request]"


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
    photos_deleted: int = 0
    rating_comments_blanked: int = 0

    def to_json(self) -> dict[str, Any]:
        """The report as JSON (printed by the CLI)."""
        return asdict(self)


def retention(
    tracker: Engine, sessions: sessionmaker[Session], days: int, *, now: float | None = None
) -> DeletionReport:
    """Delete every conversation whose last activity is more than ``days`` days ago.

    Args:
        tracker: rasa's tracker store.
        sessions: gateway database sessions (the index).
        days: how many days to keep (at least 1).
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
    report.events_deleted = delete_conversations(tracker, sessions, old)
    return report


def forget_customer(
    tracker: Engine, sessions: sessionmaker[Session], shop_engine: Engine, email: str
) -> DeletionReport:
    """Delete a customer's conversations and channel identities.

    Their conversations are: those that verified one of their orders (access grants), hand-off tickets
    filed for them, conversations of their linked channel accounts, and any conversation in which the
    email address was written. Grants, verification attempts and photos of those conversations are deleted
    too, and their ratings lose their comments;
    hand-off tickets (the shop's records) keep their number but lose their summary, and the Slack relay's
    copy of them (``handoff_cases``, ``handoff_events``) loses its summary, customer and relayed texts.

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
    senders: set[str] = set()
    with Session(shop_engine) as db, db.begin():
        customer = db.scalar(select(shop.Customer).where(func.lower(shop.Customer.email) == email))
        report.customer_found = customer is not None
        if customer is not None:
            senders |= set(
                db.scalars(
                    select(shop.AccessGrant.conversation_id)
                    .join(shop.Order, shop.Order.id == shop.AccessGrant.order_id)
                    .where(shop.Order.customer_id == customer.id)
                )
            )
            senders |= set(
                db.scalars(
                    select(shop.HandoffTicket.conversation_id).where(shop.HandoffTicket.customer_id == customer.id)
                )
            )
            identities = list(
                db.scalars(select(shop.ChannelIdentity).where(shop.ChannelIdentity.customer_id == customer.id))
            )
            for identity in identities:
                senders.add(f"{identity.channel}:{identity.external_id}")
                report.channel_identities_deleted.append(f"{identity.channel}:{identity.external_id}")
            db.execute(delete(shop.ChannelIdentity).where(shop.ChannelIdentity.customer_id == customer.id))
        with sessions() as session:
            senders |= set(
                session.scalars(
                    select(ConsoleConversationText.sender_id).where(
                        ConsoleConversationText.search_text.like(_like(email), escape="\\")
                    )
                )
            )
        if senders:
            chunk = sorted(senders)
            report.access_grants_deleted = (
                db.execute(delete(shop.AccessGrant).where(shop.AccessGrant.conversation_id.in_(chunk))).rowcount or 0
            )
            report.verification_attempts_deleted = (
                db.execute(
                    delete(shop.VerificationAttempt).where(shop.VerificationAttempt.conversation_id.in_(chunk))
                ).rowcount
                or 0
            )
            tickets = set(
                db.scalars(
                    select(shop.HandoffTicket.ticket_number).where(shop.HandoffTicket.conversation_id.in_(chunk))
                )
            )
            report.handoff_relay_cases_anonymised = _forget_relay(sessions, chunk, tickets)
            report.handoff_tickets_anonymised = (
                db.execute(
                    update(shop.HandoffTicket)
                    .where(shop.HandoffTicket.conversation_id.in_(chunk))
                    .values(summary=FORGOTTEN, customer_id=None)
                ).rowcount
                or 0
            )
            # The photos they sent and the words of their ratings (the scores stay, as numbers, for the metrics).
            report.photos_deleted = (
                db.execute(delete(shop.CustomerPhoto).where(shop.CustomerPhoto.conversation_id.in_(chunk))).rowcount
                or 0
            )
            report.rating_comments_blanked = (
                db.execute(
                    update(shop.ConversationRating)
                    .where(
                        shop.ConversationRating.conversation_id.in_(chunk), shop.ConversationRating.comment.is_not(None)
                    )
                    .values(comment=None)
                ).rowcount
                or 0
            )
    report.conversations = sorted(senders)
    report.events_deleted = delete_conversations(tracker, sessions, senders)
    return report


def _forget_relay(sessions: sessionmaker[Session], conversations: list[str], tickets: set[str | None]) -> int:
    """Blank what the Slack hand-off relay kept of these conversations (the console's queue shows it).

    The tickets' cases lose their summary and customer, their history keeps only what happened and
    when (the texts relayed between customer and staff are emptied).

    Returns:
        How many relay cases were anonymised.
    """
    from connectors.handoff.state import HandoffCase, HandoffEvent  # noqa: PLC0415 (see console.handoffs)

    with sessions() as session, session.begin():
        if not inspect(session.connection()).has_table(HandoffCase.__tablename__):
            return 0  # the gateway never ran with the desk's tables (e.g. this command on a fresh database)
        matching = or_(HandoffCase.conversation_id.in_(conversations), HandoffCase.ticket.in_(tickets - {None}))
        cases = list(session.scalars(select(HandoffCase.ticket).where(matching)))
        if not cases:
            return 0
        session.execute(
            update(HandoffCase).where(HandoffCase.ticket.in_(cases)).values(summary=FORGOTTEN, customer=None)
        )
        session.execute(update(HandoffEvent).where(HandoffEvent.ticket.in_(cases)).values(text=""))
        return len(cases)
