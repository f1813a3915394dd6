"""Registered tablets and their shopper sessions: the ``tablet_devices`` and ``tablet_sessions`` tables.

Used by the tablet channel (authenticate a device, start/continue/end sessions) and by the device
command (``python -m connectors.tablet register|list|revoke``). Tokens are shown once and stored only
as SHA-256 hashes: they are 256 random bits, so a fast hash is enough and a leaked table gives nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectors.db import GatewayBase, affected
from connectors.errors import GatewayError
from store.core import naive_utc_now

TOKEN_PREFIX = "tab_"  # noqa: S105 - a visible prefix so people recognise the token, not a secret
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_NAME_MAX = 80


class TabletDevice(GatewayBase):
    """One registered tablet: the shop it stands in is fixed by its token."""

    __tablename__ = "tablet_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(_NAME_MAX))
    store_id: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class TabletSession(GatewayBase):
    """One shopper's conversation on a tablet; deleted when the screen is wiped or the wipe time passes.

    ``last_seen`` is the shopper's last activity: a message, or a touch the page reported. Messages staff
    push to the session are not the shopper's activity and leave it alone.
    """

    __tablename__ = "tablet_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("tablet_devices.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)


class TabletOutbox(GatewayBase):
    """A message pushed to a shopper's session (a person's reply in a hand-off), until the page fetches it.

    Deleted with its session, so nothing reaches the next shopper.
    """

    __tablename__ = "tablet_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("tablet_sessions.id", ondelete="CASCADE"), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class TabletStaffCall(GatewayBase):
    """A staff call a tablet made (its ticket and when), so one device cannot open call after call."""

    __tablename__ = "tablet_staff_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("tablet_devices.id", ondelete="CASCADE"), index=True)
    ticket: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class TabletError(GatewayError):
    """Base of the tablet errors; ``status`` and ``code`` say how the API answers."""

    status = 400
    code = "tablet_error"


class UnknownDevice(TabletError):
    """No token, or a token no tablet was registered with."""

    status = 401
    code = "unknown_device"


class RevokedDevice(TabletError):
    """The token belonged to a tablet whose registration was revoked."""

    status = 403
    code = "device_revoked"


class SessionEnded(TabletError):
    """The session id is unknown, belongs to another tablet, was wiped, or was idle for the wipe time."""

    status = 409
    code = "session_ended"


class UnknownStore(TabletError):
    """``register`` was given a store id the order store does not have."""

    code = "unknown_store"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A registered tablet as the channel and the command see it (never the token)."""

    device_id: int
    name: str
    store_id: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """True until the device is revoked."""
        return self.revoked_at is None


def hash_token(token: str) -> str:
    """The stored form of a device token (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: TabletDevice) -> DeviceInfo:
    return DeviceInfo(row.id, row.name, row.store_id, row.created_at, row.revoked_at)


def _utc_now() -> datetime:
    return naive_utc_now()


class TabletRegistry:
    """Devices and sessions in the gateway database; one short transaction per call."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        wipe_after: timedelta = timedelta(seconds=70),
        now: Callable[[], datetime] = _utc_now,
        on_end: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Use ``sessions`` for every unit of work.

        Args:
            sessions: factory of gateway database sessions.
            wipe_after: the wipe time (``TABLET_IDLE_SECONDS`` + ``TABLET_COUNTDOWN_SECONDS``): a shopper
                session without activity for this long is over, whatever the page does.
            now: naive-UTC clock (tests move it).
            on_end: called, after the commit, with the ids of the sessions this registry ended (wiped,
                replaced by the next shopper, idle past the wipe time, device revoked), so what those
                conversations proved can end with them.
        """
        self._sessions = sessions
        self.wipe_after = wipe_after
        self._now = now
        self._on_end = on_end

    def _ended(self, session_ids: list[str]) -> None:
        if session_ids and self._on_end is not None:
            self._on_end(session_ids)

    def _idle(self, row: TabletSession, now: datetime) -> bool:
        """Whether the session has gone without shopper activity for the wipe time (it is over)."""
        return now - row.last_seen >= self.wipe_after

    # ------------------------------------------------------------------ devices (the command)

    def register(self, store_id: str, name: str, known_stores: Iterable[str]) -> tuple[DeviceInfo, str]:
        """Register a tablet for a shop and return it with its token (shown once, stored hashed).

        Args:
            store_id: the shop (``stores.id`` in the order store), case-insensitive.
            name: what staff call this tablet (``front door``).
            known_stores: the order store's shop ids.

        Returns:
            The device and its token.

        Raises:
            UnknownStore: ``store_id`` is not one of ``known_stores``.
            TabletError: the name is empty or too long.
        """
        store_id = store_id.strip().upper()
        known = sorted(known_stores)
        if store_id not in known:
            raise UnknownStore(f"no store {store_id!r} in the order store; known stores: {', '.join(known) or 'none'}")
        name = " ".join(name.split())
        if not name or len(name) > _NAME_MAX:
            raise TabletError(f"the device name must be 1-{_NAME_MAX} characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as db:
            row = TabletDevice(name=name, store_id=store_id, token_hash=hash_token(token), created_at=self._now())
            db.add(row)
            db.flush()
            return _info(row), token

    def devices(self) -> list[DeviceInfo]:
        """Every registered tablet, revoked ones included, by id."""
        with self._sessions() as db:
            return [_info(row) for row in db.execute(select(TabletDevice).order_by(TabletDevice.id)).scalars()]

    def revoke(self, device_id: int) -> DeviceInfo:
        """Revoke a tablet: its token stops working at once and its open session ends.

        Raises:
            TabletError: no such device.
        """
        with self._sessions.begin() as db:
            row = db.get(TabletDevice, device_id)
            if row is None:
                raise TabletError(f"no tablet with id {device_id}")
            if row.revoked_at is None:
                row.revoked_at = self._now()
            ended = list(db.scalars(select(TabletSession.id).where(TabletSession.device_id == device_id)))
            db.execute(delete(TabletSession).where(TabletSession.device_id == device_id))
            info = _info(row)
        self._ended(ended)
        return info

    # ------------------------------------------------------------------ the channel

    def authenticate(self, token: str | None) -> DeviceInfo:
        """The active device a token belongs to.

        Raises:
            UnknownDevice: no token, or an unknown one.
            RevokedDevice: the device was revoked.
        """
        if not token:
            raise UnknownDevice("this tablet has no device token")
        with self._sessions() as db:
            stmt = select(TabletDevice).where(TabletDevice.token_hash == hash_token(token))
            row = db.execute(stmt).scalar_one_or_none()
            if row is None:
                raise UnknownDevice("this tablet's device token is not registered")
            if row.revoked_at is not None:
                raise RevokedDevice("this tablet's registration was revoked")
            return _info(row)

    def start_session(self, device: DeviceInfo) -> str:
        """End every session of ``device`` and start a new one with a server-made id.

        One tablet serves one shopper at a time, so a new session always ends the previous one:
        nothing of the last shopper stays reachable, whether the page wiped itself or was reloaded.
        """
        session_id = secrets.token_urlsafe(24)
        now = self._now()
        with self._sessions.begin() as db:
            ended = list(db.scalars(select(TabletSession.id).where(TabletSession.device_id == device.device_id)))
            db.execute(delete(TabletSession).where(TabletSession.device_id == device.device_id))
            db.add(TabletSession(id=session_id, device_id=device.device_id, created_at=now, last_seen=now))
        self._ended(ended)
        return session_id

    def _live(
        self, db: Session, session_id: str, now: datetime, device: DeviceInfo | None = None
    ) -> tuple[TabletSession | None, list[str]]:
        """The live session ``session_id`` (of ``device``, when given) and the sessions ended on the way.

        None when it is over: unknown, another tablet's, wiped, or idle for the wipe time (then it is deleted
        here, and the caller's transaction commits that; its kept messages go with it, ON DELETE CASCADE).
        """
        row = db.get(TabletSession, session_id) if SESSION_ID_RE.fullmatch(session_id or "") else None
        if row is None or (device is not None and row.device_id != device.device_id):
            return None, []
        if self._idle(row, now):
            db.delete(row)
            return None, [row.id]
        return row, []

    def touch_session(self, device: DeviceInfo, session_id: str) -> None:
        """Check that ``session_id`` is this device's live session and mark the shopper active now.

        Raises:
            SessionEnded: unknown, another tablet's, wiped, or idle for the wipe time (then it is ended
                here, its grants with it).
        """
        now = self._now()
        with self._sessions.begin() as db:
            row, ended = self._live(db, session_id, now, device)
            if row is not None:
                row.last_seen = now
        self._ended(ended)  # after the commit: raising inside the block would roll the deletion back
        if row is None:
            raise SessionEnded("this conversation has ended; a new one has to be started")

    def end_idle_sessions(self) -> list[str]:
        """End every session idle for the wipe time (the gateway's sweep: a tablet that went dark never
        calls again, and what its conversation proved should not wait for it).

        Returns:
            The ids of the sessions ended.
        """
        cutoff = self._now() - self.wipe_after
        with self._sessions.begin() as db:
            ended = list(db.scalars(select(TabletSession.id).where(TabletSession.last_seen <= cutoff)))
            if ended:
                db.execute(delete(TabletSession).where(TabletSession.id.in_(ended)))
        self._ended(ended)
        return ended

    # ------------------------------------------------------------------ staff calls

    def staff_calls(self, device: DeviceInfo, window: timedelta) -> list[str]:
        """Tickets of the staff calls ``device`` made in the last ``window``, oldest first (one per call)."""
        since = self._now() - window
        with self._sessions() as db:
            stmt = (
                select(TabletStaffCall.ticket)
                .where(TabletStaffCall.device_id == device.device_id, TabletStaffCall.created_at > since)
                .order_by(TabletStaffCall.id)
            )
            return list(db.scalars(stmt))

    def record_staff_call(self, device: DeviceInfo, ticket: str, *, keep: timedelta) -> None:
        """Remember a staff call of ``device`` (and forget its calls older than ``keep``)."""
        now = self._now()
        with self._sessions.begin() as db:
            db.execute(
                delete(TabletStaffCall).where(
                    TabletStaffCall.device_id == device.device_id, TabletStaffCall.created_at <= now - keep
                )
            )
            db.add(TabletStaffCall(device_id=device.device_id, ticket=ticket[:16], created_at=now))

    # ------------------------------------------------------------------ pushed messages

    def queue_pushed(self, session_id: str, bodies: Iterable[dict[str, Any]]) -> bool:
        """Keep rendered messages for a live session until its page fetches them.

        Pushing is not the shopper's activity: it never moves ``last_seen``, so a colleague writing to a
        shopper who has gone cannot keep that shopper's conversation on screen past the wipe time.

        Returns:
            False when the session no longer exists (wiped, replaced or idle past the wipe time): nothing was
            kept.
        """
        now = self._now()
        with self._sessions.begin() as db:
            row, ended = self._live(db, session_id, now)
            if row is not None:
                db.add_all(TabletOutbox(session_id=session_id, body=body, created_at=now) for body in bodies)
        self._ended(ended)
        return row is not None

    def take_pushed(self, device: DeviceInfo, session_id: str, *, active: bool = False) -> list[dict[str, Any]]:
        """Hand over (and forget) the messages pushed to this device's session, oldest first.

        Args:
            device: the tablet asking.
            session_id: its session.
            active: the shopper touched the screen since the page last asked (their activity, ``last_seen``).
                Messages handed over are not: a colleague's reply keeps nothing on screen by itself.

        Raises:
            SessionEnded: the session is not this device's live session (idle for the wipe time: ended here).
        """
        now = self._now()
        with self._sessions.begin() as db:
            row, ended = self._live(db, session_id, now, device)
            messages: list[dict[str, Any]] = []
            if row is not None:
                if active:
                    row.last_seen = now
                rows = list(
                    db.scalars(
                        select(TabletOutbox).where(TabletOutbox.session_id == session_id).order_by(TabletOutbox.id)
                    )
                )
                for item in rows:
                    db.delete(item)
                messages = [dict(item.body) for item in rows]
        self._ended(ended)
        if row is None:
            raise SessionEnded("this conversation has ended; a new one has to be started")
        return messages

    def forget_sessions(self, session_ids: Iterable[str], *, before: datetime | None = None) -> int:
        """Delete these shopper sessions and the messages kept for them (console privacy commands).

        Args:
            session_ids: tablet session ids (without ``tablet:``).
            before: also delete kept messages created before this moment (naive UTC), whatever their session.

        Returns:
            How many kept messages were deleted.
        """
        ids = list(session_ids)
        deleted = 0
        with self._sessions.begin() as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                deleted += affected(db, delete(TabletOutbox).where(TabletOutbox.session_id.in_(chunk)))
                db.execute(delete(TabletSession).where(TabletSession.id.in_(chunk)))
            if before is not None:
                deleted += affected(db, delete(TabletOutbox).where(TabletOutbox.created_at < before))
        return deleted
