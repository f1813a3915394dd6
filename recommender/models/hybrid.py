"""Hybrid: a weighted sum of the per-user standardised scores of the other models.

Weights are tuned on the validation items (``recommender.evaluate.tune_hybrid``). Cold customers
(empty history) get popularity; items nobody has interacted with yet take their score from the
content model, so new products are reachable as soon as they are in the catalogue.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from recommender.data import TrainingData
from recommender.models.base import FloatMatrix, FloatVector, IntArray, Scorer, top_indices, zscore, zscore_rows

# Pseudo-weight: how much of the total weight the content score gets for never-bought items.
# Tuned like the others, but never 0, so new products stay reachable.
COLD_CONTENT = "cold_content"
DEFAULT_COLD_SCALE = 0.25
COLD_GRID = (0.05, 0.1, 0.25, 0.5, 1.0)

# Rough relative cost of one request per component; tuning drops the costliest ones first when
# they do not earn their keep.
SERVING_COST = {"sasrec": 5, "user_knn": 4, "content": 3, "item_knn": 2, "seq_rules": 2, "popularity": 1}


def served_components(weights: Mapping[str, float], available: Collection[str]) -> list[str]:
    """The components a hybrid with ``weights`` needs at serving time: those with a weight, plus
    popularity (cold customers) and content (never-bought items) when available."""
    names = [n for n in available if weights.get(n, 0.0) != 0.0]
    for extra in ("popularity", "content"):
        if extra in available and extra not in names:
            names.append(extra)
    return names


class HybridModel:
    """Weighted combination of fitted component models.

    Attributes:
        components: Fitted models by name.
        weights: Weight per component name (missing = 0).
        trained: True for items with interactions in the training data.
        popularity: Name of the component used for cold customers.
        content: Name of the component used for never-interacted items.
    """

    name = "hybrid"

    def __init__(
        self,
        components: Mapping[str, Scorer],
        weights: Mapping[str, float],
        trained: npt.NDArray[np.bool_],
        popularity: str = "popularity",
        content: str = "content",
    ) -> None:
        self.components = dict(components)
        self.weights = {k: float(v) for k, v in weights.items() if k in self.components or k == COLD_CONTENT}
        self.trained = trained
        self.popularity = popularity
        self.content = content
        self._cold_items: IntArray | None = None
        self._cold_size = -1
        # Serving cache: history -> its best items and their scores, best first.
        self._candidates: dict[bytes, tuple[IntArray, FloatVector]] = {}

    def fit(self, data: TrainingData) -> HybridModel:
        """Components are fitted beforehand; this only records which items have interactions."""
        self.trained = data.trained_items()
        self._cold_items = None
        self._candidates.clear()
        return self

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Weighted sum of standardised component scores."""
        return combine(
            {n: self.components[n].score(histories) for n in self._needed()},
            self.weights,
            histories,
            self.trained,
            self.popularity,
            self.content,
        )

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer (the serving path): the same combination as :meth:`score`, from each
        component's ``score_one``; components with weight 0 are never computed."""
        if len(history) == 0:
            if self.popularity in self.components:
                return zscore(self.components[self.popularity].score_one(history))
            return np.zeros(self.trained.shape[0], dtype=np.float32)
        total = np.zeros(self.trained.shape[0], dtype=np.float32)
        weight_sum = 0.0
        standardised: dict[str, FloatVector] = {}
        for name, weight in self.weights.items():
            if weight == 0.0 or name not in self.components:
                continue
            standardised[name] = zscore(self.components[name].score_one(history))
            total += np.float32(weight) * standardised[name]
            weight_sum += weight
        if self.content in self.components and len(self._cold):
            scale = float(self.weights.get(COLD_CONTENT, DEFAULT_COLD_SCALE)) * max(weight_sum, 1.0)
            content = standardised.get(self.content)
            if content is None:
                content = zscore(self.components[self.content].score_one(history))
            total[self._cold] = np.float32(scale) * content[self._cold]
        return total

    # ------------------------------------------------------------------ candidate cache
    @staticmethod
    def _key(history: IntArray) -> bytes:
        return np.asarray(history, dtype=np.int64).tobytes()

    def remember(self, histories: Sequence[IntArray], scores: FloatMatrix, n: int = 100) -> None:
        """Keep, for each history, its ``n`` best items plus as many as it has itself (so ``n``
        remain once a caller removes what the customer already has), from rows of ``score``.

        This is the serving cache of known customers: built in batch when the artifacts are
        built (or while the evaluation scores the test users), read by :meth:`candidates`.
        """
        for row, history in zip(scores, histories, strict=True):
            top = top_indices(row, n + len(np.unique(history)))
            self._candidates[self._key(history)] = (top, row[top].astype(np.float32))

    def precompute(self, histories: Sequence[IntArray], n: int = 100) -> int:
        """:meth:`remember` the candidates of ``histories`` scored one at a time with
        :meth:`score_one`, so cached answers are exactly the on-demand ones.

        Returns:
            How many histories are cached now.
        """
        for history in histories:
            if len(history) > 0:
                history = np.asarray(history, dtype=np.int64)
                self.remember([history], self.score_one(history)[None, :], n)
        return len(self._candidates)

    def restore(self, history: IntArray, items: IntArray, scores: FloatVector) -> None:
        """Put back a cached candidate list (as saved with the artifacts)."""
        self._candidates[self._key(history)] = (np.asarray(items, np.int64), np.asarray(scores, np.float32))

    def candidates(self, history: IntArray) -> tuple[IntArray, FloatVector] | None:
        """The cached best items (and scores, best first) of a known history, or None."""
        return self._candidates.get(self._key(history))

    def cached_items(self) -> list[tuple[IntArray, FloatVector]]:
        """Every cached candidate list (for saving)."""
        return list(self._candidates.values())

    def top_k(self, history: IntArray, k: int = 10) -> IntArray:
        """The ``k`` best items not in ``history``, best first: from the cache when the history
        is known, else by scoring every item (:meth:`score_one`). Both give the same items."""
        history = np.asarray(history, dtype=np.int64)
        cached = self.candidates(history)
        if cached is not None:
            items = cached[0]
            items = items[~np.isin(items, history)]
            if len(items) >= k:
                return items[:k]
        row = self.score_one(history).copy()
        row[history] = -np.inf
        return top_indices(row, min(k, len(row) - len(np.unique(history))))

    @property
    def _cold(self) -> IntArray:
        if self._cold_items is None or self._cold_size != self.trained.shape[0]:
            self._cold_items = np.flatnonzero(~self.trained).astype(np.int64)
            self._cold_size = self.trained.shape[0]
        return self._cold_items

    def _needed(self) -> list[str]:
        names = [n for n, w in self.weights.items() if w != 0.0 and n in self.components]
        for extra in (self.popularity, self.content):
            if extra in self.components and extra not in names:
                names.append(extra)
        return names

    def save(self, directory: object) -> None:  # components are saved by recommender.artifacts
        """Nothing of its own to write (weights go to the artifact manifest)."""


def combine(
    scores: Mapping[str, FloatMatrix],
    weights: Mapping[str, float],
    histories: Sequence[IntArray],
    trained: npt.NDArray[np.bool_],
    popularity: str = "popularity",
    content: str = "content",
    standardised: bool = False,
) -> FloatMatrix:
    """Combine component scores (see :class:`HybridModel`); used for tuning too.

    ``standardised=True`` means ``scores`` are already row-standardised (saves work when the
    same scores are combined many times).
    """
    norm = (lambda m: m) if standardised else zscore_rows
    n_rows = len(histories)
    n_items = trained.shape[0]
    total = np.zeros((n_rows, n_items), dtype=np.float32)
    weight_sum = 0.0
    for name, weight in weights.items():
        if weight == 0.0 or name not in scores:
            continue
        total += np.float32(weight) * norm(scores[name])
        weight_sum += weight
    if content in scores and not trained.all():
        cold = ~trained
        scale = float(weights.get(COLD_CONTENT, DEFAULT_COLD_SCALE)) * max(weight_sum, 1.0)
        total[:, cold] = np.float32(scale) * norm(scores[content])[:, cold]
    empty = np.array([len(h) == 0 for h in histories], dtype=bool)
    if empty.any() and popularity in scores:
        total[empty] = norm(scores[popularity][empty])
    return total
