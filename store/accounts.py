"""One customer across channels and news before they ask: linked identities, return drafts, the news outbox.

Called by the actions (linking after verification, drafts, opt-in) and by the gateway's notifier and the
``python -m store shipment-event`` command (recording carrier events, delivering news). Built on the same
session factory and clock as `OrderStore` (`CustomerAccounts.of(store)`), so tests freeze one clock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import models as m
from store.core import StoreCore, add_business_days, aware, naive, proved_customer, return_info, utc_now
from store.db import session_scope
from store.errors import InvalidInput, NotAuthorized, OrderNotFound
from store.normalize import normalize_order_number
from store.proofs import DEFAULT_GRANT_IDLE
from store.records import ReturnInfo

#: Channels whose accounts belong to one person and may be linked to a customer. Tablets are shared
#: kiosks in a shop and Slack is for staff, so neither is ever linked.
LINKABLE_CHANNELS: frozenset[str] = frozenset({"web", "telegram"})
#: Shipment statuses that mean "still on its way" for the carry-over summary.
IN_PROGRESS_SHIPMENT: frozenset[str] = frozenset({"label_created", "in_transit", "out_for_delivery", "delayed"})
#: Order statuses that mean "not shipped yet but going ahead".
IN_PROGRESS_ORDER: frozenset[str] = frozenset({"placed", "paid"})
#: Return statuses still open (the customer is waiting for something).
OPEN_RETURNS: frozenset[str] = frozenset({"requested", "approved", "received"})
#: How news of each kind reads (``{order}`` and, for refunds, ``{amount}`` filled in).
MESSAGES: dict[str, str] = {
    "delayed": "Update on order {order}: your parcel is delayed with the carrier. Sorry for the wait; "
    "we'll tell you when it moves again.",
    "out_for_delivery": "Good news: order {order} is out for delivery today.",
    "delivered": "Order {order} has been delivered. Enjoy!",
    "refund_issued": "Your refund of {amount} for order {order} has been issued; allow 3-5 business days "
    "for it to reach your account.",
}
OPT_OUT_HINT = ' (Say "stop notifications" to turn these off.)'


@dataclass(frozen=True)
class LinkedChannel:
    """A channel account linked to a customer."""

    channel: str
    external_id: str
    linked_at: datetime

    @property
    def conversation_id(self) -> str:
        """The rasa conversation id of this account (``"telegram:12345"``)."""
        return f"{self.channel}:{self.external_id}"


@dataclass(frozen=True)
class OrderInProgress:
    """An order still on its way: number and a status people read (``out for delivery``)."""

    order_number: str
    status: str


@dataclass(frozen=True)
class CarryOver:
    """What a customer has going on: open returns and orders in progress."""

    open_returns: tuple[ReturnInfo, ...]
    orders_in_progress: tuple[OrderInProgress, ...]


@dataclass(frozen=True)
class ReturnDraftInfo:
    """A return form left unfinished: the order, the line ids chosen so far and the reason, if given."""

    order_number: str
    items: str
    reason: str | None
    channel: str
    updated_at: datetime


@dataclass(frozen=True)
class RecordedEvent:
    """Result of recording a carrier event: ``created`` is False for a repeat of the same order+event."""

    event_key: str
    order_number: str
    kind: str
    customer_id: int
    created: bool


@dataclass(frozen=True)
class DueDelivery:
    """One message to push now to one linked conversation."""

    id: int
    conversation_id: str
    text: str
    attempts: int


@dataclass(frozen=True)
class OutboxEntry:
    """An outbox row with its deliveries, for the command line and tests."""

    event_key: str
    customer_id: int
    kind: str
    text: str
    status: str
    deliveries: tuple[tuple[str, str, int], ...]  # (conversation id, status, attempts)


def split_conversation_id(conversation_id: str) -> tuple[str, str]:
    """``"telegram:123"`` -> ``("telegram", "123")``.

    Raises:
        InvalidInput: No ``channel:`` prefix or nothing after it.
    """
    channel, sep, external = conversation_id.partition(":")
    if not sep or not channel or not external:
        raise InvalidInput(f"not a conversation id: {conversation_id!r}")
    return channel, external


class CustomerAccounts:
    """Linked channel identities, return drafts, notification opt-in and the news outbox of customers."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        now: Callable[[], datetime] | None = None,
        grant_idle: timedelta = DEFAULT_GRANT_IDLE,
    ) -> None:
        """Create the accounts API.

        Args:
            session_factory: Zero-argument callable returning a new `Session`.
            now: Clock returning an aware UTC datetime (tests pass a fixed one).
            grant_idle: Grants unused for this long have ended (``store.proofs.DEFAULT_GRANT_IDLE``).
        """
        self._session_factory = session_factory
        self._clock = now or utc_now
        self._grant_idle = grant_idle

    @classmethod
    def of(cls, store: StoreCore) -> CustomerAccounts:
        """The accounts API on the same database, clock and grant lifetime as ``store``."""
        return cls(store._session_factory, now=store._clock, grant_idle=store.limits.grant_idle)  # noqa: SLF001

    def _now(self) -> datetime:
        return naive(self._clock())

    def _session(self) -> AbstractContextManager[Session]:
        return session_scope(self._session_factory)

    # ------------------------------------------------------------------------------------- identities

    def link_verified(self, conversation_id: str, customer_id: int) -> LinkedChannel | None:
        """Link the account behind a conversation that has just verified an order of ``customer_id``.

        The caller (the verification form) establishes that the conversation proved ownership on this
        channel; the store checks it proved the customer (a ``customer`` grant: an e-mail match on one of
        their orders; a postcode opens one order, not the customer), and refuses channels that are not one
        person's (tablet kiosks, staff Slack).

        Args:
            conversation_id: The rasa conversation id (``"telegram:12345"``, ``"web:<id>"``).
            customer_id: The customer who owns the verified order.

        Returns:
            The link, or None for a channel that is never linked.

        Raises:
            NotAuthorized: The conversation did not prove this customer with their e-mail.
        """
        channel, external_id = split_conversation_id(conversation_id)
        if channel not in LINKABLE_CHANNELS:
            return None
        now = self._now()
        with self._session() as session:
            if not proved_customer(session, conversation_id, customer_id, now - self._grant_idle):
                raise NotAuthorized()
            row = session.execute(
                select(m.ChannelIdentity).where(
                    m.ChannelIdentity.channel == channel, m.ChannelIdentity.external_id == external_id
                )
            ).scalar_one_or_none()
            if row is None:
                row = m.ChannelIdentity(
                    channel=channel, external_id=external_id, customer_id=customer_id, created_at=now
                )
                session.add(row)
            elif row.customer_id != customer_id:
                # The account now proves another customer's order: it follows the latest proof.
                row.customer_id = customer_id
                row.created_at = now
            return LinkedChannel(channel, external_id, aware(row.created_at))

    def linked_channels(self, customer_id: int) -> list[LinkedChannel]:
        """List a customer's linked accounts, oldest first."""
        with self._session() as session:
            rows = session.execute(
                select(m.ChannelIdentity)
                .where(m.ChannelIdentity.customer_id == customer_id)
                .order_by(m.ChannelIdentity.created_at, m.ChannelIdentity.id)
            ).scalars()
            return [LinkedChannel(r.channel, r.external_id, aware(r.created_at)) for r in rows]

    def unlink(self, customer_id: int, channel: str, external_id: str | None = None) -> list[LinkedChannel]:
        """Remove a customer's linked account(s) on ``channel`` (one account when ``external_id`` is given).

        Only that customer's links are touched, so a forged id removes nothing of anyone else.

        Returns:
            The links removed (empty when there were none).
        """
        with self._session() as session:
            stmt = select(m.ChannelIdentity).where(
                m.ChannelIdentity.customer_id == customer_id, m.ChannelIdentity.channel == channel
            )
            if external_id is not None:
                stmt = stmt.where(m.ChannelIdentity.external_id == external_id)
            rows = list(session.execute(stmt).scalars())
            removed = [LinkedChannel(r.channel, r.external_id, aware(r.created_at)) for r in rows]
            for row in rows:
                session.delete(row)
            return removed

    def carry_over(self, customer_id: int) -> CarryOver:
        """What the customer has going on, to tell them when they turn up verified on another channel."""
        with self._session() as session:
            orders = list(
                session.execute(
                    select(m.Order).where(m.Order.customer_id == customer_id).order_by(m.Order.placed_at.desc())
                ).scalars()
            )
            returns: list[ReturnInfo] = []
            progress: list[OrderInProgress] = []
            for order in orders:
                returns.extend(return_info(r) for r in order.returns if r.status in OPEN_RETURNS)
                if order.shipment is not None and order.shipment.status in IN_PROGRESS_SHIPMENT:
                    progress.append(OrderInProgress(order.number, order.shipment.status.replace("_", " ")))
                elif order.shipment is None and order.status in IN_PROGRESS_ORDER:
                    progress.append(OrderInProgress(order.number, "being prepared"))
            return CarryOver(tuple(returns), tuple(progress))

    def grant_customer_orders(self, conversation_id: str, customer_id: int, order_numbers: list[str]) -> list[str]:
        """Let a conversation that verified one of the customer's orders see the others named.

        Used to carry over what the customer has going on: the conversation already proved it is this
        customer (a ``customer`` grant: their e-mail matched one of their orders), so their other orders are
        theirs to see. A postcode proves one order only and is not enough.

        Returns:
            The order numbers granted.

        Raises:
            NotAuthorized: The conversation did not prove this customer with their e-mail.
        """
        now = self._now()
        with self._session() as session:
            if not proved_customer(session, conversation_id, customer_id, now - self._grant_idle):
                raise NotAuthorized()
            granted: list[str] = []
            for order in session.execute(
                select(m.Order).where(m.Order.customer_id == customer_id, m.Order.number.in_(order_numbers))
            ).scalars():
                exists = session.execute(
                    select(m.AccessGrant).where(
                        m.AccessGrant.conversation_id == conversation_id, m.AccessGrant.order_id == order.id
                    )
                ).scalar_one_or_none()
                if exists is None:
                    grant = m.AccessGrant(conversation_id=conversation_id, order_id=order.id, granted_at=now)
                    grant.last_used_at = now
                    session.add(grant)
                else:  # proved just now: alive again, whatever it was
                    exists.last_used_at = now
                granted.append(order.number)
            return granted

    # ----------------------------------------------------------------------------------- return drafts

    def save_return_draft(
        self, customer_id: int, order_number: str, items: str | None, reason: str | None, channel: str
    ) -> None:
        """Remember an unfinished return (one per customer; a newer one replaces it).

        Raises:
            OrderNotFound: The order is not one of the customer's.
        """
        number = normalize_order_number(order_number) or order_number
        with self._session() as session:
            order = session.execute(
                select(m.Order).where(m.Order.number == number, m.Order.customer_id == customer_id)
            ).scalar_one_or_none()
            if order is None:
                raise OrderNotFound(number)
            draft = session.get(m.ReturnDraft, customer_id)
            if draft is None:
                draft = m.ReturnDraft(customer_id=customer_id)
                session.add(draft)
            draft.order_id = order.id
            draft.items = (items or "")[:200]
            draft.reason = reason[:300] if reason else None
            draft.channel = channel[:32]
            draft.updated_at = self._now()

    def return_draft(self, customer_id: int) -> ReturnDraftInfo | None:
        """The customer's unfinished return, if any."""
        with self._session() as session:
            draft = session.get(m.ReturnDraft, customer_id)
            if draft is None:
                return None
            number = session.execute(select(m.Order.number).where(m.Order.id == draft.order_id)).scalar_one()
            return ReturnDraftInfo(number, draft.items, draft.reason, draft.channel, aware(draft.updated_at))

    def clear_return_draft(self, customer_id: int) -> bool:
        """Forget the customer's unfinished return (it was submitted or abandoned); True if there was one."""
        with self._session() as session:
            result = session.execute(delete(m.ReturnDraft).where(m.ReturnDraft.customer_id == customer_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------------ opt-in/out

    def set_notifications(self, customer_id: int, opted_in: bool) -> None:
        """Record the customer's choice about shipment and refund news."""
        with self._session() as session:
            pref = session.get(m.NotificationPreference, customer_id)
            if pref is None:
                pref = m.NotificationPreference(customer_id=customer_id)
                session.add(pref)
            pref.opted_in = opted_in
            pref.changed_at = self._now()

    def notifications_on(self, customer_id: int) -> bool:
        """Whether the customer opted in (nobody is opted in by default)."""
        with self._session() as session:
            pref = session.get(m.NotificationPreference, customer_id)
            return bool(pref and pref.opted_in)

    # ---------------------------------------------------------------------------------- carrier events

    def record_event(self, order_number_text: str, kind: str, event_id: str | None = None) -> RecordedEvent:
        """Record a shipment status change or an issued refund, and queue the news for the customer.

        The event key is order + kind (+ the carrier's event id when it sends one): the same event
        recorded twice (a webhook retry, the command run again) changes nothing and queues nothing.

        Args:
            order_number_text: The order, in any form `normalize_order_number` accepts.
            kind: One of `m.NOTIFICATION_KINDS`.
            event_id: The carrier's id of the event, when it has one (a second delay is a new event).

        Returns:
            The recorded event; ``created`` False for a repeat.

        Raises:
            InvalidInput: Unknown kind, bad order number, a shipment event for an order without a
                shipment, or a refund event for an order without a refund.
            OrderNotFound: No such order.
        """
        if kind not in m.NOTIFICATION_KINDS:
            raise InvalidInput(f"unknown event {kind!r}; one of {', '.join(m.NOTIFICATION_KINDS)}")
        number = normalize_order_number(order_number_text)
        if number is None:
            raise InvalidInput(f"no order number found in {order_number_text!r}")
        clean_id = "".join(ch for ch in (event_id or "") if ch.isalnum() or ch in "-_.")[:60]
        key = f"{number}:{kind}" + (f":{clean_id}" if clean_id else "")
        now = self._now()
        try:
            with self._session() as session:
                order = session.execute(select(m.Order).where(m.Order.number == number)).scalar_one_or_none()
                if order is None:
                    raise OrderNotFound(number)
                existing = session.execute(
                    select(m.NotificationOutbox.id).where(m.NotificationOutbox.event_key == key)
                ).first()
                if existing is not None:
                    return RecordedEvent(key, number, kind, order.customer_id, created=False)
                text = self._apply(session, order, kind, now)
                session.add(
                    m.NotificationOutbox(
                        event_key=key,
                        customer_id=order.customer_id,
                        order_number=number,
                        kind=kind,
                        text=(text + OPT_OUT_HINT)[:500],
                        status="pending",
                        created_at=now,
                        not_before=now,
                    )
                )
                customer_id = order.customer_id
        except IntegrityError:
            # Two deliveries of the same event raced; the unique key let exactly one through.
            return RecordedEvent(key, number, kind, self._customer_of(number), created=False)
        return RecordedEvent(key, number, kind, customer_id, created=True)

    def _customer_of(self, number: str) -> int:
        with self._session() as session:
            return int(session.execute(select(m.Order.customer_id).where(m.Order.number == number)).scalar_one())

    @staticmethod
    def _apply(session: Session, order: m.Order, kind: str, now: datetime) -> str:
        """Change the order as the event says and return the news text."""
        if kind == "refund_issued":
            refunds = [r for r in order.refunds if r.status != "completed"] or list(order.refunds)
            if not refunds:
                raise InvalidInput(f"order {order.number} has no refund to issue")
            refund = refunds[-1]
            refund.status = "completed"
            refund.completed_at = refund.completed_at or now
            pounds = (
                f"£{refund.amount_pence / 100:,.2f}"
                if order.currency == "GBP"
                else (f"{refund.amount_pence / 100:,.2f} {order.currency}")
            )
            return MESSAGES[kind].format(order=order.number, amount=pounds)
        shipment = order.shipment
        if shipment is None:
            raise InvalidInput(f"order {order.number} has not been shipped, so the carrier cannot report on it")
        shipment.status = kind
        descriptions = {
            "delayed": "Delayed in the carrier's network",
            "out_for_delivery": "Out for delivery",
            "delivered": "Delivered",
        }
        session.add(
            m.ShipmentEvent(shipment_id=shipment.id, occurred_at=now, status=kind, description=descriptions[kind])
        )
        if kind == "delivered":
            shipment.delivered_at = now
            order.delivered_at = now
            order.status = "delivered"
        elif kind == "delayed":
            order.status = "delayed"
            if shipment.estimated_delivery is not None:
                shipment.estimated_delivery = add_business_days(max(shipment.estimated_delivery, now.date()), 2)
        else:
            order.status = "in_transit"
        return MESSAGES[kind].format(order=order.number)

    # ------------------------------------------------------------------------------------- delivering

    def release_due(self, max_per_window: int, window: timedelta) -> int:
        """Turn due outbox entries into deliveries to the customer's linked conversations.

        Entries of customers who did not opt in, or have no linked channel, are closed with that
        reason; a customer who already had ``max_per_window`` entries released within ``window`` waits
        (``not_before`` moves to when the window allows one more).

        Returns:
            How many entries were released.
        """
        now = self._now()
        released = 0
        with self._session() as session:
            pending = list(
                session.execute(
                    select(m.NotificationOutbox)
                    .where(m.NotificationOutbox.status == "pending", m.NotificationOutbox.not_before <= now)
                    .order_by(m.NotificationOutbox.id)
                ).scalars()
            )
            for entry in pending:
                pref = session.get(m.NotificationPreference, entry.customer_id)
                if pref is None or not pref.opted_in:
                    entry.status = "skipped_opted_out"
                    continue
                links = list(
                    session.execute(
                        select(m.ChannelIdentity)
                        .where(m.ChannelIdentity.customer_id == entry.customer_id)
                        .order_by(m.ChannelIdentity.id)
                    ).scalars()
                )
                if not links:
                    entry.status = "skipped_no_channel"
                    continue
                recent = [
                    at
                    for at in session.execute(
                        select(m.NotificationOutbox.released_at)
                        .where(
                            m.NotificationOutbox.customer_id == entry.customer_id,
                            m.NotificationOutbox.released_at.is_not(None),
                            m.NotificationOutbox.released_at > now - window,
                        )
                        .order_by(m.NotificationOutbox.released_at)
                    ).scalars()
                    if at is not None
                ]
                if len(recent) >= max_per_window:
                    # The oldest of the window leaves it at this time; one more may go then.
                    entry.not_before = recent[len(recent) - max_per_window] + window
                    continue
                entry.status = "released"
                entry.released_at = now
                for link in links:
                    session.add(
                        m.NotificationDelivery(
                            outbox_id=entry.id,
                            conversation_id=f"{link.channel}:{link.external_id}",
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            last_error="",
                        )
                    )
                session.flush()  # the next entry of the same customer must see this release
                released += 1
        return released

    def due_deliveries(self, limit: int = 50) -> list[DueDelivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        now = self._now()
        with self._session() as session:
            rows = session.execute(
                select(m.NotificationDelivery, m.NotificationOutbox.text)
                .join(m.NotificationOutbox, m.NotificationOutbox.id == m.NotificationDelivery.outbox_id)
                .where(m.NotificationDelivery.status == "pending", m.NotificationDelivery.next_attempt_at <= now)
                .order_by(m.NotificationDelivery.next_attempt_at, m.NotificationDelivery.id)
                .limit(limit)
            ).all()
            return [DueDelivery(d.id, d.conversation_id, text, d.attempts) for d, text in rows]

    def delivery_sent(self, delivery_id: int) -> None:
        """Record that a delivery reached the channel."""
        with self._session() as session:
            row = session.get(m.NotificationDelivery, delivery_id)
            if row is not None:
                row.attempts += 1
                row.status = "sent"
                row.sent_at = self._now()
                row.last_error = ""

    def delivery_failed(
        self, delivery_id: int, error: str, *, max_attempts: int, backoff: timedelta, max_backoff: timedelta
    ) -> str:
        """Record a failed attempt: retry later with exponential back-off, or give up after ``max_attempts``.

        Returns:
            The delivery's new status (``pending`` when it will be retried, ``failed`` when not).
        """
        with self._session() as session:
            row = session.get(m.NotificationDelivery, delivery_id)
            if row is None:
                return "failed"
            row.attempts += 1
            row.last_error = error[:300]
            if row.attempts >= max_attempts:
                row.status = "failed"
            else:
                delay = min(backoff * (2 ** (row.attempts - 1)), max_backoff)
                row.next_attempt_at = self._now() + delay
            return row.status

    def outbox(self, order_number: str | None = None) -> list[OutboxEntry]:
        """Outbox entries (of one order, or all) with their deliveries, oldest first."""
        with self._session() as session:
            stmt = select(m.NotificationOutbox).order_by(m.NotificationOutbox.id)
            if order_number:
                stmt = stmt.where(m.NotificationOutbox.order_number == (normalize_order_number(order_number) or ""))
            entries = list(session.execute(stmt).scalars())
            result = []
            for e in entries:
                deliveries = session.execute(
                    select(
                        m.NotificationDelivery.conversation_id,
                        m.NotificationDelivery.status,
                        m.NotificationDelivery.attempts,
                    )
                    .where(m.NotificationDelivery.outbox_id == e.id)
                    .order_by(m.NotificationDelivery.id)
                ).all()
                result.append(
                    OutboxEntry(
                        e.event_key, e.customer_id, e.kind, e.text, e.status, tuple((c, s, n) for c, s, n in deliveries)
                    )
                )
            return result
