"""What the Telegram channel remembers: long button payloads (in the gateway database) and recent update ids."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from sqlalchemy import DateTime, String, Text, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectors.db import GatewayBase, affected


class TelegramCallback(GatewayBase):
    """A button payload longer than Telegram's 64-byte ``callback_data``, kept under its short id."""

    __tablename__ = "telegram_callbacks"

    short_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CallbackStore:
    """Short id <-> payload for long button payloads; survives gateway restarts, so old buttons keep working.

    Short ids are digests of their payload (``translate.callback_data_for``), so storing the same
    payload again is a no-op and the table grows only with distinct payloads.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        """Use ``sessions`` (the gateway database).

        Args:
            sessions: the gateway's session factory.
        """
        self._sessions = sessions
        self._known: OrderedDict[str, str] = OrderedDict()  # small cache: ids stored by this process

    def remember(self, payloads: Mapping[str, str]) -> None:
        """Store ``short id -> payload`` pairs that are not stored yet (blocking; run it in a thread).

        Args:
            payloads: pairs from ``Rendering.long_payloads``.
        """
        new = {k: v for k, v in payloads.items() if k not in self._known}
        if not new:
            return
        try:
            with self._sessions.begin() as session:
                stored = set(
                    session.scalars(select(TelegramCallback.short_id).where(TelegramCallback.short_id.in_(new)))
                )
                now = dt.datetime.now(dt.UTC)
                for short_id, payload in new.items():
                    if short_id not in stored:
                        session.add(TelegramCallback(short_id=short_id, payload=payload, created_at=now))
        except IntegrityError:
            # Another turn stored the same ids at the same moment; an id is a digest of its payload,
            # so the row that won is the row we wanted.
            pass
        for short_id, payload in new.items():
            self._cache(short_id, payload)

    def forget(self, needles: Iterable[str], *, before: dt.datetime | None = None) -> int:
        """Delete stored button payloads that contain any of ``needles`` (an email, an order number...).

        Payloads are not tied to a chat, so the console's per-customer deletion finds them by content.

        Args:
            needles: texts to look for (compared case-insensitively).
            before: also delete payloads stored before this moment.

        Returns:
            How many rows were deleted.
        """
        deleted = 0
        with self._sessions.begin() as session:
            for needle in {n.strip().lower() for n in needles if n and n.strip()}:
                pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                like = func.lower(TelegramCallback.payload).like(pattern, escape="\\")
                deleted += affected(session, delete(TelegramCallback).where(like))
            if before is not None:
                old = delete(TelegramCallback).where(TelegramCallback.created_at < before)
                deleted += affected(session, old)
        self._known.clear()
        return deleted

    def lookup(self, short_id: str) -> str | None:
        """The payload stored under ``short_id``, or None (blocking; run it in a thread).

        Args:
            short_id: the ``callback_data`` of a pressed button.

        Returns:
            The payload, or None for an id that was never stored (forged or from another database).
        """
        if short_id in self._known:
            return self._known[short_id]
        with self._sessions() as session:
            payload = session.scalar(select(TelegramCallback.payload).where(TelegramCallback.short_id == short_id))
        if payload is not None:
            self._cache(short_id, payload)
        return payload

    def _cache(self, short_id: str, payload: str) -> None:
        self._known[short_id] = payload
        self._known.move_to_end(short_id)
        while len(self._known) > 1024:
            self._known.popitem(last=False)


class RecentUpdates:
    """The last ``size`` update ids seen, so an update Telegram delivers again is processed once.

    Memory is bounded: the oldest ids are forgotten first. Telegram re-delivers within minutes (webhook
    retries, a polling restart before the offset was confirmed), far inside the default window.
    """

    def __init__(self, size: int = 10_000) -> None:
        """Remember up to ``size`` ids.

        Args:
            size: how many ids to keep.
        """
        self.size = size
        self._ids: OrderedDict[int, None] = OrderedDict()

    def first_time(self, update_id: int) -> bool:
        """Record ``update_id``; True the first time it is seen, False for a repeat.

        Args:
            update_id: Telegram's update id.

        Returns:
            Whether the update should be processed.
        """
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        """How many ids are remembered."""
        return len(self._ids)
