"""Product actions against the seeded demo shop, with recommender artifacts trained from that shop."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

import actions.products as products
from actions.products import ActionCheckStock, ActionRecommendProducts, read_price_range
from recommender import Recommender, get_recommender, reset_recommender
from recommender.store_adapter import read_shop
from recommender.train import TrainOptions, train
from store.service import OrderStore
from tests.actions.helpers import Outcome, grant, make_tracker, run

#: Everything but SASRec (it does not earn its keep on the demo shop, and costs a torch import).
MODELS = ("popularity", "item_knn", "seq_rules", "user_knn", "content")


def entity(name: str, value: str) -> dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


@pytest.fixture(scope="session")
def artifacts(seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recommender artifacts trained from the seeded demo shop (read-only), once per session."""
    out = tmp_path_factory.mktemp("recommender")
    engine = create_engine(f"sqlite:///{seeded_db}")
    try:
        shop = read_shop(engine)
    finally:
        engine.dispose()
    options = TrainOptions(models=MODELS, threads=1, content_cache=out / "embedding-cache.npz")
    train(shop.interactions, out, options, source=shop.source())
    return out


@pytest.fixture
def rec(artifacts: Path, store: OrderStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recommender]:
    """The actions use the trained artifacts and the seeded store (the recommender is reset around each test)."""
    monkeypatch.setenv("RECOMMENDER_ARTIFACTS", str(artifacts))
    reset_recommender()
    yield get_recommender()
    reset_recommender()


async def recommend(domain: dict[str, Any], **tracker: Any) -> Outcome:
    tracker.setdefault("intent", "recommend_product")
    return await run(ActionRecommendProducts(), make_tracker(**tracker), domain)


def cards(out: Outcome) -> list[dict[str, Any]]:
    """The products of the `product_cards` payload, checked against the card messages."""
    payloads = [m["custom"] for m in out.messages if m.get("custom")]
    assert len(payloads) == 1 and payloads[0]["type"] == "product_cards", out.messages
    shown = payloads[0]["products"]
    card_messages = [m for m in out.messages if m.get("buttons")]
    assert [m["text"] for m in card_messages] == [p["text"] for p in shown]
    for product, message in zip(shown, card_messages, strict=True):
        assert product["title"] in message["text"] and product["price_text"] in message["text"]
        assert message["image"] == product["image"] == f"/media/products/{product['sku']}.svg"
        more = message["buttons"][0]
        assert more["title"] == "More like this"
        assert more["payload"] == "/recommend_product" + json.dumps({"product": product["title"]})
    return shown


def purchases(rec: Recommender, customer: int) -> set[str]:
    return {rec.catalog.ids[i] for i in rec.purchases[str(customer)]}


# ------------------------------------------------------------------------------------------ stock


async def test_stock_for_a_named_product(store: OrderStore, domain: dict[str, Any]) -> None:
    product = store.popular_products(limit=1)[0]
    tracker = make_tracker(intent="check_stock", entities=[entity("product", product.title)])
    out = await run(ActionCheckStock(), tracker, domain)
    assert out.message("utter_stock")["title"] == product.title


# --------------------------------------------------------------------------- personal and popular


async def test_verified_customer_gets_personal_picks_without_their_purchases(
    store: OrderStore, cases: dict[str, dict[str, Any]], rec: Recommender, domain: dict[str, Any]
) -> None:
    for name in ("returnable", "in_transit", "placed"):
        sender = f"web:{name}"
        grant(store, cases[name], sender)
        customer = store.verified_customer(sender)
        assert customer is not None
        out = await recommend(domain, sender=sender, text="can you recommend something?")
        assert out.responses[0] == "utter_recommendations_personal"
        shown = cards(out)
        assert len(shown) == products.CARDS
        assert {p["reason"] for p in shown} == {"personal"}
        assert not {p["sku"] for p in shown} & purchases(rec, customer), name
        assert all(store.product(p["sku"]).online_stock > 0 for p in shown)


async def test_unverified_customer_gets_popular_in_stock_picks(
    store: OrderStore, rec: Recommender, domain: dict[str, Any]
) -> None:
    out = await recommend(domain, text="can you recommend something?")
    assert out.responses[0] == "utter_recommendations"
    shown = cards(out)
    assert {p["reason"] for p in shown} == {"popular"}
    in_stock = [r.product_id for r in rec.popular(50) if store.product(r.product_id).online_stock > 0]
    assert [p["sku"] for p in shown] == in_stock[: products.CARDS]


async def test_never_out_of_stock(store: OrderStore, rec: Recommender, domain: dict[str, Any], tmp_path: Path) -> None:
    before = [p["sku"] for p in cards(await recommend(domain, text="recommend something"))]
    with sqlite3.connect(tmp_path / "shop.db") as db:  # the test's private copy of the shop
        db.execute("UPDATE products SET online_stock = 0 WHERE sku = ?", (before[0],))
    after = [p["sku"] for p in cards(await recommend(domain, text="recommend something"))]
    assert before[0] not in after
    assert after[:2] == before[1:3]


# ------------------------------------------------------------------------------- category and price


@pytest.mark.parametrize("verified", [False, True], ids=["popular", "personal"])
async def test_category_and_price_ceiling_are_honoured(
    store: OrderStore, cases: dict[str, dict[str, Any]], rec: Recommender, domain: dict[str, Any], verified: bool
) -> None:
    if verified:
        grant(store, cases["returnable"], "web:test-conversation")
    out = await recommend(
        domain,
        text="any skincare under £20?",
        entities=[entity("category", "skincare"), entity("amount", "£20")],
    )
    shown = cards(out)
    assert shown
    assert all(p["category"] == "Skincare" and float(p["price"]) <= 20 for p in shown)
    assert out.messages[0].get("for_category") == " in skincare"
    assert out.messages[0].get("price_range") == " under £20.00"


@pytest.mark.parametrize("kind", ["moisturiser", "moisturisers", "Serum"])
async def test_a_kind_of_product_narrows_the_picks(
    store: OrderStore, cases: dict[str, dict[str, Any]], rec: Recommender, domain: dict[str, Any], kind: str
) -> None:
    # "recommend a moisturiser": NLU tags the kind as a category the catalogue does not have.
    out = await recommend(domain, text=f"can you recommend a {kind} for dry skin", entities=[entity("category", kind)])
    shown = cards(out)
    singular = kind.lower().removesuffix("s")
    assert shown and all(p["title"].lower().endswith(singular) for p in shown), [p["title"] for p in shown]
    assert out.messages[0].get("for_category") == f' matching "{singular}"'


async def test_gift_under_30_without_entities(rec: Recommender, domain: dict[str, Any]) -> None:
    out = await recommend(domain, text="a gift for my sister under 30")
    shown = cards(out)
    assert shown and all(float(p["price"]) <= 30 for p in shown)


async def test_button_payload_with_a_category(rec: Recommender, domain: dict[str, Any]) -> None:
    payload = '/recommend_product{"category": "Bath & Body"}'
    out = await recommend(domain, text=payload, entities=[entity("category", "Bath & Body")])
    assert {p["category"] for p in cards(out)} == {"Bath & Body"}


async def test_nothing_matches(rec: Recommender, domain: dict[str, Any]) -> None:
    out = await recommend(domain, text="fragrance under £1", entities=[entity("category", "fragrance")])
    assert out.responses == ["utter_no_recommendations"]


@pytest.mark.parametrize(
    ("text", "amount", "expected"),
    [
        ("a gift for my sister under 30", None, (None, 30.0)),
        ("gift ideas below £25.50", None, (None, 25.5)),
        ("something nice over £20", None, (20.0, None)),
        ("between £10 and £25", None, (10.0, 25.0)),
        ("suggest a perfume", "£40", (None, 40.0)),
        ("recommend something", None, (None, None)),
    ],
)
def test_price_range_from_words(text: str, amount: str | None, expected: tuple[float | None, float | None]) -> None:
    assert read_price_range(text, amount) == expected


# ------------------------------------------------------------------------ similar and goes-with


async def test_something_like_a_product(store: OrderStore, rec: Recommender, domain: dict[str, Any]) -> None:
    anchor = store.popular_products(category="Skincare", limit=1)[0]
    for entities in ([entity("product", anchor.title)], []):  # tagged by NLU, or only in the words
        out = await recommend(domain, text=f"something like the {anchor.title}", entities=entities)
        assert out.responses[0] == "utter_recommendations_similar"
        assert out.messages[0]["title"] == anchor.title
        shown = cards(out)
        assert len(shown) == products.CARDS
        assert anchor.sku not in {p["sku"] for p in shown}
        assert {p["reason"] for p in shown} == {"similar"}
        expected = [r.product_id for r in rec.similar(anchor.sku, 20) if store.product(r.product_id).online_stock > 0]
        assert [p["sku"] for p in shown] == expected[: products.CARDS]


async def test_more_like_this_button(store: OrderStore, rec: Recommender, domain: dict[str, Any]) -> None:
    anchor = store.popular_products(category="Fragrance", limit=1)[0]
    payload = "/recommend_product" + json.dumps({"product": anchor.title})
    out = await recommend(domain, text=payload, entities=[entity("product", anchor.title)])
    assert out.responses[0] == "utter_recommendations_similar"
    assert anchor.sku not in {p["sku"] for p in cards(out)}


@pytest.mark.parametrize("phrase", ["what goes with the {}?", "what would pair with {}", "what goes well with {}"])
async def test_what_goes_with_a_product(
    store: OrderStore, rec: Recommender, domain: dict[str, Any], phrase: str
) -> None:
    anchor = store.popular_products(limit=1)[0]
    out = await recommend(domain, text=phrase.format(anchor.title), entities=[entity("product", anchor.title)])
    assert out.responses[0] == "utter_recommendations_together"
    shown = cards(out)
    assert shown and anchor.sku not in {p["sku"] for p in shown}
    together = {r.product_id for r in rec.bought_together(anchor.sku, 1000)}
    assert {p["sku"] for p in shown} <= together
    # co-purchases first; the recommender tops a short list up with similar products of another kind
    assert {p["reason"] for p in shown} <= {"bought_together", "similar"}


async def test_unknown_product(rec: Recommender, domain: dict[str, Any]) -> None:
    out = await recommend(domain, text="something like the zyxxy wobble", entities=[entity("product", "zyxxy wobble")])
    assert out.responses == ["utter_product_not_sold"]
    assert out.message("utter_product_not_sold")["query"] == "zyxxy wobble"


@pytest.mark.parametrize("text", ["I'd like a present for my mum", "I would like something nice under £25"])
async def test_wanting_something_is_not_asking_for_similar_products(
    rec: Recommender, domain: dict[str, Any], text: str
) -> None:
    out = await recommend(domain, text=text)
    assert out.responses[0] == "utter_recommendations"
    assert cards(out)


# ------------------------------------------------------------------------------ missing artifacts


async def test_missing_artifacts_fall_back_to_best_sellers_and_warn_once(
    store: OrderStore,
    domain: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("RECOMMENDER_ARTIFACTS", str(tmp_path / "never-trained"))
    monkeypatch.setattr(products._Missing, "warned", False)
    reset_recommender()
    with caplog.at_level(logging.WARNING, logger="actions.products"):
        first = await recommend(domain, text="recommend some makeup", entities=[entity("category", "makeup")])
        like = store.popular_products(category="Skincare", limit=1)[0].title
        second = await recommend(domain, text=f"something like {like}", entities=[entity("product", like)])
    assert first.responses[0] == "utter_recommendations"
    best = [p.sku for p in store.popular_products(category="Makeup", limit=products.CARDS)]
    assert [p["sku"] for p in cards(first)] == best
    assert second.responses[0] == "utter_recommendations_similar"
    assert {p["category"] for p in cards(second)} == {"Skincare"}
    warnings = [r for r in caplog.records if "artifacts" in r.getMessage()]
    assert len(warnings) == 1
