"""Fresh recommendations between rebuilds: orders applied in place equal a refit, and orders placed
in the real SQLite order store reach a customer's picks through the refresher."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from recommender import Interactions, Recommender, get_recommender, reset_recommender
from recommender.models.knn import SequentialRules, co_purchase
from recommender.models.popularity import Popularity
from recommender.service import refresher_for
from recommender.train import TrainOptions, train
from recommender.updates import NewOrder
from tests.recommender.conftest import make_records

NO_TUNING = TrainOptions(models=("popularity", "item_knn", "seq_rules", "content"), min_tuning_users=10**9)


def _split(records: list[tuple[str, str, float, float]]) -> tuple[list, list[NewOrder]]:
    """Every 2nd customer's last two purchases become new orders (the second one a two-line
    order, to exercise same-order pairs); the rest is the trained log."""
    by_customer: dict[str, list[tuple[str, str, float, float]]] = {}
    for r in records:
        by_customer.setdefault(r[0], []).append(r)
    trained, orders = [], []
    for c, (customer, rows) in enumerate(by_customer.items()):
        rows = sorted(rows, key=lambda r: r[3])
        late = rows[-3:]
        # Only customers whose last three events are purchases: appended orders then keep the
        # time order a refit sees.
        if c % 2 or len(rows) < 5 or any(r[2] < 1.0 for r in late):
            trained += rows
            continue
        trained += rows[:-3]
        orders.append(NewOrder(10 * c, customer, (late[0][1],), late[0][3]))
        orders.append(NewOrder(10 * c + 1, customer, (late[1][1], late[2][1]), late[2][3]))
    return trained, orders


def test_applied_orders_equal_a_refit(tmp_path: Path, interactions: Interactions) -> None:
    catalog = interactions.catalog
    records = make_records(catalog)
    trained, orders = _split(records)
    assert len(orders) >= 16
    train(Interactions.from_records(trained, catalog), tmp_path, NO_TUNING)
    rec = Recommender.load(tmp_path)
    assert rec.seq_rules is not None
    result = rec.add_orders(orders)
    assert result.orders == len(orders) and result.events == 3 * len(orders) // 2 and result.unknown_products == 0

    # The log a refit would see: the trained records plus the orders (lines of one order at one time).
    refit_records = trained + [(o.customer, sku, 1.0, o.placed) for o in orders for sku in o.skus]
    full = Interactions.from_records(refit_records, catalog).training_data()
    assert (abs(rec.co_purchase - co_purchase(full)) > 1e-6).nnz == 0
    rules = SequentialRules(rec.seq_rules.window, rec.seq_rules.decay).fit(full)
    assert np.allclose(rec.seq_rules.counts, rules.counts)
    assert abs(rec.seq_rules.pairs - rules.pairs).max() < 1e-5
    assert np.allclose(rec.popularity.counts, Popularity().fit(full).counts)
    users = Interactions.from_records(refit_records, catalog)
    for customer in {o.customer for o in orders}:
        u = users.user_ids.index(customer)
        assert rec.histories[customer].tolist() == full.sequences[u].tolist()
        bought = {catalog.index(sku) for (c, sku, w, _) in refit_records if c == customer and w >= 1.0}
        assert set(rec.purchases[customer].tolist()) == bought


def test_a_new_order_changes_that_customers_picks_at_once(tmp_path: Path, interactions: Interactions) -> None:
    train(interactions, tmp_path, NO_TUNING)
    rec = Recommender.load(tmp_path)
    before = [r.product_id for r in rec.recommend("cust-2", 5, rebuy=False)]
    # cust-2 buys nails; an order of two skin products moves their picks and is never offered back.
    order = NewOrder(1, "cust-2", ("skin-2-0", "skin-3-0"), 10_000.0)
    rec.add_orders([order])
    after = rec.recommend("cust-2", 5, rebuy=False)
    assert [r.product_id for r in after] != before
    assert not {"skin-2-0", "skin-3-0"} & {r.product_id for r in after}
    assert any(r.category == "skin" for r in after)
    # A customer the artifacts never saw is personal from their first order on.
    rec.add_orders([NewOrder(2, "walk-in-7", ("hair-1-2",), 10_001.0)])
    assert rec.recommend("walk-in-7", 3)[0].reason == "personal"
    # Unknown products (newer than the artifacts) are skipped, not an error.
    assert rec.add_orders([NewOrder(3, "cust-2", ("no-such-sku",), 10_002.0)]).unknown_products == 1


# ---------------------------------------------------------------------------------- real order store


@pytest.fixture()
def shop_url(tmp_path: Path) -> str:
    """A seeded demo shop (the order store) in a SQLite file of this test's own."""
    from sqlalchemy.orm import sessionmaker

    from store.db import make_engine
    from store.migrate import upgrade
    from store.seed import seed

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine)() as session:
        seed(session, seed=42, anchor=datetime(2025, 3, 3, tzinfo=UTC))
        session.commit()
    engine.dispose()
    return url


def place_order(url: str, customer_id: int, skus: list[str]) -> int:
    """Write an order as a checkout does: one ``orders`` row and its lines, one transaction,
    through the store's SQLAlchemy models (the order store has no ``place_order`` of its own)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from store import models as m
    from store.db import make_engine

    engine = make_engine(url)
    try:
        with sessionmaker(engine)() as session:
            customer = session.get(m.Customer, customer_id)
            assert customer is not None
            products = {p.sku: p for p in session.scalars(select(m.Product).where(m.Product.sku.in_(skus)))}
            next_id = (session.scalar(select(func.max(m.Order.id))) or 0) + 1
            lines = [
                m.OrderLine(
                    product_id=products[s].id,
                    sku=s,
                    title=products[s].title,
                    qty=1,
                    unit_price_pence=products[s].price_pence,
                    final_sale=products[s].final_sale,
                )
                for s in skus
            ]
            subtotal = sum(line.unit_price_pence for line in lines)
            order = m.Order(
                number=f"ORD-T{next_id}",
                customer_id=customer_id,
                placed_at=datetime(2025, 3, 3, 12, 0) + timedelta(seconds=next_id),
                status="paid",
                subtotal_pence=subtotal,
                shipping_pence=0,
                total_pence=subtotal,
                currency="GBP",
                payment_method="card",
                payment_status="paid",
                ship_name=customer.name,
                ship_address=customer.address,
                ship_city=customer.city,
                ship_postcode=customer.postcode,
                ship_country=customer.country,
                shipping_method="standard",
            )
            order.lines = lines
            session.add(order)
            session.commit()
            return int(order.id)
    finally:
        engine.dispose()


def _never_together(rec: Recommender, customer: str) -> tuple[str, str]:
    """Two products nobody bought together and the customer does not own."""
    owned = set(rec.purchases.get(customer, np.zeros(0, np.int64)).tolist())
    counts = rec.popularity.counts
    ids = rec.catalog.ids
    candidates = [i for i in np.argsort(-counts, kind="stable") if i not in owned][:60]
    for a in candidates:
        for b in candidates:
            if a != b and rec.co_purchase[a, b] == 0:
                return ids[a], ids[b]
    raise AssertionError("every popular pair was bought together")


def _together(rec: Recommender, sku: str) -> set[str]:
    return {r.product_id for r in rec.bought_together(sku, 20) if r.reason == "bought_together"}


@pytest.mark.parametrize("via", ["tick", "thread"])
def test_orders_placed_in_the_store_reach_the_picks(
    via: str, shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path: artifacts trained from the store, the serving process's refresher
    (started by get_recommender) reads the new order and applies it. With the default 60 s
    interval an order shows up within a minute; here the interval is 0.2 s (thread) or the
    update is run by hand (tick)."""
    from recommender.__main__ import main

    out = tmp_path / "artifacts"
    assert (
        main(
            [
                "train",
                "--from-store",
                "--database-url",
                shop_url,
                "--out",
                str(out),
                "--quiet",
                "--models",
                "popularity,item_knn,seq_rules",
            ]
        )
        == 0
    )
    monkeypatch.setenv("SHOP_DATABASE_URL", shop_url)
    monkeypatch.setenv("RECOMMENDER_REFRESH_SECONDS", "0.2" if via == "thread" else "3600")
    monkeypatch.setenv("RECOMMENDER_REBUILD_HOURS", "0")
    reset_recommender()
    try:
        rec = get_recommender(out)
        refresher = refresher_for(out)
        assert refresher is not None, "artifacts trained from this store must get a refresher"
        customer = next(c for c in rec.purchases if len(rec.purchases[c]) >= 2)
        a, b = _never_together(rec, customer)
        before = [r.product_id for r in rec.recommend(customer, 5, rebuy=False)]
        assert b not in _together(rec, a)

        order_id = place_order(shop_url, int(customer), [a, b])
        assert order_id > int(rec.manifest["source"]["last_order_id"])
        if via == "tick":
            result = refresher.tick()
            assert result.orders == 1 and result.events == 2
        else:
            deadline = time.monotonic() + 20
            while rec.orders_applied == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert get_recommender(out) is rec and rec.orders_applied == 1
        assert b in _together(rec, a) and a in _together(rec, b)
        after = [r.product_id for r in rec.recommend(customer, 5, rebuy=False)]
        assert not {a, b} & set(after)
        assert after != before or {a, b} & set(before)
        assert rec.histories[customer][-2:].tolist() == [rec.catalog.index(a), rec.catalog.index(b)]
        if via == "tick":
            assert refresher.tick().orders == 0  # each order is applied once
    finally:
        reset_recommender()


def test_artifacts_from_another_store_get_no_refresher(
    shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recommender.__main__ import main

    out = tmp_path / "artifacts"
    assert (
        main(
            [
                "train",
                "--from-store",
                "--database-url",
                shop_url,
                "--out",
                str(out),
                "--quiet",
                "--models",
                "popularity,seq_rules",
            ]
        )
        == 0
    )
    monkeypatch.setenv("SHOP_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    reset_recommender()
    try:
        get_recommender(out)
        assert refresher_for(out) is None  # never feed one shop's orders into another's model
    finally:
        reset_recommender()


def test_co_purchase_of_a_two_line_order_is_symmetric() -> None:
    from recommender.data import Catalog, TrainingData

    data = TrainingData.from_sequences([np.array([0, 1, 2, 3])], Catalog.from_ids("0123"))
    m = co_purchase(data)
    assert (m != m.T).nnz == 0 and isinstance(m, sparse.csr_matrix)
