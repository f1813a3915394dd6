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
from recommender.data import find_dataset  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--dataset" not in args:
        dataset = find_dataset("amazon-beauty")
        if dataset is None:
            sys.exit("amazon-beauty not found above the checkout: pass --dataset or set RECOMMENDER_DATASETS")
        args = ["--dataset", str(dataset), *args]
    sys.exit(main(["evaluate", *args]))
