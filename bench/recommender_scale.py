"""Recommender at shop scale: the ten-copy amazon-beauty set trained, served, updated and evaluated, with
wall time, CPU time, peak memory and quality per stage.

The ten-copy set is generated here from the shared amazon-beauty (customer, product and attribute ids of
copy c shifted by c times the largest id: 223,630 customers, 121,010 products, 1,985,020 purchases) into
the work folder, never committed. Every stage runs in a process of its own, under an address-space cap
(``--cap-gb``), with ``--threads`` BLAS/torch threads, and reports its own peak resident memory:

  train x10     ``python -m recommender train --dataset <ten copies> --time-budget 300`` (production:
                tuned on held-out last items, refitted on everything, artifacts written)
  serve x10     load those artifacts; top-10 latency of a known customer (the chat's call, rebuy=False),
                of a customer whose history the caller passes, of "like this" and "bought together",
                and of scoring every product densely (reference); wall and CPU time per request
  update x10    ``--orders`` new orders applied in batches of 1,000 (history, bought together, rules,
                popularity); ms per 1,000 orders, memory growth, and the ordered products checked
  quality x1    the served hybrid under the dataset's protocol (leave-last-out, full ranking over every
                product the customer has not bought): trained on all but each customer's last item with
                the second-to-last held out for tuning, no refit, every customer's last item ranked
  quality x10   the same on the ten copies (the reference for the 5% target is quality x1, same run)

    .venv/bin/python bench/recommender_scale.py                       # everything, 2 threads (~25 min)
    .venv/bin/python bench/recommender_scale.py --stages train,serve --threads 1

Prints a Markdown table and writes ``<work>/recommender_scale.json``. The 1-minute load average is
recorded per stage: the machine is shared, and other jobs inflate wall times (CPU times less so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

STAGES = ("train", "serve", "update", "quality1", "quality10")
SERVING_STAGES = ("serve", "update")
RESULT = "BENCH-RESULT "


# ------------------------------------------------------------------------------------------ data
def make_copies(source: Path, target: Path, copies: int) -> dict[str, int]:
    """Write ``copies`` disjoint copies of an amazon-beauty-layout dataset into ``target``."""
    lines = [line.split() for line in (source / "sequences.txt").read_text(encoding="utf-8").splitlines() if line]
    attributes: dict[str, list[int]] = json.loads((source / "item_attributes.json").read_text(encoding="utf-8"))
    max_user = max(int(parts[0]) for parts in lines)
    max_item = max(max(int(i) for parts in lines for i in parts[1:]), max(int(k) for k in attributes))
    max_attr = max(a for values in attributes.values() for a in values)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "sequences.txt.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        for c in range(copies):
            for parts in lines:
                user = int(parts[0]) + c * max_user
                fh.write(" ".join([str(user), *(str(int(i) + c * max_item) for i in parts[1:])]) + "\n")
    shifted = {
        str(int(item) + c * max_item): [a + c * max_attr for a in values]
        for c in range(copies)
        for item, values in attributes.items()
    }
    (target / "item_attributes.json").write_text(json.dumps(shifted), encoding="utf-8")
    tmp.replace(target / "sequences.txt")
    events = sum(len(parts) - 1 for parts in lines) * copies
    return {"customers": len(lines) * copies, "products": len(shifted), "purchases": events}


def ensure_copies(work: Path, copies: int) -> Path:
    """The ``copies``-copy set in ``work`` (generated once); ``copies`` 1 is the shared set itself."""
    from recommender.data import find_dataset

    source = find_dataset("amazon-beauty")
    if source is None:
        sys.exit("amazon-beauty not found above the checkout: set RECOMMENDER_DATASETS to its parent folder")
    if copies == 1:
        return source
    target = work / f"beauty-x{copies}"
    if not (target / "sequences.txt").is_file():
        print(f"==> generating {copies} copies of {source} into {target}", flush=True)
        counts = make_copies(source, target, copies)
        print(f"    {counts}", flush=True)
    return target


# ------------------------------------------------------------------------------------------ child helpers
def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB (from /proc)."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount = line.split(":")
            values[key] = int(amount.split()[0]) / 1024.0
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


class Steps:
    """A progress printer that also records each step's elapsed time and memory."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.lines: list[dict[str, Any]] = []

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        now, peak = rss_mb()
        self.lines.append({"s": round(elapsed, 1), "rss_mb": round(now), "peak_mb": round(peak), "step": message})
        print(f"[{elapsed:7.1f}s rss {now:6.0f} MB peak {peak:6.0f} MB] {message}", flush=True)


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpus.append((time.thread_time() - c) * 1000.0)
        walls.append((time.perf_counter() - w) * 1000.0)
    return walls, cpus


def latency(requests: list[Callable[[], Any]], warm_up: int = 30) -> dict[str, float]:
    """p50 / p99 of wall and CPU milliseconds over ``requests`` (the first ``warm_up`` not counted)."""
    walls, cpus = [], []
    for n, request in enumerate(requests):
        w, c = _timed(request, 1)
        if n >= warm_up:
            walls += w
            cpus += c
    return {
        "p50_ms": round(float(np.percentile(walls, 50)), 3),
        "p99_ms": round(float(np.percentile(walls, 99)), 3),
        "cpu_p50_ms": round(float(np.percentile(cpus, 50)), 3),
        "cpu_p99_ms": round(float(np.percentile(cpus, 99)), 3),
        "requests": len(walls),
    }


def protocol_split(dataset: Path) -> tuple[Any, list[str], np.ndarray]:
    """The interaction log without each customer's last item (for customers with at least three), the
    customers whose last item is held out, and those items (the dataset README's protocol)."""
    from recommender.data import Interactions, load_sequence_dataset

    log, _ = load_sequence_dataset(dataset)
    order, bounds = log._order()
    counts = np.diff(bounds)
    last = bounds[1:] - 1
    eligible = counts >= 3
    keep = np.ones(len(log), dtype=bool)
    keep[order[last[eligible]]] = False
    trained = Interactions(
        log.user_ids, log.catalog, log.users[keep], log.items[keep], log.weights[keep], log.timestamps[keep]
    )
    users = [log.user_ids[u] for u in np.flatnonzero(eligible)]
    return trained, users, log.items[order[last[eligible]]]


# ------------------------------------------------------------------------------------------ stages (children)
def stage_train(args: argparse.Namespace, say: Steps) -> dict[str, Any]:
    from recommender.data import load_sequence_dataset
    from recommender.train import TrainOptions, train

    dataset = ensure_copies(args.work, args.copies)
    out = args.work / f"artifacts-x{args.copies}"
    log, _ = load_sequence_dataset(dataset)
    say(f"loaded {len(log)} events")
    options = TrainOptions(sasrec_time_budget=args.time_budget, threads=args.threads)
    manifest = train(log, out, options, say, source={"dataset": str(dataset)})
    doc = json.loads(manifest.read_text())
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    return {
        "artifacts": str(out),
        "artifacts_mb": round(size / 2**20, 1),
        "served": doc["served"],
        "weights": doc["hybrid_weights"],
        "sasrec": doc["source"]["params"].get("sasrec", "trained"),
        "steps": say.lines,
    }


def stage_serve(args: argparse.Namespace, say: Steps) -> dict[str, Any]:
    from recommender.models.base import top_indices
    from recommender.service import Recommender

    out = args.work / f"artifacts-x{args.copies}"
    before, _ = rss_mb()
    started = time.perf_counter()
    rec = Recommender.load(out)
    load_s = time.perf_counter() - started
    after, _ = rss_mb()
    say(f"loaded {out} in {load_s:.1f}s: +{after - before:.0f} MB")
    rng = np.random.default_rng(7)
    customers = list(rec.histories)
    picks = [customers[int(i)] for i in rng.integers(0, len(customers), args.requests)]
    products = [rec.catalog.ids[int(i)] for i in rng.integers(0, len(rec.catalog), args.requests)]
    hybrid = rec.hybrid
    assert hybrid is not None
    rows: dict[str, Any] = {}
    rows["known customer"] = latency([lambda c=c: rec.recommend(c, 10, rebuy=False) for c in picks])
    say(f"known customer: {rows['known customer']}")
    given = [[rec.catalog.ids[i] for i in rec.histories[c]] for c in picks]
    rows["history from the caller"] = latency([lambda h=h: rec.recommend(None, 10, history=h) for h in given])
    rows["like this"] = latency([lambda p=p: rec.similar(p, 10) for p in products])
    rows["bought together"] = latency([lambda p=p: rec.bought_together(p, 10) for p in products])
    say(f"like this {rows['like this']}, bought together {rows['bought together']}")

    def dense(c: str) -> Any:
        history = rec.histories[c]
        scores = hybrid.score_one(history).copy()
        scores[history] = -np.inf
        return top_indices(scores, 10)

    rows["every product scored densely (reference)"] = latency([lambda c=c: dense(c) for c in picks[:500]])
    say(f"dense reference {rows['every product scored densely (reference)']}")
    # The served answer is exactly the top of the dense scores (here purchases = histories).
    same = sum(
        [r.product_id for r in rec.recommend(c, 10, rebuy=False)] == [rec.catalog.ids[i] for i in dense(c)]
        for c in picks[:200]
    )
    say(f"served top-10 equals the dense top-10 for {same}/200 customers")
    return {
        "load_s": round(load_s, 2),
        "rss_after_load_mb": round(after),
        "loaded_mb": round(after - before),
        "latency": rows,
        "exact_top10": f"{same}/200",
    }


def stage_update(args: argparse.Namespace, say: Steps) -> dict[str, Any]:
    from recommender.service import Recommender
    from recommender.updates import NewOrder

    rec = Recommender.load(args.work / f"artifacts-x{args.copies}")
    start_rss, _ = rss_mb()
    rng = np.random.default_rng(11)
    counts = np.asarray(rec.popularity.counts, dtype=np.float64)
    weights = counts / counts.sum()
    customers = list(rec.histories)
    now = max(float(t[-1]) for t in list(rec.timestamps.values())[:1000] if len(t)) + 1.0
    orders = []
    for n in range(args.orders):
        new = rng.random() < 0.2
        customer = f"new-{n}" if new else customers[int(rng.integers(0, len(customers)))]
        lines = rng.choice(len(counts), size=int(rng.integers(1, 4)), replace=False, p=weights)
        orders.append(NewOrder(n + 1, customer, tuple(rec.catalog.ids[int(i)] for i in lines), now + n))
    batches = []
    for start in range(0, len(orders), 1000):
        result = rec.add_orders(orders[start : start + 1000])
        batches.append(result.seconds * 1000.0)
        say(
            f"applied orders {start + 1}-{start + result.orders}: {result.seconds * 1000:.0f} ms, "
            f"{result.events} lines, {result.new_customers} new customers"
        )
    end_rss, _ = rss_mb()
    # Every ordered product is in the customer's purchases and never offered back.
    checked = 0
    for order in orders[-200:]:
        picks = {r.product_id for r in rec.recommend(order.customer, 10, rebuy=False)}
        assert not picks & set(order.skus), order
        owned = {rec.catalog.ids[i] for i in rec.purchases[order.customer]}
        assert set(order.skus) <= owned, order
        checked += 1
    return {
        "orders": len(orders),
        "ms_per_1000_orders": [round(b) for b in batches],
        "median_ms_per_1000": round(float(np.median(batches))),
        "rss_growth_mb": round(end_rss - start_rss),
        "orders_checked": checked,
    }


def stage_quality(args: argparse.Namespace, say: Steps, copies: int) -> dict[str, Any]:
    from recommender.service import Recommender
    from recommender.train import TrainOptions, train
    from recommender.tuning import evaluate_hybrid

    dataset = ensure_copies(args.work, copies)
    trained, users, targets = protocol_split(dataset)
    say(f"{len(users)} customers hold out their last item")
    out = args.work / f"protocol-x{copies}"
    options = TrainOptions(sasrec_time_budget=args.time_budget, threads=args.threads, refit=False)
    train(trained, out, options, say, source={"dataset": str(dataset), "protocol": "leave-last-out"})
    train_s = time.perf_counter() - say.started
    rec = Recommender.load(out)
    assert rec.hybrid is not None
    if len(users) > args.eval_users:  # a random sample of the held-out customers (said in the table)
        pick = np.sort(np.random.default_rng(args.seed).choice(len(users), args.eval_users, replace=False))
        users, targets = [users[i] for i in pick], targets[pick]
    histories = [rec.histories[u] for u in users]
    started = time.perf_counter()
    hr, ndcg = evaluate_hybrid(
        rec.hybrid, histories, targets, progress=lambda done, total: say(f"  ranked {done}/{total}")
    )
    say(f"test HR@10 {hr:.4f} NDCG@10 {ndcg:.4f}")
    return {
        "hr10": round(hr, 4),
        "ndcg10": round(ndcg, 4),
        "customers": len(users),
        "served": rec.manifest["served"],
        "weights": rec.manifest["hybrid_weights"],
        "sasrec": rec.manifest["source"]["params"].get("sasrec", "trained"),
        "train_s": round(train_s, 1),
        "eval_s": round(time.perf_counter() - started, 1),
    }


def run_child(args: argparse.Namespace) -> None:
    say = Steps()
    wall, cpu0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    load = os.getloadavg()[0]
    if args.stage == "train":
        doc = stage_train(args, say)
    elif args.stage == "serve":
        doc = stage_serve(args, say)
    elif args.stage == "update":
        doc = stage_update(args, say)
    else:
        doc = stage_quality(args, say, 1 if args.stage == "quality1" else args.copies)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    doc.update(
        stage=args.stage,
        wall_s=round(time.perf_counter() - wall, 1),
        cpu_s=round(usage.ru_utime + usage.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1),
        peak_rss_mb=round(usage.ru_maxrss / 1024),
        load_before=round(load, 1),
        load_after=round(os.getloadavg()[0], 1),
    )
    print(RESULT + json.dumps(doc), flush=True)


# ------------------------------------------------------------------------------------------ parent
def run_stage(args: argparse.Namespace, stage: str) -> dict[str, Any]:
    cap = int(args.cap_gb * 1e9)
    # Serving answers one request at a time on one thread, as the action server does.
    threads = 1 if stage in SERVING_STAGES else args.threads
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--work",
        str(args.work),
        "--copies",
        str(args.copies),
        "--threads",
        str(threads),
        "--time-budget",
        str(args.time_budget),
        "--orders",
        str(args.orders),
        "--requests",
        str(args.requests),
    ]

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    print(f"==> {stage} (cap {args.cap_gb:g} GB address space, {threads} threads)", flush=True)
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True, preexec_fn=limit)
    result: dict[str, Any] = {"stage": stage, "failed": True}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(RESULT):
            result = json.loads(line[len(RESULT) :])
        else:
            print("    " + line.rstrip(), flush=True)
    if proc.wait() != 0:
        result.update(failed=True, exit_code=proc.returncode)
    return result


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    out = [
        f"threads: {args.threads} (BLAS and torch) for training stages, 1 for serve and update (as the action"
        f" server); address-space cap {args.cap_gb:g} GB per stage",
        "",
    ]
    out += ["| stage | wall s | CPU s | peak RSS MB | load avg (before/after) | result |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        if r.get("failed"):
            out.append(f"| {name} | - | - | - | - | FAILED (exit {r.get('exit_code')}) |")
            continue
        if name == "train":
            what = f"artifacts {r['artifacts_mb']} MB; served: {', '.join(r['served'])}; sasrec: {r['sasrec']}"
        elif name == "serve":
            what = f"load {r['load_s']} s, +{r['loaded_mb']} MB resident"
        elif name == "update":
            what = f"{r['orders']} orders: median {r['median_ms_per_1000']} ms per 1,000; +{r['rss_growth_mb']} MB"
        else:
            what = f"HR@10 {r['hr10']:.4f} NDCG@10 {r['ndcg10']:.4f} ({r['customers']} customers)"
        load = f"{r['load_before']} / {r['load_after']}"
        out.append(f"| {name} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mb']} | {load} | {what} |")
    if "serve" in results and not results["serve"].get("failed"):
        out += [
            "",
            "| top-10 request (x10 artifacts) | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms |",
            "|---|---|---|---|---|",
        ]
        for kind, lat in results["serve"]["latency"].items():
            out.append(f"| {kind} | {lat['p50_ms']} | {lat['p99_ms']} | {lat['cpu_p50_ms']} | {lat['cpu_p99_ms']} |")
    q1, q10 = results.get("quality1"), results.get("quality10")
    if q1 and q10 and not q1.get("failed") and not q10.get("failed"):
        out += [
            "",
            f"quality x10 / x1 (same run): HR@10 {q10['hr10'] / q1['hr10']:.3f}, "
            f"NDCG@10 {q10['ndcg10'] / q1['ndcg10']:.3f} (target: within 0.95-1.05)",
        ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, of {', '.join(STAGES)}")
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time-budget", type=float, default=300.0, help="SASRec seconds (as in the issue)")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=1000, help="latency requests per kind")
    parser.add_argument(
        "--eval-users", type=int, default=20_000, help="held-out customers ranked per quality stage (random sample)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cap-gb", type=float, default=9.0, help="address-space cap per stage process")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "recommender-scale")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work = args.work.resolve()
    if args.stage:
        run_child(args)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    ensure_copies(args.work, args.copies)
    results = {stage: run_stage(args, stage) for stage in args.stages.split(",") if stage}
    report = table(results, args)
    print("\n" + report)
    (args.work / "recommender_scale.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwrote {args.work / 'recommender_scale.json'}")
    return 1 if any(r.get("failed") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
