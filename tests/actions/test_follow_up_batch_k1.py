"""The classes of failure the merged code still showed on the ten blind batches (round conv12, conv12a's share),
one test per class, each over several wordings (never the batch's sentence alone): follow-ups about the checked
order's next step answered from its state."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.orders import ValidateCancelForm
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def said(out: Any) -> str:
    return " ".join(str(v) for m in out.messages for v in m.values())


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform"}, "entities": []}}


# --------------------------------------------------------------------------------- the order's next step


@pytest.mark.parametrize(
    "text",
    [
        "And after, how many days until I see it in the bank?",
        "how long before it shows on my card?",
        "ok and how many working days till the money is in my account",
    ],
)
async def test_days_to_the_bank_after_a_refund_answer(store, cases, domain, text) -> None:
    """The refund's own date, then the bank's days, not its amount again (NLU: a refund's status)."""
    number = grant(store, cases["returned_refund_processing"])
    slots = {"order_number": number, "topic": "refund", "goal": "refund_status"}
    tracker = make_tracker(intent="refund_status", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_refund_bank_time"], out.responses


@pytest.mark.parametrize(
    "text",
    [
        "And when it is sent, how long is delivery?",
        "how long does delivery take after that",
        "once it's dispatched how many days to get to me?",
    ],
)
async def test_delivery_days_once_a_placed_order_ships(store, cases, domain, text) -> None:
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "topic": "track", "goal": "track"}
    tracker = make_tracker(intent="delivery_time", text=text, slots=slots)
    out = await run(ActionShippingInfo(), tracker, domain)
    assert "working day" in said(out), out.messages


@pytest.mark.parametrize("text", ["and how long does that take", "how long will that take?", "how many days is that"])
def test_how_long_a_cancel_takes_at_its_question(store, cases, text) -> None:
    """An unpaid order's cancel is done the same day; said as a time, not the money note again."""
    number = grant(store, cases["placed"])
    summary = "Shall I cancel order X? If I do, you won't be charged, so there's no money to refund."
    events = [{"event": "bot", "text": summary}]
    tracker = make_tracker(
        intent="delivery_time", text=text, slots={"order_number": number}, events=events, active_loop="cancel_form"
    )
    dispatcher = CollectingDispatcher()
    out = ValidateCancelForm().validate_confirm_cancel(text, dispatcher, tracker, {})
    assert not out.get("confirm_cancel"), out
    assert any("day" in str(m.get("text") or "") for m in dispatcher.messages), dispatcher.messages


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("payment_problem", "Why is late? I pay for it already two weeks ago"),
        ("payment_problem", "how come it's delayed, I paid ages ago?"),
        ("refund_status", "why is it taking so long, I paid for express"),
    ],
)
async def test_why_late_on_a_delayed_order_is_the_delay_not_the_payment(store, cases, domain, intent, text) -> None:
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "payment", "last_question": "offer_handoff"}
    tracker = make_tracker(intent=intent, text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "Delay" in said(out), out.messages
    assert "utter_payment_info" not in out.responses


@pytest.mark.parametrize(
    ("topic", "text"),
    [
        ("return_status", "Ok. Will you inform me when it is done?"),
        ("refund", "can you let me know when it's gone through"),
        ("refund", "will I be notified once it's sent?"),
    ],
)
async def test_be_told_when_it_is_done_is_order_news(store, cases, domain, topic, text) -> None:
    number = grant(store, cases["returned_refund_processing"])
    tracker = make_tracker(intent="nlu_fallback", text=text, slots={"order_number": number, "topic": topic})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.slots().get("goal") == "notify_on" and out.followup() == "verify_order_form", (out.messages, out.events)


@pytest.mark.parametrize(
    "text",
    [
        "will they refund the extra one?",
        "do I get the second payment back? will they refund it",
        "so will I get a refund for the double one",
    ],
)
async def test_a_refund_of_a_double_charge_with_a_person_on_it_is_theirs(store, cases, domain, text) -> None:
    number = grant(store, cases["placed"])
    ticket = store.open_handoff(SENDER, channel="web", reason="payment", summary="", order_number=number)
    events = [user("I think I've been charged twice for my order, there are two payments on my statement")]
    slots = {"order_number": number, "topic": "handoff", "goal": "refund", "handoff_ticket": ticket.ticket_number}
    tracker = make_tracker(intent="request_refund", text=text, slots=slots, events=events)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_ticket_double_charge"], out.responses


@pytest.mark.parametrize(
    "text",
    [
        "I try again with other card, is ok? And until when you keep the order?",
        "can I pay with paypal instead? how long do you hold it",
        "I'll retry with another card - till when is it held?",
    ],
)
async def test_retry_and_the_hold_are_both_answered(store, cases, domain, text) -> None:
    number = grant(store, cases["payment_failed"])
    slots = {"order_number": number, "topic": "payment", "goal": "payment"}
    tracker = make_tracker(intent="payment_problem", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "utter_payment_retry" in out.responses and "utter_payment_held_until" in out.responses, out.responses
