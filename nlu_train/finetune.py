"""Fine-tunes all-MiniLM-L6-v2 on the intents, calibrates its confidence and writes it out (`python -m nlu_train`).

Why this shape (measured on this project's 2-core machines, README "Understanding customers"):
  * Only the top `trainable_layers` transformer layers and a linear head are trained. The frozen layers' outputs
    are computed once per text and reused every epoch; a full fine-tune epoch of all six layers took 4 minutes
    on a busy box, the top two layers a fraction of that, and they carry most of the gain.
  * Misspellings: a share of the examples gets one random typo per epoch ("restituton", "waitung"), so the
    encoder learns that a mangled word means the word, which WordPiece alone does not give.
  * The served classifier is a logistic regression on n-gram counts plus the fine-tuned vectors
    (nlu_train/intent_features.py; n-grams carry misspellings and German/French, measured better than the
    head alone); the head only trains the encoder.
  * Calibration: the encoder first trains on a stratified share of the data (1 - `calibration_share`), the
    classifier is fitted on that share, and the rest, which neither has seen, fits a temperature for the
    classifier's logits and two route-out thresholds: on the calibrated top probability and on the
    similarity to the nearest training example (a message unlike anything we trained on goes to a person,
    however confident the softmax is). Then one more epoch on all examples, so none is wasted.

Output folder (read by bot/finetuned_classifier.py in the rasa process, which builds the ONNX graph):
``config.json``/tokenizer files of the base model, ``model.safetensors`` (the encoder, BERT names),
``head.safetensors`` (``weight`` (intents, hidden), ``bias``), ``calibration.json`` (labels, temperature,
thresholds, the training data's fingerprint), ``train_texts.json`` and ``train_vectors.npy`` (every distinct
training text and its sentence vector, float16: the classifier's features and the similarity test).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from nlu_train.data import Example
from nlu_train.model import Encoder, encoder_tensors, load_encoder

logger = logging.getLogger(__name__)
TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
FORMAT_VERSION = 1


@dataclass
class Settings:
    """Training settings; the defaults are the ones `make model` uses (chosen in bench/nlu_bench.py runs)."""

    trainable_layers: int = 2
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-4
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    logit_scale: float = 20.0
    max_tokens: int = 48
    typo_share: float = 0.3
    calibration_share: float = 0.15
    # route-out thresholds are set so that this share of unseen support messages (the calibration split)
    # would be routed out by each test: the price in support recall we accept for catching unsupported ones
    support_loss_probability: float = 0.02
    support_loss_distance: float = 0.01
    # ...but never above these. The calibration split is drawn from our own data, so the more paraphrases a data
    # round adds, the easier that split gets and the higher the fitted thresholds climb, while customers'
    # messages (short follow-ups above all) stay as hard as before: one data round moved the probability
    # threshold 0.44 -> 0.61 and sent whole conversations to the fallback (issue 14, nlu6). The ceilings keep
    # a data round from moving the dialogue's fallback rate; a fitted value below them is used as it is.
    max_probability_threshold: float = 0.45
    max_similarity_threshold: float = 0.40
    seed: int = 13
    # 0: both cores on an idle machine, one on a busy one (two OpenMP threads spin-waiting for each other next
    # to other jobs measured 4x slower per step than one thread)
    threads: int = 0


@dataclass
class Result:
    """What a run produced, for the log and calibration.json."""

    labels: List[str]
    temperature: float
    probability_threshold: float
    similarity_threshold: float
    calibration: Dict[str, Any] = field(default_factory=dict)
    seconds: Dict[str, float] = field(default_factory=dict)


def code_fingerprint() -> str:
    """A hash of this package's source: a folder written by other code is trained again."""
    h = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def data_fingerprint(examples: Sequence[Example]) -> str:
    """A hash of the (text, intent) pairs: the rasa component refuses an encoder trained on other data."""
    h = hashlib.sha256()
    for e in sorted({(e.text, e.intent) for e in examples}):
        h.update(f"{e[0]}\t{e[1]}\n".encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------------------------ typos

_KEYS = "qwertyuiop asdfghjkl zxcvbnm"


def typo(text: str, rng: random.Random) -> str:
    """`text` with one typo in one word of 4+ letters: a letter dropped, doubled, swapped or replaced."""
    words = [(i, w) for i, w in enumerate(text.split(" ")) if len(w) >= 4 and w.isalpha()]
    if not words:
        return text
    i, w = rng.choice(words)
    k = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        w = w[:k] + w[k + 1 :]
    elif kind == 1:
        w = w[:k] + w[k] + w[k:]
    elif kind == 2:
        w = w[: k - 1] + w[k] + w[k - 1] + w[k + 1 :]
    else:
        row = next((r for r in _KEYS.split() if w[k].lower() in r), "")
        j = row.find(w[k].lower())
        near = [row[x] for x in (j - 1, j + 1) if 0 <= x < len(row)]
        w = w[:k] + (rng.choice(near) if near else w[k]) + w[k + 1 :]
    parts = text.split(" ")
    parts[i] = w
    return " ".join(parts)


# ------------------------------------------------------------------------------------------------ training


class Trainer:
    """Holds the tokenizer, the encoder and the head; trains, calibrates and saves them."""

    def __init__(self, base_model: Path, labels: Sequence[str], settings: Settings) -> None:
        """Load the base model; `labels` fixes the order of the head's outputs."""
        from transformers import AutoTokenizer

        torch.manual_seed(settings.seed)
        torch.set_num_threads(settings.threads or (2 if os.getloadavg()[0] < 1.5 else 1))
        self.settings = settings
        self.base_model = base_model
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.tokenizer = AutoTokenizer.from_pretrained(str(base_model))
        self.encoder: Encoder = load_encoder(base_model)
        hidden = int(self.encoder.config["hidden_size"])
        self.head = torch.nn.Linear(hidden, len(self.labels))
        self.frozen = len(self.encoder.layers) - settings.trainable_layers
        for p in self.encoder.parameters():
            p.requires_grad = False
        for layer in self.encoder.layers[self.frozen :]:
            for p in layer.parameters():
                p.requires_grad = True
        self._frozen_cache: Dict[str, torch.Tensor] = {}
        self._originals: set[str] = set()

    # -- features

    def _ids(self, texts: Sequence[str]) -> List[List[int]]:
        return self.tokenizer(list(texts), truncation=True, max_length=self.settings.max_tokens)["input_ids"]

    def _frozen_states(self, texts: Sequence[str], cache: bool) -> Tuple[torch.Tensor, torch.Tensor]:
        """Padded hidden states after the frozen layers and the mask, for one batch of texts."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._frozen_cache]
        if todo:
            ids = self._ids(todo)
            padded = self.tokenizer.pad({"input_ids": ids}, return_tensors="pt")
            with torch.no_grad():
                states = self.encoder.run_layers(
                    self.encoder.embed(padded["input_ids"]), padded["attention_mask"], 0, self.frozen
                )
            fresh = {t: states[i, : len(ids[i])].clone() for i, t in enumerate(todo)}
        else:
            fresh = {}
        rows = [self._frozen_cache.get(t) if t in self._frozen_cache else fresh[t] for t in texts]
        if cache:  # training texts only: a typo'd variant is seen once
            self._frozen_cache.update({t: v for t, v in fresh.items() if t in self._originals})
        width = max(r.shape[0] for r in rows)
        hidden = rows[0].shape[1]
        x = torch.zeros(len(rows), width, hidden)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            x[i, : r.shape[0]] = r
            mask[i, : r.shape[0]] = 1
        return x, mask

    def _forward(self, texts: Sequence[str], cache: bool = True) -> Tuple[torch.Tensor, torch.Tensor]:
        x, mask = self._frozen_states(texts, cache)
        vectors = self.encoder.pool(self.encoder.run_layers(x, mask, self.frozen), mask)
        return vectors, self.head(vectors * self.settings.logit_scale)

    def embed(self, texts: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """Sentence vectors and logits for `texts` (no gradients; frozen states are not cached)."""
        self.encoder.eval()
        vectors, logits = [], []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for start in range(0, len(order), 64):
                chunk = [texts[i] for i in order[start : start + 64]]
                v, lg = self._forward(chunk, cache=False)
                vectors.append(v)
                logits.append(lg)
        v_all = torch.cat(vectors).numpy()
        l_all = torch.cat(logits).numpy()
        back = np.argsort(order)
        return v_all[back], l_all[back]

    # -- training loop

    def _batches(self, examples: Sequence[Example], rng: random.Random) -> List[List[Example]]:
        # similar lengths together (little padding), batches in random order
        keyed = sorted(examples, key=lambda e: (len(e.text) // 8, rng.random()))
        size = self.settings.batch_size
        batches = [list(keyed[i : i + size]) for i in range(0, len(keyed), size)]
        rng.shuffle(batches)
        return batches

    def train(self, examples: Sequence[Example], epochs: int, lr_scale: float = 1.0, progress: str = "") -> None:
        """`epochs` passes over `examples` with linear warm-up and decay of the learning rates."""
        s = self.settings
        rng = random.Random(s.seed + len(examples) + epochs)
        params = [p for p in self.encoder.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": params, "lr": s.lr * lr_scale}, {"params": self.head.parameters(), "lr": s.head_lr * lr_scale}],
            weight_decay=s.weight_decay,
        )
        steps = epochs * math.ceil(len(examples) / s.batch_size)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda k: min((k + 1) / warmup, max(0.0, (steps - k) / max(1, steps - warmup)))
        )
        self._originals.update(e.text for e in examples)
        self.encoder.train()
        step = 0
        started = time.perf_counter()
        for epoch in range(epochs):
            total = 0.0
            for batch in self._batches(examples, rng):
                texts = [typo(e.text, rng) if rng.random() < s.typo_share else e.text for e in batch]
                targets = torch.tensor([self.index[e.intent] for e in batch])
                _, logits = self._forward(texts, cache=True)
                loss = torch.nn.functional.cross_entropy(logits, targets, label_smoothing=s.label_smoothing)
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                total += float(loss.detach()) * len(batch)
                step += 1
            logger.info(
                "%sepoch %d/%d: loss %.3f, %.0f s so far",
                progress,
                epoch + 1,
                epochs,
                total / len(examples),
                time.perf_counter() - started,
            )
        self.encoder.eval()

    # -- saving

    def save(self, out: Path, result: Result, fingerprint: str, texts: List[str], vectors: np.ndarray) -> None:
        """Write the model folder (see the module docstring); replaces `out` atomically."""
        from safetensors.torch import save_file

        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in TOKENIZER_FILES:
            if (self.base_model / name).exists():
                shutil.copy2(self.base_model / name, tmp / name)
        save_file(encoder_tensors(self.encoder), str(tmp / "model.safetensors"))
        save_file(
            {
                "weight": (self.head.weight.detach() * self.settings.logit_scale).contiguous(),
                "bias": self.head.bias.detach().contiguous(),
            },
            str(tmp / "head.safetensors"),
        )
        np.save(tmp / "train_vectors.npy", vectors.astype(np.float16))
        (tmp / "train_texts.json").write_text(json.dumps(texts, ensure_ascii=False))
        (tmp / "calibration.json").write_text(
            json.dumps(
                {
                    "format": FORMAT_VERSION,
                    "data_fingerprint": fingerprint,
                    "code_fingerprint": code_fingerprint(),
                    "settings": asdict(self.settings),
                    **asdict(result),
                },
                indent=1,
            )
        )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)


# ------------------------------------------------------------------------------------------------ calibration


def split(examples: Sequence[Example], share: float, seed: int) -> Tuple[List[Example], List[Example]]:
    """Stratified (train, held) split; intents with fewer than 5 examples stay whole in train."""
    rng = random.Random(seed)
    by_intent: Dict[str, List[Example]] = {}
    for e in examples:
        by_intent.setdefault(e.intent, []).append(e)
    train, held = [], []
    for intent in sorted(by_intent):
        group = list(by_intent[intent])
        rng.shuffle(group)
        n = int(round(len(group) * share)) if len(group) >= 5 else 0
        held += group[:n]
        train += group[n:]
    return train, held


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `targets` (a 1-d search, log scale)."""

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(targets)), targets].mean())

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = min(grid, key=nll)
    lo, hi = best / 1.06, best * 1.06  # refine around the best grid point
    return float(min(np.linspace(lo, hi, 25), key=nll))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def low_quantile(values: np.ndarray, q: float) -> float:
    """The Harrell-Davis estimate of the `q` quantile: a weighted mean of all order statistics.

    A low quantile of a few hundred values is, empirically, one or two of them; from one fine-tuning run to the
    next that moved the probability threshold between 0.37 and 0.50. Weighting every order statistic by the
    Beta density around the quantile gives a steadier estimate of the same thing.
    """
    from scipy.stats.mstats import hdquantiles

    return float(np.asarray(hdquantiles(np.asarray(values, dtype=np.float64), prob=[q]))[0])


def calibrate(
    trainer: Trainer, seen: Sequence[Example], held: Sequence[Example], support: Sequence[str], oos: str
) -> Result:
    """Temperature and route-out thresholds of the served classifier, from `held`, which nothing has seen.

    The served classifier is the logistic regression of nlu_train/intent_features.py on n-gram counts and the
    fine-tuned vectors; here it is fitted on `seen` with the vectors of the model trained on `seen`, exactly
    as `rasa train` fits it on everything with the final model, and scored on `held`.
    """
    from nlu_train import intent_features

    s = trainer.settings
    seen_vectors, _ = trainer.embed([e.text for e in seen])
    vectors, head_logits = trainer.embed([e.text for e in held])
    scorer = intent_features.fit([e.text for e in seen], seen_vectors, [e.intent for e in seen])
    logits = scorer.batch_logits([e.text for e in held], vectors)
    index = {label: i for i, label in enumerate(scorer.classes)}
    targets = np.array([index[e.intent] for e in held])
    temperature = fit_temperature(logits, targets)
    probs = softmax(logits / temperature)
    top = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    nearest = (vectors @ seen_vectors.T).max(axis=1)
    is_support = np.array([e.intent in support for e in held])
    is_oos = np.array([e.intent == oos for e in held])
    correct_support = is_support & (pred == targets)
    # thresholds: the quantile of unseen support messages we agree to lose to each test
    p_fitted = low_quantile(top[correct_support], s.support_loss_probability) if correct_support.any() else 0.0
    d_fitted = low_quantile(nearest[is_support], s.support_loss_distance) if is_support.any() else 0.0
    p_threshold = min(p_fitted, s.max_probability_threshold)
    d_threshold = min(d_fitted, s.max_similarity_threshold)
    oos_index = index.get(oos, -1)
    routed = (pred == oos_index) | (top < p_threshold) | (nearest < d_threshold)
    head_pred = head_logits.argmax(axis=1)
    head_targets = np.array([trainer.index[e.intent] for e in held])
    report = {
        "held_examples": int(len(held)),
        "probability_threshold_fitted": float(p_fitted),
        "similarity_threshold_fitted": float(d_fitted),
        "accuracy": float((pred == targets).mean()),
        "head_accuracy": float((head_pred == head_targets).mean()),
        "nll_before": float(-np.log(softmax(logits)[np.arange(len(targets)), targets] + 1e-12).mean()),
        "nll_after": float(-np.log(probs[np.arange(len(targets)), targets] + 1e-12).mean()),
        "oos_recall_argmax": float((pred[is_oos] == oos_index).mean()) if is_oos.any() else None,
        "oos_recall_routed": float(routed[is_oos].mean()) if is_oos.any() else None,
        "support_routed_out": float(routed[is_support].mean()) if is_support.any() else None,
    }
    return Result(scorer.classes, temperature, p_threshold, d_threshold, report)


def run(
    examples: Sequence[Example],
    base_model: Path,
    out: Path,
    settings: Settings,
    support: Sequence[str],
    oos: str = "out_of_scope",
) -> Result:
    """Fine-tune on `examples`, calibrate, and write the model folder `out`."""
    t0 = time.perf_counter()
    labels = sorted({e.intent for e in examples})
    trainer = Trainer(base_model, labels, settings)
    seconds: Dict[str, float] = {"load": time.perf_counter() - t0}
    seen, held = split(examples, settings.calibration_share, settings.seed)
    logger.info(
        "fine-tuning the top %d layers on %d examples (%d intents), %d held back for calibration",
        settings.trainable_layers,
        len(seen),
        len(labels),
        len(held),
    )
    t = time.perf_counter()
    trainer.train(seen, settings.epochs, progress="calibration model: ")
    seconds["train"] = time.perf_counter() - t
    t = time.perf_counter()
    if held:
        result = calibrate(trainer, seen, held, support, oos)
    else:
        result = Result(labels, 1.0, 0.0, -1.0, {"held_examples": 0})
    seconds["calibrate"] = time.perf_counter() - t
    logger.info(
        "calibration on %d unseen examples: temperature %.2f, route out below p %.3f or similarity %.3f (%s)",
        len(held),
        result.temperature,
        result.probability_threshold,
        result.similarity_threshold,
        ", ".join(f"{k} {v:.3f}" for k, v in result.calibration.items() if isinstance(v, float)),
    )
    if held:
        t = time.perf_counter()
        trainer.train(examples, 1, lr_scale=0.5, progress="all examples: ")
        seconds["final_epoch"] = time.perf_counter() - t
    texts = list(dict.fromkeys(e.text for e in examples))
    vectors, _ = trainer.embed(texts)
    seconds["total"] = time.perf_counter() - t0
    result.seconds = seconds
    trainer.save(out, result, data_fingerprint(examples), texts, vectors)
    return result
