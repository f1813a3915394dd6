"""Rasa's LogisticRegressionClassifier, trained the same way, predicting in a fraction of the time.

Rasa's `process` builds a scipy matrix per message (a deep copy and hstack of every featurizer's sequence
and sentence features, then `csr_matrix` of the dense vector) and goes through sklearn's input validation:
~5 ms a parse on these machines, more than the rest of the pipeline without the encoder. The model is a
multinomial logistic regression, so its probabilities are a softmax of ``W x + b``; this computes exactly
that, one sentence-feature block at a time, in ~0.2 ms. Training, persistence and the output format
(``intent``, ``intent_ranking``) are Rasa's own. tests/bot/test_nlu_components.py checks the
probabilities against sklearn's ``predict_proba``.
"""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import RANKING_LENGTH


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FastLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Logistic regression on the sentence features, with a direct numpy prediction path."""

    _weights: np.ndarray | None = None

    def _prepared(self) -> np.ndarray | None:
        # (features, classes) weights, built once per trained classifier; None when sklearn's own path must run
        # (untrained, or a binary problem, whose probabilities are a sigmoid rather than a softmax).
        coef = getattr(self.clf, "coef_", None)
        if coef is None or len(self.clf.classes_) < 3:
            return None
        if self._weights is None or self._weights.shape[1] != coef.shape[0]:
            self._weights = np.ascontiguousarray(coef.T)
        return self._weights

    def _scores(self, message: Message, weights: np.ndarray) -> np.ndarray:
        # Rasa's _create_X puts the sentence-level sparse features first (in the order the featurizers added
        # them), then the dense ones; the columns of coef_ follow that order.
        scores = np.array(self.clf.intercept_, dtype=np.float64)
        offset = 0
        features = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        for block in [f for f in features if f.is_sparse()] + [f for f in features if f.is_dense()]:
            width = block.features.shape[-1]
            part = weights[offset : offset + width]
            if block.is_sparse():
                # one row of a few dozen non-zeros: gather those weight rows (scipy's coo @ dense loops per class)
                row = block.features.tocoo()
                scores += row.data.astype(np.float64) @ part[row.col]
            else:
                scores += np.asarray(block.features, dtype=np.float64).reshape(-1) @ part
            offset += width
        if offset != weights.shape[0]:
            raise ValueError(
                f"the message has {offset} sentence features but the classifier was trained on {weights.shape[0]}: "
                "the pipeline changed since training; retrain the model (make model)"
            )
        return scores

    def process(self, messages: List[Message]) -> List[Message]:
        """Set ``intent`` and ``intent_ranking`` on each message, as Rasa's classifier does."""
        weights = self._prepared()
        if weights is None:
            return super().process(messages)
        classes = self.clf.classes_
        limit = self.config[RANKING_LENGTH]
        for message in messages:
            scores = self._scores(message, weights)
            scores -= scores.max()
            probabilities = np.exp(scores)
            probabilities /= probabilities.sum()
            order = np.argsort(-probabilities, kind="stable")
            if limit > 0:
                order = order[:limit]
            ranking = [{"name": str(classes[i]), "confidence": float(probabilities[i])} for i in order]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Rasa's defaults for the logistic regression."""
        return LogisticRegressionClassifier.get_default_config()
