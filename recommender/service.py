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
from recommender.models.base import FloatMatrix, IntArray, top_indices

if TYPE_CHECKING:
    from recommender.models.content import ContentModel
    from recommender.models.hybrid import HybridModel
    from recommender.models.knn import ItemKNN
    from recommender.models.popularity import Popularity

#: ``var/recommender`` in the checkout (where ``make run`` builds it), whatever the working directory.
DEFAULT_ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "recommender"
ARTIFACTS_ENV = "RECOMMENDER_ARTIFACTS"

StockCheck = Callable[[str], bool] | Collection[str]
#: Weight of the item-kNN cosine next to the content cosine in :meth:`Recommender.similar`.
KNN_WEIGHT = 0.5


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
        # Categories as small integer codes: a filter is one integer comparison over the catalogue.
        names = [(c or "").casefold() for c in catalog.categories()]
        self._category_codes = {name: code for code, name in enumerate(dict.fromkeys(names))}
        self._categories = np.array([self._category_codes[n] for n in names], dtype=np.int32)

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
    def categories(self) -> list[str]:
        """Category names of the trained catalogue."""
        return sorted({p.category for p in self.catalog.products if p.category})

    def known_customer(self, customer: str | None) -> bool:
        """True when the customer has a purchase history in the trained data."""
        return customer is not None and customer in self.histories

    def recommend(
        self,
        customer: str | None,
        k: int = 10,
        filters: Filters | None = None,
        history: Sequence[str] | None = None,
        rebuy: bool = True,
    ) -> list[Recommendation]:
        """Personal picks for a customer; popular picks for unknown or new customers.

        Args:
            customer: Customer id (None or unknown = cold start).
            k: How many products.
            filters: Category / price / stock constraints.
            history: Product ids the customer bought, oldest first, when the caller knows more
                than the trained data (e.g. fresh from the order store); appended to the trained
                history. Unknown product ids are ignored.
            rebuy: Whether consumables that customers do buy again may come back; False never
                returns anything the customer bought.

        Returns:
            Up to ``k`` recommendations, best first; never a product the customer already
            bought unless it is consumable, customers do rebuy it and ``rebuy`` is True.
        """
        items = self._history(customer, history)
        bought = self._bought(customer, history)
        blocked = bought[~self.rebuyable[bought]] if rebuy else bought
        if len(items) == 0 or self.hybrid is None:
            return self.popular(k, filters, trending=True, exclude_items=blocked)
        # A known customer's best items were ranked when the artifacts were built: filter those,
        # and score every item only when too few of them pass (or the history is new).
        pool = self.hybrid.candidates(items)
        if pool is not None:
            chosen = self._select(pool[1], k, filters, blocked, pool_items=pool[0])
            if len(chosen) == k:
                score_of = dict(zip(pool[0].tolist(), pool[1].tolist(), strict=True))
                return [self._rec(i, score_of[i], "personal") for i in chosen]
        scores = self.hybrid.score_one(items)
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
        """The trained history, then the caller's products that it does not hold yet."""
        base = self.histories.get(customer) if customer else None
        items = np.zeros(0, np.int64) if base is None else np.asarray(base, dtype=np.int64)
        if extra:
            have = set(items.tolist())
            known = [i for i in (self.catalog.index(p) for p in extra if p in self.catalog) if i not in have]
            if known:
                items = np.concatenate([items, np.array(known, dtype=np.int64)])
        return items

    def _bought(self, customer: str | None, extra: Sequence[str] | None) -> IntArray:
        base = self.purchases.get(customer) if customer else None
        items = np.zeros(0, np.int64) if base is None else base
        if extra:
            known = [self.catalog.index(p) for p in extra if p in self.catalog]
            items = np.concatenate([items, np.array(known, dtype=np.int64)])
        return np.unique(items.astype(np.int64))

    def _similar_scores(self, item: int) -> FloatMatrix:
        """Content cosine plus ``KNN_WEIGHT`` x item-kNN cosine, with a popularity tie-breaker.

        "Like this product" is first what the product is (its text), then what the same
        customers bought: the kNN cosine is shrunk towards 0 when few customers support it, so
        on a small or noisy purchase log it only reorders products that read alike. A product
        nobody has bought yet has no kNN row and is matched on content alone.
        """
        n = len(self.catalog)
        total = np.zeros(n, dtype=np.float32)
        if self.content is not None:
            total += self.content.similar_to(item)
        if self.item_knn is not None:
            r = self.item_knn.similarity.getrow(item)
            total[r.indices] += np.float32(KNN_WEIGHT) * r.data
        return total + 1e-4 * np.log1p(self.popularity.counts).astype(np.float32)

    def _static_mask(self, filters: Filters | None) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self.catalog), dtype=bool)
        if filters is None:
            return mask
        if filters.category:
            mask &= self._categories == self._category_codes.get(filters.category.casefold(), -1)
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
        pool_items: IntArray | None = None,
    ) -> list[int]:
        """Best ``k`` items by score that pass the filters (ties: lower item index first).

        ``scores`` covers every item, or, with ``pool_items``, only those items (in that order).
        """
        if k <= 0:
            return []
        mask = self._static_mask(filters)
        if allowed is not None:
            mask &= allowed
        if len(blocked):
            mask[blocked] = False
        if pool_items is None:
            candidates = np.flatnonzero(mask)
            cand_scores = scores[candidates]
        else:
            keep = mask[pool_items]
            candidates, cand_scores = pool_items[keep], scores[keep]
        if len(candidates) == 0:
            return []
        check = filters.in_stock if filters is not None and callable(filters.in_stock) else None
        want = k if check is None else min(len(candidates), 4 * k)
        while True:
            # Candidates are in item order (or cache order, best first): position ties = item ties.
            order = top_indices(cand_scores, min(want, len(candidates)))
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


_cache: dict[Path, tuple[float, Recommender]] = {}
_lock = threading.Lock()


def get_recommender(directory: str | Path | None = None) -> Recommender:
    """The process-wide recommender for ``directory``, loaded on first use and loaded again
    only when the artifacts are retrained (their manifest changes).

    Raises:
        ArtifactsNotFound: When the folder holds no trained artifacts.
    """
    from recommender.artifacts import MANIFEST

    path = Path(directory) if directory else default_artifacts_dir()
    key = path.resolve()
    try:
        stamp = (key / MANIFEST).stat().st_mtime
    except OSError:
        stamp = -1.0
    with _lock:
        hit = _cache.get(key)
        if hit is None or hit[0] != stamp:
            _cache[key] = (stamp, Recommender.load(path))
        return _cache[key][1]


def reset_recommender() -> None:
    """Forget loaded recommenders (tests; after retraining)."""
    with _lock:
        _cache.clear()
