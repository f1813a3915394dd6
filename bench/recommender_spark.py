"""Beyond one machine: the recommender's statistics computed by Spark in local mode on the ten-copy set,
checked against what the single machine wrote, and put back into an artifact folder that the serving
code loads and answers from identically.

Optional (not in the default requirements, not in ``make test``); needs Java 17 and

    .venv/bin/pip install -r requirements-recommender-spark.txt
    .venv/bin/python bench/recommender_scale.py --stages train      # the single-machine artifacts
    .venv/bin/python bench/recommender_spark.py [--threads 2] [--memory 3g]

Jobs (``recommender/spark_jobs.py``): bought-together counts, sequential-rule pair weights and item
counts, item-kNN cosine top-100. Each job's Parquet output becomes a CSR matrix (the converter's
memory follows the output, not the log) and is compared with ``co_purchase.npz``, ``seq_rules.npz``
and ``item_knn.npz`` of the artifacts; then a copy of the artifacts with Spark's matrices swapped in
is published and both folders answer the same requests. Prints a Markdown table and writes
``<work>/recommender_spark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from recommender_scale import ensure_copies  # noqa: E402
from scipy import sparse  # noqa: E402


def jvm_peak_mb(spark: Any) -> float:
    """Peak resident memory of the Spark JVM (local mode: driver and executors in one process)."""
    try:
        pid = spark.sparkContext._gateway.proc.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (AttributeError, OSError):
        pass
    return float("nan")


def compare(name: str, spark_m: sparse.csr_matrix, local: sparse.csr_matrix) -> dict[str, Any]:
    diff = abs(spark_m - local)
    same_pattern = (spark_m != 0).astype(np.int8) - (local != 0).astype(np.int8)
    return {
        "job": name,
        "spark_nnz": int(spark_m.nnz),
        "local_nnz": int(local.nnz),
        "entries_only_in_one": int(abs(same_pattern).sum()),
        "max_abs_diff": float(diff.max()) if diff.nnz else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", default="3g", help="Spark driver heap (local mode)")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "recommender-scale")
    args = parser.parse_args()
    from recommender import spark_jobs
    from recommender.artifacts import publish, read_manifest, staging_dir
    from recommender.service import Recommender

    work = args.work.resolve()
    dataset = ensure_copies(work, args.copies)
    artifacts = work / f"artifacts-x{args.copies}"
    manifest = read_manifest(artifacts)
    params = manifest["source"]["params"]
    window = int(params["seq_rules_window"])
    catalog_ids = [p["product_id"] for p in json.loads((artifacts / "catalog.json").read_text())]
    n = len(catalog_ids)
    out = work / "spark"
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    spark = spark_jobs.session(args.threads, args.memory, tmp=out / "tmp")
    spark.sparkContext.setLogLevel("ERROR")
    print(f"==> Spark {spark.version} local[{args.threads}], driver heap {args.memory}", flush=True)
    events = spark_jobs.events_from_sequences(spark, dataset / "sequences.txt", catalog_ids).cache()
    print(f"    {events.count()} events", flush=True)
    jobs = {
        "co_purchase": lambda: spark_jobs.co_purchase(events, 2),
        "seq_rules": lambda: spark_jobs.rule_pairs(events, window),
        "seq_rules_counts": lambda: spark_jobs.item_counts(events),
        "item_knn": lambda: spark_jobs.item_cosine(events, 100, 10.0),
    }
    seconds: dict[str, float] = {}
    for name, job in jobs.items():
        t = time.perf_counter()
        spark_jobs.write(job(), out / name)
        seconds[name] = time.perf_counter() - t
        print(f"    {name}: {seconds[name]:.0f} s", flush=True)
    peak = jvm_peak_mb(spark)
    spark.stop()
    total = time.perf_counter() - started

    # Back on one machine: Parquet -> CSR, compared with the single-machine artifacts.
    t = time.perf_counter()
    spark_co = spark_jobs.parquet_to_csr(out / "co_purchase", n)
    spark_rules = spark_jobs.parquet_to_csr(out / "seq_rules", n)
    spark_counts = spark_jobs.parquet_to_vector(out / "seq_rules_counts", n)
    spark_knn = spark_jobs.parquet_to_csr(out / "item_knn", n)
    convert_s = time.perf_counter() - t
    local_co = sparse.load_npz(artifacts / "co_purchase.npz").tocsr()
    local_rules = sparse.load_npz(artifacts / "seq_rules.npz").tocsr()
    local_counts = np.load(artifacts / "seq_rules_counts.npy")
    local_knn = sparse.load_npz(artifacts / "item_knn.npz").tocsr()
    rows.append({**compare("bought together (window 2)", spark_co, local_co), "spark_s": seconds["co_purchase"]})
    rows.append(
        {**compare(f"sequential rules (window {window})", spark_rules, local_rules), "spark_s": seconds["seq_rules"]}
    )
    rows.append(
        {
            "job": "rule item counts",
            "spark_nnz": int((spark_counts > 0).sum()),
            "local_nnz": int((local_counts > 0).sum()),
            "entries_only_in_one": 0,
            "max_abs_diff": float(np.abs(spark_counts - local_counts).max()),
            "spark_s": seconds["seq_rules_counts"],
        }
    )
    rows.append({**compare("item-kNN cosine top-100", spark_knn, local_knn), "spark_s": seconds["item_knn"]})

    # The way back: a build folder with Spark's matrices, published like any build, served.
    target = work / f"artifacts-x{args.copies}-spark"
    staging = staging_dir(target)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(artifacts, staging)
    sparse.save_npz(staging / "co_purchase.npz", spark_co, compressed=False)
    sparse.save_npz(staging / "seq_rules.npz", spark_rules, compressed=False)
    np.save(staging / "seq_rules_counts.npy", spark_counts)
    sparse.save_npz(staging / "item_knn.npz", spark_knn, compressed=False)
    (staging / "manifest.json").write_text(
        json.dumps(
            {
                **{k: v for k, v in manifest.items() if not k.startswith("_")},
                "source": {**manifest["source"], "statistics": "spark"},
            },
            indent=2,
        )
    )
    publish(staging, target)
    ours, theirs = Recommender.load(artifacts), Recommender.load(target)
    rng = np.random.default_rng(3)
    customers = list(ours.histories)
    picks = [customers[int(i)] for i in rng.integers(0, len(customers), 500)]
    products = [ours.catalog.ids[int(i)] for i in rng.integers(0, n, 500)]
    same = {
        "personal picks": sum(
            [r.product_id for r in ours.recommend(c, 10, rebuy=False)]
            == [r.product_id for r in theirs.recommend(c, 10, rebuy=False)]
            for c in picks
        ),
        "bought together": sum(
            [r.product_id for r in ours.bought_together(p, 5)] == [r.product_id for r in theirs.bought_together(p, 5)]
            for p in products
        ),
        "like this": sum(
            [r.product_id for r in ours.similar(p, 10)] == [r.product_id for r in theirs.similar(p, 10)]
            for p in products
        ),
    }
    doc = {
        "spark_total_s": round(total, 1),
        "jvm_peak_mb": round(peak),
        "convert_s": round(convert_s, 1),
        "threads": args.threads,
        "driver_memory": args.memory,
        "load_avg": round(os.getloadavg()[0], 1),
        "jobs": rows,
        "identical_answers_of_500": same,
    }
    lines = [
        f"Spark local[{args.threads}], driver heap {args.memory}: {total:.0f} s in all, JVM peak RSS "
        f"{peak:.0f} MB; Parquet -> CSR on one machine {convert_s:.1f} s; load avg {doc['load_avg']}",
        "",
        "| job | Spark s | non-zeros Spark / one machine | entries in only one | max abs diff |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['job']} | {r['spark_s']:.0f} | {r['spark_nnz']} / {r['local_nnz']} | "
            f"{r['entries_only_in_one']} | {r['max_abs_diff']:.2g} |"
        )
    lines += [
        "",
        "answers from the Spark-built folder identical to the single-machine folder: "
        + ", ".join(f"{k} {v}/500" for k, v in same.items()),
    ]
    print("\n" + "\n".join(lines))
    (work / "recommender_spark.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
