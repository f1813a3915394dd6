"""Verification and access grants: who may see which order (`OrderStore.verify`, staff access, pauses)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from store import models as m
from store.core import StoreCore, aware, first_name, live_grant, naive, proved_customer
from store.errors import (
    InvalidInput,
    NotAuthorized,
    OrderNotFound,
    VerificationFailed,
    VerificationLocked,
    VerificationPaused,
)
from store.normalize import normalize_order_number
from store.policy import STAFF_ROLES
from store.proofs import (
    COUNTED,
    FAILED,
    MATCHED,
    PAUSED,
    PENDING,
    UNATTRIBUTED_SOURCE,
    matches,
    pause_until,
    proof_candidates,
    the_proof,
)
from store.records import PausedCheck, VerifiedOrder

#: What failed proofs are counted by (scope -> attempt column, whether a match forgives earlier failures).
_SCOPES = {"order": ("order_number", True), "source": ("source", False), "proof": ("proof_key", True)}


_attempts = m.VerificationAttempt.__table__
_grants = m.AccessGrant.__table__
_orders = m.Order.__table__
#: The conversation's failed (and pending) proofs, for `Verification.attempts_left`: built once like
#: `store.core.GRANT_TIMES`; the same count as `Verification._failures`.
FAILURES = select(func.count(_attempts.c.id)).where(
    _attempts.c.conversation_id == bindparam("conversation_id"), _attempts.c.outcome.in_(COUNTED)
)
#: The customer of the conversation's newest live grant of ``customer`` scope, for `Verification.verified_customer`.
VERIFIED_CUSTOMER = (
    select(_orders.c.customer_id)
    .select_from(_orders.join(_grants, _grants.c.order_id == _orders.c.id))
    .where(
        _grants.c.conversation_id == bindparam("conversation_id"),
        _grants.c.scope == "customer",
        func.coalesce(_grants.c.last_used_at, _grants.c.granted_at) >= bindparam("since"),
    )
    .order_by(_grants.c.id.desc())
    .limit(1)
)


class Verification(StoreCore):
    """Proving ownership of an order and the grants it gives a conversation."""

    @staticmethod
    def _failures(session: Session, conversation_id: str, exclude: int | None = None) -> int:
        stmt = select(func.count(m.VerificationAttempt.id)).where(
            m.VerificationAttempt.conversation_id == conversation_id,
            m.VerificationAttempt.outcome.in_(COUNTED),
        )
        if exclude is not None:
            stmt = stmt.where(m.VerificationAttempt.id != exclude)
        return int(session.execute(stmt).scalar_one())

    def _scope_limits(self, scope: str) -> tuple[timedelta, int]:
        """How long failed proofs of a scope are remembered, and how many are free before checks pause."""
        limits = self.limits
        return {
            "order": (limits.order_window, limits.per_order),
            "source": (limits.source_window, limits.per_source),
            "proof": (limits.proof_window, limits.per_proof),
        }[scope]

    def _scope_failures(
        self, session: Session, scope: str, key: str, now: datetime, exclude: int | None = None
    ) -> list[datetime]:
        """Times of the failed proofs of one order number, source or proof value still remembered: in the
        scope's window and, for an order or a proof value, after its last match (a match does not forgive a
        source)."""
        name, forgiven = _SCOPES[scope]
        attempt = m.VerificationAttempt
        column = getattr(attempt, name)
        stmt = select(attempt.created_at).where(
            column == key, attempt.outcome.in_(COUNTED), attempt.created_at >= now - self._scope_limits(scope)[0]
        )
        if forgiven:
            last_match = session.execute(
                select(func.max(attempt.id)).where(column == key, attempt.outcome == MATCHED)
            ).scalar_one_or_none()
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
        paused: list[tuple[datetime, str]] = []
        for scope, key in (("order", number), ("source", source), ("proof", proof_key)):
            if key is None:
                continue
            failures = self._scope_failures(session, scope, key, now, exclude)
            until = pause_until(failures, self._scope_limits(scope)[1], self.limits)
            if until is not None and until > now:
                paused.append((until, scope))
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
        now = naive(self._now())
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
                    customer_first_name=first_name(order.customer.name),
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
        now = naive(self._now())
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
        now = naive(self._now())
        with self._session() as session:
            order = self._find_order(session, number)
            if order is None or not proved_customer(session, conversation_id, order.customer_id, self._live_since(now)):
                return None
            self._grant(session, conversation_id, order, "order", now)
            return VerifiedOrder(
                order_number=order.number,
                customer_id=order.customer_id,
                customer_first_name=first_name(order.customer.name),
                scope="order",
            )

    def paused_checks(self, limit: int = 100) -> list[PausedCheck]:
        """Order numbers and sources whose self-service checks are paused now, or were lately (for staff).

        Args:
            limit: Most rows returned, the latest failure first.

        Returns:
            One row per order number or source at or past its free failures in its window.
        """
        now = naive(self._now())
        attempt = m.VerificationAttempt
        rows: list[PausedCheck] = []
        with self._session() as session:
            for scope, (name, _forgiven) in _SCOPES.items():
                column = getattr(attempt, name)
                window, free = self._scope_limits(scope)
                stmt = (
                    select(column, func.count(attempt.id), func.max(attempt.created_at))
                    .where(column.is_not(None), attempt.outcome.in_(COUNTED), attempt.created_at >= now - window)
                    .group_by(column)
                    .having(func.count(attempt.id) >= free)
                )
                for key, _count, _last in session.execute(stmt):
                    failures = self._scope_failures(session, scope, str(key), now)
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
                            last_failure=aware(max(failures)),
                            paused_until=aware(until),
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
            now = naive(self._now())
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
                customer_first_name=first_name(order.customer.name),
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
            return [(sid, role, aware(at)) for sid, role, at in session.execute(stmt)]

    def attempts_left(self, conversation_id: str) -> int:
        """Say how many failed verifications the conversation may still make.

        Args:
            conversation_id: The conversation.

        Returns:
            0 when locked, otherwise 1..`MAX_FAILED_VERIFICATIONS`.
        """
        with self._session() as session:
            failures = int(session.execute(FAILURES, {"conversation_id": conversation_id}).scalar_one())
            return max(0, self.limits.per_conversation - failures)

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
            return self._holds_grant(session, conversation_id, order_number)

    def verified_orders(self, conversation_id: str) -> list[str]:
        """List the order numbers the conversation holds grants for.

        Args:
            conversation_id: The conversation.

        Returns:
            Order numbers, in the order they were verified.
        """
        live = live_grant(self._live_since(naive(self._now())))
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
        params = {"conversation_id": conversation_id, "since": self._live_since(naive(self._now()))}
        with self._session() as session:
            return session.execute(VERIFIED_CUSTOMER, params).scalar_one_or_none()
