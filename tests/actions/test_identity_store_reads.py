"""The verification form asks the store once per validation step, reusing the answer it got before (perf20).

rasa-sdk calls ``required_slots`` three times in one run of the form's validation; the first two read the same
slots from the same store and now share one answer. Each scenario runs the whole form validation (as the action
server does) twice on two copies of the same store state: once as shipped and once with every ``required_slots``
call asking the store. The events and messages must be the same, with fewer store reads.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

import actions.identity as identity
from actions.common import set_store
from actions.identity import ValidateVerifyOrderForm
from store.db import make_engine
from store.errors import VerificationFailed
from store.service import OrderStore
from tests.actions.helpers import NOW, make_tracker

FORM = ValidateVerifyOrderForm()
SENDER = "web:test-conversation"
READS = ("is_verified", "attempts_left", "verified_customer")


class _NoAnswersKept:
    """Stands in for ``identity._REQUIRED``: nothing kept, every ``required_slots`` call asks the store."""

    def get(self) -> None:
        return None

    def set(self, _value: Any) -> None:
        return None

    def reset(self, _token: Any) -> None:
        return None


@pytest.fixture
def two_stores(seeded_db: Path, tmp_path: Path) -> Iterator[tuple[OrderStore, OrderStore]]:
    """Two order stores on their own copies of the demo shop, with the same clock."""
    stores, engines = [], []
    for name in ("kept", "asked"):
        copy = tmp_path / f"{name}.db"
        shutil.copy(seeded_db, copy)
        engine = make_engine(f"sqlite:///{copy}")
        engines.append(engine)
        stores.append(OrderStore(sessionmaker(engine), now=lambda: NOW))
    yield stores[0], stores[1]
    set_store(None)
    for engine in engines:
        engine.dispose()


def _counting(store: OrderStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    for name in READS:
        original = getattr(store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    return calls


async def _validate(slots: dict[str, Any], typed: dict[str, Any], domain: dict[str, Any]) -> Any:
    """The form's validation run after the customer's message filled `typed`, as the action server runs it."""
    tracker = make_tracker(SENDER, slots={**slots, **typed}, active_loop="verify_order_form")
    tracker.events.extend({"event": "slot", "name": name, "value": value} for name, value in typed.items())
    dispatcher = CollectingDispatcher()
    events = await FORM.run(dispatcher, tracker, domain)
    return events, dispatcher.messages


def _fail(store: OrderStore, number: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(VerificationFailed):
            store.verify(SENDER, number, "wrong@example.com")


def _scenario(name: str, case: dict[str, Any]) -> tuple[Callable[[OrderStore], None], dict, dict]:
    """What the store holds before (a preparation), the form's slots and what the customer's message filled."""
    number = case["order_number"]
    at_proof = {"requested_slot": "proof", "order_number": number}
    scenarios: dict[str, tuple[Callable[[OrderStore], None], dict, dict]] = {
        "number": (lambda s: None, {"requested_slot": "order_number"}, {"order_number": number}),
        "wrong_proof": (lambda s: None, at_proof, {"proof": "wrong@example.com"}),
        "right_email": (lambda s: None, at_proof, {"proof": case["email"]}),
        "right_postcode": (lambda s: None, at_proof, {"proof": case["postcode"]}),
        # the third failure locks the conversation: the form must then ask nothing more
        "third_failure": (lambda s: _fail(s, number, 2), at_proof, {"proof": "wrong@example.com"}),
        "locked": (lambda s: _fail(s, number, 3), at_proof, {"proof": case["email"]}),
        "verified": (
            lambda s: s.verify(SENDER, number, case["postcode"]),
            {"requested_slot": "order_number"},
            {"order_number": number},
        ),
        # an account goal needs the e-mail: a postcode-proved order is asked for it
        "account_goal_after_postcode": (
            lambda s: s.verify(SENDER, number, case["postcode"]),
            {**at_proof, "goal": "channels"},
            {"proof": case["email"]},
        ),
    }
    return scenarios[name]


@pytest.mark.parametrize(
    "name",
    [
        "number",
        "wrong_proof",
        "right_email",
        "right_postcode",
        "third_failure",
        "locked",
        "verified",
        "account_goal_after_postcode",
    ],
)
async def test_the_form_answers_as_when_every_step_asked_the_store(
    two_stores, cases, domain, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    prepare, slots, typed = _scenario(name, cases["in_transit"])
    kept_store, asked_store = two_stores
    results, reads = [], []
    for store, answers in ((kept_store, None), (asked_store, _NoAnswersKept())):
        prepare(store)
        calls = _counting(store, monkeypatch)
        set_store(store)
        with monkeypatch.context() as patch:
            if answers is not None:
                patch.setattr(identity, "_REQUIRED", answers)
            results.append(await _validate(slots, typed, domain))
        reads.append(len(calls))
    assert results[0] == results[1]
    assert 0 < reads[0] < reads[1]


async def test_a_proof_that_locks_is_seen_by_the_next_slot(store, cases, domain) -> None:
    """The answer kept from before the proof is not reused after it: the third failure ends the form."""
    number = cases["in_transit"]["order_number"]
    _fail(store, number, 2)
    events, messages = await _validate(
        {"requested_slot": "proof", "order_number": number}, {"proof": "wrong@example.com"}, domain
    )
    assert events[-1] == {"event": "slot", "timestamp": None, "name": "requested_slot", "value": None}
    assert store.attempts_left(SENDER) == 0
