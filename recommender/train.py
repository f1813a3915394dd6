"""Training: fit every model on an interaction log, tune on held-out last items, write artifacts.

Run by ``python -m recommender train``. The last item of every customer with at least three
events is held out to tune the kNN recency decay, SASRec's epoch count and the hybrid weights;
then the models are refitted on everything and saved (see :mod:`recommender.artifacts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recommender.artifacts import save_artifacts
from recommender.data import Interactions, TrainingData
from recommender.models.base import IntArray, Scorer
from recommender.models.content import ContentModel
from recommender.models.hybrid import HybridModel, served_components
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN, co_purchase
from recommender.models.popularity import Popularity

ALL_MODELS = ("popularity", "item_knn", "seq_rules", "user_knn", "content", "sasrec")
DEFAULT_WEIGHTS = {"seq_rules": 1.0, "item_knn": 0.5, "user_knn": 0.2, "content": 0.1, "sasrec": 0.5}


@dataclass
class TrainOptions:
    """Training settings.

    Attributes:
        models: Which models to fit (popularity is always fitted).
        purchase_weight: Events at least this heavy are purchases (never re-recommended).
        sasrec_epochs: Upper bound on SASRec epochs (early stopping picks fewer).
        sasrec_time_budget: Seconds after which SASRec training stops.
        refit_sasrec: Retrain SASRec on all data for the tuned epoch count (slower, fresher).
        min_tuning_users: Below this many held-out customers, default weights are used.
        tune_users: At most this many held-out customers are used to tune.
        threads: torch / BLAS threads.
        seed: Random seed.
        content_cache: Where product-text embeddings are kept between trainings (None = none).
        candidates: Best items kept per customer for serving (more survive stricter filters).
    """

    models: tuple[str, ...] = ALL_MODELS
    purchase_weight: float = 1.0
    sasrec_epochs: int = 60
    sasrec_time_budget: float = 600.0
    refit_sasrec: bool = True
    min_tuning_users: int = 30
    tune_users: int = 5000
    threads: int = 1
    seed: int = 42
    sasrec_overrides: dict[str, Any] = field(default_factory=dict)
    content_cache: Path | None = None
    candidates: int = 200


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
    repeat = np.zeros(data.n_items, dtype=bool)
    for s, w in zip(data.sequences, data.weights, strict=True):
        bought = s[w >= purchase_weight]
        values, counts = np.unique(bought, return_counts=True)
        repeat[values[counts > 1]] = True
    consumable = np.array([p.consumable for p in data.catalog.products], dtype=bool)
    return repeat & consumable


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
    from recommender.evaluate import _limit_threads, evaluate_scores, tune_hybrid

    opts = options or TrainOptions()
    say = report or (lambda _msg: None)
    _limit_threads(opts.threads)
    started = time.perf_counter()
    full = interactions.training_data()
    rest, hist, targets = _hold_out_last(full)
    if len(targets) > opts.tune_users:
        pick = np.sort(np.random.default_rng(opts.seed).choice(len(targets), opts.tune_users, replace=False))
        hist, targets = [hist[i] for i in pick], targets[pick]
    tuning = len(targets) >= opts.min_tuning_users
    say(
        f"training on {full.n_users} customers, {full.n_items} products, {len(interactions)} events; "
        f"{len(targets)} held-out last items for tuning" + ("" if tuning else " (too few: defaults)")
    )

    def metric(score: Callable[[list[IntArray]], Any]) -> float:
        return evaluate_scores(score, hist, targets)[1]

    wanted = set(opts.models)
    tuned: dict[str, Scorer] = {"popularity": Popularity().fit(rest)}
    params: dict[str, Any] = {}
    if "item_knn" in wanted:
        knn = ItemKNN(neighbours=100).fit(rest)
        best_decay, best_m = 0.7, -1.0
        for decay in (1.0, 0.7, 0.4) if tuning else ():
            knn.decay = decay
            m = metric(knn.score)
            if m > best_m:
                best_decay, best_m = decay, m
        knn.decay = best_decay
        params["item_knn_decay"] = best_decay
        tuned["item_knn"] = knn
        say(f"item_knn fitted (decay {best_decay})")
    if "seq_rules" in wanted:
        best_rules: tuple[float, int, float] = (-1.0, 6, 0.7)
        for window in (3, 6, 12) if tuning else ():
            rules = SequentialRules(window=window).fit(rest)
            for decay in (0.7, 0.4):
                rules.decay = decay
                m = metric(rules.score)
                if m > best_rules[0]:
                    best_rules = (m, window, decay)
        params["seq_rules_window"], params["seq_rules_decay"] = best_rules[1], best_rules[2]
        tuned["seq_rules"] = SequentialRules(best_rules[1], best_rules[2]).fit(rest)
        say(f"seq_rules fitted (window {best_rules[1]}, decay {best_rules[2]})")
    if "user_knn" in wanted:
        tuned["user_knn"] = UserKNN(neighbours=100).fit(rest)
        say("user_knn fitted")
    content: ContentModel | None = None
    if "content" in wanted:
        # Catalogue only (no leakage); MiniLM vectors come from the cache unless a text changed.
        content = ContentModel(decay=0.5, cache=opts.content_cache, threads=opts.threads).fit(full)
        tuned["content"] = content
        cached = f", {full.n_items - content.embedded} from the cache" if content.used_encoder == "minilm" else ""
        say(f"content fitted ({content.used_encoder}, {full.n_items} products{cached})")
    sasrec_epochs = opts.sasrec_epochs
    if "sasrec" in wanted:
        import torch

        from recommender.models.sasrec import SASRec, SASRecConfig

        torch.set_num_threads(max(1, opts.threads))
        cfg = SASRecConfig(
            epochs=opts.sasrec_epochs,
            time_budget=opts.sasrec_time_budget,
            seed=opts.seed,
            **opts.sasrec_overrides,
        )

        def on_epoch(epoch: int, epochs: int, loss: float, m: float | None, elapsed: float) -> None:
            extra = "" if m is None else f", held-out NDCG@10 {m:.4f}"
            say(f"  sasrec epoch {epoch}/{epochs}: loss {loss:.3f}{extra} ({elapsed:.0f}s)")

        sas = SASRec(cfg).fit(rest, validate=(lambda s: metric(s.score)) if tuning else None, progress=on_epoch)
        scored = [h for h in sas.history if h["metric"] > 0]
        if scored:
            sasrec_epochs = int(max(scored, key=lambda h: h["metric"])["epoch"])
        tuned["sasrec"] = sas
        params["sasrec_epochs"] = sasrec_epochs
        say(f"sasrec fitted (best epoch {sasrec_epochs})")

    trained = full.trained_items()
    if tuning and len(tuned) > 1:
        cached = {n: m.score(hist) for n, m in tuned.items()}
        weights = tune_hybrid(cached, hist, targets, rest.trained_items(), say)
    else:
        weights = {n: DEFAULT_WEIGHTS.get(n, 0.0) for n in tuned}
        if len(tuned) == 1:
            weights = {"popularity": 1.0}
    served = served_components(weights, tuned)
    say(f"hybrid weights: {weights}; served: {', '.join(served)}")

    # Refit on everything for serving.
    final: dict[str, Scorer] = {"popularity": Popularity().fit(full)}
    if "item_knn" in tuned:
        final["item_knn"] = ItemKNN(neighbours=100, decay=params["item_knn_decay"]).fit(full)
    if "seq_rules" in tuned:
        final["seq_rules"] = SequentialRules(params["seq_rules_window"], params["seq_rules_decay"]).fit(full)
    if "user_knn" in tuned:
        final["user_knn"] = UserKNN(neighbours=100).fit(full)
    if content is not None:
        final["content"] = content
    if "sasrec" in tuned:
        if opts.refit_sasrec and tuning and "sasrec" in served:
            from recommender.models.sasrec import SASRec, SASRecConfig

            say(f"refitting sasrec on all data for {sasrec_epochs} epochs")
            cfg = SASRecConfig(
                epochs=sasrec_epochs,
                time_budget=opts.sasrec_time_budget,
                seed=opts.seed,
                **opts.sasrec_overrides,
            )
            final["sasrec"] = SASRec(cfg).fit(full)
        else:
            final["sasrec"] = tuned["sasrec"]
    histories = {u: full.sequences[i] for i, u in enumerate(interactions.user_ids)}
    # The serving cache: every customer's best items, ranked once here instead of per request.
    hybrid = HybridModel({n: final[n] for n in served if n in final}, weights, trained)
    sasrec_final = final.get("sasrec") if "sasrec" in served else None
    if sasrec_final is not None:
        sasrec_final.cache_states(list(histories.values()))  # type: ignore[attr-defined]  # batched forward
    hybrid.precompute(list(histories.values()), n=opts.candidates)
    candidates = {u: c for u, h in histories.items() if (c := hybrid.candidates(h)) is not None}
    say(f"ranked the best {opts.candidates} products of {len(candidates)} customers for serving")
    purchases = {
        u: np.unique(full.sequences[i][full.weights[i] >= opts.purchase_weight])
        for i, u in enumerate(interactions.user_ids)
    }
    manifest = save_artifacts(
        Path(out_dir),
        catalog=full.catalog,
        histories=histories,
        purchases=purchases,
        models=final,
        weights=weights,
        served=served,
        candidates=candidates,
        co_purchase=co_purchase(full),
        rebuyable=rebuyable_items(full, opts.purchase_weight),
        trained=trained,
        source={**(source or {}), "params": params, "seconds": round(time.perf_counter() - started, 1)},
    )
    say(f"wrote {manifest.parent} in {time.perf_counter() - started:.1f}s")
    return manifest
