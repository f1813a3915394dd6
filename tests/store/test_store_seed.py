"""The demo shop: deterministic from seed and anchor, every status present, data consistent with status."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from store import models as m
from store.db import make_engine
from store.migrate import upgrade
from store.seed import STATUS_PLAN, _Seeder, seed


def _seeded_sqlite(path: Path, seed_value: int, anchor: datetime) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as session:
        seed(session, seed=seed_value, anchor=anchor)
        session.commit()
    return engine


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    dump: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            dump[table.name] = [tuple(row) for row in rows]
    return dump


def test_same_seed_and_anchor_give_identical_data(
    tmp_path: Path, anchor: datetime, backend: str, seeded_engine: Engine
) -> None:
    """A fresh SQLite seed (42, anchor) equals the session's pristine demo DB (either backend) row for row."""
    fresh = _seeded_sqlite(tmp_path / "a.db", 42, anchor)
    try:
        assert _dump(fresh) == _dump(seeded_engine)
    finally:
        fresh.dispose()


def test_another_anchor_shifts_dates_only(
    tmp_path: Path, anchor: datetime, backend: str, seeded_engine: Engine
) -> None:
    if backend != "sqlite":
        pytest.skip("anchor shift is checked once, on SQLite")
    shifted = _seeded_sqlite(tmp_path / "b.db", 42, anchor + timedelta(days=100))
    try:
        columns = (m.Order.placed_at, m.Order.number, m.Order.status, m.Order.total_pence, m.Order.ship_postcode)
        with seeded_engine.connect() as a, shifted.connect() as b:
            rows_a = a.execute(select(*columns).order_by(m.Order.id)).all()
            rows_b = b.execute(select(*columns).order_by(m.Order.id)).all()
        assert [rb[0] - ra[0] for ra, rb in zip(rows_a, rows_b, strict=True)] == [timedelta(days=100)] * 300
        assert [tuple(r[1:]) for r in rows_a] == [tuple(r[1:]) for r in rows_b]
        assert max(r[0] for r in rows_a) < anchor.replace(tzinfo=None)
    finally:
        shifted.dispose()


def test_another_seed_gives_another_catalogue(anchor: datetime) -> None:
    def catalogue(seed_value: int) -> list[tuple[str, int]]:
        with Session() as session:  # unbound: objects are only added, never flushed
            seeder = _Seeder(session, seed_value, anchor, lambda _line: None)
            seeder.catalogue()
            return [(p.title, p.price_pence) for p in seeder.products]

    assert catalogue(42) == catalogue(42)
    assert catalogue(42) != catalogue(7)
    assert len(catalogue(7)) == len(catalogue(42)) >= 200


def test_counts_and_every_status(db: Session) -> None:
    count = lambda model: db.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
    assert count(m.Product) >= 200
    assert 200 <= count(m.Customer) <= 300  # a few hundred, most of them with one order (tests/security/)
    assert count(m.Order) == 300
    assert 3 <= count(m.PhysicalStore) <= 4
    assert count(m.ShippingZone) == 4
    statuses = Counter(db.execute(select(m.Order.status)).scalars())
    assert set(statuses) == set(m.ORDER_STATUSES)
    assert dict(statuses) == STATUS_PLAN
    assert min(statuses.values()) >= 10
    numbers = db.execute(select(m.Order.number).order_by(m.Order.number)).scalars().all()
    assert numbers[0] == "ORD-100001" and numbers[-1] == "ORD-100300"


def test_catalogue_and_customers_are_realistic(db: Session) -> None:
    categories = set(db.execute(select(m.Product.category)).scalars())
    assert {"Skincare", "Makeup", "Haircare", "Fragrance", "Bath & Body", "Tools & Accessories", "Gift Cards"} == (
        categories
    )
    final_sale = db.execute(select(m.Product).where(m.Product.final_sale.is_(True))).scalars().all()
    assert any(p.category == "Gift Cards" for p in final_sale)
    assert any(p.category != "Gift Cards" and p.attributes.get("clearance") for p in final_sale)
    customers = db.execute(select(m.Customer)).scalars().all()
    assert len({c.email for c in customers}) == len(customers)
    assert {c.country for c in customers} == {"GB", "DE", "FR", "NL", "IE", "US", "CA", "AU"}
    titles = db.execute(select(m.Product.title)).scalars().all()
    assert len(set(titles)) == len(titles)


def test_orders_are_consistent_with_their_status(db: Session) -> None:
    orders = (
        db.execute(
            select(m.Order).options(
                selectinload(m.Order.lines),
                selectinload(m.Order.shipment).selectinload(m.Shipment.events),
                selectinload(m.Order.returns).selectinload(m.Return.lines).selectinload(m.ReturnLine.order_line),
                selectinload(m.Order.refunds),
            )
        )
        .scalars()
        .all()
    )
    lost = 0
    for order in orders:
        assert order.total_pence == order.subtotal_pence + order.shipping_pence
        assert order.subtotal_pence == sum(li.unit_price_pence * li.qty for li in order.lines)
        shipment = order.shipment
        if order.status in {"placed", "paid", "payment_failed", "cancelled"}:
            assert shipment is None, order.number
            assert order.delivered_at is None
        else:
            assert shipment is not None, order.number
            assert shipment.events, order.number
            times = [e.occurred_at for e in shipment.events]
            assert times == sorted(times)
        if order.status == "payment_failed":
            assert order.payment_status == "failed" and order.payment_failure_reason
        if order.status == "delayed":
            assert shipment is not None and shipment.status in {"delayed", "lost"}
            lost += shipment.status == "lost"
        if order.status == "in_transit":
            assert shipment is not None and shipment.status in {"in_transit", "out_for_delivery"}
        if order.status == "delivered":
            assert shipment is not None and shipment.status == "delivered"
            assert shipment.events[-1].status == "delivered"
            assert order.delivered_at is not None
        if order.status in {"return_requested", "returned"}:
            assert order.returns and order.returns[-1].status in {"requested", "approved", "received"}
        if order.status == "returned":
            assert order.refunds and order.refunds[-1].status in {"pending", "processing"}
        if order.status == "refunded":
            assert order.refunds and order.refunds[-1].status == "completed"
        for ret in order.returns:
            assert ret.rma_number.startswith("RMA-5")
            assert all(not rl.order_line.final_sale for rl in ret.lines)
    assert 3 <= lost <= 8


def test_shipping_zones_and_stock(db: Session) -> None:
    zones = {z.code: z for z in db.execute(select(m.ShippingZone)).scalars()}
    assert set(zones) == {"UK", "EU", "NA", "ROW"}
    assert [mt.code for mt in zones["UK"].methods] == ["standard", "express", "next_day"]
    assert all({"standard", "express"} <= {mt.code for mt in z.methods} for z in zones.values())
    assert zones["ROW"].is_fallback and not zones["ROW"].countries
    stock_rows = db.execute(select(func.count()).select_from(m.StoreStock)).scalar_one()
    assert stock_rows > 500
