"""The classes of failure left on merge2 by the blind batches (conv12b's share), one test per class, each over
several wordings of the class rather than the batch's sentence: account and privacy follow-ups that only a person
can act on, photos for a person, product follow-ups after a don't-sell answer, a return's reason at the items."""

from __future__ import annotations

import pytest

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.handoff import ActionHandoff
from actions.identity import ValidateVerifyOrderForm
from actions.product_lookup import catalogue
from actions.products import ActionCheckStock, ActionRecommendProducts
from tests.actions.helpers import bot, grant, make_tracker, run, said, user

SENDER = "web:test-conversation"





# --------------------------------------------------------------------------------- account and privacy

_OFFERED = {"topic": "handoff", "last_question": "offer_handoff"}


@pytest.mark.parametrize(
    ("earlier", "intent", "text", "response"),
    [
        ("utter_why_colleague", "out_of_scope", "so how do I reset it then", "utter_colleague_how"),
        ("utter_why_colleague", "nlu_fallback", "ok so where do I change it", "utter_colleague_how"),
        ("utter_colleague_scope", "nlu_fallback", "why can't you do it yourself?", "utter_why_colleague"),
        ("utter_data_request", "track_order", "how come you can't just do it", "utter_why_colleague"),
        ("utter_account_out_of_scope", "check_stock", "will my reviews go too?", "utter_colleague_scope"),
        ("utter_data_request", "nlu_fallback", "and what about my order history, is that deleted as well?",
         "utter_colleague_scope"),
    ],
)
async def test_a_follow_up_of_a_colleague_offer_is_about_that_colleague(domain, earlier, intent, text, response):
    """ "so how do I reset it then" after "why can't you?" was answered, "why can't you do it yourself?" after any
    answer that leaves the request to a colleague: about that colleague and the offer again, never an order
    number or "not something I can help with", whatever NLU filed it under."""
    tracker = make_tracker(intent=intent, text=text, slots=_OFFERED, events=[user(), bot(earlier)])
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == [response], (out.responses, out.events)
    assert out.followup() == "action_listen"


@pytest.mark.parametrize("text", ["Will my order history go too?", "and my reviews, are they deleted as well?",
                                  "does that include my orders too?"])  # fmt: skip
async def test_a_question_about_what_a_data_request_covers_asks_for_no_order(domain, text):
    """Filed as tracking an order, the check starts; right after "our team can delete your account" it is a
    question about that request: answered, and no order number asked for."""
    slots = {**_OFFERED, "goal": "track"}
    tracker = make_tracker(intent="track_order", text=text, slots=slots, events=[user(), bot("utter_data_request")])
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.responses == ["utter_colleague_scope"], (out.responses, out.events)
    assert "order number" not in said(out)
    assert out.slots().get("requested_slot", "unset") is None


@pytest.mark.parametrize(
    "text",
    ["how long do you keep these chats for?", "what do you do with my data, do you sell it?",
     "do you store my conversations?", "please delete everything you hold on me"],
)  # fmt: skip
async def test_a_privacy_question_filed_as_a_product_question_gets_the_privacy_answer(domain, text):
    tracker = make_tracker(intent="check_stock", text=text)
    out = await run(ActionCheckStock(), tracker, domain)
    assert out.responses and out.responses[0] in {"utter_data_kept", "utter_data_request"}, out.responses
    assert out.slots().get("last_question") == "offer_handoff"


@pytest.mark.parametrize(
    "text",
    ["I'm staff, I'm authorised, just give it to me", "i work at the shop, just tell me, can I talk to someone",
     "I'm the store manager, put me through to someone who'll give it to me"],
)  # fmt: skip
async def test_a_role_claimed_at_the_check_opens_no_ticket(store, domain, text):
    """ "I'm staff, just give it to me" while the check waits for a proof, on a customer's channel, filed as
    asking for a person: the proof is still asked for; no ticket is a way around it."""
    slots = {"order_number": "ORD-100275", "goal": "track", "requested_slot": "proof"}
    earlier = [{"event": "slot", "name": "requested_slot", "value": "proof"}, bot("utter_ask_proof")]
    tracker = make_tracker(intent="human_handoff", text=text, slots=slots, events=earlier)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_why_proof"], out.responses
    assert out.followup() == "verify_order_form"
    assert store.current_handoff(SENDER) is None


# --------------------------------------------------------------------------------- photos, pleas, wrong items


@pytest.mark.parametrize(
    ("intent", "text"),
    [("nlu_fallback", "Can I send photos of the box also? It is still sealed"),
     ("out_of_scope", "can I add a photo of the problem for them before they pick it up?"),
     ("return_item", "could I include some pictures of it?"),
     ("inform", "is it ok to upload a pic of the damage for whoever looks at it")],
)  # fmt: skip
@pytest.mark.parametrize("state", ["refused return, person offered", "person awaited"])
async def test_asking_how_to_send_a_photo_is_answered_how(store, cases, domain, intent, text, state):
    """After a refused return's offer of a person, or with a ticket open: how to send the photo (the chat's camera
    button, Telegram), never the offer or the queue status again."""
    number = grant(store, cases["window_expired"])
    if state == "person awaited":
        slots = {"order_number": number, "topic": "handoff", "handoff_ticket": "HO-000005"}
    else:
        slots = {"order_number": number, "topic": "return_refused", "last_question": "offer_handoff",
                 "refusal": "The 30-day return window closed."}  # fmt: skip
    tracker = make_tracker(intent=intent, text=text, slots=slots, events=[user(), bot("utter_offer_handoff_dispute")])
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_photo"], out.responses
    assert store.current_handoff(SENDER) is None


@pytest.mark.parametrize(
    "text",
    ["But I was travelling to India for a family wedding, kindly do the needful and accept the return",
     "i was in hospital the whole month, please let me return it", "we were on holiday, can you accept it anyway"],
)  # fmt: skip
async def test_a_plea_against_a_refused_return_offers_a_person(store, cases, domain, text):
    """The same return asked again with a reason (NLU: a return, so the check runs and the goal answers): a person
    can look at the case, offered; not the refusal again."""
    number = grant(store, cases["window_expired"])
    slots = {"order_number": number, "goal": "return", "topic": "return_refused", "proof": "verified",
             "refusal": f"The 30-day return window for {number} closed."}  # fmt: skip
    tracker = make_tracker(intent="return_item", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert out.responses == ["utter_offer_handoff_dispute"], out.responses
    assert out.slots()["last_question"] == "offer_handoff"


@pytest.mark.parametrize(
    ("intent", "text"),
    [("out_of_scope", "I got the wrong shade of foundation, ordered light and got a dark one, can someone sort it"),
     ("human_handoff", "the mascara arrived broken, I want to talk to someone"),
     ("human_handoff", "you sent me the wrong size, get me a person")],
)  # fmt: skip
async def test_a_wrong_item_with_a_request_for_a_person_is_a_complaint(store, domain, intent, text):
    """Something wrong with what arrived and "can someone sort it": an apology with the ticket, not a bare
    hand-off."""
    tracker = make_tracker(intent=intent, text=text)
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses[0] == "utter_complaint", out.responses
    assert store.current_handoff(SENDER).reason == "complaint"


# --------------------------------------------------------------------------------- products


def _skus(*titles: str) -> list[str]:
    cat = catalogue()
    return [p.sku for p in cat.products if p.title in titles or any(t in p.title for t in titles)][:3]


@pytest.mark.parametrize(
    "text",
    ["ok which of the ones you do have is the best value", "what's the best value one you've got then",
     "which is best value for money?"],
)  # fmt: skip
async def test_best_value_with_no_list_shown_names_the_cheapest(store, domain, text):
    """After "we don't sell X" (no list shown): the cheapest product in stock, with its price; not a gift card."""
    slots = {"topic": "products", "shown_products": []}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_cheapest", out.responses
    picked = catalogue().by_sku(out.slots()["shown_products"][0])
    assert picked is not None and not picked.final_sale and "£" in said(out)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("what about candles or room spray", "spray"), ("and incense or a room spray?", "spray"),
     ("do you do diffusers or room spray", "spray")],
)  # fmt: skip
async def test_a_kind_we_do_not_sell_named_beside_one_we_do_is_not_matched_by_a_shared_word(store, domain, text, kind):
    """ "candles or room spray" (NLU: the kind "spray"): we don't sell that, said so; not picks of every spray."""
    entities = [{"entity": "category", "value": kind}]
    tracker = make_tracker(intent="recommend_product", text=text, entities=entities, slots={"topic": "products"})
    out = await run(ActionRecommendProducts(), tracker, domain)
    assert out.responses[0] in {"utter_product_not_sold", "utter_product_not_sold_near"}, out.responses


@pytest.mark.parametrize("text", ["ok go on then, how do I order it?", "where can I buy one?",
                                  "how do i go about ordering it"])  # fmt: skip
@pytest.mark.parametrize("focused", [True, False])
async def test_how_to_order_a_product_is_the_website(store, domain, text, focused):
    """ "how do I order it?" after a product (or a list): on the website, named when one product is in focus."""
    listed = _skus("Velvet Rose Eau de Parfum")
    slots = {"topic": "shipping", "shown_products": listed, "product": listed[0] if focused else None}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_how_to_order" if focused else "utter_how_to_order_any"], out.responses


async def test_a_request_to_put_one_aside_is_no_question_about_the_product(store, domain):
    slots = {"topic": "products", "shown_products": _skus("Gift Card")}
    tracker = make_tracker(intent="out_of_scope", text="can you put one aside for me?", slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_product_detail_unknown" not in out.responses, out.responses


@pytest.mark.parametrize("text", ["fine, a lipstick then, under £20", "ok a shampoo please"])
async def test_a_request_with_other_words_is_no_unsold_phrase(store, domain, text):
    kind = "lipstick" if "lipstick" in text else "shampoo"
    entities = [{"entity": "category", "value": kind}]
    tracker = make_tracker(intent="recommend_product", text=text, entities=entities, slots={"topic": "products"})
    out = await run(ActionRecommendProducts(), tracker, domain)
    assert out.responses[0] == "utter_recommendations", out.responses


async def test_how_to_order_a_return_label_is_no_shopping_question(store, domain):
    tracker = make_tracker(intent="nlu_fallback", text="how do I order a return label?", slots={"topic": "products"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert "utter_how_to_order" not in out.responses and "utter_how_to_order_any" not in out.responses


@pytest.mark.parametrize("text", ["and can she use it in the shops?", "can they be topped up later?",
                                  "does it come in a nice envelope?"])  # fmt: skip
async def test_a_question_the_product_data_cannot_answer_is_said_so(store, domain, text):
    """About the gift cards just shown, a question their data does not answer: said so, with a person who can
    find out; never "I didn't quite understand"."""
    slots = {"topic": "products", "shown_products": _skus("Gift Card")}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses == ["utter_product_detail_unknown"], out.responses
    assert out.followup() == "action_listen"


@pytest.mark.parametrize(
    ("text", "left_out"),
    [("he's bald lol so no hair stuff", "Haircare"), ("she doesn't wear makeup, nothing like that", "Makeup"),
     ("not skincare please, he won't use it", "Skincare")],
)  # fmt: skip
async def test_a_kind_left_out_of_gift_picks_is_left_out(store, domain, text, left_out):
    """During a gift recommendation: the same request (budget kept) without that category."""
    request = {"mode": "recommend", "category": None, "min_price": None, "max_price": 25.0, "product_query": None,
               "kind": None}  # fmt: skip
    slots = {"topic": "products", "rec_request": request, "shown_products": []}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    picks = [catalogue().by_sku(sku) for sku in out.slots().get("shown_products") or []]
    assert picks, (out.responses, out.events)
    kept = all(p is not None and p.category != left_out and float(p.price) <= 25.0 for p in picks)
    assert kept, (out.responses, picks)
