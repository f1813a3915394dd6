"""Store-aware actions: a tablet's own shop, staff seeing every shop, the staff call, and forged metadata."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import actions.products as products
from actions.handoff import ActionHandoff
from actions.products import ActionCheckStock, ActionRecommendProducts
from store.service import OrderStore
from tests.actions.helpers import Outcome, make_tracker, run
from tests.actions.test_products import artifacts, rec  # noqa: F401  (trained recommender fixtures)

TABLET = {"channel": "tablet", "store_id": "LDN-01"}
STAFF = {"channel": "slack", "staff": {"id": "U0STAFF", "role": "staff"}}


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def set_shelves(db: Path, sku: str, quantities: dict[str, int], online: int | None = None) -> None:
    """Put ``quantities`` (store id -> units) of ``sku`` on the shelves of the test's private shop copy."""
    with sqlite3.connect(db) as conn:
        for store_id, quantity in quantities.items():
            conn.execute(
                "UPDATE store_stock SET quantity = ? WHERE store_id = ? "
                "AND product_id = (SELECT id FROM products WHERE sku = ?)",
                (quantity, store_id, sku),
            )
        if online is not None:
            conn.execute("UPDATE products SET online_stock = ? WHERE sku = ?", (online, sku))


async def check_stock(domain: dict[str, Any], title: str, **tracker: Any) -> Outcome:
    tracker.setdefault("text", f"do you have {title} here")
    return await run(
        ActionCheckStock(), make_tracker(intent="check_stock", entities=[entity("product", title)], **tracker), domain
    )


@pytest.fixture
def product(store: OrderStore) -> Any:
    """A shelved product (not a gift card) the tests move stock of."""
    return store.find_products("shampoo")[0]


# ---------------------------------------------------------------------------------- check_stock


async def test_tablet_answers_for_its_own_shop_with_the_shelf(store, domain, product, tmp_path) -> None:
    set_shelves(tmp_path / "shop.db", product.sku, {"LDN-01": 7, "MAN-01": 2})
    out = await check_stock(domain, product.title, sender="tablet:s1", metadata=TABLET)
    assert out.responses == ["utter_stock_here"]
    message = out.message("utter_stock_here")
    here = store.stock(product.sku, store_id="LDN-01").stores[0]
    assert (message["quantity"], message["location"], message["store"]) == (7, here.location, "Covent Garden")
    assert message["location"].startswith("aisle ")


async def test_tablet_out_of_stock_suggests_the_nearest_shop_and_online(store, domain, product, tmp_path) -> None:
    # London and Bristol are empty; Manchester is nearer to London than Edinburgh.
    set_shelves(tmp_path / "shop.db", product.sku, {"LDN-01": 0, "BRS-01": 0, "MAN-01": 3, "EDI-01": 9}, online=12)
    out = await check_stock(domain, product.title, sender="tablet:s1", metadata=TABLET)
    assert out.responses == ["utter_stock_not_here"]
    elsewhere = out.message("utter_stock_not_here")["elsewhere"]
    assert elsewhere.startswith("The nearest shop that has it is King Street in Manchester (3, about 2")
    assert "order it online (12 available)" in elsewhere
    assert "Edinburgh" not in elsewhere


async def test_tablet_out_everywhere_says_so(store, domain, product, tmp_path) -> None:
    set_shelves(tmp_path / "shop.db", product.sku, dict.fromkeys(("LDN-01", "BRS-01", "MAN-01", "EDI-01"), 0), online=0)
    out = await check_stock(domain, product.title, sender="tablet:s1", metadata=TABLET)
    assert out.message("utter_stock_not_here")["elsewhere"] == (
        "It is out of stock online and in our other shops too at the moment."
    )


async def test_forged_tablet_metadata_over_rest_gets_the_customer_answer(store, domain, product, tmp_path) -> None:
    set_shelves(tmp_path / "shop.db", product.sku, {"LDN-01": 7})
    out = await check_stock(domain, product.title, metadata=TABLET, input_channel="rest")
    assert out.responses == ["utter_stock"]
    assert "Covent Garden (7)" in out.message("utter_stock")["stores"]


async def test_staff_see_every_shop_including_empty_ones(store, domain, product, tmp_path) -> None:
    set_shelves(tmp_path / "shop.db", product.sku, {"LDN-01": 0, "BRS-01": 4, "MAN-01": 0, "EDI-01": 1}, online=5)
    out = await check_stock(domain, product.title, metadata=STAFF)
    message = out.message("utter_stock_all_stores")
    assert message["sku"] == product.sku and message["online"] == 5
    shops = message["stores"].split("; ")
    assert [s.split(" ")[0] for s in shops] == ["BRS-01", "EDI-01", "LDN-01", "MAN-01"]
    assert shops[0].startswith("BRS-01 Cabot Circus 4 (aisle ") and shops[2] == "LDN-01 Covent Garden 0"


async def test_forged_staff_over_rest_and_web_get_online_and_shops_with_stock(store, domain, product, tmp_path) -> None:
    set_shelves(tmp_path / "shop.db", product.sku, {"LDN-01": 0, "BRS-01": 4, "MAN-01": 0, "EDI-01": 1}, online=5)
    for tracker in ({"metadata": STAFF, "input_channel": "rest"}, {"metadata": {"channel": "web"}}):
        out = await check_stock(domain, product.title, **tracker)
        assert out.responses == ["utter_stock"]
        message = out.message("utter_stock")
        assert message["online"] == "in stock online, 5 available"
        assert message["stores"] == "Cabot Circus (4), George Street (1)"


# -------------------------------------------------------------------------------------- staff call


async def test_tablet_staff_call_opens_a_shop_ticket_and_sends_the_payload(store, domain) -> None:
    asked = {"intent": {"name": "check_stock"}}
    earlier = [{"event": "user", "text": "do you have argan shampoo here", "parse_data": asked}]
    tracker = make_tracker("tablet:s1", intent="human_handoff", text="/human_handoff", metadata=TABLET, events=earlier)
    out = await run(ActionHandoff(), tracker, domain)
    assert [m.get("text") for m in out.messages] == [None]  # the gateway says whether someone is coming
    [payload] = [m["custom"] for m in out.messages]
    assert payload["type"] == "staff_call" and payload["store_id"] == "LDN-01"
    [ticket] = [t for t in store.handoffs() if t.ticket_number == payload["ticket"]]
    assert ticket.channel == "tablet" and ticket.conversation_id == "tablet:s1"
    assert "LDN-01" in ticket.reason and ticket.store_id == "LDN-01"
    assert payload["summary"] == ticket.summary and "argan shampoo" in ticket.summary


async def test_forged_tablet_handoff_over_rest_is_an_ordinary_handoff(store, domain) -> None:
    tracker = make_tracker(intent="human_handoff", text="a person", metadata=TABLET, input_channel="rest")
    out = await run(ActionHandoff(), tracker, domain)
    assert out.responses == ["utter_handoff", None]  # None: the staff-only handoff payload
    assert [m["custom"]["type"] for m in out.messages if m.get("custom")] == ["handoff"]  # no staff_call


async def test_complaint_on_a_tablet_stays_a_complaint(store, domain) -> None:
    said = "I want to make a complaint about the service"
    out = await run(ActionHandoff(), make_tracker("tablet:s1", intent="complaint", text=said, metadata=TABLET), domain)
    assert out.responses == ["utter_complaint", None]  # None: the staff-only handoff payload
    vented = await run(
        ActionHandoff(), make_tracker("tablet:s2", intent="complaint", text="awful", metadata=TABLET), domain
    )
    assert vented.responses == ["utter_complaint_offer"]  # venting: sorry, and the offer of a person


# ---------------------------------------------------------------------------------- recommendations


async def recommend(domain: dict[str, Any], **tracker: Any) -> Outcome:
    return await run(
        ActionRecommendProducts(),
        make_tracker(intent="recommend_product", text="recommend something", **tracker),
        domain,
    )


def shown(out: Outcome) -> list[dict[str, Any]]:
    [payload] = [m["custom"] for m in out.messages if m.get("custom")]
    return payload["products"]


@pytest.fixture
def best_sellers(store: OrderStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """No trained recommender: picks come from the store's best sellers (the path without artifacts)."""
    monkeypatch.setattr(products, "load_recommender", lambda: None)


async def test_tablet_recommends_what_this_shop_has(store, domain, best_sellers, tmp_path) -> None:
    web = [p["sku"] for p in shown(await recommend(domain))]
    set_shelves(tmp_path / "shop.db", web[0], {"LDN-01": 0})
    out = await recommend(domain, sender="tablet:s1", metadata=TABLET)
    assert out.responses[0] == "utter_recommendations_here"
    cards = shown(out)
    here = store.store_quantities("LDN-01")
    assert len(cards) == products.CARDS and web[0] not in {c["sku"] for c in cards}
    assert all(c["in_store"] == here[c["sku"]] > 0 for c in cards)
    assert web[0] in [p["sku"] for p in shown(await recommend(domain))]  # still offered online


async def test_tablet_falls_back_to_online_when_the_shop_has_nothing(store, domain, best_sellers, tmp_path) -> None:
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        conn.execute("UPDATE store_stock SET quantity = 0 WHERE store_id = 'LDN-01'")
    out = await recommend(domain, sender="tablet:s1", metadata=TABLET)
    assert out.responses[0] == "utter_recommendations"
    assert [c["sku"] for c in shown(out)] == [p["sku"] for p in shown(await recommend(domain))]
    assert all("in_store" not in c for c in shown(out))


async def test_forged_tablet_recommendations_ignore_the_shop(store, domain, best_sellers, tmp_path) -> None:
    web = [p["sku"] for p in shown(await recommend(domain))]
    set_shelves(tmp_path / "shop.db", web[0], {"LDN-01": 0})
    out = await recommend(domain, metadata=TABLET, input_channel="rest")
    assert out.responses[0] == "utter_recommendations"
    assert [c["sku"] for c in shown(out)] == web


@pytest.mark.usefixtures("rec")
async def test_tablet_recommender_picks_are_on_this_shops_shelves(store, domain, tmp_path) -> None:
    web = [p["sku"] for p in shown(await recommend(domain))]
    set_shelves(tmp_path / "shop.db", web[0], {"LDN-01": 0})
    cards = shown(await recommend(domain, sender="tablet:s1", metadata=TABLET))
    here = store.store_quantities("LDN-01")
    assert len(cards) == products.CARDS and web[0] not in {c["sku"] for c in cards}
    assert all(c["in_store"] == here[c["sku"]] > 0 for c in cards)
