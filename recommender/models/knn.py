"""Neighbourhood collaborative filtering on the sparse interaction matrix (cosine similarity)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from recommender.data import TrainingData
from recommender.models.base import FloatMatrix, FloatVector, IntArray, history_matrix, recency_weights, rows_sum


def top_k_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Keep the ``k`` largest entries of every row of a CSR matrix (ties: lower column first)."""
    matrix = matrix.tocsr()
    indptr = [0]
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for r in range(matrix.shape[0]):
        start, end = matrix.indptr[r], matrix.indptr[r + 1]
        cols, vals = matrix.indices[start:end], matrix.data[start:end]
        if len(vals) > k:
            order = np.lexsort((cols, -vals))[:k]
            cols, vals = cols[order], vals[order]
        indices.append(cols)
        data.append(vals)
        indptr.append(indptr[-1] + len(cols))
    out = sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            np.array(indptr),
        ),
        shape=matrix.shape,
    )
    out.sort_indices()
    return out.astype(np.float32)


def cosine_item_similarity(
    interactions: sparse.csr_matrix, shrink: float = 0.0, neighbours: int = 100
) -> sparse.csr_matrix:
    """Item x item cosine similarity of the columns of a user x item matrix, top ``neighbours``.

    ``shrink`` damps similarities supported by few co-occurrences: c_ij / (|i||j| + shrink).
    """
    x = interactions.tocsc().astype(np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
    co = (x.T @ x).tocsr()
    co.setdiag(0.0)
    co.eliminate_zeros()
    co = co.tocoo()
    denom = norms[co.row] * norms[co.col] + shrink
    sims = sparse.csr_matrix((co.data / np.maximum(denom, 1e-12), (co.row, co.col)), shape=co.shape)
    return top_k_per_row(sims, neighbours)


class ItemKNN:
    """Item-based CF: a user's score for item j is the (recency-weighted) sum of sim(i, j) over
    the items i in their history.

    Attributes:
        neighbours: Similar items kept per item.
        shrink: Cosine shrinkage term.
        decay: History weight per step back in time (1.0 = order ignored).
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, decay: float = 1.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.decay = decay
        self.similarity = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> ItemKNN:
        """Compute the pruned item-item cosine similarity matrix."""
        self.similarity = cosine_item_similarity(data.matrix(binary=True), self.shrink, self.neighbours)
        return self

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """History (sparse, decayed) times the similarity matrix."""
        h = history_matrix(histories, self.similarity.shape[0], self.decay)
        return np.asarray((h @ self.similarity).toarray(), dtype=np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer: the decayed sum of the similarity rows of their items."""
        history = np.asarray(history, dtype=np.int64)
        return rows_sum(self.similarity, history, recency_weights(len(history), self.decay))

    def neighbours_of(self, item: int, k: int) -> list[tuple[int, float]]:
        """The ``k`` most similar items to ``item`` with their similarity."""
        row = self.similarity.getrow(item)
        order = np.lexsort((row.indices, -row.data))[:k]
        return [(int(row.indices[i]), float(row.data[i])) for i in order]

    def save(self, directory: Path) -> None:
        """Write ``item_knn.npz`` and its settings."""
        sparse.save_npz(directory / "item_knn.npz", self.similarity)
        np.save(directory / "item_knn_params.npy", [self.neighbours, self.shrink, self.decay])

    @classmethod
    def load(cls, directory: Path) -> ItemKNN:
        """Read what :meth:`save` wrote."""
        neighbours, shrink, decay = np.load(directory / "item_knn_params.npy")
        model = cls(int(neighbours), float(shrink), float(decay))
        model.similarity = sparse.load_npz(directory / "item_knn.npz").tocsr().astype(np.float32)
        return model


class UserKNN:
    """User-based CF: find the training users whose (L2-normalised) baskets are most cosine-similar
    to the given history and add up their items weighted by that similarity.

    Attributes:
        neighbours: Similar users used per request.
        shrink: Damps similarities of users with small baskets.
    """

    name = "user_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 0.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.users = sparse.csr_matrix((0, 0), dtype=np.float32)
        self._normed = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> UserKNN:
        """Keep the user x item matrix and its row-normalised copy."""
        self.users = data.matrix(binary=True)
        self._prepare()
        return self

    def _prepare(self) -> None:
        norms = np.sqrt(np.asarray(self.users.multiply(self.users).sum(axis=1)).ravel())
        inv = 1.0 / (norms + self.shrink + 1e-12)
        self._normed = sparse.diags(inv.astype(np.float32)) @ self.users
        self._normed_t = self._normed.T.tocsr().astype(np.float32)

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Similarity-weighted sum of the neighbours' items."""
        n_items = self.users.shape[1]
        h = history_matrix(histories, n_items)
        h.data[:] = 1.0
        norms = np.sqrt(np.asarray(h.multiply(h).sum(axis=1)).ravel())
        h = sparse.diags((1.0 / (norms + 1e-12)).astype(np.float32)) @ h
        sims = np.asarray((h @ self._normed_t).toarray(), dtype=np.float32)
        k = min(self.neighbours, sims.shape[1])
        rows = np.arange(sims.shape[0])
        if k < sims.shape[1]:
            cut = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            cut = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        values = sims[rows[:, None], cut]
        kept = sparse.csr_matrix((values.ravel(), (np.repeat(rows, cut.shape[1]), cut.ravel())), shape=sims.shape)
        return np.asarray((kept @ self.users).toarray(), dtype=np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer: cosine to every training customer through the item -> customers rows
        of their items, then the ``neighbours`` closest customers' baskets."""
        items = np.unique(np.asarray(history, dtype=np.int64))
        if len(items) == 0:
            return np.zeros(self.users.shape[1], dtype=np.float32)
        weights = np.full(len(items), 1.0 / (np.sqrt(len(items)) + 1e-12))
        sims = rows_sum(self._normed_t, items, weights)
        k = min(self.neighbours, len(sims))
        top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
        return rows_sum(self.users, top.astype(np.int64), sims[top].astype(np.float64))

    def save(self, directory: Path) -> None:
        """Write ``user_knn.npz`` and its settings."""
        sparse.save_npz(directory / "user_knn.npz", self.users)
        np.save(directory / "user_knn_params.npy", [self.neighbours, self.shrink])

    @classmethod
    def load(cls, directory: Path) -> UserKNN:
        """Read what :meth:`save` wrote."""
        neighbours, shrink = np.load(directory / "user_knn_params.npy")
        model = cls(int(neighbours), float(shrink))
        model.users = sparse.load_npz(directory / "user_knn.npz").tocsr().astype(np.float32)
        model._prepare()
        return model


def co_purchase(data: TrainingData, window: int = 2) -> sparse.csr_matrix:
    """Symmetric "bought together" counts: item pairs bought by one customer at the same
    timestamp (one order) or within ``window`` consecutive purchases of each other.
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for seq, ts in zip(data.sequences, data.timestamps, strict=True):
        n = len(seq)
        if n < 2:
            continue
        i, j = np.triu_indices(n, 1)
        keep = ((j - i) <= window) | (ts[i] == ts[j])
        i, j = seq[i[keep]], seq[j[keep]]
        diff = i != j
        rows += [i[diff], j[diff]]
        cols += [j[diff], i[diff]]
    n_items = data.n_items
    if not rows:
        return sparse.csr_matrix((n_items, n_items), dtype=np.float32)
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = sparse.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n_items, n_items))
    m.sum_duplicates()
    return m


class SequentialRules:
    """Sequential rules (a higher-order Markov chain): item j scores for item i when customers
    bought j within ``window`` purchases *after* i, weighted 1/distance. A user's score is the
    recency-weighted sum over their history. Cheap, and strong on purchase sequences.

    Attributes:
        window: How many later purchases count as following.
        decay: History weight per step back in time.
        shrink: Added to each item's count when normalising its row.
    """

    name = "seq_rules"

    def __init__(self, window: int = 3, decay: float = 0.5, shrink: float = 5.0) -> None:
        self.window = window
        self.decay = decay
        self.shrink = shrink
        self.rules = sparse.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> SequentialRules:
        """Count and normalise the "j follows i" pairs."""
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for seq in data.sequences:
            n = len(seq)
            for gap in range(1, min(self.window, n - 1) + 1):
                rows.append(seq[:-gap])
                cols.append(seq[gap:])
                vals.append(np.full(n - gap, 1.0 / gap, dtype=np.float32))
        n_items = data.n_items
        if rows:
            m = sparse.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n_items, n_items),
            )
            m.sum_duplicates()
            m.setdiag(0.0)
            m.eliminate_zeros()
        else:
            m = sparse.csr_matrix((n_items, n_items), dtype=np.float32)
        counts = data.item_counts()
        self.rules = (sparse.diags(1.0 / (counts + self.shrink)) @ m).tocsr().astype(np.float32)
        return self

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """History (sparse, decayed) times the rule matrix."""
        h = history_matrix(histories, self.rules.shape[0], self.decay)
        return np.asarray((h @ self.rules).toarray(), dtype=np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer: the decayed sum of the rule rows of their items."""
        history = np.asarray(history, dtype=np.int64)
        return rows_sum(self.rules, history, recency_weights(len(history), self.decay))

    def save(self, directory: Path) -> None:
        """Write ``seq_rules.npz`` and its settings."""
        sparse.save_npz(directory / "seq_rules.npz", self.rules)
        np.save(directory / "seq_rules_params.npy", [self.window, self.decay, self.shrink])

    @classmethod
    def load(cls, directory: Path) -> SequentialRules:
        """Read what :meth:`save` wrote."""
        window, decay, shrink = np.load(directory / "seq_rules_params.npy")
        model = cls(int(window), float(decay), float(shrink))
        model.rules = sparse.load_npz(directory / "seq_rules.npz").tocsr().astype(np.float32)
        return model
