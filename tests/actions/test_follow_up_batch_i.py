"""The classes of failure the ninth blind batch (tests/conversations/blind_i.yml) showed in conv10a's share of
it, one test per class: going off to find the proof read by the verification form as the proof (or answered
with "bye" and the form's question), a product or kind the shop does not sell answered with products that share
a word with it, a product's price or e-mail delivery asked as a follow-up in words NLU filed elsewhere, what the
shop sells or the assistant does asked after a no, and a slang goodbye."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.context import OFFER_HANDOFF
from actions.follow_up import ActionFollowUp, ActionGoodbye
from actions.identity import STOPPED, ValidateVerifyOrderForm
from actions.product_lookup import catalogue
from actions.products import ActionCheckStock
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import make_tracker, run

# --------------------------------------------------------------------------------- coming back later

_PROOF = {"order_number": "ORD-999999", "goal": "track", "requested_slot": "proof"}


@pytest.mark.parametrize(
    ("slot", "slots", "text"),
    [
        ("proof", _PROOF, "ok ill ask her for the right one and come back"),
        ("proof", _PROOF, "whatever i'll find the confirmation email and come back"),
        ("proof", _PROOF, "hmm i'll have to check with my husband, he has the emails"),
        ("order_number", {"goal": "track", "requested_slot": "order_number"}, "dont have it on me, another time"),
    ],
)
def test_going_off_to_find_the_proof_ends_the_form(store, slot: str, slots: dict[str, Any], text: str) -> None:
    """NLU unsure (nlu_fallback is no escape intent): the form read the words as the proof and asked again."""
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, active_loop="verify_order_form")
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateVerifyOrderForm(), f"validate_{slot}")(text, dispatcher, tracker, {})
    assert [m.get("response") for m in dispatcher.messages] == ["utter_take_your_time"]
    assert result == {slot: None, STOPPED: True}
    assert store.attempts_left("web:test-conversation") == 3  # no attempt spent on it


def test_a_proof_is_still_checked(store) -> None:
    text = "ill come back to it, its B40 8PT"
    tracker = make_tracker(
        intent="inform", text=text, slots=_PROOF, active_loop="verify_order_form",
        entities=[{"entity": "postcode", "value": "B40 8PT"}],
    )  # fmt: skip
    dispatcher = CollectingDispatcher()
    result = ValidateVerifyOrderForm().validate_proof("B40 8PT", dispatcher, tracker, {})
    assert STOPPED not in result


@pytest.mark.parametrize("text", ["ah i dont have it right now, ill come back later", "ok ill ask her later"])
async def test_coming_back_later_filed_as_goodbye_ends_the_check(store, domain, text: str) -> None:
    """ "Bye for now ... Which order is it about?": the goodbye rule ran, then the form asked again."""
    slots = {"goal": "track", "requested_slot": "order_number"}
    tracker = make_tracker(intent="goodbye", text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ActionGoodbye(), tracker, domain)
    assert out.responses == ["utter_take_your_time"], out.responses
    assert out.followup() == "action_listen"
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in out.events), out.events


async def test_a_plain_goodbye_during_the_check_ends_it_too(store, domain) -> None:
    slots = {"goal": "track", "requested_slot": "order_number"}
    tracker = make_tracker(intent="goodbye", text="ok bye", slots=slots, active_loop="verify_order_form")
    out = await run(ActionGoodbye(), tracker, domain)
    assert out.responses == ["utter_goodbye"], out.responses
    assert out.followup() == "action_listen"


async def test_a_goodbye_without_a_form_is_unchanged(store, domain) -> None:
    out = await run(ActionGoodbye(), make_tracker(intent="goodbye", text="ill come back later"), domain)
    assert out.responses == ["utter_goodbye"], out.responses
    assert out.followup() is None


# --------------------------------------------------------------------------------- products the shop does not sell


@pytest.mark.parametrize(
    ("text", "unsold"),
    [("do you have olaplex no 3", "olaplex no 3"), ("do you sell hair dye here", "hair dye"),
     ("got any lip balm?", "lip balm")],
)  # fmt: skip
async def test_a_product_we_do_not_sell_is_said_to_be_unsold(store, domain, text: str, unsold: str) -> None:
    """ "olaplex no 3" got the scrunchie sets of 3 and "hair dye" every hair product, as if we sold them."""
    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text=text), domain)
    assert out.responses[0] in {"utter_product_not_sold", "utter_product_not_sold_near"}, out.responses
    assert out.messages[0]["query"] == unsold


@pytest.mark.parametrize("text", ["do you have hair oil", "sensitive skin cream", "have you got red lipstick",
                                  "any shampoo travel size", "do you have the £50 one"])  # fmt: skip
async def test_what_we_sell_is_still_found(store, domain, text: str) -> None:
    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text=text), domain)
    assert not {"utter_product_not_sold", "utter_product_not_sold_near"} & set(out.responses), out.responses


async def test_a_fragment_after_products_is_the_next_product(store, domain) -> None:
    """ "trainers?" after "we don't sell mom jeans" was not understood."""
    tracker = make_tracker(intent="nlu_fallback", text="trainers?", slots={"topic": "products"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_product_not_sold"], out.responses
    assert out.messages[0]["query"] == "trainers"


@pytest.mark.parametrize("text", ["seriously?", "why?", "huh?", "really??"])
async def test_a_short_reply_after_products_is_no_product(store, domain, text: str) -> None:
    tracker = make_tracker(intent="nlu_fallback", text=text, slots={"topic": "products"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert not {"utter_product_not_sold", "utter_product_not_sold_near"} & set(out.responses), out.responses


@pytest.mark.parametrize("text", ["wow ok so what do you actually sell", "what kind of stuff do you stock?"])
async def test_what_the_shop_sells(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text), domain)
    assert out.responses == ["utter_what_we_sell"], out.responses
    assert "skincare" in out.messages[0]["categories"] and "fragrance" in out.messages[0]["categories"]


async def test_what_do_you_have_for_a_need_is_no_list_of_categories(store, domain) -> None:
    tracker = make_tracker(intent="out_of_scope", text="what do you have for dry skin")
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_what_we_sell" not in out.responses, out.responses


async def test_what_can_you_do_after_a_no_to_the_person(store, domain) -> None:
    """ "no thanks lol. what can you actually do" at the offer of a person got "No problem. Anything else?"."""
    tracker = make_tracker(
        intent="deny", text="no thanks lol. what can you actually do", slots={"last_question": OFFER_HANDOFF}
    )
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_what_i_do"], out.responses


# --------------------------------------------------------------------------------- the product in focus


@pytest.mark.parametrize("text", ["und was kostet es?", "combien ça coûte ?"])
async def test_the_price_of_the_product_in_focus_asked_abroad(store, domain, text: str) -> None:
    """ "und was kostet es?" after the Oud Noir parfum (filed as shipping_cost) got the delivery prices."""
    product = next(p for p in catalogue().products if p.title == "Atlas Perfumery Oud Noir Parfum")
    slots = {"topic": "products", "product": product.sku, "shown_products": [product.sku]}
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_cost", text=text, slots=slots), domain)
    assert out.responses == ["utter_product_price"], out.responses
    assert out.messages[0]["title"] == product.title


async def test_emailed_asked_about_the_posted_gift_card(store, domain) -> None:
    """ "can it be emailed to her?" about the £50 gift card got only its own (posted) description."""
    card = next(p for p in catalogue().products if p.title == "Gift Card £50")
    slots = {"topic": "products", "product": card.sku, "shown_products": [card.sku]}
    text = "can it be emailed to her? she lives abroad"
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_options", text=text, slots=slots), domain)
    assert out.responses == ["utter_how_it_comes"], out.responses
    assert "E-Gift Card £50" in out.messages[0]["lines"], out.messages[0]["lines"]


# --------------------------------------------------------------------------------- slang goodbyes


@pytest.mark.parametrize("text", ["ight bet, peace out", "aight gtg", "laters x", "ok catch you later"])
async def test_a_slang_goodbye(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert out.responses in (["utter_goodbye"], ["utter_goodbye_thanks"]), out.responses


@pytest.mark.parametrize(
    ("text", "title"),
    [("how much is the skin tint btw", "Radiant Skin Tint"), ("and the blush, how much was it again?", "Cream Blush")],
)
async def test_a_word_after_the_product_is_no_unknown_kind(store, domain, text: str, title: str) -> None:
    """The unknown head of a compound ("hair dye") is unsold; a word after a product ("btw", "was") is not one."""
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_cost", text=text, slots={"topic": "products"}),
                    domain)  # fmt: skip
    assert out.responses and out.responses[0] in {"utter_product_price", "utter_product_prices"}, out.responses
    assert title in str(out.messages[0]), out.messages[0]
