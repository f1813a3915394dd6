"""What the console reads from the order store besides the hand-off queue: who a conversation's customer is,
its latest hand-off ticket, shop names, customer photos and ratings.

Called by ``console.web`` (list, transcript, photos, metrics) and ``console.handoffs``. Synchronous: run it
in a worker thread. Reading the order store is best effort for the list (a name or a status is extra), so
``ShopUnavailable`` lets a caller show the list without them; photos and ratings raise it as the API's 503.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from console.errors import Unavailable
from store import models as shop
from store.feedback import CustomerFeedback, Photo, PhotoInfo, PhotoNotFound, RatingInfo

_CHUNK = 500
NAMES_SECONDS = 60.0
SHOP_DOWN = "the order store cannot be read; try again shortly"


class ShopUnavailable(Unavailable):
    """The order store could not be read (down, or not migrated)."""


@dataclass(frozen=True)
class Customer:
    """The verified customer of a conversation."""

    first_name: str
    last_name: str

    def shown(self, *, raw: bool) -> str:
        """The full name for admins; first name and initial for everyone else (``Noah S.``)."""
        if raw:
            return f"{self.first_name} {self.last_name}".strip()
        initial = f" {self.last_name.split()[-1][:1]}." if self.last_name else ""
        return f"{self.first_name}{initial}"


@dataclass(frozen=True)
class TicketState:
    """A conversation's newest hand-off ticket."""

    ticket: str
    status: str
    assigned_to: str | None
    store_id: str | None


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


class ShopFacts:
    """Reads the order store for the console."""

    def __init__(self, engine: Engine) -> None:
        """Use ``engine`` (the order store's; nothing is connected until the first read)."""
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.feedback = CustomerFeedback(self._sessions)
        self._names: dict[str, str] | None = None
        self._names_at = 0.0

    def customers(self, conversation_ids: Sequence[str]) -> dict[str, Customer]:
        """The customer each conversation verified an order of (the first grant), where there is one."""
        out: dict[str, Customer] = {}
        if not conversation_ids:
            return out
        try:
            with self.engine.connect() as db:  # Core, not the ORM: a list page asks this on every load
                for chunk in _chunks(conversation_ids):
                    rows = db.execute(
                        select(shop.AccessGrant.conversation_id, shop.Customer.name)
                        .join(shop.Order, shop.Order.id == shop.AccessGrant.order_id)
                        .join(shop.Customer, shop.Customer.id == shop.Order.customer_id)
                        .where(shop.AccessGrant.conversation_id.in_(chunk))
                        .order_by(shop.AccessGrant.id)
                    )
                    for conversation, name in rows:
                        first, _sep, last = (name or "").strip().partition(" ")
                        out.setdefault(conversation, Customer(first, last.strip()))
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc
        return out

    def tickets(self, conversation_ids: Sequence[str]) -> dict[str, TicketState]:
        """Each conversation's newest hand-off ticket, where it has one."""
        out: dict[str, TicketState] = {}
        if not conversation_ids:
            return out
        T = shop.HandoffTicket  # noqa: N806 (the mapped class)
        try:
            with self.engine.connect() as db:
                for chunk in _chunks(conversation_ids):
                    newest = (
                        select(T.conversation_id, func.max(T.id).label("id"))
                        .where(T.conversation_id.in_(chunk))
                        .group_by(T.conversation_id)
                        .subquery()
                    )
                    rows = db.execute(
                        select(T.conversation_id, T.id, T.ticket_number, T.status, T.assigned_to, T.store_id).join(
                            newest, newest.c.id == T.id
                        )
                    )
                    for conversation, row_id, number, status, assigned_to, store_id in rows:
                        out[conversation] = TicketState(number or f"HO-{row_id:06d}", status, assigned_to, store_id)
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc
        return out

    def store_names(self) -> dict[str, str]:
        """Physical store id -> name (read at most once a minute: shops are rarely renamed)."""
        now = time.monotonic()
        if self._names is not None and now - self._names_at < NAMES_SECONDS:
            return self._names
        try:
            with Session(self.engine) as db:
                names = {sid: name for sid, name in db.execute(select(shop.PhysicalStore.id, shop.PhysicalStore.name))}
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc
        self._names, self._names_at = names, now
        return names

    def photos_of_conversations(self, conversation_ids: Sequence[str]) -> dict[str, list[PhotoInfo]]:
        """Photos each conversation sent."""
        try:
            return self.feedback.photos_for_conversations(conversation_ids)
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc

    def photos_of_tickets(self, tickets: Sequence[str]) -> dict[str, list[PhotoInfo]]:
        """Photos of each hand-off ticket (linked to it, or sent by its conversation without a link)."""
        try:
            return self.feedback.photos_for_tickets(tickets)
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc

    def photo(self, photo_id: int) -> Photo | None:
        """One photo with its bytes, or None."""
        try:
            return self.feedback.photo(photo_id)
        except PhotoNotFound:
            return None
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc

    def ratings(self, since: datetime | None = None, until: datetime | None = None) -> list[RatingInfo]:
        """Ratings given in ``[since, until)``."""
        try:
            return self.feedback.ratings(since, until)
        except SQLAlchemyError as exc:
            raise ShopUnavailable(SHOP_DOWN) from exc


def photo_json(info: PhotoInfo, public_id: str) -> dict[str, Any]:
    """A photo as the console API lists it (its bytes are at ``url``, for signed-in staff only)."""
    return {
        "id": info.photo_id,
        "url": f"/api/console/photos/{info.photo_id}",
        "conversation": public_id,
        "content_type": info.content_type,
        "width": info.width,
        "height": info.height,
        "size_bytes": info.size_bytes,
        "ticket": info.ticket_number,
        "rma": info.rma_number,
        "sent_at": info.created_at.isoformat(timespec="seconds"),
    }
