"""Neighbourhood collaborative filtering on the sparse interaction matrix: item-kNN, user-kNN,
sequential rules and the "bought together" counts. Fitted by ``recommender.train``, scored by the
hybrid; every fit streams over bounded blocks, so memory grows with the non-zeros, never with
customers x products.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import TrainingData
from recommender.models.base import (
    FloatMatrix,
    FloatVector,
    IntArray,
    gather_rows,
    history_matrix,
    recency_weights,
    rows_sum,
    top_k_per_row,
)

#: Item rows per block when item x item products are computed (bounds the transient memory).
ITEM_BLOCK = 8192


def cosine_item_similarity(
    interactions: sparse.csr_matrix, shrink: float = 0.0, neighbours: int = 100, block: int = ITEM_BLOCK
) -> sparse.csr_matrix:
    """Item x item cosine similarity of the columns of a user x item matrix, top ``neighbours``.

    ``shrink`` damps similarities supported by few co-occurrences: c_ij / (|i||j| + shrink).
    Computed ``block`` item rows at a time and pruned per block, so the full co-occurrence matrix
    is never held.
    """
    x = interactions.tocsr().astype(np.float32, copy=False)
    n_items = x.shape[1]
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
    xt = x.T.tocsr()
    parts: list[sparse.csr_matrix] = []
    for start in range(0, n_items, block):
        co = (xt[start : start + block] @ x).tocoo()
        rows = co.row.astype(np.int64) + start
        keep = rows != co.col
        rows, cols, vals = rows[keep], co.col[keep], co.data[keep]
        denom = norms[rows] * norms[cols] + shrink
        sims = sparse.csr_matrix(
            (vals / np.maximum(denom, 1e-12), (rows - start, cols)), shape=(co.shape[0], n_items)
        )
        parts.append(top_k_per_row(sims, neighbours))
    if not parts:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    out = sparse.vstack(parts, format="csr")
    out.sort_indices()
    return out.astype(np.float32)


class ItemKNN:
    """Item-based CF: a user's score for item j is the (recency-weighted) sum of sim(i, j) over
    the items i in their history.

    Attributes:
        neighbours: Similar items kept per item.
        shrink: Cosine shrinkage term.
        decay: History weight per step back in time (1.0 = order ignored).
    """

    name = "item_knn"
    sparse_scores = True

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, decay: float = 1.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.decay = decay
        self.similarity = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> ItemKNN:
        """Compute the pruned item-item cosine similarity matrix."""
        self.similarity = cosine_item_similarity(data.matrix(binary=True), self.shrink, self.neighbours)
        return self

    def score_sparse(self, histories: Sequence[IntArray]) -> sparse.csr_matrix:
        """History (sparse, decayed) times the similarity matrix."""
        h = history_matrix(histories, self.similarity.shape[0], self.decay)
        return (h @ self.similarity).tocsr()

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Dense :meth:`score_sparse` (small batches only)."""
        return np.asarray(self.score_sparse(histories).toarray(), dtype=np.float32)

    def score_one_sparse(self, history: IntArray) -> tuple[IntArray, FloatVector]:
        """One customer: the decayed sum of the similarity rows of their items (non-zeros only)."""
        history = np.asarray(history, dtype=np.int64)
        cols, vals = gather_rows(self.similarity, history, recency_weights(len(history), self.decay))
        return cols, vals.astype(np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer, every item."""
        history = np.asarray(history, dtype=np.int64)
        return rows_sum(self.similarity, history, recency_weights(len(history), self.decay))

    def save(self, directory: Path) -> None:
        """Write ``item_knn.npz`` and its settings."""
        sparse.save_npz(directory / "item_knn.npz", self.similarity, compressed=False)
        np.save(directory / "item_knn_params.npy", [self.neighbours, self.shrink, self.decay])

    @classmethod
    def load(cls, directory: Path) -> ItemKNN:
        """Read what :meth:`save` wrote."""
        neighbours, shrink, decay = np.load(directory / "item_knn_params.npy")
        model = cls(int(neighbours), float(shrink), float(decay))
        model.similarity = sparse.load_npz(directory / "item_knn.npz").tocsr().astype(np.float32, copy=False)
        return model


class UserKNN:
    """User-based CF: find the training users whose (L2-normalised) baskets are most cosine-similar
    to the given history and add up their items weighted by that similarity.

    Only customers who share at least one product with the history can be neighbours, so both
    paths work on sparse similarities; ties at the ``neighbours``-th place go to the lower
    customer index.

    Attributes:
        neighbours: Similar users used per request.
        shrink: Damps similarities of users with small baskets.
    """

    name = "user_knn"
    sparse_scores = True

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.users = sparse.csr_matrix((0, 0), dtype=np.float32)
        self._normed_t = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> UserKNN:
        """Keep the user x item matrix and its row-normalised transpose."""
        self.users = data.matrix(binary=True)
        self._prepare()
        return self

    def _prepare(self) -> None:
        norms = np.sqrt(np.asarray(self.users.multiply(self.users).sum(axis=1)).ravel())
        inv = (1.0 / (norms + self.shrink + 1e-12)).astype(np.float32)
        normed = sparse.diags(inv) @ self.users
        self._normed_t = normed.T.tocsr().astype(np.float32, copy=False)

    def score_sparse(self, histories: Sequence[IntArray]) -> sparse.csr_matrix:
        """Similarity-weighted sum of the neighbours' items."""
        n_items = self.users.shape[1]
        h = history_matrix(histories, n_items)
        h.data[:] = 1.0
        norms = np.sqrt(np.asarray(h.sum(axis=1)).ravel())
        h = sparse.diags((1.0 / (norms + 1e-12)).astype(np.float32)) @ h
        sims = (h @ self._normed_t).tocsr()
        kept = top_k_per_row(sims, self.neighbours)
        return (kept @ self.users).tocsr()

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Dense :meth:`score_sparse` (small batches only)."""
        return np.asarray(self.score_sparse(histories).toarray(), dtype=np.float32)

    def _neighbours(self, history: IntArray) -> tuple[IntArray, npt.NDArray[np.float64]]:
        items = np.unique(np.asarray(history, dtype=np.int64))
        if len(items) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        weights = np.full(len(items), 1.0 / (np.sqrt(len(items)) + 1e-12))
        users, sims = gather_rows(self._normed_t, items, weights)
        sims = sims.astype(np.float32)  # the batch path ranks float32 similarities
        order = np.lexsort((users, -sims))[: self.neighbours]
        return users[order], sims[order].astype(np.float64)

    def score_one_sparse(self, history: IntArray) -> tuple[IntArray, FloatVector]:
        """One customer: cosine to the customers who share a product with them (through the
        item -> customers rows), then the ``neighbours`` closest customers' baskets."""
        users, sims = self._neighbours(history)
        cols, vals = gather_rows(self.users, users, sims)
        return cols, vals.astype(np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer, every item."""
        users, sims = self._neighbours(history)
        if len(users) == 0:
            return np.zeros(self.users.shape[1], dtype=np.float32)
        return rows_sum(self.users, users, sims)

    def save(self, directory: Path) -> None:
        """Write ``user_knn.npz`` and its settings."""
        sparse.save_npz(directory / "user_knn.npz", self.users, compressed=False)
        np.save(directory / "user_knn_params.npy", [self.neighbours, self.shrink])

    @classmethod
    def load(cls, directory: Path) -> UserKNN:
        """Read what :meth:`save` wrote."""
        neighbours, shrink = np.load(directory / "user_knn_params.npy")
        model = cls(int(neighbours), float(shrink))
        model.users = sparse.load_npz(directory / "user_knn.npz").tocsr().astype(np.float32, copy=False)
        model._prepare()
        return model


def _pair_arrays(seq: IntArray, stamps: npt.NDArray[np.float64], window: int) -> tuple[IntArray, IntArray]:
    """Position pairs (i < j) of one sequence within ``window`` steps or at the same timestamp."""
    n = len(seq)
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    for gap in range(1, min(window, n - 1) + 1):
        firsts.append(np.arange(n - gap))
        seconds.append(np.arange(gap, n))
    # Same order (same timestamp) beyond the window: only sequences with such ties pay for it.
    if n > window + 1 and len(np.unique(stamps)) < n:
        i, j = np.triu_indices(n, window + 1)
        same = stamps[i] == stamps[j]
        firsts.append(i[same])
        seconds.append(j[same])
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def co_purchase_pairs(
    sequences: Iterable[IntArray], timestamps: Iterable[npt.NDArray[np.float64]], window: int = 2
) -> tuple[IntArray, IntArray]:
    """Item pairs (both directions) for :func:`co_purchase`, from any number of sequences."""
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    for seq, ts in zip(sequences, timestamps, strict=True):
        if len(seq) < 2:
            continue
        i, j = _pair_arrays(seq, ts, window)
        a, b = seq[i], seq[j]
        diff = a != b
        rows += [a[diff], b[diff]]
        cols += [b[diff], a[diff]]
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def co_purchase(data: TrainingData, window: int = 2, block: int = 50_000) -> sparse.csr_matrix:
    """Symmetric "bought together" counts: item pairs bought by one customer at the same
    timestamp (one order) or within ``window`` consecutive purchases of each other.

    Counted ``block`` customers at a time and summed, so the pair list is never held whole.
    """
    n_items = data.n_items
    total = sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    for start in range(0, data.n_users, block):
        r, c = co_purchase_pairs(
            data.sequences[start : start + block], data.timestamps[start : start + block], window
        )
        if len(r):
            part = sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_items, n_items))
            part.sum_duplicates()
            total = total + part
    return total.tocsr()


def rule_pairs(sequences: Iterable[IntArray], gap: int) -> tuple[IntArray, IntArray]:
    """(earlier item, later item) pairs exactly ``gap`` purchases apart, same item excluded."""
    firsts: list[IntArray] = []
    seconds: list[IntArray] = []
    for seq in sequences:
        if len(seq) > gap:
            firsts.append(seq[:-gap])
            seconds.append(seq[gap:])
    if not firsts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    a, b = np.concatenate(firsts), np.concatenate(seconds)
    keep = a != b
    return a[keep], b[keep]


class SequentialRules:
    """Sequential rules (a higher-order Markov chain): item j scores for item i when customers
    bought j within ``window`` purchases *after* i, weighted 1/distance. A user's score is the
    recency-weighted sum over their history. Cheap, and strong on purchase sequences.

    The raw "j follows i" weights (``pairs``) and the per-item event counts are kept apart and
    the normalisation ``1 / (count_i + shrink)`` is applied at scoring time, so new orders can be
    added without refitting (:mod:`recommender.updates`) and give exactly the refitted rules.

    Attributes:
        window: How many later purchases count as following.
        decay: History weight per step back in time.
        shrink: Added to each item's count when normalising its row.
    """

    name = "seq_rules"
    sparse_scores = True

    def __init__(self, window: int = 3, decay: float = 0.5, shrink: float = 5.0) -> None:
        self.window = window
        self.decay = decay
        self.shrink = shrink
        self.pairs = sparse.csr_matrix((0, 0), dtype=np.float32)
        self.counts = np.zeros(0, dtype=np.float32)
        self._norm = np.zeros(0, dtype=np.float64)

    def fit(self, data: TrainingData) -> SequentialRules:
        """Count the "j follows i" pairs (one gap at a time, bounded memory)."""
        fitted = SequentialRules.fit_windows(data, (self.window,), self.decay, self.shrink)[self.window]
        self.pairs, self.counts = fitted.pairs, fitted.counts
        self._prepare()
        return self

    @classmethod
    def fit_windows(
        cls, data: TrainingData, windows: Sequence[int], decay: float = 0.5, shrink: float = 5.0
    ) -> dict[int, SequentialRules]:
        """Rules for several windows in one pass: the pairs of window w are those of window w-1
        plus the pairs w purchases apart, so each gap is counted once.

        Returns:
            A fitted model per window.
        """
        n_items = data.n_items
        counts = data.item_counts()
        total = sparse.csr_matrix((n_items, n_items), dtype=np.float32)
        out: dict[int, SequentialRules] = {}
        for gap in range(1, max(windows, default=0) + 1):
            a, b = rule_pairs(data.sequences, gap)
            if len(a):
                part = sparse.csr_matrix(
                    (np.full(len(a), 1.0 / gap, dtype=np.float32), (a, b)), shape=(n_items, n_items)
                )
                part.sum_duplicates()
                total = (total + part).tocsr()
            if gap in windows:
                model = cls(gap, decay, shrink)
                model.pairs = total.astype(np.float32)
                model.counts = counts.copy()
                model._prepare()
                out[gap] = model
        return out

    def _prepare(self) -> None:
        self._norm = 1.0 / (self.counts.astype(np.float64) + self.shrink)

    def add(
        self,
        rows: IntArray,
        cols: IntArray,
        values: npt.NDArray[np.float32],
        items: IntArray,
        weights: npt.NDArray[np.float32],
    ) -> None:
        """Add new "``cols`` follows ``rows``" pair weights and new events of ``items`` (incremental
        update): afterwards the rules equal those refitted on the longer log. New arrays are
        swapped in, so a concurrent request sees the rules before or after."""
        n = self.pairs.shape[0]
        pairs = self.pairs
        if len(rows):
            delta = sparse.csr_matrix((values.astype(np.float32), (rows, cols)), shape=(n, n))
            pairs = (pairs + delta).tocsr().astype(np.float32, copy=False)
        counts = (self.counts + np.bincount(items, weights=weights, minlength=n)).astype(np.float32)
        norm = 1.0 / (counts.astype(np.float64) + self.shrink)
        self.pairs, self.counts, self._norm = pairs, counts, norm

    @property
    def rules(self) -> sparse.csr_matrix:
        """The normalised rule matrix (row i divided by item i's count + shrink)."""
        return (sparse.diags(self._norm) @ self.pairs).tocsr().astype(np.float32, copy=False)

    def _weights(self, history: IntArray) -> npt.NDArray[np.float64]:
        return recency_weights(len(history), self.decay) * self._norm[history]

    def score_sparse(self, histories: Sequence[IntArray]) -> sparse.csr_matrix:
        """History (sparse, decayed, normalised per item) times the pair matrix."""
        h = history_matrix(histories, self.pairs.shape[0], self.decay)
        h = (h @ sparse.diags(self._norm.astype(np.float32))).tocsr()
        return (h @ self.pairs).tocsr()

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Dense :meth:`score_sparse` (small batches only)."""
        return np.asarray(self.score_sparse(histories).toarray(), dtype=np.float32)

    def score_one_sparse(self, history: IntArray) -> tuple[IntArray, FloatVector]:
        """One customer: the decayed, normalised sum of the rule rows of their items."""
        history = np.asarray(history, dtype=np.int64)
        cols, vals = gather_rows(self.pairs, history, self._weights(history))
        return cols, vals.astype(np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer, every item."""
        history = np.asarray(history, dtype=np.int64)
        return rows_sum(self.pairs, history, self._weights(history))

    def save(self, directory: Path) -> None:
        """Write ``seq_rules.npz`` (raw pair weights), the item counts and the settings."""
        sparse.save_npz(directory / "seq_rules.npz", self.pairs, compressed=False)
        np.save(directory / "seq_rules_counts.npy", self.counts)
        np.save(directory / "seq_rules_params.npy", [self.window, self.decay, self.shrink])

    @classmethod
    def load(cls, directory: Path) -> SequentialRules:
        """Read what :meth:`save` wrote."""
        window, decay, shrink = np.load(directory / "seq_rules_params.npy")
        model = cls(int(window), float(decay), float(shrink))
        model.pairs = sparse.load_npz(directory / "seq_rules.npz").tocsr().astype(np.float32, copy=False)
        model.counts = np.load(directory / "seq_rules_counts.npy")
        model._prepare()
        return model
