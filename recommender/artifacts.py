"""The on-disk artifact format written by ``train`` and read by :class:`recommender.Recommender`.

One folder (default ``var/recommender/``)::

    manifest.json        format version, when/what it was trained from, models, hybrid weights
    catalog.json         products in item-index order (the index every array below uses)
    customers.json       customer ids; histories.npz: their event sequences and purchased items
    popularity.npz       counts and trending scores
    item_knn.npz         sparse item-item cosine neighbours (+ item_knn_params.npy)
    seq_rules.npz        sparse "bought j after i" rules (+ seq_rules_params.npy)
    user_knn.npz         sparse customer x item matrix (+ user_knn_params.npy)
    content.npy|npz      item vectors (MiniLM dense or TF-IDF sparse) + content.json
    sasrec.pt            torch state dict (+ sasrec.json config, sasrec_trained.npy)
    candidates.npz       each customer's best items and hybrid scores (the serving cache)
    co_purchase.npz      bought-together counts
    rebuyable.npy        consumable items that customers do buy again
    trained_items.npy    items with at least one interaction

The manifest is written last, so a folder without one is an unfinished training run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import Catalog, Product
from recommender.errors import ArtifactsNotFound
from recommender.models.base import FloatVector, IntArray, Scorer

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def save_artifacts(
    directory: Path,
    catalog: Catalog,
    histories: Mapping[str, IntArray],
    purchases: Mapping[str, IntArray],
    models: Mapping[str, Scorer],
    weights: Mapping[str, float],
    served: Sequence[str],
    candidates: Mapping[str, tuple[IntArray, FloatVector]],
    co_purchase: sparse.csr_matrix,
    rebuyable: npt.NDArray[np.bool_],
    trained: npt.NDArray[np.bool_],
    source: Mapping[str, Any],
) -> Path:
    """Write a complete artifact folder (manifest last).

    Returns:
        The manifest path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / MANIFEST
    if manifest_path.exists():
        manifest_path.unlink()
    (directory / "catalog.json").write_text(json.dumps([p.to_json() for p in catalog.products]), encoding="utf-8")
    customers = list(histories)
    (directory / "customers.json").write_text(json.dumps(customers), encoding="utf-8")
    seqs = [np.asarray(histories[c], dtype=np.int64) for c in customers]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    items = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    bought = [np.asarray(purchases.get(c, ()), dtype=np.int64) for c in customers]
    p_offsets = np.concatenate([[0], np.cumsum([len(s) for s in bought])]).astype(np.int64)
    p_items = np.concatenate(bought) if bought else np.zeros(0, np.int64)
    np.savez(
        directory / "histories.npz",
        offsets=offsets,
        items=items,
        p_offsets=p_offsets,
        p_items=p_items,
    )
    picks = [candidates.get(c, (np.zeros(0, np.int64), np.zeros(0, np.float32))) for c in customers]
    np.savez(
        directory / "candidates.npz",
        offsets=np.concatenate([[0], np.cumsum([len(i) for i, _ in picks])]).astype(np.int64),
        items=np.concatenate([i for i, _ in picks]).astype(np.int64) if picks else np.zeros(0, np.int64),
        scores=np.concatenate([s for _, s in picks]).astype(np.float32) if picks else np.zeros(0, np.float32),
    )
    for model in models.values():
        model.save(directory)
    sparse.save_npz(directory / "co_purchase.npz", co_purchase.tocsr())
    np.save(directory / "rebuyable.npy", rebuyable)
    np.save(directory / "trained_items.npy", trained)
    manifest = {
        "format": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": dict(source),
        "models": sorted(models),
        "hybrid_weights": dict(weights),
        "served": list(served),
        "items": len(catalog),
        "customers": len(customers),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest_path


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of an artifact folder.

    Raises:
        ArtifactsNotFound: When there is none (not trained, or training did not finish).
    """
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactsNotFound(f"no recommender artifacts in {directory}: run `python -m recommender train`")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise ArtifactsNotFound(f"{path}: format {manifest.get('format')}, need {FORMAT_VERSION}")
    return manifest


def load_recommender(directory: Path) -> Any:
    """Build a :class:`recommender.service.Recommender` from an artifact folder."""
    from recommender.models.content import ContentModel
    from recommender.models.hybrid import HybridModel
    from recommender.models.knn import ItemKNN, SequentialRules, UserKNN
    from recommender.models.popularity import Popularity
    from recommender.service import Recommender

    manifest = read_manifest(directory)
    # Only what serving uses is loaded: the hybrid's components, plus item-kNN and content for
    # similar(). A model that did not earn its keep (e.g. SASRec) is never read, so torch is
    # not imported by the action server unless the hybrid needs it.
    served = set(manifest.get("served") or manifest["models"])
    names = set(manifest["models"]) & (served | {"item_knn", "content"})
    catalog = Catalog(
        tuple(Product.from_json(p) for p in json.loads((directory / "catalog.json").read_text(encoding="utf-8")))
    )
    customers = json.loads((directory / "customers.json").read_text(encoding="utf-8"))
    with np.load(directory / "histories.npz") as f:
        offsets, items = f["offsets"], f["items"]
        p_offsets, p_items = f["p_offsets"], f["p_items"]
    histories = {c: items[offsets[i] : offsets[i + 1]] for i, c in enumerate(customers)}
    purchases = {c: p_items[p_offsets[i] : p_offsets[i + 1]] for i, c in enumerate(customers)}
    popularity = Popularity.load(directory)
    components: dict[str, Scorer] = {"popularity": popularity}
    item_knn = ItemKNN.load(directory) if "item_knn" in names else None
    if item_knn is not None:
        components["item_knn"] = item_knn
    if "seq_rules" in names:
        components["seq_rules"] = SequentialRules.load(directory)
    if "user_knn" in names:
        components["user_knn"] = UserKNN.load(directory)
    content = ContentModel.load(directory) if "content" in names else None
    if content is not None:
        components["content"] = content
    if "sasrec" in names:
        import torch

        from recommender.models.sasrec import SASRec

        torch.set_num_threads(1)  # serving answers one request at a time, next to other processes
        components["sasrec"] = SASRec.load(directory)
    trained = np.load(directory / "trained_items.npy")
    hybrid = HybridModel(components, manifest["hybrid_weights"], trained)
    # Known customers are answered from their precomputed best items (no model runs).
    with np.load(directory / "candidates.npz") as f:
        c_offsets, c_items, c_scores = f["offsets"], f["items"], f["scores"]
    for i, c in enumerate(customers):
        start, end = c_offsets[i], c_offsets[i + 1]
        if end > start:
            hybrid.restore(histories[c], c_items[start:end], c_scores[start:end])
    return Recommender(
        catalog=catalog,
        popularity=popularity,
        item_knn=item_knn,
        content=content,
        hybrid=hybrid,
        histories=histories,
        purchases=purchases,
        co_purchase=sparse.load_npz(directory / "co_purchase.npz"),
        rebuyable=np.load(directory / "rebuyable.npy"),
    )
