"""Guessing proofs (finding 1): failed proofs count per order number and per source, across conversations,
store instances and concurrent attempts; one message is one guess; a postcode opens one order, not the customer.

Runs on SQLite and PostgreSQL (the order store's fixtures). On main before this change a new conversation id
reset the three-failure lock, so every test here that guesses with fresh ids opened the order.
"""

from __future__ import annotations

import shutil
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import models as m
from store.accounts import CustomerAccounts
from store.db import make_engine
from store.errors import InvalidInput, NotAuthorized, VerificationFailed, VerificationPaused
from store.proofs import ProofLimits, proof_candidates
from store.service import OrderStore
from tests.store.conftest import NOW


class Clock:
    """A store clock the test moves."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _order(db: Session, number: str) -> m.Order:
    return db.execute(select(m.Order).where(m.Order.number == number)).scalar_one()


def _two_orders_of_one_customer(db: Session) -> tuple[m.Order, m.Order]:
    counts = select(m.Order.customer_id).group_by(m.Order.customer_id).having(func.count(m.Order.id) >= 2).limit(1)
    customer = db.execute(counts).scalar_one()
    first, second = db.execute(
        select(m.Order).where(m.Order.customer_id == customer).order_by(m.Order.number).limit(2)
    ).scalars()
    return first, second


def _wrong_postcode(order: m.Order, i: int) -> str:
    return f"ZZ{i + 1} 9ZZ" if order.ship_postcode.replace(" ", "") != f"ZZ{i + 1}9ZZ" else "ZZ99 9ZZ"


def test_fresh_conversation_ids_do_not_reset_the_count_for_an_order(store: OrderStore, db: Session) -> None:
    order = _order(db, "ORD-100042")
    for i in range(3):  # three guesses, each from a new conversation and a new source
        with pytest.raises(VerificationFailed):
            store.verify(f"web:fresh-{i}", order.number, _wrong_postcode(order, i), source=f"web:ip:198.51.100.{i}")
    # the fourth check of this order is paused for everyone, even with the right e-mail, from anywhere
    with pytest.raises(VerificationPaused) as paused:
        store.verify("web:fresh-real", order.number, order.customer.email, source="web:ip:203.0.113.9")
    assert paused.value.scope == "order" and 0 < paused.value.retry_after_seconds <= 300
    assert not store.is_verified("web:fresh-real", order.number)
    # an order number that does not exist pauses the same way, with the same words
    for i in range(3):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:ghost-{i}", "ORD-199999", "EH1 1AA", source=f"web:ip:198.51.100.{50 + i}")
    with pytest.raises(VerificationPaused) as ghost:
        store.verify("web:ghost-real", "ORD-199999", order.customer.email, source="web:ip:203.0.113.9")
    assert str(ghost.value) == str(paused.value) and ghost.value.scope == paused.value.scope
    # other orders are untouched
    other = _order(db, "ORD-100043")
    assert store.verify("web:fresh-real", other.number, other.customer.email).order_number == other.number


def test_one_source_guessing_across_many_orders_is_paused(store: OrderStore, db: Session) -> None:
    source = "web:ip:198.51.100.77"
    for i in range(store.limits.per_source):
        number = f"ORD-1001{i:02d}"
        with pytest.raises(VerificationFailed):
            # a different e-mail each time: one e-mail tried on many orders pauses by itself (test_attack1_guessing)
            store.verify(f"web:spray-{i}", number, f"nobody{i}@example.com", source=source)
    target = _order(db, "ORD-100200")
    with pytest.raises(VerificationPaused) as paused:
        store.verify("web:spray-last", target.number, target.customer.email, source=source)
    assert paused.value.scope == "source"
    # the same order from another source is checked as usual
    assert store.verify("web:someone", target.number, target.customer.email, source="web:ip:203.0.113.5")


def test_pauses_grow_with_every_further_failure(session_factory: sessionmaker[Session], db: Session) -> None:
    clock = Clock()
    limits = ProofLimits()
    store = OrderStore(session_factory, now=clock, limits=limits)
    order = _order(db, "ORD-100120")
    for i in range(3):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:g{i}", order.number, _wrong_postcode(order, i), source=f"web:ip:10.0.0.{i}")
    waits = []
    for step in range(3):
        with pytest.raises(VerificationPaused) as paused:
            store.verify(f"web:p{step}", order.number, _wrong_postcode(order, 5), source=f"web:ip:10.0.1.{step}")
        waits.append(paused.value.retry_after_seconds)
        clock.now += timedelta(seconds=paused.value.retry_after_seconds + 1)
        with pytest.raises(VerificationFailed):  # one more guess once the pause is over, then a longer pause
            store.verify(f"web:q{step}", order.number, _wrong_postcode(order, 6), source=f"web:ip:10.0.2.{step}")
    assert waits == [300, 600, 1200]
    # still the same rule for the real customer: wait, then the right proof works
    with pytest.raises(VerificationPaused):
        store.verify("web:owner", order.number, order.customer.email, source="web:ip:192.0.2.1")
    clock.now += timedelta(hours=2)
    assert store.verify("web:owner", order.number, order.customer.email, source="web:ip:192.0.2.1").scope == "customer"


def test_a_customer_who_mistypes_twice_still_gets_in(store: OrderStore, db: Session) -> None:
    order = _order(db, "ORD-100150")
    for typo in ("ZZ1 1ZZ", order.customer.email.replace("@", ".x@")):
        with pytest.raises(VerificationFailed):
            store.verify("web:owner", order.number, typo, source="web:ip:192.0.2.10")
    assert store.verify("web:owner", order.number, order.ship_postcode, source="web:ip:192.0.2.10")
    # ... and a match forgives the order's failures: the next check starts afresh
    for i in range(2):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:later-{i}", order.number, "ZZ1 1ZZ", source=f"web:ip:192.0.2.{20 + i}")
    assert store.verify("web:later-ok", order.number, order.customer.email)


def test_counts_live_in_the_database_not_in_the_process(session_factory: sessionmaker[Session], db: Session) -> None:
    order = _order(db, "ORD-100066")
    first = OrderStore(session_factory, now=lambda: NOW)
    for i in range(3):
        with pytest.raises(VerificationFailed):
            first.verify(f"web:before-restart-{i}", order.number, "ZZ1 1ZZ", source=f"web:ip:10.9.0.{i}")
    restarted = OrderStore(session_factory, now=lambda: NOW + timedelta(minutes=1))
    with pytest.raises(VerificationPaused):
        restarted.verify("web:after-restart", order.number, order.customer.email, source="web:ip:10.9.9.9")


def test_one_message_with_several_guesses_is_one_failed_attempt(store: OrderStore, db: Session) -> None:
    order = _order(db, "ORD-100071")
    listed = f"ZZ1 1ZZ or {order.ship_postcode} or ZZ2 2ZZ"
    with pytest.raises(VerificationFailed) as failed:
        store.verify("web:lister", order.number, listed, source="web:ip:10.8.0.1")
    assert failed.value.attempts_left == 2
    emails = f"someone@example.com, {order.customer.email}"
    with pytest.raises(VerificationFailed):
        store.verify("web:lister-2", order.number, emails, source="web:ip:10.8.0.2")
    assert not store.is_verified("web:lister", order.number) and not store.is_verified("web:lister-2", order.number)
    with pytest.raises(VerificationFailed):
        store.verify("web:lister-3", order.number, "ZZ3 3ZZ", source="web:ip:10.8.0.3")
    with pytest.raises(VerificationPaused):  # three messages, three failures, whatever they listed
        store.verify("web:lister-4", order.number, order.customer.email, source="web:ip:10.8.0.4")


def test_a_message_without_an_email_or_postcode_is_not_an_attempt(store: OrderStore) -> None:
    for text in ("also i want to return ORD-100114", "verified", "hello?", "ORD-100114"):
        with pytest.raises(InvalidInput):
            store.verify("web:chatty", "ORD-100114", text, source="web:ip:10.7.0.1")
    assert store.attempts_left("web:chatty") == 3
    assert store.paused_checks() == []


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("EH1 3UJ", ["postcode"]),
        ("1012 AB", ["postcode"]),  # Dutch, not also the Australian 1012
        ("1234 Main St, 90210", ["postcode"]),  # a house number is no postcode next to a ZIP code
        ("jane@example.com, my postcode is EH1 3UJ", ["email", "postcode"]),
        ("EH1 3UJ, EH1 4RZ, G12 7PL", ["postcode", "postcode", "postcode"]),
        ("sw1a1aa and SW1A 1AA", ["postcode"]),  # the same postcode twice is one value
    ],
)
def test_candidates_in_a_message(text: str, kinds: list[str]) -> None:
    assert [c.kind for c in proof_candidates(text)] == kinds


def test_a_postcode_opens_the_order_only_an_email_opens_the_customer(store: OrderStore, db: Session) -> None:
    mine, also_mine = _two_orders_of_one_customer(db)
    accounts = CustomerAccounts.of(store)
    by_postcode = store.verify("web:postcode", mine.number, mine.ship_postcode)
    assert by_postcode.scope == "order"
    assert store.verified_customer("web:postcode") is None  # no "welcome back", no personal recommendations
    assert store.grant_customer_order("web:postcode", also_mine.number) is None  # their other order needs proof
    with pytest.raises(NotAuthorized):
        accounts.link_verified("web:postcode", mine.customer_id)
    with pytest.raises(NotAuthorized):
        accounts.grant_customer_orders("web:postcode", mine.customer_id, [also_mine.number])
    by_email = store.verify("web:email", mine.number, mine.customer.email)
    assert by_email.scope == "customer"
    assert store.verified_customer("web:email") == mine.customer_id
    assert store.grant_customer_order("web:email", also_mine.number) is not None  # no new proof needed
    stranger = db.execute(select(m.Order).where(m.Order.customer_id != mine.customer_id)).scalars().first()
    assert stranger is not None
    assert store.grant_customer_order("web:email", stranger.number) is None  # someone else's: a proof as usual
    assert store.grant_customer_order("web:email", "ORD-199999") is None  # the same answer as for no order
    assert accounts.link_verified("web:email", mine.customer_id) is not None
    # the postcode conversation can still widen its grant with the e-mail
    assert store.verify("web:postcode", mine.number, mine.customer.email).scope == "customer"
    assert store.verified_customer("web:postcode") == mine.customer_id


def test_staff_see_paused_orders_and_sources(store: OrderStore, db: Session) -> None:
    order = _order(db, "ORD-100090")
    for i in range(3):
        with pytest.raises(VerificationFailed):
            store.verify(f"web:s{i}", order.number, "ZZ1 1ZZ", source="web:ip:198.51.100.200")
    with pytest.raises(VerificationPaused):
        store.verify("web:s3", order.number, "ZZ1 1ZZ", source="web:ip:198.51.100.201")
    [row] = [c for c in store.paused_checks() if c.scope == "order"]
    assert (row.key, row.failures, row.refused, row.paused_now) == (order.number, 3, 1, True)
    assert row.paused_until == row.last_failure + timedelta(minutes=5)


def test_concurrent_guesses_cannot_slip_under_the_threshold(seeded_db: Path, tmp_path: Path) -> None:
    """Twelve processes' worth of guesses at once (threads, one SQLite file): at most three are checked."""
    copy = tmp_path / "shop.db"
    shutil.copy(seeded_db, copy)
    engine = make_engine(f"sqlite:///{copy}")
    store = OrderStore(sessionmaker(engine, expire_on_commit=False))
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def guess(i: int) -> None:
        start.wait()
        try:
            store.verify(f"web:burst-{i}", "ORD-100030", f"ZZ{i} 1ZZ", source=f"web:ip:10.6.0.{i}")
        except VerificationFailed:
            outcomes.append("failed")
        except VerificationPaused:
            outcomes.append("paused")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert len(outcomes) == 12
    assert outcomes.count("failed") <= 3, outcomes
