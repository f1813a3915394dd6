"""Follow-ups read against the conversation's context (actions/follow_up.py): what a customer says next."""

from __future__ import annotations

from typing import Any

import pytest

from actions.follow_up import ActionAskOrderNumber, ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff, ActionHandoffStatus
from actions.payments import ActionPaymentMethods
from actions.products import ActionCheckStock
from actions.returns import ActionReturnPolicy
from actions.shipping import ActionShippingInfo
from store.service import OrderStore
from tests.actions.helpers import Outcome, grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


async def follow_up(domain: dict[str, Any], **tracker: Any) -> Outcome:
    return await run(ActionFollowUp(), make_tracker(**tracker), domain)


# ------------------------------------------------------------------------------------ yes, no, a person


async def test_a_typed_yes_to_the_offer_of_a_person_hands_over(store, domain) -> None:
    out = await follow_up(
        domain, intent="affirm", text="yes please someone look into it", slots={"last_question": "offer_handoff"}
    )
    assert out.followup() == "action_handoff"
    no = await follow_up(domain, intent="deny", text="no thanks", slots={"last_question": "offer_handoff"})
    assert no.responses == ["utter_no_person"] and no.followup() == "action_listen"


async def test_a_yes_without_a_question_asks_how_to_help(store, domain) -> None:
    out = await follow_up(domain, intent="affirm", text="ok")
    assert out.responses == ["utter_how_can_help"]


async def test_one_ticket_per_conversation_and_its_status_while_waiting(store: OrderStore, domain) -> None:
    first = await run(ActionHandoff(), make_tracker(intent="human_handoff", text="i want a human"), domain)
    ticket = first.message("utter_handoff")["ticket"]
    assert first.slots()["handoff_ticket"] == ticket
    again = await run(ActionHandoff(), make_tracker(intent="human_handoff", text="how will they contact me?"), domain)
    assert again.responses == ["utter_handoff_status"]
    assert again.message("utter_handoff_status")["ticket"] == ticket
    assert "this chat" in again.message("utter_handoff_status")["how"]
    noted = await run(ActionHandoff(), make_tracker(intent="complaint", text="the box was crushed too"), domain)
    assert noted.responses == ["utter_complaint_noted"]
    assert [t.ticket_number for t in store.handoffs() if t.conversation_id == SENDER] == [ticket]
    waiting = await follow_up(
        domain, intent="nlu_fallback", text="hello? anyone there?", slots={"handoff_ticket": ticket, "topic": "handoff"}
    )
    assert waiting.responses == ["utter_handoff_status"]
    hello = await run(ActionHandoffStatus(), make_tracker(intent="greet", text="hello?"), domain)
    assert hello.responses == ["utter_handoff_status"]
    thanks = await run(ActionHandoffStatus(), make_tracker(intent="thank", text="thanks"), domain)
    assert thanks.responses == ["utter_thank_ticket_open"]


async def test_after_staff_close_the_ticket_a_greeting_is_a_greeting(store: OrderStore, domain) -> None:
    first = await run(ActionHandoff(), make_tracker(intent="human_handoff", text="a person please"), domain)
    ticket = first.message("utter_handoff")["ticket"]
    store.close_handoff(ticket)
    out = await run(
        ActionHandoffStatus(), make_tracker(intent="greet", text="hi", slots={"handoff_ticket": ticket}), domain
    )
    assert out.responses == ["utter_greet"] and out.slots() == {"handoff_ticket": None}


async def test_venting_offers_a_person_and_asking_to_complain_opens_the_ticket(store: OrderStore, domain) -> None:
    vent = await run(ActionHandoff(), make_tracker(intent="complaint", text="this is so annoying"), domain)
    assert vent.responses == ["utter_complaint_offer"] and vent.slots()["last_question"] == "offer_handoff"
    assert store.handoffs() == []
    formal = await run(
        ActionHandoff(), make_tracker(intent="complaint", text="I want to make a formal complaint"), domain
    )
    assert formal.responses == ["utter_complaint", None]


async def test_two_misunderstandings_in_a_row_offer_a_person(store, domain) -> None:
    earlier = [
        {"event": "user", "text": "asdfghjk", "parse_data": {"intent": {"name": "out_of_scope"}}},
        {"event": "bot", "text": "Sorry", "metadata": {"utter_action": "utter_out_of_scope"}},
    ]
    out = await follow_up(domain, intent="out_of_scope", text="???", events=earlier)
    assert out.responses == ["utter_offer_handoff_after_fallback"]
    assert out.slots()["last_question"] == "offer_handoff"


async def test_the_follow_up_never_answers_twice_in_one_turn(store, domain) -> None:
    # run again as the core fallback after the turn's answer: it only listens (no loop of answers)
    answered = [{"event": "bot", "text": "Here you are", "metadata": {"utter_action": "utter_stock"}}]
    tracker = make_tracker(intent="recommend_product", text="a lip gloss")
    tracker.events.extend(answered)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.messages == [] and out.followup() == "action_listen"


# ------------------------------------------------------------------------------- orders in context


async def test_an_order_and_email_on_their_own_start_verification(store, cases, domain) -> None:
    case = cases["in_transit"]
    out = await follow_up(
        domain,
        intent="inform",
        text=f"hi where is {case['order_number']}, {case['email']}",
        entities=[entity("order_number", case["order_number"]), entity("email", case["email"])],
    )
    assert out.followup() == "verify_order_form"
    assert out.slots() == {"goal": "track", "order_number": case["order_number"]}
    bare = await follow_up(domain, intent="nlu_fallback", text=f"order {case['order_digits']}")
    assert bare.followup() == "verify_order_form" and bare.slots()["order_number"] == case["order_number"]


async def test_when_exactly_after_tracking_is_the_orders_eta(store, cases, domain) -> None:
    number = grant(store, cases["in_transit"])
    tracker = make_tracker(
        intent="delivery_time", text="ok when will it arrive exactly", slots={"order_number": number, "topic": "track"}
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_tracking_eta"]
    assert "estimated delivery" in out.message("utter_tracking_eta")["eta"]


async def test_how_long_do_i_have_after_a_failed_payment_is_the_hold(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    tracker = make_tracker(
        intent="delivery_time", text="how long do I have?", slots={"order_number": number, "topic": "payment"}
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_payment_held_until"]
    other = make_tracker(
        intent="payment_methods", text="can I use paypal instead", slots={"order_number": number, "topic": "payment"}
    )
    assert (await run(ActionPaymentMethods(), other, domain)).responses == ["utter_payment_retry"]


@pytest.mark.parametrize(("topic", "case"), [("cancel_refused", "shipped"), ("address_refused", "shipped")])
async def test_why_not_after_a_refusal_gives_the_reason(store, cases, domain, topic, case) -> None:
    number = grant(store, cases[case])
    slots = {"order_number": number, "topic": topic, "refusal": f"Order {number} has already shipped."}
    out = await follow_up(domain, intent="deny", text="why not??", slots=slots)
    assert out.responses == ["utter_refusal_explained"]
    assert "already shipped" in out.message("utter_refusal_explained")["reason"]


async def test_disputing_a_refused_return_offers_a_person(store, cases, domain) -> None:
    number = grant(store, cases["window_expired"])
    slots = {"order_number": number, "topic": "return_refused", "refusal": "The 30-day return window closed."}
    out = await follow_up(
        domain, intent="payment_problem", text="but i only just opened it!! can you make an exception", slots=slots
    )
    assert out.responses == ["utter_offer_handoff_dispute"]
    assert out.slots()["last_question"] == "offer_handoff"


async def test_money_back_after_a_cancellation_of_an_unpaid_order(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    store.cancel_order(SENDER, number)
    tracker = make_tracker(
        intent="refund_status",
        text="will i get my money back",
        slots={"order_number": number, "goal": "refund_status", "topic": "cancelled"},
    )
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_cancelled_follow_up"]
    assert "nothing to refund" in out.message("utter_cancelled_follow_up")["note"]


async def test_an_invoice_for_an_unpaid_order_is_explained_not_silent(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    tracker = make_tracker(
        intent="get_invoice",
        text="can i get an invoice for that order pls",
        slots={"order_number": number, "goal": "invoice"},
    )
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_invoice_unpaid"]
    assert "payment failed" in out.message("utter_invoice_unpaid")["reason"]


async def test_cancel_is_never_offered_for_words_that_do_not_ask_it(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    said = f"Klarna declined me, can I still get my order? {number}"
    tracker = make_tracker(intent="cancel_order", text=said, slots={"order_number": number, "goal": "cancel"})
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.followup() != "cancel_form"
    assert out.responses == ["utter_payment_info"]


# ----------------------------------------------------------------------------------------- shipping


async def test_shipping_follow_ups_keep_what_was_not_said_again(store, domain) -> None:
    first = await run(
        ActionShippingInfo(),
        make_tracker(
            intent="shipping_cost", text="how much is delivery to germany", entities=[entity("country", "Germany")]
        ),
        domain,
    )
    quote = first.slots()["shipping_quote"]
    assert first.message("utter_shipping_quote")["destination"] == "Germany"
    canada = await follow_up(
        domain,
        intent="nlu_fallback",
        text="what about canada, order is about 50 quid",
        entities=[entity("country", "Canada")],
        slots={"topic": "shipping", "shipping_quote": quote},
    )
    said = canada.message("utter_shipping_quote")
    assert said["destination"] == "Canada" and "£50.00" in said["for_value"]
    corrected = await follow_up(
        domain,
        intent="nlu_fallback",
        text="sorry i meant 90 quid",
        entities=[entity("amount", "90 quid")],
        slots={"topic": "shipping", "shipping_quote": canada.slots()["shipping_quote"]},
    )
    said = corrected.message("utter_shipping_quote")
    assert said["destination"] == "Canada" and "£90.00" in said["for_value"]


async def test_two_questions_in_one_message_get_two_answers(store, domain) -> None:
    tracker = make_tracker(
        intent="return_policy", text="returns policy and do you ship to spain?", entities=[entity("country", "Spain")]
    )
    out = await run(ActionReturnPolicy(), tracker, domain)
    assert out.responses == ["utter_return_policy", "utter_shipping_quote"]
    assert out.message("utter_shipping_quote")["destination"] == "Spain"


async def test_a_city_abroad_is_quoted_for_its_country(store, domain) -> None:
    tracker = make_tracker(
        intent="shipping_cost", text="how much is shipping to new york", entities=[entity("city", "New York")]
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.message("utter_shipping_quote")["destination"] == "United States"


# ----------------------------------------------------------------------------------------- products


def skus(store: OrderStore, *titles: str) -> list[str]:
    return [next(p.sku for p in store.catalogue() if p.title == t) for t in titles]


async def test_the_product_named_now_wins_over_the_one_in_focus(store: OrderStore, domain) -> None:
    [focus] = skus(store, "Crown & Root Leave-In Conditioner")
    slots = {"topic": "products", "product": focus, "shown_products": [focus]}
    shirt = await run(
        ActionCheckStock(),
        make_tracker(intent="check_stock", slots=slots, text="do you have the linen shirt in stock?"),
        domain,
    )
    assert shirt.responses == ["utter_product_not_sold"]
    assert shirt.message("utter_product_not_sold")["query"] == "linen shirt"
    serum = await run(
        ActionCheckStock(),
        make_tracker(intent="check_stock", slots=slots, text="have u got any vitamin c serum in stock"),
        domain,
    )
    assert serum.responses == ["utter_stock_several"]
    assert "Vitamin C" in serum.message("utter_stock_several")["lines"]
    assert "Leave-In" not in serum.message("utter_stock_several")["lines"]


async def test_a_product_we_do_not_sell_is_said_so_with_the_closest_ones(store, domain) -> None:
    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text="argan shampoo"), domain)
    assert out.responses == ["utter_product_not_sold_near"]
    said = out.message("utter_product_not_sold_near")
    assert said["query"] == "argan shampoo" and "Shampoo" in said["near"]
    named = await run(
        ActionCheckStock(),
        make_tracker(
            intent="check_stock",
            text="do you stock the Collagen Night Cream?",
            entities=[entity("product", "Collagen Night Cream")],
        ),
        domain,
    )
    assert named.responses == ["utter_product_not_sold_near"]


async def test_pointing_back_at_products_shown(store: OrderStore, domain) -> None:
    shown = skus(store, "Maison Coco Satin Lipstick", "Glow Theory Satin Lipstick")
    slots = {"topic": "products", "shown_products": shown}
    first = await run(
        ActionCheckStock(), make_tracker(intent="check_stock", text="is the first one in stock", slots=slots), domain
    )
    assert first.message("utter_stock")["title"] == "Maison Coco Satin Lipstick"
    brand = await run(
        ActionCheckStock(),
        make_tracker(intent="check_stock", text="is the Glow Theory one in stock", slots=slots),
        domain,
    )
    assert brand.message("utter_stock")["title"] == "Glow Theory Satin Lipstick"
    price = await follow_up(domain, intent="nlu_fallback", text="how much is the first one", slots=slots)
    assert price.message("utter_product_price")["title"] == "Maison Coco Satin Lipstick"


# ------------------------------------------------------------------------------ the order question


async def test_the_order_question_stands_for_an_order_and_gives_way_for_other_shops(store, domain) -> None:
    asked = await run(
        ActionAskOrderNumber(),
        make_tracker(intent="track_order", text="where is my order?", active_loop="verify_order_form"),
        domain,
    )
    assert asked.responses == ["utter_ask_order_number"]
    amazon = await run(
        ActionAskOrderNumber(),
        make_tracker(intent="track_order", active_loop="verify_order_form", text="where is my amazon parcel?"),
        domain,
    )
    assert amazon.responses == ["utter_other_shop"]
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in amazon.events if e["event"] == "active_loop"
    ]


async def test_an_order_number_nlu_missed_is_checked_without_revealing_anything(store, cases, domain) -> None:
    case = cases["in_transit"]
    said = f"track order ORD-999999 email {case['email']}"
    tracker = make_tracker(
        intent="track_order", text=said, entities=[entity("email", case["email"])], active_loop="verify_order_form"
    )
    out = await run(ActionAskOrderNumber(), tracker, domain)
    assert out.responses == ["utter_verification_failed", "utter_ask_proof"]
    assert out.slots()["order_number"] == "ORD-999999"
    assert store.attempts_left(SENDER) == 2


async def test_a_question_while_a_return_is_offered_is_answered_not_taken_as_a_yes(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "return", "last_question": "offer_return"}
    asked = make_tracker(intent="delivery_time", text="how many days have i got left to do it", slots=slots)
    out = await run(ActionShippingInfo(), asked, domain)
    assert out.responses == ["utter_return_window_left"] and out.followup() is None
    yes = await follow_up(domain, intent="nlu_fallback", text="ok start it. all items", slots=slots)
    assert yes.followup() == "return_form" and yes.slots()["return_items"]
