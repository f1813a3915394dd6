"""The classes of failure the sixth blind batch (tests/conversations/blind_f.yml) showed in conv6b's share of it,
one test per class: a speed comparison answered with one speed, a country correction that kept the rejected
country, an angry payment problem without the offer of a person, a refund question with a colleague on the
ticket, which of the products shown is cheapest, how a gift card comes, why a colleague has to change account
details, where order news arrive, a data request in other words, what data is kept, "is it here?" with the
cheapest on a tablet, a greeting or goodbye at a tablet whose call was merged, "where is my order" in Spanish,
and "is someone still coming?" while a ticket is open."""

from __future__ import annotations

from typing import Any

import pytest

from actions.common import accounts
from actions.context import FOCUS_PRODUCT, SHOWN_PRODUCTS
from actions.follow_up import ActionAskOrderNumber, ActionFollowUp
from actions.handoff import ActionHandoffStatus
from actions.payments import ActionPaymentAdvice
from actions.product_lookup import catalogue
from actions.shipping import ActionShippingInfo, speed_mode
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run
from tests.actions.test_account import verify

SENDER = "web:test-conversation"
TABLET = {"channel": "tablet", "store_id": "LDN-01"}


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


def said_text(out: Any) -> str:
    return " ".join(str(m.get("text") or "") for m in out.messages)


# --------------------------------------------------------------------------------- shipping


@pytest.mark.parametrize("text", ["which one is cheaper, standard or express?", "is express much faster than standard"])
async def test_comparing_two_speeds_quotes_both(store, domain, text: str) -> None:
    """ "which one is cheaper, standard or express?" got the express line only ("express" won)."""
    assert speed_mode(text) == "all"
    slots = {"topic": "shipping", "shipping_quote": {"country": "CA", "postcode": None, "value": "40.00"}}
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_options", text=text, slots=slots), domain)
    assert out.responses == ["utter_shipping_quote"], out.responses
    methods = out.message("utter_shipping_quote")["methods"]
    assert "Standard" in methods and "Express" in methods, methods


@pytest.mark.parametrize(
    ("text", "countries"),
    [
        ("sorry I meant Canada not the US", ["US", "Canada"]),
        ("not the US but Canada", ["US", "Canada"]),
        ("Canada instead of the USA", ["Canada", "USA"]),
    ],
)
async def test_a_country_correction_quotes_the_country_meant(store, domain, text: str, countries: list[str]) -> None:
    slots = {"topic": "shipping", "shipping_quote": {"country": "US", "postcode": None, "value": "100.00"}}
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="inform", text=text, slots=slots, entities=[entity("country", c) for c in countries]),
        domain,
    )
    assert out.responses == ["utter_shipping_quote"], out.responses
    assert out.message("utter_shipping_quote")["destination"] == "Canada", out.message("utter_shipping_quote")


# --------------------------------------------------------------------------------- payments and people


@pytest.mark.parametrize("text", ["you've charged me TWICE!!! unbelievable", "charged twice, this is a joke"])
async def test_an_upset_payment_problem_offers_a_person(store, domain, text: str) -> None:
    out = await run(ActionPaymentAdvice(), make_tracker(intent="payment_problem", text=text), domain)
    assert out.responses == ["utter_payment_problem_general", "utter_payment_upset_offer"], out.responses


async def test_a_calm_payment_problem_gets_the_advice_only(store, domain) -> None:
    out = await run(ActionPaymentAdvice(), make_tracker(intent="payment_problem", text="my card was declined"), domain)
    assert out.responses == ["utter_payment_problem_general"], out.responses


async def test_a_refund_for_the_broken_one_with_a_colleague_on_the_ticket(store: OrderStore, domain) -> None:
    """ "will I get my money back for the broken one?" after a complaint ticket asked for an order number."""
    ticket = store.open_handoff(SENDER, channel="web", reason="complaint", summary="")
    slots = {"handoff_ticket": ticket.ticket_number, "topic": "handoff", "goal": "refund_status"}
    out = await run(
        ActionAskOrderNumber(),
        make_tracker(intent="request_refund", text="will I get my money back for the broken one?", slots=slots),
        domain,
    )
    assert out.responses == ["utter_ticket_decides"], out.responses


@pytest.mark.parametrize("text", ["is someone still coming?", "is anybody actually there", "nobody is coming"])
async def test_asking_whether_the_person_is_coming_after_another_topic(store, cases, domain, text: str) -> None:
    """Tracking asked while waiting, then "is someone still coming?" got the parcel's delivery date."""
    number = grant(store, cases["in_transit"])
    ticket = store.open_handoff(SENDER, channel="web", reason="human_handoff", summary="")
    slots = {"handoff_ticket": ticket.ticket_number, "topic": "track", "order_number": number}
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text, slots=slots), domain)
    assert out.responses == ["utter_handoff_status"], out.responses


async def test_a_tablet_greeting_after_a_merged_call_says_staff_are_coming(store, domain) -> None:
    """The gateway merged this shopper's call into the tablet's open one: "hello?" got the greeting."""
    slots = {"handoff_ticket": "HO-000999", "topic": "handoff"}
    hello = make_tracker("tablet:s9", intent="greet", text="hello?", slots=slots, metadata=dict(TABLET))
    out = await run(ActionHandoffStatus(), hello, domain)
    assert out.responses == ["utter_staff_call_pending"], out.responses
    wait = make_tracker(
        "tablet:s9", intent="goodbye", text="ok I'll wait by the tills", slots=slots, metadata=dict(TABLET)
    )
    out = await run(ActionHandoffStatus(), wait, domain)
    assert out.responses == ["utter_location_noted"], out.responses
    assert "handoff_ticket" not in out.slots(), out.slots()  # the call stands: "still nobody" is read as waiting
    thanks = make_tracker("tablet:s9", intent="thank", text="nvm found it, thanks", slots=slots, metadata=dict(TABLET))
    out = await run(ActionHandoffStatus(), thanks, domain)
    assert out.responses == ["utter_thank"], out.responses


# --------------------------------------------------------------------------------- products


def _picks() -> list[Any]:
    cat = catalogue()
    titles = [
        "Maison Coco Highlighter Stick",
        "Fenwick Grooming Heat Protect Spray",
        "Maison Coco Matte Liquid Lipstick",
    ]
    found = [cat.by_title(t) for t in titles]
    assert all(p is not None for p in found)
    return found


@pytest.mark.parametrize("text", ["which one is cheaper?", "which of them is cheapest", "the cheapest one?"])
async def test_which_is_cheaper_compares_the_products_shown(store, domain, text: str) -> None:
    """ "which one is cheaper?" after three picks searched for new picks under the cheapest one's price."""
    picks = _picks()
    slots = {"topic": "products", SHOWN_PRODUCTS: [p.sku for p in picks], FOCUS_PRODUCT: None}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_cheapest_shown"], out.responses
    cheapest = min(picks, key=lambda p: p.price)
    assert out.message("utter_cheapest_shown")["title"] == cheapest.title
    assert out.slots().get(FOCUS_PRODUCT) == cheapest.sku
    assert SHOWN_PRODUCTS not in out.slots()  # "is the first one in stock" still means the first of the list


async def test_the_cheapest_one_is_it_here_on_a_tablet_says_the_shelf(store, domain) -> None:
    cat = catalogue()
    spf = [p for p in cat.products if "SPF 50" in p.title][:3]
    assert len(spf) > 1
    slots = {"topic": "products", SHOWN_PRODUCTS: [p.sku for p in spf]}
    tracker = make_tracker(
        "tablet:s9", intent="out_of_scope", text="the cheapest one, is it here?", slots=slots,
        metadata=dict(TABLET),
    )  # fmt: skip
    out = await run(ActionFollowUp(), tracker, domain)
    assert out.responses[0] == "utter_cheapest_shown", out.responses
    assert out.responses[1] in {"utter_stock_here", "utter_stock_not_here"}, out.responses


async def test_how_a_gift_card_shown_is_sent(store, domain) -> None:
    """ "the £50 one - can it be sent by email?" after the gift cards got a UK delivery quote for £50."""
    cards = [p for p in catalogue().products if p.category.lower().startswith("gift")]
    slots = {"topic": "payment_methods", SHOWN_PRODUCTS: [p.sku for p in cards]}
    tracker = make_tracker(
        intent="shipping_options", text="the £50 one - can it be sent by email?", slots=slots,
        entities=[entity("amount", "£50")],
    )  # fmt: skip
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_how_it_comes"], out.responses
    lines = out.message("utter_how_it_comes")["lines"]
    assert "E-Gift Card £50" in lines and "Emailed" in lines, lines
    assert "£25" not in lines, lines


# --------------------------------------------------------------------------------- account and privacy


@pytest.mark.parametrize("text", ["why can't you just do it", "how come you can't?"])
async def test_why_a_colleague_changes_account_details(store, domain, text: str) -> None:
    events = [{"event": "bot", "text": "...", "metadata": {"utter_action": "utter_account_out_of_scope"}}]
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, events=events), domain)
    assert out.responses == ["utter_why_colleague"], out.responses
    assert out.slots().get("last_question") == "offer_handoff"


async def test_where_order_news_arrive_right_after_turning_them_on(store: OrderStore, cases, domain) -> None:
    """ "will that come here or by email?" after "notify me about my orders" got the order's dispatch date."""
    case = cases["placed"]
    verify(case, SENDER)  # the form's validator: verifies and links this chat to the customer
    accounts().set_notifications(store.verified_customer(SENDER) or 0, True)
    slots = {"order_number": case["order_number"], "proof": "verified", "topic": "track"}
    events = [{"event": "bot", "text": "Done", "metadata": {"utter_action": "utter_notifications_on"}}]
    ask = make_tracker(intent="delivery_time", text="will that come here or by email?", slots=slots, events=events)
    out = await run(ActionShippingInfo(), ask, domain)
    assert out.responses == ["utter_notifications_where"], out.responses
    assert out.message("utter_notifications_where")["channels"] == "the web chat"


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("please delete all the data you have on me", "utter_data_request"),
        ("can you erase the information you hold about me", "utter_data_request"),
        ("how long do you keep my chats for anyway?", "utter_data_kept"),
        ("what data do you hold on me?", "utter_data_kept"),
    ],
)
async def test_data_requests_and_questions_in_other_words(store, domain, text: str, response: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="out_of_scope", text=text), domain)
    assert out.responses == [response], out.responses
    assert out.slots().get("last_question") == "offer_handoff"


# --------------------------------------------------------------------------------- other languages


@pytest.mark.parametrize("text", ["hola, dónde está mi pedido?", "wo ist meine Bestellung?", "où est ma commande ?"])
async def test_where_is_my_order_in_other_languages_asks_which_order(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert out.followup() == "verify_order_form", (out.responses, out.events)
    assert out.slots().get("goal") == "track"
