"""What customers send besides words: photos kept with their return or hand-off ticket, and ratings given once.

Called by the gateway (the web channel stores a checked, re-encoded photo and a rating; the support console
reads them for the hand-off queue, transcripts and metrics). Built on the same session factory and clock as
`OrderStore` (`CustomerFeedback.of(store)`). Who may see a photo is the caller's rule (the conversation that
sent it, and signed-in staff); this module only keeps them and says what they belong to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import models as m
from store.core import StoreCore, aware, naive, utc_now
from store.db import session_scope
from store.errors import InvalidInput, StoreError

#: The rating subject of a conversation the assistant handled (a hand-off is rated by its ticket number).
CONVERSATION = "conversation"
MAX_COMMENT_CHARS = 1000
_CHUNK = 500


class AlreadyRated(StoreError):
    """This conversation (or this hand-off ticket) was rated before; a rating is given once."""


class NotRateable(StoreError):
    """The ticket is not this conversation's, or it is not resolved yet."""


class PhotoNotFound(StoreError):
    """No photo with that id exists."""


@dataclass(frozen=True)
class PhotoInfo:
    """A kept photo without its bytes: what it is, whose, and what it belongs to."""

    photo_id: int
    conversation_id: str
    channel: str
    content_type: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    ticket_number: str | None
    rma_number: str | None
    created_at: datetime


@dataclass(frozen=True)
class Photo:
    """A kept photo with its bytes."""

    info: PhotoInfo
    data: bytes


@dataclass(frozen=True)
class RatingInfo:
    """One rating: what was rated, how, and when."""

    conversation_id: str
    channel: str
    subject: str
    score: int
    comment: str | None
    outcome: str
    created_at: datetime


class CustomerFeedback:
    """Photos and ratings in the order store (synchronous; one unit of work per call)."""

    def __init__(self, session_factory: Callable[[], Session], *, now: Callable[[], datetime] | None = None) -> None:
        """Use ``session_factory`` for every unit of work and ``now`` (aware UTC) as the clock."""
        self._session_factory = session_factory
        self._clock = now or utc_now

    @classmethod
    def of(cls, store: StoreCore) -> CustomerFeedback:
        """The feedback API on the same database and clock as ``store``."""
        return cls(store._session_factory, now=store._clock)  # noqa: SLF001 - same package, one database

    def _session(self) -> AbstractContextManager[Session]:
        return session_scope(self._session_factory)

    # ------------------------------------------------------------------------------------------ photos

    def add_photo(
        self, conversation_id: str, channel: str, data: bytes, content_type: str, width: int, height: int
    ) -> PhotoInfo:
        """Keep a photo and link it to what the conversation has going on.

        The conversation's newest hand-off ticket that is not closed comes first (a complaint); else the
        newest return created on an order the conversation verified, after it verified it. A photo with
        neither stays with the conversation and is shown with the next ticket it opens.

        Args:
            conversation_id: the rasa conversation id (``web:...``).
            channel: the channel it came from.
            data: the image bytes as they should be served (checked and re-encoded by the caller).
            content_type: one of ``store.models.PHOTO_TYPES``.
            width: pixels.
            height: pixels.

        Returns:
            What was kept and what it belongs to.

        Raises:
            InvalidInput: an unknown content type or no bytes.
        """
        if content_type not in m.PHOTO_TYPES:
            raise InvalidInput(f"photos must be one of {', '.join(m.PHOTO_TYPES)}")
        if not data:
            raise InvalidInput("the photo is empty")
        with self._session() as session:
            ticket = session.scalar(
                select(m.HandoffTicket)
                .where(m.HandoffTicket.conversation_id == conversation_id, m.HandoffTicket.status != "closed")
                .order_by(m.HandoffTicket.id.desc())
                .limit(1)
            )
            ret = None
            if ticket is None:
                ret = session.scalar(
                    select(m.Return)
                    .join(m.AccessGrant, m.AccessGrant.order_id == m.Return.order_id)
                    .where(
                        m.AccessGrant.conversation_id == conversation_id,
                        m.Return.created_at >= m.AccessGrant.granted_at,
                    )
                    .order_by(m.Return.id.desc())
                    .limit(1)
                )
            row = m.CustomerPhoto(
                conversation_id=conversation_id[:128],
                channel=channel[:32],
                content_type=content_type,
                data=data,
                width=width,
                height=height,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                handoff_ticket_id=ticket.id if ticket else None,
                return_id=ret.id if ret else None,
                created_at=naive(self._clock()),
            )
            session.add(row)
            session.flush()
            return self._info(session, row)

    def photo(self, photo_id: int) -> Photo:
        """A photo with its bytes.

        Raises:
            PhotoNotFound: no such photo.
        """
        with self._session() as session:
            row = session.get(m.CustomerPhoto, photo_id)
            if row is None:
                raise PhotoNotFound(f"no photo {photo_id}")
            return Photo(self._info(session, row), bytes(row.data))

    def photos_for_conversations(self, conversation_ids: Iterable[str]) -> dict[str, list[PhotoInfo]]:
        """Photos each conversation sent, oldest first (conversations without photos are left out)."""
        ids = sorted(set(conversation_ids))
        out: dict[str, list[PhotoInfo]] = {}
        with self._session() as session:
            for start in range(0, len(ids), _CHUNK):
                rows = session.scalars(
                    select(m.CustomerPhoto)
                    .where(m.CustomerPhoto.conversation_id.in_(ids[start : start + _CHUNK]))
                    .order_by(m.CustomerPhoto.id)
                )
                for row in rows:
                    out.setdefault(row.conversation_id, []).append(self._info(session, row))
        return out

    def photos_for_tickets(self, ticket_numbers: Sequence[str]) -> dict[str, list[PhotoInfo]]:
        """Photos of each hand-off ticket: linked to it, or sent by its conversation without a link.

        Returns:
            Ticket number -> photos, oldest first (tickets without photos are left out).
        """
        out: dict[str, list[PhotoInfo]] = {}
        with self._session() as session:
            for start in range(0, len(ticket_numbers), _CHUNK):
                chunk = list(ticket_numbers[start : start + _CHUNK])
                tickets = session.execute(
                    select(m.HandoffTicket.id, m.HandoffTicket.ticket_number, m.HandoffTicket.conversation_id).where(
                        m.HandoffTicket.ticket_number.in_(chunk)
                    )
                ).all()
                by_id = {t.id: t.ticket_number for t in tickets}
                by_conversation = {t.conversation_id: t.ticket_number for t in tickets}
                rows = session.scalars(
                    select(m.CustomerPhoto)
                    .where(
                        m.CustomerPhoto.handoff_ticket_id.in_(list(by_id))
                        | (
                            m.CustomerPhoto.conversation_id.in_(list(by_conversation))
                            & m.CustomerPhoto.handoff_ticket_id.is_(None)
                            & m.CustomerPhoto.return_id.is_(None)
                        )
                    )
                    .order_by(m.CustomerPhoto.id)
                )
                for row in rows:
                    number = (
                        by_id.get(row.handoff_ticket_id)
                        if row.handoff_ticket_id is not None
                        else by_conversation.get(row.conversation_id)
                    )
                    if number:
                        out.setdefault(number, []).append(self._info(session, row))
        return out

    @staticmethod
    def _info(session: Session, row: m.CustomerPhoto) -> PhotoInfo:
        ticket = session.get(m.HandoffTicket, row.handoff_ticket_id) if row.handoff_ticket_id else None
        ret = session.get(m.Return, row.return_id) if row.return_id else None
        return PhotoInfo(
            photo_id=row.id,
            conversation_id=row.conversation_id,
            channel=row.channel,
            content_type=row.content_type,
            width=row.width,
            height=row.height,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            ticket_number=(ticket.ticket_number or f"HO-{ticket.id:06d}") if ticket else None,
            rma_number=ret.rma_number if ret else None,
            created_at=aware(row.created_at),
        )

    # ----------------------------------------------------------------------------------------- ratings

    def rate(
        self, conversation_id: str, channel: str, score: int, comment: str | None = None, subject: str = CONVERSATION
    ) -> RatingInfo:
        """Record a customer's rating, once per conversation (or once per resolved hand-off ticket).

        Args:
            conversation_id: the rasa conversation id.
            channel: the channel it came from.
            score: 1 (bad) to 5 (great).
            comment: optional words, at most 1000 characters (blank means none).
            subject: ``"conversation"``, or the number of a ticket of this conversation that staff resolved.

        Returns:
            The rating, with its outcome (``assistant``, or ``handoff`` for a ticket).

        Raises:
            InvalidInput: a score outside 1-5 or a comment too long.
            NotRateable: the ticket is not this conversation's, or not resolved.
            AlreadyRated: this subject was rated before.
        """
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("a rating is a whole number from 1 to 5")
        comment = (comment or "").strip() or None
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise InvalidInput(f"a comment is at most {MAX_COMMENT_CHARS} characters")
        outcome = "assistant"
        try:
            with self._session() as session:
                if subject != CONVERSATION:
                    ticket = session.scalar(select(m.HandoffTicket).where(m.HandoffTicket.ticket_number == subject))
                    if ticket is None or ticket.conversation_id != conversation_id or ticket.status != "closed":
                        raise NotRateable("that hand-off is not this conversation's, or it is not resolved yet")
                    outcome = "handoff"
                row = m.ConversationRating(
                    conversation_id=conversation_id[:128],
                    channel=channel[:32],
                    subject=subject[:24],
                    score=score,
                    comment=comment,
                    outcome=outcome,
                    created_at=naive(self._clock()),
                )
                session.add(row)
                session.flush()
                return self._rating(row)
        except IntegrityError:
            raise AlreadyRated("this conversation was rated already") from None

    def rating_for(self, conversation_id: str, subject: str = CONVERSATION) -> RatingInfo | None:
        """The rating of this subject, if it was given."""
        with self._session() as session:
            row = session.scalar(
                select(m.ConversationRating).where(
                    m.ConversationRating.conversation_id == conversation_id, m.ConversationRating.subject == subject
                )
            )
            return self._rating(row) if row else None

    def ratings(self, since: datetime | None = None, until: datetime | None = None) -> list[RatingInfo]:
        """Every rating given in ``[since, until)`` (both optional), oldest first."""
        with self._session() as session:
            stmt = select(m.ConversationRating).order_by(m.ConversationRating.id)
            if since is not None:
                stmt = stmt.where(m.ConversationRating.created_at >= naive(since))
            if until is not None:
                stmt = stmt.where(m.ConversationRating.created_at < naive(until))
            return [self._rating(row) for row in session.scalars(stmt)]

    @staticmethod
    def _rating(row: m.ConversationRating) -> RatingInfo:
        return RatingInfo(
            conversation_id=row.conversation_id,
            channel=row.channel,
            subject=row.subject,
            score=row.score,
            comment=row.comment,
            outcome=row.outcome,
            created_at=aware(row.created_at),
        )


__all__ = [
    "CONVERSATION",
    "AlreadyRated",
    "CustomerFeedback",
    "NotRateable",
    "Photo",
    "PhotoInfo",
    "PhotoNotFound",
    "RatingInfo",
]
