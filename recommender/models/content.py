"""Content-based model: items described by their text (MiniLM) or attributes (TF-IDF fallback).

It is what makes new products (no interactions yet) reachable: their vectors exist from the
catalogue alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from recommender.data import Catalog, Product, TrainingData
from recommender.embedding import encode_texts_cached
from recommender.models.base import (
    FloatMatrix,
    FloatVector,
    IntArray,
    gather_rows,
    history_matrix,
    recency_weights,
    rows_sum,
)


def product_document(product: Product) -> str:
    """The text embedded for a product: title, description, category and attributes."""
    parts = [product.text()]
    if product.category:
        parts.append(f"category: {product.category}")
    return ". ".join(p for p in parts if p)


def attribute_tokens(product: Product) -> str:
    """Whitespace-joined tokens for TF-IDF: attributes, category and title words."""
    tokens = list(product.attributes)
    if product.category:
        tokens.append("cat_" + product.category.replace(" ", "_"))
    return " ".join(tokens + product.text().split())


class ContentModel:
    """Scores items by similarity of their feature vectors to the user's (recency-weighted) profile.

    Attributes:
        encoder: ``"auto"`` (MiniLM when most products have text, else TF-IDF), ``"minilm"`` or
            ``"tfidf"``.
        decay: History weight per step back in time.
        cache: Where MiniLM vectors of product texts are kept between trainings (None = none).
        threads: torch threads for MiniLM (None = torch's default).
        embedded: How many texts the last fit had to embed (the rest came from the cache).
    """

    name = "content"

    def __init__(
        self, encoder: str = "auto", decay: float = 1.0, cache: Path | None = None, threads: int | None = None
    ) -> None:
        self.encoder = encoder
        self.decay = decay
        self.cache = cache
        self.threads = threads
        self.embedded = 0
        self.used_encoder = ""
        self.features: sparse.csr_matrix | FloatMatrix = np.zeros((0, 0), dtype=np.float32)
        self._by_feature: sparse.csr_matrix | None = None

    @property
    def sparse_scores(self) -> bool:
        """TF-IDF vectors score sparsely (only products sharing a token); MiniLM vectors do not."""
        return bool(sparse.issparse(self.features))

    def fit(self, data: TrainingData) -> ContentModel:
        """Build item vectors from the catalogue (interactions are not needed)."""
        self.features = self.encode_catalog(data.catalog)
        self._prepare()
        return self

    def _prepare(self) -> None:
        # token -> products rows: a profile reaches only the products that share its tokens.
        self._by_feature = sparse.csr_matrix(self.features.T) if sparse.issparse(self.features) else None

    def encode_catalog(self, catalog: Catalog) -> sparse.csr_matrix | FloatMatrix:
        """L2-normalised item vectors, one row per catalogue item."""
        use_minilm = self.encoder == "minilm" or (self.encoder == "auto" and catalog.has_text())
        if use_minilm:
            self.used_encoder = "minilm"
            docs = [product_document(p) for p in catalog.products]
            vectors, self.embedded = encode_texts_cached(docs, self.cache, threads=self.threads)
            return vectors
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.used_encoder = "tfidf"
        docs = [attribute_tokens(p) for p in catalog.products]
        if not any(docs):
            return sparse.csr_matrix((len(docs), 1), dtype=np.float32)
        vectorizer = TfidfVectorizer(token_pattern=r"\S+", lowercase=True, sublinear_tf=True)  # noqa: S106
        return vectorizer.fit_transform(docs).astype(np.float32).tocsr()

    def _profiles(self, histories: Sequence[IntArray]) -> sparse.csr_matrix | FloatMatrix:
        h = history_matrix(histories, self.features.shape[0], self.decay)
        return h @ self.features

    def score_sparse(self, histories: Sequence[IntArray]) -> sparse.csr_matrix:
        """:meth:`score` as a sparse matrix (TF-IDF vectors only)."""
        assert self._by_feature is not None, "sparse scores need TF-IDF vectors"
        return (sparse.csr_matrix(self._profiles(histories)) @ self._by_feature).tocsr()

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Dot product of every item vector with each history's profile."""
        if self._by_feature is not None:
            return np.asarray(self.score_sparse(histories).toarray(), dtype=np.float32)
        scores = self._profiles(histories) @ self.features.T
        if sparse.issparse(scores):
            return np.asarray(scores.toarray(), dtype=np.float32)  # type: ignore[union-attr]  # scipy is untyped
        return np.asarray(scores, dtype=np.float32)

    def score_one_sparse(self, history: IntArray) -> tuple[IntArray, FloatVector]:
        """One customer's non-zero scores: products sharing a token with their profile."""
        assert self._by_feature is not None, "sparse scores need TF-IDF vectors"
        history = np.asarray(history, dtype=np.int64)
        if len(history) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        tokens, weights = gather_rows(self.features, history, recency_weights(len(history), self.decay))
        cols, vals = gather_rows(self._by_feature, tokens, weights)
        return cols, vals.astype(np.float32)

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer: the decayed sum of their items' vectors, dotted with every item vector."""
        history = np.asarray(history, dtype=np.int64)
        n_items = self.features.shape[0]
        if len(history) == 0:
            return np.zeros(n_items, dtype=np.float32)
        weights = recency_weights(len(history), self.decay)
        if sparse.issparse(self.features):
            profile = rows_sum(self.features, history, weights)
            return np.asarray(self.features @ profile, dtype=np.float32)
        dense = np.asarray(self.features)
        profile = (weights.astype(np.float32) @ dense[history]).astype(np.float32)
        return np.asarray(dense @ profile, dtype=np.float32)

    def similar_sparse(self, item: int) -> tuple[IntArray, FloatVector]:
        """Products with a non-zero cosine to ``item`` and that cosine (TF-IDF vectors only)."""
        assert self._by_feature is not None, "sparse similarities need TF-IDF vectors"
        row = self.features[item]
        cols, vals = gather_rows(self._by_feature, row.indices.astype(np.int64), row.data.astype(np.float64))
        return cols, vals.astype(np.float32)

    def similar_to(self, item: int) -> FloatMatrix:
        """Cosine similarity of ``item`` with every item (1-D)."""
        row = self.features[item]
        sims = self.features @ row.T
        if sparse.issparse(sims):
            sims = sims.toarray()
        return np.asarray(sims, dtype=np.float32).ravel()

    def save(self, directory: Path) -> None:
        """Write the item vectors (dense ``.npy`` or sparse ``.npz``) and settings."""
        if sparse.issparse(self.features):
            sparse.save_npz(directory / "content.npz", sparse.csr_matrix(self.features), compressed=False)
        else:
            np.save(directory / "content.npy", self.features)
        meta = {"encoder": self.encoder, "used_encoder": self.used_encoder, "decay": self.decay}
        (directory / "content.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> ContentModel:
        """Read what :meth:`save` wrote."""
        meta = json.loads((directory / "content.json").read_text(encoding="utf-8"))
        model = cls(meta["encoder"], float(meta["decay"]))
        model.used_encoder = meta["used_encoder"]
        if (directory / "content.npz").exists():
            model.features = sparse.load_npz(directory / "content.npz").tocsr().astype(np.float32, copy=False)
        else:
            model.features = np.load(directory / "content.npy")
        model._prepare()
        return model
