"""Hybrid: a weighted sum of the per-user standardised scores of the other models.

Weights are tuned on held-out items (:mod:`recommender.tuning`). Cold customers (empty history)
get popularity; items nobody has interacted with yet take their score from the content model, so
new products are reachable as soon as they are in the catalogue.

Standardising is linear, so a customer's hybrid score of item i is
``sum_c (w_c / s_c) x_c(i) + w_pop * pop_z(i) - C``, with ``x_c`` the (mostly zero) score of a
sparse component, ``s_c`` its standard deviation over all items and ``C`` one constant per customer.
Items that no sparse component scores are therefore ranked by popularity alone, in an order that is
computed once. Serving (:meth:`HybridModel.ranked`) merges the few scored items with that order:
a request costs O(items scored + k), not O(catalogue), and answers exactly like scoring every item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import TrainingData
from recommender.models.base import (
    FloatMatrix,
    FloatVector,
    IntArray,
    Scorer,
    dense_row_stats,
    is_sparse,
    merge_top,
    row_stats,
    sparse_row_stats,
    sum_by_index,
    top_indices,
    zscore,
)

# Pseudo-weight: how much of the total weight the content score gets for never-bought items.
# Tuned like the others, but never 0, so new products stay reachable.
COLD_CONTENT = "cold_content"
DEFAULT_COLD_SCALE = 0.25
COLD_GRID = (0.05, 0.1, 0.25, 0.5, 1.0)
#: Below this standard deviation a component's scores are constant for that customer (z = 0).
FLAT = 1e-12

# Rough relative cost of one request per component; tuning drops the costliest ones first when
# they do not earn their keep.
SERVING_COST = {"sasrec": 5, "user_knn": 4, "content": 3, "item_knn": 2, "seq_rules": 2, "popularity": 1}


def standardise(scores: FloatMatrix, mean: npt.NDArray[np.float64], std: npt.NDArray[np.float64]) -> FloatMatrix:
    """Rows of ``scores`` minus their mean over their standard deviation; flat rows become 0.

    One definition for both paths (batch and one customer), so they give the same numbers.
    """
    ok = std >= FLAT
    safe = np.where(ok, std, 1.0)
    z = ((scores - mean[:, None].astype(np.float32)) / safe[:, None]).astype(np.float32)
    z[~ok] = 0.0
    return z


def served_components(weights: Mapping[str, float], available: Sequence[str] | Mapping[str, object]) -> list[str]:
    """The components a hybrid with ``weights`` needs at serving time: those with a weight, plus
    popularity (cold customers) and content (never-bought items) when available."""
    names = [n for n in available if weights.get(n, 0.0) != 0.0]
    for extra in ("popularity", "content"):
        if extra in available and extra not in names:
            names.append(extra)
    return names


@dataclass
class BatchParts:
    """Every component's raw scores for a batch of histories, with their row statistics.

    Built once per batch (:meth:`HybridModel.batch_parts`) and combined under any weights
    (:meth:`HybridModel.assemble`): the weight tuning scores each batch once.
    """

    histories: list[IntArray]
    sparse: dict[str, sparse.csr_matrix] = field(default_factory=dict)
    dense: dict[str, FloatMatrix] = field(default_factory=dict)
    mean: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    std: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    cold: dict[str, FloatMatrix] = field(default_factory=dict)

    def nbytes(self) -> int:
        """Memory held by the scores."""
        total = sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in self.sparse.values())
        return int(total + sum(d.nbytes for d in self.dense.values()) + sum(c.nbytes for c in self.cold.values()))


@dataclass(frozen=True)
class _State:
    """What the hybrid derives from its weights and popularity (see ``HybridModel._prepare``)."""

    pop_z: FloatVector
    static: FloatVector
    active: list[tuple[str, float]]
    override: bool
    cold: IntArray
    cold_scale: float
    normal_order: IntArray
    normal_values: FloatVector
    pop_order: IntArray


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
        self._prepare()

    def fit(self, data: TrainingData) -> HybridModel:
        """Components are fitted beforehand; this only records which items have interactions."""
        self.trained = data.trained_items()
        self._prepare()
        return self

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Use other weights (the tuning tries many on the same components)."""
        self.weights = {k: float(v) for k, v in weights.items() if k in self.components or k == COLD_CONTENT}
        self._prepare()

    def refresh(self) -> None:
        """Recompute what depends on the components' state (after incremental updates)."""
        self._prepare()

    def _prepare(self) -> None:
        # Built aside and swapped in one assignment: a request running while an update thread
        # refreshes popularity sees either the old or the new state, never a mix.
        n = int(self.trained.shape[0])
        self.n_items = n
        pop = self.components.get(self.popularity)
        pop_z = (
            zscore(np.asarray(pop.score_one(np.zeros(0, dtype=np.int64)), dtype=np.float32))
            if pop is not None
            else np.zeros(n, dtype=np.float32)
        )
        w_pop = self.weights.get(self.popularity, 0.0) if pop is not None else 0.0
        static = (np.float32(w_pop) * pop_z).astype(np.float32)
        active = [
            (name, w)
            for name, w in self.weights.items()
            if w != 0.0 and name in self.components and name != self.popularity
        ]
        weight_sum = sum(w for _, w in active) + (w_pop if w_pop != 0.0 else 0.0)
        override = self.content in self.components and not bool(self.trained.all())
        cold = np.flatnonzero(~self.trained).astype(np.int64) if override else np.zeros(0, np.int64)
        # Items outside every sparse support, in hybrid order: by static score, then item index.
        normal = np.flatnonzero(self.trained) if override else np.arange(n)
        normal_order = normal[np.lexsort((normal, -static[normal]))].astype(np.int64)
        self._st = _State(
            pop_z=pop_z,
            static=static,
            active=active,
            override=override,
            cold=cold,
            cold_scale=float(self.weights.get(COLD_CONTENT, DEFAULT_COLD_SCALE)) * max(weight_sum, 1.0),
            normal_order=normal_order,
            normal_values=static[normal_order],
            pop_order=np.lexsort((np.arange(n), -pop_z)).astype(np.int64),
        )

    # ------------------------------------------------------------------ one customer
    def _one(self, history: IntArray, st: _State) -> tuple[IntArray, FloatVector, float, float, FloatVector | None]:
        """Decompose one customer's scores: (support items, their scores, offset C, cold value
        K, dense vector or None). Items outside the support score ``static - C`` (``K`` when
        cold); with a dense component the full vector is returned instead."""
        n = self.n_items
        offset = 0.0
        cols_parts: list[IntArray] = []
        vals_parts: list[npt.NDArray[np.float64]] = []
        dense: FloatVector | None = None
        content_sparse: tuple[IntArray, npt.NDArray[np.float64], float, float] | None = None
        content_dense: FloatVector | None = None
        for name, weight in st.active:
            model = self.components[name]
            if is_sparse(model):
                cols, vals = model.score_one_sparse(history)  # type: ignore[attr-defined]
                mean, std = row_stats(vals, n)
                if name == self.content:
                    content_sparse = (cols, vals.astype(np.float64), mean, std)
                if std < FLAT:
                    continue
                cols_parts.append(cols)
                vals_parts.append(vals.astype(np.float64) * (weight / std))
                offset += weight * mean / std
            else:
                z = self._dense_z(model, history)
                if name == self.content:
                    content_dense = z
                dense = np.float32(weight) * z if dense is None else dense + np.float32(weight) * z
        if cols_parts:
            support, sums = sum_by_index(np.concatenate(cols_parts), np.concatenate(vals_parts), n)
            summed = sums.astype(np.float32)
        else:
            support, summed = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cold_value = 0.0
        cold_cols = np.zeros(0, dtype=np.int64)
        cold_vals = np.zeros(0, dtype=np.float32)
        if st.override:
            model = self.components[self.content]
            if is_sparse(model):
                if content_sparse is None:
                    cols, vals = model.score_one_sparse(history)  # type: ignore[attr-defined]
                    mean, std = row_stats(vals, n)
                    content_sparse = (cols, vals.astype(np.float64), mean, std)
                cols, vals, mean, std = content_sparse
                if std >= FLAT:
                    # As the batch path computes it: scale * standardise(content) on cold items.
                    keep = ~self.trained[cols]
                    cold_cols = cols[keep]
                    stats = (np.array([mean]), np.array([std]))
                    scale = np.float32(st.cold_scale)
                    cold_vals = scale * standardise(vals[keep].astype(np.float32)[None, :], *stats)[0]
                    cold_value = float(scale * standardise(np.zeros((1, 1), dtype=np.float32), *stats)[0, 0])
            elif content_dense is None:
                content_dense = self._dense_z(model, history)
        if dense is not None or (st.override and content_dense is not None):
            total = (st.static - np.float32(offset)).astype(np.float32)
            if dense is not None:
                total += dense
            total[support] += summed
            if st.override:
                if content_dense is not None:
                    total[st.cold] = np.float32(st.cold_scale) * content_dense[st.cold]
                else:
                    total[st.cold] = np.float32(cold_value)
                    total[cold_cols] = cold_vals
            return support, summed, offset, cold_value, total
        scores = (st.static[support] - np.float32(offset)).astype(np.float32) + summed
        if st.override:
            cold_in = ~self.trained[support]
            scores[cold_in] = np.float32(cold_value)
            if len(cold_cols):
                # Cold items scored by content take that score; other cold items keep K.
                keep = ~np.isin(support, cold_cols, assume_unique=True)
                support = np.concatenate([support[keep], cold_cols])
                scores = np.concatenate([scores[keep], cold_vals])
                order = np.argsort(support, kind="stable")
                support, scores = support[order], scores[order]
        return support, scores, offset, cold_value, None

    def _dense_z(self, model: Scorer, history: IntArray) -> FloatVector:
        x = np.asarray(model.score_one(history), dtype=np.float32)
        mean, std = row_stats(x, self.n_items)
        row: FloatVector = standardise(x[None, :], np.array([mean]), np.array([std]))[0]
        return row

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer, every item: the same numbers as :meth:`score`."""
        history = np.asarray(history, dtype=np.int64)
        st = self._st
        if len(history) == 0:
            return st.pop_z.copy()
        support, scores, offset, cold_value, dense = self._one(history, st)
        if dense is not None:
            return dense
        total = (st.static - np.float32(offset)).astype(np.float32)
        if st.override:
            total[st.cold] = np.float32(cold_value)
        total[support] = scores
        return total

    def ranked(
        self, history: IntArray, k: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> tuple[IntArray, FloatVector]:
        """The best ``k`` allowed items for a customer, best first, with their scores: exactly
        the top of :meth:`score_one`, at the cost of the items the sparse components score.

        Args:
            history: The customer's items, oldest first (empty = popularity).
            k: How many items.
            allowed: Items that may be returned (None = all); the caller removes what the
                customer already has.
        """
        history = np.asarray(history, dtype=np.int64)
        st = self._st
        if len(history) == 0:
            return merge_top(k, allowed, self.n_items, groups=[(st.pop_order, st.pop_z[st.pop_order], 0.0)])
        support, scores, offset, cold_value, dense = self._one(history, st)
        if dense is not None:
            candidates = np.arange(self.n_items) if allowed is None else np.flatnonzero(allowed)
            best = top_indices(dense[candidates], min(k, len(candidates)))
            return candidates[best].astype(np.int64), dense[candidates[best]]
        groups: list[tuple[IntArray, npt.NDArray[np.floating], float]] = [
            (st.normal_order, st.normal_values, offset)
        ]
        if st.override and len(st.cold):
            groups.append((st.cold, np.zeros(len(st.cold), dtype=np.float32), -cold_value))
        return merge_top(k, allowed, self.n_items, support, scores, groups)

    def top_k(self, history: IntArray, k: int = 10) -> IntArray:
        """The ``k`` best items not in ``history``, best first."""
        history = np.asarray(history, dtype=np.int64)
        allowed = np.ones(self.n_items, dtype=bool)
        allowed[history] = False
        return self.ranked(history, k, allowed)[0]

    # ------------------------------------------------------------------ batches
    def batch_parts(self, histories: Sequence[IntArray], names: Sequence[str] | None = None) -> BatchParts:
        """Raw scores and row statistics of ``names`` (default: the weighted components and
        content) for a batch. Sparse components stay sparse."""
        st = self._st
        wanted = list(names) if names is not None else [n for n, _ in st.active]
        if names is None and st.override and self.content not in wanted:
            wanted.append(self.content)
        parts = BatchParts(list(histories))
        for name in wanted:
            model = self.components[name]
            if name == self.popularity:
                continue
            if is_sparse(model):
                m = model.score_sparse(parts.histories).tocsr()  # type: ignore[attr-defined]
                m.sum_duplicates()
                parts.sparse[name] = m.astype(np.float32)
                parts.mean[name], parts.std[name] = sparse_row_stats(m)
            else:
                d = np.asarray(model.score(parts.histories), dtype=np.float32)
                parts.dense[name] = d
                parts.mean[name], parts.std[name] = dense_row_stats(d)
        return parts

    def assemble(self, parts: BatchParts) -> FloatMatrix:
        """Dense ``(len(histories), n_items)`` hybrid scores from :meth:`batch_parts` under the
        current weights: the numbers :meth:`score_one` gives, one row per history."""
        n = self.n_items
        st = self._st
        rows = len(parts.histories)
        offset = np.zeros(rows, dtype=np.float64)
        combined: sparse.csr_matrix | None = None
        dense_sum: FloatMatrix | None = None
        for name, weight in st.active:
            mean, std = parts.mean[name], parts.std[name]
            ok = std >= FLAT
            safe = np.where(ok, std, 1.0)
            if name in parts.sparse:
                offset += np.where(ok, weight * mean / safe, 0.0)
                scale = np.where(ok, weight / safe, 0.0).astype(np.float32)
                scaled = (sparse.diags(scale) @ parts.sparse[name]).tocsr()
                combined = scaled if combined is None else combined + scaled
            else:
                term = np.float32(weight) * standardise(parts.dense[name], mean, std)
                dense_sum = term if dense_sum is None else dense_sum + term
        # Sparse parts summed in C (scipy), densified once per batch.
        out = combined.toarray() if combined is not None else np.zeros((rows, n), dtype=np.float32)
        out = np.asarray(out, dtype=np.float32)
        out += st.static[None, :]
        out -= offset.astype(np.float32)[:, None]
        if dense_sum is not None:
            out += dense_sum
        if st.override and len(st.cold):
            self._override_cold(out, parts, st)
        empty = np.array([len(h) == 0 for h in parts.histories], dtype=bool)
        if empty.any():
            out[empty] = st.pop_z
        return out

    def _override_cold(self, out: FloatMatrix, parts: BatchParts, st: _State) -> None:
        name = self.content
        cold_matrix = parts.cold.get(name)
        if cold_matrix is None:  # the content scores of never-bought items, once per batch
            if name in parts.sparse:
                cold_matrix = np.asarray(parts.sparse[name][:, st.cold].toarray(), dtype=np.float32)
            else:
                cold_matrix = np.asarray(parts.dense[name][:, st.cold], dtype=np.float32)
            parts.cold[name] = cold_matrix
        z = standardise(cold_matrix, parts.mean[name], parts.std[name])
        out[:, st.cold] = np.float32(st.cold_scale) * z

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Weighted sum of standardised component scores, dense (callers pass bounded batches)."""
        return self.assemble(self.batch_parts(histories))

    def save(self, directory: object) -> None:  # components are saved by recommender.artifacts
        """Nothing of its own to write (weights go to the artifact manifest)."""
