"""Training: fit every model on an interaction log, tune on held-out last items, write artifacts.

Run by ``python -m recommender train`` (and the scheduled rebuild of :mod:`recommender.updates`).
The last item of every customer with at least three events is held out to tune the kNN recency
decay, the rules' window, SASRec's epoch count and the hybrid weights; then the served models are
refitted on everything and saved (see :mod:`recommender.artifacts`).

Memory stays bounded at any size: models are sparse and fitted in blocks, held-out ranking works
on sparse scores or bounded batches (:mod:`recommender.tuning`), and nothing builds a customers x
products matrix. SASRec trains only when the time budget can pay for the epochs it needs, and is
never served while it was still improving when the budget ran out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recommender.artifacts import MANIFEST, publish, save_artifacts, staging_dir
from recommender.data import Interactions, TrainingData
from recommender.evaluate import limit_threads
from recommender.models.base import IntArray, Scorer
from recommender.models.content import ContentModel
from recommender.models.hybrid import served_components
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN, co_purchase
from recommender.models.popularity import Popularity
from recommender.tuning import evaluate_model, tune_hybrid

ALL_MODELS = ("popularity", "item_knn", "seq_rules", "user_knn", "content", "sasrec")
DEFAULT_WEIGHTS = {"seq_rules": 1.0, "item_knn": 0.5, "user_knn": 0.2, "content": 0.1, "sasrec": 0.5}
ITEM_KNN_DECAYS = (1.0, 0.7, 0.4)
RULE_WINDOWS = (3, 6, 12)
RULE_DECAYS = (0.7, 0.4)


@dataclass
class TrainOptions:
    """Training settings.

    Attributes:
        models: Which models to fit (popularity is always fitted).
        purchase_weight: Events at least this heavy are purchases (never re-recommended).
        sasrec_epochs: Upper bound on SASRec epochs (early stopping picks fewer).
        sasrec_time_budget: Seconds SASRec may train (tuning fit and refit each). When a timed
            probe says the epochs it needs cost more, it is not trained (and says so).
        refit_sasrec: Retrain SASRec on all data for the tuned epoch count (slower, fresher).
        refit: Refit the served models on every event (False: serve the models fitted without
            the held-out items, as the evaluation protocol does).
        min_tuning_users: Below this many held-out customers, default weights are used.
        tune_users: At most this many held-out customers tune the kNN / rules settings.
        hybrid_users: At most this many of them tune the hybrid weights.
        threads: torch / BLAS threads.
        seed: Random seed.
        content_cache: Where product-text embeddings are kept between trainings (None = none).
    """

    models: tuple[str, ...] = ALL_MODELS
    purchase_weight: float = 1.0
    sasrec_epochs: int = 60
    sasrec_time_budget: float = 600.0
    refit_sasrec: bool = True
    refit: bool = True
    min_tuning_users: int = 30
    tune_users: int = 5000
    hybrid_users: int = 3000
    threads: int = 1
    seed: int = 42
    sasrec_overrides: dict[str, Any] = field(default_factory=dict)
    content_cache: Path | None = None


def _hold_out_last(data: TrainingData) -> tuple[TrainingData, list[IntArray], IntArray]:
    """Drop the last event of users with >= 3 events; return (rest, their histories, targets)."""
    seqs, weights, stamps = [], [], []
    hist: list[IntArray] = []
    targets: list[int] = []
    for s, w, t in zip(data.sequences, data.weights, data.timestamps, strict=True):
        if len(s) >= 3 and s[-1] not in s[:-1]:
            seqs.append(s[:-1])
            weights.append(w[:-1])
            stamps.append(t[:-1])
            hist.append(s[:-1])
            targets.append(int(s[-1]))
        else:
            seqs.append(s)
            weights.append(w)
            stamps.append(t)
    rest = TrainingData(seqs, weights, stamps, data.catalog)
    return rest, hist, np.array(targets, dtype=np.int64)


def rebuyable_items(data: TrainingData, purchase_weight: float) -> npt.NDArray[np.bool_]:
    """Consumable products that at least one customer bought more than once."""
    owners = np.repeat(np.arange(data.n_users), [len(s) for s in data.sequences])
    items = np.concatenate(data.sequences) if data.sequences else np.zeros(0, np.int64)
    weights = np.concatenate(data.weights) if data.weights else np.zeros(0, np.float32)
    bought = weights >= purchase_weight
    pairs, counts = np.unique(owners[bought] * max(data.n_items, 1) + items[bought], return_counts=True)
    repeat = np.zeros(data.n_items, dtype=bool)
    repeat[pairs[counts > 1] % max(data.n_items, 1)] = True
    consumable = np.array([p.consumable for p in data.catalog.products], dtype=bool)
    rebuyable: npt.NDArray[np.bool_] = repeat & consumable
    return rebuyable


def _sasrec(
    rest: TrainingData,
    opts: TrainOptions,
    metric: Callable[[Scorer], float] | None,
    say: Callable[[str], None],
    params: dict[str, Any],
) -> Scorer | None:
    """Fit SASRec if the budget can pay for it; None (with the reason said and recorded) if not."""
    import torch

    from recommender.models.sasrec import SASRec, SASRecConfig, epoch_seconds

    torch.set_num_threads(max(1, opts.threads))
    cfg = SASRecConfig(
        epochs=opts.sasrec_epochs, time_budget=opts.sasrec_time_budget, seed=opts.seed, **opts.sasrec_overrides
    )
    per_epoch = epoch_seconds(rest, cfg, give_up_after=cfg.time_budget / max(cfg.min_epochs, 1))
    needed = per_epoch * min(cfg.min_epochs, cfg.epochs)
    params["sasrec_epoch_seconds"] = round(per_epoch, 1)
    if needed > cfg.time_budget:
        reason = (
            f"an epoch takes ~{per_epoch:.0f} s here and it needs at least {cfg.min_epochs} epochs "
            f"(~{needed:.0f} s), more than the {cfg.time_budget:.0f} s budget"
        )
        say(f"sasrec not trained: {reason}; the hybrid is built without it")
        params["sasrec"] = f"not trained: {reason}"
        return None

    def on_epoch(epoch: int, epochs: int, loss: float, m: float | None, elapsed: float) -> None:
        extra = "" if m is None else f", held-out NDCG@10 {m:.4f}"
        say(f"  sasrec epoch {epoch}/{epochs}: loss {loss:.3f}{extra} ({elapsed:.0f}s)")

    sas = SASRec(cfg).fit(rest, validate=metric, progress=on_epoch)
    if metric is not None and sas.undertrained:
        reason = f"still improving at epoch {sas.best_epoch} when the {cfg.time_budget:.0f} s budget ran out"
        say(f"sasrec not served: {reason}")
        params["sasrec"] = f"not served: {reason}"
        return None
    params["sasrec_epochs"] = sas.best_epoch
    say(f"sasrec fitted (best epoch {sas.best_epoch}, stopped: {sas.stopped})")
    return sas


def train(
    interactions: Interactions,
    out_dir: str | Path,
    options: TrainOptions | None = None,
    report: Callable[[str], None] | None = None,
    source: Mapping[str, Any] | None = None,
) -> Path:
    """Fit, tune and save every model.

    Args:
        interactions: The log (all customers, all events).
        out_dir: Artifact folder (created; an existing manifest is replaced at the end).
        options: Training settings.
        report: Progress printer (one line per step).
        source: Where the data came from (recorded in the manifest).

    Returns:
        The written manifest's path.
    """
    opts = options or TrainOptions()
    say = report or (lambda _msg: None)
    limit_threads(opts.threads)
    started = time.perf_counter()
    full = interactions.training_data()
    rest, hist, targets = _hold_out_last(full)
    if len(targets) > opts.tune_users:
        # A random sample in random order: its first customers (the hybrid's) are random too.
        pick = np.random.default_rng(opts.seed).permutation(len(targets))[: opts.tune_users]
        hist, targets = [hist[i] for i in pick], targets[pick]
    tuning = len(targets) >= opts.min_tuning_users
    n_items = full.n_items
    say(
        f"training on {full.n_users} customers, {n_items} products, {len(interactions)} events; "
        f"{len(targets)} held-out last items for tuning" + ("" if tuning else " (too few: defaults)")
    )

    def metric(model: Scorer) -> float:
        return evaluate_model(model, hist, targets, n_items)[1]

    wanted = set(opts.models)
    tuned: dict[str, Scorer] = {"popularity": Popularity().fit(rest)}
    params: dict[str, Any] = {}
    if "item_knn" in wanted:
        knn = ItemKNN(neighbours=100).fit(rest)
        best_decay, best_m = 0.7, -1.0
        for decay in ITEM_KNN_DECAYS if tuning else ():
            knn.decay = decay
            m = metric(knn)
            if m > best_m:
                best_decay, best_m = decay, m
        knn.decay = best_decay
        params["item_knn_decay"] = best_decay
        tuned["item_knn"] = knn
        say(f"item_knn fitted (decay {best_decay}, {knn.similarity.nnz} neighbour pairs)")
    if "seq_rules" in wanted:
        best_rules: tuple[float, SequentialRules | None] = (-1.0, None)
        for window, rules in SequentialRules.fit_windows(rest, RULE_WINDOWS if tuning else (6,)).items():
            for decay in RULE_DECAYS if tuning else (0.7,):
                rules.decay = decay
                m = metric(rules) if tuning else 0.0
                if best_rules[1] is None or m > best_rules[0]:
                    best_rules = (m, SequentialRules(window, decay))
                    best_rules[1].pairs, best_rules[1].counts = rules.pairs, rules.counts
                    best_rules[1]._prepare()
        chosen = best_rules[1]
        assert chosen is not None
        params["seq_rules_window"], params["seq_rules_decay"] = chosen.window, chosen.decay
        tuned["seq_rules"] = chosen
        say(f"seq_rules fitted (window {chosen.window}, decay {chosen.decay}, {chosen.pairs.nnz} rules)")
    if "user_knn" in wanted:
        tuned["user_knn"] = UserKNN(neighbours=100).fit(rest)
        say("user_knn fitted")
    content: ContentModel | None = None
    if "content" in wanted:
        # Catalogue only (no leakage); MiniLM vectors come from the cache unless a text changed.
        content = ContentModel(decay=0.5, cache=opts.content_cache, threads=opts.threads).fit(full)
        tuned["content"] = content
        cached = f", {n_items - content.embedded} from the cache" if content.used_encoder == "minilm" else ""
        say(f"content fitted ({content.used_encoder}, {n_items} products{cached})")
    if "sasrec" in wanted:
        sas = _sasrec(rest, opts, metric if tuning else None, say, params)
        if sas is not None:
            tuned["sasrec"] = sas

    if tuning and len(tuned) > 1:
        say(f"tuning the hybrid weights on {min(len(targets), opts.hybrid_users)} held-out customers")
        few = opts.hybrid_users
        weights = tune_hybrid(tuned, hist[:few], targets[:few], rest.trained_items(), say)
    else:
        weights = {n: DEFAULT_WEIGHTS.get(n, 0.0) for n in tuned}
        if len(tuned) == 1:
            weights = {"popularity": 1.0}
    served = served_components(weights, tuned)
    say(f"hybrid weights: {weights}; served: {', '.join(served)}")

    final = _final_models(tuned, served, full if opts.refit else rest, opts, params, say)
    del tuned
    histories = {u: full.sequences[i] for i, u in enumerate(interactions.user_ids)}
    purchases = {
        u: np.unique(full.sequences[i][full.weights[i] >= opts.purchase_weight])
        for i, u in enumerate(interactions.user_ids)
    }
    stamps = {u: full.timestamps[i] for i, u in enumerate(interactions.user_ids)}
    # Written aside and put in place at the end: serving processes never load half a build.
    target = Path(out_dir)
    staging = staging_dir(target)
    if staging.exists():
        import shutil

        shutil.rmtree(staging)
    save_artifacts(
        staging,
        catalog=full.catalog,
        histories=histories,
        purchases=purchases,
        timestamps=stamps,
        models=final,
        weights=weights,
        served=served,
        co_purchase=co_purchase(full),
        rebuyable=rebuyable_items(full, opts.purchase_weight),
        trained=(full if opts.refit else rest).trained_items(),
        source={
            **(source or {}),
            "purchase_weight": opts.purchase_weight,
            "params": params,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    publish(staging, target)
    say(f"wrote {target} in {time.perf_counter() - started:.1f}s")
    return target / MANIFEST


def _final_models(
    tuned: dict[str, Scorer],
    served: list[str],
    data: TrainingData,
    opts: TrainOptions,
    params: Mapping[str, Any],
    say: Callable[[str], None],
) -> dict[str, Scorer]:
    """The models to save: the served ones plus item-kNN and content (``similar`` uses them),
    refitted on ``data`` (everything) unless ``data`` is what they were fitted on."""
    refit = opts.refit
    final: dict[str, Scorer] = {"popularity": Popularity().fit(data) if refit else tuned["popularity"]}
    if "item_knn" in tuned:
        final["item_knn"] = ItemKNN(100, decay=params["item_knn_decay"]).fit(data) if refit else tuned["item_knn"]
    if "seq_rules" in tuned and "seq_rules" in served:
        window, decay = params["seq_rules_window"], params["seq_rules_decay"]
        final["seq_rules"] = SequentialRules(window, decay).fit(data) if refit else tuned["seq_rules"]
    if "user_knn" in tuned and "user_knn" in served:
        final["user_knn"] = UserKNN(neighbours=100).fit(data) if refit else tuned["user_knn"]
    if "content" in tuned:
        final["content"] = tuned["content"]
    if "sasrec" in tuned and "sasrec" in served:
        sas = tuned["sasrec"]
        if refit and opts.refit_sasrec:
            from recommender.models.sasrec import SASRec, SASRecConfig

            epochs = int(params.get("sasrec_epochs") or opts.sasrec_epochs)
            say(f"refitting sasrec on all data for {epochs} epochs")
            cfg = SASRecConfig(
                epochs=epochs, time_budget=opts.sasrec_time_budget, seed=opts.seed, **opts.sasrec_overrides
            )
            refitted = SASRec(cfg).fit(data)
            # Without validation the refit runs its epochs unless the budget stops it first:
            # then it has seen less than the tuned model and the tuned one is served.
            sas = refitted if refitted.stopped == "epochs" else sas
        final["sasrec"] = sas
    say(f"refitted {', '.join(sorted(final))} on all {data.n_users} customers" if refit else "kept the tuned models")
    return final
