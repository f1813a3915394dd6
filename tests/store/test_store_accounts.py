"""`CustomerAccounts`: linking rules, return drafts, opt-in, the outbox's uniqueness, rate limit and retries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import models as m
from store.accounts import CustomerAccounts
from store.db import make_engine
from store.errors import InvalidInput, NotAuthorized, OrderNotFound
from store.service import OrderStore
from tests.store.conftest import NOW

WINDOW = timedelta(hours=1)


class Clock:
    """A clock the test moves forward."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def accounts(session_factory: sessionmaker[Session], clock: Clock) -> CustomerAccounts:
    return CustomerAccounts(session_factory, now=clock)


def _customer(db: Session, number: str) -> int:
    return db.execute(select(m.Order.customer_id).where(m.Order.number == number)).scalar_one()


# ------------------------------------------------------------------------------------------- linking


def test_link_requires_a_grant_for_an_order_of_that_customer(
    accounts: CustomerAccounts, db: Session, grant: Callable[..., str]
) -> None:
    customer = _customer(db, "ORD-100030")
    with pytest.raises(NotAuthorized):
        accounts.link_verified("telegram:555", customer)  # never verified there
    grant("ORD-100030", "telegram:555")
    other = next(c for c in db.execute(select(m.Customer.id)).scalars() if c != customer)
    with pytest.raises(NotAuthorized):
        accounts.link_verified("telegram:555", other)  # verified, but someone else's order
    link = accounts.link_verified("telegram:555", customer)
    assert link is not None and link.conversation_id == "telegram:555"
    assert [lc.conversation_id for lc in accounts.linked_channels(customer)] == ["telegram:555"]


def test_tablets_and_slack_are_never_linked(accounts: CustomerAccounts, db: Session, grant: Callable[..., str]) -> None:
    customer = _customer(db, "ORD-100030")
    for conversation in ("tablet:kiosk-1", "slack:T1-U1"):
        grant("ORD-100030", conversation)
        assert accounts.link_verified(conversation, customer) is None
    assert accounts.linked_channels(customer) == []


def test_web_and_telegram_link_to_one_customer_and_unlink_touches_only_theirs(
    accounts: CustomerAccounts, db: Session, grant: Callable[..., str]
) -> None:
    customer = _customer(db, "ORD-100030")
    grant("ORD-100030", "web:abc123")
    grant("ORD-100030", "telegram:777")
    accounts.link_verified("web:abc123", customer)
    accounts.link_verified("telegram:777", customer)
    assert {lc.channel for lc in accounts.linked_channels(customer)} == {"web", "telegram"}
    other = _customer(db, "ORD-100031") if _customer(db, "ORD-100031") != customer else _customer(db, "ORD-100032")
    assert accounts.unlink(other, "telegram") == []  # a forged request removes nothing of this customer
    removed = accounts.unlink(customer, "telegram")
    assert [r.conversation_id for r in removed] == ["telegram:777"]
    assert [lc.conversation_id for lc in accounts.linked_channels(customer)] == ["web:abc123"]


def test_carry_over_lists_open_returns_and_orders_on_their_way(
    store: OrderStore, accounts: CustomerAccounts, db: Session
) -> None:
    ret = db.execute(select(m.Return).where(m.Return.status == "approved")).scalars().first()
    assert ret is not None
    customer = ret.order.customer_id
    carried = accounts.carry_over(customer)
    assert ret.rma_number in [r.rma_number for r in carried.open_returns]
    assert all(r.status in ("requested", "approved", "received") for r in carried.open_returns)
    expected = {
        o.number
        for o in db.execute(select(m.Order).where(m.Order.customer_id == customer)).scalars()
        if o.shipment is not None
        and o.shipment.status in ("label_created", "in_transit", "out_for_delivery", "delayed")
    }
    assert expected <= {p.order_number for p in carried.orders_in_progress}


def test_grant_customer_orders_needs_proof_and_grants_only_their_orders(
    store: OrderStore, accounts: CustomerAccounts, db: Session, grant: Callable[..., str]
) -> None:
    customer = _customer(db, "ORD-100030")
    theirs = [o.number for o in db.execute(select(m.Order).where(m.Order.customer_id == customer)).scalars()]
    someone_elses = db.execute(select(m.Order.number).where(m.Order.customer_id != customer)).scalars().first()
    with pytest.raises(NotAuthorized):
        accounts.grant_customer_orders("web:new", customer, theirs)
    conversation = grant("ORD-100030", "web:new")
    granted = accounts.grant_customer_orders(conversation, customer, [*theirs, someone_elses])
    assert set(granted) == set(theirs)
    assert all(store.is_verified(conversation, n) for n in theirs)
    assert not store.is_verified(conversation, someone_elses)


# --------------------------------------------------------------------------------------------- drafts


def test_return_draft_is_one_per_customer_and_cleared(accounts: CustomerAccounts, db: Session) -> None:
    customer = _customer(db, "ORD-100030")
    assert accounts.return_draft(customer) is None
    accounts.save_return_draft(customer, "ORD-100030", "12", None, "web")
    accounts.save_return_draft(customer, "ORD-100030", "12,13", "too small", "web")
    draft = accounts.return_draft(customer)
    assert draft is not None
    assert (draft.order_number, draft.items, draft.reason, draft.channel) == ("ORD-100030", "12,13", "too small", "web")
    assert accounts.clear_return_draft(customer) is True
    assert accounts.return_draft(customer) is None
    assert accounts.clear_return_draft(customer) is False


def test_a_draft_cannot_name_someone_elses_order(accounts: CustomerAccounts, db: Session) -> None:
    customer = _customer(db, "ORD-100030")
    other_order = db.execute(select(m.Order.number).where(m.Order.customer_id != customer)).scalars().first()
    with pytest.raises(OrderNotFound):
        accounts.save_return_draft(customer, str(other_order), "1", None, "web")


# ------------------------------------------------------------------------------------ events, outbox


def _opted_in_customer_with_shipment(
    accounts: CustomerAccounts, db: Session, grant: Callable[..., str], find_order: Callable[..., m.Order]
) -> m.Order:
    order = find_order(lambda o: o.shipment is not None and o.shipment.status == "in_transit")
    conversation = grant(order.number, "telegram:4242")
    accounts.link_verified(conversation, order.customer_id)
    accounts.set_notifications(order.customer_id, True)
    return order


def test_an_event_is_recorded_once_and_changes_the_shipment(
    accounts: CustomerAccounts, db: Session, grant: Callable[..., str], find_order: Callable[..., m.Order]
) -> None:
    order = _opted_in_customer_with_shipment(accounts, db, grant, find_order)
    first = accounts.record_event(order.number.replace("ORD-", "#"), "out_for_delivery")
    again = accounts.record_event(order.number, "out_for_delivery")
    assert first.created and not again.created and first.event_key == again.event_key
    db.expire_all()
    assert db.get(m.Shipment, order.shipment.id).status == "out_for_delivery"  # type: ignore[union-attr]
    assert len(accounts.outbox(order.number)) == 1
    assert accounts.release_due(3, WINDOW) == 1
    assert accounts.release_due(3, WINDOW) == 0
    due = accounts.due_deliveries()
    assert [(d.conversation_id, "out for delivery" in d.text) for d in due] == [("telegram:4242", True)]
    accounts.delivery_sent(due[0].id)
    assert accounts.due_deliveries() == []
    assert accounts.outbox(order.number)[0].deliveries == (("telegram:4242", "sent", 1),)
    # a carrier's distinct event id is a new event (a second delay is news again)
    assert accounts.record_event(order.number, "delayed", "evt-1").created
    assert accounts.record_event(order.number, "delayed", "evt-2").created
    assert not accounts.record_event(order.number, "delayed", "evt-2").created


def test_bad_events_are_refused(accounts: CustomerAccounts, find_order: Callable[..., m.Order]) -> None:
    with pytest.raises(InvalidInput):
        accounts.record_event("ORD-100030", "teleported")
    with pytest.raises(InvalidInput):
        accounts.record_event("not an order", "delivered")
    with pytest.raises(OrderNotFound):
        accounts.record_event("ORD-999999", "delivered")
    unshipped = find_order(lambda o: o.shipment is None)
    with pytest.raises(InvalidInput):
        accounts.record_event(unshipped.number, "delivered")
    no_refund = find_order(lambda o: not o.refunds)
    with pytest.raises(InvalidInput):
        accounts.record_event(no_refund.number, "refund_issued")
    assert accounts.outbox() == []


def test_refund_issued_completes_the_refund_and_says_the_amount(
    accounts: CustomerAccounts, db: Session, find_order: Callable[..., m.Order]
) -> None:
    order = find_order(lambda o: any(r.status != "completed" for r in o.refunds))
    recorded = accounts.record_event(order.number, "refund_issued")
    assert recorded.created
    db.expire_all()
    refund = db.get(m.Order, order.id).refunds[-1]  # type: ignore[union-attr]
    assert refund.status == "completed"
    assert f"£{refund.amount_pence / 100:,.2f}" in accounts.outbox(order.number)[0].text


def test_not_opted_in_or_not_linked_means_no_message(
    accounts: CustomerAccounts, db: Session, grant: Callable[..., str], find_order: Callable[..., m.Order]
) -> None:
    order = find_order(lambda o: o.shipment is not None and o.shipment.status == "in_transit")
    accounts.record_event(order.number, "delivered")
    assert accounts.release_due(3, WINDOW) == 0
    assert accounts.outbox(order.number)[0].status == "skipped_opted_out"
    accounts.set_notifications(order.customer_id, True)  # opted in, but no channel linked
    accounts.record_event(order.number, "delayed", "x1")
    assert accounts.release_due(3, WINDOW) == 0
    assert accounts.outbox(order.number)[1].status == "skipped_no_channel"
    assert accounts.due_deliveries() == []


def test_rate_limit_per_customer_holds_news_until_the_window_allows(
    accounts: CustomerAccounts,
    db: Session,
    grant: Callable[..., str],
    find_order: Callable[..., m.Order],
    clock: Clock,
) -> None:
    order = _opted_in_customer_with_shipment(accounts, db, grant, find_order)
    for event_id in ("a", "b", "c"):
        accounts.record_event(order.number, "delayed", event_id)
    assert accounts.release_due(2, WINDOW) == 2
    statuses = [e.status for e in accounts.outbox(order.number)]
    assert statuses == ["released", "released", "pending"]
    clock.now += timedelta(minutes=59)
    assert accounts.release_due(2, WINDOW) == 0
    clock.now += timedelta(minutes=2)
    assert accounts.release_due(2, WINDOW) == 1
    assert [e.status for e in accounts.outbox(order.number)] == ["released"] * 3


def test_failed_delivery_is_retried_with_backoff_then_given_up(
    accounts: CustomerAccounts,
    db: Session,
    grant: Callable[..., str],
    find_order: Callable[..., m.Order],
    clock: Clock,
) -> None:
    order = _opted_in_customer_with_shipment(accounts, db, grant, find_order)
    accounts.record_event(order.number, "delivered")
    accounts.release_due(3, WINDOW)
    backoff, cap = timedelta(seconds=10), timedelta(seconds=25)
    (due,) = accounts.due_deliveries()
    assert accounts.delivery_failed(due.id, "boom", max_attempts=3, backoff=backoff, max_backoff=cap) == "pending"
    assert accounts.due_deliveries() == []  # not before 10 s
    clock.now += timedelta(seconds=10)
    (due,) = accounts.due_deliveries()
    assert due.attempts == 1
    assert accounts.delivery_failed(due.id, "boom", max_attempts=3, backoff=backoff, max_backoff=cap) == "pending"
    clock.now += timedelta(seconds=19)
    assert accounts.due_deliveries() == []  # 20 s now
    clock.now += timedelta(seconds=1)
    (due,) = accounts.due_deliveries()
    assert accounts.delivery_failed(due.id, "still down", max_attempts=3, backoff=backoff, max_backoff=cap) == "failed"
    clock.now += timedelta(hours=1)
    assert accounts.due_deliveries() == []
    assert accounts.outbox(order.number)[0].deliveries == (("telegram:4242", "failed", 3),)


def test_opt_in_and_out(accounts: CustomerAccounts, db: Session) -> None:
    customer = _customer(db, "ORD-100030")
    assert accounts.notifications_on(customer) is False
    accounts.set_notifications(customer, True)
    assert accounts.notifications_on(customer) is True
    accounts.set_notifications(customer, False)
    assert accounts.notifications_on(customer) is False


def test_cli_shipment_event_records_once_and_explains_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from store.__main__ import main

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert main(["--database-url", url, "setup", "--anchor", "2025-03-03"]) == 0
    engine = make_engine(url)
    with Session(engine) as session:
        number = (
            session.execute(
                select(m.Order.number)
                .join(m.Shipment)
                .where(m.Shipment.status == "in_transit")
                .order_by(m.Order.number)
            )
            .scalars()
            .first()
        )
    engine.dispose()
    capsys.readouterr()
    assert main(["--database-url", url, "shipment-event", str(number), "out-for-delivery"]) == 0
    assert f"Recorded out_for_delivery for {number}" in capsys.readouterr().err
    assert main(["--database-url", url, "shipment-event", str(number), "out_for_delivery"]) == 0
    assert "already recorded" in capsys.readouterr().err
    assert main(["--database-url", url, "shipment-event", "ORD-999999", "delivered"]) == 1
    assert "there is no order 'ORD-999999'" in capsys.readouterr().err
