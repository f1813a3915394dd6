"""The intent model's features and classifier, shared by nlu_train (calibration, .venv) and the rasa component.

Features: word counts, character 2-4-gram counts inside words (misspellings keep most of their n-grams:
"restituton" ~ "restitution"), and the fine-tuned sentence vector times `scale`. Classifier: multinomial
logistic regression (scikit-learn, lbfgs). The same code fits it in nlu_train on the calibration split and
in `rasa train` on all examples, so the temperature and thresholds fitted in one apply to the other.

`Scorer` computes the same logits as scikit-learn's model from plain arrays (no sparse matrices, no input
validation: ~0.1 ms a message instead of ~2-5 ms) and is what the rasa process keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

WORD_PATTERN = r"(?u)\b\w+\b"
SCALE = 10.0


def vectorizers() -> tuple[Any, Any]:
    """Unfitted (words, characters) CountVectorizers."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = CountVectorizer(lowercase=True, token_pattern=WORD_PATTERN)
    chars = CountVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(2, 4))
    return words, chars


def fit(texts: Sequence[str], vectors: np.ndarray, labels: Sequence[str], max_iter: int = 300) -> Scorer:
    """Fit the vectorizers and the logistic regression; return the fast scorer of the result."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    words, chars = vectorizers()
    x = sp.hstack(
        [words.fit_transform(texts), chars.fit_transform(texts), sp.csr_matrix(np.asarray(vectors) * SCALE)]
    ).tocsr()
    model = LogisticRegression(max_iter=max_iter, C=1.0)
    model.fit(x, list(labels))
    return Scorer.from_sklearn(model, words.vocabulary_, chars.vocabulary_)


@dataclass
class Scorer:
    """Logistic-regression logits from word/char n-gram counts and a sentence vector."""

    classes: List[str]
    weights: np.ndarray  # (features, classes): words, then chars, then the vector dimensions
    intercept: np.ndarray  # (classes,)
    words: Dict[str, int]
    chars: Dict[str, int]

    @classmethod
    def from_sklearn(cls, model: Any, words: Dict[str, int], chars: Dict[str, int]) -> Scorer:
        """From a fitted LogisticRegression and its vectorizers' vocabularies."""
        return cls(
            [str(c) for c in model.classes_],
            np.ascontiguousarray(model.coef_.T, dtype=np.float64),
            np.asarray(model.intercept_, dtype=np.float64),
            {k: int(v) for k, v in words.items()},
            {k: int(v) for k, v in chars.items()},
        )

    def _analyzers(self) -> tuple[Any, Any]:
        if not hasattr(self, "_cached"):
            words, chars = vectorizers()
            self._cached = (words.build_analyzer(), chars.build_analyzer())
        return self._cached

    def logits(self, text: str, vector: np.ndarray) -> np.ndarray:
        """The model's logits (decision function) for one text and its sentence vector."""
        word_analyzer, char_analyzer = self._analyzers()
        rows: Dict[int, float] = {}
        for token in word_analyzer(text):
            index = self.words.get(token)
            if index is not None:
                rows[index] = rows.get(index, 0.0) + 1.0
        offset = len(self.words)
        for gram in char_analyzer(text):
            index = self.chars.get(gram)
            if index is not None:
                rows[offset + index] = rows.get(offset + index, 0.0) + 1.0
        scores = self.intercept.copy()
        if rows:
            idx = np.fromiter(rows.keys(), dtype=np.int64, count=len(rows))
            counts = np.fromiter(rows.values(), dtype=np.float64, count=len(rows))
            scores += counts @ self.weights[idx]
        dense = self.weights[offset + len(self.chars) :]
        scores += (np.asarray(vector, dtype=np.float64).reshape(-1) * SCALE) @ dense
        return scores

    def batch_logits(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Logits for many texts, shape (len(texts), classes)."""
        return np.stack([self.logits(t, v) for t, v in zip(texts, vectors, strict=True)])

    def to_arrays(self) -> Dict[str, Any]:
        """Plain arrays and lists for storage (np.savez plus JSON)."""
        return {
            "classes": self.classes,
            "weights": self.weights,
            "intercept": self.intercept,
            "words": self.words,
            "chars": self.chars,
        }

    @classmethod
    def from_arrays(cls, data: Dict[str, Any]) -> Scorer:
        """Inverse of `to_arrays`."""
        return cls(
            list(data["classes"]),
            np.asarray(data["weights"], dtype=np.float64),
            np.asarray(data["intercept"], dtype=np.float64),
            dict(data["words"]),
            dict(data["chars"]),
        )
