"""Hand-off tickets: a conversation handed to staff (`OrderStore.open_handoff`, `OrderStore.handoffs`, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from store import models as m
from store.core import StoreCore, aware, naive
from store.normalize import normalize_order_number
from store.records import HandoffTicket


class Handoffs(StoreCore):
    """Tickets that hand a conversation to staff, and their claims and closing."""

    @staticmethod
    def _ticket(row: m.HandoffTicket) -> HandoffTicket:
        return HandoffTicket(
            ticket_number=row.ticket_number or f"HO-{row.id:06d}",
            conversation_id=row.conversation_id,
            channel=row.channel,
            reason=row.reason,
            summary=row.summary,
            order_number=row.order_number,
            customer_id=row.customer_id,
            status=row.status,
            created_at=aware(row.created_at),
            store_id=row.store_id,
            assigned_to=row.assigned_to,
        )

    def handoff(self, ticket_number: str) -> HandoffTicket | None:
        """One ticket by its number (``HO-000123``), or None when there is no such ticket."""
        with self._session() as session:
            row = session.scalar(select(m.HandoffTicket).where(m.HandoffTicket.ticket_number == ticket_number))
            return self._ticket(row) if row is not None else None

    def open_handoff(
        self,
        conversation_id: str,
        channel: str,
        reason: str,
        summary: str,
        order_number: str | None = None,
        customer_id: int | None = None,
        store_id: str | None = None,
    ) -> HandoffTicket:
        """Open a ticket asking a person to take over a conversation.

        Args:
            conversation_id: The conversation.
            channel: ``web``, ``telegram``, ``slack``, ``tablet``...
            reason: Short reason code or phrase (``"lost_parcel"``, ``"customer_asked"``).
            summary: What happened so far, for the person taking over.
            order_number: Related order, normalised when recognisable.
            customer_id: Related customer, when known.
            store_id: The physical store a tablet's shopper is waiting in (``stores.id``), if any.

        Returns:
            The ticket, numbered like ``HO-000123``.
        """
        with self._session() as session:
            row = m.HandoffTicket(
                conversation_id=conversation_id,
                channel=channel,
                reason=reason[:120],
                summary=summary,
                order_number=normalize_order_number(order_number) or order_number if order_number else None,
                customer_id=customer_id,
                status="open",
                created_at=naive(self._now()),
                store_id=store_id[:16] if store_id else None,
            )
            session.add(row)
            session.flush()
            row.ticket_number = f"HO-{row.id:06d}"
            session.flush()
            return self._ticket(row)

    def current_handoff(self, conversation_id: str) -> HandoffTicket | None:
        """The conversation's ticket that is still open or claimed (the newest), if any.

        A conversation has at most one such ticket at a time: the assistant asks this before opening
        another, and tells the customer where the one they have stands instead.

        Args:
            conversation_id: The conversation.

        Returns:
            The ticket (status ``open`` or ``assigned``), or None.
        """
        with self._session() as session:
            row = session.execute(
                select(m.HandoffTicket)
                .where(
                    m.HandoffTicket.conversation_id == conversation_id,
                    m.HandoffTicket.status.in_(("open", "assigned")),
                )
                .order_by(m.HandoffTicket.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return self._ticket(row) if row is not None else None

    def assign_handoff(self, ticket_number: str, staff: str, at: datetime | None = None) -> None:
        """Mark a ticket ``assigned`` to a staff member (the gateway's Claim button).

        Args:
            ticket_number: ``HO-000123``.
            staff: who claimed it (``"Sam (U0STAFF01)"``).
            at: when (default now).

        Raises:
            LookupError: no such ticket.
        """
        at = at or self._now()
        self._set_handoff(ticket_number, status="assigned", assigned_to=staff[:64], assigned_at=naive(at))

    def close_handoff(self, ticket_number: str, at: datetime | None = None) -> None:
        """Mark a ticket ``closed`` (resolved by staff).

        Raises:
            LookupError: no such ticket.
        """
        self._set_handoff(ticket_number, status="closed", closed_at=naive(at or self._now()))

    def _set_handoff(self, ticket_number: str, **values: Any) -> None:
        with self._session() as session:
            row = session.execute(
                select(m.HandoffTicket).where(m.HandoffTicket.ticket_number == ticket_number)
            ).scalar_one_or_none()
            if row is None:
                raise LookupError(f"no hand-off ticket {ticket_number}")
            for key, value in values.items():
                setattr(row, key, value)

    def handoffs(self, status: str | None = "open", limit: int = 50) -> list[HandoffTicket]:
        """List handoff tickets, newest first (for the support console).

        Args:
            status: Only tickets in this status; all when None.
            limit: Maximum results.

        Returns:
            Tickets.
        """
        with self._session() as session:
            stmt = select(m.HandoffTicket).order_by(m.HandoffTicket.id.desc()).limit(max(0, limit))
            if status is not None:
                stmt = stmt.where(m.HandoffTicket.status == status)
            return [self._ticket(row) for row in session.execute(stmt).scalars()]
