"""Runs in the rasa environment for tests/bot/test_nlu_components.py; prints one JSON object of measurements.

Checks that can only run inside rasa's interpreter (onnxruntime, rasa's Message and Features):
  * encoder: the ONNX fp32 vectors (compared by the test with sentence-transformers, which lives in the other
    environment), int8 against fp32, and that a text's int8 vector is the same alone or among others
    (training batches vs one served message);
  * classifier: FastLogisticRegressionClassifier's probabilities against sklearn's predict_proba on the
    same trained model, with real CountVectors features plus a dense block, and its persistence round trip.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402

TEXTS = [
    "hello",
    "where is my order ORD-100234?",
    "i want to send back the face cream, it irritated my skin and the box arrived damaged, what now??",
    "AMEX OK?",
    "wie lange dauert der versand nach Österreich",
    "🙂🙂🙂",
]


def encoder_checks() -> Dict[str, Any]:
    """Cosine similarities between the runtimes, per text."""
    from rasa.engine.graph import ExecutionContext, GraphSchema

    from bot.sentence_encoder import SentenceEncoderFeaturizer

    def featurizer(runtime: str) -> SentenceEncoderFeaturizer:
        config = {**SentenceEncoderFeaturizer.get_default_config(), "runtime": runtime, "cache_size": 0, "scale": 10.0}
        return SentenceEncoderFeaturizer(config, ExecutionContext(GraphSchema({}), node_name=f"enc_{runtime}"))

    vectors = {runtime: featurizer(runtime).embed(TEXTS) for runtime in ("onnx-fp32", "onnx-int8")}
    int8 = featurizer("onnx-int8")
    alone = np.stack([int8.embed([t])[0] for t in TEXTS])
    mixed = int8.embed(list(reversed(TEXTS)))[::-1]

    def cosine(a: np.ndarray, b: np.ndarray) -> List[float]:
        return [float(x) for x in (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))]

    return {
        "texts": TEXTS,
        "fp32": vectors["onnx-fp32"].tolist(),
        "int8_vs_fp32": cosine(vectors["onnx-int8"], vectors["onnx-fp32"]),
        "int8_alone_vs_in_a_batch_max_abs": float(np.abs(alone - mixed).max()),
        "norms": [float(n) for n in np.linalg.norm(vectors["onnx-int8"], axis=1)],
    }


def classifier_checks() -> Dict[str, Any]:
    """Largest difference between the fast path and sklearn, before and after a save/load round trip."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.constants import TEXT
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from bot.intent_classifier import FastLogisticRegressionClassifier

    rng = np.random.default_rng(7)
    intents = ["track_order", "return_item", "payment_problem", "greet"]
    words = {
        "track_order": "where is my order parcel tracking status shipped",
        "return_item": "return send back item refund label courier",
        "payment_problem": "card declined payment failed charged twice pay",
        "greet": "hello hi good morning hey there",
    }
    examples = []
    for i in range(120):
        intent = intents[i % 4]
        text = " ".join(rng.choice(words[intent].split(), size=4)) + (" thanks" if i % 3 else "")
        examples.append(Message(data={TEXT: text, "intent": intent}))
    data = TrainingData(examples)
    context = ExecutionContext(GraphSchema({}), node_name="probe")
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalModelStorage(Path(tmp))
        WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
        words_cv = CountVectorsFeaturizer.create(
            CountVectorsFeaturizer.get_default_config(), storage, Resource("cv_words"), context
        )
        words_cv.train(data)
        words_cv.process_training_data(data)
        chars_config = {**CountVectorsFeaturizer.get_default_config(), "analyzer": "char_wb", "max_ngram": 3}
        chars_cv = CountVectorsFeaturizer.create(chars_config, storage, Resource("cv_chars"), context)
        chars_cv.train(data)
        chars_cv.process_training_data(data)
        for message in examples:  # a dense sentence block, like the encoder's
            vector = rng.normal(size=(1, 16)).astype(np.float32)
            message.add_features(Features(vector, "sentence", TEXT, "dense_probe"))
        resource = Resource("classifier")
        config = {**FastLogisticRegressionClassifier.get_default_config(), "max_iter": 300}
        classifier = FastLogisticRegressionClassifier.create(config, storage, resource, context)
        classifier.train(data)

        def worst(model: FastLogisticRegressionClassifier) -> float:
            expected = model.clf.predict_proba(model._create_X(examples))
            model.process(examples)
            worst_diff = 0.0
            for row, message in zip(expected, examples, strict=True):
                got = {r["name"]: r["confidence"] for r in message.get("intent_ranking")}
                for name, p in zip(model.clf.classes_, row, strict=True):
                    worst_diff = max(worst_diff, abs(got[name] - float(p)))
                assert message.get("intent")["name"] == model.clf.classes_[int(np.argmax(row))]
            return worst_diff

        before = worst(classifier)
        loaded = FastLogisticRegressionClassifier.load(config, storage, resource, context)
        after = worst(loaded)
        # a message whose features no longer match the trained columns must fail loudly, not mis-score
        short = Message(data={TEXT: "hello"})
        short.add_features(Features(np.ones((1, 3), dtype=np.float32), "sentence", TEXT, "dense_probe"))
        try:
            loaded.process([short])
            mismatch = "no error"
        except ValueError as error:
            mismatch = str(error)
    return {"max_abs_diff": before, "max_abs_diff_after_load": after, "mismatch_error": mismatch}


if __name__ == "__main__":
    which = sys.argv[1]
    result = encoder_checks() if which == "encoder" else classifier_checks()
    print(json.dumps(result))
