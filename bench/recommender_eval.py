"""Full recommender benchmark: every model on amazon-beauty under the README protocol.

    .venv/bin/python bench/recommender_eval.py [--sample N] [--out var/recommender-eval]

A thin wrapper over ``python -m recommender evaluate`` with the shared dataset as default.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.__main__ import main  # noqa: E402

DATASET = ROOT.parent / "shared" / "datasets" / "amazon-beauty"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--dataset" not in args:
        args = ["--dataset", str(DATASET), *args]
    sys.exit(main(["evaluate", *args]))
