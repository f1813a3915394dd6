"""`OrderStore`: the order store's business API (access rule, returns, shipping, ...) used by actions and gateway."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from store import models as m
from store.errors import (
    InvalidInput,
    NotAllowed,
    NotAuthorized,
    OrderNotFound,
    ProductNotFound,
    ReturnNotFound,
    StoreNotFound,
    UnknownDestination,
    VerificationFailed,
    VerificationLocked,
    VerificationPaused,
)
from store.normalize import (
    COUNTRY_NAMES,
    detect_postcode_country,
    normalize_country,
    normalize_order_number,
    normalize_rma,
    parse_address,
    parse_amount,
)
from store.proofs import (
    COUNTED,
    FAILED,
    MATCHED,
    PAUSED,
    PENDING,
    UNATTRIBUTED_SOURCE,
    ProofHasher,
    ProofLimits,
    matches,
    pause_until,
    proof_candidates,
    the_proof,
)
from store.records import (
    Address,
    AddressChange,
    CancelResult,
    CatalogueTerms,
    HandoffTicket,
    Invoice,
    InvoiceLine,
    OrderLineInfo,
    OrderSummary,
    PausedCheck,
    PaymentInfo,
    PaymentMethodInfo,
    ProductInfo,
    RefundInfo,
    ReturnableLine,
    ReturnEligibility,
    ReturnInfo,
    ReturnLineInfo,
    ReturnPolicy,
    ShippingMethodInfo,
    ShippingQuote,
    ShippingZoneInfo,
    StockInfo,
    StoreInfo,
    StoreStockInfo,
    TrackingEvent,
    TrackingInfo,
    VerifiedOrder,
)
from store.settings import Settings

#: Failed verifications a conversation may make before it is locked.
MAX_FAILED_VERIFICATIONS = ProofLimits().per_conversation
#: Roles of the staff allowlist (docs/CONTRACTS.md, "staff") that may open any order without customer proof.
STAFF_ROLES = frozenset({"staff", "manager"})
#: Order statuses in which an order can still be cancelled or have its address changed.
CHANGEABLE_STATUSES = frozenset({"placed", "paid", "payment_failed"})
#: EU member states (VAT at the UK rate is shown on their invoices too: the shop is UK-based, OSS-registered).
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
#: VAT rate included in prices for UK and EU deliveries.
VAT_RATE = Decimal("0.20")
#: Where international customers send returns.
RETURNS_ADDRESS = "Returns Centre, Unit 4 Riverside Park, Northampton NN3 6AB, United Kingdom"
#: Payment methods the shop accepts: code -> (name, description).
PAYMENT_METHODS: dict[str, tuple[str, str]] = {
    "card": ("Card", "Visa, Mastercard and American Express debit or credit cards."),
    "paypal": ("PayPal", "Pay with your PayPal balance or any card saved in PayPal."),
    "apple_pay": ("Apple Pay", "On Safari and iOS devices."),
    "google_pay": ("Google Pay", "On Chrome and Android devices."),
    "klarna": ("Klarna", "Pay in 3 interest-free instalments (UK and selected EU countries)."),
    "gift_card": ("Gift card", "Our gift cards and e-gift cards; can be combined with another method."),
}
_TRACKING_URLS = {
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "DPD": "https://track.dpd.co.uk/parcels/{}",
    "DHL": "https://www.dhl.com/gb-en/home/tracking.html?tracking-id={}",
    "UPS": "https://www.ups.com/track?tracknum={}",
}
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "any",
        "are",
        "do",
        "does",
        "for",
        "have",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "show",
        "some",
        "the",
        "to",
        "want",
        "with",
        "you",
        "your",
        "looking",
        "need",
        "find",
        "something",
        "good",
        "best",
    ]
)


def _money(pence: int) -> Decimal:
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def _pence(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _opt_aware(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _fmt_date(value: date) -> str:
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


def _method_name(code: str) -> str:
    return PAYMENT_METHODS.get(code, (code, ""))[0]


def _first_name(name: str) -> str:
    return name.split()[0] if name.split() else name


def _category_key(text: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "and"))
    return key.removesuffix("s")


_default_hasher: ProofHasher | None = None


def default_proof_hasher() -> ProofHasher:
    """The process-wide proof hasher (``SHOP_PROOF_KEY``, read once): every store of the process counts alike."""
    global _default_hasher
    if _default_hasher is None:
        _default_hasher = ProofHasher.from_env()
    return _default_hasher


#: A grant's last use is written at most this often (reads would otherwise all become writes).
_TOUCH_EVERY = timedelta(seconds=60)


def live_grant(since: datetime) -> ColumnElement[bool]:
    """Grants the conversation used (or got) at or after ``since``: older ones have ended (``grant_idle``)."""
    return func.coalesce(m.AccessGrant.last_used_at, m.AccessGrant.granted_at) >= since


def _utc_now() -> datetime:
    return datetime.now(UTC)


class OrderStore:
    """The order store's API. Every method opens its own short unit of work and returns dataclasses.

    Access rule: nothing about an order is returned or changed unless the conversation verified it
    (`verify`), which records a grant for (conversation, order).
    """

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
        self._clock = now or _utc_now
        self.policy = policy or ReturnPolicy()
        self.limits = limits or ProofLimits()
        self._proof_key = proof_hasher or default_proof_hasher()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OrderStore:
        """Build a store on the process-wide engine (``SHOP_DATABASE_URL``), created lazily.

        Args:
            settings: Settings to use instead of the environment; gets its own engine.

        Returns:
            A ready store.
        """
        from sqlalchemy.orm import sessionmaker

        from store.db import get_session_factory, make_engine

        limits = ProofLimits.from_env()
        if settings is None:
            return cls(get_session_factory(), limits=limits)
        engine = make_engine(settings.database_url, echo=settings.echo_sql)
        return cls(sessionmaker(bind=engine, expire_on_commit=False), limits=limits)

    # ----------------------------------------------------------------------------------------- plumbing

    def _now(self) -> datetime:
        return _aware(self._clock())

    def _today(self) -> date:
        return self._now().date()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

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
        now = _naive(self._now())
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
        self._touch(session, conversation_id, grant, now)
        return order

    def _touch(self, session: Session, conversation_id: str, grant: m.AccessGrant, now: datetime) -> None:
        """Record that the conversation used its grants now: all of them stay alive together (idle is per
        conversation, not per order). Written at most once a minute."""
        last = grant.last_used_at or grant.granted_at
        if last is not None and now - last < _TOUCH_EVERY:
            return
        session.execute(
            update(m.AccessGrant)
            .where(m.AccessGrant.conversation_id == conversation_id, live_grant(self._live_since(now)))
            .values(last_used_at=now)
        )

    @staticmethod
    def _failures(session: Session, conversation_id: str, exclude: int | None = None) -> int:
        stmt = select(func.count(m.VerificationAttempt.id)).where(
            m.VerificationAttempt.conversation_id == conversation_id,
            m.VerificationAttempt.outcome.in_(COUNTED),
        )
        if exclude is not None:
            stmt = stmt.where(m.VerificationAttempt.id != exclude)
        return int(session.execute(stmt).scalar_one())

    def _order_failures(
        self, session: Session, number: str, now: datetime, exclude: int | None = None
    ) -> list[datetime]:
        """Times of the failed proofs of an order number still remembered (in its window, after its last match)."""
        attempt = m.VerificationAttempt
        last_match = session.execute(
            select(func.max(attempt.id)).where(attempt.order_number == number, attempt.outcome == MATCHED)
        ).scalar_one_or_none()
        stmt = select(attempt.created_at).where(
            attempt.order_number == number,
            attempt.outcome.in_(COUNTED),
            attempt.created_at >= now - self.limits.order_window,
        )
        if last_match is not None:
            stmt = stmt.where(attempt.id > last_match)
        if exclude is not None:
            stmt = stmt.where(attempt.id != exclude)
        return list(session.execute(stmt).scalars())

    def _source_failures(
        self, session: Session, source: str, now: datetime, exclude: int | None = None
    ) -> list[datetime]:
        """Times of the failed proofs from a source in its window (a match does not forgive a source)."""
        attempt = m.VerificationAttempt
        stmt = select(attempt.created_at).where(
            attempt.source == source,
            attempt.outcome.in_(COUNTED),
            attempt.created_at >= now - self.limits.source_window,
        )
        if exclude is not None:
            stmt = stmt.where(attempt.id != exclude)
        return list(session.execute(stmt).scalars())

    def _proof_failures(
        self, session: Session, proof_key: str, now: datetime, exclude: int | None = None
    ) -> list[datetime]:
        """Times of the failed proofs with one proof value (all orders) in its window, after its last match."""
        attempt = m.VerificationAttempt
        last_match = session.execute(
            select(func.max(attempt.id)).where(attempt.proof_key == proof_key, attempt.outcome == MATCHED)
        ).scalar_one_or_none()
        stmt = select(attempt.created_at).where(
            attempt.proof_key == proof_key,
            attempt.outcome.in_(COUNTED),
            attempt.created_at >= now - self.limits.proof_window,
        )
        if last_match is not None:
            stmt = stmt.where(attempt.id > last_match)
        if exclude is not None:
            stmt = stmt.where(attempt.id != exclude)
        return list(session.execute(stmt).scalars())

    def _pause(
        self,
        session: Session,
        number: str,
        source: str,
        now: datetime,
        exclude: int | None,
        proof_key: str | None = None,
    ) -> tuple[datetime, str] | None:
        """When checks of ``number`` from ``source`` (with the proof ``proof_key``) may resume and which count
        paused them, or None."""
        limits = self.limits
        paused: list[tuple[datetime, str]] = []
        by_order = pause_until(self._order_failures(session, number, now, exclude), limits.per_order, limits)
        if by_order is not None and by_order > now:
            paused.append((by_order, "order"))
        by_source = pause_until(self._source_failures(session, source, now, exclude), limits.per_source, limits)
        if by_source is not None and by_source > now:
            paused.append((by_source, "source"))
        if proof_key is not None:
            by_proof = pause_until(self._proof_failures(session, proof_key, now, exclude), limits.per_proof, limits)
            if by_proof is not None and by_proof > now:
                paused.append((by_proof, "proof"))
        return max(paused) if paused else None

    # ----------------------------------------------------------------------------------- verification

    def verify(
        self, conversation_id: str, order_number_text: str, proof_text: str, source: str | None = None
    ) -> VerifiedOrder:
        """Check that the person owns an order and grant this conversation access to it.

        The proof is the customer's e-mail or the order's shipping postcode (or the customer's own postcode,
        which a delivery address changed in a chat does not move), typed freely; one message is
        at most one guess (`store.proofs.the_proof`). A failure behaves the same whether the order exists
        or not. Every attempt is stored with its source; failures are counted per conversation (three end
        its checks), per order number, per source and per proof value (past `ProofLimits` the checks pause,
        before the proof is compared with anything). An e-mail grants the order with ``customer`` scope (the
        conversation may then see that customer's other orders and link its channel), a postcode grants that
        order only.

        Args:
            conversation_id: The conversation (Rasa sender id) asking.
            order_number_text: The order number in any form `normalize_order_number` accepts, or an RMA number
                (checked as its order; an unknown one as an order that does not exist, see `case_key`).
            proof_text: An e-mail address or a postcode.
            source: Where the attempt comes from, as the gateway vouched for it (``web:ip:203.0.113.7``);
                None counts it with every other unattributed attempt.

        Returns:
            The verified order, its customer id, the customer's first name and the grant's scope.

        Raises:
            VerificationLocked: The conversation already failed `MAX_FAILED_VERIFICATIONS` times.
            InvalidInput: ``order_number_text`` holds no order number, or ``proof_text`` no e-mail address
                or postcode (neither is counted as an attempt).
            VerificationPaused: Too many failed proofs for this order number or from this source lately;
                nothing was checked.
            VerificationFailed: The proof does not match (``attempts_left`` says how many remain; 0 means
                the conversation is now locked).
        """
        number = self.case_key(order_number_text)
        source_key = (source or "").strip()[:160] or UNATTRIBUTED_SOURCE
        candidates = proof_candidates(proof_text)
        proof = the_proof(candidates)
        proof_key = self._proof_key(proof) if proof is not None else None
        now = _naive(self._now())
        with self._session() as session:
            if self._failures(session, conversation_id) >= self.limits.per_conversation:
                raise VerificationLocked()
        if number is None:
            raise InvalidInput(f"no order number found in {order_number_text!r}")
        if not candidates:
            raise InvalidInput("no e-mail address or postcode in the proof")
        # 1. Record the attempt as pending first, in its own transaction: concurrent attempts then see each
        # other in their counts, so a burst of guesses cannot all pass under the threshold together. Both
        # transactions write before they read, so SQLite takes its write lock first and never deadlocks.
        with self._session() as session:
            attempt = m.VerificationAttempt(
                conversation_id=conversation_id,
                order_number=number,
                success=False,
                created_at=now,
                source=source_key,
                outcome=PENDING,
                proof_kind=proof.kind if proof is not None else None,
                proof_key=proof_key,
            )
            session.add(attempt)
            session.flush()
            attempt_id = attempt.id
        # 2. Decide: paused (unchecked), matched or failed.
        result: VerifiedOrder | None = None
        with self._session() as session:
            session.execute(
                update(m.VerificationAttempt).where(m.VerificationAttempt.id == attempt_id).values(outcome=PENDING)
            )
            row = session.get(m.VerificationAttempt, attempt_id)
            assert row is not None  # written just above
            if self._failures(session, conversation_id, exclude=attempt_id) >= self.limits.per_conversation:
                session.delete(row)  # locked meanwhile by a concurrent attempt of the same conversation
                session.commit()
                raise VerificationLocked()
            paused = self._pause(session, number, source_key, now, exclude=attempt_id, proof_key=proof_key)
            if paused is not None:
                row.outcome = PAUSED
                until, scope = paused
                session.commit()
                raise VerificationPaused(math.ceil((until - now).total_seconds()), scope)
            order = self._find_order(session, number)
            # The customer's own postcode proves the order too: a delivery address changed in a chat moves the
            # order's postcode, and the owner's real postcode must not then count as a failed check (R2-6).
            matched = (
                order is not None
                and proof is not None
                and matches(proof, order.customer.email, order.ship_postcode, order.customer.postcode)
            )
            row.outcome = MATCHED if matched else FAILED
            row.success = matched
            if matched and order is not None and proof is not None:
                scope = "customer" if proof.kind == "email" else "order"
                self._grant(session, conversation_id, order, scope, now)
                result = VerifiedOrder(
                    order_number=order.number,
                    customer_id=order.customer_id,
                    customer_first_name=_first_name(order.customer.name),
                    scope=scope,
                )
            failures = self._failures(session, conversation_id)
        if result is None:
            raise VerificationFailed(max(0, self.limits.per_conversation - failures))
        return result

    def _grant(self, session: Session, conversation_id: str, order: m.Order, scope: str, now: datetime) -> None:
        """Record (or widen) the conversation's grant for ``order``; a live grant never narrows, an ended one
        is replaced."""
        existing = session.execute(
            select(m.AccessGrant).where(
                m.AccessGrant.conversation_id == conversation_id, m.AccessGrant.order_id == order.id
            )
        ).scalar_one_or_none()
        if existing is None:
            session.add(
                m.AccessGrant(
                    conversation_id=conversation_id, order_id=order.id, granted_at=now, scope=scope, last_used_at=now
                )
            )
            return
        last = existing.last_used_at or existing.granted_at
        if last < self._live_since(now):
            existing.scope, existing.granted_at = scope, now  # it had ended: what was proved now is all it holds
        elif scope == "customer" and existing.scope != "customer":
            existing.scope = scope
        existing.last_used_at = now

    def revoke_grants(self, conversation_id: str) -> int:
        """End every grant of a conversation (a new rasa session or a restart: whoever types next proves again).

        Failed proofs are kept: a restart does not give a conversation its attempts back.

        Args:
            conversation_id: The conversation.

        Returns:
            How many grants ended.
        """
        with self._session() as session:
            result = session.execute(delete(m.AccessGrant).where(m.AccessGrant.conversation_id == conversation_id))
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def check_paused(self, order_number_text: str, source: str | None = None) -> int | None:
        """Say whether checks of this order number from this source are paused, without making an attempt.

        Lets the assistant say so before asking for a proof it would not check. The answer is the same for
        order numbers that do not exist (failures are counted per number), so it reveals nothing about orders.

        Args:
            order_number_text: The order number in any accepted form.
            source: The source, as for `verify`.

        Returns:
            Seconds until checks resume, or None when they are not paused (or the number is unreadable).
        """
        number = self.case_key(order_number_text)
        if number is None:
            return None
        now = _naive(self._now())
        with self._session() as session:
            paused = self._pause(session, number, (source or "").strip()[:160] or UNATTRIBUTED_SOURCE, now, None)
        return None if paused is None else math.ceil((paused[0] - now).total_seconds())

    def grant_customer_order(self, conversation_id: str, order_number_text: str) -> VerifiedOrder | None:
        """Open another order of a customer this conversation proved with their e-mail, without a new proof.

        Not a proof attempt: nothing is counted, and None comes back alike for an order that does not exist
        and for an order of someone else (the caller then asks for a proof as usual).

        Args:
            conversation_id: The conversation.
            order_number_text: The order number in any accepted form.

        Returns:
            The order (granted with ``order`` scope), or None.
        """
        number = normalize_order_number(order_number_text)
        if number is None:
            return None
        now = _naive(self._now())
        with self._session() as session:
            order = self._find_order(session, number)
            if order is None or not self._proved_customer(
                session, conversation_id, order.customer_id, self._live_since(now)
            ):
                return None
            self._grant(session, conversation_id, order, "order", now)
            return VerifiedOrder(
                order_number=order.number,
                customer_id=order.customer_id,
                customer_first_name=_first_name(order.customer.name),
                scope="order",
            )

    @staticmethod
    def _proved_customer(session: Session, conversation_id: str, customer_id: int, live_since: datetime) -> bool:
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

    def paused_checks(self, limit: int = 100) -> list[PausedCheck]:
        """Order numbers and sources whose self-service checks are paused now, or were lately (for staff).

        Args:
            limit: Most rows returned, the latest failure first.

        Returns:
            One row per order number or source at or past its free failures in its window.
        """
        now = _naive(self._now())
        attempt = m.VerificationAttempt
        rows: list[PausedCheck] = []
        with self._session() as session:
            for scope, column, window, free in (
                ("order", attempt.order_number, self.limits.order_window, self.limits.per_order),
                ("source", attempt.source, self.limits.source_window, self.limits.per_source),
                ("proof", attempt.proof_key, self.limits.proof_window, self.limits.per_proof),
            ):
                stmt = (
                    select(column, func.count(attempt.id), func.max(attempt.created_at))
                    .where(column.is_not(None), attempt.outcome.in_(COUNTED), attempt.created_at >= now - window)
                    .group_by(column)
                    .having(func.count(attempt.id) >= free)
                )
                for key, _count, _last in session.execute(stmt):
                    failures = {
                        "order": self._order_failures,
                        "source": self._source_failures,
                        "proof": self._proof_failures,
                    }[scope](session, key, now)
                    until = pause_until(failures, free, self.limits)
                    if until is None:
                        continue  # a later match forgave the order's (or the proof's) failures
                    refused = session.execute(
                        select(func.count(attempt.id)).where(
                            column == key, attempt.outcome == PAUSED, attempt.created_at >= now - window
                        )
                    ).scalar_one()
                    rows.append(
                        PausedCheck(
                            scope=scope,
                            key=str(key),
                            failures=len(failures),
                            refused=int(refused),
                            last_failure=_aware(max(failures)),
                            paused_until=_aware(until),
                            paused_now=until > now,
                        )
                    )
        rows.sort(key=lambda r: r.last_failure, reverse=True)
        return rows[: max(0, limit)]

    def grant_staff_access(
        self, conversation_id: str, order_number_text: str, staff_id: str, staff_role: str
    ) -> VerifiedOrder:
        """Give a staff member's conversation access to any order, without customer proof, and record it.

        The caller (the actions) has established from the gateway's trusted metadata that the person is
        on the staff allowlist; the store decides which roles may look and keeps an audit row
        (`StaffOrderLookup`) per lookup, so "who looked at this order" can always be answered.

        Args:
            conversation_id: The staff member's conversation (Rasa sender id).
            order_number_text: The order number in any form `normalize_order_number` accepts.
            staff_id: The staff member's platform id (a Slack user id such as ``U0123ABCD``).
            staff_role: Their role; one of `STAFF_ROLES`.

        Returns:
            The order, its customer id and the customer's first name.

        Raises:
            NotAuthorized: The role is not a staff role, or the staff id is empty.
            InvalidInput: ``order_number_text`` holds no order number.
            OrderNotFound: No such order (staff may be told; customers never are).
        """
        if staff_role not in STAFF_ROLES or not staff_id.strip():
            raise NotAuthorized(normalize_order_number(order_number_text))
        number = normalize_order_number(order_number_text)
        if number is None:
            raise InvalidInput(f"no order number found in {order_number_text!r}")
        with self._session() as session:
            order = self._find_order(session, number)
            if order is None:
                raise OrderNotFound(number)
            now = _naive(self._now())
            self._grant(session, conversation_id, order, "staff", now)
            session.add(
                m.StaffOrderLookup(
                    conversation_id=conversation_id,
                    order_id=order.id,
                    staff_id=staff_id.strip()[:64],
                    staff_role=staff_role,
                    looked_at=now,
                )
            )
            return VerifiedOrder(
                order_number=order.number,
                customer_id=order.customer_id,
                customer_first_name=_first_name(order.customer.name),
                scope="staff",
            )

    def staff_lookups(self, order_number: str) -> list[tuple[str, str, datetime]]:
        """List who on the staff looked at an order without customer proof, oldest first.

        Args:
            order_number: Order number in any accepted form.

        Returns:
            ``(staff_id, staff_role, looked_at)`` tuples (``looked_at`` in UTC).
        """
        number = normalize_order_number(order_number)
        if number is None:
            return []
        with self._session() as session:
            stmt = (
                select(m.StaffOrderLookup.staff_id, m.StaffOrderLookup.staff_role, m.StaffOrderLookup.looked_at)
                .join(m.Order, m.Order.id == m.StaffOrderLookup.order_id)
                .where(m.Order.number == number)
                .order_by(m.StaffOrderLookup.id)
            )
            return [(sid, role, _aware(at)) for sid, role, at in session.execute(stmt)]

    def attempts_left(self, conversation_id: str) -> int:
        """Say how many failed verifications the conversation may still make.

        Args:
            conversation_id: The conversation.

        Returns:
            0 when locked, otherwise 1..`MAX_FAILED_VERIFICATIONS`.
        """
        with self._session() as session:
            return max(0, self.limits.per_conversation - self._failures(session, conversation_id))

    def is_verified(self, conversation_id: str, order_number: str) -> bool:
        """Tell whether the conversation holds a live grant for the order (and mark its grants as used).

        Args:
            conversation_id: The conversation.
            order_number: Order number in any accepted form.

        Returns:
            True when `verify` succeeded for this order in this conversation and its grants have not been
            left idle for ``ProofLimits.grant_idle`` nor revoked (`revoke_grants`) since.
        """
        with self._session() as session:
            try:
                self._granted_order(session, conversation_id, order_number)
            except NotAuthorized:
                return False
            return True

    def verified_orders(self, conversation_id: str) -> list[str]:
        """List the order numbers the conversation holds grants for.

        Args:
            conversation_id: The conversation.

        Returns:
            Order numbers, in the order they were verified.
        """
        live = live_grant(self._live_since(_naive(self._now())))
        with self._session() as session:
            stmt = (
                select(m.Order.number)
                .join(m.AccessGrant, m.AccessGrant.order_id == m.Order.id)
                .where(m.AccessGrant.conversation_id == conversation_id, live)
                .order_by(m.AccessGrant.id)
            )
            return list(session.execute(stmt).scalars())

    def verified_customer(self, conversation_id: str) -> int | None:
        """Return the customer this conversation proved to be with their e-mail, most recent first.

        Only an e-mail match proves the customer (a postcode proves one order): this gates everything
        about the customer beyond that order, their other orders and returns, linking the channel,
        order news and personal recommendations.

        Args:
            conversation_id: The conversation.

        Returns:
            The customer id, or None when the conversation matched no customer's e-mail.
        """
        live = live_grant(self._live_since(_naive(self._now())))
        with self._session() as session:
            stmt = (
                select(m.Order.customer_id)
                .join(m.AccessGrant, m.AccessGrant.order_id == m.Order.id)
                .where(m.AccessGrant.conversation_id == conversation_id, m.AccessGrant.scope == "customer", live)
                .order_by(m.AccessGrant.id.desc())
                .limit(1)
            )
            return session.execute(stmt).scalar_one_or_none()

    # ----------------------------------------------------------------------------------------- orders

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

    def order_summary(self, conversation_id: str, order_number: str) -> OrderSummary:
        """Describe an order: status, lines, totals, payment and delivery.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The summary.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            returned = self._returned_qty(order)
            lines = tuple(
                OrderLineInfo(
                    line_id=line.id,
                    sku=line.sku,
                    title=line.title,
                    qty=line.qty,
                    unit_price=_money(line.unit_price_pence),
                    line_total=_money(line.unit_price_pence * line.qty),
                    final_sale=line.final_sale,
                    returned_qty=returned.get(line.id, 0),
                )
                for line in order.lines
            )
            return OrderSummary(
                order_number=order.number,
                status=order.status,
                placed_at=_aware(order.placed_at),
                customer_first_name=_first_name(order.customer.name),
                lines=lines,
                subtotal=_money(order.subtotal_pence),
                shipping_cost=_money(order.shipping_pence),
                total=_money(order.total_pence),
                currency=order.currency,
                payment_method=order.payment_method,
                payment_status=order.payment_status,
                shipping_address=self._address(order),
                shipping_method=order.shipping_method,
                shipped_at=_opt_aware(order.shipped_at),
                delivered_at=_opt_aware(order.delivered_at),
                cancelled_at=_opt_aware(order.cancelled_at),
            )

    def tracking(self, conversation_id: str, order_number: str) -> TrackingInfo:
        """Say where an order's parcel is.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Carrier, tracking number, events, estimated delivery and delayed/lost flags; for orders not
            yet shipped, ``shipped`` is False and ``expected_ship_date`` says when they should ship.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._tracking_info(order)

    def _expected_ship_date(self, order: m.Order) -> date | None:
        if order.status not in {"placed", "paid"}:
            return None
        return max(add_business_days(order.placed_at.date(), 1), self._today())

    def _tracking_info(self, order: m.Order) -> TrackingInfo:
        shipment = order.shipment
        today = self._today()
        if shipment is None:
            ship_date = self._expected_ship_date(order)
            if order.status == "cancelled":
                message = f"Order {order.number} was cancelled, so it will not be shipped."
            elif order.status == "payment_failed":
                message = f"Order {order.number} will ship once its payment goes through."
            elif ship_date is not None:
                message = f"Order {order.number} has not shipped yet; it should ship by {_fmt_date(ship_date)}."
            else:
                message = f"Order {order.number} has no shipment."
            return TrackingInfo(
                order_number=order.number,
                order_status=order.status,
                shipped=False,
                carrier=None,
                tracking_number=None,
                tracking_url=None,
                shipment_status=None,
                last_event=None,
                events=(),
                estimated_delivery=None,
                delivered_at=None,
                is_delayed=False,
                is_lost=False,
                expected_ship_date=ship_date,
                message=message,
            )
        events = tuple(
            TrackingEvent(
                occurred_at=_aware(e.occurred_at), status=e.status, description=e.description, location=e.location
            )
            for e in shipment.events
        )
        last = events[-1] if events else None
        eta = shipment.estimated_delivery
        is_lost = shipment.status == "lost"
        is_delayed = shipment.status == "delayed" or (
            eta is not None and eta < today and shipment.status in {"label_created", "in_transit", "out_for_delivery"}
        )
        carrier, tn = shipment.carrier, shipment.tracking_number
        if is_lost:
            since = _fmt_date(last.occurred_at.date()) if last else "shipping"
            message = (
                f"We're sorry: the {carrier} parcel for {order.number} appears to be lost (no scan since {since}). "
                "A colleague can send a replacement or refund you."
            )
        elif shipment.status == "delivered":
            when = shipment.delivered_at or (last.occurred_at if last else None)
            message = f"Order {order.number} was delivered" + (f" on {_fmt_date(when.date())}." if when else ".")
        elif shipment.status == "returned":
            message = f"The parcel for {order.number} was returned to us by {carrier}."
        elif is_delayed:
            update = f" Latest update: {last.description}." if last else ""
            eta_text = f" The new estimated delivery is {_fmt_date(eta)}." if eta and eta >= today else ""
            message = f"Order {order.number} is delayed with {carrier} ({tn}).{update}{eta_text}"
        elif shipment.status == "out_for_delivery":
            message = f"Order {order.number} is out for delivery today with {carrier} ({tn})."
        elif shipment.status == "label_created":
            eta_text = f" and should arrive by {_fmt_date(eta)}" if eta else ""
            message = f"Order {order.number} has been packed and handed to {carrier} ({tn}){eta_text}."
        else:
            eta_text = f" and should arrive by {_fmt_date(eta)}" if eta else ""
            message = f"Order {order.number} is on its way with {carrier} ({tn}){eta_text}."
        url_pattern = _TRACKING_URLS.get(carrier)
        return TrackingInfo(
            order_number=order.number,
            order_status=order.status,
            shipped=True,
            carrier=carrier,
            tracking_number=tn,
            tracking_url=url_pattern.format(tn) if url_pattern else None,
            shipment_status=shipment.status,
            last_event=last,
            events=events,
            estimated_delivery=eta,
            delivered_at=_opt_aware(shipment.delivered_at),
            is_delayed=is_delayed,
            is_lost=is_lost,
            expected_ship_date=None,
            message=message,
        )

    # ---------------------------------------------------------------------------------------- returns

    def return_policy(self) -> ReturnPolicy:
        """Return the shop's return policy (public).

        Returns:
            The policy in force.
        """
        return self.policy

    def return_eligibility(self, conversation_id: str, order_number: str) -> ReturnEligibility:
        """Say whether (and until when, and which lines) an order can be returned.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Eligibility with ``reason_code`` among ``ok``, ``not_delivered``, ``window_expired``,
            ``all_final_sale``, ``already_returned``.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._eligibility(order)

    def _eligibility(self, order: m.Order) -> ReturnEligibility:
        today = self._today()
        number = order.number

        def result(
            code: str,
            message: str,
            lines: tuple[ReturnableLine, ...] = (),
            days: int | None = None,
            ends: date | None = None,
        ) -> ReturnEligibility:
            return ReturnEligibility(
                order_number=number,
                eligible=code == "ok",
                reason_code=code,
                message=message,
                returnable_lines=lines,
                days_left=days,
                window_ends=ends,
            )

        if order.delivered_at is None:
            if order.status == "cancelled":
                message = f"Order {number} was cancelled, so there is nothing to return."
            elif order.status in {"placed", "paid", "payment_failed"}:
                message = f"Order {number} has not shipped yet; you could cancel it instead."
            elif order.status == "refunded":
                message = f"Order {number} was refunded without being delivered, so there is nothing to return."
            else:
                message = (
                    f"Order {number} has not been delivered yet; you can return it within "
                    f"{self.policy.window_days} days once it arrives."
                )
            return result("not_delivered", message)
        window_ends = order.delivered_at.date() + timedelta(days=self.policy.window_days)
        days_left = (window_ends - today).days
        if days_left < 0:
            return result(
                "window_expired",
                f"The {self.policy.window_days}-day return window for {number} closed on {_fmt_date(window_ends)}.",
                days=0,
                ends=window_ends,
            )
        returned = self._returned_qty(order)
        lines = tuple(
            ReturnableLine(
                line_id=line.id,
                sku=line.sku,
                title=line.title,
                qty=line.qty - returned.get(line.id, 0),
                unit_price=_money(line.unit_price_pence),
            )
            for line in order.lines
            if not line.final_sale and line.qty - returned.get(line.id, 0) > 0
        )
        if not lines:
            if all(line.final_sale for line in order.lines):
                return result(
                    "all_final_sale",
                    f"Everything in {number} is final sale (gift cards or clearance), so it cannot be returned.",
                    days=days_left,
                    ends=window_ends,
                )
            return result(
                "already_returned",
                f"All returnable items of {number} have already been returned.",
                days=days_left,
                ends=window_ends,
            )
        return result(
            "ok",
            f"Order {number} can be returned until {_fmt_date(window_ends)} ({days_left} days left).",
            lines,
            days_left,
            window_ends,
        )

    @staticmethod
    def _next_rma(session: Session) -> str:
        current = session.execute(select(func.max(m.Return.rma_number))).scalar_one_or_none()
        number = int(current.split("-")[1]) + 1 if current else 500001
        return f"RMA-{number}"

    def create_return(
        self,
        conversation_id: str,
        order_number: str,
        items: Sequence[int | str] | None = None,
        reason: str = "not specified",
    ) -> ReturnInfo:
        """Start a return (RMA) for some or all returnable lines of an order; it is approved at once.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.
            items: Order line ids (int) or SKUs (str) to return, each with its whole remaining quantity;
                None returns every returnable line.
            reason: Why the customer returns it.

        Returns:
            The new return with its RMA number, label instructions (free prepaid label for UK addresses,
            paid by the customer elsewhere) and refund estimate. The order becomes ``return_requested``.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``not_delivered``, ``window_expired``, ``all_final_sale``, ``already_returned``,
                ``final_sale`` (a chosen line), ``unknown_item`` or ``no_items``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            eligibility = self._eligibility(order)
            if eligibility.reason_code in {"not_delivered", "window_expired"}:
                raise NotAllowed(eligibility.reason_code, eligibility.message)
            returned = self._returned_qty(order)
            chosen: dict[int, tuple[m.OrderLine, int]] = {}
            if items is None:
                if not eligibility.eligible:
                    raise NotAllowed(eligibility.reason_code, eligibility.message)
                for line in order.lines:
                    remaining = line.qty - returned.get(line.id, 0)
                    if not line.final_sale and remaining > 0:
                        chosen[line.id] = (line, remaining)
            else:
                if not items:
                    raise NotAllowed("no_items", "Please say which items you want to return.")
                for item in items:
                    picked = self._match_line(order, item)
                    if picked is None:
                        raise NotAllowed("unknown_item", f"{item} is not part of order {order.number}.")
                    if picked.final_sale:
                        raise NotAllowed("final_sale", f"{picked.title} is final sale and cannot be returned.")
                    remaining = picked.qty - returned.get(picked.id, 0)
                    if remaining <= 0:
                        raise NotAllowed("already_returned", f"{picked.title} has already been returned.")
                    chosen[picked.id] = (picked, remaining)
            rma = self._next_rma(session)
            free_label = order.ship_country == "GB"
            if free_label:
                label_url: str | None = f"https://shop.example/returns/labels/{rma}.pdf"
                instructions = (
                    f"Print the free prepaid Royal Mail label ({label_url}, also emailed to you), write {rma} on "
                    "the packing slip and drop the parcel at any Post Office within 14 days."
                )
            else:
                label_url = None
                instructions = (
                    f"Send the items at your own cost with a tracked service to {RETURNS_ADDRESS}, with {rma} "
                    "written on the parcel, and keep the proof of postage."
                )
            estimate = sum(line.unit_price_pence * qty for line, qty in chosen.values())
            ret = m.Return(
                rma_number=rma,
                order_id=order.id,
                reason=(reason or "not specified")[:200],
                status="approved",
                label_instructions=instructions,
                label_url=label_url,
                refund_estimate_pence=estimate,
                created_at=_naive(self._now()),
            )
            ret.lines = [m.ReturnLine(order_line_id=line.id, qty=qty) for line, qty in chosen.values()]
            session.add(ret)
            order.status = "return_requested"
            session.flush()
            session.refresh(ret)
            return self._return_info(ret)

    @staticmethod
    def _match_line(order: m.Order, item: int | str) -> m.OrderLine | None:
        for line in order.lines:
            if isinstance(item, int) and line.id == item:
                return line
            if isinstance(item, str):
                text = item.strip()
                if text.upper() == line.sku.upper() or (text.isdigit() and int(text) == line.id):
                    return line
        return None

    @staticmethod
    def _return_info(ret: m.Return) -> ReturnInfo:
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
                    amount=_money(rl.order_line.unit_price_pence * rl.qty),
                )
                for rl in ret.lines
            ),
            created_at=_aware(ret.created_at),
            received_at=_opt_aware(ret.received_at),
            free_label=ret.label_url is not None,
            label_instructions=ret.label_instructions,
            label_url=ret.label_url,
            refund_estimate=_money(ret.refund_estimate_pence),
        )

    def returns_for(self, conversation_id: str, order_number: str) -> list[ReturnInfo]:
        """List an order's returns, oldest first.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The returns (possibly empty).

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return [self._return_info(ret) for ret in order.returns]

    def return_by_rma(self, conversation_id: str, rma: str) -> ReturnInfo:
        """Look a return up by RMA number; the RMA's order must be granted to the conversation.

        Args:
            conversation_id: The conversation.
            rma: RMA number in any form `normalize_rma` accepts.

        Returns:
            The return.

        Raises:
            ReturnNotFound: No such RMA.
            NotAuthorized: The RMA's order is not granted to this conversation.
        """
        number = normalize_rma(rma)
        with self._session() as session:
            ret = (
                session.execute(select(m.Return).where(m.Return.rma_number == number)).scalar_one_or_none()
                if number
                else None
            )
            if ret is None:
                raise ReturnNotFound(rma)
            self._granted_order(session, conversation_id, ret.order.number)
            return self._return_info(ret)

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

    # ---------------------------------------------------------------------------------------- refunds

    def _refund_info(self, refund: m.Refund) -> RefundInfo:
        expected = None
        if refund.status != "completed":
            expected = add_business_days(refund.created_at.date(), self.policy.refund_max_business_days)
        return RefundInfo(
            refund_id=refund.id,
            order_number=refund.order.number,
            rma_number=refund.ret.rma_number if refund.ret is not None else None,
            amount=_money(refund.amount_pence),
            currency=refund.order.currency,
            method=refund.method,
            status=refund.status,
            reason=refund.reason,
            created_at=_aware(refund.created_at),
            completed_at=_opt_aware(refund.completed_at),
            expected_by=expected,
        )

    def refunds_for(self, conversation_id: str, order_number: str) -> list[RefundInfo]:
        """List an order's refunds, oldest first.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Refunds with amount, method, status, dates and (unless completed) the expected completion date.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return [self._refund_info(refund) for refund in order.refunds]

    # --------------------------------------------------------------------------------------- payments

    def payment_methods(self) -> list[PaymentMethodInfo]:
        """List the accepted payment methods (public).

        Returns:
            Code, name and description of each method.
        """
        return [
            PaymentMethodInfo(code=code, name=name, description=desc) for code, (name, desc) in PAYMENT_METHODS.items()
        ]

    def payment_info(self, conversation_id: str, order_number: str) -> PaymentInfo:
        """Describe an order's payment and what the customer should do.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            Method, status, failure reason, advice and (for failed payments) until when the order is held.

        Raises:
            NotAuthorized: No grant.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            return self._payment_info(order)

    def _payment_info(self, order: m.Order) -> PaymentInfo:
        name = _method_name(order.payment_method)
        held_until: datetime | None = None
        status = order.payment_status
        paid_with = name.lower() if name == "Card" else name
        failure = order.payment_failure_reason
        if status == "failed":
            held_until = _aware(order.placed_at) + timedelta(hours=self.policy.payment_hold_hours)
            if self._now() <= held_until:
                action = (
                    f"Your {paid_with} payment failed ({failure}). Please pay again from the link "
                    f"in your order email, or with another method, before {_fmt_date(held_until.date())} "
                    f"{held_until:%H:%M} UTC; until then we hold your order."
                )
            else:
                action = (
                    f"Your {paid_with} payment failed ({failure}) and the hold has expired, "
                    "so the order will be cancelled. Please place a new order."
                )
        elif status == "authorised":
            action = "Your payment is authorised; we take the money when the order ships. Nothing to do."
        elif status == "paid":
            action = "Your payment was received in full. Nothing to do."
        elif status == "refunded":
            action = "This payment has been refunded to your original payment method."
        elif status == "partially_refunded":
            action = "Part of this payment has been refunded to your original payment method."
        else:
            action = "The payment authorisation was released; no money was taken."
        return PaymentInfo(
            order_number=order.number,
            method=order.payment_method,
            method_name=name,
            status=status,
            amount=_money(order.total_pence),
            currency=order.currency,
            failure_reason=order.payment_failure_reason,
            action=action,
            held_until=held_until,
        )

    def invoice(self, conversation_id: str, order_number: str) -> Invoice:
        """Produce an order's invoice (prices include VAT; 20% is shown for UK and EU deliveries).

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The invoice.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``not_paid`` when the payment failed or was voided.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.payment_status in {"failed", "voided"}:
                raise NotAllowed("not_paid", f"Order {order.number} was never paid, so it has no invoice.")
            rate = VAT_RATE if order.ship_country == "GB" or order.ship_country in EU_COUNTRIES else Decimal(0)
            vat_pence = int((Decimal(order.total_pence) * rate / (1 + rate)).to_integral_value(rounding=ROUND_HALF_UP))
            customer = order.customer
            return Invoice(
                invoice_number=f"INV-{order.number.split('-')[1]}",
                order_number=order.number,
                issue_date=order.placed_at.date(),
                billing_name=customer.name,
                billing_address=Address(
                    name=customer.name,
                    line=customer.address,
                    city=customer.city,
                    postcode=customer.postcode,
                    country=customer.country,
                ),
                lines=tuple(
                    InvoiceLine(
                        sku=line.sku,
                        title=line.title,
                        qty=line.qty,
                        unit_price=_money(line.unit_price_pence),
                        line_total=_money(line.unit_price_pence * line.qty),
                    )
                    for line in order.lines
                ),
                subtotal=_money(order.subtotal_pence),
                shipping=_money(order.shipping_pence),
                vat_rate=rate,
                vat_amount=_money(vat_pence),
                total=_money(order.total_pence),
                currency=order.currency,
            )

    # ------------------------------------------------------------------------------ changing an order

    @staticmethod
    def _refuse_change(order: m.Order, what: str) -> None:
        if order.status == "cancelled":
            raise NotAllowed("cancelled", f"Order {order.number} is already cancelled.")
        if order.status not in CHANGEABLE_STATUSES:
            if order.delivered_at is not None:
                detail = "has already been delivered; you can start a return instead"
            else:
                detail = "has already shipped; once it arrives you can return it"
            raise NotAllowed("already_shipped", f"Order {order.number} {detail}, so {what}.")

    def check_cancellable(self, conversation_id: str, order_number: str) -> None:
        """Raise what `cancel_order` would refuse with, without changing anything.

        Lets the bot ask "shall I cancel it?" only when the answer can be yes.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: As `cancel_order`.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.status == "cancelled":
                raise NotAllowed("already_cancelled", f"Order {order.number} is already cancelled.")
            self._refuse_change(order, "it can no longer be cancelled")

    def check_address_changeable(self, conversation_id: str, order_number: str) -> None:
        """Raise what `change_shipping_address` would refuse with (before the address is known).

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled`` or ``already_shipped``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            self._refuse_change(order, "the delivery address can no longer be changed")

    def cancel_order(self, conversation_id: str, order_number: str) -> CancelResult:
        """Cancel an order that has not shipped (placed, paid or payment failed).

        A paid order gets a full refund to the original payment method; an authorised or failed
        payment is voided.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.

        Returns:
            The new status (``cancelled``), the refund if one was created, and a message.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled`` (already) or ``already_shipped`` (shipped or later).
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            if order.status == "cancelled":
                raise NotAllowed("already_cancelled", f"Order {order.number} is already cancelled.")
            self._refuse_change(order, "it can no longer be cancelled")
            now = _naive(self._now())
            order.status = "cancelled"
            order.cancelled_at = now
            refund_info: RefundInfo | None = None
            if order.payment_status == "paid":
                refund = m.Refund(
                    order_id=order.id,
                    amount_pence=order.total_pence,
                    method=order.payment_method,
                    status="processing",
                    reason="order cancelled",
                    created_at=now,
                )
                session.add(refund)
                order.payment_status = "refunded"
                session.flush()
                session.refresh(refund)
                refund_info = self._refund_info(refund)
                message = (
                    f"Order {order.number} is cancelled. We are refunding £{refund_info.amount} to your "
                    f"{_method_name(order.payment_method)}; expect it by "
                    f"{_fmt_date(refund_info.expected_by or refund_info.created_at.date())}."
                )
            else:
                order.payment_status = "voided"
                message = f"Order {order.number} is cancelled. No money was taken."
            return CancelResult(order_number=order.number, status=order.status, refund=refund_info, message=message)

    def change_shipping_address(self, conversation_id: str, order_number: str, address_text: str) -> AddressChange:
        """Change where an order that has not shipped yet will be delivered.

        Args:
            conversation_id: A conversation holding a grant for the order.
            order_number: Order number in any accepted form.
            address_text: The new address as typed, e.g. ``"5 Baker Street, London NW1 6XE"``; it must
                contain a postcode; the country defaults to the order's.

        Returns:
            Old and new address and a message.

        Raises:
            NotAuthorized: No grant.
            NotAllowed: ``cancelled``, ``already_shipped`` or ``different_country``.
            InvalidInput: No postcode could be found in ``address_text``.
        """
        with self._session() as session:
            order = self._granted_order(session, conversation_id, order_number)
            self._refuse_change(order, "the delivery address can no longer be changed")
            parsed = parse_address(address_text, default_country=order.ship_country)
            if parsed is None:
                raise InvalidInput("Please give the full new address including the postcode.")
            if parsed.country != order.ship_country:
                country_name = COUNTRY_NAMES.get(order.ship_country, order.ship_country)
                raise NotAllowed(
                    "different_country",
                    f"The address can only be changed within {country_name}; to ship elsewhere, cancel and "
                    "place a new order.",
                )
            old = self._address(order)
            order.ship_address = parsed.line or order.ship_address
            order.ship_city = parsed.city or order.ship_city  # the postcode is authoritative
            order.ship_postcode = parsed.postcode
            new = self._address(order)
            return AddressChange(
                order_number=order.number,
                old_address=old,
                new_address=new,
                message=f"Order {order.number} will now be delivered to {new.one_line()}.",
            )

    # --------------------------------------------------------------------------------------- shipping

    @staticmethod
    def _method_info(method: m.ShippingMethod, value_pence: int | None) -> ShippingMethodInfo:
        free = method.free_over_pence is not None and value_pence is not None and value_pence >= method.free_over_pence
        return ShippingMethodInfo(
            code=method.code,
            name=method.name,
            price=_money(0 if free else method.price_pence),
            free_over=_money(method.free_over_pence) if method.free_over_pence is not None else None,
            min_days=method.min_days,
            max_days=method.max_days,
        )

    def shipping_zones(self) -> list[ShippingZoneInfo]:
        """List shipping zones with their methods at full price (public).

        Returns:
            The zones in display order.
        """
        with self._session() as session:
            zones = session.execute(
                select(m.ShippingZone)
                .options(selectinload(m.ShippingZone.countries), selectinload(m.ShippingZone.methods))
                .order_by(m.ShippingZone.sort_order)
            ).scalars()
            return [
                ShippingZoneInfo(
                    code=zone.code,
                    name=zone.name,
                    countries=tuple(c.country for c in zone.countries),
                    is_rest_of_world=zone.is_fallback,
                    methods=tuple(self._method_info(method, None) for method in zone.methods),
                )
                for zone in zones
            ]

    def shipping_quote(
        self,
        country: str | None = None,
        postcode: str | None = None,
        order_value: Decimal | float | str | None = None,
    ) -> ShippingQuote:
        """Quote delivery options to a destination (public).

        Args:
            country: Country name, alias or code (``"Germany"``, ``"UK"``, ``"DE"``).
            postcode: A postcode; a UK (or Canadian, Irish, Dutch) postcode alone implies its country.
            order_value: Basket value in GBP (``Decimal``, number or text like ``"£45"``); methods whose
                free-over threshold it reaches cost 0.

        Returns:
            The zone, the country and each method's price and delivery days.

        Raises:
            UnknownDestination: The destination cannot be mapped to a country.
        """
        code = normalize_country(country) if country else None
        if country and code is None:
            raise UnknownDestination(country)
        if code is None and postcode:
            code = detect_postcode_country(postcode)
        if code is None:
            raise UnknownDestination(postcode or country)
        value: Decimal | None
        if order_value is None or order_value == "":
            value = None
        elif isinstance(order_value, str):
            value = parse_amount(order_value)
        else:
            value = Decimal(str(order_value)).quantize(Decimal("0.01"))
        value_pence = _pence(value) if value is not None else None
        with self._session() as session:
            zone = session.execute(
                select(m.ShippingZone)
                .join(m.ShippingZoneCountry, m.ShippingZoneCountry.zone_id == m.ShippingZone.id)
                .where(m.ShippingZoneCountry.country == code)
            ).scalar_one_or_none()
            if zone is None:
                zone = session.execute(
                    select(m.ShippingZone).where(m.ShippingZone.is_fallback.is_(True))
                ).scalar_one_or_none()
            if zone is None:
                raise UnknownDestination(country or postcode)
            return ShippingQuote(
                zone=zone.code,
                zone_name=zone.name,
                country=code,
                country_name=COUNTRY_NAMES.get(code, code),
                order_value=value,
                methods=tuple(self._method_info(method, value_pence) for method in zone.methods),
            )

    # -------------------------------------------------------------------------------------- catalogue

    @staticmethod
    def _product_info(product: m.Product) -> ProductInfo:
        return ProductInfo(
            sku=product.sku,
            title=product.title,
            description=product.description,
            brand=product.brand,
            category=product.category,
            price=_money(product.price_pence),
            attributes=dict(product.attributes or {}),
            final_sale=product.final_sale,
            image_url=product.image_url,
            online_stock=product.online_stock,
        )

    def find_products(self, text: str, limit: int = 10) -> list[ProductInfo]:
        """Find products whose title, brand or category match the words of ``text`` (case-insensitive).

        Products matching the most words come first; only the best-matching tier is returned.

        Args:
            text: e.g. ``"vitamin c serum"``, ``"Maison Verrier"``, ``"fragrance"``.
            limit: Maximum results.

        Returns:
            Matching products (possibly empty).
        """
        words = [w for w in re.findall(r"[\w'-]+", (text or "").lower()) if len(w) >= 2 and w not in _STOPWORDS]
        words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]
        if not words:
            return []
        with self._session() as session:
            conditions = [
                or_(
                    m.Product.title.icontains(word, autoescape=True),
                    m.Product.brand.icontains(word, autoescape=True),
                    m.Product.category.icontains(word, autoescape=True),
                )
                for word in words
            ]
            products = session.execute(select(m.Product).where(or_(*conditions))).scalars().all()
            phrase = " ".join(words)

            def score(product: m.Product) -> int:
                haystack = f"{product.title} {product.brand} {product.category}".lower()
                return sum(1 for word in words if word in haystack) * 2 + (phrase in product.title.lower())

            scored = sorted(((score(p), p) for p in products), key=lambda pair: (-pair[0], pair[1].sku))
            if not scored:
                return []
            best = scored[0][0] // 2
            return [self._product_info(p) for s, p in scored if s // 2 == best][: max(0, limit)]

    def catalogue(self) -> list[ProductInfo]:
        """Every product, in SKU order (the bot matches what customers name against it).

        Returns:
            All products, in stock or not.
        """
        with self._session() as session:
            return [
                self._product_info(p) for p in session.execute(select(m.Product).order_by(m.Product.sku)).scalars()
            ]

    def online_stock(self) -> dict[str, int]:
        """Units in online stock by SKU, for every product, in one light query (stock checks of many products).

        Returns:
            SKU -> units (0 when sold out).
        """
        with self._session() as session:
            rows = session.execute(select(m.Product.sku, m.Product.online_stock)).all()
            return {str(sku): int(units) for sku, units in rows}

    def product(self, sku: str) -> ProductInfo:
        """Return one product.

        Args:
            sku: The SKU (case-insensitive).

        Returns:
            The product.

        Raises:
            ProductNotFound: Unknown SKU.
        """
        with self._session() as session:
            product = session.execute(
                select(m.Product).where(m.Product.sku == (sku or "").strip().upper())
            ).scalar_one_or_none()
            if product is None:
                raise ProductNotFound(sku)
            return self._product_info(product)

    def stock(self, sku: str, store_id: str | None = None, near: str | None = None) -> StockInfo:
        """Say how many units of a product are available online and in each (or one) store, and where.

        Args:
            sku: The SKU (case-insensitive).
            store_id: Only this store (e.g. ``"LDN-01"``); all stores when None.
            near: Order the stores by distance from this one (itself first, then the nearest;
                shops without coordinates last) and fill ``distance_km``; by id when None.

        Returns:
            Online quantity and per-store quantities with their shelf locations.

        Raises:
            ProductNotFound: Unknown SKU.
            StoreNotFound: Unknown store id (``store_id`` or ``near``).
        """
        with self._session() as session:
            product = session.execute(
                select(m.Product).where(m.Product.sku == (sku or "").strip().upper())
            ).scalar_one_or_none()
            if product is None:
                raise ProductNotFound(sku)
            stores_stmt = select(m.PhysicalStore).order_by(m.PhysicalStore.id)
            if store_id is not None:
                stores_stmt = stores_stmt.where(m.PhysicalStore.id == store_id.strip().upper())
            stores = list(session.execute(stores_stmt).scalars().all())
            if store_id is not None and not stores:
                raise StoreNotFound(store_id)
            distances: dict[str, float | None] = {}
            if near is not None:
                origin = session.get(m.PhysicalStore, near.strip().upper())
                if origin is None:
                    raise StoreNotFound(near)
                distances = {s.id: _distance_km(origin, s) for s in stores}
                stores.sort(key=lambda s: (distances[s.id] is None, distances[s.id] or 0.0, s.id))
            rows = session.execute(
                select(m.StoreStock.store_id, m.StoreStock.quantity, m.StoreStock.location).where(
                    m.StoreStock.product_id == product.id
                )
            ).all()
            shelf = {row.store_id: (row.quantity, row.location) for row in rows}
            return StockInfo(
                sku=product.sku,
                title=product.title,
                online=product.online_stock,
                stores=tuple(
                    StoreStockInfo(
                        store_id=s.id,
                        store_name=s.name,
                        city=s.city,
                        quantity=shelf.get(s.id, (0, ""))[0],
                        location=shelf.get(s.id, (0, ""))[1] or "",
                        distance_km=distances.get(s.id),
                    )
                    for s in stores
                ),
            )

    def store_quantities(self, store_id: str) -> dict[str, int]:
        """Units on the shelf of one store, by SKU (products it has none of are left out).

        Args:
            store_id: The store (e.g. ``"LDN-01"``).

        Returns:
            ``{sku: quantity}`` for every product with a positive quantity there.

        Raises:
            StoreNotFound: Unknown store id.
        """
        with self._session() as session:
            key = (store_id or "").strip().upper()
            if session.get(m.PhysicalStore, key) is None:
                raise StoreNotFound(store_id)
            rows = session.execute(
                select(m.Product.sku, m.StoreStock.quantity)
                .join(m.StoreStock, m.StoreStock.product_id == m.Product.id)
                .where(m.StoreStock.store_id == key, m.StoreStock.quantity > 0)
            ).all()
            return {sku: quantity for sku, quantity in rows}

    def stores(self) -> list[StoreInfo]:
        """List the physical stores.

        Returns:
            Stores ordered by id.
        """
        with self._session() as session:
            rows = session.execute(select(m.PhysicalStore).order_by(m.PhysicalStore.id)).scalars()
            return [
                StoreInfo(
                    store_id=s.id,
                    name=s.name,
                    city=s.city,
                    address=s.address,
                    postcode=s.postcode,
                    opening_hours=s.opening_hours,
                )
                for s in rows
            ]

    def categories(self) -> list[str]:
        """List product categories.

        Returns:
            Category names, sorted.
        """
        with self._session() as session:
            return list(session.execute(select(m.Product.category).distinct().order_by(m.Product.category)).scalars())

    def _resolve_category(self, session: Session, text: str) -> str | None:
        key = _category_key(text)
        for name in session.execute(select(m.Product.category).distinct()).scalars():
            if _category_key(name) == key:
                return name
        return None

    def popular_products(self, category: str | None = None, limit: int = 5) -> list[ProductInfo]:
        """List best sellers (units ordered), optionally in one category; out-of-stock items are skipped.

        Args:
            category: Category name, loosely matched (``"bath and body"`` finds ``Bath & Body``).
            limit: Maximum results.

        Returns:
            Products, best-selling first (empty for an unknown category).
        """
        with self._session() as session:
            sold = (
                select(m.OrderLine.product_id, func.sum(m.OrderLine.qty).label("units"))
                .group_by(m.OrderLine.product_id)
                .subquery()
            )
            units = func.coalesce(sold.c.units, 0)
            stmt = (
                select(m.Product)
                .outerjoin(sold, sold.c.product_id == m.Product.id)
                .where(m.Product.online_stock > 0)
                .order_by(units.desc(), m.Product.sku)
                .limit(max(0, limit))
            )
            if category:
                name = self._resolve_category(session, category)
                if name is None:
                    return []
                stmt = stmt.where(m.Product.category == name)
            return [self._product_info(p) for p in session.execute(stmt).scalars()]

    def catalogue_terms(self) -> CatalogueTerms:
        """Collect product titles, brands and categories for the bot's lookup tables.

        Returns:
            Sorted, de-duplicated terms.
        """
        with self._session() as session:
            rows = session.execute(select(m.Product.title, m.Product.brand, m.Product.category)).all()
            return CatalogueTerms(
                titles=tuple(sorted({r[0] for r in rows})),
                brands=tuple(sorted({r[1] for r in rows})),
                categories=tuple(sorted({r[2] for r in rows})),
            )

    # --------------------------------------------------------------------------- identities, handoffs

    def link_identity(self, channel: str, external_id: str, customer_id: int) -> None:
        """Remember that a channel account belongs to a customer (replaces an earlier link).

        Args:
            channel: e.g. ``"telegram"``.
            external_id: The account id on that channel.
            customer_id: The customer.
        """
        with self._session() as session:
            existing = session.execute(
                select(m.ChannelIdentity).where(
                    m.ChannelIdentity.channel == channel, m.ChannelIdentity.external_id == external_id
                )
            ).scalar_one_or_none()
            if existing is None:
                session.add(
                    m.ChannelIdentity(
                        channel=channel,
                        external_id=external_id,
                        customer_id=customer_id,
                        created_at=_naive(self._now()),
                    )
                )
            else:
                existing.customer_id = customer_id

    def customer_for_identity(self, channel: str, external_id: str) -> int | None:
        """Look up the customer linked to a channel account.

        Args:
            channel: e.g. ``"telegram"``.
            external_id: The account id on that channel.

        Returns:
            The customer id, or None.
        """
        with self._session() as session:
            return session.execute(
                select(m.ChannelIdentity.customer_id).where(
                    m.ChannelIdentity.channel == channel, m.ChannelIdentity.external_id == external_id
                )
            ).scalar_one_or_none()

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
            created_at=_aware(row.created_at),
            store_id=row.store_id,
        )

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
                created_at=_naive(self._now()),
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
        self._set_handoff(ticket_number, status="assigned", assigned_to=staff[:64], assigned_at=_naive(at))

    def close_handoff(self, ticket_number: str, at: datetime | None = None) -> None:
        """Mark a ticket ``closed`` (resolved by staff).

        Raises:
            LookupError: no such ticket.
        """
        self._set_handoff(ticket_number, status="closed", closed_at=_naive(at or self._now()))

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

    # -------------------------------------------------------------------------------------- demo cases

    def demo_cases(self, limit: int = 12) -> list[dict[str, Any]]:
        """Pick ready-to-try orders from the database, one per interesting situation.

        Args:
            limit: Maximum cases.

        Returns:
            Dicts with ``case``, ``order_number``, ``order_digits`` (``100234``), ``email``, ``postcode``,
            ``first_name`` (as the bot greets them), ``status``, ``carrier`` and ``tracking_number`` (None
            before shipping), ``rma_number`` (or None) and ``expect`` (one sentence of what the bot should
            say). Blind conversation tests (``tests/conversations/``) resolve their placeholders from these.
        """
        cases: list[dict[str, Any]] = []
        with self._session() as session:
            orders = (
                session.execute(
                    select(m.Order)
                    .options(
                        selectinload(m.Order.customer),
                        selectinload(m.Order.lines),
                        selectinload(m.Order.shipment).selectinload(m.Shipment.events),
                        selectinload(m.Order.returns).selectinload(m.Return.lines),
                        selectinload(m.Order.refunds),
                    )
                    .order_by(m.Order.ship_country != "GB", m.Order.number)
                )
                .scalars()
                .all()
            )
            # Prefer customers with no other order: the cases are printed in the README for anyone to try,
            # so their e-mails and postcodes should open the printed orders and as little else as possible.
            per_customer: dict[int, int] = {}
            for order in orders:
                per_customer[order.customer_id] = per_customer.get(order.customer_id, 0) + 1

            def has_others(order: m.Order) -> bool:
                return per_customer[order.customer_id] > 1

            orders = sorted(orders, key=lambda o: (has_others(o), o.ship_country != "GB", o.number))

            def first(predicate: Callable[[m.Order], bool]) -> m.Order | None:
                return next((o for o in orders if predicate(o)), None)

            def shipment_status(order: m.Order) -> str | None:
                return order.shipment.status if order.shipment is not None else None

            def add(case: str, order: m.Order | None, expect: Callable[[m.Order], str], rma: str | None = None) -> None:
                if order is None:
                    return
                shipment = order.shipment
                cases.append(
                    {
                        "case": case,
                        "order_number": order.number,
                        "order_digits": order.number.removeprefix("ORD-"),
                        "email": order.customer.email,
                        "postcode": order.ship_postcode,
                        "first_name": _first_name(order.customer.name),
                        "status": order.status,
                        "carrier": shipment.carrier if shipment is not None else None,
                        "tracking_number": shipment.tracking_number if shipment is not None else None,
                        "rma_number": rma,
                        "expect": expect(order),
                    }
                )

            add(
                "in_transit",
                first(lambda o: o.status == "in_transit" and shipment_status(o) == "in_transit"),
                lambda o: self._tracking_info(o).message,
            )
            add(
                "delayed",
                first(lambda o: o.status == "delayed" and shipment_status(o) == "delayed"),
                lambda o: self._tracking_info(o).message + " The bot should apologise.",
            )
            add(
                "lost_parcel",
                first(lambda o: o.status == "delayed" and shipment_status(o) == "lost"),
                lambda o: self._tracking_info(o).message + " The bot should offer a hand-off to a person.",
            )
            returnable = sorted(
                (
                    o
                    for o in orders
                    if o.status == "delivered"
                    and o.ship_country == "GB"
                    and self._eligibility(o).eligible
                    and not any(li.final_sale for li in o.lines)
                    and not o.returns
                ),
                key=lambda o: (
                    (self._eligibility(o).days_left or 0) < 14,
                    has_others(o),
                    -(self._eligibility(o).days_left or 0),
                    o.number,
                ),
            )
            add(
                "returnable",
                returnable[0] if returnable else None,
                lambda o: self._eligibility(o).message + " The bot should offer to start a return.",
            )
            add(
                "window_expired",
                first(lambda o: o.status == "delivered" and self._eligibility(o).reason_code == "window_expired"),
                lambda o: self._eligibility(o).message,
            )
            add(
                "final_sale",
                first(lambda o: o.status == "delivered" and self._eligibility(o).reason_code == "all_final_sale"),
                lambda o: self._eligibility(o).message,
            )
            add(
                "placed",
                first(lambda o: o.status == "placed"),
                lambda o: (
                    f"Order {o.number} has not shipped yet, so it can still be cancelled or its delivery "
                    "address changed."
                ),
            )
            add("payment_failed", first(lambda o: o.status == "payment_failed"), lambda o: self._payment_info(o).action)
            refunded = first(lambda o: o.status == "refunded" and any(r.status == "completed" for r in o.refunds))
            add(
                "refunded",
                refunded,
                self._refund_sentence,
                rma=refunded.returns[0].rma_number if refunded is not None and refunded.returns else None,
            )
            requested = first(lambda o: o.status == "return_requested" and bool(o.returns))
            add(
                "return_requested",
                requested,
                lambda o: (
                    f"Return {o.returns[-1].rma_number} for {o.number} is {o.returns[-1].status}; "
                    "we refund once the parcel reaches us."
                ),
                rma=requested.returns[-1].rma_number if requested is not None else None,
            )
            returned = first(lambda o: o.status == "returned" and bool(o.returns) and bool(o.refunds))
            add(
                "returned_refund_processing",
                returned,
                self._refund_sentence,
                rma=returned.returns[-1].rma_number if returned is not None else None,
            )
            add(
                "shipped",
                first(lambda o: o.status == "shipped"),
                lambda o: self._tracking_info(o).message + " It can no longer be cancelled.",
            )
        return cases[: max(0, limit)]

    def _refund_sentence(self, order: m.Order) -> str:
        refund = self._refund_info(order.refunds[-1])
        if refund.status == "completed" and refund.completed_at is not None:
            return (
                f"A refund of £{refund.amount} for {order.number} was completed on "
                f"{_fmt_date(refund.completed_at.date())} to the original {_method_name(refund.method)} payment."
            )
        expected = _fmt_date(refund.expected_by) if refund.expected_by else "soon"
        return f"A refund of £{refund.amount} for {order.number} is {refund.status}; expect it by {expected}."


def _distance_km(origin: m.PhysicalStore, other: m.PhysicalStore) -> float | None:
    """Great-circle distance between two shops, or None when either has no coordinates."""
    if origin.id == other.id:
        return 0.0
    points = (origin.latitude, origin.longitude, other.latitude, other.longitude)
    if any(value is None for value in points):
        return None
    lat1, lon1, lat2, lon2 = (math.radians(float(v)) for v in points)  # type: ignore[arg-type]
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * 6371.0 * math.asin(math.sqrt(a)), 1)
