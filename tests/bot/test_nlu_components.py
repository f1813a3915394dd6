"""Tests of bot/sentence_encoder.py (ONNX Runtime MiniLM) and bot/intent_classifier.py (fast logistic regression).

Both run in the rasa environment, so each test runs tests/bot/nlu_components_probe.py there and checks the
numbers it prints: the ONNX graph written by bot/minilm_onnx.py must compute what sentence-transformers computes
from the same packaged model (run here, in .venv), int8 must stay close to it, and the classifier's probabilities
must be sklearn's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recommender.embedding import minilm_path

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


def probe(which: str, tmp_path: Path | None = None) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    if tmp_path is not None:
        env["ENCODER_CACHE_DIR"] = str(tmp_path)
    elif "ENCODER_CACHE_DIR" in os.environ:
        env["ENCODER_CACHE_DIR"] = os.environ["ENCODER_CACHE_DIR"]
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("nlu_components_probe.py")), which],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_onnx_encoder_computes_what_sentence_transformers_computes_and_int8_stays_close(tmp_path: Path) -> None:
    # a fresh cache folder: the graph is built and quantized from the package's weights in this test
    result = probe("encoder", tmp_path)
    from sentence_transformers import SentenceTransformer  # torch: imported by this test only

    reference = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True).encode(
        result["texts"], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    fp32 = np.asarray(result["fp32"])
    cosines = (fp32 * reference).sum(1) / (np.linalg.norm(fp32, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosines.min() > 0.99999, cosines
    assert min(result["int8_vs_fp32"]) > 0.95, result
    assert sum(result["int8_vs_fp32"]) / len(result["int8_vs_fp32"]) > 0.98, result
    # a training example's vector is the one the same text gets when served alone
    assert result["int8_alone_vs_in_a_batch_max_abs"] == 0.0, result
    assert all(abs(n - 10.0) < 1e-3 for n in result["norms"]), result  # scale 10 of a unit vector
    assert sorted(p.name.rsplit("-", 1)[-1] for p in tmp_path.glob("*.onnx")) == ["fp32.onnx", "int8.onnx"]


def test_the_fast_classifier_gives_sklearns_probabilities_and_refuses_mismatched_features() -> None:
    result = probe("classifier")
    assert result["max_abs_diff"] < 1e-9, result
    assert result["max_abs_diff_after_load"] < 1e-9, result
    assert "retrain the model" in result["mismatch_error"], result
