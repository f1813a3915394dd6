"""Where each Slack conversation was last answered, kept in the gateway database so pushes survive restarts.

A hand-off reply or order news for a Slack conversation must land in the same DM or thread as the
conversation. A DM can be found again from the user id, but a thread needs its channel and ``thread_ts``,
which only the inbound event carries: without this table a gateway restart made thread conversations
unreachable until the person wrote again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectors.db import GatewayBase, affected
from connectors.slack.translate import ReplyTarget


class SlackReplyTarget(GatewayBase):
    """The DM or thread a Slack conversation (rasa sender id) was last answered in."""

    __tablename__ = "slack_reply_targets"

    sender_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ReplyTargets:
    """Read and write ``SlackReplyTarget`` rows (blocking; callers run these in a thread)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Use ``sessions`` (the gateway database).

        Args:
            sessions: the gateway's session factory.
        """
        self._sessions = sessions

    def remember(self, sender_id: str, target: ReplyTarget) -> None:
        """Store (or move) the place ``sender_id`` is answered.

        Args:
            sender_id: the rasa sender id of the conversation.
            target: its channel and thread.
        """
        now = dt.datetime.now(dt.UTC)
        with self._sessions.begin() as session:
            row = session.get(SlackReplyTarget, sender_id)
            if row is None:
                session.add(
                    SlackReplyTarget(
                        sender_id=sender_id, channel=target.channel, thread_ts=target.thread_ts, updated_at=now
                    )
                )
            else:
                row.channel, row.thread_ts, row.updated_at = target.channel, target.thread_ts, now

    def forget(self, sender_ids: Iterable[str], *, before: dt.datetime | None = None) -> int:
        """Delete where these conversations were answered (console privacy commands).

        Args:
            sender_ids: Slack sender ids (with or without ``slack:``).
            before: also delete targets last updated before this moment, whatever their conversation.

        Returns:
            How many rows were deleted.
        """
        ids = {i for s in sender_ids for i in (s, s.removeprefix("slack:"))}
        deleted = 0
        with self._sessions.begin() as session:
            if ids:
                deleted += affected(
                    session, delete(SlackReplyTarget).where(SlackReplyTarget.sender_id.in_(sorted(ids)))
                )
            if before is not None:
                deleted += affected(
                    session, delete(SlackReplyTarget).where(SlackReplyTarget.updated_at < before)
                )
        return deleted

    def find(self, sender_id: str) -> ReplyTarget | None:
        """The stored place for ``sender_id``, or None if it never wrote.

        Args:
            sender_id: the rasa sender id of the conversation.

        Returns:
            Its reply target, or None.
        """
        with self._sessions() as session:
            row = session.scalars(select(SlackReplyTarget).where(SlackReplyTarget.sender_id == sender_id)).first()
            return None if row is None else ReplyTarget(row.channel, row.thread_ts)
