"""Command line: ``python -m recommender {train,evaluate,recommend}``.

python -m recommender train --from-store [--database-url URL] [--out var/recommender]
python -m recommender train --dataset ../shared/datasets/amazon-beauty [--out var/recommender]
python -m recommender evaluate --dataset ../shared/datasets/amazon-beauty [--sample N] [--out DIR]
python -m recommender recommend --customer 42 [-k 10] [--artifacts var/recommender]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from recommender.errors import RecommenderError


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the commands)."""
    parser = argparse.ArgumentParser(
        prog="python -m recommender", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="fit all models and write the artifacts")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", type=Path, help="folder with sequences.txt (amazon-beauty layout)")
    src.add_argument(
        "--from-store", action="store_true", help="read products and order lines from the order store (read-only)"
    )
    tr.add_argument("--database-url", default=None, help="order store URL (default: $SHOP_DATABASE_URL)")
    tr.add_argument(
        "--out", type=Path, default=None, help="artifact folder (default $RECOMMENDER_ARTIFACTS or var/recommender)"
    )
    tr.add_argument("--models", default=",".join(_all_models()), help="comma-separated models")
    tr.add_argument("--sasrec-epochs", type=int, default=60)
    tr.add_argument("--time-budget", type=float, default=600.0, help="SASRec seconds")
    tr.add_argument("--no-refit", action="store_true", help="keep the tuning SASRec (faster)")
    tr.add_argument("--threads", type=int, default=1)
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--quiet", action="store_true")

    ev = sub.add_parser("evaluate", help="leave-last-out full-ranking evaluation of every model")
    ev.add_argument("--dataset", type=Path, required=True)
    ev.add_argument("--sample", type=int, default=None, help="evaluate on N random users")
    ev.add_argument("--out", type=Path, default=Path("var/recommender-eval"))
    ev.add_argument("--sasrec-epochs", type=int, default=60)
    ev.add_argument("--time-budget", type=float, default=900.0, help="SASRec seconds")
    ev.add_argument("--skip", default="", help="comma-separated models to skip (e.g. als,user_knn)")
    ev.add_argument("--tune-users", type=int, default=5000, help="validation users used to tune (at most)")
    ev.add_argument("--threads", type=int, default=2)
    ev.add_argument("--seed", type=int, default=42)
    ev.add_argument("--quiet", action="store_true")

    rec = sub.add_parser("recommend", help="print recommendations from trained artifacts")
    rec.add_argument("--customer", default=None)
    rec.add_argument("--similar", default=None, help="a product id")
    rec.add_argument("--together", default=None, help="a product id")
    rec.add_argument("-k", type=int, default=10)
    rec.add_argument("--artifacts", type=Path, default=None)
    return parser


def _all_models() -> tuple[str, ...]:
    from recommender.train import ALL_MODELS

    return ALL_MODELS


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        return _recommend(args)
    except RecommenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from recommender.data import load_sequence_dataset
    from recommender.evaluate import Reporter
    from recommender.service import default_artifacts_dir
    from recommender.train import TrainOptions, train

    say = Reporter(quiet=args.quiet)
    out = args.out or default_artifacts_dir()
    if args.from_store:
        from recommender.store_adapter import read_shop_from_settings

        shop, url = read_shop_from_settings(args.database_url)
        say(
            f"read the order store ({url}): {shop.products} products, {shop.order_lines} order lines "
            f"from {shop.customers} customers"
        )
        interactions = shop.interactions
        source: dict[str, object] = {"store": url, **shop.source()}
    else:
        interactions, _ = load_sequence_dataset(args.dataset)
        source = {"dataset": str(args.dataset)}
    options = TrainOptions(
        models=tuple(m for m in args.models.split(",") if m),
        sasrec_epochs=args.sasrec_epochs,
        sasrec_time_budget=args.time_budget,
        refit_sasrec=not args.no_refit,
        threads=args.threads,
        seed=args.seed,
        content_cache=out / "embedding-cache.npz",
    )
    train(interactions, out, options, say, source=source)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from recommender.evaluate import EvalConfig, Reporter, run_evaluation

    config = EvalConfig(
        sample=args.sample,
        seed=args.seed,
        sasrec_epochs=args.sasrec_epochs,
        sasrec_time_budget=args.time_budget,
        threads=args.threads,
        skip=tuple(s for s in args.skip.split(",") if s),
        tune_users=args.tune_users,
    )
    run_evaluation(args.dataset, args.out, config, Reporter(quiet=args.quiet))
    return 0


def _recommend(args: argparse.Namespace) -> int:
    from recommender.service import Recommender

    rec = Recommender.load(args.artifacts)
    if args.similar:
        answer = rec.similar(args.similar, args.k)
    elif args.together:
        answer = rec.bought_together(args.together, args.k)
    else:
        answer = rec.recommend(args.customer, args.k)
    for r in answer:
        print(f"{r.product_id}\t{r.score:.4f}\t{r.reason}\t{r.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
