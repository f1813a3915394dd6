"""SASRec-style self-attentive next-item model in torch (imported only when needed).

Purchases are sequences, so a causal transformer over the last ``max_len`` items predicts the next
one. Trained with full softmax cross-entropy over the whole catalogue at every position (as in
later SASRec reproductions) instead of the original one-negative binary loss: on 12k items the
softmax is affordable on a CPU and converges in far fewer epochs.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recommender.data import TrainingData
from recommender.models.base import FloatMatrix, FloatVector, IntArray

# (epoch, epochs, train loss, validation metric or None, seconds so far)
ProgressFn = Callable[[int, int, float, float | None, float], None]
# Validation: scores histories -> metric (higher is better)
ValidateFn = Callable[["SASRec"], float]


@dataclass
class SASRecConfig:
    """Hyperparameters (defaults chosen on Amazon Beauty validation).

    ``negatives`` > 0 trains with a sampled softmax: the target against that many uniformly
    drawn items shared by the batch (12x cheaper than the full softmax on 12k items, which
    dominated the training time on a shared 2-core CPU); 0 = full softmax.
    """

    max_len: int = 30
    dim: int = 64
    layers: int = 2
    heads: int = 2
    ff_dim: int = 128
    dropout: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 512
    negatives: int = 512
    epochs: int = 60
    # Validation NDCG on Beauty was still rising at epoch 9-10 in every run (best epochs 10-16):
    # a budget that cannot pay for this many epochs does not train SASRec at all, since the
    # model would stop while still improving and could not be served (see :func:`epoch_seconds`).
    min_epochs: int = 12
    patience: int = 3
    eval_every: int = 1
    time_budget: float = 600.0
    seed: int = 7


class _Net(nn.Module):
    """Item + position embeddings, causal transformer encoder, tied output embeddings."""

    def __init__(self, n_items: int, cfg: SASRecConfig) -> None:
        super().__init__()
        self.item_emb = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.dim)
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(
            cfg.dim,
            cfg.heads,
            dim_feedforward=cfg.ff_dim,
            dropout=cfg.dropout,
            activation="gelu",
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        nn.init.normal_(self.item_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(B, L, dim)`` of right-padded item sequences ``(B, L)`` (0 = pad)."""
        length = seq.shape[1]
        pos = torch.arange(length, device=seq.device).unsqueeze(0)
        x = self.drop(self.norm(self.item_emb(seq) + self.pos_emb(pos)))
        causal = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        # Right padding + a causal mask: real positions never attend to padding.
        hidden: torch.Tensor = self.encoder(x, mask=causal, is_causal=True)
        return hidden

    def item_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every real item (not the pad row) for hidden states ``(P, dim)``."""
        return hidden @ self.item_emb.weight[1:].T


class SASRec:
    """Self-attentive sequential recommender (Kang & McAuley 2018) with softmax loss."""

    name = "sasrec"

    def __init__(self, config: SASRecConfig | None = None) -> None:
        self.config = config or SASRecConfig()
        self.n_items = 0
        self.net: _Net | None = None
        self.trained = np.zeros(0, dtype=bool)
        self.history: list[dict[str, float]] = []
        # Why training stopped: "patience" (plateau), "time" (budget), "epochs" (cap), "" (not fitted).
        self.stopped = ""
        self.best_epoch = 0
        # Serving: user states of known histories (computed in batch ahead of requests) and the
        # item embeddings as a numpy array, so a request for a known customer never runs torch.
        self._states: dict[bytes, FloatVector] = {}
        self._item_matrix: FloatMatrix | None = None

    # ---------------------------------------------------------------- training
    def fit(
        self,
        data: TrainingData,
        validate: ValidateFn | None = None,
        progress: ProgressFn | None = None,
    ) -> SASRec:
        """Train on every prefix of every sequence; early-stop on ``validate`` when given.

        Args:
            data: Training sequences.
            validate: Returns a metric to maximise (e.g. validation NDCG@10); the best epoch's
                weights are kept. Without it, ``config.epochs`` epochs are run.
            progress: Called after every epoch.

        Returns:
            self
        """
        cfg = self.config
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.n_items = data.n_items
        self.trained = data.trained_items()
        self.clear_states()
        self.net = _Net(self.n_items, cfg)
        optim = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        seqs = [s[-(cfg.max_len + 1) :] + 1 for s in data.sequences if len(s) >= 2]
        lengths = np.array([len(s) - 1 for s in seqs])
        best_metric, best_state, bad = -math.inf, None, 0
        started = time.perf_counter()
        self.history = []
        for epoch in range(1, cfg.epochs + 1):
            self.net.train()
            total, count = 0.0, 0
            for batch in _length_buckets(lengths, cfg.batch_size, rng):
                width = int(lengths[batch].max())
                inp = np.zeros((len(batch), width), dtype=np.int64)
                tgt = np.zeros((len(batch), width), dtype=np.int64)
                for r, b in enumerate(batch):
                    s = seqs[b]
                    inp[r, : len(s) - 1] = s[:-1]
                    tgt[r, : len(s) - 1] = s[1:]
                inp_t, tgt_t = torch.from_numpy(inp), torch.from_numpy(tgt)
                hidden = self.net(inp_t)
                valid = tgt_t > 0
                loss = self._loss(hidden[valid], tgt_t[valid] - 1, gen)
                optim.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]  # torch.Tensor.backward has no annotations
                optim.step()
                total += loss.item() * int(valid.sum())
                count += int(valid.sum())
            metric: float | None = None
            elapsed = time.perf_counter() - started
            out_of_time = elapsed > cfg.time_budget
            if validate is not None and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs or out_of_time):
                metric = validate(self)
                if metric > best_metric:
                    best_metric, bad = metric, 0
                    best_state = copy.deepcopy(self.net.state_dict())
                else:
                    bad += 1
            self.history.append({"epoch": epoch, "loss": total / max(count, 1), "metric": metric or 0.0})
            if metric is not None and bad == 0:
                self.best_epoch = epoch
            if progress is not None:
                progress(epoch, cfg.epochs, total / max(count, 1), metric, elapsed)
            if bad >= cfg.patience:
                self.stopped = "patience"
                break
            if out_of_time:
                self.stopped = "time"
                break
        else:
            self.stopped = "epochs"
        if validate is None:
            self.best_epoch = len(self.history)
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        self.clear_states()
        return self

    @property
    def undertrained(self) -> bool:
        """True when validation was still improving when training stopped for lack of time or
        epochs: such a model must not be served (the hybrid is tuned without it)."""
        return self.stopped in ("time", "epochs") and self.best_epoch == len(self.history) and self.best_epoch > 0

    def _loss(self, hidden: torch.Tensor, targets: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Softmax cross-entropy, full or against shared uniform negatives."""
        assert self.net is not None
        n = self.config.negatives
        if n <= 0 or n >= self.n_items:
            return nn.functional.cross_entropy(self.net.item_logits(hidden), targets)
        weight = self.net.item_emb.weight[1:]
        negatives = torch.randint(0, self.n_items, (n,), generator=gen)
        pos = (hidden * weight[targets]).sum(-1, keepdim=True)
        neg = hidden @ weight[negatives].T
        neg = neg.masked_fill(negatives.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
        logits = torch.cat([pos, neg], dim=1)
        return nn.functional.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long))

    # ---------------------------------------------------------------- scoring
    def user_vectors(self, histories: Sequence[IntArray]) -> torch.Tensor:
        """The hidden state after each history's last item, ``(B, dim)``."""
        assert self.net is not None, "fit or load first"
        cfg = self.config
        cut = [np.asarray(h, dtype=np.int64)[-cfg.max_len :] + 1 for h in histories]
        width = max((len(h) for h in cut), default=1) or 1
        inp = np.zeros((len(cut), width), dtype=np.int64)
        last = np.zeros(len(cut), dtype=np.int64)
        for r, h in enumerate(cut):
            inp[r, : len(h)] = h
            last[r] = max(len(h) - 1, 0)
        with torch.inference_mode():
            hidden = self.net(torch.from_numpy(inp))
            states: torch.Tensor = hidden[torch.arange(len(cut)), torch.from_numpy(last)]
            return states

    def score(self, histories: Sequence[IntArray]) -> FloatMatrix:
        """Next-item scores; empty histories and never-trained items get the row minimum."""
        self.net_eval()
        with torch.inference_mode():
            vecs = self.user_vectors(histories)
            scores = self.net.item_logits(vecs).numpy() if self.net is not None else None
        assert scores is not None
        scores = np.ascontiguousarray(scores, dtype=np.float32)
        floor = scores.min(axis=1, keepdims=True)
        if not self.trained.all():
            scores[:, ~self.trained] = floor
        empty = np.array([len(h) == 0 for h in histories])
        if empty.any():
            scores[empty] = 0.0
        return scores

    def _key(self, history: IntArray) -> bytes:
        return np.asarray(history, dtype=np.int64)[-self.config.max_len :].tobytes()

    def cache_states(self, histories: Sequence[IntArray], batch_size: int = 1024) -> int:
        """Precompute the user states of ``histories`` (e.g. every known customer at load time)
        so that :meth:`score_one` answers them with one matrix-vector product.

        Returns:
            How many states are cached now.
        """
        self.net_eval()
        todo = [h for h in histories if len(h) > 0 and self._key(h) not in self._states]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            vectors = self.user_vectors(batch).numpy().astype(np.float32)
            for h, v in zip(batch, vectors, strict=True):
                self._states[self._key(h)] = v
        return len(self._states)

    def clear_states(self) -> None:
        """Forget cached user states (after further training)."""
        self._states.clear()
        self._item_matrix = None

    def score_one(self, history: IntArray) -> FloatVector:
        """One customer: a cached user state when the history is known, else one forward pass;
        then a numpy product with the item embeddings. Same scores as :meth:`score`."""
        assert self.net is not None, "fit or load first"
        if len(history) == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        if self._item_matrix is None:
            self._item_matrix = self.net.item_emb.weight[1:].detach().numpy().astype(np.float32)
        state = self._states.get(self._key(history))
        if state is None:
            self.net_eval()
            state = self.user_vectors([history]).numpy()[0].astype(np.float32)
        scores = self._item_matrix @ state
        if not self.trained.all():
            scores[~self.trained] = scores.min()
        return scores

    def net_eval(self) -> None:
        """Put the network in inference mode (no dropout)."""
        if self.net is not None:
            self.net.eval()

    # ---------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        """Write ``sasrec.pt`` (weights) and ``sasrec.json`` (config)."""
        assert self.net is not None, "fit first"
        torch.save(self.net.state_dict(), directory / "sasrec.pt")
        np.save(directory / "sasrec_trained.npy", self.trained)
        meta = {"config": asdict(self.config), "n_items": self.n_items}
        (directory / "sasrec.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SASRec:
        """Read what :meth:`save` wrote."""
        meta = json.loads((directory / "sasrec.json").read_text(encoding="utf-8"))
        model = cls(SASRecConfig(**meta["config"]))
        model.n_items = int(meta["n_items"])
        model.net = _Net(model.n_items, model.config)
        state = torch.load(directory / "sasrec.pt", map_location="cpu", weights_only=True)
        model.net.load_state_dict(state)
        model.net.eval()
        model.trained = np.load(directory / "sasrec_trained.npy")
        return model


def epoch_seconds(
    data: TrainingData, config: SASRecConfig, probe_batches: int = 12, give_up_after: float | None = None
) -> float:
    """Seconds one training epoch would take on ``data`` here, from timing a few real batches
    (forward, backward, optimiser step) of a throw-away network. Costs about a second; stops
    early once the epoch is sure to take longer than ``give_up_after`` seconds.
    """
    rng = np.random.default_rng(config.seed)
    seqs = [s[-(config.max_len + 1) :] + 1 for s in data.sequences if len(s) >= 2]
    if not seqs:
        return 0.0
    lengths = np.array([len(s) - 1 for s in seqs])
    batches = _length_buckets(lengths, config.batch_size, rng)
    probe = SASRec(config)
    probe.n_items = data.n_items
    probe.net = _Net(data.n_items, config)
    optim = torch.optim.Adam(probe.net.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    picks = [batches[i] for i in rng.choice(len(batches), size=min(probe_batches, len(batches)), replace=False)]
    if len(picks) == 1:
        picks = picks * 2  # one batch an epoch: time its second run
    started = None
    for n, batch in enumerate(picks):
        if n == 1:  # the first batch pays for allocations and kernel selection
            started = time.perf_counter()
        width = int(lengths[batch].max())
        inp = np.zeros((len(batch), width), dtype=np.int64)
        tgt = np.zeros((len(batch), width), dtype=np.int64)
        for r, b in enumerate(batch):
            s = seqs[b]
            inp[r, : len(s) - 1] = s[:-1]
            tgt[r, : len(s) - 1] = s[1:]
        inp_t, tgt_t = torch.from_numpy(inp), torch.from_numpy(tgt)
        hidden = probe.net(inp_t)
        valid = tgt_t > 0
        loss = probe._loss(hidden[valid], tgt_t[valid] - 1, gen)
        optim.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch.Tensor.backward has no annotations
        optim.step()
        if started is not None and give_up_after is not None:
            so_far = (time.perf_counter() - started) / n * len(batches)
            if so_far > 2 * give_up_after:  # hopeless: no need for a precise figure
                return so_far
    assert started is not None
    per_batch = (time.perf_counter() - started) / (len(picks) - 1)
    return per_batch * len(batches)


def _length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length sequences (little padding, still random order)."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 32
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches
