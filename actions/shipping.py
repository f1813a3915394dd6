"""Shipping questions: methods, prices and delivery times to a country or postcode for an order value."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import get_store, latest_entity, money
from store.errors import UnknownDestination
from store.normalize import parse_amount
from store.records import ShippingMethodInfo


def _method_line(method: ShippingMethodInfo) -> str:
    price = "free" if method.price == 0 else money(method.price)
    days = f"{method.min_days}-{method.max_days}" if method.min_days != method.max_days else f"{method.min_days}"
    free = f" (free over {money(method.free_over)})" if method.free_over is not None and method.price != 0 else ""
    return f"- {method.name}: {price}{free}, {days} working days"


class ActionShippingInfo(Action):
    """Answers shipping_options, shipping_cost and delivery_time from the store's zones."""

    def name(self) -> str:
        """Action name."""
        return "action_shipping_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """A quote for the named destination, or an overview of every zone."""
        store = get_store()
        country = latest_entity(tracker, "country")
        postcode = next(tracker.get_latest_entity_values("postcode"), None) or tracker.get_slot("ship_postcode")
        amount_text = latest_entity(tracker, "amount")
        value = parse_amount(amount_text) if amount_text else None
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if country or postcode:
            try:
                quote = store.shipping_quote(country=country, postcode=postcode, order_value=value)
            except UnknownDestination:
                dispatcher.utter_message(response="utter_shipping_unknown_destination", destination=country or postcode)
                return []
            dispatcher.utter_message(
                response="utter_shipping_quote",
                destination=quote.country_name,
                for_value=f" for an order of {money(value)}" if value is not None else "",
                methods="\n".join(_method_line(m) for m in quote.methods),
            )
        else:
            zones = "\n".join(
                f"{zone.name}: " + "; ".join(_method_line(m)[2:] for m in zone.methods)
                for zone in store.shipping_zones()
            )
            dispatcher.utter_message(response="utter_shipping_overview", zones=zones)
        if intent == "delivery_time":
            dispatcher.utter_message(response="utter_delivery_time_offer_tracking")
        return []
