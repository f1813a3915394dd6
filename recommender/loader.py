"""Reads a trained artifact folder into the parts a :class:`recommender.service.Recommender` serves
from. Called by :meth:`Recommender.load <recommender.service.Recommender.load>` (and so by the
background refresher when a rebuild appears); the format itself is :mod:`recommender.artifacts`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.artifacts import read_manifest
from recommender.data import Catalog, Product
from recommender.models.base import IntArray, Scorer
from recommender.models.content import ContentModel
from recommender.models.hybrid import HybridModel
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN
from recommender.models.popularity import Popularity


class RecommenderParts(TypedDict):
    """The keyword arguments of :class:`recommender.service.Recommender`, as read from disk."""

    catalog: Catalog
    popularity: Popularity
    item_knn: ItemKNN | None
    content: ContentModel | None
    hybrid: HybridModel | None
    histories: dict[str, IntArray]
    purchases: dict[str, IntArray]
    co_purchase: sparse.csr_matrix
    rebuyable: npt.NDArray[np.bool_]
    timestamps: dict[str, npt.NDArray[np.float64]] | None
    manifest: dict[str, Any] | None
    seq_rules: SequentialRules | None
    directory: Path | None


def load_parts(directory: Path) -> RecommenderParts:
    """Read what serving needs from an artifact folder.

    Raises:
        ArtifactsNotFound: When the folder holds no (finished, current-format) artifacts.
    """
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
        offsets, items, stamps = f["offsets"], f["items"].astype(np.int64), f["stamps"]
        p_offsets, p_items = f["p_offsets"], f["p_items"].astype(np.int64)
    histories = {c: items[offsets[i] : offsets[i + 1]] for i, c in enumerate(customers)}
    purchases = {c: p_items[p_offsets[i] : p_offsets[i + 1]] for i, c in enumerate(customers)}
    times = {c: stamps[offsets[i] : offsets[i + 1]] for i, c in enumerate(customers)}
    popularity = Popularity.load(directory)
    components: dict[str, Scorer] = {"popularity": popularity}
    item_knn = ItemKNN.load(directory) if "item_knn" in names else None
    if item_knn is not None:
        components["item_knn"] = item_knn
    seq_rules = SequentialRules.load(directory) if "seq_rules" in names else None
    if seq_rules is not None:
        components["seq_rules"] = seq_rules
    if "user_knn" in names:
        components["user_knn"] = UserKNN.load(directory)
    content = ContentModel.load(directory) if "content" in names else None
    if content is not None:
        components["content"] = content
    if "sasrec" in names:
        # torch (~1 s and hundreds of MB) is imported only when the hybrid serves SASRec.
        import torch

        from recommender.models.sasrec import SASRec

        torch.set_num_threads(1)  # serving answers one request at a time, next to other processes
        components["sasrec"] = SASRec.load(directory)
    trained = np.load(directory / "trained_items.npy")
    return RecommenderParts(
        catalog=catalog,
        popularity=popularity,
        item_knn=item_knn,
        content=content,
        hybrid=HybridModel(components, manifest["hybrid_weights"], trained),
        histories=histories,
        purchases=purchases,
        co_purchase=sparse.load_npz(directory / "co_purchase.npz").tocsr(),
        rebuyable=np.load(directory / "rebuyable.npy"),
        timestamps=times,
        manifest=manifest,
        seq_rules=seq_rules,
        directory=directory,
    )
