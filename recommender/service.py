"""The serving facade: ``recommend``, ``similar``, ``bought_together`` and ``popular`` over trained
artifacts. Called by the action server and the gateway; loaded once per process with
:func:`get_recommender`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.artifacts import MANIFEST
from recommender.data import Catalog, NewOrder
from recommender.errors import UnknownProduct
from recommender.loader import load_parts
from recommender.models.base import FloatVector, IntArray, gather_rows, merge_top, top_indices
from recommender.models.content import ContentModel
from recommender.models.hybrid import HybridModel
from recommender.models.knn import ItemKNN, SequentialRules
from recommender.models.popularity import Popularity
from recommender.updates import Refresher, UpdateResult, apply_orders, rebuild_hours, refresh_seconds

#: ``rank(allowed, want) -> (items, scores)``: the best ``want`` allowed items, best first.
Ranker = Callable[[npt.NDArray[np.bool_] | None, int], tuple[IntArray, FloatVector]]

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
        timestamps: dict[str, npt.NDArray[np.float64]] | None = None,
        manifest: dict[str, Any] | None = None,
        seq_rules: SequentialRules | None = None,
        directory: Path | None = None,
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
        # Event times of the histories (same-order pairs of incremental "bought together" updates).
        self.timestamps = timestamps if timestamps is not None else {}
        self.manifest = manifest or {}
        self.seq_rules = seq_rules
        self.directory = directory
        #: Orders applied since the artifacts were built (see :meth:`add_orders`).
        self.orders_applied = 0
        self.update_lock = threading.Lock()
        self._prices = catalog.prices()
        # Categories as small integer codes: a filter is one integer comparison over the catalogue.
        names = [(c or "").casefold() for c in catalog.categories()]
        self._category_codes = {name: code for code, name in enumerate(dict.fromkeys(names))}
        self._categories = np.array([self._category_codes[n] for n in names], dtype=np.int32)
        self.refresh_orders()

    def refresh_orders(self) -> None:
        """Recompute the popularity orders (after :meth:`add_orders` changed the counts)."""
        n = len(self.catalog)
        counts, trending = self.popularity.counts, self.popularity.trending
        tie = 1e-4 * np.log1p(counts).astype(np.float32)
        self._orders = {
            True: np.lexsort((np.arange(n), -np.asarray(trending, dtype=np.float32))).astype(np.int64),
            False: np.lexsort((np.arange(n), -np.asarray(counts, dtype=np.float32))).astype(np.int64),
        }
        # "like this" outside any similarity: the popularity tie-breaker alone, best first.
        self._tie = tie
        self._tie_order = np.lexsort((np.arange(n), -tie)).astype(np.int64)

    @classmethod
    def load(cls, directory: str | Path | None = None) -> Recommender:
        """Load artifacts written by ``python -m recommender train``.

        Args:
            directory: Artifact folder; default ``$RECOMMENDER_ARTIFACTS`` or ``var/recommender``.

        Raises:
            ArtifactsNotFound: When the folder holds no trained artifacts.
        """
        return cls(**load_parts(Path(directory) if directory else default_artifacts_dir()))

    # ------------------------------------------------------------------ requests
    def categories(self) -> list[str]:
        """Category names of the trained catalogue."""
        return sorted({p.category for p in self.catalog.products if p.category})

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
        hybrid = self.hybrid
        if len(items) == 0 or hybrid is None:
            return self.popular(k, filters, trending=True, exclude_items=blocked)
        # Exact top of the hybrid at the cost of the items its sparse components score.
        picks = self._pick(lambda allowed, want: hybrid.ranked(items, want, allowed), k, filters, blocked)
        result = [self._rec(i, s, "personal") for i, s in picks]
        if len(result) < k:  # not enough personal picks passed the filters: top up
            seen = {i for i, _ in picks} | {int(i) for i in blocked}
            extra = self.popular(k, filters, trending=True, exclude_items=np.array(sorted(seen), dtype=np.int64))
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
        values = np.asarray(self.popularity.trending if trending else self.popularity.counts, dtype=np.float32)
        order = self._orders[trending]
        blocked = exclude_items if exclude_items is not None else np.zeros(0, np.int64)

        def rank(allowed: npt.NDArray[np.bool_] | None, want: int) -> tuple[IntArray, FloatVector]:
            return merge_top(want, allowed, len(values), groups=[(order, values[order], 0.0)])

        return [self._rec(i, s, "popular") for i, s in self._pick(rank, k, filters, blocked)]

    def similar(self, product_id: str, k: int = 10, filters: Filters | None = None) -> list[Recommendation]:
        """Products like ``product_id``: co-interaction neighbours blended with content
        similarity; a product nobody has bought yet is matched on content alone.

        Raises:
            UnknownProduct: When the product is not in the trained catalogue.
        """
        item = self._item(product_id)
        chosen = self._pick(self._similar_ranker(item), k, filters, np.array([item]))
        return [self._rec(i, s, "similar") for i, s in chosen]

    def bought_together(self, product_id: str, k: int = 5, filters: Filters | None = None) -> list[Recommendation]:
        """What customers bought with ``product_id`` (same order or right before/after it);
        topped up with similar products when the data has too few pairs.

        Raises:
            UnknownProduct: When the product is not in the trained catalogue.
        """
        item = self._item(product_id)
        matrix = self.co_purchase
        start, end = matrix.indptr[item], matrix.indptr[item + 1]
        pairs = matrix.indices[start:end].astype(np.int64)
        order = np.argsort(pairs, kind="stable")
        pairs = pairs[order]
        scores = (matrix.data[start:end][order] + 1e-6 * self.popularity.counts[pairs]).astype(np.float32)

        def rank(allowed: npt.NDArray[np.bool_] | None, want: int) -> tuple[IntArray, FloatVector]:
            return merge_top(want, allowed, len(self.catalog), pairs, scores)

        chosen = self._pick(rank, k, filters, np.array([item]))
        result = [self._rec(i, s, "bought_together") for i, s in chosen]
        if len(result) < k:
            taken = {r.product_id for r in result}
            for rec in self.similar(product_id, k, filters):
                if rec.product_id not in taken and len(result) < k:
                    result.append(rec)
        return result

    def add_orders(self, orders: Sequence[NewOrder]) -> UpdateResult:
        """Apply orders placed after the artifacts were built, in place: the customers' histories
        and purchases, the "bought together" counts, the sequential rules and popularity change
        at once (exactly as a refit would count them); the rest waits for the next rebuild.
        Safe to call from a background thread while requests are answered.
        """
        return apply_orders(self, orders)

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

    def _similar_ranker(self, item: int) -> Ranker:
        """Content cosine plus ``KNN_WEIGHT`` x item-kNN cosine, with a popularity tie-breaker.

        "Like this product" is first what the product is (its text), then what the same
        customers bought: the kNN cosine is shrunk towards 0 when few customers support it, so
        on a small or noisy purchase log it only reorders products that read alike. A product
        nobody has bought yet has no kNN row and is matched on content alone. Products with
        neither score rank by the tie-breaker, in an order computed once.
        """
        n = len(self.catalog)
        tie = self._tie
        content = self.content
        if content is not None and not content.sparse_scores:  # dense vectors: score every item
            total = np.asarray(content.similar_to(item), dtype=np.float32).copy()
            if self.item_knn is not None:
                cols, vals = gather_rows(self.item_knn.similarity, np.array([item]), np.ones(1))
                total[cols] += np.float32(KNN_WEIGHT) * vals.astype(np.float32)
            total = total + tie

            def dense_rank(allowed: npt.NDArray[np.bool_] | None, want: int) -> tuple[IntArray, FloatVector]:
                candidates = np.arange(n) if allowed is None else np.flatnonzero(allowed)
                best = candidates[top_indices(total[candidates], min(want, len(candidates)))]
                return best.astype(np.int64), total[best]

            return dense_rank
        cols_parts: list[IntArray] = []
        vals_parts: list[FloatVector] = []
        if content is not None:
            c_cols, c_vals = content.similar_sparse(item)
            cols_parts.append(c_cols)
            vals_parts.append(c_vals)
        if self.item_knn is not None:
            k_cols, k_vals = gather_rows(self.item_knn.similarity, np.array([item]), np.ones(1))
            cols_parts.append(k_cols)
            vals_parts.append(np.float32(KNN_WEIGHT) * k_vals.astype(np.float32))
        if cols_parts:
            support, inverse = np.unique(np.concatenate(cols_parts), return_inverse=True)
            summed = np.bincount(inverse, weights=np.concatenate(vals_parts).astype(np.float64)).astype(np.float32)
            scores = summed + tie[support]
        else:
            support, scores = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        groups = [(self._tie_order, tie[self._tie_order], 0.0)]

        def rank(allowed: npt.NDArray[np.bool_] | None, want: int) -> tuple[IntArray, FloatVector]:
            return merge_top(want, allowed, n, support, scores, groups)

        return rank

    def _allowed(self, filters: Filters | None, blocked: IntArray) -> npt.NDArray[np.bool_] | None:
        """Items that pass the static filters and are not blocked (None: every item)."""
        static = filters is not None and (
            filters.category
            or filters.min_price is not None
            or filters.max_price is not None
            or filters.exclude
            or (filters.in_stock is not None and not callable(filters.in_stock))
        )
        if not static and not len(blocked):
            return None
        mask = self._static_mask(filters) if static else np.ones(len(self.catalog), dtype=bool)
        if len(blocked):
            mask[blocked] = False
        return mask

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

    def _pick(self, rank: Ranker, k: int, filters: Filters | None, blocked: IntArray) -> list[tuple[int, float]]:
        """Best ``k`` items of ``rank`` that pass the filters (ties: lower item index first).

        A stock callable is asked lazily, best first, and each product at most once: the ranker
        is asked for 4k, then 16k, ... items until ``k`` are in stock or none are left.
        """
        if k <= 0:
            return []
        allowed = self._allowed(filters, np.asarray(blocked, dtype=np.int64))
        check = filters.in_stock if filters is not None and callable(filters.in_stock) else None
        want = k if check is None else 4 * k
        checked: dict[int, bool] = {}
        while True:
            items, scores = rank(allowed, want)
            chosen: list[tuple[int, float]] = []
            for item, score in zip(items.tolist(), scores.tolist(), strict=True):
                if check is not None:
                    if item not in checked:
                        checked[item] = bool(check(self.catalog.products[item].product_id))
                    if not checked[item]:
                        continue
                chosen.append((item, score))
                if len(chosen) == k:
                    return chosen
            if len(items) < want:
                return chosen
            want *= 4

    def _rec(self, item: int, score: float, reason: str) -> Recommendation:
        p = self.catalog.products[item]
        return Recommendation(p.product_id, float(score), reason, p.title, p.price, p.category)


def default_artifacts_dir() -> Path:
    """``$RECOMMENDER_ARTIFACTS`` or ``var/recommender``."""
    return Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)


@dataclass
class _Served:
    """A loaded recommender, the manifest it came from and the refresher keeping it fresh."""

    stamp: float
    rec: Recommender
    refresher: Refresher | None = None


_cache: dict[Path, _Served] = {}
_lock = threading.Lock()
log = logging.getLogger(__name__)


def get_recommender(directory: str | Path | None = None) -> Recommender:
    """The process-wide recommender for ``directory``, loaded on first use.

    When the artifacts were trained from the order store this process reads
    (``SHOP_DATABASE_URL``), a background refresher applies new orders every
    ``$RECOMMENDER_REFRESH_SECONDS`` (60; 0 = off), loads rebuilt artifacts off the request path
    and rebuilds them every ``$RECOMMENDER_REBUILD_HOURS`` (24; 0 = never): see
    :mod:`recommender.updates`. Without a refresher, retrained artifacts are loaded by the next
    call. While a rebuild is being put in place the loaded one keeps answering.

    Raises:
        ArtifactsNotFound: When the folder holds no trained artifacts.
    """
    path = Path(directory) if directory else default_artifacts_dir()
    key = path.resolve()
    try:
        stamp = (key / MANIFEST).stat().st_mtime
    except OSError:
        stamp = -1.0
    with _lock:
        hit = _cache.get(key)
        if hit is not None and (hit.stamp == stamp or stamp < 0 or hit.refresher is not None):
            return hit.rec
        rec = Recommender.load(key)
        if hit is not None and hit.refresher is not None:
            hit.refresher.stop(timeout=0.0)
        entry = _Served(stamp, rec)
        _cache[key] = entry
        entry.refresher = _start_refresher(key, rec)
        return rec


def _start_refresher(key: Path, rec: Recommender) -> Refresher | None:
    """A refresher for artifacts trained from the store this process uses, else None."""
    trained_from = rec.manifest.get("source", {}).get("store")
    interval = refresh_seconds()
    if not trained_from or interval <= 0:
        return None
    try:
        # Imported here, not at the top: the library serves without an order store (or SQLAlchemy).
        from sqlalchemy.engine import make_url

        from store.settings import Settings

        url = Settings.from_env().database_url
        here = make_url(url).render_as_string(hide_password=True)
    except Exception as error:  # noqa: BLE001 - no store settings: serve without updates
        log.warning("recommender: no order store to read new orders from (%s); no incremental updates", error)
        return None
    if here != trained_from:
        log.warning(
            "recommender: artifacts in %s were trained from %s, not this process's store %s; no incremental updates",
            key,
            trained_from,
            here,
        )
        return None

    def current() -> Recommender:
        return _cache[key].rec

    def swap(new: Recommender) -> None:
        with _lock:
            entry = _cache.get(key)
            if entry is not None:
                entry.rec, entry.stamp = new, float(new.manifest.get("_mtime", -1.0))

    def engine() -> object:
        from store.db import make_engine

        return make_engine(url)

    return Refresher(key, current, swap, engine, Recommender.load, interval, rebuild_hours() * 3600.0).start()


def refresher_for(directory: str | Path | None = None) -> Refresher | None:
    """The refresher of a loaded artifact folder (None when it has none or is not loaded)."""
    path = Path(directory) if directory else default_artifacts_dir()
    entry = _cache.get(path.resolve())
    return entry.refresher if entry is not None else None


def reset_recommender() -> None:
    """Forget loaded recommenders and stop their refreshers (tests; after retraining)."""
    with _lock:
        for entry in _cache.values():
            if entry.refresher is not None:
                entry.refresher.stop()
        _cache.clear()
