"""Offline evaluation under the leave-last-out, full-ranking protocol; run by ``python -m recommender
evaluate`` and ``bench/recommender_eval.py``.

Each user's last item is the test item and the second-to-last the validation item; models are fitted
on the rest. Hyperparameters and hybrid weights are chosen on the validation items only; the test
items are ranked once, against every item the user has not interacted with (the validation item is
part of the history at test time, as in the S3-Rec code). Reports HR@10 / NDCG@10, fit time and
the latency of one top-10 request.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from recommender.data import Catalog, TrainingData, load_sequence_dataset
from recommender.models.base import FloatMatrix, IntArray, Scorer
from recommender.models.content import ContentModel
from recommender.models.hybrid import combine
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN
from recommender.models.popularity import Popularity

ScoreFn = Callable[[Sequence[IntArray]], FloatMatrix]
K = 10


@dataclass
class Split:
    """Leave-last-out split of per-user sequences."""

    train: list[IntArray]
    val_targets: IntArray
    test_targets: IntArray
    catalog: Catalog

    @property
    def val_histories(self) -> list[IntArray]:
        """What a model sees when predicting the validation item."""
        return self.train

    @property
    def test_histories(self) -> list[IntArray]:
        """What a model sees when predicting the test item (training items + validation item)."""
        return [np.append(t, v) for t, v in zip(self.train, self.val_targets, strict=True)]

    def training_data(self) -> TrainingData:
        """The training sequences as model input."""
        return TrainingData.from_sequences(self.train, self.catalog)


def leave_last_out(sequences: Sequence[IntArray], catalog: Catalog) -> Split:
    """Split users with at least three items (shorter ones cannot be evaluated)."""
    kept = [np.asarray(s, dtype=np.int64) for s in sequences if len(s) >= 3]
    return Split(
        train=[s[:-2] for s in kept],
        val_targets=np.array([s[-2] for s in kept], dtype=np.int64),
        test_targets=np.array([s[-1] for s in kept], dtype=np.int64),
        catalog=catalog,
    )


def rank_metrics(
    scores: FloatMatrix, histories: Sequence[IntArray], targets: IntArray, k: int = K
) -> tuple[FloatMatrix, FloatMatrix]:
    """Per-user hit@k and NDCG@k of ``targets`` against all items not in the history.

    Ties with the target count against it (pessimistic), so a constant score earns nothing.
    """
    scores = scores.copy()
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets].copy()
    for r, h in enumerate(histories):
        scores[r, h] = -np.inf
    scores[rows, targets] = -np.inf
    ahead = (scores >= target_scores[:, None]).sum(axis=1)
    hit = (ahead < k).astype(np.float32)
    ndcg = np.where(ahead < k, 1.0 / np.log2(ahead + 2.0), 0.0).astype(np.float32)
    return hit, ndcg


def evaluate_scores(
    score: ScoreFn,
    histories: Sequence[IntArray],
    targets: IntArray,
    batch_size: int = 512,
) -> tuple[float, float]:
    """Mean HR@10 and NDCG@10 of a scoring function."""
    hits: list[FloatMatrix] = []
    ndcgs: list[FloatMatrix] = []
    for start in range(0, len(targets), batch_size):
        h = histories[start : start + batch_size]
        hit, ndcg = rank_metrics(score(h), h, targets[start : start + batch_size])
        hits.append(hit)
        ndcgs.append(ndcg)
    return float(np.concatenate(hits).mean()), float(np.concatenate(ndcgs).mean())


def top_k(scores: FloatMatrix, history: IntArray, k: int = K) -> IntArray:
    """Indices of the ``k`` best items not in ``history`` for one score row, best first."""
    row = scores.copy()
    row[history] = -np.inf
    part = np.argpartition(-row, k)[:k]
    return part[np.argsort(-row[part], kind="stable")]


def latency(score: ScoreFn, histories: Sequence[IntArray], requests: int = 300, seed: int = 0) -> tuple[float, float]:
    """p50 and p99 in milliseconds of one customer's top-10 (score all items, mask, select)."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(histories), size=requests + 20)
    times: list[float] = []
    for n, u in enumerate(picks):
        h = histories[int(u)]
        t0 = time.perf_counter()
        top_k(score([h])[0], h)
        if n >= 20:  # warm-up requests are not counted
            times.append((time.perf_counter() - t0) * 1000.0)
    arr = np.array(times)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


@dataclass
class Result:
    """One row of the evaluation table."""

    model: str
    hr10: float
    ndcg10: float
    val_hr10: float
    val_ndcg10: float
    fit_seconds: float
    p50_ms: float
    p99_ms: float
    params: dict[str, Any] = field(default_factory=dict)
    reference: bool = False


class Reporter:
    """Progress lines with elapsed time, flushed immediately."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        """Print one progress line."""
        if not self.quiet:
            elapsed = time.perf_counter() - self.started
            print(f"[{elapsed:7.1f}s] {message}", file=self.stream, flush=True)


@dataclass
class EvalConfig:
    """What to run and how hard to try."""

    sample: int | None = None
    seed: int = 42
    sasrec_epochs: int = 60
    sasrec_time_budget: float = 420.0
    tune_users: int = 5000
    latency_requests: int = 300
    threads: int = 2
    skip: tuple[str, ...] = ()


def _subset(n: int, size: int, seed: int) -> IntArray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def run_evaluation(
    dataset: str | Path,
    out_dir: str | Path | None,
    config: EvalConfig | None = None,
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Train and evaluate every model; write ``results.json`` and ``hr_ndcg.png`` to ``out_dir``.

    Args:
        dataset: Folder in the amazon-beauty layout.
        out_dir: Where to write the figures (None = do not write).
        config: Run settings (sample size, seeds, budgets).
        report: Progress printer.

    Returns:
        The results document (also written as JSON).
    """
    cfg = config or EvalConfig()
    say = report or Reporter()
    _limit_threads(cfg.threads)
    t0 = time.perf_counter()
    interactions, _ = load_sequence_dataset(dataset)
    sequences = interactions.sequences()
    if cfg.sample is not None and cfg.sample < len(sequences):
        chosen = _subset(len(sequences), cfg.sample, cfg.seed)
        sequences = [sequences[i] for i in chosen]
    split = leave_last_out(sequences, interactions.catalog)
    data = split.training_data()
    n_users, n_items = len(split.train), len(split.catalog)
    say(
        f"loaded {dataset}: {n_users} users, {n_items} items, "
        f"{sum(len(s) for s in sequences)} interactions ({time.perf_counter() - t0:.1f}s)"
    )
    tune_idx = _subset(n_users, cfg.tune_users, cfg.seed + 1)
    tune_hist = [split.val_histories[i] for i in tune_idx]
    tune_targets = split.val_targets[tune_idx]
    test_hist = split.test_histories

    def tune_metric(score: ScoreFn) -> float:
        return evaluate_scores(score, tune_hist, tune_targets)[1]

    results: list[Result] = []
    fitted: dict[str, Scorer] = {}

    def finish(name: str, model_score: ScoreFn, fit_s: float, params: dict[str, Any], ref: bool = False) -> None:
        vh, vn = evaluate_scores(model_score, split.val_histories, split.val_targets)
        th, tn = evaluate_scores(model_score, test_hist, split.test_targets)
        p50, p99 = latency(model_score, test_hist, cfg.latency_requests, cfg.seed)
        results.append(Result(name, th, tn, vh, vn, fit_s, p50, p99, params, ref))
        say(
            f"{name}: test HR@10 {th:.4f} NDCG@10 {tn:.4f} | val HR@10 {vh:.4f} "
            f"NDCG@10 {vn:.4f} | fit {fit_s:.1f}s | top-10 p50 {p50:.2f} ms p99 {p99:.2f} ms"
        )

    # popularity ------------------------------------------------------------------
    start = time.perf_counter()
    pop = Popularity().fit(data)
    fitted["popularity"] = pop
    finish("popularity", pop.score, time.perf_counter() - start, {})

    # item-kNN --------------------------------------------------------------------
    if "item_knn" not in cfg.skip:
        say("item_knn: tuning neighbours / recency decay on validation")
        best: tuple[float, ItemKNN, float] | None = None
        for neighbours in (50, 200):
            start = time.perf_counter()
            model = ItemKNN(neighbours=neighbours, shrink=10.0).fit(data)
            fit_s = time.perf_counter() - start
            for decay in (1.0, 0.7, 0.4):
                model.decay = decay
                m = tune_metric(model.score)
                say(f"  neighbours={neighbours} decay={decay}: val NDCG@10 {m:.4f}")
                if best is None or m > best[0]:
                    best = (m, model, fit_s)
                    best_decay = decay
        assert best is not None
        knn = best[1]
        knn.decay = best_decay
        fitted["item_knn"] = knn
        finish("item_knn", knn.score, best[2], {"neighbours": knn.neighbours, "shrink": knn.shrink, "decay": knn.decay})

    # sequential rules --------------------------------------------------------------
    if "seq_rules" not in cfg.skip:
        say("seq_rules: tuning window / recency decay on validation")
        best_sr: tuple[float, SequentialRules, float] | None = None
        for window in (3, 6, 12):
            start = time.perf_counter()
            rules = SequentialRules(window=window).fit(data)
            fit_s = time.perf_counter() - start
            for decay in (0.7, 0.4, 0.2):
                rules.decay = decay
                m = tune_metric(rules.score)
                say(f"  window={window} decay={decay}: val NDCG@10 {m:.4f}")
                if best_sr is None or m > best_sr[0]:
                    best_sr = (m, SequentialRules(window, decay), fit_s)
                    best_sr[1].rules = rules.rules
        assert best_sr is not None
        sr = best_sr[1]
        fitted["seq_rules"] = sr
        finish("seq_rules", sr.score, best_sr[2], {"window": sr.window, "decay": sr.decay})

    # user-kNN --------------------------------------------------------------------
    if "user_knn" not in cfg.skip:
        say("user_knn: tuning neighbours on validation")
        start = time.perf_counter()
        uknn = UserKNN().fit(data)
        fit_s = time.perf_counter() - start
        best_n, best_m = 100, -1.0
        for neighbours in (50, 200, 500):
            uknn.neighbours = neighbours
            m = tune_metric(uknn.score)
            say(f"  neighbours={neighbours}: val NDCG@10 {m:.4f}")
            if m > best_m:
                best_n, best_m = neighbours, m
        uknn.neighbours = best_n
        fitted["user_knn"] = uknn
        finish("user_knn", uknn.score, fit_s, {"neighbours": best_n})

    # content ---------------------------------------------------------------------
    if "content" not in cfg.skip:
        start = time.perf_counter()
        content = ContentModel().fit(data)
        fit_s = time.perf_counter() - start
        say(f"content: encoder {content.used_encoder}, tuning recency decay")
        best_d, best_m = 1.0, -1.0
        for decay in (1.0, 0.5, 0.2):
            content.decay = decay
            m = tune_metric(content.score)
            say(f"  decay={decay}: val NDCG@10 {m:.4f}")
            if m > best_m:
                best_d, best_m = decay, m
        content.decay = best_d
        fitted["content"] = content
        finish("content", content.score, fit_s, {"encoder": content.used_encoder, "decay": best_d})

    # SASRec ----------------------------------------------------------------------
    if "sasrec" not in cfg.skip:
        import torch

        from recommender.models.sasrec import SASRec, SASRecConfig

        torch.set_num_threads(max(1, cfg.threads))
        scfg = SASRecConfig(epochs=cfg.sasrec_epochs, time_budget=cfg.sasrec_time_budget, seed=cfg.seed)
        say(
            f"sasrec: dim {scfg.dim}, {scfg.layers} layers, max_len {scfg.max_len}, up to "
            f"{scfg.epochs} epochs / {scfg.time_budget:.0f}s, early stop on val NDCG@10"
        )

        def on_epoch(epoch: int, epochs: int, loss: float, metric: float | None, elapsed: float) -> None:
            extra = "" if metric is None else f", val NDCG@10 {metric:.4f}"
            say(f"  epoch {epoch}/{epochs}: loss {loss:.3f}{extra} ({elapsed:.0f}s)")

        start = time.perf_counter()
        sas = SASRec(scfg).fit(data, validate=lambda m: tune_metric(m.score), progress=on_epoch)
        fit_s = time.perf_counter() - start
        fitted["sasrec"] = sas
        finish("sasrec", sas.score, fit_s, {**scfg.__dict__, "epochs_run": len(sas.history)})

    # hybrid ----------------------------------------------------------------------
    if "hybrid" not in cfg.skip and len(fitted) > 1:
        say("hybrid: tuning weights on validation (coordinate ascent)")
        start = time.perf_counter()
        few = min(len(tune_hist), 3000)
        cached = {n: m.score(tune_hist[:few]) for n, m in fitted.items()}
        trained = data.trained_items()
        weights = tune_hybrid(cached, tune_hist[:few], tune_targets[:few], trained, say)
        tune_s = time.perf_counter() - start
        fit_total = sum(r.fit_seconds for r in results if r.model in fitted) + tune_s

        def hybrid_score(h: Sequence[IntArray]) -> FloatMatrix:
            need = {n: fitted[n].score(h) for n, w in weights.items() if w != 0.0 and n in fitted}
            if "content" in fitted and "content" not in need:
                need["content"] = fitted["content"].score(h)
            if "popularity" not in need:
                need["popularity"] = fitted["popularity"].score(h)
            return combine(need, weights, h, trained)

        finish("hybrid", hybrid_score, fit_total, {"weights": weights})

    # implicit ALS (outside reference) -----------------------------------------------
    if "als" not in cfg.skip:
        _run_als(data, split, tune_metric, finish, say, cfg)

    doc = {
        "dataset": str(dataset),
        "protocol": "leave-last-out, full ranking over items unseen by the user, pessimistic ties",
        "users": n_users,
        "items": n_items,
        "sample": cfg.sample,
        "seed": cfg.seed,
        "threads": cfg.threads,
        "machine": {"python": platform.python_version(), "processor": platform.processor()},
        "total_seconds": time.perf_counter() - t0,
        "results": [r.__dict__ for r in results],
    }
    say("\n" + format_table(results))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(doc, indent=2, default=_json_default), encoding="utf-8")
        plot_results(results, out / "hr_ndcg.png")
        say(f"wrote {out / 'results.json'} and {out / 'hr_ndcg.png'}")
    return doc


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def tune_hybrid(
    scores: Mapping[str, FloatMatrix],
    histories: Sequence[IntArray],
    targets: IntArray,
    trained: np.ndarray,
    say: Callable[[str], None] | None = None,
    grid: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0),
    rounds: int = 2,
) -> dict[str, float]:
    """Coordinate ascent on validation NDCG@10 over per-model weights.

    The best single model starts at weight 1; every other model's weight is searched on ``grid``
    (relative to it), two passes.
    """

    from recommender.models.base import zscore_rows

    scores = {n: zscore_rows(s) for n, s in scores.items()}

    def metric(w: Mapping[str, float]) -> float:
        combined = combine(scores, w, histories, trained, standardised=True)
        hit, ndcg = rank_metrics(combined, histories, targets)
        return float(ndcg.mean())

    from recommender.models.hybrid import COLD_CONTENT, COLD_GRID, DEFAULT_COLD_SCALE

    cold = {COLD_CONTENT: DEFAULT_COLD_SCALE}
    singles = {n: metric({n: 1.0, **cold}) for n in scores}
    anchor = max(singles, key=lambda n: singles[n])
    weights = {**{n: (1.0 if n == anchor else 0.0) for n in scores}, **cold}
    best = singles[anchor]
    for _ in range(rounds):
        for name in [COLD_CONTENT, *scores]:
            if name == anchor:
                continue
            for value in COLD_GRID if name == COLD_CONTENT else grid:
                trial = {**weights, name: value}
                m = metric(trial)
                if m > best + 1e-6:
                    best, weights = m, trial
        if say is not None:
            say(f"  weights {_fmt_weights(weights)}: val NDCG@10 {best:.4f}")
    return weights


def _fmt_weights(w: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in w.items())


def _run_als(
    data: TrainingData,
    split: Split,
    tune_metric: Callable[[ScoreFn], float],
    finish: Callable[..., None],
    say: Callable[[str], None],
    cfg: EvalConfig,
) -> None:
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError:  # pragma: no cover - depends on the environment
        say("implicit is not installed: skipping the ALS reference")
        return
    from scipy import sparse

    from recommender.models.base import history_matrix

    matrix = data.matrix(binary=True).tocsr()
    say("implicit ALS (reference): 128 factors, tuning regularisation / alpha on validation")
    best: tuple[float, Any, float, dict[str, float]] | None = None
    for reg, alpha in ((0.01, 1.0), (0.1, 5.0), (1.0, 20.0)):
        start = time.perf_counter()
        als = AlternatingLeastSquares(
            factors=128,
            regularization=reg,
            alpha=alpha,
            iterations=15,
            random_state=cfg.seed,
            num_threads=cfg.threads,
        )
        with _blas_threads(1):  # implicit runs its own threads; OpenBLAS's would oversubscribe
            als.fit(matrix, show_progress=False)
        fit_s = time.perf_counter() - start
        item_f = np.asarray(als.item_factors, dtype=np.float32)

        def score(h: Sequence[IntArray], als: Any = als, item_f: np.ndarray = item_f) -> FloatMatrix:
            rows = sparse.csr_matrix(history_matrix(h, item_f.shape[0]))
            rows.data[:] = 1.0
            users = np.arange(len(h))
            user_f = np.asarray(als.recalculate_user(users, rows), dtype=np.float32)
            return np.asarray(user_f.reshape(len(h), -1) @ item_f.T, dtype=np.float32)

        m = tune_metric(score)
        say(f"  regularization={reg} alpha={alpha}: val NDCG@10 {m:.4f} (fit {fit_s:.1f}s)")
        if best is None or m > best[0]:
            best = (m, score, fit_s, {"factors": 128, "regularization": reg, "alpha": alpha})
    assert best is not None
    finish("implicit_als", best[1], best[2], best[3], True)


def _blas_threads(threads: int) -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads, "blas")


def _limit_threads(threads: int) -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(max(1, threads))
    except ImportError:  # pragma: no cover
        pass


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table of the results."""
    head = (
        f"{'model':<14} {'HR@10':>7} {'NDCG@10':>8} {'val HR':>7} {'val NDCG':>8} "
        f"{'fit s':>7} {'p50 ms':>7} {'p99 ms':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        name = r.model + (" *" if r.reference else "")
        lines.append(
            f"{name:<14} {r.hr10:7.4f} {r.ndcg10:8.4f} {r.val_hr10:7.4f} {r.val_ndcg10:8.4f} "
            f"{r.fit_seconds:7.1f} {r.p50_ms:7.2f} {r.p99_ms:7.2f}"
        )
    lines.append("* outside reference (implicit library); top-10 latency = one customer, all items")
    return "\n".join(lines)


def plot_results(results: Sequence[Result], path: Path) -> None:
    """A grouped bar chart of test HR@10 and NDCG@10 per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.model for r in results]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names)), 4.0))
    ax.bar(x - 0.2, [r.hr10 for r in results], 0.4, label="HR@10")
    ax.bar(x + 0.2, [r.ndcg10 for r in results], 0.4, label="NDCG@10")
    for xi, r in zip(x, results, strict=True):
        ax.text(xi - 0.2, r.hr10, f"{r.hr10:.3f}", ha="center", va="bottom", fontsize=7)
        ax.text(xi + 0.2, r.ndcg10, f"{r.ndcg10:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=20)
    ax.set_ylabel("test metric (full ranking)")
    ax.set_title("Leave-last-out, full ranking")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
