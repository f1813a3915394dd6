"""The classes of failure the seventh blind batch (tests/conversations/blind_g.yml) showed in tracking, shipping,
payment and mixed conversations (conv7a's share), one test per class: a parcel named with nothing else not
understood, a question naming a day after tracking ("today though?") not understood, a refund the customer has
not seen on their statement not understood, a failed payment described in German checked as tracking and a
question about the hold filed as a cancel answered with the ship date, a question whether the order is cancelled
before the deadline answered without the hold, dropping an address change at the address question read as a bad
address, and two orders named in one message checked against the last one named only."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionFollowUp, bare_order_word, goal_in_words
from actions.goals import ActionContinueGoal
from actions.identity import ValidateVerifyOrderForm
from actions.orders import ActionChangeAddress, ValidateAddressForm
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An earlier customer message as rasa records it."""
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": entities or []}}


# --------------------------------------------------------------------------------- fragments


@pytest.mark.parametrize("text", ["parcel", "my delivery??", "package?", "order"])
async def test_a_parcel_named_on_its_own_is_asked_for(store, domain, text: str) -> None:
    """ "parcel" as the first message fell back ("didn't quite understand"): which order, then where it is."""
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert SlotSet("goal", "track") in out.events and FollowupAction("verify_order_form") in out.events, out.events


@pytest.mark.parametrize(("text", "bare"), [("parcel", True), ("the parcel pls", True),
                                            ("parcel to spain", False), ("order a gift", False)])  # fmt: skip
def test_only_a_bare_parcel_word_is_a_fragment(text: str, bare: bool) -> None:
    assert bare_order_word(text) is bare


@pytest.mark.parametrize(
    ("text", "entities"), [("today though?", [entity("date", "today")]), ("by friday?", []), ("tomorrow?", [])]
)
async def test_a_day_asked_about_after_tracking_gets_the_estimated_delivery(
    store, cases, domain, text: str, entities: list[dict[str, Any]]
) -> None:
    """ "today though?" after a shipped order's status fell back: when it is expected is the answer."""
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    tracker = make_tracker(intent="nlu_fallback", text=text, entities=entities, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_tracking_eta"], out.responses


# --------------------------------------------------------------------------------- refunds and payments


@pytest.mark.parametrize(
    "text", ["i never saw it on my statement though", "nothing came through", "didn't get it", "still can't see it"]
)
async def test_a_refund_not_seen_is_explained_with_the_bank_time(store, cases, domain, text: str) -> None:
    """ "i never saw it on my statement though" after a completed refund fell back."""
    number = grant(store, cases["refunded"])
    slots = {"order_number": number, "topic": "refund", "goal": "refund_status", "proof": "verified"}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_refund_not_arrived"], out.responses


def test_a_failed_payment_said_in_german_or_french_is_a_payment_question() -> None:
    """ "Meine Zahlung wurde abgelehnt, Bestellung ORD-…" was checked as tracking, so the order's status came
    instead of the failed payment and what to do."""
    assert goal_in_words("Meine Zahlung wurde abgelehnt, Bestellung ORD-100270") == "payment"
    assert goal_in_words("mon paiement a été refusé") == "payment"


@pytest.mark.parametrize("text", ["wie lange haltet ihr die Bestellung?", "how long will you hold my order?"])
async def test_the_hold_asked_about_after_tracking_a_failed_payment(store, cases, domain, text: str) -> None:
    """Filed as a cancel request after the status of an order waiting for payment, "how long do you hold it?"
    got the ship date ("will ship once its payment goes through") instead of until when it is held."""
    number = grant(store, cases["payment_failed"])
    slots = {"order_number": number, "topic": "track", "goal": "cancel", "proof": "verified"}
    out = await run(ActionContinueGoal(), make_tracker(intent="cancel_order", text=text, slots=slots), domain)
    assert out.responses == ["utter_payment_held_until"], out.responses
    assert out.followup() != "cancel_form"
    assert store.order_summary(SENDER, number).status == "payment_failed"


async def test_whether_it_is_cancelled_before_the_deadline_says_the_hold(store, cases, domain) -> None:
    """ "and the order won't get cancelled before that?" got only what happens after the deadline."""
    number = grant(store, cases["payment_failed"])
    slots = {"order_number": number, "topic": "payment", "goal": "cancel", "proof": "verified"}
    text = "and the order won't get cancelled before that?"
    out = await run(ActionContinueGoal(), make_tracker(intent="cancel_order", text=text, slots=slots), domain)
    assert out.responses == ["utter_payment_hold_expiry"], out.responses
    wording = domain["responses"]["utter_payment_hold_expiry"][0]["text"]
    assert "hold order {order_number} until {held}" in wording, wording
    assert store.order_summary(SENDER, number).status == "payment_failed"


# --------------------------------------------------------------------------------- the address


@pytest.mark.parametrize(
    "text", ["nah forget it, keep the address as it is", "never mind", "actually leave it as it is", "stop"]
)
async def test_dropping_the_address_change_at_the_address_question(store, cases, domain, text: str) -> None:
    """ "nah forget it, keep the address as it is" (filed as an address change) was read as a bad address and
    the form asked for the new address again."""
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "proof": "verified", "requested_slot": "new_address"}
    tracker = make_tracker(intent="change_shipping_address", text=text, slots=slots, active_loop="address_form")
    dispatcher = CollectingDispatcher()
    result = ValidateAddressForm().validate_new_address(text, dispatcher, tracker, domain)
    assert result == {"new_address": None, "confirm_address": False, "requested_slot": None}, result
    assert dispatcher.messages == []
    after = make_tracker(intent="change_shipping_address", text=text, slots={**slots, **result})
    out = await run(ActionChangeAddress(), after, domain)
    assert out.responses == ["utter_address_kept"], out.responses
    wording = domain["responses"]["utter_address_kept"][0]["text"]
    assert "haven't changed" in wording and "keeps" in wording, wording


async def test_an_address_is_still_an_address(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "proof": "verified", "requested_slot": "new_address"}
    text = "5 Mill Lane, Bristol BS1 4DJ"
    tracker = make_tracker(text=text, slots=slots, active_loop="address_form", entities=[entity("postcode", "BS1 4DJ")])
    result = ValidateAddressForm().validate_new_address(text, CollectingDispatcher(), tracker, domain)
    assert result.get("new_address"), result


# --------------------------------------------------------------------------------- two orders in one message


async def test_two_orders_named_at_once_are_checked_one_at_a_time(store, cases, domain) -> None:
    """ "I've got two orders, ORD-A and ORD-B, where are they?": the check took the last one named, so the
    e-mail of the first failed (an attempt spent); the first named is checked first, and "and the other one?"
    starts the check of the other."""
    first, second = cases["in_transit"]["order_number"], cases["placed"]["order_number"]
    text = f"I've got two orders, {first} and {second}, where are they?"
    named = [entity("order_number", first), entity("order_number", second)]
    tracker = make_tracker(intent="track_order", text=text, entities=named, slots={"order_number": second})
    dispatcher = CollectingDispatcher()
    result = ValidateVerifyOrderForm().validate_order_number(second, dispatcher, tracker, domain)
    assert result["order_number"] == first, result
    assert [m.get("response") for m in dispatcher.messages] == ["utter_one_order_at_a_time"]

    grant(store, cases["in_transit"])
    slots = {"order_number": first, "proof": "verified", "topic": "track", "goal": "track"}
    events = [user(text, "track_order", named)]
    later = make_tracker(intent="inform", text="and the other one?", slots=slots, events=events)
    out = await run(ActionFollowUp(), later, domain)
    assert SlotSet("order_number", second) in out.events and out.followup() == "verify_order_form", out.events
    assert not store.is_verified(SENDER, second)


async def test_a_corrected_order_number_is_the_one_checked(store, cases, domain) -> None:
    first, second = cases["in_transit"]["order_number"], cases["placed"]["order_number"]
    text = f"{first} sorry I meant {second}"
    named = [entity("order_number", first), entity("order_number", second)]
    tracker = make_tracker(text=text, entities=named, slots={"order_number": second})
    dispatcher = CollectingDispatcher()
    result = ValidateVerifyOrderForm().validate_order_number(second, dispatcher, tracker, domain)
    assert result["order_number"] == second and dispatcher.messages == [], (result, dispatcher.messages)
