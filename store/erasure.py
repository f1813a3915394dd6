"""A customer's erasure from the order store (GDPR): what to look for elsewhere, then delete or anonymise here.

Called by the console's ``forget-customer`` and ``retention`` commands (console/privacy.py), which also clear
the tracker and the gateway's copies. The shop keeps its orders for its accounts (order number, lines,
amounts, dates), but nothing in them identifies the person any more: the customer row and each order's
delivery name and address are overwritten. Everything else that names the customer, their orders or their
conversations is deleted: linked chats, access grants, verification attempts, notification preferences,
news and deliveries, return drafts, the photos they sent and their ratings' comments; hand-off tickets lose
their summary, customer and order number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, delete, func, select, update
from sqlalchemy.orm import Session

from store import models as m
from store.db import session_scope

FORGOTTEN = "[deleted at the customer's request]"
_CHUNK = 500


@dataclass
class Footprint:
    """Where a customer appears: their conversations and what identifies them in free text.

    Attributes:
        customer_id: the customer's row (None: no such customer, only free-text traces can be searched).
        conversations: ``"{channel}:{id}"`` conversations known to be theirs (grants, linked chats,
            hand-off tickets, verification attempts on their orders, news deliveries).
        order_numbers: their orders' numbers (``ORD-100185``).
        email, name, postcode: as stored (the postcode of their account and of each delivery).
    """

    customer_id: int | None
    conversations: set[str] = field(default_factory=set)
    order_numbers: list[str] = field(default_factory=list)
    email: str = ""
    name: str = ""
    postcodes: set[str] = field(default_factory=set)

    def needles(self) -> list[str]:
        """Texts whose presence in a message or payload ties it to this customer (lower case)."""
        found = {self.email, self.name} | self.postcodes
        found |= {n.split("-")[-1] for n in self.order_numbers}  # "100185" matches every typed form
        found |= {p.replace(" ", "") for p in self.postcodes}
        return sorted(n.lower() for n in found if n and len(n) >= 4)


@dataclass
class ErasureReport:
    """What :func:`erase_customer` changed in the order store."""

    channel_identities_deleted: list[str] = field(default_factory=list)
    access_grants_deleted: int = 0
    verification_attempts_deleted: int = 0
    handoff_tickets_anonymised: int = 0
    handoff_tickets: set[str] = field(default_factory=set)
    notifications_deleted: int = 0
    return_drafts_deleted: int = 0
    orders_anonymised: int = 0
    customer_anonymised: bool = False
    photos_deleted: int = 0
    rating_comments_blanked: int = 0


def _rows(session: Session, statement: Executable) -> int:
    """How many rows a DELETE or UPDATE touched (0 where the driver cannot say)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount or 0


def _ticket_numbers(session: Session, where: ColumnElement[bool]) -> set[str]:
    """Numbers of the hand-off tickets matching ``where`` (a ticket is numbered right after its insert)."""
    return {n for n in session.scalars(select(m.HandoffTicket.ticket_number).where(where)) if n is not None}


def footprint(sessions: Callable[[], Session], email: str) -> Footprint:
    """Find a customer by email and everything that points to them (reads only).

    Args:
        sessions: order-store session factory.
        email: the customer's email address (any case).

    Returns:
        The footprint; ``customer_id`` None when no customer has that email.
    """
    with session_scope(sessions) as session:
        email = email.strip().lower()
        customer = session.scalar(select(m.Customer).where(func.lower(m.Customer.email) == email))
        if customer is None:
            return Footprint(None, email=email)
        orders = list(session.scalars(select(m.Order).where(m.Order.customer_id == customer.id)))
        order_ids = [o.id for o in orders]
        numbers = [o.number for o in orders]
        found = Footprint(
            customer.id,
            order_numbers=numbers,
            email=customer.email,
            name=customer.name,
            postcodes={customer.postcode, *(o.ship_postcode for o in orders)} - {""},
        )
        conversations = found.conversations
        for start in range(0, len(order_ids), _CHUNK):
            ids, nums = order_ids[start : start + _CHUNK], numbers[start : start + _CHUNK]
            conversations |= set(
                session.scalars(select(m.AccessGrant.conversation_id).where(m.AccessGrant.order_id.in_(ids)))
            )
            conversations |= set(
                session.scalars(
                    select(m.VerificationAttempt.conversation_id).where(m.VerificationAttempt.order_number.in_(nums))
                )
            )
        conversations |= set(
            session.scalars(select(m.HandoffTicket.conversation_id).where(m.HandoffTicket.customer_id == customer.id))
        )
        conversations |= {
            f"{i.channel}:{i.external_id}"
            for i in session.scalars(select(m.ChannelIdentity).where(m.ChannelIdentity.customer_id == customer.id))
        }
        conversations |= set(
            session.scalars(
                select(m.NotificationDelivery.conversation_id)
                .join(m.NotificationOutbox, m.NotificationOutbox.id == m.NotificationDelivery.outbox_id)
                .where(m.NotificationOutbox.customer_id == customer.id)
            )
        )
        return found


def erase_customer(sessions: Callable[[], Session], found: Footprint, conversations: Iterable[str]) -> ErasureReport:
    """Delete or anonymise the customer of ``found`` in the order store.

    Args:
        sessions: order-store session factory; this is one unit of work.
        found: the customer's :func:`footprint`.
        conversations: every conversation being deleted (the footprint's and those found by content).

    Returns:
        What was changed.
    """
    with session_scope(sessions) as session:
        report = ErasureReport()
        senders = sorted(set(conversations) | found.conversations)
        for start in range(0, len(senders), _CHUNK):
            report.access_grants_deleted += _forget_conversation_rows(session, senders[start : start + _CHUNK], report)
        numbers = found.order_numbers
        for start in range(0, len(numbers), _CHUNK):
            chunk = numbers[start : start + _CHUNK]
            report.verification_attempts_deleted += _rows(
                session, delete(m.VerificationAttempt).where(m.VerificationAttempt.order_number.in_(chunk))
            )
            tickets = update(m.HandoffTicket).where(m.HandoffTicket.order_number.in_(chunk))
            report.handoff_tickets |= _ticket_numbers(session, m.HandoffTicket.order_number.in_(chunk))
            report.handoff_tickets_anonymised += _rows(
                session, tickets.values(summary=FORGOTTEN, customer_id=None, order_number=None)
            )
        customer_id = found.customer_id
        if customer_id is None:
            return report
        report.handoff_tickets |= _ticket_numbers(session, m.HandoffTicket.customer_id == customer_id)
        report.handoff_tickets_anonymised += _rows(
            session,
            update(m.HandoffTicket)
            .where(m.HandoffTicket.customer_id == customer_id)
            .values(summary=FORGOTTEN, customer_id=None, order_number=None),
        )
        identities = list(
            session.scalars(select(m.ChannelIdentity).where(m.ChannelIdentity.customer_id == customer_id))
        )
        report.channel_identities_deleted = [f"{i.channel}:{i.external_id}" for i in identities]
        session.execute(delete(m.ChannelIdentity).where(m.ChannelIdentity.customer_id == customer_id))
        outbox = select(m.NotificationOutbox.id).where(m.NotificationOutbox.customer_id == customer_id)
        session.execute(delete(m.NotificationDelivery).where(m.NotificationDelivery.outbox_id.in_(outbox)))
        report.notifications_deleted = _rows(
            session, delete(m.NotificationOutbox).where(m.NotificationOutbox.customer_id == customer_id)
        )
        session.execute(delete(m.NotificationPreference).where(m.NotificationPreference.customer_id == customer_id))
        report.return_drafts_deleted = _rows(
            session, delete(m.ReturnDraft).where(m.ReturnDraft.customer_id == customer_id)
        )
        report.orders_anonymised = _rows(
            session,
            update(m.Order)
            .where(m.Order.customer_id == customer_id)
            .values(ship_name=FORGOTTEN, ship_address="", ship_city="", ship_postcode=""),
        )
        session.execute(
            update(m.Customer)
            .where(m.Customer.id == customer_id)
            .values(
                name=FORGOTTEN,
                email=f"deleted-customer-{customer_id}@invalid.example",
                address="",
                city="",
                postcode="",
            )
        )
        report.customer_anonymised = True
        return report


def _forget_conversation_rows(session: Session, senders: list[str], report: ErasureReport) -> int:
    """Delete grants, attempts and photos of these conversations, blank their hand-off tickets and rating comments.

    Returns how many grants were deleted."""
    report.verification_attempts_deleted += _rows(
        session, delete(m.VerificationAttempt).where(m.VerificationAttempt.conversation_id.in_(senders))
    )
    report.handoff_tickets |= _ticket_numbers(session, m.HandoffTicket.conversation_id.in_(senders))
    report.handoff_tickets_anonymised += _rows(
        session,
        update(m.HandoffTicket)
        .where(m.HandoffTicket.conversation_id.in_(senders))
        .values(summary=FORGOTTEN, customer_id=None, order_number=None),
    )
    session.execute(delete(m.NotificationDelivery).where(m.NotificationDelivery.conversation_id.in_(senders)))
    # The photos they sent and the words of their ratings (the scores stay, as numbers, for the metrics).
    report.photos_deleted += _rows(session, delete(m.CustomerPhoto).where(m.CustomerPhoto.conversation_id.in_(senders)))
    report.rating_comments_blanked += _rows(
        session,
        update(m.ConversationRating)
        .where(m.ConversationRating.conversation_id.in_(senders), m.ConversationRating.comment.is_not(None))
        .values(comment=None),
    )
    return _rows(session, delete(m.AccessGrant).where(m.AccessGrant.conversation_id.in_(senders)))


def forget_conversations(
    sessions: Callable[[], Session], conversations: Iterable[str], *, before: datetime | None = None
) -> int:
    """Retention: delete grants, attempts, photos and news deliveries of these conversations.

    With ``before``, verification attempts older than that go too.

    Args:
        sessions: order-store session factory; this is one unit of work.
        conversations: ``"{channel}:{id}"`` conversations being deleted.
        before: also delete verification attempts older than this (naive UTC).

    Returns:
        How many access grants were deleted.
    """
    with session_scope(sessions) as session:
        report = ErasureReport()
        senders = sorted(set(conversations))
        grants = 0
        for start in range(0, len(senders), _CHUNK):
            grants += _forget_conversation_rows(session, senders[start : start + _CHUNK], report)
        if before is not None:
            session.execute(delete(m.VerificationAttempt).where(m.VerificationAttempt.created_at < before))
        return grants


__all__ = ["FORGOTTEN", "ErasureReport", "Footprint", "erase_customer", "footprint", "forget_conversations"]
