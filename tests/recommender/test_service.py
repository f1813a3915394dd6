"""Properties of the serving facade on the tiny fixed-seed shop (trained end to end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender import (
    ArtifactsNotFound,
    Filters,
    Interactions,
    Recommender,
    UnknownProduct,
    get_recommender,
    reset_recommender,
)
from recommender.train import TrainOptions, train
from tests.recommender.conftest import NEW_PRODUCT

SMALL_SASREC = {"dim": 16, "layers": 1, "heads": 1, "ff_dim": 32, "batch_size": 32}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory, interactions: Interactions) -> Path:
    out = tmp_path_factory.mktemp("artifacts")
    options = TrainOptions(sasrec_epochs=3, threads=1, sasrec_overrides=SMALL_SASREC)
    manifest = train(interactions, out, options, source={"test": "tiny shop"})
    assert manifest.is_file()
    return out


@pytest.fixture(scope="module")
def rec(artifacts: Path) -> Recommender:
    return Recommender.load(artifacts)


def bought(interactions: Interactions, customer: str) -> set[str]:
    u = interactions.user_ids.index(customer)
    mask = (interactions.users == u) & (interactions.weights >= 1.0)
    return {interactions.catalog.ids[i] for i in interactions.items[mask]}


def test_top_k_is_deterministic(artifacts: Path, rec: Recommender) -> None:
    again = Recommender.load(artifacts)
    for customer in ("cust-0", "cust-1", "cust-2", "nobody"):
        first = [r.product_id for r in rec.recommend(customer, 8)]
        assert first == [r.product_id for r in rec.recommend(customer, 8)]
        assert first == [r.product_id for r in again.recommend(customer, 8)]
        assert len(first) == 8 and len(set(first)) == 8


def test_never_recommends_already_bought_items(rec: Recommender, interactions: Interactions) -> None:
    for customer in [f"cust-{c}" for c in range(0, 120, 7)]:
        owned = bought(interactions, customer)
        picks = {r.product_id for r in rec.recommend(customer, 15)}
        rebuyable = {p for p in owned if rec.rebuyable[rec.catalog.index(p)]}
        assert not (picks & (owned - rebuyable)), customer
        assert all(rec.catalog.get(p).consumable for p in rebuyable)  # type: ignore[union-attr]


def test_consumables_that_customers_rebuy_may_come_back(rec: Recommender) -> None:
    rebuy = [p.product_id for p, r in zip(rec.catalog.products, rec.rebuyable, strict=True) if r]
    assert rebuy and all(p.startswith("hair-0-") for p in rebuy)  # only shampoo is rebought


def test_personal_picks_follow_the_customers_category(rec: Recommender, interactions: Interactions) -> None:
    # cust-2 is a nails customer (customer c buys category c % 3)
    picks = rec.recommend("cust-2", 3)
    assert all(r.reason == "personal" for r in picks)
    assert {r.category for r in picks} == {"nails"}


@pytest.mark.parametrize("customer", ["cust-0", "cust-4", None, "nobody"])
def test_filters_are_honoured(rec: Recommender, customer: str | None) -> None:
    in_stock = {p for p in rec.catalog.ids if not p.endswith("-1")}
    calls: list[str] = []

    def stock(pid: str) -> bool:
        calls.append(pid)
        return pid in in_stock

    for check in (in_stock, stock):
        filters = Filters(category="Skin", min_price=8.0, max_price=20.0, in_stock=check)
        picks = rec.recommend(customer, 5, filters)
        assert picks
        for r in picks:
            product = rec.catalog.get(r.product_id)
            assert product is not None and product.category == "skin"
            assert product.price is not None and 8.0 <= product.price <= 20.0
            assert r.product_id in in_stock
    assert 0 < len(calls) < len(rec.catalog)  # the stock check is lazy


def test_exclude_and_impossible_filters(rec: Recommender) -> None:
    top = rec.recommend("cust-0", 3)[0].product_id
    assert top not in {r.product_id for r in rec.recommend("cust-0", 3, Filters(exclude={top}))}
    assert rec.recommend("cust-0", 5, Filters(max_price=1.0)) == []


def test_cold_start_returns_popular_items(rec: Recommender) -> None:
    popular = [r.product_id for r in rec.popular(6)]
    for customer in (None, "never-seen"):
        picks = rec.recommend(customer, 6)
        assert [r.product_id for r in picks] == popular
        assert all(r.reason == "popular" for r in picks)
    top_counts = sorted(rec.popularity.counts, reverse=True)[0]
    assert rec.popularity.counts[rec.catalog.index(popular[0])] > 0.5 * top_counts


def test_history_from_caller_personalises_an_unknown_customer(rec: Recommender) -> None:
    picks = rec.recommend("walk-in", 4, history=["nails-0-0", "nails-1-0"])
    assert {r.category for r in picks} == {"nails"}
    assert not {"nails-0-0", "nails-1-0"} & {r.product_id for r in picks}


def test_new_item_is_reachable_through_content(rec: Recommender) -> None:
    assert not rec.hybrid.trained[rec.catalog.index(NEW_PRODUCT)]  # type: ignore[union-attr]
    like_new = rec.similar(NEW_PRODUCT, 5)
    assert like_new and all(r.category == "skin" for r in like_new)
    assert NEW_PRODUCT in {r.product_id for r in rec.similar("skin-1-0", 5)}
    serum_fan = rec.recommend("walk-in", 10, Filters(category="skin"), history=["skin-1-0", "skin-1-1"])
    assert NEW_PRODUCT in {r.product_id for r in serum_fan}


def test_similar_and_bought_together(rec: Recommender) -> None:
    similar = rec.similar("hair-2-1", 4)
    assert len(similar) == 4 and "hair-2-1" not in {r.product_id for r in similar}
    together = rec.bought_together("hair-2-1", 3)
    assert together and together[0].reason == "bought_together"
    assert together[0].category == "hair"
    with pytest.raises(UnknownProduct):
        rec.similar("no-such-product")


def test_loaded_once_per_process(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reset_recommender()
    monkeypatch.setenv("RECOMMENDER_ARTIFACTS", str(artifacts))
    first = get_recommender()
    assert get_recommender() is first and get_recommender(artifacts) is first
    reset_recommender()
    assert get_recommender() is not first
    reset_recommender()


def test_missing_artifacts_raise(tmp_path: Path) -> None:
    with pytest.raises(ArtifactsNotFound):
        Recommender.load(tmp_path)


def test_personal_picks_are_the_top_of_scoring_every_item(rec: Recommender) -> None:
    """Requests rank only the items the sparse components score plus a precomputed popularity
    order; the answers must be the best items of the full score vector, filters included."""
    from recommender.models.base import top_indices

    assert rec.hybrid is not None
    for customer in ("cust-0", "cust-5", "cust-11", "cust-64"):
        history = rec.histories[customer]
        full = rec.hybrid.score_one(history)
        for filters in (None, Filters(category="skin"), Filters(max_price=12.0), Filters(exclude={"hair-1-0"})):
            allowed = rec._static_mask(filters)
            bought = rec.purchases[customer]
            allowed[bought[~rec.rebuyable[bought]]] = False
            candidates = np.flatnonzero(allowed)
            expected = candidates[top_indices(full[candidates], min(5, len(candidates)))]
            picks = rec.recommend(customer, 5, filters)
            assert [r.product_id for r in picks] == [rec.catalog.ids[i] for i in expected]
            assert np.allclose([r.score for r in picks], full[expected])


def test_rebuy_false_never_returns_anything_bought(rec: Recommender, interactions: Interactions) -> None:
    for customer in [f"cust-{c}" for c in range(0, 120, 3)]:
        owned = bought(interactions, customer)
        assert not owned & {r.product_id for r in rec.recommend(customer, 20, rebuy=False)}


def test_serving_goes_on_while_a_rebuild_is_put_in_place(
    tmp_path: Path, interactions: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild is written aside and renamed in; a process that looks in between finds no
    manifest and keeps answering from what it loaded, then loads the new build."""
    out = tmp_path / "art"
    options = TrainOptions(models=("popularity", "seq_rules"), min_tuning_users=10**9)
    train(interactions, out, options)
    monkeypatch.delenv("SHOP_DATABASE_URL", raising=False)
    reset_recommender()
    try:
        first = get_recommender(out)
        (out / "manifest.json").rename(tmp_path / "manifest.json")  # the moment between the renames
        assert get_recommender(out) is first
        (tmp_path / "manifest.json").rename(out / "manifest.json")
        train(interactions, out, options)  # a rebuild: new manifest
        assert not list(tmp_path.glob(".art.*"))  # staging and old folders are gone
        second = get_recommender(out)
        assert second is not first and [r.product_id for r in second.recommend("cust-0", 3)] == [
            r.product_id for r in first.recommend("cust-0", 3)
        ]
    finally:
        reset_recommender()
