"""Reads the order store (read-only) into a catalogue and an interaction log for training, and the
orders placed since then for incremental updates.

Used by ``python -m recommender train --from-store``, the refresher of :mod:`recommender.updates`
and the action tests. It only runs SELECTs on the store's tables through SQLAlchemy and never
writes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from recommender.data import Catalog, Interactions, NewOrder, Product

#: Categories whose products are durable: never suggested again to a customer who has one.
DURABLE_CATEGORIES = frozenset({"Tools & Accessories"})
#: Order states that do not count as a purchase.
NOT_BOUGHT = frozenset({"cancelled"})
#: Order ids below the newest one that the training read remembers (see ``OrderFeed``).
LOOKBACK = 1000


@dataclass(frozen=True)
class ShopData:
    """What was read from the store.

    Attributes:
        interactions: One event per order line (customer id, SKU, weight 1, placed time).
        products: Products in the catalogue (including never-ordered ones).
        order_lines: Order lines read (after dropping cancelled orders).
        customers: Customers with at least one order line.
        last_order_id: The newest order id when the store was read (the update watermark).
        recent_order_ids: Ids of the orders within ``LOOKBACK`` of it that the read saw.
    """

    interactions: Interactions
    products: int
    order_lines: int
    customers: int
    last_order_id: int = 0
    recent_order_ids: tuple[int, ...] = ()

    def source(self) -> dict[str, Any]:
        """A summary recorded in the artifact manifest (the update feed starts from it)."""
        return {
            "products": self.products,
            "order_lines": self.order_lines,
            "customers": self.customers,
            "last_order_id": self.last_order_id,
            "recent_order_ids": list(self.recent_order_ids),
        }


def _tokens(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    for key, value in sorted(attributes.items()):
        if isinstance(value, bool):
            if value:
                out.append(str(key).lower())
        elif value not in (None, ""):
            out.append(f"{key}={value}".lower().replace(" ", "_"))
    return tuple(out)


def product_from_row(
    sku: str,
    title: str,
    description: str,
    brand: str,
    category: str,
    price_pence: int,
    attributes: Mapping[str, Any] | None,
    final_sale: bool,
    durable: Collection[str] = DURABLE_CATEGORIES,
) -> Product:
    """The recommender's view of one store product.

    The brand is part of the embedded text (added to the description when the title lacks it),
    attributes and the final-sale flag become TF-IDF tokens, and a product is consumable unless its category is
    durable or its attributes say ``consumable: false``.
    """
    attrs = dict(attributes or {})
    tokens = [f"brand={brand}".lower().replace(" ", "_"), *_tokens(attrs)]
    if final_sale:
        tokens.append("final_sale")
    consumable = attrs.get("consumable")
    text = description or ""
    if brand and brand.lower() not in title.lower():
        text = f"{text} By {brand}.".strip()
    return Product(
        product_id=sku,
        title=title,
        description=text,
        category=category,
        price=price_pence / 100.0,
        attributes=tuple(dict.fromkeys(tokens)),
        consumable=bool(consumable) if consumable is not None else category not in durable,
    )


def _epoch(value: datetime) -> float:
    """The store keeps naive UTC datetimes."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def read_shop(engine: Engine) -> ShopData:
    """Read products and order lines from the store behind ``engine`` (SELECTs only).

    Args:
        engine: An engine on the order store's database.

    Returns:
        The interaction log (customers are ``str(customer_id)``, products are SKUs, the
        timestamp is when the order was placed) and counts.
    """
    from store import models as m

    with engine.connect() as conn:
        # The watermark first: orders above it are left to the update feed.
        last_id = int(conn.execute(select(func.coalesce(func.max(m.Order.id), 0))).scalar_one())
        rows = conn.execute(
            select(
                m.Product.sku,
                m.Product.title,
                m.Product.description,
                m.Product.brand,
                m.Product.category,
                m.Product.price_pence,
                m.Product.attributes,
                m.Product.final_sale,
            ).order_by(m.Product.sku)
        ).all()
        lines = conn.execute(
            select(m.Order.customer_id, m.OrderLine.sku, m.Order.placed_at, m.Order.id)
            .join(m.Order, m.Order.id == m.OrderLine.order_id)
            .where(m.Order.status.not_in(sorted(NOT_BOUGHT)), m.Order.id <= last_id)
            .order_by(m.Order.placed_at, m.OrderLine.id)
        ).all()
        conn.rollback()  # nothing was written; end the read transaction explicitly
    catalog = Catalog(tuple(product_from_row(*row) for row in rows))
    records = [(str(customer), sku, 1.0, _epoch(placed)) for customer, sku, placed, _ in lines]
    # The recent orders this read counted: the feed skips them even if their id is below an
    # order committed earlier (ids are taken at insert, rows appear at commit).
    recent_ids = tuple(sorted({int(i) for *_, i in lines if i > last_id - LOOKBACK}))
    interactions = Interactions.from_records(records, catalog)
    return ShopData(interactions, len(catalog), len(records), interactions.n_users, last_id, recent_ids)


def read_new_orders(engine: Engine, after_id: int) -> list[NewOrder]:
    """Orders with an id above ``after_id`` that are not cancelled, oldest id first (SELECTs only).

    Args:
        engine: An engine on the order store's database.
        after_id: Read orders with a larger id.

    Returns:
        One :class:`NewOrder` per order that has lines (customer ``str(customer_id)``, SKUs in
        line order, placed time in epoch seconds, as :func:`read_shop` reads them).
    """
    from store import models as m

    with engine.connect() as conn:
        rows = conn.execute(
            select(m.Order.id, m.Order.customer_id, m.Order.placed_at, m.OrderLine.sku)
            .join(m.OrderLine, m.OrderLine.order_id == m.Order.id)
            .where(m.Order.id > after_id, m.Order.status.not_in(sorted(NOT_BOUGHT)))
            .order_by(m.Order.id, m.OrderLine.id)
        ).all()
        conn.rollback()  # nothing was written; end the read transaction explicitly
    orders: list[NewOrder] = []
    for order_id, customer, placed, sku in rows:
        if orders and orders[-1].order_id == order_id:
            last = orders[-1]
            orders[-1] = NewOrder(last.order_id, last.customer, (*last.skus, sku), last.placed)
        else:
            orders.append(NewOrder(int(order_id), str(customer), (sku,), _epoch(placed)))
    return orders


def read_shop_from_settings(database_url: str | None = None) -> tuple[ShopData, str]:
    """Read the store at ``database_url`` (default: the store's settings, ``SHOP_DATABASE_URL``).

    Returns:
        The data and the URL it came from, with any password hidden.
    """
    from sqlalchemy.engine import make_url

    from store.db import make_engine
    from store.settings import Settings

    url = database_url or Settings.from_env().database_url
    engine = make_engine(url)
    try:
        return read_shop(engine), make_url(url).render_as_string(hide_password=True)
    finally:
        engine.dispose()
