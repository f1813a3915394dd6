"""Actions that need no verified order: policy, shipping, payment methods, people, fallback.

The product actions are tested in test_products.py.
"""

from __future__ import annotations

from actions.handoff import ActionFallback, ActionHandoff
from actions.payments import ActionPaymentMethods
from actions.returns import ActionReturnPolicy
from actions.shipping import ActionShippingInfo
from tests.actions.helpers import grant, make_tracker, run


def entity(name: str, value: str) -> dict:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


async def test_return_policy_comes_from_the_store(store, domain) -> None:
    out = await run(ActionReturnPolicy(), make_tracker(intent="return_policy"), domain)
    msg = out.message("utter_return_policy")
    assert msg["window_days"] == store.return_policy().window_days
    assert "gift cards" in msg["final_sale"]


async def test_shipping_quote_to_a_country_for_an_order_value(store, domain) -> None:
    tracker = make_tracker(intent="shipping_cost", entities=[entity("country", "Germany"), entity("amount", "£40")])
    out = await run(ActionShippingInfo(), tracker, domain)
    msg = out.message("utter_shipping_quote")
    assert msg["destination"] == "Germany"
    assert "£40.00" in msg["for_value"]
    quote = store.shipping_quote(country="DE", order_value=40)
    assert all(m.name in msg["methods"] for m in quote.methods)


async def test_uk_postcode_alone_is_enough_for_a_quote(store, domain) -> None:
    tracker = make_tracker(intent="shipping_cost", entities=[entity("postcode", "SW1A 1AA")])
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.message("utter_shipping_quote")["destination"] == "United Kingdom"


async def test_no_destination_gives_the_overview(store, domain) -> None:
    out = await run(ActionShippingInfo(), make_tracker(intent="shipping_options"), domain)
    assert out.responses == ["utter_shipping_overview"]


async def test_delivery_time_also_offers_tracking(store, domain) -> None:
    out = await run(ActionShippingInfo(), make_tracker(intent="delivery_time"), domain)
    assert out.responses == ["utter_shipping_overview", "utter_delivery_time_offer_tracking"]


async def test_unknown_destination_is_said(store, domain) -> None:
    tracker = make_tracker(intent="shipping_cost", entities=[entity("country", "Atlantis")])
    out = await run(ActionShippingInfo(), tracker, domain)
    assert out.responses == ["utter_shipping_unknown_destination"]


async def test_payment_methods(store, domain) -> None:
    out = await run(ActionPaymentMethods(), make_tracker(intent="payment_methods"), domain)
    methods = out.message("utter_payment_methods")["methods"]
    assert all(m.name in methods for m in store.payment_methods())


async def test_handoff_opens_a_ticket_with_summary_and_verified_order(store, cases, domain) -> None:
    number = grant(store, cases["delayed"])
    earlier = [{"event": "user", "text": "where is my parcel", "parse_data": {"intent": {"name": "track_order"}}}]
    tracker = make_tracker(
        intent="human_handoff", text="a person please", slots={"order_number": number}, events=earlier
    )
    out = await run(ActionHandoff(), tracker, domain)
    ticket_number = out.message("utter_handoff")["ticket"]
    [ticket] = [t for t in store.handoffs() if t.ticket_number == ticket_number]
    assert ticket.order_number == number
    assert ticket.channel == "web"
    assert "where is my parcel" in ticket.summary


async def test_complaint_is_logged_as_a_complaint(store, domain) -> None:
    out = await run(ActionHandoff(), make_tracker(intent="complaint", text="I want to complain"), domain)
    ticket_number = out.message("utter_complaint")["ticket"]
    [ticket] = [t for t in store.handoffs() if t.ticket_number == ticket_number]
    assert ticket.reason == "complaint"
    assert ticket.order_number is None


async def test_fallback_asks_to_rephrase_then_offers_a_person(store, domain) -> None:
    first = make_tracker(intent="nlu_fallback", text="blorp")
    outcome = await run(ActionFallback(), first, domain)
    assert outcome.responses == ["utter_ask_rephrase"]
    assert outcome.followup() == "action_listen"  # the turn ends: no second prediction of the fallback
    earlier = [
        {"event": "user", "text": "blorp", "parse_data": {"intent": {"name": "nlu_fallback"}}},
        {"event": "bot", "text": "Sorry...", "metadata": {"utter_action": "utter_ask_rephrase"}},
    ]
    second = make_tracker(intent="nlu_fallback", text="zzz", events=earlier)
    assert (await run(ActionFallback(), second, domain)).responses == ["utter_offer_handoff_after_fallback"]
