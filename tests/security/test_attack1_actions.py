"""Red-team findings F7, F9 and F13 at the action server: the real actions against a seeded shop.

F7: a return number says nothing about whether the return exists until a proof matched (same words, same
counts as an order number that does not exist). F9: the order cancelled is the one the customer said yes to,
whatever entities the yes carried. F13: a new rasa session, a restart, or grants left idle end what the
conversation had proved.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

from actions.common import set_store
from actions.identity import ValidateVerifyOrderForm
from actions.orders import ActionCancelOrder
from actions.session import ActionRestart, ActionSessionStart
from store.db import make_engine
from store.errors import VerificationFailed
from store.proofs import ProofLimits
from store.service import OrderStore
from tests.actions.helpers import NOW, make_tracker, run

FORM = ValidateVerifyOrderForm()
SENDER = "web:f9-conversation"


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # noqa: ANN204 - an aware datetime, as the store's clock
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(seeded_db: Path, tmp_path: Path, clock: Clock) -> Iterator[OrderStore]:
    """The store every action uses, on a private copy of the seeded demo shop, with grants idle after 30 min."""
    copy = tmp_path / "shop.db"
    shutil.copy(seeded_db, copy)
    engine = make_engine(f"sqlite:///{copy}")
    store = OrderStore(sessionmaker(engine), now=clock, limits=ProofLimits(grant_idle=timedelta(minutes=30)))
    set_store(store)
    yield store
    set_store(None)
    engine.dispose()


@pytest.fixture
def cases(shop: OrderStore) -> dict[str, dict[str, Any]]:
    return {case["case"]: case for case in shop.demo_cases(limit=50)}


def _ask(number_text: str, sender: str) -> tuple[dict[str, Any], list[Any]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender, active_loop="verify_order_form", source="web:ip:198.51.100.7")
    result = FORM.validate_order_number(number_text, dispatcher, tracker, {})
    return result, [m.get("response") for m in dispatcher.messages]


# ------------------------------------------------------------------------------------------------------ F7


def test_a_return_number_gets_the_same_answer_whether_or_not_it_exists(
    shop: OrderStore, cases: dict[str, Any]
) -> None:
    known = next(c["rma_number"] for c in cases.values() if c.get("rma_number"))
    unknown = "RMA-599999"
    assert shop.order_for_rma(unknown) is None
    known_result, known_said = _ask(known, "web:f7-known")
    unknown_result, unknown_said = _ask(unknown, "web:f7-unknown")
    # Nothing is said before the proof, and the form goes on to ask for one in both cases.
    assert known_said == unknown_said == []
    assert known_result["proof"] is None and unknown_result["proof"] is None
    assert known_result["rma_number"] == known and unknown_result["rma_number"] == unknown


def test_no_proof_opens_a_return_that_does_not_exist_and_its_failures_count(
    shop: OrderStore, cases: dict[str, Any]
) -> None:
    real = cases["placed"]
    for proof in (real["email"], real["postcode"]):
        with pytest.raises(VerificationFailed):
            shop.verify("web:f7-guess", "RMA-599999", proof, source="web:ip:198.51.100.8")
    # Two failures on the unknown RMA: one more and its checks pause, exactly as for an unknown order number.
    with pytest.raises(VerificationFailed):
        shop.verify("web:f7-other", "RMA-599999", "nobody@example.com", source="web:ip:198.51.100.9")
    assert shop.check_paused("RMA-599999", "web:ip:198.51.100.10") is not None
    assert shop.check_paused("ORD-999999", "web:ip:198.51.100.10") is None


# ------------------------------------------------------------------------------------------------------ F9


async def test_a_yes_carrying_another_order_cancels_nothing(shop: OrderStore, cases: dict[str, Any], domain) -> None:
    asked, other = cases["placed"], cases["payment_failed"]
    for case in (asked, other):
        shop.verify(SENDER, case["order_number"], case["email"])
    events = [
        {"event": "slot", "name": "order_number", "value": asked["order_number"]},
        {"event": "active_loop", "name": "cancel_form"},
        # the reply /affirm{"order_number": <other>}: its entity set the slot before the form ended
        {"event": "slot", "name": "order_number", "value": other["order_number"]},
        {"event": "active_loop", "name": None},
    ]
    tracker = make_tracker(
        SENDER,
        slots={"order_number": other["order_number"], "confirm_cancel": True},
        intent="affirm",
        entities=[{"entity": "order_number", "value": other["order_number"]}],
        events=events,
    )
    out = await run(ActionCancelOrder(), tracker, domain)
    assert "utter_cancelled" not in out.responses
    assert out.followup() == "cancel_form"  # asks about the other order first, in its own words
    assert shop.order_summary(SENDER, asked["order_number"]).status == asked["status"]
    assert shop.order_summary(SENDER, other["order_number"]).status == other["status"]


async def test_a_yes_to_the_order_asked_about_cancels_it(shop: OrderStore, cases: dict[str, Any], domain) -> None:
    asked = cases["placed"]
    shop.verify(SENDER, asked["order_number"], asked["email"])
    events = [
        {"event": "slot", "name": "order_number", "value": asked["order_number"]},
        {"event": "active_loop", "name": "cancel_form"},
    ]
    tracker = make_tracker(SENDER, slots={"order_number": asked["order_number"], "confirm_cancel": True}, events=events)
    out = await run(ActionCancelOrder(), tracker, domain)
    assert out.responses == ["utter_cancelled"]
    assert shop.order_summary(SENDER, asked["order_number"]).status == "cancelled"


# ----------------------------------------------------------------------------------------------------- F13


@pytest.mark.parametrize("action", [ActionSessionStart(), ActionRestart()], ids=["new session", "restart"])
async def test_a_new_session_or_a_restart_ends_the_grants(
    shop: OrderStore, cases: dict[str, Any], domain, action: Any
) -> None:
    case = cases["placed"]
    shop.verify(SENDER, case["order_number"], case["email"])
    assert shop.is_verified(SENDER, case["order_number"])
    failures_before = shop.attempts_left(SENDER)
    out = await run(action, make_tracker(SENDER), domain)
    assert out.events[0]["event"] in ("session_started", "restart")
    assert not shop.is_verified(SENDER, case["order_number"])
    assert shop.attempts_left(SENDER) == failures_before  # a restart gives no attempts back


def test_grants_left_idle_end_and_used_ones_live_on(shop: OrderStore, cases: dict[str, Any], clock: Clock) -> None:
    case = cases["placed"]
    shop.verify(SENDER, case["order_number"], case["email"])
    for _ in range(3):  # used every 20 minutes: alive after an hour
        clock.now += timedelta(minutes=20)
        assert shop.is_verified(SENDER, case["order_number"])
    clock.now += timedelta(minutes=31)
    assert not shop.is_verified(SENDER, case["order_number"])
    assert shop.verified_orders(SENDER) == []
    shop.verify(SENDER, case["order_number"], case["postcode"])  # proving again opens it again
    assert shop.is_verified(SENDER, case["order_number"])
