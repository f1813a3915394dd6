"""The classes of failure the tenth blind batch (tests/conversations/blind_j.yml) showed in conv11a's share of
it, one test per class: a sentence or a pointer back ("which of the ones you do have", "I'll just buy it") read
as the name of a product we do not sell, follow-ups on the product in focus or the last list, and chit-chat
(praise, what the assistant can do after declining a person)."""

from __future__ import annotations

import pytest

from actions.context import FOCUS_PRODUCT, SHOWN_PRODUCTS
from actions.follow_up import ActionFollowUp
from actions.handoff import ActionHandoff
from actions.identity import STOPPED, ValidateVerifyOrderForm
from actions.product_lookup import catalogue
from actions.products import ActionCheckStock
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import make_tracker, run

TABLET = {"channel": "tablet", "store_id": "LDN-01"}


def _sku(title: str) -> str:
    product = catalogue().by_title(title)
    assert product is not None, title
    return product.sku


def _shown_after_unsold() -> dict[str, object]:
    """The slots after "do you sell the Dyson Airwrap?": no focus, the closest products shown."""
    near = [p.sku for p in catalogue().products if "brush" in p.title.lower()][:3]
    assert len(near) == 3
    return {FOCUS_PRODUCT: None, SHOWN_PRODUCTS: near, "topic": "products"}


# --------------------------------------------------------------------------------- a sentence is no product


_SENTENCES = [
    "ok which of the ones you do have is the best value",
    "so which of your ones is the best value",
    "ok which of them would you go for",
    "right, what's the best one you've got then",
    "hmm which one of those would you recommend for me",
    "fine I'll just get one of the ones you do have",
    "ok I'll just buy it online, is it in stock there?",
    "is that one any good",
    "do you have the ones you showed me in stock",
]


@pytest.mark.parametrize("intent", ["nlu_fallback", "check_stock", "recommend_product"])
@pytest.mark.parametrize("text", _SENTENCES)
async def test_a_sentence_or_a_pointer_is_no_product_we_do_not_sell(store, domain, intent: str, text: str) -> None:
    """ "Sorry, we don't sell ok which of the ones you do have is the best value": the whole sentence echoed."""
    for action in (ActionFollowUp(), ActionCheckStock()):
        tracker = make_tracker(intent=intent, text=text, slots=_shown_after_unsold())
        out = await run(action, tracker, domain)
        unsold = [r for r in out.responses if str(r).startswith("utter_product_not_sold")]
        assert not unsold, (action.name(), out.responses, [m.get("query") for m in out.messages])


async def test_the_best_value_of_the_ones_shown_is_the_cheapest(store, domain) -> None:
    slots = _shown_after_unsold()
    text = "ok which of the ones you do have is the best value"
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_cheapest_shown"], out.responses
    cheapest = min((catalogue().by_sku(s) for s in slots[SHOWN_PRODUCTS]), key=lambda p: (p.price, p.title))
    assert out.message("utter_cheapest_shown")["title"] == cheapest.title


async def test_buying_the_product_in_focus_online_on_a_tablet(store, domain) -> None:
    """ "ok I'll just buy it online, is it in stock there?" after a parfum's shelf: its online stock."""
    sku = _sku("Juniper & Ash Oud Noir Parfum")
    slots = {FOCUS_PRODUCT: sku, SHOWN_PRODUCTS: [sku], "topic": "products"}
    tracker = make_tracker(
        "tablet:k1", intent="check_stock", text="ok I'll just buy it online, is it in stock there?", slots=slots,
        metadata=dict(TABLET),
    )  # fmt: skip
    out = await run(ActionCheckStock(), tracker, domain)
    assert out.responses and not str(out.responses[0]).startswith("utter_product_not_sold"), out.responses
    assert out.slots().get(FOCUS_PRODUCT, sku) == sku, out.events  # the parfum stays in focus for "how much is it?"
    assert "online" in str(out.messages[0]).lower(), out.messages


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("do you sell the Dyson Airwrap?", "Dyson Airwrap"),
        ("do you have hair dye", "hair dye"),
        ("do u sell candles", "candles"),
    ],
)
async def test_a_product_we_do_not_sell_is_still_said_to_be_unsold(store, domain, text: str, query: str) -> None:
    out = await run(ActionCheckStock(), make_tracker(intent="check_stock", text=text), domain)
    unsold = [m for m in out.messages if str(m.get("response", "")).startswith("utter_product_not_sold")]
    assert unsold and unsold[0]["query"] == query, out.responses


# --------------------------------------------------------------------------------- follow-ups on the focus or list


_POWDERS = ["MKP-0032", "MKP-0033", "MKP-0034"]


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        ("nlu_fallback", "is the Maison Coco one any good? it's way cheaper"),
        ("recommend_product", "what's the Maison Coco one like, it's a lot cheaper"),
        ("check_stock", "the maison coco one is cheaper, is it any good?"),
    ],
)
async def test_a_brand_picks_one_of_the_list(store, domain, intent: str, text: str) -> None:
    """ "is the Maison Coco one any good? it's way cheaper" after three powders: the Maison Coco powder, not
    picks cheaper than the cheapest of them ("I couldn't find anything ... under £8.98")."""
    slots = {FOCUS_PRODUCT: "MKP-0032", SHOWN_PRODUCTS: _POWDERS, "topic": "products"}
    tracker = make_tracker(
        intent=intent, text=text, slots=slots, entities=[{"entity": "product", "value": "Maison Coco"}]
    )
    out = await run(ActionFollowUp(), tracker, domain)
    assert "Maison Coco Translucent Setting Powder" in str(out.messages), out.messages
    assert out.slots().get(FOCUS_PRODUCT) == "MKP-0033", out.events


async def test_the_price_of_the_product_in_focus_filed_as_a_delivery_cost(store, domain) -> None:
    """ "and how much is it?" on a tablet after the parfum's online stock, filed as shipping_cost."""
    slots = {FOCUS_PRODUCT: "FRG-0020", SHOWN_PRODUCTS: ["FRG-0020"], "topic": "products"}
    tracker = make_tracker(
        "tablet:k1", intent="shipping_cost", text="and how much is it?", slots=slots, metadata=dict(TABLET)
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert "117.49" in str(out.messages), out.messages


@pytest.mark.parametrize(
    "text",
    [
        "if I order it now with express, will it get there in time? it's going to Manchester",
        "would it arrive in Edinburgh by Friday with next day?",
        "can you get it to Bristol by saturday",
    ],
)
async def test_a_city_in_a_delivery_question_is_where_it_goes(store, domain, text: str) -> None:
    """ "...will it get there in time? it's going to Manchester" after a parfum: delivery times, not the stock
    of the Manchester shop ("Yes, our King Street shop has 12")."""
    city = next(c for c in ("Manchester", "Edinburgh", "Bristol") if c in text)
    slots = {FOCUS_PRODUCT: "FRG-0003", SHOWN_PRODUCTS: ["FRG-0003"], "topic": "products"}
    tracker = make_tracker(intent="delivery_time", text=text, slots=slots, entities=[{"entity": "city", "value": city}])
    out = await run(ActionShippingInfo(), tracker, domain)
    assert not any("stock" in str(r) or "shop" in str(r) for r in out.responses), out.responses
    assert "day" in str(out.messages).lower(), out.messages


_VOUCHERS = {SHOWN_PRODUCTS: ["GFT-0003", "GFT-0006"], "topic": "products"}


@pytest.mark.parametrize(
    ("intent", "text", "slots"),
    [
        ("request_refund", "And if she never uses it, can I get my money back?", _VOUCHERS),
        ("refund_status", "what if he doesn't like it, do I get a refund?", {**_VOUCHERS, FOCUS_PRODUCT: "GFT-0003"}),
        ("return_item", "could I return it if it's the wrong one?", {**_VOUCHERS, FOCUS_PRODUCT: "GFT-0006"}),
    ],
)
async def test_money_back_for_a_product_not_bought_yet(store, domain, intent: str, text: str, slots: dict) -> None:
    """ "And if she never uses it, can I get my money back?" after the £50 gift cards, filed as a refund: they
    are final sale; no order is asked for."""
    tracker = make_tracker(intent=intent, text=text, slots=slots, active_loop="verify_order_form")
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert out.responses == ["utter_return_policy_part"], out.responses
    assert "final sale" in out.message("utter_return_policy_part")["part"]
    assert out.slots() == {STOPPED: True, "requested_slot": None}


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("I bought it last week, can I get my money back?", _VOUCHERS),
        ("can I get my money back?", {"topic": "orders"}),
        ("can I get my money back for ORD-100174?", _VOUCHERS),
    ],
)
async def test_money_back_for_an_order_is_still_checked(store, domain, text: str, slots: dict) -> None:
    entities = [{"entity": "order_number", "value": "ORD-100174"}] if "ORD-" in text else []
    tracker = make_tracker(
        intent="request_refund", text=text, slots=slots, entities=entities, active_loop="verify_order_form"
    )
    out = await run(ValidateVerifyOrderForm(), tracker, domain)
    assert "utter_return_policy_part" not in out.responses, out.responses
    assert STOPPED not in out.slots()


# --------------------------------------------------------------------------------- chit-chat


@pytest.mark.parametrize(
    ("intent", "text"),
    [
        (
            "nlu_fallback",
            "just wanted to say your chat thing is really helpful, sorted my return in like 2 mins yesterday",
        ),
        ("out_of_scope", "honestly this bot is so quick, saved me a phone call"),
        ("nlu_fallback", "the chat was super easy to use, well impressed"),
    ],
)
async def test_praise_is_thanked(store, domain, intent: str, text: str) -> None:
    """Praise for the chat NLU did not read: thanked, not "Sorry, I didn't quite understand"."""
    out = await run(ActionFollowUp(), make_tracker(intent=intent, text=text), domain)
    assert out.responses == ["utter_praise_help"], out.responses
    assert out.followup() == "action_listen"


async def test_a_complaint_is_no_praise(store, domain) -> None:
    text = "your chat thing was helpful but the parcel is still missing"
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert "utter_praise_help" not in out.responses, out.responses


@pytest.mark.parametrize(
    "text",
    [
        "no no I don't need a person, what can you actually help me with?",
        "nah I don't want a human, what can you even do",
        "no need for a person, what else can you help with then?",
    ],
)
async def test_what_the_assistant_can_do_after_declining_a_person(store, domain, text: str) -> None:
    """Filed as asking for a person (human_handoff 0.98): what the assistant can do, not "No problem"."""
    tracker = make_tracker(intent="human_handoff", text=text, slots={"last_question": "offer_handoff"})
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_what_i_do"], out.responses
    assert store.current_handoff("web:test-conversation") is None
