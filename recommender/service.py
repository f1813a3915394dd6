"""The serving facade: ``recommend``, ``similar``, ``bought_together`` and ``popular`` over trained
artifacts. Called by the action server and the gateway; loaded once per process with
:func:`get_recommender`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import Catalog
from recommender.errors import UnknownProduct
from recommender.models.base import FloatMatrix, IntArray, zscore_rows

if TYPE_CHECKING:
    from recommender.models.content import ContentModel
    from recommender.models.hybrid import HybridModel
    from recommender.models.knn import ItemKNN
    from recommender.models.popularity import Popularity

DEFAULT_ARTIFACTS = Path("var") / "recommender"
ARTIFACTS_ENV = "RECOMMENDER_ARTIFACTS"

StockCheck = Callable[[str], bool] | Collection[str]


@dataclass(frozen=True)
class Filters:
    """Constraints on what may be recommended.

    Attributes:
        category: Only products of this category (case-insensitive).
        min_price: Only products priced at least this (products without a price are dropped
            when a price bound is set).
        max_price: Only products priced at most this.
        in_stock: A set of product ids that are in stock, or a callable ``product_id -> bool``
            (e.g. the order store's stock check for one store); called lazily, best first, only
            until ``k`` products pass.
        exclude: Product ids never to return (e.g. already in the basket).
    """

    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    in_stock: StockCheck | None = None
    exclude: Collection[str] = ()


@dataclass(frozen=True)
class Recommendation:
    """One recommended product with what a product card needs.

    Attributes:
        product_id: The product.
        score: Model score (only comparable within one answer).
        reason: ``"personal"``, ``"popular"``, ``"similar"`` or ``"bought_together"``.
        title: Display title from the trained catalogue ("" when unknown).
        price: Price from the trained catalogue (the store may have a newer one).
        category: Category from the trained catalogue.
    """

    product_id: str
    score: float
    reason: str
    title: str = ""
    price: float | None = None
    category: str | None = None


class Recommender:
    """Answers recommendation requests from fitted models (see :meth:`load`)."""

    def __init__(
        self,
        catalog: Catalog,
        popularity: Popularity,
        item_knn: ItemKNN | None,
        content: ContentModel | None,
        hybrid: HybridModel | None,
        histories: dict[str, IntArray],
        purchases: dict[str, IntArray],
        co_purchase: sparse.csr_matrix,
        rebuyable: npt.NDArray[np.bool_],
    ) -> None:
        self.catalog = catalog
        self.popularity = popularity
        self.item_knn = item_knn
        self.content = content
        self.hybrid = hybrid
        self.histories = histories
        self.purchases = purchases
        self.co_purchase = co_purchase.tocsr()
        self.rebuyable = rebuyable
        self._prices = catalog.prices()
        self._categories = np.array([(c or "").casefold() for c in catalog.categories()], dtype=object)

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Recommender:
        """Load artifacts written by ``python -m recommender train``.

        Args:
            directory: Artifact folder; default ``$RECOMMENDER_ARTIFACTS`` or ``var/recommender``.

        Raises:
            ArtifactsNotFound: When the folder holds no trained artifacts.
        """
        from recommender.artifacts import load_recommender

        return load_recommender(Path(directory) if directory else default_artifacts_dir())

    # ------------------------------------------------------------------ requests
    def known_customer(self, customer: str | None) -> bool:
        """True when the customer has a purchase history in the trained data."""
        return customer is not None and customer in self.histories

    def recommend(
        self,
        customer: str | None,
        k: int = 10,
        filters: Filters | None = None,
        history: Sequence[str] | None = None,
    ) -> list[Recommendation]:
        """Personal picks for a customer; popular picks for unknown or new customers.

        Args:
            customer: Customer id (None or unknown = cold start).
            k: How many products.
            filters: Category / price / stock constraints.
            history: Product ids the customer bought, oldest first, when the caller knows more
                than the trained data (e.g. fresh from the order store); appended to the trained
                history. Unknown product ids are ignored.

        Returns:
            Up to ``k`` recommendations, best first; never a product the customer already
            bought unless it is consumable and customers do rebuy it.
        """
        items = self._history(customer, history)
        bought = self._bought(customer, history)
        blocked = bought[~self.rebuyable[bought]]
        if len(items) == 0 or self.hybrid is None:
            return self.popular(k, filters, trending=True, exclude_items=blocked)
        scores = self.hybrid.score([items])[0]
        chosen = self._select(scores, k, filters, blocked)
        result = [self._rec(i, scores[i], "personal") for i in chosen]
        if len(result) < k:  # not enough personal picks passed the filters: top up
            seen = set(chosen) | {int(i) for i in blocked}
            extra = self.popular(k, filters, trending=True, exclude_items=np.array(sorted(seen)))
            result += extra[: k - len(result)]
        return result

    def popular(
        self,
        k: int = 10,
        filters: Filters | None = None,
        trending: bool = True,
        exclude_items: IntArray | None = None,
    ) -> list[Recommendation]:
        """The most bought (``trending``: recently most bought) products that pass ``filters``."""
        values = self.popularity.trending if trending else self.popularity.counts
        scores = np.asarray(values, dtype=np.float32)
        blocked = exclude_items if exclude_items is not None else np.zeros(0, np.int64)
        chosen = self._select(scores, k, filters, blocked)
        return [self._rec(i, scores[i], "popular") for i in chosen]

    def similar(self, product_id: str, k: int = 10, filters: Filters | None = None) -> list[Recommendation]:
        """Products like ``product_id``: co-interaction neighbours blended with content
        similarity; a product nobody has bought yet is matched on content alone.

        Raises:
            UnknownProduct: When the product is not in the trained catalogue.
        """
        item = self._item(product_id)
        scores = self._similar_scores(item)
        chosen = self._select(scores, k, filters, np.array([item]))
        return [self._rec(i, scores[i], "similar") for i in chosen]

    def bought_together(self, product_id: str, k: int = 5, filters: Filters | None = None) -> list[Recommendation]:
        """What customers bought with ``product_id`` (same order or right before/after it);
        topped up with similar products when the data has too few pairs.

        Raises:
            UnknownProduct: When the product is not in the trained catalogue.
        """
        item = self._item(product_id)
        row = self.co_purchase.getrow(item)
        scores = np.full(len(self.catalog), -np.inf, dtype=np.float32)
        scores[row.indices] = row.data + 1e-6 * self.popularity.counts[row.indices]
        mask = np.isfinite(scores)
        chosen = self._select(scores, k, filters, np.array([item]), allowed=mask)
        result = [self._rec(i, scores[i], "bought_together") for i in chosen]
        if len(result) < k:
            taken = {r.product_id for r in result}
            for rec in self.similar(product_id, k, filters):
                if rec.product_id not in taken and len(result) < k:
                    result.append(rec)
        return result

    # ------------------------------------------------------------------ helpers
    def _item(self, product_id: str) -> int:
        try:
            return self.catalog.index(product_id)
        except KeyError:
            raise UnknownProduct(product_id) from None

    def _history(self, customer: str | None, extra: Sequence[str] | None) -> IntArray:
        base = self.histories.get(customer, np.zeros(0, np.int64)) if customer else None
        items = np.zeros(0, np.int64) if base is None else base
        if extra:
            known = [self.catalog.index(p) for p in extra if p in self.catalog]
            items = np.concatenate([items, np.array(known, dtype=np.int64)])
        return items.astype(np.int64)

    def _bought(self, customer: str | None, extra: Sequence[str] | None) -> IntArray:
        base = self.purchases.get(customer) if customer else None
        items = np.zeros(0, np.int64) if base is None else base
        if extra:
            known = [self.catalog.index(p) for p in extra if p in self.catalog]
            items = np.concatenate([items, np.array(known, dtype=np.int64)])
        return np.unique(items.astype(np.int64))

    def _similar_scores(self, item: int) -> FloatMatrix:
        n = len(self.catalog)
        trained = self.hybrid.trained if self.hybrid is not None else np.ones(n, dtype=bool)
        knn: FloatMatrix | None = None
        if self.item_knn is not None and trained[item]:
            knn = np.zeros(n, dtype=np.float32)
            r = self.item_knn.similarity.getrow(item)
            knn[r.indices] = r.data
            knn = zscore_rows(knn[None, :])[0]
        content = None
        if self.content is not None:
            content = zscore_rows(self.content.similar_to(item)[None, :])[0]
        pop = 1e-4 * np.log1p(self.popularity.counts).astype(np.float32)  # tie-breaker
        if knn is None and content is None:
            return pop * 1e4
        if knn is None:
            return content + pop  # type: ignore[operator]
        if content is None:
            return knn + pop
        total = knn + content
        # Products nobody has bought yet have no co-purchase signal: content stands in for it.
        total[~trained] = 2.0 * content[~trained]
        return total + pop

    def _static_mask(self, filters: Filters | None) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self.catalog), dtype=bool)
        if filters is None:
            return mask
        if filters.category:
            mask &= self._categories == filters.category.casefold()
        if filters.min_price is not None:
            mask &= np.nan_to_num(self._prices, nan=-np.inf) >= filters.min_price
        if filters.max_price is not None:
            mask &= np.nan_to_num(self._prices, nan=np.inf) <= filters.max_price
        for pid in filters.exclude:
            if pid in self.catalog:
                mask[self.catalog.index(pid)] = False
        if filters.in_stock is not None and not callable(filters.in_stock):
            stock = filters.in_stock
            mask &= np.array([p in stock for p in self.catalog.ids], dtype=bool)
        return mask

    def _select(
        self,
        scores: FloatMatrix,
        k: int,
        filters: Filters | None,
        blocked: IntArray,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> list[int]:
        """Best ``k`` items by score that pass the filters (ties: lower item index first)."""
        if k <= 0:
            return []
        mask = self._static_mask(filters)
        if allowed is not None:
            mask &= allowed
        if len(blocked):
            mask[blocked] = False
        candidates = np.flatnonzero(mask)
        if len(candidates) == 0:
            return []
        cand_scores = scores[candidates]
        check = filters.in_stock if filters is not None and callable(filters.in_stock) else None
        want = k if check is None else min(len(candidates), 4 * k)
        while True:
            if want < len(candidates):
                part = np.argpartition(-cand_scores, want - 1)[:want]
            else:
                part = np.arange(len(candidates))
            order = part[np.lexsort((candidates[part], -cand_scores[part]))]
            chosen: list[int] = []
            for idx in order:
                item = int(candidates[idx])
                if check is None or check(self.catalog.products[item].product_id):
                    chosen.append(item)
                    if len(chosen) == k:
                        return chosen
            if want >= len(candidates):
                return chosen
            want = min(len(candidates), want * 4)

    def _rec(self, item: int, score: float, reason: str) -> Recommendation:
        p = self.catalog.products[item]
        return Recommendation(p.product_id, float(score), reason, p.title, p.price, p.category)


def default_artifacts_dir() -> Path:
    """``$RECOMMENDER_ARTIFACTS`` or ``var/recommender``."""
    return Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)


_cache: dict[Path, Recommender] = {}
_lock = threading.Lock()


def get_recommender(directory: str | Path | None = None) -> Recommender:
    """The process-wide recommender for ``directory``, loaded on first use."""
    path = Path(directory) if directory else default_artifacts_dir()
    key = path.resolve()
    with _lock:
        if key not in _cache:
            _cache[key] = Recommender.load(path)
        return _cache[key]


def reset_recommender() -> None:
    """Forget loaded recommenders (tests; after retraining)."""
    with _lock:
        _cache.clear()
