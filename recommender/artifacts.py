"""The on-disk artifact format: written by ``train``, read back by :mod:`recommender.loader`.

One folder (default ``var/recommender/``)::

    manifest.json        format version, when/what it was trained from, models, hybrid weights
    catalog.json         products in item-index order (the index every array below uses)
    customers.json       customer ids; histories.npz: their event sequences (and times) and purchased items
    popularity.npz       counts, trending scores and the decay they were computed with
    item_knn.npz         sparse item-item cosine neighbours (+ item_knn_params.npy)
    seq_rules.npz        sparse raw "bought j after i" weights (+ seq_rules_counts.npy, seq_rules_params.npy)
    user_knn.npz         sparse customer x item matrix (+ user_knn_params.npy)
    content.npy|npz      item vectors (MiniLM dense or TF-IDF sparse) + content.json
    sasrec.pt            torch state dict (+ sasrec.json config, sasrec_trained.npy)
    co_purchase.npz      bought-together counts
    rebuyable.npy        consumable items that customers do buy again
    trained_items.npy    items with at least one interaction

The manifest is written last, so a folder without one is an unfinished training run. Format 2
dropped format 1's per-customer candidate cache (a full catalogue scan per customer at build time,
half a gigabyte at 200k customers, and stale as soon as orders arrive): the hybrid ranks a request
from the items its sparse components score (:meth:`HybridModel.ranked`).
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from recommender.data import Catalog
from recommender.errors import ArtifactsNotFound
from recommender.models.base import IntArray, Scorer

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
#: Files of the live folder that a new build takes over (the MiniLM cache of product texts).
CARRIED_OVER = ("embedding-cache.npz",)


def staging_dir(target: Path) -> Path:
    """Where a build of ``target`` is written before :func:`publish` puts it in place."""
    return target.parent / f".{target.name}.build-{os.getpid()}"


def publish(staging: Path, target: Path) -> None:
    """Put a finished build in place of ``target``.

    Two renames: a serving process that looks between them finds no manifest and keeps serving
    what it has loaded (:func:`recommender.service.get_recommender`), and one that loads after
    them reads the new build whole, never a mix of two trainings.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in CARRIED_OVER:
        if (target / name).is_file() and not (staging / name).exists():
            shutil.copy2(target / name, staging / name)
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def save_artifacts(
    directory: Path,
    catalog: Catalog,
    histories: Mapping[str, IntArray],
    purchases: Mapping[str, IntArray],
    timestamps: Mapping[str, npt.NDArray[np.float64]],
    models: Mapping[str, Scorer],
    weights: Mapping[str, float],
    served: Sequence[str],
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
    stamps = (
        np.concatenate([np.asarray(timestamps[c], dtype=np.float64) for c in customers])
        if customers
        else np.zeros(0, np.float64)
    )
    bought = [np.asarray(purchases.get(c, ()), dtype=np.int64) for c in customers]
    p_offsets = np.concatenate([[0], np.cumsum([len(s) for s in bought])]).astype(np.int64)
    p_items = np.concatenate(bought) if bought else np.zeros(0, np.int64)
    np.savez(
        directory / "histories.npz",
        offsets=offsets,
        items=items.astype(np.int32 if len(catalog) < 2**31 else np.int64),
        stamps=stamps,
        p_offsets=p_offsets,
        p_items=p_items.astype(np.int32 if len(catalog) < 2**31 else np.int64),
    )
    for model in models.values():
        model.save(directory)
    sparse.save_npz(directory / "co_purchase.npz", co_purchase.tocsr(), compressed=False)
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
        raise ArtifactsNotFound(
            f"{path}: format {manifest.get('format')}, need {FORMAT_VERSION}: run `python -m recommender train` again"
        )
    # For the refresher: which build this is, and when it was trained.
    manifest["_mtime"] = path.stat().st_mtime
    manifest["_built"] = calendar.timegm(time.strptime(manifest["created"], "%Y-%m-%dT%H:%M:%SZ"))
    return manifest
