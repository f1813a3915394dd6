"""The reads asked on most action calls give what their ORM forms gave (perf20 built them once as Core statements).

`is_verified`, `attempts_left` and `verified_customer` are compared with the ORM reads they replaced
(`_granted_order`, `_failures` and the ORM select of the customer, still the store's own elsewhere) over
conversations in every state a grant or a count can be in, at times before and after grants go idle, on each
backend; and `is_verified` marks grants as used exactly as `_granted_order` does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import models as m
from store.core import live_grant, naive
from store.errors import NotAuthorized, VerificationFailed
from store.service import OrderStore
from tests.store.conftest import NOW


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _orm_is_verified(store: OrderStore, conversation_id: str, number: str) -> bool:
    with store._session() as session:
        try:
            store._granted_order(session, conversation_id, number)
        except NotAuthorized:
            return False
        return True


def _orm_attempts_left(store: OrderStore, conversation_id: str) -> int:
    with store._session() as session:
        return max(0, store.limits.per_conversation - store._failures(session, conversation_id))


def _orm_verified_customer(store: OrderStore, conversation_id: str) -> int | None:
    live = live_grant(store._live_since(naive(store._now())))
    with store._session() as session:
        stmt = (
            select(m.Order.customer_id)
            .join(m.AccessGrant, m.AccessGrant.order_id == m.Order.id)
            .where(m.AccessGrant.conversation_id == conversation_id, m.AccessGrant.scope == "customer", live)
            .order_by(m.AccessGrant.id.desc())
            .limit(1)
        )
        return session.execute(stmt).scalar_one_or_none()


def _orders(db: Session, count: int) -> list[m.Order]:
    return list(db.execute(select(m.Order).order_by(m.Order.number).limit(count)).scalars())


def _last_used(db: Session, conversation_id: str) -> list[tuple[str, datetime | None]]:
    db.expire_all()
    rows = db.execute(
        select(m.Order.number, m.AccessGrant.last_used_at)
        .join(m.AccessGrant, m.AccessGrant.order_id == m.Order.id)
        .where(m.AccessGrant.conversation_id == conversation_id)
        .order_by(m.Order.number)
    )
    return [(number, used) for number, used in rows]


def _two_orders_of_one_customer(db: Session) -> tuple[m.Order, m.Order]:
    customer = db.execute(
        select(m.Order.customer_id)
        .group_by(m.Order.customer_id)
        .having(func.count(m.Order.id) > 1)
        .order_by(m.Order.customer_id)
        .limit(1)
    ).scalar_one()
    first, other = db.execute(
        select(m.Order).where(m.Order.customer_id == customer).order_by(m.Order.number).limit(2)
    ).scalars()
    return first, other


@pytest.fixture
def clocked(session_factory: sessionmaker[Session]) -> tuple[OrderStore, Clock]:
    clock = Clock()
    return OrderStore(session_factory, now=clock), clock


def _fail(store: OrderStore, conversation_id: str, number: str, times: int) -> None:
    for attempt in range(times):
        with pytest.raises(VerificationFailed):
            store.verify(conversation_id, number, f"nobody-{conversation_id}-{attempt}@example.com")


def test_the_reads_answer_as_their_orm_forms_in_every_state(clocked, db: Session) -> None:
    store, clock = clocked
    first, a_customer_order = _two_orders_of_one_customer(db)
    second, third, other = [o for o in _orders(db, 6) if o.customer_id != first.customer_id][:3]
    store.verify("by-email", first.number, first.customer.email)
    store.grant_customer_order("by-email", a_customer_order.number)
    store.verify("by-postcode", second.number, second.ship_postcode)
    _fail(store, "two-failures", third.number, 2)
    _fail(store, "locked", other.number, 3)
    store.verify("revoked", third.number, third.customer.email)
    store.revoke_grants("revoked")
    idle = store.limits.grant_idle
    numbers = [first.number, a_customer_order.number, second.number, third.number, other.number, "hello", "RMA-500001"]
    conversations = ["by-email", "by-postcode", "two-failures", "locked", "revoked", "nobody"]
    seen_true = seen_customer = 0
    for moved in (
        timedelta(0),
        timedelta(seconds=30),
        idle - timedelta(seconds=1),
        idle + timedelta(seconds=1),
        3 * idle,
    ):
        clock.now = NOW + moved
        for conversation in conversations:
            assert store.attempts_left(conversation) == _orm_attempts_left(store, conversation)
            customer = store.verified_customer(conversation)
            assert customer == _orm_verified_customer(store, conversation)
            seen_customer += customer is not None
            for number in numbers:
                verified = store.is_verified(conversation, number)
                assert verified == _orm_is_verified(store, conversation, number), (moved, conversation, number)
                seen_true += verified
    # the states above are not all alike: grants held, customers proved, counts spent
    assert seen_true and seen_customer
    assert store.attempts_left("locked") == 0 < store.attempts_left("two-failures") < store.attempts_left("nobody")


def test_is_verified_marks_the_grants_as_used_like_granted_order(clocked, db: Session) -> None:
    """Written at most once a minute, on all of the conversation's live grants, only while they are live."""
    store, clock = clocked
    first, second = _orders(db, 2)
    results = {}
    for how, check in (("new", store.is_verified), ("orm", lambda c, n: _orm_is_verified(store, c, n))):
        conversation = f"touch-{how}"
        clock.now = NOW
        store.verify(conversation, first.number, first.customer.email)
        store.verify(conversation, second.number, second.customer.email)
        seen = []
        for seconds in (0, 30, 61, 90, 125):
            clock.now = NOW + timedelta(seconds=seconds)
            assert check(conversation, first.number)
            seen.append(_last_used(db, conversation))
        clock.now = NOW + timedelta(seconds=125) + store.limits.grant_idle + timedelta(seconds=1)
        assert not check(conversation, first.number)
        seen.append(_last_used(db, conversation))
        results[how] = [[used for _, used in state] for state in seen]
    assert results["new"] == results["orm"]
    assert results["new"][2][0] == naive(NOW + timedelta(seconds=61))  # the touch happened
