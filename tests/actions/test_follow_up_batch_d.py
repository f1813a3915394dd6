"""The classes of failure the fourth blind batch (tests/conversations/blind_d.yml) showed, one test per class:
a hedge at a summary, a question asked inside a form (another product's stock at the item step, delivery cost
to a place during an address change, the refund and how long it takes during a cancellation), an order kept
while its payment failed, express and standard asked by name, an address said again in full after a
correction, and a need ("dry skin") that shares a word with a product's title."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.confirm import undecided
from actions.follow_up import ActionAskOrderNumber, ActionFollowUp, asks_why_the_proof
from actions.orders import ActionCancelOrder, ValidateAddressForm, ValidateCancelForm, restated_address
from actions.payments import ActionPaymentAdvice, ActionPaymentMethods
from actions.products import ActionCheckStock, ActionRecommendProducts, _kind_not_need, kind_in, read_request
from actions.returns import ActionReturnPolicy, ValidateReturnForm
from actions.shipping import ActionShippingInfo
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


def bot_text(text: str) -> list[dict[str, Any]]:
    """Earlier events: a customer message and the bot's answer in ``text``."""
    return [
        {"event": "user", "text": "earlier", "parse_data": {"intent": {"name": "inform"}, "entities": []}},
        {"event": "bot", "text": text, "metadata": {}},
    ]


# --------------------------------------------------------------------------------------- a hedge at a summary


@pytest.mark.parametrize(
    ("text", "hedges"),
    [
        ("hmm not sure actually", True),
        ("I don't know yet", True),
        ("let me think", True),
        ("no", False),
        ("no thanks, keep it", False),
        ("yes please", False),
    ],
)
def test_a_hedge_is_told_from_a_no(text: str, hedges: bool) -> None:
    assert undecided(text) is hedges


async def test_not_sure_at_any_summary_changes_nothing_and_asks_again(store: OrderStore, cases) -> None:
    """NLU files "hmm not sure actually" as a deny (and the slot mapping as False): it is not a no."""
    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "return_items": "all", "return_reason": "it arrived damaged"}
    said = CollectingDispatcher()
    tracker = make_tracker(slots=slots, text="hmm not sure actually", intent="deny", active_loop="return_form")
    assert ValidateReturnForm().validate_confirm_return(False, said, tracker, {}) == {"confirm_return": None}
    assert [m["response"] for m in said.messages] == ["utter_confirm_unclear"]
    no = make_tracker(slots=slots, text="no", intent="deny", active_loop="return_form")
    assert ValidateReturnForm().validate_confirm_return(False, CollectingDispatcher(), no, {}) == {
        "confirm_return": False
    }
    placed = grant(store, cases["placed"])
    cancel = make_tracker(slots={"order_number": placed}, text="not sure tbh", intent="deny", active_loop="cancel_form")
    assert ValidateCancelForm().validate_confirm_cancel(False, CollectingDispatcher(), cancel, {}) == {
        "confirm_cancel": None
    }
    address = make_tracker(
        slots={"order_number": placed, "new_address": "5 Mill Lane, Bath BA1 1AA"},
        text="hmm I don't know",
        intent="deny",
        active_loop="address_form",
    )
    assert ValidateAddressForm().validate_confirm_address(False, CollectingDispatcher(), address, {}) == {
        "confirm_address": None
    }


# --------------------------------------------------------------------------------------- questions inside forms


async def test_another_products_stock_at_the_item_step_is_answered_not_picked(store: OrderStore, cases) -> None:
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    skus = {line.sku for line in lines}
    ordered = {p.sku: p for p in store.catalogue() if p.sku in skus}
    # a product of a brand in the order that is not in it: its name shares the brand's words with an item
    other = next(
        p
        for p in store.catalogue()
        if p.sku not in skus and any(p.brand == mine.brand for mine in ordered.values()) and p.online_stock
    )
    text = f"btw do you have the {other.title} in stock?"
    tracker = make_tracker(
        slots={"order_number": number},
        text=text,
        intent="check_stock",
        entities=[entity("product", other.title)],
        active_loop="return_form",
    )
    said = CollectingDispatcher()
    assert ValidateReturnForm().validate_return_items(other.title, said, tracker, {}) == {"return_items": None}
    assert any(other.title in str(m.get("text") or m) for m in said.messages), said.messages


async def test_delivery_cost_to_a_place_during_an_address_change_is_the_price(store: OrderStore, cases) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(
        slots={"order_number": number},
        text="quick q, would it cost more to send it to Scotland?",
        intent="shipping_cost",
        entities=[entity("country", "Scotland")],
        active_loop="address_form",
    )
    said = CollectingDispatcher()
    assert ValidateAddressForm().validate_new_address(None, said, tracker, {}) == {"new_address": None}
    assert [m["response"] for m in said.messages] == ["utter_shipping_quote"]
    assert said.messages[0]["destination"] == "United Kingdom"


async def test_the_refund_and_how_long_it_takes_during_a_cancellation(store: OrderStore, cases) -> None:
    number = grant(store, cases["placed"])
    full = make_tracker(
        slots={"order_number": number}, text="do I get the full amount back?", intent="return_policy",
        active_loop="cancel_form",
    )  # fmt: skip
    said = CollectingDispatcher()
    assert ValidateCancelForm().validate_confirm_cancel(None, said, full, {}) == {"confirm_cancel": None}
    note = said.messages[0]["text"]
    assert "refund" in note and "return policy" not in note.lower()
    later = make_tracker(
        slots={"order_number": number},
        text="and how long does that take",
        intent="delivery_time",
        active_loop="cancel_form",
        events=bot_text(note),
    )
    again = CollectingDispatcher()
    ValidateCancelForm().validate_confirm_cancel(None, again, later, {})
    assert again.messages[0].get("text") and "refund" in again.messages[0]["text"], again.messages
    # without the refund just explained, "how long" is still the order's own timing
    plain = make_tracker(
        slots={"order_number": number}, text="how long does that take", intent="delivery_time",
        active_loop="cancel_form",
    )  # fmt: skip
    timing = CollectingDispatcher()
    ValidateCancelForm().validate_confirm_cancel(None, timing, plain, {})
    assert not any("refund" in str(m.get("text") or "") for m in timing.messages)


# --------------------------------------------------------------------------------------- a kept unpaid order


async def test_an_order_kept_while_its_payment_failed_keeps_the_talk_on_paying(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    kept = await run(
        ActionCancelOrder(),
        make_tracker(
            slots={"order_number": number, "confirm_cancel": False}, text="hmm no wait, I'll try paying again"
        ),
        domain,
    )
    assert kept.responses == ["utter_cancel_kept"] and kept.slots()["topic"] == "payment"
    asked = await run(
        ActionReturnPolicy(),
        make_tracker(
            slots={"order_number": number, "topic": "payment"}, text="how long do I have again?", intent="return_policy"
        ),
        domain,
    )
    assert asked.responses[0] in {"utter_payment_held_until", "utter_payment_hold_expired"}, asked.responses


# --------------------------------------------------------------------------------------- express and standard


async def test_express_and_standard_are_answered_by_name(store, domain) -> None:
    express = await run(
        ActionShippingInfo(),
        make_tracker(
            intent="shipping_cost", text="how much is express to London?", entities=[entity("city", "London")]
        ),
        domain,
    )
    assert express.responses == ["utter_shipping_quote_fastest"]
    assert "Express" in domain["responses"]["utter_shipping_quote_fastest"][0]["text"]
    standard = await run(
        ActionFollowUp(),
        make_tracker(
            intent="nlu_fallback",
            text="and standard?",
            slots={"topic": "shipping", "shipping_quote": express.slots()["shipping_quote"]},
        ),
        domain,
    )
    assert standard.responses == ["utter_shipping_quote_cheapest"]
    assert standard.message("utter_shipping_quote_cheapest")["destination"] == "United Kingdom"


# --------------------------------------------------------------------------------------- an address said again


def test_an_address_said_again_in_full_after_a_correction(store) -> None:
    text = "sorry it's Flat 3 not Flat 2. Flat 3, 8 Mill Lane, Bristol BS1 4QA"
    assert restated_address(text, "GB") == "Flat 3, 8 Mill Lane, Bristol BS1 4QA"
    assert restated_address("Flat 3, 8 Mill Lane, Bristol BS1 4QA", "GB") is None  # one sentence: read as before
    assert restated_address("no wait. let me check", "GB") is None


async def test_the_restated_address_replaces_the_summary(store: OrderStore, cases) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(
        slots={"order_number": number, "new_address": "Flat 2, 8 Mill Lane, Bristol BS1 4QA"},
        text="sorry it's Flat 3 not Flat 2. Flat 3, 8 Mill Lane, Bristol BS1 4QA",
        active_loop="address_form",
    )
    out = ValidateAddressForm().validate_confirm_address(None, CollectingDispatcher(), tracker, {})
    assert out == {"new_address": "Flat 3, 8 Mill Lane, Bristol BS1 4QA", "confirm_address": None}


# --------------------------------------------------------------------------------------- a need, not a title word


def test_a_need_is_not_read_as_a_product_word(store) -> None:
    need = "I have really dry skin, what have you got for that?"
    assert kind_in(need) is not None  # "dry" names a kind of product ("Dry Shampoo")
    assert _kind_not_need(need) is None  # but here it is part of the need
    assert _kind_not_need("a dry shampoo please") == kind_in("a dry shampoo please")


# --------------------------------------------------------------------------------------- a person, a photo, a pause


async def test_a_person_asked_for_inside_a_payment_message_is_fetched(store, domain) -> None:
    tracker = make_tracker(
        intent="payment_problem",
        text="can a human check this please, two payments are on my statement",
        slots={"topic": "payment"},
    )
    out = await run(ActionPaymentAdvice(), tracker, domain)
    assert out.followup() == "action_handoff" and out.responses == []


async def test_a_shopper_saying_where_they_are_while_staff_come_is_answered(store, domain) -> None:
    ticket = store.open_handoff("tablet:s3", channel="tablet", reason="staff", summary="", store_id="LDN-01")
    tablet = {"channel": "tablet", "store_id": "LDN-01"}
    slots = {"handoff_ticket": ticket.ticket_number, "topic": "handoff"}
    out = await run(
        ActionFollowUp(),
        make_tracker("tablet:s3", intent="inform", text="I'm by the perfumes", slots=slots, metadata=tablet),
        domain,
    )
    assert out.responses == ["utter_location_noted"]
    # on the web, "I'm at the ..." is not where a colleague should walk to
    web = await run(ActionFollowUp(), make_tracker(intent="inform", text="I'm by the perfumes", slots=slots), domain)
    assert "utter_location_noted" not in web.responses


async def test_putting_it_off_is_not_misunderstood(store, domain) -> None:
    out = await run(
        ActionFollowUp(), make_tracker(intent="nlu_fallback", text="ok good to know, I'll think about it"), domain
    )
    assert out.responses == ["utter_take_your_time"]


async def test_a_photo_offered_inside_the_return_form_is_welcomed(store: OrderStore, cases) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(
        slots={"order_number": number}, text="can I send you a photo of it?", intent="out_of_scope",
        active_loop="return_form",
    )  # fmt: skip
    said = CollectingDispatcher()
    assert ValidateReturnForm().validate_return_items(None, said, tracker, {}) == {"return_items": None}
    assert [m["response"] for m in said.messages] == ["utter_photo"]


# --------------------------------------------------------------------------------------- the policy's follow-ups


async def test_how_to_start_a_return_and_gift_cards_in_french_after_the_policy(store, domain) -> None:
    start = await run(
        ActionFollowUp(),
        make_tracker(intent="out_of_scope", text="how would I start one?", slots={"topic": "return_policy"}),
        domain,
    )
    assert "order number" in start.message("utter_return_policy_part")["part"]
    french = await run(
        ActionPaymentMethods(),
        make_tracker(intent="payment_methods", text="et pour les cartes cadeaux ?", slots={"topic": "return_policy"}),
        domain,
    )
    assert "Final-sale" in french.message("utter_return_policy_part")["part"]


async def test_can_this_product_be_returned_before_buying_it(store, domain) -> None:
    final = next(p for p in store.catalogue() if p.final_sale and p.category != "Gift Cards")
    regular = next(p for p in store.catalogue() if not p.final_sale)
    for product, says in ((final, "final sale"), (regular, "can be returned within")):
        tracker = make_tracker(
            intent="return_item",
            text=f"can I return the {product.title} if I don't like it?",
            entities=[entity("product", product.title)],
            slots={"goal": "return", "topic": "products"},
            active_loop="verify_order_form",
        )
        out = await run(ActionAskOrderNumber(), tracker, domain)
        assert says in out.message("utter_return_policy_part")["part"], out.messages


async def test_how_long_the_order_is_held_asked_in_german(store, cases, domain) -> None:
    number = grant(store, cases["payment_failed"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="nlu_fallback", text="Wie lange wird die Bestellung reserviert?",
            slots={"order_number": number, "topic": "payment"},
        ),
        domain,
    )  # fmt: skip
    assert out.responses[0] in {"utter_payment_held_until", "utter_payment_hold_expired"}, out.responses


async def test_changing_the_account_email_is_for_a_colleague(store, domain) -> None:
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="out_of_scope", text="and can you change the email address on my account"),
        domain,
    )
    assert out.responses == ["utter_account_out_of_scope"]


async def test_the_new_date_after_tracking_a_delayed_order(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    out = await run(
        ActionShippingInfo(),
        make_tracker(
            intent="delivery_time", text="so what's the new date then", slots={"order_number": number, "topic": "track"}
        ),
        domain,
    )
    assert out.responses == ["utter_tracking_eta"], out.responses


# --------------------------------------------------------------------------------------- products


async def test_gift_cards_are_shown_and_picked_by_amount(store, domain) -> None:
    asked = await run(
        ActionFollowUp(), make_tracker(intent="out_of_scope", text="do you sell gift cards in the shop?"), domain
    )
    assert "utter_gift_cards" in asked.responses
    shown = asked.slots()["shown_products"]
    picked = await run(
        ActionFollowUp(),
        make_tracker(
            intent="inform", text="the £50 one", entities=[entity("amount", "£50")],
            slots={"shown_products": shown, "topic": "payment_methods"},
        ),
        domain,
    )  # fmt: skip
    said = " ".join(str(m) for m in picked.messages)
    assert "50" in said and "Gift Card" in said, picked.messages


async def test_where_exactly_in_german_on_a_tablet(store, domain) -> None:
    product = next(p for p in store.catalogue() if p.category == "Fragrance")
    tablet = {"channel": "tablet", "store_id": "LDN-01"}
    out = await run(
        ActionFollowUp(),
        make_tracker(
            "tablet:s4", intent="nlu_fallback", text="und wo genau?", metadata=tablet,
            slots={"topic": "products", "product": product.sku, "shown_products": [product.sku]},
        ),
        domain,
    )  # fmt: skip
    assert "utter_ask_rephrase" not in out.responses and out.messages, out.responses


async def test_a_kind_and_a_budget_after_an_unsold_category_are_a_new_request(store, domain) -> None:
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="nlu_fallback", text="oh ok. lip stuff then? under 20", slots={"topic": "products"}),
        domain,
    )
    said = " ".join(str(m) for m in out.messages)
    assert "Lip" in said and "utter_ask_rephrase" not in out.responses, out.messages


async def test_something_to_set_foundation_with_is_a_setting_product(store) -> None:
    tracker = make_tracker(intent="out_of_scope", text="something to set it with")
    request = read_request(tracker, store)
    assert request.kind and "setting" in request.kind


async def test_thanks_after_picks_is_not_the_same_picks_again(store, domain) -> None:
    request = {"mode": "recommend", "category": "Makeup", "min_price": None, "max_price": None, "product_query": None,
               "kind": "setting powder|setting|powder"}  # fmt: skip
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="nlu_fallback", text="ok ta", slots={"topic": "products", "rec_request": request}),
        domain,
    )
    assert out.responses == ["utter_thank"], out.responses


async def test_a_kind_the_shop_does_not_sell_is_said_to_be_unsold(store, domain) -> None:
    out = await run(
        ActionRecommendProducts(),
        make_tracker(
            intent="recommend_product", text="what about nail polish?", entities=[entity("category", "polish")]
        ),
        domain,
    )
    assert out.responses == ["utter_product_not_sold"], out.responses
    sold = await run(
        ActionRecommendProducts(),
        make_tracker(intent="recommend_product", text="any lipstick?", entities=[entity("category", "lipstick")]),
        domain,
    )
    assert "utter_product_not_sold" not in sold.responses


async def test_is_it_definitely_cancelled_after_the_cancellation(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    store.cancel_order(SENDER, number)
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope",
            text="so it's definitely cancelled?",
            slots={"order_number": number, "topic": "cancelled"},
        ),
        domain,
    )
    assert out.responses == ["utter_cancelled_follow_up"], out.responses


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("why do you need my email, you already know who I am", True),
        ("why do you want my postcode?", True),
        ("why is my order late", False),
        ("can you email me the invoice", False),
    ],
)
def test_why_the_proof_is_asked_for(text: str, asks: bool) -> None:
    assert asks_why_the_proof(text) is asks


async def test_why_do_you_need_my_email_is_answered_in_context(store, cases, domain) -> None:
    number = grant(store, cases["in_transit"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="out_of_scope",
            text="why do you need my email, you already know who I am",
            slots={"order_number": number, "topic": "track"},
        ),
        domain,
    )
    assert out.responses == ["utter_why_proof"] and out.followup() == "action_listen"
    assert "email" in domain["responses"]["utter_why_proof"][0]["text"]
    waiting = await run(
        ActionFollowUp(),
        make_tracker(intent="out_of_scope", text="why do you need my email?", active_loop="verify_order_form"),
        domain,
    )
    assert waiting.responses == ["utter_why_proof"] and waiting.followup() == "verify_order_form"


async def test_the_latest_it_can_be_changed_is_when_it_ships(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    out = await run(
        ActionFollowUp(),
        make_tracker(
            intent="nlu_fallback",
            text="what's the latest I can change it?",
            slots={"order_number": number, "topic": "track"},
        ),
        domain,
    )
    said = " ".join(str(m) for m in out.messages)
    assert "ship" in said and "utter_ask_rephrase" not in out.responses, out.messages


async def test_nothing_found_keeps_the_products_shown_before(store, domain) -> None:
    shown = [p.sku for p in store.catalogue() if p.category == "Skincare" and p.online_stock][:3]
    empty = await run(
        ActionRecommendProducts(),
        make_tracker(
            intent="recommend_product",
            text="any skincare under £1?",
            entities=[entity("category", "skincare"), entity("amount", "£1")],
            slots={"topic": "products", "shown_products": shown},
        ),
        domain,
    )
    assert empty.responses == ["utter_no_recommendations"] and "shown_products" not in empty.slots()
    second = await run(
        ActionCheckStock(),
        make_tracker(
            intent="check_stock",
            text="wot about the second 1, is it in stock",
            slots={"topic": "products", "shown_products": shown},
        ),
        domain,
    )
    title = next(p.title for p in store.catalogue() if p.sku == shown[1])
    assert title in " ".join(str(m) for m in second.messages), second.messages


async def test_refund_or_replacement_with_a_colleague_on_it_is_theirs_to_sort(store, domain) -> None:
    ticket = store.open_handoff(SENDER, channel="web", reason="complaint", summary="")
    out = await run(
        ActionAskOrderNumber(),
        make_tracker(
            intent="refund_status",
            text="will I get a refund or a new one?",
            slots={"handoff_ticket": ticket.ticket_number, "topic": "handoff"},
            active_loop="verify_order_form",
        ),
        domain,
    )
    assert out.responses == ["utter_ticket_decides"], out.responses
