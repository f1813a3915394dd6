"""The classes of failure the fifth blind batch (tests/conversations/blind_e.yml) showed, one test per class:
a stock answer that never said "in stock", refunds (plural) asked about answered with the return window, a
kept order or a stopped return that did not say nothing changed, a dispute after a refused cancel that was not
understood, another request after a refusal read as the dispute, and the payment link asked for after a failed
payment."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from actions.follow_up import ActionFollowUp
from actions.goals import ActionContinueGoal
from actions.products import ActionCheckStock
from actions.returns import ActionReturnPolicy
from store.service import OrderStore
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value}


# --------------------------------------------------------------------------------- stock in the customer's words


async def test_a_stock_answer_says_in_stock_in_words(store: OrderStore, domain) -> None:
    """ "is it in stock?" was answered "145 available online": a count, never the words the customer used."""
    product = next(p for p in store.catalogue() if p.online_stock > 0)
    out = await run(
        ActionCheckStock(),
        make_tracker(intent="check_stock", text=f"is the {product.title} in stock?",
                     entities=[entity("product", product.title)]),
        domain,
    )  # fmt: skip
    assert out.responses == ["utter_stock"], out.responses
    assert out.message("utter_stock")["online"].startswith("in stock online"), out.message("utter_stock")


# --------------------------------------------------------------------------------- refund time, plural


@pytest.mark.parametrize("text", ["how long do refunds usually take?", "how long does a refund take?"])
async def test_how_long_refunds_take_is_the_refund_time_not_the_window(store, domain, text: str) -> None:
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=text), domain)
    assert out.responses == ["utter_return_policy_part"], out.responses
    assert "Refunds go back" in out.message("utter_return_policy_part")["part"]


# --------------------------------------------------------------------------------- nothing changed, said


def _domain_text(name: str) -> str:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return str(domain["responses"][name][0]["text"])


def _rule_after_deny(loop: str) -> str:
    rules = yaml.safe_load((ROOT / "nlu_data" / "rules" / "orders.yml").read_text(encoding="utf-8"))["rules"]
    for rule in rules:
        if rule.get("condition") == [{"active_loop": loop}] and rule["steps"][0] == {"intent": "deny"}:
            return str(rule["steps"][-1]["action"])
    raise AssertionError(f"no rule for a no inside {loop}")


@pytest.mark.parametrize(
    ("loop", "response"),
    [("return_form", "utter_return_stopped"), ("address_form", "utter_address_kept"), (None, "utter_cancel_kept")],
)
def test_saying_no_inside_a_change_says_nothing_was_changed(loop: str | None, response: str) -> None:
    """ "actually I'll keep it": "Okay. Anything else?" left the customer unsure whether something was done."""
    if loop is not None:
        assert _rule_after_deny(loop) == response
    text = _domain_text(response)
    assert "nothing has changed" in text or "haven't changed anything" in text, text


# --------------------------------------------------------------------------------- after a refused cancel


@pytest.mark.parametrize("text", ["seriously? I only ordered it a couple of days ago", "I just ordered it!!"])
async def test_disbelief_after_a_refused_cancel_is_a_dispute(store, cases, domain, text: str) -> None:
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "cancel_refused", "refusal": f"Order {number} has already shipped."}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_offer_handoff_refusal"], out.responses


async def test_the_tracking_number_please_after_a_refused_cancel_is_tracking(store, cases, domain) -> None:
    """Its "please" read as pleading with the refusal: "I can't change that myself"."""
    number = grant(store, cases["shipped"])
    slots = {
        "order_number": number, "topic": "cancel_refused", "goal": "track",
        "refusal": f"Order {number} has already shipped.",
    }  # fmt: skip
    out = await run(
        ActionContinueGoal(),
        make_tracker(intent="track_order", text="sorry one more, the tracking number please?", slots=slots),
        domain,
    )
    assert "utter_offer_handoff_refusal" not in out.responses, out.responses
    said = " ".join(str(m.get("text") or m) for m in out.messages)
    assert cases["shipped"]["tracking_number"] in said, out.messages


# --------------------------------------------------------------------------------- a failed payment


@pytest.mark.parametrize("text", ["where's the link?", "which link do I use", "where do I pay?"])
async def test_where_the_payment_link_is_after_a_failed_payment(store, cases, domain, text: str) -> None:
    number = grant(store, cases["payment_failed"])
    out = await run(
        ActionFollowUp(),
        make_tracker(intent="nlu_fallback", text=text, slots={"order_number": number, "topic": "payment"}),
        domain,
    )
    assert out.responses == ["utter_payment_retry"], out.responses


# --------------------------------------------------------------------------------- products pointed back at


@pytest.mark.parametrize("topic", ["products", "return_policy", None])
async def test_the_brand_one_after_a_product_whatever_was_asked_since(store, domain, topic: str | None) -> None:
    """ "and the Oakhaven one?" after the eye cream and a return question: Oakhaven's eye cream."""
    from actions.product_lookup import catalogue

    eye = catalogue().by_title("Kinfolk Skin Caffeine Eye Cream")
    assert eye is not None
    slots = {"focus_product": eye.sku, "shown_products": [eye.sku], "topic": topic}
    out = await run(ActionFollowUp(), make_tracker(intent="inform", text="and the Oakhaven one?", slots=slots), domain)
    assert out.responses == ["utter_stock"], out.responses
    assert out.message("utter_stock")["title"].startswith("Oakhaven"), out.message("utter_stock")


@pytest.mark.parametrize("text", ["great, I'll get that one", "perfect, I'll take it", "ok gonna buy that one"])
async def test_settling_on_the_product_in_focus_says_how_to_order_it(store, domain, text: str) -> None:
    from actions.product_lookup import catalogue

    mist = catalogue().by_title("Ébène Vanilla Orchid Body Mist")
    assert mist is not None
    slots = {"focus_product": mist.sku, "shown_products": [mist.sku], "topic": "return_policy"}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_product_chosen"], out.responses
    assert out.message("utter_product_chosen")["title"] == mist.title


async def test_nothing_in_focus_settling_is_not_guessed(store, domain) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text="great, I'll get that one"), domain)
    assert "utter_product_chosen" not in out.responses


@pytest.mark.parametrize("text", ["hi, I can't find the foundations anywhere", "where do you keep the mascaras?"])
async def test_a_shopper_who_cannot_find_a_kind_is_shown_it(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert out.responses and out.responses[0] in {"utter_stock", "utter_stock_several"}, out.responses


# --------------------------------------------------------------------------------- a long message about one order


async def test_when_an_order_arrives_with_its_number_is_that_orders_tracking(store, cases, domain) -> None:
    """A pasted paragraph with the order number and e-mail, read as delivery_time: verify and track it."""
    from rasa_sdk.events import FollowupAction, SlotSet

    from actions.shipping import ActionShippingInfo

    case = cases["delayed"]
    text = f"I ordered a present last week (order {case['order_number']}, email {case['email']}), will it make it?"
    tracker = make_tracker(
        intent="delivery_time", text=text,
        entities=[entity("order_number", case["order_number"]), entity("email", case["email"])],
    )  # fmt: skip
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == [], out.responses
    assert SlotSet("goal", "track") in out.events and FollowupAction("verify_order_form") in out.events, out.events
    to_germany = make_tracker(
        intent="delivery_time", text="how long to Germany for order ORD-100147?",
        entities=[entity("order_number", "ORD-100147"), entity("country", "Germany")],
    )  # fmt: skip
    assert (await run(ActionShippingInfo(), to_germany, domain)).responses, "a destination is still a quote"


# --------------------------------------------------------------------------------- NLU unsure, the context is not


@pytest.mark.parametrize("text", ["fine whatever", "ugh, forget it", "oh well"])
async def test_giving_up_on_the_point_is_not_misunderstood(store, domain, text: str) -> None:
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text), domain)
    assert out.responses == ["utter_anything_else"], out.responses


async def test_what_order_news_brings_right_after_turning_it_on(store, domain) -> None:
    from rasa_sdk.events import FollowupAction, SlotSet

    earlier = [
        {
            "event": "user",
            "text": "notify me",
            "parse_data": {"intent": {"name": "notifications_opt_in"}, "entities": []},
        },
        {"event": "bot", "text": "Done", "metadata": {"utter_action": "utter_notifications_on"}},
    ]
    tracker = make_tracker(intent="nlu_fallback", text="what kind of updates will I get?", events=earlier)
    out = await run(ActionFollowUp(), tracker, domain)
    assert SlotSet("goal", "notify_on") in out.events and FollowupAction("verify_order_form") in out.events, out.events


# --------------------------------------------------------------------------------- refunds


@pytest.mark.parametrize("text", ["and it goes back to the card I paid with?", "will it go back on my card?"])
async def test_whether_the_refund_goes_back_to_the_card_paid_with(store, cases, domain, text: str) -> None:
    """Read as a way to pay: "Yes, we accept Card"; it is where the refund goes."""
    number = grant(store, cases["returned_refund_processing"])
    slots = {"order_number": number, "topic": "refund"}
    out = await run(ActionFollowUp(), make_tracker(intent="nlu_fallback", text=text, slots=slots), domain)
    assert out.responses == ["utter_refund_same_method"], out.responses


async def test_a_cancel_summary_of_an_unpaid_order_says_there_is_nothing_to_refund(store, cases, domain) -> None:
    """ "can I cancel it and how do refunds work?": the summary answers the refund half too."""
    from actions.orders import ActionAskConfirmCancel

    number = grant(store, cases["placed"])
    out = await run(ActionAskConfirmCancel(), make_tracker(slots={"order_number": number}), domain)
    assert "refund" in out.message("utter_ask_confirm_cancel")["money_note"], out.messages


# --------------------------------------------------------------------------------- adding to a placed order


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        ("can I add something to my order {number}?", "add_items"),
        ("I forgot to add a lip liner to {number}", "add_items"),
        ("change the address of {number} to 5 Mill Lane, Bath BA1 1AA", "change_address"),
    ],
)
async def test_adding_to_an_order_is_not_an_address_change(store, cases, domain, text: str, goal: str) -> None:
    """NLU guessed an address change for "can I add something to my order": it asked for a new address."""
    number = grant(store, cases["placed"])
    slots = {"order_number": number, "goal": "change_address"}
    tracker = make_tracker(intent="change_shipping_address", text=text.format(number=number), slots=slots)
    out = await run(ActionContinueGoal(), tracker, domain)
    if goal == "add_items":
        assert out.responses == ["utter_cannot_add_items"], out.responses
        assert store.order_summary(SENDER, number).status == "placed"
    else:
        assert "utter_cannot_add_items" not in out.responses


def test_the_goal_slot_admits_every_handler() -> None:
    from actions.goals import HANDLERS

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(HANDLERS) <= set(domain["slots"]["goal"]["values"])


# --------------------------------------------------------------------------------- keeping it, venting


@pytest.mark.parametrize("text", ["stop, finalement je le garde", "nein danke, ich behalte es", "no, me lo quedo"])
def test_keeping_the_item_in_another_language_stops_the_return(text: str) -> None:
    from actions.context import Said
    from actions.returns import stops_return

    assert stops_return(Said(text=text, intent="nlu_fallback", confidence=0.4))


def test_a_reason_is_not_taken_for_keeping_it() -> None:
    from actions.context import Said
    from actions.returns import stops_return

    assert not stops_return(Said(text="the colour is wrong", intent="inform", confidence=0.9))


@pytest.mark.parametrize("intent", ["goodbye", "nlu_fallback"])
async def test_venting_about_a_slow_refund_is_an_apology_not_goodbye(store, cases, domain, intent: str) -> None:
    """ "that's too slow honestly" after the refund date was read as a goodbye."""
    from rasa_sdk.executor import CollectingDispatcher

    from actions.context import said as read
    from actions.follow_up import misread_goodbye

    number = grant(store, cases["returned_refund_processing"])
    tracker = make_tracker(
        intent=intent, text="that's too slow honestly", slots={"order_number": number, "topic": "refund"}
    )
    said = CollectingDispatcher()
    assert misread_goodbye(said, tracker, read(tracker)) is not None
    assert [m["response"] for m in said.messages] == ["utter_complaint_offer"], said.messages


async def test_can_i_return_it_and_how_long_do_refunds_take_answers_both(store, domain) -> None:
    text = "can I return it and how long do refunds take?"
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy", text=text), domain)
    part = out.message("utter_return_policy_part")["part"]
    assert "Refunds go back" in part and "30 days" in part, part


# --------------------------------------------------------------------------------- after a hand-off


@pytest.mark.parametrize(
    ("text", "status"), [("how will they get back to me", True), ("when will they refund me", False)]
)
async def test_how_the_colleague_answers_guessed_as_an_order_request(store, cases, domain, text, status) -> None:
    number = grant(store, cases["delayed"])
    ticket = store.open_handoff(SENDER, channel="web", reason="complaint", summary="", order_number=number)
    slots = {"order_number": number, "goal": "return", "topic": "handoff", "handoff_ticket": ticket.ticket_number}
    out = await run(ActionContinueGoal(), make_tracker(intent="return_item", text=text, slots=slots), domain)
    assert ("utter_handoff_status" in out.responses) is status, out.responses


# --------------------------------------------------------------------------------- a return asked for


@pytest.mark.parametrize("text", ["need to send something back", "I want to send this back", "send stuff back pls"])
async def test_sending_something_back_starts_the_return(store, cases, domain, text: str) -> None:
    """ "need to send something back" was offered a return ("Would you like me to start one?") like a question."""
    number = grant(store, cases["returnable"])
    events = [{"event": "user", "text": text, "parse_data": {"intent": {"name": "return_item"}, "entities": []}}]
    proof = f"{number} {cases['returnable']['email']}"
    slots = {"order_number": number, "goal": "return"}
    tracker = make_tracker(intent="inform", text=proof, slots=slots, events=events)
    out = await run(ActionContinueGoal(), tracker, domain)
    assert "utter_offer_return" not in out.responses, out.responses
    assert any(getattr(e, "get", lambda _k: None)("name") == "return_form" for e in out.events) or any(
        e.get("event") == "followup" and e.get("name") == "return_form" for e in out.events
    ), out.events


async def test_a_dispute_guessed_as_another_request_is_still_a_dispute(store, cases, domain) -> None:
    number = grant(store, cases["shipped"])
    slots = {"order_number": number, "topic": "cancel_refused", "refusal": f"Order {number} has already shipped."}
    text = "but I only just ordered it, surely you can stop it"
    out = await run(ActionFollowUp(), make_tracker(intent="track_order", text=text, slots=slots), domain)
    assert out.responses == ["utter_offer_handoff_refusal"], out.responses


# --------------------------------------------------------------------------------- the product the picks were for


async def test_the_price_of_the_product_itself_after_picks_like_it(store, domain) -> None:
    """ "and the price of the lipstick itself?" after "what would go with the Maison Coco Satin Lipstick?" listed
    every lipstick (and NLU read it as a shipping cost)."""
    from actions.product_lookup import catalogue
    from actions.shipping import ActionShippingInfo

    cat = catalogue()
    base = cat.by_title("Maison Coco Satin Lipstick")
    picks = [p for p in cat.products if "Satin Lipstick" in p.title and p.sku != base.sku][:3]
    earlier = [
        {"event": "user", "text": "what would go with the Maison Coco Satin Lipstick?",
         "parse_data": {"intent": {"name": "recommend_product"}, "entities": [entity("product", base.title)]}},
        {"event": "bot", "text": "If you like ...", "metadata": {}},
    ]  # fmt: skip
    slots = {"topic": "products", "shown_products": [p.sku for p in picks], "focus_product": None}
    tracker = make_tracker(
        intent="shipping_cost", text="and the price of the lipstick itself?", slots=slots, events=earlier
    )
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_product_price"], out.responses
    assert out.message("utter_product_price")["title"] == base.title
