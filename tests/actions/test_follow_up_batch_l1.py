"""Question-keyed readers (round conv14, issue 13): each class of question read by its form, over wordings written
for this test and unlike batch K's sentences, plus near-misses the reader must leave alone. The readers live in
actions/questions.py and are asked by `actions.follow_up.in_context` whatever NLU guessed."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import questions
from actions.context import FOCUS_PRODUCT, SHOWN_PRODUCTS
from actions.context import said as said_of
from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal, checked_goal
from actions.product_lookup import catalogue
from actions.questions import (
    asks_about_personal_data,
    asks_best_value,
    asks_if_still_returnable,
    asks_why_not_you,
    refund_timing,
)
from actions.returns import ActionReturnPolicy
from tests.actions.helpers import grant, make_tracker, run


def bot(text: str) -> dict[str, Any]:
    return {"event": "bot", "text": text}


# ------------------------------------------------------------------------------------------- refund timing

_HOW_LONG = [
    "any idea when i'll be reimbursed?",
    "how long til the dosh lands in my bank",
    "when do i get paid back",
    "so when's it hitting my account then",
    "what's the eta on getting my £30 back",
    "how quickly does the cash come through after that",
]
_NOT_SEEN = [
    "still no sign of the cash on my card",
    "zilch has turned up on my statement",
    "my bank says nothing yet",
    "i've not seen a penny back",
    "still waiting for my money tbh",
    "it hasn't landed in my paypal",
]
_NOT_REFUND_TIMING = [
    "how many days do I have to return it",
    "how long does delivery take to Leeds",
    "how much is it",
    # the colleague replying, not money coming back (blind I i-ret-03 and K k-hnd-05 regressed on it)
    "how long till they get back to me",
    "when will someone get back to me",
]


@pytest.mark.parametrize("text", _HOW_LONG)
def test_how_long_until_the_money_is_back_is_read_by_its_form(text: str) -> None:
    assert refund_timing(text) == "how_long"


@pytest.mark.parametrize("text", _NOT_SEEN)
def test_money_not_seen_yet_is_read_by_its_form(text: str) -> None:
    assert refund_timing(text) == "not_seen"


@pytest.mark.parametrize("text", _NOT_REFUND_TIMING)
def test_the_return_window_or_a_delivery_is_no_refund_timing(text: str) -> None:
    assert refund_timing(text) is None


@pytest.mark.parametrize("text", _NOT_SEEN[:3])
async def test_money_not_seen_after_a_completed_refund_is_the_refund_not_the_parcel(store, cases, domain, text):
    """After the refund's amount (a delivered order), "nothing in my account" is the refund's bank days, never the
    delivered parcel's dispute (NLU: out of scope)."""
    number = grant(store, cases["refunded"])
    slots = {"order_number": number, "topic": "refund", "goal": "refund_status"}
    tracker = make_tracker(intent="out_of_scope", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_refund_not_arrived", out.responses


@pytest.mark.parametrize("text", _HOW_LONG[:3])
async def test_how_long_for_the_money_before_any_return_is_the_policy_and_the_offer_stands(store, cases, domain, text):
    """At the offer of a return (no refund yet; NLU: a refund's status) the policy's days, and the offer stays
    (batch K said the return window again)."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "goal": "return", "last_question": "offer_return"}
    tracker = make_tracker(intent="refund_status", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_return_refund_time"], out.responses
    assert "last_question" not in out.slots(), out.events  # unchanged: still the offer


@pytest.mark.parametrize(
    "text", ["why's this dragging on so long", "how come it's still not done", "what's the hold up"]
)
async def test_why_so_slow_with_a_pending_refund_is_its_state_with_an_apology(store, cases, domain, text) -> None:
    number = grant(store, cases["returned_refund_processing"])
    slots = {"order_number": number, "topic": "return_status", "goal": "return_status"}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[:2] == ["utter_refund_slow", "utter_refund_status"], out.responses


async def test_why_so_slow_about_a_parcel_is_not_taken(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "topic": "track", "goal": "track"}
    tracker = make_tracker(intent="nlu_fallback", text="why is it taking so long", slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_refund_slow" not in out.responses


# ---------------------------------------------------------------------------------------- why a colleague

_WHY_NOT_YOU = [
    "surely you can sort that yourself?",
    "what's stopping you from doing it",
    "are you even allowed to do that",
    "how come u cant handle it",
    "will you change it for me or not",
    "is that not something you can do",
]


@pytest.mark.parametrize("text", _WHY_NOT_YOU)
def test_why_not_you_is_read_by_its_form(text: str) -> None:
    assert asks_why_not_you(text)


@pytest.mark.parametrize("text", ["why can't I log in", "why is it late"])
def test_why_the_customer_cannot_is_no_question_to_the_assistant(text: str) -> None:
    assert not asks_why_not_you(text)


@pytest.mark.parametrize("text", _WHY_NOT_YOU[:4])
async def test_why_not_you_after_a_colleague_was_offered_says_why_and_offers_again(domain, text) -> None:
    """After "a colleague can look at it... Shall I pass this to them?" (no account answer), NLU unsure."""
    offer = "A colleague from our team can look at it and put it right. Shall I pass this to them?"
    tracker = make_tracker(
        intent="nlu_fallback", text=text, slots={"last_question": "offer_handoff"}, events=[bot(offer)]
    )
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_why_colleague_general", out.responses


async def test_why_not_you_with_a_ticket_open_names_the_ticket(domain) -> None:
    tracker = make_tracker(intent="nlu_fallback", text="surely you can sort that yourself?",
                           slots={"handoff_ticket": "HO-000004"})  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_why_colleague_ticket", out.responses


async def test_why_not_you_with_no_colleague_in_sight_is_not_taken(store, domain) -> None:
    tracker = make_tracker(intent="nlu_fallback", text="surely you can sort that yourself?", events=[bot("Hi!")])
    out = await run(ActionFollowUp(), tracker, domain)
    assert not {"utter_why_colleague_general", "utter_why_colleague_ticket"} & set(out.responses)


# ------------------------------------------------------------------------------------------------ privacy

_PRIVACY = [
    "is my email gonna be sold to marketers?",
    "do u lot hang on to my phone number after this",
    "where does everything I type here end up, is it saved?",
    "are these chats recorded",
    "what happens to my card details afterwards?",
    "does the shop pass my info on to anyone",
]


@pytest.mark.parametrize("text", _PRIVACY)
def test_a_question_about_personal_data_is_read_by_its_form(text: str) -> None:
    assert asks_about_personal_data(text)


@pytest.mark.parametrize("text", ["do you stock retinol", "can you keep it aside for me", "can you hold my order"])
def test_stock_or_an_order_is_no_question_about_personal_data(text: str) -> None:
    assert not asks_about_personal_data(text)


async def test_a_privacy_question_while_the_check_waits_gets_the_privacy_answer(domain) -> None:
    tracker = make_tracker(intent="out_of_scope", text=_PRIVACY[0], slots={"order_number": "ORD-100188"},
                           active_loop="verify_order_form")  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_data_kept", out.responses


async def test_a_privacy_question_while_a_person_is_awaited_gets_the_privacy_answer(domain) -> None:
    tracker = make_tracker(intent="nlu_fallback", text=_PRIVACY[3], slots={"handoff_ticket": "HO-000004"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_data_kept", out.responses


# --------------------------------------------------------------------------------------------- best value

_BEST_VALUE = [
    "bang for my buck, which one?",
    "which one's the cheapest decent one",
    "what goes furthest for 20 quid",
    "which one is worth it for the price",
    "out of those what's the most economical one",
    "which'd get me the most for my cash",
]


@pytest.mark.parametrize("text", _BEST_VALUE)
def test_best_value_is_read_by_its_form(text: str) -> None:
    assert asks_best_value(text)


@pytest.mark.parametrize("text", ["which one is in stock", "what's the most popular one"])
def test_stock_or_popularity_is_no_best_value(text: str) -> None:
    assert not asks_best_value(text)


def _shown() -> dict[str, object]:
    near = [p.sku for p in catalogue().products if "brush" in p.title.lower()][:3]
    return {FOCUS_PRODUCT: None, SHOWN_PRODUCTS: near, "topic": "products"}


@pytest.mark.parametrize("text", [t for t in _BEST_VALUE if "quid" not in t])
async def test_best_value_of_a_list_shown_is_its_cheapest_with_its_price(store, domain, text) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=_shown()), domain)
    assert out.responses == ["utter_cheapest_shown"], out.responses


@pytest.mark.parametrize("text", _BEST_VALUE[:4])
async def test_best_value_with_no_list_is_the_cheapest_product_with_its_price(store, domain, text) -> None:
    """After "sorry, we don't sell that" (no list shown): the cheapest product with its £ price."""
    slots = {FOCUS_PRODUCT: None, SHOWN_PRODUCTS: None, "topic": "products"}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses[0] == "utter_cheapest", out.responses
    assert "£" in out.message("utter_cheapest")["price"]


# ------------------------------------------------------------------------------- a double charge's refund

_EXTRA_BACK = [
    "will you give me back the second payment",
    "can I have the duplicate charge refunded",
    "so will the extra £46 be paid back or what",
    "refund the double one pls",
    "i want my money back for the other payment",
    "can u reimburse the extra charge",
]


def user(text: str) -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "payment_problem"}, "entities": []}}


@pytest.mark.parametrize("text", _EXTRA_BACK)
async def test_the_extra_charge_back_with_no_ticket_is_a_colleague_offered(store, domain, text) -> None:
    """After "my bank shows two payments" (no ticket; NLU: the returns policy): a colleague checks both payments."""
    events = [user("pretty sure you took the payment twice, my bank shows it two times"), bot("Payment received.")]
    tracker = make_tracker(intent="return_policy", text=text, events=events)
    out = await run(ActionReturnPolicy(), tracker, domain)
    assert out.responses == ["utter_double_charge_colleague"], out.responses


@pytest.mark.parametrize(
    ("earlier", "text"),
    [("where is my parcel", "can I get a refund on it"), ("I bought two of them", "refund the extra one please")],
)
async def test_a_refund_with_no_payment_taken_twice_is_not_taken(store, domain, earlier, text) -> None:
    tracker = make_tracker(intent="return_policy", text=text, events=[user(earlier), bot("Okay.")])
    out = await run(ActionReturnPolicy(), tracker, domain)
    assert "utter_double_charge_colleague" not in out.responses, out.responses


# ------------------------------------------------------------------- a proof given with why the last one failed

#: Each says something of an address (moved, the old flat, the street), which read them as an address change.
_PROOF_AGAIN = [
    ("argh that's my old address, it's {postcode}", "postcode"),
    ("ah that was my previous flat, try {postcode}", "postcode"),
    ("used to live on that street lol. {postcode}", "postcode"),
    ("we moved house last year, it'll be {postcode}", "postcode"),
    ("oops that's the old flat's one. {postcode}", "postcode"),
    ("sorry, that email was from before I moved: {email}", "email"),
]


@pytest.mark.parametrize(("text", "kind"), _PROOF_AGAIN)
def test_a_proof_with_why_the_last_failed_keeps_the_checks_goal(cases, text, kind) -> None:
    """After "where's my parcel ORD-…" and a failed check, the right proof with an explanation (NLU: an address
    change) answers the tracking, not an address change."""
    case = cases["delayed"]
    value = case["email"] if kind == "email" else case.get("postcode") or "L16 4FB"
    text = text.format(postcode=value, email=value)
    events = [
        {"event": "slot", "name": "goal", "value": "track"},
        user("where's my parcel " + case["order_number"]),
        bot("I couldn't match that order number with that email or postcode."),
    ]
    slots = {"goal": "change_address", "order_number": case["order_number"]}
    entities = [{"entity": kind, "value": value}]
    tracker = make_tracker(intent="change_shipping_address", text=text, entities=entities, slots=slots, events=events)
    assert checked_goal(tracker) == "track"


@pytest.mark.parametrize(
    "text", ["we moved, can you send it to L16 4FB instead", "please change the address to the new flat, L16 4FB"]
)
def test_an_address_change_with_a_postcode_stays_an_address_change(text) -> None:
    events = [{"event": "slot", "name": "goal", "value": "track"}, user("where's ORD-100147"), bot("Couldn't match.")]
    tracker = make_tracker(intent="change_shipping_address", text=text, entities=[{"entity": "postcode",
                           "value": "L16 4FB"}], slots={"goal": "change_address"}, events=events)  # fmt: skip
    assert checked_goal(tracker) == "change_address"


async def test_an_order_given_for_a_ticket_that_is_late_says_so_with_an_apology(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    slots = {"order_number": number, "goal": "handoff", "handoff_ticket": "HO-000007"}
    tracker = make_tracker(intent="inform", text=f"it's {number}", slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses[:2] == ["utter_handoff_order_noted", "utter_handoff_order_problem"], out.responses


# ------------------------------------------------------------------------------------------ still returnable

_STILL = [
    "is it too late to send them back?",
    "am I still in time to post it back",
    "has the return window on it passed",
    "is that one still returnable",
    "could i return it still?",
    "would it be too late to return this",
]


@pytest.mark.parametrize("text", _STILL)
def test_still_returnable_is_read_by_its_form(text: str) -> None:
    assert asks_if_still_returnable(text)


@pytest.mark.parametrize("text", ["how do returns work", "is it still coming today"])
def test_how_returns_work_or_a_parcel_still_coming_is_not_still_returnable(text: str) -> None:
    assert not asks_if_still_returnable(text)


@pytest.mark.parametrize("text", _STILL[:4])
async def test_still_returnable_about_an_old_order_in_focus_is_its_own_window(store, cases, domain, text) -> None:
    """After tracking an old order (NLU: the returns policy): that order's window has closed, not the policy."""
    number = grant(store, cases["window_expired"])
    slots = {"order_number": number, "topic": "track", "goal": "track"}
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=text, slots=slots), domain)
    assert out.responses == ["utter_return_not_eligible"], out.responses


async def test_still_returnable_with_no_order_in_focus_is_the_policy(store, domain) -> None:
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=_STILL[0]), domain)
    assert "utter_return_not_eligible" not in out.responses, out.responses


# ----------------------------------------------------------- read by their form also right after the order check

_CHECKED = {"event": "action", "name": "verify_order_form"}


@pytest.mark.parametrize("text", _PRIVACY[:3])
async def test_a_privacy_question_filed_as_an_order_goal_is_still_the_privacy_answer(store, cases, domain, text):
    """NLU files "will you keep my postcode stored?" as an address change, so the check runs again (it passes at
    once) and the goal would answer; the question is about data (k-prv-06)."""
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "goal": "change_address", "topic": "track"}
    tracker = make_tracker(intent="change_shipping_address", text=text, slots=slots)
    tracker.events.append(_CHECKED)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses[0] == "utter_data_kept", out.responses


@pytest.mark.parametrize("text", _HOW_LONG[:3])
async def test_refund_days_filed_as_a_refund_goal_right_after_the_check(store, cases, domain, text) -> None:
    """The same after the check ran on the message (k-ret-05: the return window was said again)."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "goal": "refund_status", "last_question": "offer_return"}
    tracker = make_tracker(intent="refund_status", text=text, slots=slots)
    tracker.events.append(_CHECKED)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_return_refund_time"], out.responses


async def test_refund_days_for_an_order_not_delivered_is_the_orders_own_answer(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "topic": "track", "goal": "refund_status"}
    tracker = make_tracker(intent="refund_status", text=_HOW_LONG[0], slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "utter_return_refund_time" not in out.responses, out.responses


@pytest.mark.parametrize("text", _HOW_LONG[:3])
async def test_how_long_for_the_money_with_a_return_under_way_is_left_to_the_return(store, cases, domain, text):
    """A return approved and no refund yet: the return's own follow-up answers when its refund comes and keeps the
    return in focus, so "and where do I send it?" next is its label (F f-ret-05, H h-ret-05 and J j-trk-08 got the
    order's delivery scan when this reader answered it as a refund's status)."""
    number = grant(store, cases["return_requested"])
    slots = {"order_number": number, "topic": "return_status", "goal": "return_status"}
    tracker = make_tracker(intent="refund_status", text=text, slots=slots)
    dispatcher = CollectingDispatcher()
    assert questions.read_refund_timing(dispatcher, tracker, said_of(tracker), caller="action_continue_goal") is None
    assert not dispatcher.messages
