"""Revision 0003: shelf locations of store stock and shop coordinates, seeded, backfilled and served."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from store import models as m
from store.errors import StoreNotFound
from store.migrate import current_revision, downgrade, upgrade
from store.seed import shelf_location
from store.service import OrderStore


def _columns(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_upgrade_from_0002_backfills_locations_and_coordinates(empty_database) -> None:
    """A shop migrated before 0003 keeps its rows and gets locations and coordinates filled in."""
    engine = empty_database.engine
    upgrade(engine, "0002")
    assert "location" not in _columns(engine, "store_stock")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (id, name, city, address, postcode, opening_hours) VALUES "
                "('LDN-01', 'Covent Garden', 'London', '21 Long Acre', 'WC2E 9LY', ''), "
                "('XYZ-01', 'Pop-up', 'Leeds', '1 Briggate', 'LS1 6HD', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO products (id, sku, title, description, brand, category, price_pence, attributes, "
                "final_sale, online_stock) VALUES "
                "(7, 'SKN-0007', 'Dew Serum', '', 'B', 'Skincare', 1000, '{}', false, 3), "
                "(10, 'HAI-0010', 'Shine Shampoo', '', 'B', 'Haircare', 800, '{}', false, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO store_stock (store_id, product_id, quantity) VALUES "
                "('LDN-01', 7, 4), ('LDN-01', 10, 0), ('XYZ-01', 7, 1)"
            )
        )

    upgrade(engine)
    assert current_revision(engine) == "0007"  # head; 0003 ran on the way
    with engine.connect() as conn:
        stock = conn.execute(
            text("SELECT store_id, product_id, quantity, location FROM store_stock ORDER BY store_id, product_id")
        ).all()
        stores = {row.id: row.latitude for row in conn.execute(text("SELECT id, latitude FROM stores"))}
    # Aisles by category name: Haircare 1, Skincare 2; shelves by product id.
    assert [tuple(row) for row in stock] == [
        ("LDN-01", 7, 4, "aisle 2 (Skincare), shelf 4"),
        ("LDN-01", 10, 0, "aisle 1 (Haircare), shelf 3"),
        ("XYZ-01", 7, 1, "aisle 2 (Skincare), shelf 4"),
    ]
    assert stores["LDN-01"] == pytest.approx(51.5126)
    assert stores["XYZ-01"] is None  # not a demo shop: no made-up coordinates

    downgrade(engine, "0002")
    assert "location" not in _columns(engine, "store_stock")
    assert "latitude" not in _columns(engine, "stores")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM store_stock")).scalar_one() == 3


def test_seed_gives_every_shelf_a_location(seeded_engine: Engine) -> None:
    with Session(seeded_engine) as session:
        rows = session.execute(
            select(m.StoreStock.location, m.Product.id, m.Product.category).join(
                m.Product, m.Product.id == m.StoreStock.product_id
            )
        ).all()
        stores = session.execute(select(m.PhysicalStore)).scalars().all()
    aisles = {name: i for i, name in enumerate(sorted({r.category for r in rows}), start=1)}
    assert len(rows) > 500
    assert all(r.location == shelf_location(aisles[r.category], r.category, r.id) for r in rows)
    assert all(s.latitude is not None and s.longitude is not None for s in stores)


def test_stock_near_a_store_orders_by_distance(store: OrderStore) -> None:
    product = store.find_products("shampoo")[0]
    near = store.stock(product.sku, near="ldn-01")
    assert [s.store_id for s in near.stores] == ["LDN-01", "BRS-01", "MAN-01", "EDI-01"]
    distances = [s.distance_km for s in near.stores]
    assert distances[0] == 0.0
    assert 150 < distances[1] < 200 and 250 < distances[2] < 300 and 500 < distances[3] < 560
    assert all(s.location.startswith("aisle ") for s in near.stores)
    by_id = store.stock(product.sku)
    assert [s.store_id for s in by_id.stores] == ["BRS-01", "EDI-01", "LDN-01", "MAN-01"]
    assert all(s.distance_km is None for s in by_id.stores)
    assert {s.store_id: (s.quantity, s.location) for s in by_id.stores} == {
        s.store_id: (s.quantity, s.location) for s in near.stores
    }
    with pytest.raises(StoreNotFound):
        store.stock(product.sku, near="XXX-99")


def test_store_quantities(store: OrderStore) -> None:
    here = store.store_quantities("LDN-01")
    assert here and all(q > 0 for q in here.values())
    product = store.find_products("shampoo")[0]
    expected = next(s.quantity for s in store.stock(product.sku).stores if s.store_id == "LDN-01")
    assert here.get(product.sku, 0) == expected
    assert not any(sku.startswith("GFT-") for sku in here)  # gift cards are not on shelves
    with pytest.raises(StoreNotFound):
        store.store_quantities("XXX-99")
