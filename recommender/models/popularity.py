"""Popularity: overall, trending (time-decayed) and per category; the baseline and cold-start answer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recommender.data import TrainingData
from recommender.models.base import FloatMatrix, FloatVector, IntArray


class Popularity:
    """Ranks items by how much they were bought, optionally weighting recent events more.

    Attributes:
        half_life: Age (in timestamp units) after which an event counts half; None = no decay.
    """

    name = "popularity"

    def __init__(self, half_life: float | None = None) -> None:
        self.half_life = half_life
        self.counts = np.zeros(0, dtype=np.float32)
        self.trending = np.zeros(0, dtype=np.float32)
        self._row: FloatVector | None = None

    def fit(self, data: TrainingData) -> Popularity:
        """Count (weighted) events per item, overall and time-decayed."""
        self.counts = data.item_counts()
        self._row = None
        trending = np.zeros(data.n_items, dtype=np.float64)
        if data.sequences:
            stamps = np.concatenate(data.timestamps)
            now = float(stamps.max()) if len(stamps) else 0.0
            half_life = self.half_life or max((now - float(stamps.min())) / 4.0, 1e-9)
            for seq, w, ts in zip(data.sequences, data.weights, data.timestamps, strict=True):
                np.add.at(trending, seq, w * np.power(0.5, (now - ts) / half_life))
        # Ties broken by the overall count so trending never ranks a never-bought item first.
        self.trending = (trending + 1e-6 * self.counts).astype(np.float32)
        return self

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """The same popularity row for every history (log-scaled counts)."""
        row = self.score_one(np.zeros(0, dtype=np.int64))
        return np.broadcast_to(row, (len(histories), row.shape[0])).copy()

    def score_one(self, history: IntArray) -> FloatVector:
        """The log-scaled counts (computed once; the caller must not modify the array)."""
        if self._row is None or self._row.shape != self.counts.shape:
            self._row = np.log1p(self.counts).astype(np.float32)
        return self._row

    def ranking(self, trending: bool = False) -> IntArray:
        """All items, most popular first (stable: ties by item index)."""
        values = self.trending if trending else self.counts
        return np.argsort(-values, kind="stable").astype(np.int64)

    def save(self, directory: Path) -> None:
        """Write ``popularity.npz``."""
        np.savez(directory / "popularity.npz", counts=self.counts, trending=self.trending)

    @classmethod
    def load(cls, directory: Path) -> Popularity:
        """Read ``popularity.npz``."""
        model = cls()
        with np.load(directory / "popularity.npz") as f:
            model.counts = f["counts"]
            model.trending = f["trending"]
        return model
