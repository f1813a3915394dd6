"""Hand-off state in the gateway database (tables ``handoff_cases``, ``handoff_events``): the relay's source of truth.

One ``handoff_cases`` row per ticket says which conversation it is, where its Slack message is and who
holds it; ``handoff_events`` is the ticket's history (opened, posted, claimed, every relayed message,
notices, resolved) for staff and the console. Methods are synchronous; the desk runs them in a thread.
A claim is one conditional UPDATE, so two staff pressing Claim at once cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectors.db import GatewayBase
from store.core import aware, naive, opt_aware

STATUSES = ("open", "assigned", "closed")


class HandoffCase(GatewayBase):
    """One hand-off ticket as the gateway relays it."""

    __tablename__ = "handoff_cases"

    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(160), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    order_number: Mapped[str | None] = mapped_column(String(16), nullable=True)
    customer: Mapped[str | None] = mapped_column(String(120), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    slack_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    slack_ts: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_by_name: Mapped[str | None] = mapped_column(String(80), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # when the customer was told nobody is free yet (out of hours or nobody claimed): at most once
    notice_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class HandoffEvent(GatewayBase):
    """One line of a ticket's history."""

    __tablename__ = "handoff_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket: Mapped[str] = mapped_column(ForeignKey("handoff_cases.ticket", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str | None] = mapped_column(String(80), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True, slots=True)
class Case:
    """A read-only copy of a ``handoff_cases`` row (times are aware UTC)."""

    ticket: str
    conversation_id: str
    channel: str
    store_id: str | None
    reason: str
    summary: str
    order_number: str | None
    customer: str | None
    status: str
    slack_channel: str | None
    slack_ts: str | None
    claimed_by: str | None
    claimed_by_name: str | None
    claimed_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None
    created_at: datetime
    notice_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """The case for the read API (times as ISO 8601)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _case(row: HandoffCase) -> Case:
    return Case(
        ticket=row.ticket,
        conversation_id=row.conversation_id,
        channel=row.channel,
        store_id=row.store_id,
        reason=row.reason,
        summary=row.summary,
        order_number=row.order_number,
        customer=row.customer,
        status=row.status,
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        claimed_by=row.claimed_by,
        claimed_by_name=row.claimed_by_name,
        claimed_at=opt_aware(row.claimed_at),
        closed_by=row.closed_by,
        closed_at=opt_aware(row.closed_at),
        created_at=opt_aware(row.created_at) or datetime.now(UTC),
        notice_at=opt_aware(row.notice_at),
    )


class HandoffState:
    """Reads and writes the hand-off tables through a session factory (``connectors.db.SESSIONS_KEY``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Use ``sessions`` for every unit of work."""
        self.sessions = sessions

    def open_case(
        self,
        *,
        ticket: str,
        conversation_id: str,
        channel: str,
        reason: str,
        summary: str,
        at: datetime,
        store_id: str | None = None,
        order_number: str | None = None,
        customer: str | None = None,
    ) -> tuple[Case, bool]:
        """Record a new ticket; a ticket number seen before returns the existing case.

        Returns:
            The case and whether it was created now.
        """
        with self.sessions() as session:
            existing = session.get(HandoffCase, ticket)
            if existing is not None:
                return _case(existing), False
            row = HandoffCase(
                ticket=ticket,
                conversation_id=conversation_id,
                channel=channel,
                store_id=store_id,
                reason=reason[:200],
                summary=summary,
                order_number=order_number,
                customer=customer[:120] if customer else None,
                status="open",
                created_at=naive(at),
            )
            session.add(row)
            session.add(HandoffEvent(ticket=ticket, at=naive(at), kind="opened", text=reason[:200]))
            try:
                session.commit()
            except IntegrityError:  # another gateway process recorded it first
                session.rollback()
                again = session.get(HandoffCase, ticket)
                assert again is not None
                return _case(again), False
            return _case(row), True

    def get(self, ticket: str) -> Case | None:
        """The case of ``ticket``, or None."""
        with self.sessions() as session:
            row = session.get(HandoffCase, ticket)
            return _case(row) if row else None

    def set_posted(self, ticket: str, slack_channel: str, slack_ts: str, at: datetime) -> None:
        """Remember where the ticket's Slack message is (its thread carries the conversation)."""
        with self.sessions() as session:
            session.execute(
                update(HandoffCase)
                .where(HandoffCase.ticket == ticket)
                .values(slack_channel=slack_channel, slack_ts=slack_ts)
            )
            session.add(HandoffEvent(ticket=ticket, at=naive(at), kind="posted", text=f"{slack_channel} {slack_ts}"))
            session.commit()

    def held_by_person(self, conversation_id: str) -> Case | None:
        """The assigned ticket of a conversation (the bot stays silent while there is one), or None."""
        with self.sessions() as session:
            row = session.scalars(
                select(HandoffCase)
                .where(HandoffCase.conversation_id == conversation_id, HandoffCase.status == "assigned")
                .order_by(HandoffCase.created_at.desc())
                .limit(1)
            ).first()
            return _case(row) if row else None

    def by_thread(self, slack_channel: str, slack_ts: str) -> Case | None:
        """The ticket whose Slack message starts the thread ``slack_ts`` in ``slack_channel``."""
        with self.sessions() as session:
            row = session.scalars(
                select(HandoffCase).where(HandoffCase.slack_channel == slack_channel, HandoffCase.slack_ts == slack_ts)
            ).first()
            return _case(row) if row else None

    def claim(self, ticket: str, user: str, name: str, at: datetime) -> tuple[bool, Case | None]:
        """Assign an open ticket to ``user``; only one claim can win.

        Returns:
            Whether this claim won, and the case as it is now (None for an unknown ticket).
        """
        with self.sessions() as session:
            result = session.execute(
                update(HandoffCase)
                .where(HandoffCase.ticket == ticket, HandoffCase.status == "open")
                .values(status="assigned", claimed_by=user, claimed_by_name=name[:80], claimed_at=naive(at))
            )
            won = bool(result.rowcount)  # type: ignore[attr-defined]
            row = session.get(HandoffCase, ticket)
            if row is not None:
                kind = "claimed" if won else "claim_refused"
                session.add(HandoffEvent(ticket=ticket, at=naive(at), kind=kind, actor=name[:80]))
            session.commit()
            return won, _case(row) if row else None

    def close(self, ticket: str, user: str, at: datetime) -> tuple[bool, Case | None]:
        """Close a ticket that is not closed yet.

        Returns:
            Whether this call closed it, and the case as it is now (None for an unknown ticket).
        """
        with self.sessions() as session:
            result = session.execute(
                update(HandoffCase)
                .where(HandoffCase.ticket == ticket, HandoffCase.status != "closed")
                .values(status="closed", closed_by=user, closed_at=naive(at))
            )
            closed = bool(result.rowcount)  # type: ignore[attr-defined]
            if closed:
                session.add(HandoffEvent(ticket=ticket, at=naive(at), kind="resolved", actor=user))
            session.commit()
            row = session.get(HandoffCase, ticket)
            return closed, _case(row) if row else None

    def due_for_notice(self, created_before: datetime) -> list[Case]:
        """Open tickets older than ``created_before`` whose customer has not been told anything yet."""
        with self.sessions() as session:
            rows = session.scalars(
                select(HandoffCase).where(
                    HandoffCase.status == "open",
                    HandoffCase.notice_at.is_(None),
                    HandoffCase.created_at <= naive(created_before),
                )
            )
            return [_case(row) for row in rows]

    def mark_notice(self, ticket: str, at: datetime) -> bool:
        """Record that the customer is being told nobody is free yet; False if told before or no longer open.

        Conditional on ``open``: a claim between the sweep's read and this write wins, so a customer never
        hears "nobody has picked up your ticket" after someone did.
        """
        with self.sessions() as session:
            result = session.execute(
                update(HandoffCase)
                .where(HandoffCase.ticket == ticket, HandoffCase.status == "open", HandoffCase.notice_at.is_(None))
                .values(notice_at=naive(at))
            )
            session.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_event(self, ticket: str, kind: str, at: datetime, text: str = "", actor: str | None = None) -> None:
        """Append a line to the ticket's history."""
        with self.sessions() as session:
            session.add(HandoffEvent(ticket=ticket, at=naive(at), kind=kind, actor=actor, text=text))
            session.commit()

    def anonymise(self, conversation_ids: Iterable[str], tickets: Iterable[str], placeholder: str) -> int:
        """Blank what the relay kept of these conversations and tickets (the console's privacy commands).

        Cases keep their ticket, status and times; they lose their summary, customer and order number, and
        their history keeps only what happened and when (relayed texts are emptied).

        Returns:
            How many cases were anonymised.
        """
        conversations, numbers = sorted(set(conversation_ids)), sorted(set(tickets))
        with self.sessions.begin() as session:
            if not inspect(session.connection()).has_table(HandoffCase.__tablename__):
                return 0  # the gateway never ran with the desk's tables (e.g. on a fresh database)
            matching = or_(HandoffCase.conversation_id.in_(conversations), HandoffCase.ticket.in_(numbers))
            cases = list(session.scalars(select(HandoffCase.ticket).where(matching)))
            if not cases:
                return 0
            session.execute(
                update(HandoffCase)
                .where(HandoffCase.ticket.in_(cases))
                .values(summary=placeholder, customer=None, order_number=None)
            )
            session.execute(update(HandoffEvent).where(HandoffEvent.ticket.in_(cases)).values(text=""))
            return len(cases)

    def queue(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Tickets newest first, each with its history (``GET /api/handoffs``)."""
        with self.sessions() as session:
            stmt = select(HandoffCase).order_by(HandoffCase.created_at.desc()).limit(limit)
            if status is not None:
                stmt = stmt.where(HandoffCase.status == status)
            cases = list(session.scalars(stmt))
            out: list[dict[str, Any]] = []
            for row in cases:
                events = session.scalars(
                    select(HandoffEvent).where(HandoffEvent.ticket == row.ticket).order_by(HandoffEvent.id)
                )
                item = _case(row).to_json()
                item["history"] = [
                    {"at": aware(e.at).isoformat(), "kind": e.kind, "actor": e.actor, "text": e.text} for e in events
                ]
                out.append(item)
            return out
