"""A Rasa intent classifier on the fine-tuned MiniLM (ONNX Runtime, int8), with a calibrated route-out.

`make model` first fine-tunes the encoder in the Python 3.11 environment (`python -m nlu_train`, torch), which
writes a folder (safetensors, calibration.json, every training text's vector; see nlu_train/finetune.py). At
`rasa train` this component checks that the folder was trained on exactly the same examples and intents,
turns the encoder into an int8 ONNX graph (bot/minilm_onnx.py), fits the logistic regression of
nlu_train/intent_features.py (word and character n-gram counts plus the fine-tuned vector) on all examples,
and stores graph, tokenizer, classifier, calibration and training vectors inside the rasa model, which is
then self-contained.

At parse time one ONNX call gives the sentence vector (~3 ms), the classifier's logits divided by the
calibrated temperature give the probabilities. A message is routed out (``nlu_fallback``, which the dialogue
hands to the fallback and then a person) when the classifier is unsure (calibrated top probability below a
threshold) or when the message is unlike anything we trained on (cosine similarity to the nearest training
example below a threshold); out_of_scope itself is a trained intent. Temperature and thresholds were fitted
by nlu_train on examples neither the encoder nor the classifier had seen. `route_out: false` turns the
decision off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ENCODER_DIR = "var/models/nlu-encoder"
TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


class EncoderMismatch(ValueError):
    """There is no fine-tuned encoder folder to train from; `make model` makes it."""


def data_fingerprint(pairs: List[tuple[str, str]]) -> str:
    """Same hash as nlu_train.finetune.data_fingerprint over (text, intent) pairs."""
    h = hashlib.sha256()
    for text, intent in sorted(set(pairs)):
        h.update(f"{text}\t{intent}\n".encode())
    return h.hexdigest()[:16]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FineTunedIntentClassifier(GraphComponent, IntentClassifier):
    """Intent ranking from the fine-tuned encoder's head; calibrated route-out to ``nlu_fallback``."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """Defaults: the folder `python -m nlu_train` writes, int8, one thread, top-10 ranking, route-out on."""
        return {
            "encoder_dir": None,  # None: $NLU_ENCODER_DIR, else var/models/nlu-encoder
            "precision": "int8",
            "threads": 1,
            "max_tokens": 64,
            "ranking_length": 10,
            "route_out": True,
        }

    @staticmethod
    def required_packages() -> List[str]:
        """Python packages this component needs in the rasa environment."""
        return ["transformers", "onnxruntime", "onnx", "sklearn"]

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        files: Dict[str, Any] | None = None,
    ) -> None:
        """Keep the settings; `files` (from `load`) holds the graph bytes, tokenizer and calibration."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._session: Any = None
        self._tokenizer: Any = None
        self._labels: List[str] = []
        self._temperature = 1.0
        self._p_threshold = 0.0
        self._similarity_threshold = -1.0
        self._vectors: np.ndarray | None = None
        self._scorer: Any = None
        if files:
            self._prepare(files)

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FineTunedIntentClassifier:
        """A component that still has to be trained."""
        return cls(config, model_storage, resource)

    # ------------------------------------------------------------------------------------------- training

    @staticmethod
    def _encoder_dir(config: Dict[str, Any]) -> Path:
        path = Path(config.get("encoder_dir") or os.environ.get("NLU_ENCODER_DIR") or DEFAULT_ENCODER_DIR)
        return path if path.is_absolute() else ROOT / path

    def encoder_dir(self) -> Path:
        """Where `python -m nlu_train` wrote the fine-tuned encoder."""
        return self._encoder_dir(self._config)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> str | None:
        """The encoder folder's calibration.json: rasa's training cache must not reuse a model of an older encoder."""
        calibration = cls._encoder_dir({**cls.get_default_config(), **config}) / "calibration.json"
        if not calibration.exists():
            return None
        return hashlib.sha256(calibration.read_bytes()).hexdigest()

    def _check(self, source: Path, training_data: TrainingData) -> Dict[str, Any]:
        if not (source / "calibration.json").exists() or not (source / "train_texts.json").exists():
            raise EncoderMismatch(
                f"no fine-tuned encoder in {source}: run `make model`, which fine-tunes it first "
                f"(.venv/bin/python -m nlu_train --data nlu_data/nlu --out {source})"
            )
        calibration = json.loads((source / "calibration.json").read_text())
        pairs = [(str(m.get(TEXT)), str(m.get(INTENT))) for m in training_data.intent_examples]
        if calibration.get("data_fingerprint") != data_fingerprint(pairs):
            # Training on data the encoder was not fine-tuned on (the console's corrections, a quick
            # experiment) still works: the classifier learns the new examples from their n-grams and from
            # vectors of the older encoder. It is not the model `make model` would build, so say so.
            logger.warning(
                "FineTunedIntentClassifier: the encoder in %s was fine-tuned on other training examples than "
                "these %d; training the classifier on them anyway. Run `make model` to fine-tune it again.",
                source,
                len(set(pairs)),
            )
        return calibration

    def train(self, training_data: TrainingData) -> Resource:
        """Check the fine-tuned folder, build the ONNX graph, fit the classifier; store all in the model."""
        from bot.minilm_onnx import build_files
        from nlu_train import intent_features

        source = self.encoder_dir()
        self._check(source, training_data)
        texts = json.loads((source / "train_texts.json").read_text())
        known = np.load(source / "train_vectors.npy").astype(np.float32)
        row = {t: i for i, t in enumerate(texts)}
        examples = [(str(m.get(TEXT)), str(m.get(INTENT))) for m in training_data.intent_examples]
        with self._model_storage.write_to(self._resource) as model_dir:
            onnx_files = build_files(source, model_dir / "onnx", with_head=False)
            shutil.copy2(onnx_files[self._config["precision"]], model_dir / "encoder.onnx")
            shutil.rmtree(model_dir / "onnx")
            for name in (*TOKENIZER_FILES, "calibration.json"):
                shutil.copy2(source / name, model_dir / name)
            files = self._read(model_dir, with_classifier=False)
            self._session = self._new_session(files["onnx"])
            self._tokenizer = files["tokenizer"]
            # texts nlu_train did not see (see _check) get their vector from the served graph
            vectors = np.stack([known[row[t]] if t in row else self._embed(t) for t, _ in examples])
            unique = {t: v for (t, _), v in zip(examples, vectors, strict=True)}
            np.save(model_dir / "train_vectors.npy", np.stack(list(unique.values())).astype(np.float16))
            scorer = intent_features.fit([t for t, _ in examples], vectors, [i for _, i in examples])
            arrays = scorer.to_arrays()
            np.savez(model_dir / "classifier.npz", weights=arrays["weights"], intercept=arrays["intercept"])
            (model_dir / "classifier.json").write_text(
                json.dumps({k: arrays[k] for k in ("classes", "words", "chars")}, ensure_ascii=False)
            )
            self._prepare(self._read(model_dir))
        return self._resource

    # ------------------------------------------------------------------------------------------- loading

    @staticmethod
    def _read(model_dir: Path, with_classifier: bool = True) -> Dict[str, Any]:
        from transformers import AutoTokenizer

        from nlu_train.intent_features import Scorer

        files = {
            "onnx": (model_dir / "encoder.onnx").read_bytes(),
            "tokenizer": AutoTokenizer.from_pretrained(str(model_dir)),
            "calibration": json.loads((model_dir / "calibration.json").read_text()),
        }
        if with_classifier:
            with np.load(model_dir / "classifier.npz") as arrays:
                files["scorer"] = Scorer.from_arrays(
                    {**json.loads((model_dir / "classifier.json").read_text()), **{k: arrays[k] for k in arrays.files}}
                )
            files["vectors"] = np.load(model_dir / "train_vectors.npy").astype(np.float32)
        return files

    def _new_session(self, model: bytes) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(self._config["threads"])
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def _embed(self, text: str) -> np.ndarray:
        """The served sentence vector of `text` (one text per call: int8 scales activations per batch)."""
        tokens = self._tokenizer(
            [text], truncation=True, max_length=int(self._config["max_tokens"]), return_tensors="np"
        )
        ids, mask = tokens["input_ids"].astype(np.int64), tokens["attention_mask"].astype(np.int64)
        (vector,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return vector[0]

    def _prepare(self, files: Dict[str, Any]) -> None:
        self._session = self._new_session(files["onnx"])
        self._tokenizer = files["tokenizer"]
        self._scorer = files["scorer"]
        calibration = files["calibration"]
        self._labels = list(self._scorer.classes)
        self._temperature = float(calibration["temperature"])
        self._p_threshold = float(calibration["probability_threshold"])
        self._similarity_threshold = float(calibration["similarity_threshold"])
        self._vectors = files["vectors"]

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FineTunedIntentClassifier:
        """The trained component from the model archive."""
        with model_storage.read_from(resource) as model_dir:
            files = cls._read(model_dir)
        return cls(config, model_storage, resource, files)

    # ------------------------------------------------------------------------------------------- parsing

    def scores(self, text: str) -> Dict[str, Any]:
        """Calibrated probabilities (in label order), the top similarity to training data, and the decision."""
        vector = self._embed(text)
        probabilities = _softmax(self._scorer.logits(text, vector) / self._temperature)
        similarity = float((self._vectors @ vector).max()) if self._vectors is not None else 1.0
        top = int(np.argmax(probabilities))
        reason = None
        if self._labels[top] != "out_of_scope":
            if probabilities[top] < self._p_threshold:
                reason = "unsure"
            elif similarity < self._similarity_threshold:
                reason = "unlike_training_data"
        return {"probabilities": probabilities, "similarity": similarity, "route_out": reason}

    def process(self, messages: List[Message]) -> List[Message]:
        """Set ``intent`` and ``intent_ranking``; ``nlu_fallback`` first when the message is routed out."""
        limit = int(self._config["ranking_length"])
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            result = self.scores(str(text))
            probabilities = result["probabilities"]
            order = np.argsort(-probabilities, kind="stable")[: limit if limit > 0 else None]
            ranking = [
                {INTENT_NAME_KEY: self._labels[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[i])} for i in order
            ]
            intent = ranking[0]
            if result["route_out"] and self._config["route_out"]:
                logger.debug(
                    "routed out (%s): top %s %.3f, similarity %.3f",
                    result["route_out"],
                    intent[INTENT_NAME_KEY],
                    intent[PREDICTED_CONFIDENCE_KEY],
                    result["similarity"],
                )
                # Rasa's FallbackClassifier convention: the fallback first, its confidence the threshold used
                fallback = {
                    INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME,
                    PREDICTED_CONFIDENCE_KEY: self._p_threshold,
                }
                intent = fallback
                ranking = [fallback, *ranking]
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Everything is written by `train`."""

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add to training data."""
        return training_data
