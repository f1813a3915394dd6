"""Held-out ranking metrics and hybrid weight tuning in bounded memory; used by ``recommender.train``
and ``recommender.evaluate``.

Nothing here holds a customers x products matrix: sparse models are ranked from their non-zero
scores, dense scores are built a bounded batch of customers at a time (:func:`batch_rows`), and the
weight tuning keeps every component's raw scores of the tuning customers sparse and combines them a
batch at a time under each candidate weighting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import sparse

from recommender.models.base import FloatMatrix, IntArray, Scorer, is_sparse
from recommender.models.hybrid import COLD_CONTENT, COLD_GRID, DEFAULT_COLD_SCALE, SERVING_COST, HybridModel

K = 10
#: Dense scores per batch: rows x products stays under this many floats (32 MB).
DENSE_BATCH_FLOATS = 1 << 23
#: Memory the weight tuning may hold for the tuning customers' component scores.
TUNING_BYTES = 1 << 30


def batch_rows(n_items: int, floats: int = DENSE_BATCH_FLOATS, most: int = 1024) -> int:
    """How many customers' dense scores fit in one batch of ``floats`` floats."""
    return int(max(8, min(most, floats // max(n_items, 1))))


def _metrics_from_ahead(ahead: np.ndarray, k: int) -> tuple[FloatMatrix, FloatMatrix]:
    hit = (ahead < k).astype(np.float32)
    ndcg = np.where(ahead < k, 1.0 / np.log2(ahead + 2.0), 0.0).astype(np.float32)
    return hit, ndcg


def _history_pairs(histories: Sequence[IntArray], n_items: int) -> tuple[IntArray, IntArray]:
    """Unique (row, item) pairs of the histories."""
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(histories)), lengths)
    items = np.concatenate([np.asarray(h, dtype=np.int64) for h in histories])
    pairs = np.unique(owner * n_items + items)
    return pairs // n_items, pairs % n_items


def rank_metrics(
    scores: FloatMatrix, histories: Sequence[IntArray], targets: IntArray, k: int = K
) -> tuple[FloatMatrix, FloatMatrix]:
    """Per-user hit@k and NDCG@k of ``targets`` against all items not in the history.

    Ties with the target count against it (pessimistic), so a constant score earns nothing.
    ``scores`` is not modified.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets]
    ahead = (scores >= target_scores[:, None]).sum(axis=1) - 1  # minus the target itself
    # History items do not compete: take back those counted as ahead (each item once).
    owner, items = _history_pairs(histories, scores.shape[1])
    if len(owner):
        counted = (scores[owner, items] >= target_scores[owner]) & (items != targets[owner])
        ahead = ahead - np.bincount(owner[counted], minlength=len(targets))
    return _metrics_from_ahead(ahead, k)


def sparse_rank_metrics(
    scores: sparse.csr_matrix, histories: Sequence[IntArray], targets: IntArray, k: int = K
) -> tuple[FloatMatrix, FloatMatrix]:
    """:func:`rank_metrics` of a sparse score matrix (absent entries score 0), without densifying.

    Exact: the entries count one by one, the absent ones all together (they all tie at 0).
    """
    scores = scores.tocsr()
    scores.sum_duplicates()
    n_rows, n_items = scores.shape
    rows = np.arange(n_rows)
    target_scores = np.asarray(scores[rows, targets]).ravel().astype(scores.dtype)
    lengths = np.diff(scores.indptr)
    owner = np.repeat(rows, lengths)
    ahead = np.bincount(owner[scores.data >= target_scores[owner]], minlength=n_rows).astype(np.int64)
    ahead += np.where(target_scores <= 0.0, n_items - lengths, 0)
    ahead -= 1  # the target itself, counted once among the entries or the absent ones
    h_owner, h_items = _history_pairs(histories, n_items)
    if len(h_owner):
        values = np.asarray(scores[h_owner, h_items]).ravel()
        counted = (values >= target_scores[h_owner]) & (h_items != targets[h_owner])
        ahead -= np.bincount(h_owner[counted], minlength=n_rows)
    return _metrics_from_ahead(ahead, k)


def evaluate_model(
    model: Scorer, histories: Sequence[IntArray], targets: IntArray, n_items: int, k: int = K
) -> tuple[float, float]:
    """Mean HR@k and NDCG@k of one model over held-out ``targets`` in bounded batches."""
    hits: list[FloatMatrix] = []
    ndcgs: list[FloatMatrix] = []
    sparse_model = is_sparse(model)
    step = 2048 if sparse_model else batch_rows(n_items)
    for start in range(0, len(targets), step):
        h = histories[start : start + step]
        t = targets[start : start + step]
        if sparse_model:
            hit, ndcg = sparse_rank_metrics(model.score_sparse(h), h, t, k)  # type: ignore[attr-defined]
        else:
            hit, ndcg = rank_metrics(model.score(h), h, t, k)
        hits.append(hit)
        ndcgs.append(ndcg)
    if not hits:
        return 0.0, 0.0
    return float(np.concatenate(hits).mean()), float(np.concatenate(ndcgs).mean())


def evaluate_hybrid(
    hybrid: HybridModel,
    histories: Sequence[IntArray],
    targets: IntArray,
    k: int = K,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, float]:
    """Mean HR@k and NDCG@k of the hybrid, exact: each customer's every-item scores from the
    serving decomposition (:meth:`HybridModel.score_one`, cost ~ the items its sparse
    components score), ranked a bounded batch of customers at a time."""
    hits: list[FloatMatrix] = []
    ndcgs: list[FloatMatrix] = []
    step = batch_rows(hybrid.n_items, floats=1 << 22)
    every = max(1, (len(targets) // step) // 20) * step
    for start in range(0, len(targets), step):
        h = list(histories[start : start + step])
        scores = np.stack([hybrid.score_one(x) for x in h]) if h else np.zeros((0, hybrid.n_items), np.float32)
        hit, ndcg = rank_metrics(scores, h, targets[start : start + step], k)
        hits.append(hit)
        ndcgs.append(ndcg)
        done = min(start + step, len(targets))
        if progress is not None and (done % every < step or done == len(targets)):
            progress(done, len(targets))
    if not hits:
        return 0.0, 0.0
    return float(np.concatenate(hits).mean()), float(np.concatenate(ndcgs).mean())


def tune_hybrid(
    models: Mapping[str, Scorer],
    histories: Sequence[IntArray],
    targets: IntArray,
    trained: np.ndarray,
    say: Callable[[str], None] | None = None,
    grid: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0),
    rounds: int = 2,
    keep_tolerance: float = 0.01,
    memory: int = TUNING_BYTES,
) -> dict[str, float]:
    """Coordinate ascent on held-out NDCG@10 over per-model weights, then pruning.

    The best single model starts at weight 1; every other model's weight is searched on ``grid``
    (relative to it), ``rounds`` passes. Then components whose removal loses less than
    ``keep_tolerance`` (relative) of the held-out NDCG get weight 0, so serving never computes
    them. Each component scores the tuning customers once; its scores are kept sparse (dense
    ones, e.g. SASRec, only as long as ``memory`` allows: later customers are left out, and said).
    """
    names = list(models)
    hybrid = HybridModel(models, {n: 1.0 for n in names}, trained)
    n_items = hybrid.n_items
    step = batch_rows(n_items, floats=1 << 24)  # bounds the dense scores of one batch (64 MB)
    chunks: list[tuple[object, IntArray]] = []
    held = 0
    used = 0
    scored = [n for n in names if n != hybrid.popularity]
    for start in range(0, len(targets), step):
        parts = hybrid.batch_parts(histories[start : start + step], names=scored)
        if held + parts.nbytes() > memory and chunks:
            if say is not None:
                say(f"  weight tuning keeps {used} of {len(targets)} customers (scores need {held >> 20} MB)")
            break
        held += parts.nbytes()
        used = min(start + step, len(targets))
        chunks.append((parts, targets[start : start + step]))

    def metric(w: Mapping[str, float]) -> float:
        hybrid.set_weights(w)
        total, count = 0.0, 0
        for parts, tgt in chunks:
            scores = hybrid.assemble(parts)  # type: ignore[arg-type]
            _, ndcg = rank_metrics(scores, parts.histories, tgt)  # type: ignore[attr-defined]
            total += float(ndcg.sum())
            count += len(tgt)
        return total / max(count, 1)

    cold = {COLD_CONTENT: DEFAULT_COLD_SCALE}
    singles = {n: metric({n: 1.0, **cold}) for n in names}
    anchor = max(singles, key=lambda n: singles[n])
    weights = {**{n: (1.0 if n == anchor else 0.0) for n in names}, **cold}
    best = singles[anchor]
    if say is not None:
        say(
            f"  {used} customers, {held >> 20} MB of scores; alone: "
            + ", ".join(f"{n} {m:.4f}" for n, m in singles.items())
        )
    for _ in range(rounds):
        for name in [COLD_CONTENT, *names]:
            if name == anchor:
                continue
            for value in COLD_GRID if name == COLD_CONTENT else grid:
                if value == weights.get(name):
                    continue  # already measured: the current weighting
                trial = {**weights, name: value}
                m = metric(trial)
                if m > best + 1e-6:
                    best, weights = m, trial
        if say is not None:
            say(f"  weights {_fmt_weights(weights)}: held-out NDCG@10 {best:.4f}")
    # A component is served only if it earns its keep: drop each one (costliest first) whose
    # removal costs less than ``keep_tolerance`` of the tuned held-out NDCG.
    floor = best * (1.0 - keep_tolerance)
    for name in sorted(names, key=lambda n: -SERVING_COST.get(n, 0)):
        if name == anchor or weights.get(name, 0.0) == 0.0:
            continue
        trial = {**weights, name: 0.0}
        m = metric(trial)
        if m >= floor:
            weights = trial
            if say is not None:
                say(f"  without {name}: held-out NDCG@10 {m:.4f} (>= {floor:.4f}): not served")
    return weights


def _fmt_weights(w: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in w.items())
