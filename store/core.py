"""Shared helpers of the order store's areas: `StoreCore` (units of work, clock, lookups), time and money."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session

from store import models as m
from store.db import session_scope
from store.errors import NotAuthorized
from store.normalize import normalize_order_number, normalize_rma
from store.policy import PAYMENT_METHODS
from store.proofs import ProofHasher, ProofLimits
from store.records import Address, RefundInfo, ReturnInfo, ReturnLineInfo, ReturnPolicy


def money(pence: int) -> Decimal:
    """Pence as pounds with two decimals."""
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def pence(amount: Decimal) -> int:
    """Pounds as whole pence, rounding half up."""
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def aware(value: datetime) -> datetime:
    """A datetime as aware UTC (the database keeps naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def opt_aware(value: datetime | None) -> datetime | None:
    """`aware`, passing None through."""
    return None if value is None else aware(value)


def naive(value: datetime) -> datetime:
    """A datetime as naive UTC, as the database keeps it."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def fmt_date(value: date) -> str:
    """A date as customers read it (``7 December 2026``)."""
    return f"{value.day} {value:%B %Y}"


def add_business_days(start: date, days: int) -> date:
    """Add business days (Monday to Friday) to a date.

    Args:
        start: The first day.
        days: Business days to add.

    Returns:
        The date ``days`` business days after ``start``.
    """
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def method_name(code: str) -> str:
    """The name customers know a payment method by (``PayPal``)."""
    return PAYMENT_METHODS.get(code, (code, ""))[0]


def first_name(name: str) -> str:
    """The first word of a name, as the bot greets people."""
    return name.split()[0] if name.split() else name


_default_hasher: ProofHasher | None = None


def default_proof_hasher() -> ProofHasher:
    """The process-wide proof hasher (``SHOP_PROOF_KEY``, read once): every store of the process counts alike."""
    global _default_hasher
    if _default_hasher is None:
        _default_hasher = ProofHasher.from_env()
    return _default_hasher


#: A grant's last use is written at most this often (reads would otherwise all become writes).
TOUCH_EVERY = timedelta(seconds=60)


def live_grant(since: datetime) -> ColumnElement[bool]:
    """Grants the conversation used (or got) at or after ``since``: older ones have ended (``grant_idle``)."""
    return func.coalesce(m.AccessGrant.last_used_at, m.AccessGrant.granted_at) >= since


_grants = m.AccessGrant.__table__
_orders = m.Order.__table__
#: When the conversation's live grant for an order was last used and given (no row: it holds none). The reads
#: asked on most action calls (`is_verified`, `attempts_left`, `verified_customer`) are built once as Core
#: statements on the tables with bound parameters: SQLAlchemy then computes each one's cache key once and skips the
#: ORM's compile and loading steps (a third of each read's CPU in the action server). Same SQL, same rows.
GRANT_TIMES = (
    select(_grants.c.last_used_at, _grants.c.granted_at)
    .select_from(_grants.join(_orders, _grants.c.order_id == _orders.c.id))
    .where(
        _grants.c.conversation_id == bindparam("conversation_id"),
        _orders.c.number == bindparam("number"),
        func.coalesce(_grants.c.last_used_at, _grants.c.granted_at) >= bindparam("since"),
    )
)


def utc_now() -> datetime:
    """The default clock: now, aware UTC."""
    return datetime.now(UTC)


def naive_utc_now() -> datetime:
    """Now as naive UTC, as the databases keep it (SQLite keeps no zone)."""
    return naive(utc_now())


def iso_utc(value: datetime) -> str:
    """A stored time (naive UTC, or aware) as ISO 8601 in UTC to the second, as the APIs give times."""
    return aware(value).isoformat(timespec="seconds")


def proved_customer(session: Session, conversation_id: str, customer_id: int, live_since: datetime) -> bool:
    """Whether the conversation holds a live ``customer`` grant (an e-mail match) for an order of this customer."""
    stmt = (
        select(m.AccessGrant.id)
        .join(m.Order, m.Order.id == m.AccessGrant.order_id)
        .where(
            m.AccessGrant.conversation_id == conversation_id,
            m.AccessGrant.scope == "customer",
            m.Order.customer_id == customer_id,
            live_grant(live_since),
        )
        .limit(1)
    )
    return session.execute(stmt).first() is not None


def return_info(ret: m.Return) -> ReturnInfo:
    """A return as the API hands it out."""
    return ReturnInfo(
        rma_number=ret.rma_number,
        order_number=ret.order.number,
        status=ret.status,
        reason=ret.reason,
        lines=tuple(
            ReturnLineInfo(
                line_id=rl.order_line_id,
                sku=rl.order_line.sku,
                title=rl.order_line.title,
                qty=rl.qty,
                amount=money(rl.order_line.unit_price_pence * rl.qty),
            )
            for rl in ret.lines
        ),
        created_at=aware(ret.created_at),
        received_at=opt_aware(ret.received_at),
        free_label=ret.label_url is not None,
        label_instructions=ret.label_instructions,
        label_url=ret.label_url,
        refund_estimate=money(ret.refund_estimate_pence),
    )


class StoreCore:
    """State and helpers every area of `OrderStore` shares: units of work, the clock, order lookups and grants."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        now: Callable[[], datetime] | None = None,
        policy: ReturnPolicy | None = None,
        limits: ProofLimits | None = None,
        proof_hasher: ProofHasher | None = None,
    ) -> None:
        """Create the store.

        Args:
            session_factory: Zero-argument callable returning a new `Session` (a `sessionmaker`).
            now: Clock returning an aware UTC datetime (tests pass a fixed one).
            policy: Return policy; the shop's default when None.
            limits: Failed proofs allowed before checks pause, and how long grants live (`store.proofs`); the
                defaults when None.
            proof_hasher: Keys failures per proof value (`store.proofs.ProofHasher`); the process-wide one
                (``SHOP_PROOF_KEY``) when None.
        """
        self._session_factory = session_factory
        self._clock = now or utc_now
        self.policy = policy or ReturnPolicy()
        self.limits = limits or ProofLimits()
        self._proof_key = proof_hasher or default_proof_hasher()

    def _now(self) -> datetime:
        """Now by the store's clock, aware UTC."""
        return aware(self._clock())

    def _today(self) -> date:
        return self._now().date()

    def _session(self) -> AbstractContextManager[Session]:
        return session_scope(self._session_factory)

    @staticmethod
    def _find_order(session: Session, number: str) -> m.Order | None:
        return session.execute(select(m.Order).where(m.Order.number == number)).scalar_one_or_none()

    def _live_since(self, now: datetime) -> datetime:
        """Grants last used before this have ended (``ProofLimits.grant_idle``); ``now`` is naive UTC."""
        return now - self.limits.grant_idle

    def _granted_order(self, session: Session, conversation_id: str, order_number: str) -> m.Order:
        """The order if the conversation holds a live grant for it (and the grants are marked as used)."""
        number = normalize_order_number(order_number)
        if number is None:
            raise NotAuthorized(order_number)
        now = naive(self._now())
        stmt = (
            select(m.Order, m.AccessGrant)
            .join(m.AccessGrant, m.AccessGrant.order_id == m.Order.id)
            .where(
                m.AccessGrant.conversation_id == conversation_id,
                m.Order.number == number,
                live_grant(self._live_since(now)),
            )
        )
        row = session.execute(stmt).one_or_none()
        if row is None:
            raise NotAuthorized(number)
        order, grant = row
        self._touch(session, conversation_id, grant.last_used_at or grant.granted_at, now)
        return order

    def _holds_grant(self, session: Session, conversation_id: str, order_number: str) -> bool:
        """Whether `_granted_order` would find the order (and the grants are marked as used alike), without
        loading it."""
        number = normalize_order_number(order_number)
        if number is None:
            return False
        now = naive(self._now())
        params = {"conversation_id": conversation_id, "number": number, "since": self._live_since(now)}
        row = session.execute(GRANT_TIMES, params).one_or_none()
        if row is None:
            return False
        self._touch(session, conversation_id, row.last_used_at or row.granted_at, now)
        return True

    def _touch(self, session: Session, conversation_id: str, last: datetime | None, now: datetime) -> None:
        """Record that the conversation used its grants now (``last``: when one was last used or given): all of them
        stay alive together (idle is per conversation, not per order). Written at most once a minute."""
        if last is not None and now - last < TOUCH_EVERY:
            return
        session.execute(
            update(m.AccessGrant)
            .where(m.AccessGrant.conversation_id == conversation_id, live_grant(self._live_since(now)))
            .values(last_used_at=now)
        )

    @staticmethod
    @staticmethod
    def _returned_qty(order: m.Order) -> dict[int, int]:
        counts: dict[int, int] = {}
        for ret in order.returns:
            if ret.status == "rejected":
                continue
            for line in ret.lines:
                counts[line.order_line_id] = counts.get(line.order_line_id, 0) + line.qty
        return counts

    @staticmethod
    def _address(order: m.Order) -> Address:
        return Address(
            name=order.ship_name,
            line=order.ship_address,
            city=order.ship_city,
            postcode=order.ship_postcode,
            country=order.ship_country,
        )

    def case_key(self, text: str) -> str | None:
        """What a check of ``text`` is about: an order number, or for an RMA number its order's number.

        An RMA number of no return stands for itself: `verify` counts its failures under it and no proof opens
        it, exactly as for an order number that does not exist, so the answers never say whether it exists.

        Args:
            text: An order or RMA number in any accepted form.

        Returns:
            ``ORD-100123``, ``RMA-500999`` (no such return), or None when ``text`` holds neither.
        """
        number = normalize_order_number(text)
        if number is not None:
            return number
        rma = normalize_rma(text)
        if rma is None:
            return None
        return self.order_for_rma(rma) or rma

    def order_for_rma(self, rma: str) -> str | None:
        """Say which order an RMA belongs to, so the bot knows which order to verify (reveals nothing else).

        Args:
            rma: RMA number in any accepted form.

        Returns:
            The order number, or None for an unknown RMA.
        """
        number = normalize_rma(rma)
        if number is None:
            return None
        with self._session() as session:
            stmt = (
                select(m.Order.number)
                .join(m.Return, m.Return.order_id == m.Order.id)
                .where(m.Return.rma_number == number)
            )
            return session.execute(stmt).scalar_one_or_none()

    def _refund_info(self, refund: m.Refund) -> RefundInfo:
        expected = None
        if refund.status != "completed":
            expected = add_business_days(refund.created_at.date(), self.policy.refund_max_business_days)
        return RefundInfo(
            refund_id=refund.id,
            order_number=refund.order.number,
            rma_number=refund.ret.rma_number if refund.ret is not None else None,
            amount=money(refund.amount_pence),
            currency=refund.order.currency,
            method=refund.method,
            status=refund.status,
            reason=refund.reason,
            created_at=aware(refund.created_at),
            completed_at=opt_aware(refund.completed_at),
            expected_by=expected,
        )
