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


def zscore_rows(scores: FloatMatrix) -> FloatMatrix:
    """Standardise each row to mean 0 / std 1 (rows with no spread become 0)."""
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    std[std < 1e-12] = 1.0
    return ((scores - mean) / std).astype(np.float32, copy=False)


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


def zscore(scores: FloatVector) -> FloatVector:
    """:func:`zscore_rows` for one row."""
    mean = scores.mean()
    std = scores.std()
    if std < 1e-12:
        return np.zeros_like(scores, dtype=np.float32)
    return ((scores - mean) / std).astype(np.float32, copy=False)


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
