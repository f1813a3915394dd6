"""The web channel's transcript (table ``web_messages``): history for reloads and replays for resent messages.

Used by connectors.web.channel. Every customer message is one ``user`` row, every bot message one
``bot`` row. A customer message sent with a client message id is unique per conversation, so a resend
after a dropped connection finds its row and gets the stored replies instead of a second rasa turn.
Methods are synchronous (one session per call); the channel runs them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectors.db import GatewayBase, affected
from connectors.web.backlog import KeptLine

Status = Literal["pending", "answered", "failed"]


class WebMessage(GatewayBase):
    """One line of a web conversation: what the customer sent, or one bot message."""

    __tablename__ = "web_messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_message_id", name="uq_web_messages_client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(8))  # "user" | "bot"
    # user rows: the id the client gave the message (NULL for clients that send none; NULLs never clash)
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    # user rows: pending while rasa works on it, answered once its replies are stored, failed otherwise
    status: Mapped[str | None] = mapped_column(String(10))
    # bot rows: the client message id of the customer message they answer
    reply_to: Mapped[str | None] = mapped_column(String(64))
    # user rows: {"text"} or {"payload", "text": shown title}; bot rows: the rendered web message
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Claim:
    """What the transcript knows about a customer message that is about to be answered.

    Attributes:
        row_id: the message's ``user`` row.
        status: ``answered`` if its replies are stored (replay them), else ``pending`` (ask rasa).
        replies: the stored replies when ``answered``.
    """

    row_id: int
    status: Status
    replies: list[dict[str, Any]]


class Transcript:
    """Reads and writes ``web_messages`` through a session factory (``connectors.db.SESSIONS_KEY``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Use ``sessions`` for every unit of work."""
        self.sessions = sessions

    def answered(self, conversation_id: str, client_message_id: str) -> list[dict[str, Any]] | None:
        """The stored replies to a message, or None if it is unknown or not answered yet.

        Args:
            conversation_id: the web conversation id.
            client_message_id: the id the client gave the message.
        """
        with self.sessions() as session:
            row = session.scalar(_by_client_id(conversation_id, client_message_id))
            if row is None or row.status != "answered":
                return None
            return _replies(session, conversation_id, client_message_id)

    def claim(self, conversation_id: str, client_message_id: str | None, body: dict[str, Any]) -> Claim:
        """Record a customer message as pending, or find it if it was recorded before.

        Args:
            conversation_id: the web conversation id.
            client_message_id: the client's id for the message (None: always a new row).
            body: ``{"text"}`` or ``{"payload", "text"}`` as shown in the history.

        Returns:
            ``answered`` with the stored replies, or ``pending`` (new, or a retry of a message
            that failed or was cut off by a restart) for the caller to answer and then call
            :meth:`record_replies` or :meth:`mark_failed`.
        """
        with self.sessions() as session:
            if client_message_id is not None:
                row = session.scalar(_by_client_id(conversation_id, client_message_id))
                if row is not None:
                    if row.status == "answered":
                        return Claim(row.id, "answered", _replies(session, conversation_id, client_message_id))
                    row.status = "pending"
                    session.commit()
                    return Claim(row.id, "pending", [])
            row = WebMessage(
                conversation_id=conversation_id,
                role="user",
                client_message_id=client_message_id,
                status="pending",
                body=body,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another gateway process recorded it first: treat as a retry
                session.rollback()
                return self.claim(conversation_id, client_message_id, body)
            return Claim(row.id, "pending", [])

    def record_replies(self, claim: Claim, conversation_id: str, replies: list[dict[str, Any]]) -> None:
        """Store the bot's replies to a claimed message and mark it answered, in one transaction."""
        with self.sessions() as session:
            row = session.get(WebMessage, claim.row_id)
            if row is None:
                raise LookupError(f"web_messages row {claim.row_id} vanished")
            # a retry after a half-stored answer must not double the replies
            session.execute(
                delete(WebMessage).where(
                    WebMessage.conversation_id == conversation_id,
                    WebMessage.role == "bot",
                    WebMessage.reply_to == row.client_message_id,
                    WebMessage.reply_to.is_not(None),
                )
            )
            session.add_all(
                WebMessage(conversation_id=conversation_id, role="bot", reply_to=row.client_message_id, body=message)
                for message in replies
            )
            row.status = "answered"
            session.commit()

    def record_pushed(self, conversation_id: str, replies: list[dict[str, Any]]) -> None:
        """Store bot messages nobody asked for (a person's reply in a hand-off): ``bot`` rows without ``reply_to``."""
        with self.sessions() as session:
            session.add_all(WebMessage(conversation_id=conversation_id, role="bot", body=body) for body in replies)
            session.commit()

    def mark_failed(self, claim: Claim) -> None:
        """Mark a claimed message as not answered (rasa down...): a resend asks rasa again."""
        with self.sessions() as session:
            session.execute(update(WebMessage).where(WebMessage.id == claim.row_id).values(status="failed"))
            session.commit()

    def store_kept(self, line: KeptLine) -> int | None:
        """Write a line kept through an outage (``connectors.web.backlog``), in one transaction, at most once.

        A customer row already stored (``line.row_id``, or found by its client message id after a resend reached
        the database first) is reused; one already ``answered`` is left as it is, so nothing is doubled.

        Used for every line of a web turn (``WebChannel._store``), whether written at once or after an outage.

        Returns:
            The customer row's id (None: it was deleted meanwhile, nothing written).
        """
        messages = _MESSAGES
        with self.sessions() as session:
            # plain SQL on the session's connection: the ORM's identity map and flush cost the gateway more CPU than
            # the statements (~15 % of it in the turn bench), and loading the row read its body only to drop it
            connection = session.connection()
            try:
                row: Row[Any, Any, Any] | None = None
                if line.row_id is not None:
                    row = connection.execute(_ROW_BY_ID, {"row_id": line.row_id}).first()
                    if row is None:  # deleted meanwhile (the console's privacy commands): nothing to add to
                        return None
                elif line.client_message_id is not None:
                    row = connection.execute(
                        _ROW_BY_CLIENT_ID,
                        {"conversation_id": line.conversation_id, "client_message_id": line.client_message_id},
                    ).first()
                if row is not None and row.status == "answered":
                    return int(row.id)
                if row is None:
                    if line.body is None:
                        raise ValueError("a kept line without a stored row needs the customer's body")
                    inserted = connection.execute(
                        insert(messages).values(
                            conversation_id=line.conversation_id,
                            role="user",
                            client_message_id=line.client_message_id,
                            status=line.status,
                            body=line.body,
                            created_at=line.at,
                        )
                    )
                    key = inserted.inserted_primary_key
                    if key is None:
                        raise RuntimeError("the database did not say which id it gave the customer row")
                    row_id, reply_to = int(key[0]), line.client_message_id
                else:
                    row_id, reply_to = int(row.id), row.client_message_id
                    if row.status != line.status:
                        connection.execute(update(messages).where(messages.c.id == row_id).values(status=line.status))
                if line.replies and reply_to is not None:
                    connection.execute(
                        delete(messages).where(
                            messages.c.conversation_id == line.conversation_id,
                            messages.c.role == "bot",
                            messages.c.reply_to == reply_to,
                        )
                    )
                if line.replies:
                    connection.execute(
                        insert(messages),
                        [
                            {
                                "conversation_id": line.conversation_id,
                                "role": "bot",
                                "client_message_id": None,
                                "status": None,
                                "reply_to": reply_to,
                                "body": message,
                                "created_at": line.at,
                            }
                            for message in line.replies
                        ],
                    )
                session.commit()
            except IntegrityError:  # another gateway stored this client message meanwhile: write it on top of that
                session.rollback()
                if line.row_id is None and line.client_message_id is not None:
                    return self.store_kept(line)
                raise
            return row_id

    def history(self, conversation_id: str, limit: int) -> tuple[list[WebMessage], bool]:
        """The newest ``limit`` rows of a conversation, oldest first.

        Returns:
            The rows and whether older rows were left out.
        """
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(WebMessage)
                    .where(WebMessage.conversation_id == conversation_id)
                    .order_by(WebMessage.id.desc())
                    .limit(limit + 1)
                )
            )
        truncated = len(rows) > limit
        return list(reversed(rows[:limit])), truncated

    def record_customer_item(self, conversation_id: str, client_message_id: str | None, body: dict[str, Any]) -> int:
        """Store something the customer sent that rasa does not answer (a photo, a rating) as an answered
        ``user`` row, so the history shows it after a reload; a resend with the same client id stores nothing.

        Returns:
            The row id (the earlier row's for a resend).
        """
        with self.sessions() as session:
            if client_message_id is not None:
                row = session.scalar(_by_client_id(conversation_id, client_message_id))
                if row is not None:
                    return row.id
            row = WebMessage(
                conversation_id=conversation_id,
                role="user",
                client_message_id=client_message_id,
                status="answered",
                body=body,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return self.record_customer_item(conversation_id, client_message_id, body)
            return row.id

    def rating_offered(self, conversation_id: str, subject: str) -> bool:
        """Whether the assistant asked this conversation to rate ``subject`` (``"conversation"`` or a ticket).

        A rating is only taken where one was asked for: after the assistant's goodbye (``rating_request``)
        or a person resolving a hand-off (``handoff_resolved``, with the ticket).
        """
        with self.sessions() as session:
            bodies = session.scalars(
                select(WebMessage.body).where(WebMessage.conversation_id == conversation_id, WebMessage.role == "bot")
            )
            for body in bodies:
                custom = body.get("custom") if isinstance(body, dict) else None
                if not isinstance(custom, dict):
                    continue
                if custom.get("type") == "rating_request" and (custom.get("ticket") or "conversation") == subject:
                    return True
                if custom.get("type") == "handoff_resolved" and custom.get("ticket") == subject:
                    return True
        return False

    def count(self, conversation_id: str) -> int:
        """How many rows a conversation has (for tests and the console)."""
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(WebMessage).where(WebMessage.conversation_id == conversation_id)
                )
                or 0
            )

    def forget(self, conversation_ids: Iterable[str], *, before: datetime | None = None) -> int:
        """Delete the stored messages of these conversations, and (``before``) every message older than that.

        Used by the console's privacy commands (per-customer deletion, retention).

        Args:
            conversation_ids: web conversation ids (without ``web:``).
            before: also delete rows created before this moment, whatever their conversation.

        Returns:
            How many rows were deleted.
        """
        ids = list(conversation_ids)
        deleted = 0
        with self.sessions.begin() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = delete(WebMessage).where(WebMessage.conversation_id.in_(chunk))
                deleted += affected(session, rows)
            if before is not None:
                deleted += affected(session, delete(WebMessage).where(WebMessage.created_at < before))
        return deleted


_MESSAGES = cast(Table, WebMessage.__table__)
#: What :meth:`Transcript.store_kept` reads of a customer row (not its body), by id or by client message id.
_ROW_COLUMNS = (_MESSAGES.c.id, _MESSAGES.c.status, _MESSAGES.c.client_message_id)
_ROW_BY_ID = select(*_ROW_COLUMNS).where(_MESSAGES.c.id == bindparam("row_id"))
_ROW_BY_CLIENT_ID = select(*_ROW_COLUMNS).where(
    _MESSAGES.c.conversation_id == bindparam("conversation_id"),
    _MESSAGES.c.client_message_id == bindparam("client_message_id"),
    _MESSAGES.c.role == "user",
)


def _by_client_id(conversation_id: str, client_message_id: str) -> Select[WebMessage]:
    return select(WebMessage).where(
        WebMessage.conversation_id == conversation_id,
        WebMessage.client_message_id == client_message_id,
        WebMessage.role == "user",
    )


def _replies(session: Session, conversation_id: str, client_message_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(WebMessage)
        .where(
            WebMessage.conversation_id == conversation_id,
            WebMessage.role == "bot",
            WebMessage.reply_to == client_message_id,
        )
        .order_by(WebMessage.id)
    )
    return [dict(row.body) for row in rows]
