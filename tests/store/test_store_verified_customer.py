"""`verified_customer`: who a conversation has proved to be (for personalised answers)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import models as m
from store.errors import VerificationFailed
from store.service import OrderStore


def _customer_of(db: Session, number: str) -> int:
    return db.execute(select(m.Order.customer_id).where(m.Order.number == number)).scalar_one()


def test_no_customer_before_a_verified_order(store: OrderStore) -> None:
    assert store.verified_customer("nobody-yet") is None
    with pytest.raises(VerificationFailed):
        store.verify("wrong-proof", "ORD-100030", "not-their-email@example.com")
    assert store.verified_customer("wrong-proof") is None


def test_customer_of_the_latest_verified_order(store: OrderStore, db: Session, grant: Callable[..., str]) -> None:
    conversation = grant("ORD-100030")
    assert store.verified_customer(conversation) == _customer_of(db, "ORD-100030")
    grant("ORD-100031", conversation)
    assert store.verified_customer(conversation) == _customer_of(db, "ORD-100031")
    assert store.verified_customer("another-conversation") is None
