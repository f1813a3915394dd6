"""The shop's catalogue as the web pages show it: featured products and a demo case for the demo page, and drawn
product pictures.

Called by the web channel: ``GET /`` and ``/shop`` list featured products from the order store and suggest an
order to ask about (the first of ``OrderStore.demo_cases``, so it always matches the seeded data), and
``GET /media/products/<sku>.svg`` draws a product's picture (the demo catalogue has no photographs; a shop's
own ``image_url`` would point at its real ones). Both are read lazily and kept for a minute, so the page
costs one read a minute, not one per visitor. Drawing is pure and escapes every text it places.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from store.db import make_engine
from store.errors import ProductNotFound
from store.records import ProductInfo
from store.service import OrderStore
from store.settings import Settings as StoreSettings

log = logging.getLogger(__name__)

SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
#: Colours per category (background, shape, ink); anything else gets a colour from its SKU.
PALETTE = {
    "Skincare": ("#e9f2ee", "#7fb59c", "#1f4d3a"),
    "Makeup": ("#f7e8ee", "#d98aa8", "#5c1f38"),
    "Haircare": ("#f3ecdf", "#c9a06a", "#4d3617"),
    "Fragrance": ("#ece9f6", "#9a8acb", "#2f2557"),
    "Bath & Body": ("#e6f1f6", "#7fb2c9", "#1d4354"),
    "Tools & Accessories": ("#eceff1", "#8d9aa5", "#26323b"),
    "Gift Cards": ("#fbf1dc", "#e0b04b", "#5a3d00"),
}
CACHE_SECONDS = 60.0
#: Domains reserved for examples (RFC 2606): the demo shop's customers have their e-mails there, a real
#: shop's customers do not, so a real customer is never suggested on the page.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True, slots=True)
class DemoExample:
    """An order of the demo shop and the e-mail that proves it, suggested on the demo page."""

    order_number: str
    email: str


def demo_example(cases: Sequence[dict[str, object]]) -> DemoExample | None:
    """The first demo case (``OrderStore.demo_cases``) whose e-mail is on an example domain, or None.

    Args:
        cases: demo cases, as ``python -m store demo-cases`` prints them.

    Returns:
        Its order number and e-mail; None when no case has an example-domain e-mail (not the demo shop).
    """
    for case in cases:
        number, email = case.get("order_number"), case.get("email")
        if not isinstance(number, str) or not isinstance(email, str):
            continue
        domain = email.rpartition("@")[2].lower()
        if any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS):
            return DemoExample(number, email)
    return None


def product_svg(sku: str, title: str | None = None, brand: str | None = None, category: str | None = None) -> bytes:
    """A 320x320 picture of a product: a bottle, jar or tube on its category's colour, with its brand on a label.

    Args:
        sku: the product's SKU (picks the shape and, for unknown categories, the colour).
        title: the product's title (the picture's accessible name), or None for an unknown product.
        brand: its brand, written on the label.
        category: its category, written under the product.

    Returns:
        SVG bytes with explicit width and height (so browsers give it a natural size) and no script.
    """
    seed = int(hashlib.sha256(sku.encode()).hexdigest()[:8], 16)
    if category in PALETTE:
        back, shape, ink = PALETTE[category]
    else:
        hue = seed % 360
        back, shape, ink = f"hsl({hue},40%,94%)", f"hsl({hue},35%,62%)", f"hsl({hue},45%,22%)"
    kind = seed % 3
    if kind == 0:  # a bottle with a cap
        body = (
            f'<rect x="132" y="52" width="56" height="34" rx="6" fill="{ink}" opacity=".85"/>'
            f'<rect x="100" y="84" width="120" height="170" rx="24" fill="{shape}"/>'
        )
    elif kind == 1:  # a jar
        body = (
            f'<rect x="76" y="112" width="168" height="30" rx="8" fill="{ink}" opacity=".85"/>'
            f'<rect x="68" y="140" width="184" height="114" rx="26" fill="{shape}"/>'
        )
    else:  # a tube
        body = (
            f'<rect x="140" y="44" width="40" height="28" rx="4" fill="{ink}" opacity=".85"/>'
            f'<path d="M116 72 H204 L230 254 H90 Z" fill="{shape}"/>'
        )
    label = (brand or "").strip()[:22]
    size = max(8, min(15, int(124 / (0.62 * max(1, len(label))))))  # fits the 132 px label
    tag = (
        f'<rect x="94" y="176" width="132" height="36" rx="6" fill="#fff" opacity=".92"/>'
        f'<text x="160" y="{194 + size // 3}" text-anchor="middle" font-family="sans-serif" font-size="{size}" '
        f'font-weight="700" fill="{ink}">{escape(label)}</text>'
        if label
        else ""
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="320" viewBox="0 0 320 320" role="img" '
        f'aria-label="{escape(title or "Product picture", quote=True)}">'
        f'<rect width="320" height="320" fill="{back}"/>{body}{tag}'
        f'<text x="160" y="292" text-anchor="middle" font-family="sans-serif" font-size="14" fill="{ink}" '
        f'opacity=".8">{escape(category or "")}</text>'
        "</svg>"
    ).encode()


class Catalogue:
    """Products from the order store for the web pages (thread-safe; run its reads in a worker thread)."""

    def __init__(
        self,
        shop_db_url: str | None = None,
        *,
        load: Callable[[], Sequence[ProductInfo]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read from ``shop_db_url`` (or ``load``, for tests: products only, no demo case); nothing is opened
        yet."""
        self._url = shop_db_url
        self._load = load
        self._clock = clock
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._products: dict[str, ProductInfo] = {}
        self._featured: list[ProductInfo] = []
        self._example: DemoExample | None = None
        self._read_at = float("-inf")

    def _read(self) -> tuple[list[ProductInfo], dict[str, ProductInfo], DemoExample | None]:
        if self._load is not None:
            loaded = list(self._load())
            return loaded[:8], {p.sku.upper(): p for p in loaded}, None
        if self._engine is None:
            url = StoreSettings.from_env({"SHOP_DATABASE_URL": self._url or ""}).database_url
            self._engine = make_engine(url)
        store = OrderStore(sessionmaker(self._engine))
        featured: list[ProductInfo] = []
        for category in store.categories():
            if category == "Gift Cards":
                continue
            featured += store.popular_products(category, limit=2)
        featured = featured[:8]
        products = {p.sku.upper(): p for p in featured}
        return featured, products, demo_example(store.demo_cases())

    def _refresh(self) -> None:
        if self._clock() - self._read_at < CACHE_SECONDS:
            return
        try:
            featured, products, example = self._read()
        except SQLAlchemyError as exc:  # the page still works: without products, and it tries again next minute
            log.warning("cannot read the catalogue from the order store: %s", exc)
            featured, products, example = [], {}, None
        self._featured, self._products, self._example, self._read_at = featured, products, example, self._clock()

    def featured(self) -> list[ProductInfo]:
        """Up to eight popular products, two per category (read at most once a minute)."""
        with self._lock:
            self._refresh()
            return list(self._featured)

    def example(self) -> DemoExample | None:
        """The demo case the page suggests (read at most once a minute), or None outside the demo shop."""
        with self._lock:
            self._refresh()
            return self._example

    def product(self, sku: str) -> ProductInfo | None:
        """The product with this SKU, if the order store has it."""
        if not SKU.match(sku):
            return None
        with self._lock:
            self._refresh()
            found = self._products.get(sku.upper())
        if found is not None or self._load is not None:
            return found
        try:
            if self._engine is None:
                return None
            try:
                found = OrderStore(sessionmaker(self._engine)).product(sku.upper())
            except ProductNotFound:
                return None
        except SQLAlchemyError as exc:
            log.warning("cannot read product %s from the order store: %s", sku, type(exc).__name__)
            return None
        with self._lock:
            if len(self._products) < 5000:
                self._products[sku.upper()] = found
        return found

    def close(self) -> None:
        """Dispose of the order-store engine, if one was opened."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
