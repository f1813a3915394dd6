"""Staff access: any order without customer proof for a staff role, recorded per lookup; never for others."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import models as m
from store.errors import InvalidInput, NotAuthorized, OrderNotFound
from store.service import OrderStore


def test_staff_role_gets_access_and_the_lookup_is_recorded(store: OrderStore, db: Session, now) -> None:
    order = db.execute(select(m.Order).where(m.Order.number == "ORD-100042")).scalar_one()
    granted = store.grant_staff_access("slack:T1-U1", "#100042", "U1", "staff")
    assert granted.order_number == "ORD-100042"
    assert granted.customer_id == order.customer_id
    assert granted.customer_first_name == order.customer.name.split()[0]
    assert store.is_verified("slack:T1-U1", "ORD-100042")
    assert store.tracking("slack:T1-U1", "ORD-100042").order_number == "ORD-100042"
    assert store.staff_lookups("100042") == [("U1", "staff", now)]
    # Staff access spends none of the conversation's verification attempts.
    assert store.attempts_left("slack:T1-U1") == 3


def test_every_lookup_is_recorded_but_the_grant_is_kept_once(store: OrderStore, db: Session) -> None:
    store.grant_staff_access("slack:T1-U2", "ORD-100010", "U2", "manager")
    store.grant_staff_access("slack:T1-U2", "ORD-100010", "U2", "manager")
    assert [who for who, _, _ in store.staff_lookups("ORD-100010")] == ["U2", "U2"]
    assert store.verified_orders("slack:T1-U2") == ["ORD-100010"]
    grants = db.execute(
        select(func.count(m.AccessGrant.id)).where(m.AccessGrant.conversation_id == "slack:T1-U2")
    ).scalar_one()
    assert grants == 1


@pytest.mark.parametrize(("staff_id", "role"), [("U3", "customer"), ("U3", ""), ("", "staff"), ("  ", "manager")])
def test_anything_but_a_staff_role_is_refused_and_nothing_is_recorded(
    store: OrderStore, staff_id: str, role: str
) -> None:
    with pytest.raises(NotAuthorized):
        store.grant_staff_access("slack:T1-U3", "ORD-100042", staff_id, role)
    assert not store.is_verified("slack:T1-U3", "ORD-100042")
    assert store.staff_lookups("ORD-100042") == []


def test_unknown_order_is_said_to_staff(store: OrderStore) -> None:
    with pytest.raises(OrderNotFound):
        store.grant_staff_access("slack:T1-U4", "ORD-199999", "U4", "staff")
    with pytest.raises(InvalidInput):
        store.grant_staff_access("slack:T1-U4", "no number here", "U4", "staff")
    assert store.verified_orders("slack:T1-U4") == []


def test_a_staff_grant_is_only_for_that_conversation(store: OrderStore) -> None:
    store.grant_staff_access("slack:T1-U5", "ORD-100042", "U5", "staff")
    assert not store.is_verified("slack:T1-U6", "ORD-100042")
    with pytest.raises(NotAuthorized):
        store.tracking("web:someone", "ORD-100042")
