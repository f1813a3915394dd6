"""The interface shared by every model, and helpers to turn histories into matrices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import TrainingData

FloatMatrix = npt.NDArray[np.float32]
FloatVector = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@runtime_checkable
class Scorer(Protocol):
    """A model that scores all catalogue items for user histories (higher is better).

    ``score`` takes time-ordered histories of item indices (possibly empty: a cold user) and
    returns a dense ``(len(histories), n_items)`` float32 matrix. Items that are already in a
    history are *not* removed here; the caller masks them.
    """

    name: str

    def fit(self, data: TrainingData) -> Scorer:
        """Learn from ``data``; returns self."""
        ...

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Scores of every item for every history."""
        ...

    def score_one(self, history: IntArray) -> FloatVector:
        """Scores of every item for one history: the serving path (same ranking as ``score``,
        written for one customer at a time: sparse row look-ups, no batch matrices)."""
        ...

    def save(self, directory: Path) -> None:
        """Write the fitted state under ``directory``."""
        ...


@runtime_checkable
class SparseScorer(Scorer, Protocol):
    """A scorer whose scores are zero for most items (neighbourhood models, TF-IDF content).

    ``score_sparse`` returns the same scores as ``score`` as a CSR matrix (absent = 0) and
    ``score_one_sparse`` one customer's non-zero items (sorted, unique) and their scores: the
    hybrid, the tuning and the evaluation combine and rank these without ever building a
    customers x products matrix, so memory stays bounded at any catalogue size.
    """

    sparse_scores: bool

    def score_sparse(self, histories: Sequence[IntArray]) -> sparse.csr_matrix:
        """Scores of every item for every history, as a sparse matrix."""
        ...

    def score_one_sparse(self, history: IntArray) -> tuple[IntArray, FloatVector]:
        """One customer's scored items (sorted, unique) and their scores."""
        ...


def is_sparse(model: object) -> bool:
    """True when ``model`` can score sparsely (see :class:`SparseScorer`)."""
    return bool(getattr(model, "sparse_scores", False))


def history_matrix(histories: Sequence[IntArray], n_items: int, decay: float = 1.0) -> sparse.csr_matrix:
    """A ``(len(histories), n_items)`` sparse matrix with one row per history.

    Args:
        histories: Time-ordered item indices per user.
        n_items: Number of catalogue items.
        decay: Weight multiplier per step back in time: the latest item weighs 1, the one before
            ``decay``, then ``decay**2``... (1.0 = all equal). Repeated items add up.

    Returns:
        The float32 CSR matrix.
    """
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    if lengths.sum() == 0:
        return sparse.csr_matrix((len(histories), n_items), dtype=np.float32)
    cols = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
    if decay == 1.0:
        vals = np.ones(len(cols), dtype=np.float32)
    else:
        ends = np.repeat(np.cumsum(lengths), lengths)
        age = ends - 1 - np.arange(len(cols))
        vals = np.power(decay, age).astype(np.float32)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(histories), n_items), dtype=np.float32)
    m.sum_duplicates()
    return m


def recency_weights(length: int, decay: float) -> npt.NDArray[np.float64]:
    """Weights of a history of ``length`` items, oldest first: ``decay ** age`` (latest = 1)."""
    if decay == 1.0:
        return np.ones(length, dtype=np.float64)
    return np.power(decay, np.arange(length - 1, -1, -1, dtype=np.float64))


def rows_sum(matrix: sparse.csr_matrix, rows: IntArray, weights: npt.NDArray[np.float64]) -> FloatVector:
    """``sum_r weights[r] * matrix[rows[r]]`` as a dense float32 vector (repeated rows add up).

    The one-customer version of ``history_matrix(...) @ matrix``: it reads the CSR arrays
    directly (one gather and one ``bincount``), so it costs O(non-zeros touched), not O(items),
    and skips scipy's per-call overhead.
    """
    n_cols = matrix.shape[1]
    indptr = matrix.indptr
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(n_cols, dtype=np.float32)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    positions = np.arange(total) + shift
    values = matrix.data[positions] * np.repeat(weights, lengths)
    return np.bincount(matrix.indices[positions], weights=values, minlength=n_cols).astype(np.float32)


def gather_rows(
    matrix: sparse.csr_matrix, rows: IntArray, weights: npt.NDArray[np.float64]
) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """:func:`rows_sum` without the dense vector: the columns it touches (sorted, unique) and
    their summed values. Costs O(non-zeros touched), whatever the number of columns.
    """
    indptr = matrix.indptr
    rows = np.asarray(rows, dtype=np.int64)
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    positions = np.arange(total) + shift
    values = matrix.data[positions].astype(np.float64) * np.repeat(weights, lengths)
    return sum_by_index(matrix.indices[positions], values, matrix.shape[1])


def sum_by_index(
    indices: IntArray, values: npt.NDArray[np.floating], n: int
) -> tuple[IntArray, npt.NDArray[np.float64]]:
    """Distinct ``indices`` (sorted) and the sum of their ``values``: one bincount over ``n``
    when the entries are many, a sort when they are few."""
    if len(indices) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if len(indices) * 16 > n:
        summed = np.bincount(indices, weights=values, minlength=n)
        touched = np.zeros(n, dtype=bool)
        touched[indices] = True
        where = np.flatnonzero(touched)
        return where.astype(np.int64), summed[where].astype(np.float64, copy=False)
    where, inverse = np.unique(indices, return_inverse=True)
    return where.astype(np.int64), np.bincount(inverse, weights=values).astype(np.float64, copy=False)


def row_stats(values: npt.NDArray[np.floating], n: int) -> tuple[float, float]:
    """Mean and standard deviation over ``n`` entries of a vector whose other entries are 0."""
    if n <= 0:
        return 0.0, 0.0
    v = np.asarray(values, dtype=np.float64)
    mean = float(v.sum()) / n
    var = float(np.dot(v, v)) / n - mean * mean
    return mean, float(np.sqrt(max(var, 0.0)))


def sparse_row_stats(matrix: sparse.csr_matrix) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-row mean and standard deviation of a sparse matrix over all its columns (absent = 0)."""
    n = matrix.shape[1]
    data = matrix.data.astype(np.float64)
    lengths = np.diff(matrix.indptr)
    owner = np.repeat(np.arange(matrix.shape[0]), lengths)
    sums = np.bincount(owner, weights=data, minlength=matrix.shape[0])
    squares = np.bincount(owner, weights=data * data, minlength=matrix.shape[0])
    mean = sums / max(n, 1)
    var = squares / max(n, 1) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def dense_row_stats(scores: FloatMatrix) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-row mean and standard deviation of a dense matrix (float64, like :func:`sparse_row_stats`)."""
    x = np.asarray(scores, dtype=np.float64)
    mean = x.mean(axis=1)
    var = np.einsum("ij,ij->i", x, x) / max(x.shape[1], 1) - mean * mean
    return mean, np.sqrt(np.maximum(var, 0.0))


def top_k_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    """Keep the ``k`` largest entries of every row of a CSR matrix (ties: lower column first).

    Vectorised (one sort of the non-zeros), so it is cheap on matrices with a million rows.
    """
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    n_rows = matrix.shape[0]
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    order = np.lexsort((matrix.indices, -matrix.data, rows))
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    keep = order[rank < k]
    kept_rows = rows[keep]
    out = sparse.csr_matrix(
        (
            matrix.data[keep].astype(np.float32),
            matrix.indices[keep],
            np.concatenate([[0], np.cumsum(np.bincount(kept_rows, minlength=n_rows))]),
        ),
        shape=matrix.shape,
    )
    out.sort_indices()
    return out


def merge_top(
    k: int,
    allowed: npt.NDArray[np.bool_] | None,
    n_items: int,
    support: IntArray | None = None,
    support_scores: npt.NDArray[np.floating] | None = None,
    groups: Sequence[tuple[IntArray, npt.NDArray[np.floating], float]] = (),
) -> tuple[IntArray, FloatVector]:
    """The exact best ``k`` allowed items of a score vector given as a sparse part plus static orders.

    Every item's score is either its ``support`` score, or, for items outside the support, the
    value of the group it belongs to: ``groups`` are ``(items in score order, their static
    values, a per-request offset)`` and together cover the items that can score at all. The
    best items of the whole vector are among the best ``k`` of the support and the first
    ``k`` allowed non-support items of each group, so a request costs O(support + k), not
    O(catalogue). Ties go to the lower item index, as in :func:`top_indices`.

    Returns:
        Items best first, and their scores.
    """
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    pools_items: list[IntArray] = []
    pools_scores: list[FloatVector] = []
    in_support = None
    if support is not None and len(support):
        s_items = np.asarray(support, dtype=np.int64)
        s_scores = np.asarray(support_scores, dtype=np.float32)
        if allowed is not None:
            ok = allowed[s_items]
            s_items, s_scores = s_items[ok], s_scores[ok]
        if len(s_items):
            if len(s_items) > 1 and (np.diff(s_items) <= 0).any():
                order = np.argsort(s_items, kind="stable")
                s_items, s_scores = s_items[order], s_scores[order]
            best = top_indices(s_scores, min(k, len(s_items)))
            pools_items.append(s_items[best])
            pools_scores.append(s_scores[best])
        in_support = np.zeros(n_items, dtype=bool)
        in_support[support] = True
    for order, values, offset in groups:
        taken_items: list[IntArray] = []
        taken_scores: list[FloatVector] = []
        found, pos, size = 0, 0, max(2 * k, 64)
        while found < k and pos < len(order):
            chunk = order[pos : pos + size]
            ok = np.ones(len(chunk), dtype=bool)
            if allowed is not None:
                ok &= allowed[chunk]
            if in_support is not None:
                ok &= ~in_support[chunk]
            where = np.flatnonzero(ok)[: k - found]
            if len(where):
                taken_items.append(chunk[where])
                # Same arithmetic as the dense vector: float32 value minus float32 offset.
                static = np.asarray(values[pos : pos + size][where], dtype=np.float32)
                taken_scores.append(static - np.float32(offset))
                found += len(where)
            pos += size
            size *= 4
        if taken_items:
            pools_items.append(np.concatenate(taken_items))
            pools_scores.append(np.concatenate(taken_scores))
    if not pools_items:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    items = np.concatenate(pools_items)
    scores = np.concatenate(pools_scores)
    order = np.lexsort((items, -scores))[:k]
    return items[order].astype(np.int64), scores[order]


def zscore(scores: FloatVector) -> FloatVector:
    """Standardise ``scores`` to mean 0 / std 1 (all 0 when they have no spread)."""
    mean = scores.mean()
    std = scores.std()
    if std < 1e-12:
        return np.zeros_like(scores, dtype=np.float32)
    out: FloatVector = ((scores - mean) / std).astype(np.float32, copy=False)
    return out


def top_indices(scores: FloatVector, k: int) -> IntArray:
    """Positions of the ``k`` largest scores, best first; ties go to the lower position, so the
    answer does not depend on how a partial sort happens to split equal scores."""
    n = scores.shape[0]
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if k < n:
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)[: k - len(above)]
        chosen = np.concatenate([above, ties])
    else:
        chosen = np.arange(n)
    return chosen[np.lexsort((chosen, -scores[chosen]))].astype(np.int64)
