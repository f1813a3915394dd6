"""Product recommendations end to end: gateway -> rasa -> action server -> recommender + order store.

Buttons (payloads) are pressed where the test is about the recommender, not about NLU; one test asks
in plain words. Assertions read the `product_cards` payload (what was picked and why), the card
messages and the intro line.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from tests.e2e.conftest import Chat, RunningStack, shop_path

pytestmark = pytest.mark.e2e


async def ask(chat: Chat, payload: str) -> tuple[str, list[dict[str, Any]]]:
    """Press a button; return the replies' text and the products of the `product_cards` payload."""
    messages = await chat.send_payload(payload)
    return Chat.text(messages), products_of(messages)


def products_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cards of a reply, checked against the plain messages shown to text-only channels."""
    payloads = [m["custom"] for m in messages if (m.get("custom") or {}).get("type") == "product_cards"]
    if not payloads:
        return []
    assert len(payloads) == 1, messages
    products: list[dict[str, Any]] = payloads[0]["products"]
    shown = [m for m in messages if m.get("buttons")]
    assert [m["text"] for m in shown] == [p["text"] for p in products]
    for product, message in zip(products, shown, strict=True):
        assert product["price_text"].startswith("£") and product["price_text"] in message["text"]
        assert message["buttons"][0]["title"] == "More like this"
    # rasa sends a message's image as a message of its own, right after its text and buttons
    assert [m["image"] for m in messages if m.get("image")] == [p["image"] for p in products]
    return products


def online_stock(stack: RunningStack, sku: str) -> int:
    with sqlite3.connect(shop_path(stack)) as db:
        return int(db.execute("SELECT online_stock FROM products WHERE sku = ?", (sku,)).fetchone()[0])


async def test_category_button_gives_popular_product_cards(chat: Chat, stack: RunningStack) -> None:
    text, products = await ask(chat, '/recommend_product{"category": "Skincare"}')
    assert "popular picks in skincare" in text, chat.dump()
    assert len(products) == 3, chat.dump()
    assert {p["category"] for p in products} == {"Skincare"}
    assert all(online_stock(stack, p["sku"]) > 0 for p in products)


async def test_category_and_budget_button(chat: Chat) -> None:
    text, products = await ask(chat, '/recommend_product{"category": "Makeup", "amount": "£15"}')
    assert "popular picks in makeup under £15.00" in text, chat.dump()
    assert products and all(p["category"] == "Makeup" and float(p["price"]) <= 15 for p in products), chat.dump()


async def test_more_like_this_button(chat: Chat) -> None:
    _, first = await ask(chat, '/recommend_product{"category": "Fragrance"}')
    anchor = first[0]
    text, products = await ask(chat, "/recommend_product" + json.dumps({"product": anchor["title"]}))
    assert f"If you like {anchor['title']}" in text, chat.dump()
    assert products and anchor["sku"] not in {p["sku"] for p in products}, chat.dump()
    assert {p["reason"] for p in products} == {"similar"}, chat.dump()


async def test_out_of_stock_products_are_never_offered(chat: Chat, stack: RunningStack) -> None:
    _, before = await ask(chat, '/recommend_product{"category": "Haircare"}')
    sku = before[0]["sku"]
    with sqlite3.connect(shop_path(stack)) as db:
        stock = online_stock(stack, sku)
        db.execute("UPDATE products SET online_stock = 0 WHERE sku = ?", (sku,))
    try:
        _, after = await ask(chat, '/recommend_product{"category": "Haircare"}')
        assert after and sku not in {p["sku"] for p in after}, chat.dump()
    finally:
        with sqlite3.connect(shop_path(stack)) as db:
            db.execute("UPDATE products SET online_stock = ? WHERE sku = ?", (stock, sku))


async def test_verified_customer_gets_picks_without_what_they_bought(
    chat: Chat, cases: dict[str, dict[str, Any]], stack: RunningStack
) -> None:
    case = cases["returnable"]
    reply = await chat.say("where is my order?")
    assert "order number" in reply.lower(), chat.dump()
    await chat.say(case["order_number"])
    reply = await chat.say(case["email"])
    assert f"that matches order {case['order_number']}" in reply, chat.dump()
    text, products = await ask(chat, "/recommend_product")
    assert "Picked for you" in text, chat.dump()
    assert len(products) == 3 and {p["reason"] for p in products} == {"personal"}, chat.dump()
    with sqlite3.connect(shop_path(stack)) as db:
        owned = {
            row[0]
            for row in db.execute(
                "SELECT l.sku FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.customer_id = "
                "(SELECT customer_id FROM orders WHERE number = ?)",
                (case["order_number"],),
            )
        }
    assert owned and not owned & {p["sku"] for p in products}, chat.dump()


async def test_asking_in_plain_words(chat: Chat) -> None:
    reply = await chat.say("can you recommend something?")
    assert "popular picks" in reply and "£" in reply, chat.dump()
