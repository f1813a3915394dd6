"""The classes of failure the eleventh blind batch (tests/conversations/blind_k.yml) showed in conv13's share of
it, one test per class: the return form's free-text questions trapped the customer ("Which item would you like
to return?" four times over "only the top one on that list", a reason, "scrap that, I'll hang on to it", "hang
on, not sure" and a question about a swap)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ValidateAddressForm
from actions.returns import ValidateReturnForm
from tests.actions.helpers import grant, make_tracker

SENDER = "web:test-conversation"


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


def said_words(dispatcher: CollectingDispatcher, domain: dict[str, Any]) -> str:
    """What the dispatcher said, responses resolved to their text."""
    out = []
    for m in dispatcher.messages:
        if m.get("text"):
            out.append(m["text"])
        elif m.get("response"):
            out.append(" ".join(v["text"] for v in domain["responses"][m["response"]]))
    return " ".join(out)


# --------------------------------------------------------------------------------- stuck forms


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("only the top one on that list", 0),
        ("the first one please", 0),
        ("just the 2nd item", 1),
        ("the second one", 1),
        ("the last one on the list", -1),
        ("bottom one", -1),
    ],
)
def test_an_item_named_by_its_place_in_the_list_is_picked(store, cases, text, position) -> None:
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    assert len(lines) > 2
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text, intent="out_of_scope")
    out = ValidateReturnForm().validate_return_items(text, CollectingDispatcher(), tracker, {})
    assert out["return_items"] == str(lines[position].line_id), out


@pytest.mark.parametrize(
    "text",
    [
        "actually scrap that, I'm going to hang on to it",
        "scrap it, I'll hold onto them",
        "nah I'm gonna keep it after all",
        "on second thoughts I'd rather keep it",
    ],
)
@pytest.mark.parametrize("slot", ["return_items", "return_reason"])
def test_taking_the_return_back_at_any_question_ends_the_form(store, cases, text, slot) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(
        slots={"order_number": number, "requested_slot": slot},
        active_loop="return_form",
        text=text,
        intent="nlu_fallback",
    )
    out = getattr(ValidateReturnForm(), f"validate_{slot}")(text, CollectingDispatcher(), tracker, {})
    assert out["requested_slot"] is None and out["confirm_return"] is False, out


@pytest.mark.parametrize("text", ["hmm hang on, not 100% sure", "let me think a sec", "hold on, not sure yet"])
@pytest.mark.parametrize("slot", ["return_items", "return_reason", "new_address"])
def test_a_hedge_at_a_free_text_question_is_not_misunderstood(store, cases, domain, text, slot) -> None:
    """ "hang on, not sure" is not a wrong answer: nothing has changed, and the form waits (no "I couldn't tell
    which item you mean" loop)."""
    number = grant(store, cases["returnable"] if slot != "new_address" else cases["placed"])
    form, validator = (
        ("address_form", ValidateAddressForm()) if slot == "new_address" else ("return_form", ValidateReturnForm())
    )
    tracker = make_tracker(
        slots={"order_number": number, "requested_slot": slot}, active_loop=form, text=text, intent="out_of_scope"
    )
    dispatcher = CollectingDispatcher()
    out = getattr(validator, f"validate_{slot}")(text, dispatcher, tracker, domain)
    assert out[slot] is None
    responses = [m.get("response") for m in dispatcher.messages]
    assert responses == ["utter_form_no_rush"], responses
    assert "nothing has changed" in said_words(dispatcher, domain)


@pytest.mark.parametrize(
    "text",
    ["wrong shade for me", "it's just too dark for me", "doesn't suit my skin tone"],
)
def test_a_reason_given_at_the_item_question_is_kept(store, cases, domain, text) -> None:
    """A reason instead of the item: it is kept and the item asked for (not "I couldn't tell which item")."""
    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text)
    dispatcher = CollectingDispatcher()
    out = ValidateReturnForm().validate_return_items(text, dispatcher, tracker, domain)
    assert out["return_items"] is None and out["return_reason"], out
    assert [m.get("response") for m in dispatcher.messages] == ["utter_return_reason_noted_which_item"]


@pytest.mark.parametrize(
    "text",
    [
        "sorry! one more q - could i swap it for a different shade instead?",
        "can I exchange it for another size?",
        "rather than a refund can I get it in a different colour",
    ],
)
@pytest.mark.parametrize("intent", ["out_of_scope", "inform", "nlu_fallback"])
def test_an_exchange_asked_at_the_item_question_is_answered(store, cases, domain, text, intent) -> None:
    number = grant(store, cases["returnable"])
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form", text=text, intent=intent)
    dispatcher = CollectingDispatcher()
    out = ValidateReturnForm().validate_return_items(text, dispatcher, tracker, domain)
    assert out["return_items"] is None, out
    said = said_words(dispatcher, domain)
    assert "colleague" in said and "couldn't tell" not in said, said


@pytest.mark.parametrize("slot", ["return_items", "new_address"])
def test_a_second_wrong_answer_in_a_row_offers_a_way_out(store, cases, domain, slot) -> None:
    """The same "I couldn't tell" twice in a row is a loop: the second time says how to leave it."""
    number = grant(store, cases["returnable"] if slot != "new_address" else cases["placed"])
    form, validator, invalid = (
        ("address_form", ValidateAddressForm(), "utter_address_invalid")
        if slot == "new_address"
        else ("return_form", ValidateReturnForm(), "utter_return_items_invalid")
    )
    before = [
        {"event": "user", "text": "zzz", "parse_data": {"intent": {"name": "inform"}}},
        {"event": "bot", "text": "x", "metadata": {"utter_action": invalid}},
        {"event": "bot", "text": "y", "metadata": {"utter_action": f"utter_ask_{slot}"}},
    ]
    text = "qwxz blorp"
    tracker = make_tracker(
        slots={"order_number": number, "requested_slot": slot}, active_loop=form, text=text, events=before
    )
    dispatcher = CollectingDispatcher()
    out = getattr(validator, f"validate_{slot}")(text, dispatcher, tracker, domain)
    assert out[slot] is None
    assert [m.get("response") for m in dispatcher.messages] == ["utter_form_way_out"]
    assert "stop" in said_words(dispatcher, domain)


# --------------------------------------------------------------------------------- adding to an order


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("could I stick a lip liner on the order too while I'm at it?", "Lip Liner"),
        ("can you pop a mascara in with my order as well", "Mascara"),
        ("chuck a cleanser in the parcel too pls", "Cleanser"),
        ("is it possible to bung a setting spray onto that order", "Setting Spray"),
    ],
)
@pytest.mark.parametrize("intent", ["out_of_scope", "inform", "nlu_fallback"])
async def test_adding_a_product_to_a_placed_order_says_it_cannot(store, cases, domain, text, product, intent):
    """Adding to a placed order in other verbs ("stick", "pop", "chuck", "bung") is never a stock answer."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    number = grant(store, cases["placed"])
    slots = {"order_number": number, "topic": "cancel", "goal": "cancel"}
    tracker = make_tracker(intent=intent, text=text, entities=[entity("product", product)], slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses and out.responses[0] in {"utter_cannot_add_to_order", "utter_cannot_add_items"}, out.messages


# --------------------------------------------------------------------------------- products we do not sell


@pytest.mark.parametrize(
    ("phrase", "shares"),
    [
        ("false eyelashes", "eyelash"),
        ("fake eyelashes", "eyelash"),
        ("mink eyelashes", "eyelash"),
    ],
)
def test_a_kind_we_do_not_sell_sharing_a_word_with_one_we_do_is_unsold(store, phrase, shares) -> None:
    """ "false eyelashes" is no eyelash curler: a word we do not know in front of a word that is no kind of
    product here (only part of one: "Eyelash Curler") makes another kind; the curler may be offered as close."""
    from actions.product_lookup import match

    found = match(phrase)
    assert not found.products, [p.title for p in found.products]
    assert found.unknown, found


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("what about the Solstice one?", "Solstice"),
        ("how about the Solstice one", "Solstice"),
        ("just the Crown & Root one", "Crown & Root"),
        ("maybe the Maison Coco one then", "Maison Coco"),
        ("anything from Solstice?", "Solstice"),
    ],
)
def test_a_function_word_before_a_brand_is_no_kind_we_do_not_sell(store, text, brand) -> None:
    """ "what about the Solstice one?" after a list: "about" is no unknown kind of product in front of the brand
    (the unsold-modifier reading had made it one and matched nothing, so the pick fell to "not something I can help
    with"); the brand's products are matched."""
    from actions.product_lookup import match

    found = match(text)
    assert found.products and not found.unknown, found
    assert all(brand in p.brand for p in found.products), found


@pytest.mark.parametrize("text", ["do you stock any false eyelashes", "got any fake eyelashes?"])
async def test_asking_for_a_kind_we_do_not_sell_says_so(store, domain, text) -> None:
    from actions.products import ActionCheckStock
    from tests.actions.helpers import run

    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text=text), domain)
    assert out.responses[0] in {"utter_product_not_sold", "utter_product_not_sold_near"}, out.messages


@pytest.mark.parametrize("text", ["what about teeth whitening strips", "and acrylic nails?", "what about nail glue?"])
async def test_the_next_kind_we_do_not_sell_after_products_says_so(store, domain, text) -> None:
    """After "we don't sell false eyelashes", "what about teeth whitening strips" (filed out of scope) is the
    same question about another kind, not "that's not something I can help with"."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    tracker = make_tracker(intent="out_of_scope", text=text, slots={"topic": "products"})
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] in {"utter_product_not_sold", "utter_product_not_sold_near"}, out.messages


@pytest.mark.parametrize(
    "text",
    [
        "what other stuff do you stock besides perfume",
        "what else do you sell apart from fragrance?",
        "what other things do you guys carry other than makeup",
    ],
)
@pytest.mark.parametrize("intent", ["recommend_product", "check_stock"])
async def test_what_else_we_sell_besides_a_kind_lists_the_kinds(store, domain, text, intent) -> None:
    from actions.products import ActionCheckStock, ActionRecommendProducts
    from tests.actions.helpers import run

    action = ActionRecommendProducts() if intent == "recommend_product" else ActionCheckStock()
    tracker = make_tracker(intent=intent, text=text, entities=[entity("category", "perfume")])
    out = await run(action, tracker, domain)
    assert out.responses == ["utter_what_we_sell"], out.messages
    assert "skincare" in out.messages[0]["categories"]


@pytest.mark.parametrize("text", ["the 50 quid card", "I'll take the £50 card", "the 50 pound gift card please"])
async def test_a_card_named_by_its_price_after_the_gift_cards_is_that_card(store, domain, text) -> None:
    """ "the 50 quid card" after the gift cards were listed (topic: ways to pay) is the £50 card, not "yes, we
    accept Card"."""
    from actions.follow_up import ActionFollowUp
    from actions.product_lookup import catalogue
    from tests.actions.helpers import run

    cards = [p for p in catalogue().products if p.category == "Gift Cards"]
    slots = {"topic": "payment_methods", "shown_products": [p.sku for p in cards]}
    tracker = make_tracker(intent="inform", text=text, entities=[entity("amount", "50")], slots=slots)
    out = await run(ActionFollowUp(), tracker, domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "utter_payment_methods_named" not in out.responses and "50.00" in said, out.messages


@pytest.mark.parametrize(
    "text",
    ["what if he never spends it, do I get a refund?", "and if she doesn't use it can I get my money back?"],
)
async def test_money_back_on_a_gift_card_in_focus_filed_as_the_policy_is_final_sale(store, domain, text) -> None:
    from actions.product_lookup import catalogue
    from actions.returns import ActionReturnPolicy
    from tests.actions.helpers import run

    card = next(p for p in catalogue().products if p.category == "Gift Cards")
    slots = {"topic": "products", "product": card.sku, "shown_products": [card.sku]}
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=text, slots=slots), domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "final sale" in said and "30 days of delivery. Items" not in said, out.messages


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("and something to set my makeup with?", "makeup"),
        ("need something to make my make up last all day", "make up"),
        ("what would you suggest for setting my foundation", "makeup"),
    ],
)
async def test_a_product_asked_for_by_its_use_within_a_category_is_of_that_use(store, domain, text, category):
    """ "something to set my makeup with" (NLU: picks in makeup) is setting powder, not any makeup."""
    from actions.products import ActionRecommendProducts
    from tests.actions.helpers import run

    tracker = make_tracker(intent="recommend_product", text=text, entities=[entity("category", category)])
    out = await run(ActionRecommendProducts(), tracker, domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "Setting" in said, out.messages


# --------------------------------------------------------------------------------- conversation manners


@pytest.mark.parametrize("text", ["no ta, gtg", "nah I'm good, gotta run", "no thanks, bye!", "nope, got to go x"])
@pytest.mark.parametrize("offer", ["offer_handoff", None])
async def test_a_no_with_a_goodbye_says_goodbye(store, domain, text, offer) -> None:
    """ "no ta, gtg" after an offer (or an "anything else?") is someone leaving: goodbye, not "anything else?"."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    slots = {"last_question": offer} if offer else {}
    out = await run(ActionFollowUp(), make_tracker(intent="deny", text=text, slots=slots), domain)
    assert out.responses and out.responses[0] in {"utter_goodbye", "utter_goodbye_thanks"}, out.responses


@pytest.mark.parametrize(
    "text",
    [
        "honestly this chat is so much easier than phoning, got everything sorted in no time 🙌",
        "this was way easier than calling you lot, cheers",
        "you're a lifesaver, sorted me out in no time",
    ],
)
@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
async def test_praise_of_the_chat_in_other_words_is_thanked(store, domain, text, intent) -> None:
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    out = await run(ActionFollowUp(), make_tracker(intent=intent, text=text), domain)
    assert out.responses[:1] in (["utter_praise_help"], ["utter_thank"]), out.responses


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("Thank you dear. I don't have the number to hand just now.", "utter_no_number_to_hand"),
        ("I can't find my order number anywhere", "utter_no_number_to_hand"),
        ("don't have my order number on me right now sorry", "utter_no_number_to_hand"),
        ("hm maybe i typed the number wrong, let me dig out the email and come back", "utter_take_your_time"),
        ("hang on I'll find the confirmation email and come back", "utter_take_your_time"),
    ],
)
async def test_going_off_to_find_the_number_filed_as_a_person_opens_no_ticket(store, domain, text, response):
    from actions.handoff import ActionHandoff
    from tests.actions.helpers import run

    out = await run(ActionHandoff(), make_tracker(intent="human_handoff", text=text), domain)
    assert out.responses == [response], out.responses
    assert store.current_handoff(SENDER) is None


async def test_asking_for_a_person_while_lacking_the_number_still_gets_one(store, domain) -> None:
    from actions.handoff import ActionHandoff
    from tests.actions.helpers import run

    text = "I don't have the number to hand, can I just speak to a person"
    out = await run(ActionHandoff(), make_tracker(intent="human_handoff", text=text), domain)
    assert store.current_handoff(SENDER) is not None, out.responses


@pytest.mark.parametrize(
    "text",
    [
        "what would you be messaging me about exactly?",
        "what would you send me then?",
        "so what will you be notifying me about",
    ],
)
async def test_what_the_order_news_are_after_turning_them_on(store, cases, domain, text) -> None:
    """Asked right after "Done: I'll message you ... when there's news": which news, said again (the goal)."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    number = grant(store, cases["in_transit"])
    before = [
        {"event": "user", "text": "x", "parse_data": {"intent": {"name": "inform"}}},
        {"event": "bot", "text": "Done", "metadata": {"utter_action": "utter_notifications_on"}},
    ]
    slots = {"order_number": number, "proof": "verified", "goal": "track"}
    tracker = make_tracker(intent="nlu_fallback", text=text, slots=slots, events=before)
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.followup() == "verify_order_form" and out.slots().get("goal") == "notify_on", out.messages


@pytest.mark.parametrize(
    "text",
    [
        "there is NOTHING here, I've looked everywhere",
        "nothing's come mate",
        "no sign of it at all, searched everywhere",
    ],
)
@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
async def test_nothing_here_after_a_delivered_order_is_the_dispute(store, cases, domain, text, intent) -> None:
    """ "there is NOTHING here" after a delivered order (or its dispute) offers a person, never "rephrase"."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    number = grant(store, cases["returnable"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    out = await run(ActionFollowUp(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert out.responses == ["utter_delivered_not_received"], out.responses


@pytest.mark.parametrize(
    "text",
    ["Thank you, I'll wait by the skincare", "thanks, I'll be by the perfumes", "cheers, waiting near the tills"],
)
async def test_thanks_that_say_where_the_shopper_waits_for_the_colleague(store, domain, text) -> None:
    """On the tablet, after a colleague was called: the colleague sees where to come, not "anything else?"."""
    from actions.handoff import ActionHandoffStatus
    from tests.actions.helpers import run

    slots = {"handoff_ticket": "HO-000999", "topic": "handoff"}
    tablet = {"channel": "tablet", "store_id": "LDN-01"}
    tracker = make_tracker("tablet:s9", intent="thank", text=text, slots=slots, metadata=tablet)
    out = await run(ActionHandoffStatus(), tracker, domain)
    assert out.responses == ["utter_location_noted"], out.responses


# --------------------------------------------------------------------------------- the order in context


@pytest.mark.parametrize(
    "text",
    [
        "she wants to know who's delivering it and roughly when",
        "which courier is it and when will it arrive?",
        "who is delivering and what day",
    ],
)
@pytest.mark.parametrize("intent", ["delivery_time", "track_order"])
async def test_the_carrier_and_when_asked_together_get_both(store, cases, domain, text, intent) -> None:
    from actions.goals import ActionContinueGoal
    from actions.shipping import ActionShippingInfo
    from tests.actions.helpers import run

    number = grant(store, cases["in_transit"])
    slots = {"order_number": number, "topic": "track", "goal": "track", "proof": "verified"}
    action = ActionShippingInfo() if intent == "delivery_time" else ActionContinueGoal()
    out = await run(action, make_tracker(intent=intent, text=text, slots=slots), domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "estimated delivery" in said.lower() and any(c in said for c in ("Royal Mail", "DPD", "Evri", "DHL")), said
    assert "utter_tracking_carrier" not in out.responses, out.responses


@pytest.mark.parametrize("text", ["what's the cheapest option then", "ok and the cheapest?", "which is quickest"])
@pytest.mark.parametrize("intent", ["recommend_product", "check_stock"])
async def test_cheapest_while_delivery_is_talked_about_is_the_delivery(store, domain, text, intent) -> None:
    from actions.products import ActionCheckStock, ActionRecommendProducts
    from tests.actions.helpers import run

    action = ActionRecommendProducts() if intent == "recommend_product" else ActionCheckStock()
    tracker = make_tracker(intent=intent, text=text, slots={"topic": "shipping"})
    out = await run(action, tracker, domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert "£" in said and "Standard" in said or "Express" in said or "delivery" in said.lower(), out.messages
    assert not any(r and r.startswith("utter_recommendations") for r in out.responses), out.responses


@pytest.mark.parametrize(
    "text",
    [
        "what's the latest i could change the address?",
        "until when can I change the delivery address?",
        "how long do I have to change where it's going?",
    ],
)
async def test_until_when_the_address_can_change_is_a_question_not_the_form(store, cases, domain, text) -> None:
    from actions.goals import ActionContinueGoal
    from tests.actions.helpers import run

    number = grant(store, cases["placed"])
    slots = {"order_number": number, "goal": "change_address", "proof": "verified"}
    tracker = make_tracker(intent="change_shipping_address", text=text, slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    said = " ".join(str(v) for m in out.messages for v in m.values())
    assert out.followup() != "address_form" and "until it ships" in said, (out.messages, out.events)


@pytest.mark.parametrize(
    "text",
    [
        "are you kidding, I placed it like 2 days ago",
        "are you having a laugh, I placed it hours ago",
        "I placed it a day ago, how has it shipped already",
    ],
)
@pytest.mark.parametrize("intent", ["track_order", "cancel_order", "nlu_fallback"])
async def test_disbelief_at_a_refused_cancel_gets_an_apology_and_a_person(store, cases, domain, text, intent):
    from actions.goals import ActionContinueGoal
    from tests.actions.helpers import run

    number = grant(store, cases["in_transit"])
    slots = {
        "order_number": number, "goal": "track", "proof": "verified", "topic": "cancel_refused",
        "refusal": "Order has already shipped",
    }  # fmt: skip
    out = await run(ActionContinueGoal(), make_tracker(intent=intent, text=text, slots=slots), domain)
    assert out.responses == ["utter_offer_handoff_refusal"], out.responses


@pytest.mark.parametrize("text", ["what eye creams do you have", "ok what lipsticks do you have then"])
async def test_what_kind_do_you_have_is_still_that_kind(store, domain, text) -> None:
    """ "what lipsticks do you have" names a kind: its products, not the shop's range."""
    from actions.products import ActionRecommendProducts
    from tests.actions.helpers import run

    out = await run(ActionRecommendProducts(), make_tracker(intent="recommend_product", text=text), domain)
    assert "utter_what_we_sell" not in out.responses, out.responses


@pytest.mark.parametrize(
    "text",
    ["sorry! one more q - could i swap it for a different shade instead?", "can I exchange it for a bigger size"],
)
async def test_an_exchange_asked_outside_a_form_is_answered(store, domain, text) -> None:
    """After the return was stopped, a swap is still answered (return and reorder, or a colleague)."""
    from actions.follow_up import ActionFollowUp
    from tests.actions.helpers import run

    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text, slots={"topic": "return"}), domain)
    assert out.responses[:1] == ["utter_exchange"], out.responses
