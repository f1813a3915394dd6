"""Popularity: overall, trending (time-decayed) and per category; the baseline and cold-start answer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

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
        # The decay reference (latest event) and the half-life used; new events are added on
        # the same scale by :meth:`add` without refitting.
        self.now = 0.0
        self.used_half_life = 1.0
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
            self.now, self.used_half_life = now, half_life
            items = np.concatenate(data.sequences)
            weights = np.concatenate(data.weights).astype(np.float64)
            trending = np.bincount(
                items, weights=weights * np.power(0.5, (now - stamps) / half_life), minlength=data.n_items
            ).astype(np.float64, copy=False)
        # Ties broken by the overall count so trending never ranks a never-bought item first.
        self.trending = (trending + 1e-6 * self.counts).astype(np.float32)
        return self

    def add(self, items: IntArray, weights: npt.NDArray[np.floating], stamps: npt.NDArray[np.floating]) -> None:
        """Count new events (incremental update): exactly what refitting adds to ``counts``;
        ``trending`` weighs them on the fitted scale (a later event weighs more), which ranks
        like re-decaying every older event."""
        items = np.asarray(items, dtype=np.int64)
        w = np.asarray(weights, dtype=np.float64)
        self.counts = (self.counts + np.bincount(items, weights=w, minlength=len(self.counts))).astype(np.float32)
        # Capped: an update loop running for many half-lives must not overflow (a rebuild resets it).
        age = np.maximum((self.now - np.asarray(stamps, dtype=np.float64)) / self.used_half_life, -60.0)
        boost = np.bincount(items, weights=w * np.power(0.5, age), minlength=len(self.trending))
        tie_break = 1e-6 * np.bincount(items, weights=w, minlength=len(self.trending))
        self.trending = (self.trending + boost + tie_break).astype(np.float32)
        self._row = None

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
        np.savez(
            directory / "popularity.npz",
            counts=self.counts,
            trending=self.trending,
            decay=np.array([self.now, self.used_half_life]),
        )

    @classmethod
    def load(cls, directory: Path) -> Popularity:
        """Read ``popularity.npz``."""
        model = cls()
        with np.load(directory / "popularity.npz") as f:
            model.counts = f["counts"]
            model.trending = f["trending"]
            model.now, model.used_half_life = (float(v) for v in f["decay"])
        return model
