"""Catalogue, stock and physical shops (`OrderStore.find_products`, `OrderStore.stock`, ...)."""

from __future__ import annotations

import math
import re

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store import models as m
from store.core import StoreCore, money
from store.errors import ProductNotFound, StoreNotFound
from store.policy import SEARCH_STOPWORDS
from store.records import ProductInfo, StockInfo, StoreInfo, StoreStockInfo


def _category_key(text: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", text.lower().replace("&", "and"))
    return key.removesuffix("s")


class Catalogue(StoreCore):
    """Products, categories, online and in-shop stock."""

    @staticmethod
    def _product_info(product: m.Product) -> ProductInfo:
        return ProductInfo(
            sku=product.sku,
            title=product.title,
            description=product.description,
            brand=product.brand,
            category=product.category,
            price=money(product.price_pence),
            attributes=dict(product.attributes or {}),
            final_sale=product.final_sale,
            image_url=product.image_url,
            online_stock=product.online_stock,
        )

    def find_products(self, text: str, limit: int = 10) -> list[ProductInfo]:
        """Find products whose title, brand or category match the words of ``text`` (case-insensitive).

        Products matching the most words come first; only the best-matching tier is returned.

        Args:
            text: e.g. ``"vitamin c serum"``, ``"Maison Verrier"``, ``"fragrance"``.
            limit: Maximum results.

        Returns:
            Matching products (possibly empty).
        """
        words = [w for w in re.findall(r"[\w'-]+", (text or "").lower()) if len(w) >= 2 and w not in SEARCH_STOPWORDS]
        words = [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]
        if not words:
            return []
        with self._session() as session:
            conditions = [
                or_(
                    m.Product.title.icontains(word, autoescape=True),
                    m.Product.brand.icontains(word, autoescape=True),
                    m.Product.category.icontains(word, autoescape=True),
                )
                for word in words
            ]
            products = session.execute(select(m.Product).where(or_(*conditions))).scalars().all()
            phrase = " ".join(words)

            def score(product: m.Product) -> int:
                haystack = f"{product.title} {product.brand} {product.category}".lower()
                return sum(1 for word in words if word in haystack) * 2 + (phrase in product.title.lower())

            scored = sorted(((score(p), p) for p in products), key=lambda pair: (-pair[0], pair[1].sku))
            if not scored:
                return []
            best = scored[0][0] // 2
            return [self._product_info(p) for s, p in scored if s // 2 == best][: max(0, limit)]

    def catalogue(self) -> list[ProductInfo]:
        """Every product, in SKU order (the bot matches what customers name against it).

        Returns:
            All products, in stock or not.
        """
        with self._session() as session:
            return [self._product_info(p) for p in session.execute(select(m.Product).order_by(m.Product.sku)).scalars()]

    def online_stock(self) -> dict[str, int]:
        """Units in online stock by SKU, for every product, in one light query (stock checks of many products).

        Returns:
            SKU -> units (0 when sold out).
        """
        with self._session() as session:
            rows = session.execute(select(m.Product.sku, m.Product.online_stock)).all()
            return {str(sku): int(units) for sku, units in rows}

    def product(self, sku: str) -> ProductInfo:
        """Return one product.

        Args:
            sku: The SKU (case-insensitive).

        Returns:
            The product.

        Raises:
            ProductNotFound: Unknown SKU.
        """
        with self._session() as session:
            product = session.execute(
                select(m.Product).where(m.Product.sku == (sku or "").strip().upper())
            ).scalar_one_or_none()
            if product is None:
                raise ProductNotFound(sku)
            return self._product_info(product)

    def stock(self, sku: str, store_id: str | None = None, near: str | None = None) -> StockInfo:
        """Say how many units of a product are available online and in each (or one) store, and where.

        Args:
            sku: The SKU (case-insensitive).
            store_id: Only this store (e.g. ``"LDN-01"``); all stores when None.
            near: Order the stores by distance from this one (itself first, then the nearest;
                shops without coordinates last) and fill ``distance_km``; by id when None.

        Returns:
            Online quantity and per-store quantities with their shelf locations.

        Raises:
            ProductNotFound: Unknown SKU.
            StoreNotFound: Unknown store id (``store_id`` or ``near``).
        """
        with self._session() as session:
            product = session.execute(
                select(m.Product).where(m.Product.sku == (sku or "").strip().upper())
            ).scalar_one_or_none()
            if product is None:
                raise ProductNotFound(sku)
            stores_stmt = select(m.PhysicalStore).order_by(m.PhysicalStore.id)
            if store_id is not None:
                stores_stmt = stores_stmt.where(m.PhysicalStore.id == store_id.strip().upper())
            stores = list(session.execute(stores_stmt).scalars().all())
            if store_id is not None and not stores:
                raise StoreNotFound(store_id)
            distances: dict[str, float | None] = {}
            if near is not None:
                origin = session.get(m.PhysicalStore, near.strip().upper())
                if origin is None:
                    raise StoreNotFound(near)
                distances = {s.id: _distance_km(origin, s) for s in stores}
                stores.sort(key=lambda s: (distances[s.id] is None, distances[s.id] or 0.0, s.id))
            rows = session.execute(
                select(m.StoreStock.store_id, m.StoreStock.quantity, m.StoreStock.location).where(
                    m.StoreStock.product_id == product.id
                )
            ).all()
            shelf = {row.store_id: (row.quantity, row.location) for row in rows}
            return StockInfo(
                sku=product.sku,
                title=product.title,
                online=product.online_stock,
                stores=tuple(
                    StoreStockInfo(
                        store_id=s.id,
                        store_name=s.name,
                        city=s.city,
                        quantity=shelf.get(s.id, (0, ""))[0],
                        location=shelf.get(s.id, (0, ""))[1] or "",
                        distance_km=distances.get(s.id),
                    )
                    for s in stores
                ),
            )

    def store_quantities(self, store_id: str) -> dict[str, int]:
        """Units on the shelf of one store, by SKU (products it has none of are left out).

        Args:
            store_id: The store (e.g. ``"LDN-01"``).

        Returns:
            ``{sku: quantity}`` for every product with a positive quantity there.

        Raises:
            StoreNotFound: Unknown store id.
        """
        with self._session() as session:
            key = (store_id or "").strip().upper()
            if session.get(m.PhysicalStore, key) is None:
                raise StoreNotFound(store_id)
            rows = session.execute(
                select(m.Product.sku, m.StoreStock.quantity)
                .join(m.StoreStock, m.StoreStock.product_id == m.Product.id)
                .where(m.StoreStock.store_id == key, m.StoreStock.quantity > 0)
            ).all()
            return {sku: quantity for sku, quantity in rows}

    def stores(self) -> list[StoreInfo]:
        """List the physical stores.

        Returns:
            Stores ordered by id.
        """
        with self._session() as session:
            rows = session.execute(select(m.PhysicalStore).order_by(m.PhysicalStore.id)).scalars()
            return [
                StoreInfo(
                    store_id=s.id,
                    name=s.name,
                    city=s.city,
                    address=s.address,
                    postcode=s.postcode,
                    opening_hours=s.opening_hours,
                )
                for s in rows
            ]

    def categories(self) -> list[str]:
        """List product categories.

        Returns:
            Category names, sorted.
        """
        with self._session() as session:
            return list(session.execute(select(m.Product.category).distinct().order_by(m.Product.category)).scalars())

    def _resolve_category(self, session: Session, text: str) -> str | None:
        key = _category_key(text)
        for name in session.execute(select(m.Product.category).distinct()).scalars():
            if _category_key(name) == key:
                return name
        return None

    def popular_products(self, category: str | None = None, limit: int = 5) -> list[ProductInfo]:
        """List best sellers (units ordered), optionally in one category; out-of-stock items are skipped.

        Args:
            category: Category name, loosely matched (``"bath and body"`` finds ``Bath & Body``).
            limit: Maximum results.

        Returns:
            Products, best-selling first (empty for an unknown category).
        """
        with self._session() as session:
            sold = (
                select(m.OrderLine.product_id, func.sum(m.OrderLine.qty).label("units"))
                .group_by(m.OrderLine.product_id)
                .subquery()
            )
            units = func.coalesce(sold.c.units, 0)
            stmt = (
                select(m.Product)
                .outerjoin(sold, sold.c.product_id == m.Product.id)
                .where(m.Product.online_stock > 0)
                .order_by(units.desc(), m.Product.sku)
                .limit(max(0, limit))
            )
            if category:
                name = self._resolve_category(session, category)
                if name is None:
                    return []
                stmt = stmt.where(m.Product.category == name)
            return [self._product_info(p) for p in session.execute(stmt).scalars()]


def _distance_km(origin: m.PhysicalStore, other: m.PhysicalStore) -> float | None:
    """Great-circle distance between two shops, or None when either has no coordinates."""
    if origin.id == other.id:
        return 0.0
    points = (origin.latitude, origin.longitude, other.latitude, other.longitude)
    if any(value is None for value in points):
        return None
    lat1, lon1, lat2, lon2 = (math.radians(float(v)) for v in points)  # type: ignore[arg-type]
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return round(2 * 6371.0 * math.asin(math.sqrt(a)), 1)
