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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from recommender.data import Catalog, TrainingData, load_sequence_dataset
from recommender.models.base import FloatMatrix, FloatVector, IntArray, Scorer, history_matrix
from recommender.models.content import ContentModel
from recommender.models.hybrid import HybridModel, served_components
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN
from recommender.models.popularity import Popularity
from recommender.tuning import (  # noqa: F401 - rank_metrics and tune_hybrid are part of this module's API
    K,
    batch_rows,
    evaluate_hybrid,
    evaluate_model,
    rank_metrics,
    tune_hybrid,
)

ScoreFn = Callable[[Sequence[IntArray]], FloatMatrix]
OneFn = Callable[[IntArray], FloatVector]
TopFn = Callable[[IntArray], IntArray]


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


def evaluate_scores(
    score: ScoreFn,
    histories: Sequence[IntArray],
    targets: IntArray,
    batch_size: int | None = None,
    n_items: int | None = None,
) -> tuple[float, float]:
    """Mean HR@10 and NDCG@10 of a dense scoring function, a bounded batch of customers at a
    time (``batch_size``, default: as many as :func:`recommender.tuning.batch_rows` allows for
    ``n_items``; without ``n_items`` the first batch of 64 tells)."""
    hits: list[FloatMatrix] = []
    ndcgs: list[FloatMatrix] = []
    step = batch_size or (batch_rows(n_items) if n_items else 64)
    start = 0
    while start < len(targets):
        h = histories[start : start + step]
        scores = score(h)
        hit, ndcg = rank_metrics(scores, h, targets[start : start + step])
        hits.append(hit)
        ndcgs.append(ndcg)
        start += step
        if batch_size is None and n_items is None:
            step = batch_rows(scores.shape[1])
    if not hits:
        return 0.0, 0.0
    return float(np.concatenate(hits).mean()), float(np.concatenate(ndcgs).mean())


def top_k(scores: FloatMatrix, history: IntArray, k: int = K) -> IntArray:
    """Indices of the ``k`` best items not in ``history`` for one score row, best first."""
    row = scores.copy()
    row[history] = -np.inf
    part = np.argpartition(-row, k)[:k]
    return part[np.argsort(-row[part], kind="stable")]


def top_k_of(score_one: OneFn) -> TopFn:
    """A top-10 request that scores every item with ``score_one``, masks the history, selects."""
    return lambda h: top_k(score_one(h), h)


def latency(
    top10: TopFn, histories: Sequence[IntArray], requests: int = 300, seed: int = 0, warm_up: int = 20
) -> tuple[float, float]:
    """p50 and p99 in milliseconds of one customer's top-10 (the best 10 items not in their
    history, out of every item), one request at a time, on one thread as served.

    The first ``warm_up`` requests are not counted.
    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(histories), size=requests + warm_up)
    times: list[float] = []
    with _serving_threads():
        for n, u in enumerate(picks):
            h = histories[int(u)]
            t0 = time.perf_counter()
            top10(h)
            if n >= warm_up:
                times.append((time.perf_counter() - t0) * 1000.0)
    arr = np.array(times)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def serving_agreement(
    score: ScoreFn, score_one: OneFn, histories: Sequence[IntArray], users: int = 64, seed: int = 0
) -> float:
    """Share of sampled customers whose top-10 from the serving path equals the batch path's
    (the batch path is what the quality figures are measured with)."""
    rng = np.random.default_rng(seed + 1)
    picks = rng.choice(len(histories), size=min(users, len(histories)), replace=False)
    batch = score([histories[int(u)] for u in picks])
    same = 0
    for row, u in enumerate(picks):
        h = histories[int(u)]
        a, b = top_k(batch[row], h), top_k(score_one(h), h)
        same += int(set(a.tolist()) == set(b.tolist()))
    return same / len(picks)


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
    # Enough for SASRec to reach its plateau on amazon-beauty (~15-19 epochs of ~25-45 s here);
    # a model stopped while still improving is reported but not put in the hybrid.
    sasrec_time_budget: float = 900.0
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
    limit_threads(cfg.threads)
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
    # A random sample in random order, so its first customers (the hybrid's) are random too.
    tune_idx = np.random.default_rng(cfg.seed + 1).permutation(n_users)[: cfg.tune_users]
    tune_hist = [split.val_histories[i] for i in tune_idx]
    tune_targets = split.val_targets[tune_idx]
    test_hist = split.test_histories

    def tune_metric(model: Scorer) -> float:
        return evaluate_model(model, tune_hist, tune_targets, n_items)[1]

    def tune_attribute(model: Any, attribute: str, values: Sequence[Any]) -> Any:
        """Set ``model.<attribute>`` to each value, keep the one with the best validation NDCG@10."""
        best_value, best_m = values[0], -1.0
        for value in values:
            setattr(model, attribute, value)
            m = tune_metric(model)
            say(f"  {attribute}={value}: val NDCG@10 {m:.4f}")
            if m > best_m:
                best_value, best_m = value, m
        setattr(model, attribute, best_value)
        return best_value

    results: list[Result] = []
    fitted: dict[str, Scorer] = {}

    def finish(
        name: str,
        model: Scorer | None,
        fit_s: float,
        params: dict[str, Any],
        ref: bool = False,
        score_fn: ScoreFn | None = None,
    ) -> None:
        """Rank validation and test items (bounded batches), then time the serving path one
        request at a time: the hybrid's exact ranking (and, for reference, scoring every item),
        or each model's one-customer scoring of every item."""
        hybrid = model if isinstance(model, HybridModel) else None
        if hybrid is not None:
            vh, vn = evaluate_hybrid(hybrid, split.val_histories, split.val_targets)
            th, tn = evaluate_hybrid(hybrid, test_hist, split.test_targets)
        elif model is not None:
            vh, vn = evaluate_model(model, split.val_histories, split.val_targets, n_items)
            th, tn = evaluate_model(model, test_hist, split.test_targets, n_items)
        else:
            assert score_fn is not None
            vh, vn = evaluate_scores(score_fn, split.val_histories, split.val_targets, n_items=n_items)
            th, tn = evaluate_scores(score_fn, test_hist, split.test_targets, n_items=n_items)
        if model is not None:
            one: OneFn = model.score_one
            params = {**params, "serving_top10_agreement": serving_agreement(model.score, one, test_hist)}
        else:
            assert score_fn is not None
            fn = score_fn

            def one(h: IntArray) -> FloatVector:
                row: FloatVector = fn([h])[0]
                return row

        served = top_k_of(one)
        if hybrid is not None:
            full50, full99 = latency(served, test_hist, cfg.latency_requests, cfg.seed)
            params = {**params, "all_items_p50_ms": round(full50, 3), "all_items_p99_ms": round(full99, 3)}
            served = hybrid.top_k
        p50, p99 = latency(served, test_hist, cfg.latency_requests, cfg.seed)
        results.append(Result(name, th, tn, vh, vn, fit_s, p50, p99, params, ref))
        say(
            f"{name}: test HR@10 {th:.4f} NDCG@10 {tn:.4f} | val HR@10 {vh:.4f} "
            f"NDCG@10 {vn:.4f} | fit {fit_s:.1f}s | top-10 p50 {p50:.2f} ms p99 {p99:.2f} ms"
        )

    # popularity ------------------------------------------------------------------
    start = time.perf_counter()
    pop = Popularity().fit(data)
    fitted["popularity"] = pop
    finish("popularity", pop, time.perf_counter() - start, {})

    # item-kNN --------------------------------------------------------------------
    if "item_knn" not in cfg.skip:
        say("item_knn: tuning neighbours / recency decay on validation")
        best: tuple[float, ItemKNN, float] | None = None
        best_decay = 1.0
        for neighbours in (50, 200):
            start = time.perf_counter()
            model = ItemKNN(neighbours=neighbours, shrink=10.0).fit(data)
            fit_s = time.perf_counter() - start
            for decay in (1.0, 0.7, 0.4):
                model.decay = decay
                m = tune_metric(model)
                say(f"  neighbours={neighbours} decay={decay}: val NDCG@10 {m:.4f}")
                if best is None or m > best[0]:
                    best = (m, model, fit_s)
                    best_decay = decay
        assert best is not None
        knn = best[1]
        knn.decay = best_decay
        fitted["item_knn"] = knn
        knn_params = {"neighbours": knn.neighbours, "shrink": knn.shrink, "decay": knn.decay}
        finish("item_knn", knn, best[2], knn_params)

    # sequential rules --------------------------------------------------------------
    if "seq_rules" not in cfg.skip:
        say("seq_rules: tuning window / recency decay on validation")
        best_sr: tuple[float, SequentialRules, float] | None = None
        start = time.perf_counter()
        windows = SequentialRules.fit_windows(data, (3, 6, 12))
        fit_s = time.perf_counter() - start
        for window, rules in windows.items():
            for decay in (0.7, 0.4, 0.2):
                rules.decay = decay
                m = tune_metric(rules)
                say(f"  window={window} decay={decay}: val NDCG@10 {m:.4f}")
                if best_sr is None or m > best_sr[0]:
                    chosen_rules = SequentialRules(window, decay)
                    chosen_rules.pairs, chosen_rules.counts = rules.pairs, rules.counts
                    chosen_rules._prepare()
                    best_sr = (m, chosen_rules, fit_s)
        del windows
        assert best_sr is not None
        sr = best_sr[1]
        fitted["seq_rules"] = sr
        finish("seq_rules", sr, best_sr[2], {"window": sr.window, "decay": sr.decay})

    # user-kNN --------------------------------------------------------------------
    if "user_knn" not in cfg.skip:
        say("user_knn: tuning neighbours on validation")
        start = time.perf_counter()
        uknn = UserKNN().fit(data)
        fit_s = time.perf_counter() - start
        best_n = tune_attribute(uknn, "neighbours", (50, 200, 500))
        fitted["user_knn"] = uknn
        finish("user_knn", uknn, fit_s, {"neighbours": best_n})

    # content ---------------------------------------------------------------------
    if "content" not in cfg.skip:
        start = time.perf_counter()
        content = ContentModel().fit(data)
        fit_s = time.perf_counter() - start
        say(f"content: encoder {content.used_encoder}, tuning recency decay")
        best_d = tune_attribute(content, "decay", (1.0, 0.5, 0.2))
        fitted["content"] = content
        finish("content", content, fit_s, {"encoder": content.used_encoder, "decay": best_d})

    # SASRec ----------------------------------------------------------------------
    if "sasrec" not in cfg.skip:
        import torch

        from recommender.models.sasrec import SASRec, SASRecConfig, epoch_seconds

        torch.set_num_threads(max(1, cfg.threads))
        scfg = SASRecConfig(epochs=cfg.sasrec_epochs, time_budget=cfg.sasrec_time_budget, seed=cfg.seed)
        per_epoch = epoch_seconds(data, scfg, give_up_after=scfg.time_budget / max(scfg.min_epochs, 1))
        needed = per_epoch * min(scfg.min_epochs, scfg.epochs)
        if needed > scfg.time_budget:
            say(
                f"sasrec: not trained: an epoch takes ~{per_epoch:.0f} s here and it needs at least "
                f"{scfg.min_epochs} epochs (~{needed:.0f} s), more than the {scfg.time_budget:.0f} s budget"
            )
        else:
            say(
                f"sasrec: dim {scfg.dim}, {scfg.layers} layers, max_len {scfg.max_len}, up to "
                f"{scfg.epochs} epochs / {scfg.time_budget:.0f}s (~{per_epoch:.0f} s an epoch), "
                "early stop on val NDCG@10"
            )

            def on_epoch(epoch: int, epochs: int, loss: float, metric: float | None, elapsed: float) -> None:
                extra = "" if metric is None else f", val NDCG@10 {metric:.4f}"
                say(f"  epoch {epoch}/{epochs}: loss {loss:.3f}{extra} ({elapsed:.0f}s)")

            start = time.perf_counter()
            sas = SASRec(scfg).fit(data, validate=tune_metric, progress=on_epoch)
            fit_s = time.perf_counter() - start
            # Serving precomputes the state of every known customer when the artifacts are built;
            # the cost of a history it has not seen (one forward pass) is reported next to it.
            cold_p50, cold_p99 = latency(top_k_of(lambda h: sas.score([h])[0]), test_hist, 100, cfg.seed)
            start = time.perf_counter()
            sas.cache_states(test_hist)
            cache_s = time.perf_counter() - start
            sas_params = {
                **scfg.__dict__,
                "epochs_run": len(sas.history),
                "best_epoch": sas.best_epoch,
                "stopped": sas.stopped,
                "undertrained": sas.undertrained,
                "state_cache_seconds": round(cache_s, 1),
                "uncached_p50_ms": round(cold_p50, 2),
                "uncached_p99_ms": round(cold_p99, 2),
            }
            finish("sasrec", sas, fit_s, sas_params)
            if sas.undertrained:
                say(f"sasrec: still improving at epoch {sas.best_epoch} when the budget ran out: not in the hybrid")
            else:
                fitted["sasrec"] = sas

    # hybrid ----------------------------------------------------------------------
    if "hybrid" not in cfg.skip and len(fitted) > 1:
        few = min(len(tune_hist), 3000)
        say(f"hybrid: tuning weights on {few} validation customers (coordinate ascent)")
        start = time.perf_counter()
        trained = data.trained_items()
        weights = tune_hybrid(fitted, tune_hist[:few], tune_targets[:few], trained, say)
        tune_s = time.perf_counter() - start
        fit_total = sum(r.fit_seconds for r in results if r.model in fitted) + tune_s
        parts = served_components(weights, fitted)
        hybrid = HybridModel({n: fitted[n] for n in parts}, weights, trained)
        dropped = sorted(set(fitted) - set(parts))
        say(f"hybrid serves {', '.join(parts)}" + (f" (dropped: {', '.join(dropped)})" if dropped else ""))
        finish("hybrid", hybrid, fit_total, {"weights": weights, "components": parts, "dropped": dropped})

    # implicit ALS (outside reference) -----------------------------------------------
    if "als" not in cfg.skip:
        _run_als(data, split, tune_hist, tune_targets, finish, say, cfg)

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


def _run_als(
    data: TrainingData,
    split: Split,
    tune_hist: Sequence[IntArray],
    tune_targets: IntArray,
    finish: Callable[..., None],
    say: Callable[[str], None],
    cfg: EvalConfig,
) -> None:
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError:  # pragma: no cover - depends on the environment
        say("implicit is not installed: skipping the ALS reference")
        return
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

        m = evaluate_scores(score, tune_hist, tune_targets, n_items=item_f.shape[0])[1]
        say(f"  regularization={reg} alpha={alpha}: val NDCG@10 {m:.4f} (fit {fit_s:.1f}s)")
        if best is None or m > best[0]:
            best = (m, score, fit_s, {"factors": 128, "regularization": reg, "alpha": alpha})
    assert best is not None
    finish("implicit_als", None, best[2], best[3], True, score_fn=best[1])


@contextmanager
def _serving_threads() -> Iterator[None]:
    """One BLAS thread and, when torch is loaded, one torch thread, as the action server runs."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with _blas_threads(1):
            yield
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)


def _blas_threads(threads: int) -> Any:
    return threadpool_limits(threads, "blas")


def limit_threads(threads: int) -> None:
    """Cap the BLAS/OpenMP pools of this process at ``threads`` (training and evaluation)."""
    threadpool_limits(max(1, threads))


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
    lines.append("* outside reference (implicit library)")
    lines.append(
        "latency: one customer's top-10 of all items, one request at a time on one thread, after warm-up, on the"
    )
    lines.append(
        "serving path: sasrec reads precomputed user states; the hybrid ranks the items its sparse components score"
    )
    lines.append("(scoring every item on demand instead: see all_items_p50_ms / all_items_p99_ms in the JSON)")
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
