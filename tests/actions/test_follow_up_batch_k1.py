"""The classes of failure the merged code still showed on the ten blind batches (round conv12, conv12a's share),
one test per class, each over several wordings (never the batch's sentence alone): follow-ups about the checked
order's next step answered from its state."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.orders import ActionAskNewAddress, ValidateAddressForm, ValidateCancelForm
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import grant, make_tracker, run, user

SENDER = "web:test-conversation"


def said(out: Any) -> str:
    return " ".join(str(v) for m in out.messages for v in m.values())



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


# --------------------------------------------------------------------------------- an address without its postcode


@pytest.mark.parametrize(
    ("text", "street", "postcode"),
    [
        ("It's 14 Mill Lane, Headingley, Leeds", "14 Mill Lane", "LS6 2AB"),
        ("new address is 7 Oak Road, Kirkstall, Leeds", "7 Oak Road", "it's LS5 3BT"),
        ("Flat 2, 30 Church Street, Bath", "30 Church Street", "BA1 1AA"),
    ],
)
async def test_an_address_without_its_postcode_asks_only_for_the_postcode(
    store, cases, domain, text, street, postcode
) -> None:
    """The street and town are kept and only the postcode asked for; a yes there changes nothing and asks for it
    again; the postcode completes the address, which the summary then shows for the yes."""
    number = grant(store, cases["placed"])
    slots: dict[str, Any] = {"order_number": number}
    form = ValidateAddressForm()
    first = form.validate_new_address(text, CollectingDispatcher(), make_tracker(text=text, slots=slots), {})
    assert first["new_address"] is None and street in (first.get("partial_address") or ""), first
    slots["partial_address"] = first["partial_address"]
    asked = await run(ActionAskNewAddress(), make_tracker(slots=slots), domain)
    assert asked.responses == ["utter_ask_postcode"] and street in asked.messages[0]["address"], asked.messages
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(intent="affirm", text="yes please", slots=slots)
    yes = form.validate_new_address("yes please", dispatcher, tracker, {})
    assert yes == {"new_address": None}, yes
    assert [m.get("response") for m in dispatcher.messages] == ["utter_postcode_still_needed"]
    done = form.validate_new_address(postcode, CollectingDispatcher(), make_tracker(text=postcode, slots=slots), {})
    assert street in (done["new_address"] or "") and postcode.split()[-1] in done["new_address"], done
    assert done.get("partial_address") is None


# --------------------------------------------------------------------------------- an offer of a person, then the order


@pytest.mark.parametrize(
    "text",
    [
        "fine, what's the tracking number, I'll sort it with them myself",
        "ok just give me the tracking number and I'll ring the courier",
        "forget it, where is it now? I'll deal with them directly",
    ],
)
async def test_the_customer_sorting_it_themselves_gets_the_tracking_not_a_person(store, cases, domain, text) -> None:
    number = grant(store, cases["shipped"])
    slots = {
        "order_number": number,
        "topic": "address_refused",
        "goal": "track",
        "refusal": "it has already shipped",
        "last_question": "offer_handoff",
    }
    tracker = make_tracker(intent="track_order", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.followup() != "action_handoff" and store.current_handoff(SENDER) is None, out.events
    tracking = store.tracking(SENDER, number)
    assert tracking.tracking_number in said(out), out.messages


@pytest.mark.parametrize(
    "asked",
    [
        "I do have an order coming though, {n}, will it still go to the old place?",
        "there's an order on its way too, {n} - will it get here before next month?",
    ],
)
async def test_an_order_question_asked_while_a_person_was_offered_is_answered(store, cases, domain, asked) -> None:
    """A person offered for an account change, then an order named with its own question: after the check, the
    order's answer (its tracking), not the offer again."""
    case = cases["in_transit"]
    number = grant(store, case)
    asked = asked.format(n=number)
    events = [
        {
            "event": "user",
            "text": asked,
            "parse_data": {"intent": {"name": "change_shipping_address"}, "entities": []},
        },
        {"event": "slot", "name": "goal", "value": "change_address"},
    ]
    slots = {"order_number": number, "topic": "handoff", "goal": "change_address", "last_question": "offer_handoff"}
    entities = [{"entity": "postcode", "value": case["postcode"]}]
    tracker = make_tracker(text=case["postcode"], entities=entities, slots=slots, events=events)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "utter_offer_handoff_with_order" not in out.responses, out.responses
    assert out.slots().get("goal") == "track", out.events


@pytest.mark.parametrize(
    "text",
    [
        "nah forget the address. yes, cancel it",
        "never mind the address change. ok cancel it please",
        "forget that. yes cancel the order",
    ],
)
def test_a_yes_to_the_cancel_after_dropping_the_address_confirms_it(store, cases, text) -> None:
    from actions.context import OrderContext
    from actions.orders import start_cancel

    number = grant(store, cases["placed"])
    events = [{"event": "bot", "text": "Shall I cancel…?", "metadata": {"utter_action": "utter_ask_confirm_cancel"}}]
    events += [user("or could I just change the address instead?"), {"event": "bot", "text": "What's the new…?"}]
    tracker = make_tracker(intent="cancel_order", text=text, slots={"order_number": number}, events=events)
    ctx = OrderContext(CollectingDispatcher(), tracker, store, SENDER, number)
    out = {e["name"]: e.get("value") for e in start_cancel(ctx) if e.get("event") == "slot"}
    assert out["confirm_cancel"] is True, out


@pytest.mark.parametrize(
    "text", ["nah forget the address. maybe cancel it", "forget the address. cancel it?", "yes. no wait, cancel it"]
)
def test_no_clear_yes_after_dropping_the_address_confirms_nothing(store, cases, text) -> None:
    from actions.context import OrderContext
    from actions.orders import start_cancel

    number = grant(store, cases["placed"])
    events = [{"event": "bot", "text": "Shall I cancel…?", "metadata": {"utter_action": "utter_ask_confirm_cancel"}}]
    tracker = make_tracker(intent="cancel_order", text=text, slots={"order_number": number}, events=events)
    ctx = OrderContext(CollectingDispatcher(), tracker, store, SENDER, number)
    out = {e["name"]: e.get("value") for e in start_cancel(ctx) if e.get("event") == "slot"}
    assert out["confirm_cancel"] is None, out


# --------------------------------------------------------------------------------- delivery options


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("what delivery options have you got in the UK?", [{"entity": "country", "value": "UK"}]),
        ("how can you send it to me, I'm in England", [{"entity": "country", "value": "England"}]),
        ("delivery options for £30 please", []),
    ],
)
async def test_delivery_options_name_the_kinds(store, cases, domain, text, entities) -> None:
    """Standard, express and next day in words, with the carrier's product for each."""
    tracker = make_tracker(intent="shipping_options", text=text, entities=entities)
    out = await run(ActionShippingInfo(), tracker, domain)
    methods = out.messages[0]["methods"]
    assert "Standard (" in methods and "Express (" in methods and "next day" in methods.lower(), methods


@pytest.mark.parametrize("text", ["nah forget the address. yes, cancel it", "never mind that. ok cancel it please"])
def test_the_cancel_form_takes_the_yes_after_the_drop(store, cases, text) -> None:
    """The form validates the yes again when it opens with it: the "nah" of the dropped address is no no."""
    number = grant(store, cases["placed"])
    tracker = make_tracker(intent="cancel_order", text=text, slots={"order_number": number}, active_loop="cancel_form")
    out = ValidateCancelForm().validate_confirm_cancel(True, CollectingDispatcher(), tracker, {})
    assert out == {"confirm_cancel": True}, out


@pytest.mark.parametrize("text", ["can you tell me when it ships?", "can you tell me when it will ship instead?"])
def test_tell_me_when_it_ships_asks_the_date_not_news(text) -> None:
    from actions.follow_up import asks_to_be_told

    assert not asks_to_be_told(text)
