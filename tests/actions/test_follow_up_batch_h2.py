"""The classes of failure the eighth blind batch (tests/conversations/blind_h.yml) showed in conv9b's share of
it, one test per class: a place with an order value filed as out of scope ("how much for spain on a 40 pound
order"), what is done with the customer's data answered with what the assistant can do, going off to find the
proof answered with the proof question again, a role claimed ("I'm a manager") taken as asking for a manager,
and an order asked about with its proof in a delivery question answered with the delivery question only."""

from __future__ import annotations

from typing import Any

import pytest

from actions.context import wants_a_person
from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.shipping import ActionShippingInfo
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


# --------------------------------------------------------------------------------- shipping


@pytest.mark.parametrize(
    ("intent", "text", "country", "amount"),
    [
        ("out_of_scope", "how much for spain on a 40 pound order", "Spain", "40 pound"),
        ("nlu_fallback", "what would it be for germany with a £60 basket", "Germany", "£60"),
    ],
)
async def test_a_place_with_an_order_value_is_a_quote(store, domain, intent, text, country, amount) -> None:
    """ "how much for spain on a 40 pound order" after the returns policy got "not something I can help with"."""
    slots = {"topic": "return_policy"}
    entities = [entity("country", country), entity("amount", amount)]
    tracker = make_tracker(intent=intent, text=text, entities=entities, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_shipping_quote"], out.responses
    assert out.message("utter_shipping_quote")["destination"] == country
    assert "£" in out.message("utter_shipping_quote")["for_value"]


async def test_a_place_with_an_order_value_during_the_check(store, domain) -> None:
    """The same question while the check waits for a proof: the quote, then the proof question again."""
    slots = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}
    entities = [entity("country", "Spain"), entity("amount", "40 pound")]
    tracker = make_tracker(
        intent="out_of_scope", text="how much for spain on a 40 pound order", entities=entities, slots=slots,
        active_loop="verify_order_form",
    )  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_shipping_quote"], out.responses
    assert out.followup() == "verify_order_form"


async def test_a_budget_in_a_place_is_no_quote(store, domain) -> None:
    text = "need something for dry skin under £30, I'm in France"
    entities = [entity("country", "France"), entity("amount", "£30")]
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, entities=entities), domain)
    assert "utter_shipping_quote" not in out.responses, out.responses


async def test_a_place_alone_out_of_context_is_still_not_a_quote(store, domain) -> None:
    """The value is what makes a place a delivery question: "is it sunny in spain" stays out of scope."""
    tracker = make_tracker(intent="out_of_scope", text="is it sunny in spain", entities=[entity("country", "Spain")])
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_out_of_scope"], out.responses


# --------------------------------------------------------------------------------- privacy


@pytest.mark.parametrize(
    "text",
    ["what do you do with my data anyway?", "how do you use my personal information?",
     "do you share my details with anyone?", "what happens to my data?"],
)  # fmt: skip
async def test_what_is_done_with_my_data(store, domain, text: str) -> None:
    """ "what do you do with my data anyway?" got what the assistant can do ("what do you do")."""
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text), domain)
    assert out.responses == ["utter_data_kept"], out.responses
    assert "use it for" in domain["responses"]["utter_data_kept"][0]["text"]


async def test_what_can_you_do_is_still_the_menu(store, domain) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text="what do you do?"), domain)
    assert out.responses == ["utter_what_i_do"], out.responses


@pytest.mark.parametrize(
    "text",
    ["I'll find the confirmation email and come back", "let me find the email, back in a bit, I'll come back",
     "ok I'll look for it and get back to you"],
)  # fmt: skip
async def test_going_off_to_find_the_proof_ends_the_check(store, domain, text: str) -> None:
    """ "I'll find the confirmation email and come back" during the check got the proof question again."""
    slots = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}
    tracker = make_tracker(intent="return_item", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_take_your_time"], out.responses
    assert out.followup() == "action_listen"
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in out.events), out.events


async def test_going_off_with_thanks_is_thanked(store, domain) -> None:
    slots = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}
    text = "i'll find the confirmation email then. thanks"
    tracker = make_tracker(intent="return_item", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_thank"], out.responses
    assert out.followup() == "action_listen"


async def test_a_question_about_finding_the_proof_is_no_going_off(store, domain) -> None:
    slots = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}
    tracker = make_tracker(
        intent="nlu_fallback", text="where do I find the email, will you wait?", slots=slots,
        active_loop="verify_order_form",
    )  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_take_your_time" not in out.responses, out.responses


@pytest.mark.parametrize(
    ("text", "asks"),
    [("I'm a manager, I'm authorised", False), ("I work at the shop, give me the details", False),
     ("I'm staff here", False), ("I'm a manager, put me through to someone", True),
     ("can I speak to a manager", True), ("get me your manager", True)],
)  # fmt: skip
def test_a_role_claimed_is_no_request_for_a_person(text: str, asks: bool) -> None:
    """ "I'm a manager, I'm authorised" opened a ticket as if a manager had been asked for."""
    assert wants_a_person(text) is asks


async def test_a_role_claimed_during_the_check_gets_why_the_proof(store: OrderStore, cases, domain) -> None:
    """The check stands for everyone: the claim gets why the proof is asked, and the proof question again."""
    slots = {"order_number": cases["lost_parcel"]["order_number"], "goal": "track", "requested_slot": "proof"}
    tracker = make_tracker(
        intent="out_of_scope", text="I'm a manager, I'm authorised", slots=slots, active_loop="verify_order_form"
    )
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_why_proof"], out.responses
    assert out.followup() == "verify_order_form"
    assert store.current_handoff(SENDER) is None


# --------------------------------------------------------------------------------- two questions


async def test_an_order_with_its_proof_in_a_delivery_question(store: OrderStore, cases, domain) -> None:
    """ "where is ORD-… (email …)? and do you deliver to Ireland?" (filed as shipping) got Ireland only."""
    case = cases["delayed"]
    text = f"Quick q's: where is {case['order_number']} (email {case['email']})? and do you deliver to Ireland?"
    entities = [
        entity("email", case["email"]), entity("order_number", case["order_number"]), entity("country", "Ireland")
    ]  # fmt: skip
    tracker = make_tracker(intent="shipping_options", text=text, entities=entities)
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == [] and out.followup() == "verify_order_form", (out.responses, out.events)
    assert out.slots().get("goal") == "track"
    # the check passes on the message's own proof; then the order is answered, and Ireland after it
    grant(store, case)
    slots = {"order_number": case["order_number"], "goal": "track", "proof": "verified"}
    tracker = make_tracker(intent="shipping_options", text=text, entities=entities, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "delay" in said.lower(), out.messages
    assert out.responses[-1] == "utter_shipping_quote", out.responses
    assert out.message("utter_shipping_quote")["destination"] == "Ireland"


async def test_a_delivery_question_with_a_destination_postcode_is_still_a_quote(store, cases, domain) -> None:
    """A postcode to send to is no proof: "how much to ship ORD-… to G49 1SS" stays a delivery question."""
    case = cases["delayed"]
    text = f"how much to send {case['order_number']} to G49 1SS"
    entities = [entity("order_number", case["order_number"]), entity("postcode", "G49 1SS")]
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_cost", text=text, entities=entities), domain)
    assert out.followup() != "verify_order_form", out.events
