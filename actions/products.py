"""Products: stock online and in our shops, and popular picks (until the recommender takes over)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import get_store, latest_entity, money
from store.records import ProductInfo


def _product_query(tracker: Tracker) -> str:
    return latest_entity(tracker, "product") or latest_entity(tracker, "category") or ""


def _card(dispatcher: CollectingDispatcher, product: ProductInfo) -> None:
    dispatcher.utter_message(
        text=f"{product.title} by {product.brand}: {money(product.price)}",
        image=product.image_url,
        buttons=[
            {
                "title": "Is it in stock?",
                "payload": "/check_stock" + json.dumps({"product": product.title}),
            }
        ],
    )


class ActionCheckStock(Action):
    """Whether a product is in stock online and in which shops."""

    def name(self) -> str:
        """Action name."""
        return "action_check_stock"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Find the product named in the message and report its stock."""
        query = _product_query(tracker)
        if not query:
            dispatcher.utter_message(response="utter_ask_product")
            return []
        store = get_store()
        found = store.find_products(query, limit=1)
        if not found:
            dispatcher.utter_message(response="utter_product_not_found", query=query)
            return []
        product = found[0]
        stock = store.stock(product.sku)
        online = f"{stock.online} available online" if stock.online > 0 else "out of stock online"
        in_stores = [f"{s.store_name} ({s.quantity})" for s in stock.stores if s.quantity > 0]
        dispatcher.utter_message(
            response="utter_stock",
            title=product.title,
            price=money(product.price),
            online=online,
            stores=", ".join(in_stores) if in_stores else "none at the moment",
        )
        return []


class ActionRecommendProducts(Action):
    """Popular products, in the category asked for when there is one."""

    def name(self) -> str:
        """Action name."""
        return "action_recommend_products"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[EventType]:
        """Three popular in-stock picks as product cards."""
        store = get_store()
        category = latest_entity(tracker, "category")
        known = {c.lower(): c for c in store.categories()}
        chosen = known.get(category.lower()) if category else None
        picks = store.popular_products(category=chosen, limit=3)
        dispatcher.utter_message(
            response="utter_recommendations", for_category=f" in {chosen.lower()}" if chosen else ""
        )
        for product in picks:
            _card(dispatcher, product)
        return []
