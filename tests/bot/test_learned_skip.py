"""LearnedEntityExtractor skips its model only where the model's entities would all be dropped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


def test_skipping_the_model_on_covered_texts_changes_no_result() -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("learned_skip_probe.py"))],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["same"] == result["cases"]
    # the model was skipped exactly on the covered texts, and there were many of both kinds
    assert result["skipped"] == result["covered"]
    assert 500 < result["covered"] < result["cases"] - 500
    assert result["covers_examples"] == [True, True, False, False, True, True]
