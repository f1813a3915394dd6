"""Load bench: N concurrent conversations through the load balancer, against 1 and 2 replicas of each process.

For each replica count it starts the cluster (scripts/cluster.py: HAProxy, PostgreSQL, Redis; the folder is kept
between counts, so the shop is seeded once) and runs the turn bench's conversations (bench/turn_bench.py: greeting,
verification and tracking, shipping, returns, a recommendation, stock, thanks; every answer checked) at each
concurrency level, with as many conversations as the level (at least ``--min-conversations``). Prints p50/p95/p99,
turns per second, errors (any answer that is not a 200 with the expected phrase) and the CPU milliseconds each
kind of process spent per answered turn (from /proc, replicas and PostgreSQL/Redis/HAProxy included).

    .venv/bin/python bench/load_bench.py                                   # 1 and 2 replicas, 1, 8, 32, 200
    .venv/bin/python bench/load_bench.py --replicas 2 --concurrency 8,200 --min-conversations 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.long_conversation import cpu_seconds  # noqa: E402
from bench.turn_bench import Turn, conversation_script, log, markdown_table, percentile, run_level  # noqa: E402
from scripts.cluster import KINDS, Cluster, ClusterConfig  # noqa: E402
from scripts.stack import StackError  # noqa: E402

RELAXED = {"GATEWAY_WEB_RATE_PER_ADDRESS": "1000000", "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000"}


def demo_cases(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The cluster shop's demo cases."""
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "store", "demo-cases"],
        env={"SHOP_DATABASE_URL": cluster.urls["shop"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return {case["case"]: case for case in json.loads(done.stdout)}


def products(cluster: Cluster, limit: int = 8) -> list[str]:
    """Titles of products in stock online."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.urls["shop"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT title FROM products WHERE online_stock > 0 ORDER BY sku LIMIT :n"), {"n": limit}
            )
            return [str(row[0]) for row in rows]
    finally:
        engine.dispose()


def process_groups(cluster: Cluster) -> dict[str, list[int]]:
    """Process ids by kind: the replicas, and PostgreSQL (its postmaster), Redis and HAProxy."""
    groups: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for replica in cluster.replicas:
        if replica.service is not None:
            groups[replica.kind].append(replica.service.process.pid)
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid_file = cluster.postgres.folder / "data" / "postmaster.pid"
        groups["postgres"] = [int(pid_file.read_text().splitlines()[0])]
    if cluster.redis.process is not None:
        groups["redis"] = [cluster.redis.process.pid]
    if cluster.haproxy is not None and cluster.haproxy.process is not None:
        groups["haproxy"] = [cluster.haproxy.process.pid]
    return groups


def cpu_by_kind(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each kind (process trees summed)."""
    return {kind: sum(cpu_seconds(pid) for pid in pids) for kind, pids in groups.items()}


#: The gateway's error code in a refused turn's JSON body (``{"error": ..., "code": "busy", ...}``).
_ERROR_CODE = re.compile(r'"code": "([a-z_]+)"')


def error_kind(turn: Turn) -> str:
    """What went wrong with a turn, short enough to count: ``503 busy``, ``500``, ``wrong answer``, ``no answer``."""
    if turn.status and turn.status != 200:
        code = _ERROR_CODE.search(turn.problem)
        return f"{turn.status} {code.group(1)}" if code else str(turn.status)
    return "wrong answer" if turn.status == 200 else "no answer"


async def run(cluster: Cluster, concurrency: int, conversations: int) -> dict[str, Any]:
    """One level: ``conversations`` conversations, ``concurrency`` at a time, through the balancer."""
    cases, titles = demo_cases(cluster), products(cluster)
    tag = uuid.uuid4().hex[:6]
    scripts = [(f"load-{tag}-{i:03d}", conversation_script(i, cases, titles)) for i in range(conversations)]
    groups = process_groups(cluster)
    before = cpu_by_kind(groups)
    turns, wall = await run_level(cluster.gateway_url, scripts, concurrency, f"c={concurrency}")
    after = cpu_by_kind(groups)
    ok = [t for t in turns if t.ok]
    ms = [t.ms for t in ok]
    return {
        "concurrency": concurrency,
        "conversations": conversations,
        "turns": len(turns),
        "answered": len(ok),
        "errors": len(turns) - len(ok),
        "unsent": sum(len(s) for _, s in scripts) - len(turns),
        "p50_ms": percentile(ms, 0.5) if ms else 0.0,
        "p95_ms": percentile(ms, 0.95) if ms else 0.0,
        "p99_ms": percentile(ms, 0.99) if ms else 0.0,
        "turns_per_s": len(ok) / wall if wall else 0.0,
        "cpu_ms_per_turn": {k: 1000 * (after[k] - before[k]) / max(1, len(ok)) for k in groups},
        "first_errors": [f"{t.conversation} step {t.step} {t.text!r}: {t.problem[:200]}" for t in turns if not t.ok][
            :5
        ],
        # every failed turn by kind: a busy refusal (the gateway's admission control) is not a broken answer
        "error_kinds": dict(Counter(error_kind(t) for t in turns if not t.ok).most_common()),
    }


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown table and the load note."""
    kinds = ["gateway", "rasa", "actions", "postgres", "redis", "haproxy"]
    header = ["replicas", "conversations at once", "turns", "errors", "p50 ms", "p95 ms", "p99 ms", "turns/s"]
    header += [f"CPU ms/turn {k}" for k in kinds]
    rows = []
    for r in results:
        row: list[Any] = [r["replicas"], r["concurrency"], r["answered"], r["errors"] + r["unsent"]]
        row += [r["p50_ms"], r["p95_ms"], r["p99_ms"], r["turns_per_s"]]
        row += [r["cpu_ms_per_turn"].get(k, 0.0) for k in kinds]
        rows.append(row)
    lines = [markdown_table(header, rows)]
    lines.append(
        f"\n1-minute load average {meta['load_before']:.2f} before, {meta['load_after']:.2f} after, on "
        f"{meta['cpus']} cores; every process, PostgreSQL, Redis and HAProxy on this machine. Errors: answers that "
        "were not a 200 with the expected phrase, and the turns of a conversation not sent after its first error."
    )
    for r in results:
        if r.get("error_kinds"):
            kinds_seen = ", ".join(f"{kind} x{n}" for kind, n in r["error_kinds"].items())
            lines.append(f"  - {r['replicas']} replica(s), c={r['concurrency']}: failed turns by kind: {kinds_seen}")
        for line in r["first_errors"]:
            lines.append(f"  - {r['replicas']} replica(s), c={r['concurrency']}: {line}")
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so `kill` stops the cluster as Ctrl-C does


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 when a turn failed, 2 when the cluster did not start."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare, e.g. 1,2")
    parser.add_argument("--concurrency", default="1,8,32,200", help="conversations at once, e.g. 1,8,32,200")
    parser.add_argument("--min-conversations", type=int, default=16, help="conversations per level at least")
    parser.add_argument("--folder", type=Path, help="cluster folder (default: a temporary one, deleted after)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench", help="where the JSON goes")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    replicas = [int(x) for x in args.replicas.split(",") if x.strip()]
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    folder = args.folder or Path(tempfile.mkdtemp(prefix="load-bench-"))
    meta: dict[str, Any] = {"load_before": os.getloadavg()[0], "cpus": os.cpu_count() or 1}
    log(f"1-minute load average {meta['load_before']:.2f} on {meta['cpus']} cores")
    results: list[dict[str, Any]] = []
    code = 0
    try:
        for count in replicas:
            config = ClusterConfig(folder, dict.fromkeys(KINDS, count), extra_env=dict(RELAXED))
            log(f"starting the cluster with {count} replica(s) of each process")
            with Cluster(config) as cluster:
                cluster.start(timeout=420, progress=sys.stdout)
                asyncio.run(run(cluster, 1, 2))  # warm-up: first calls load the recommender and open pools
                for level in levels:
                    conversations = max(level, args.min_conversations)
                    log(f"{count} replica(s): {conversations} conversations, {level} at a time")
                    result = asyncio.run(run(cluster, level, conversations))
                    result["replicas"] = count
                    results.append(result)
                    log(
                        f"{count} replica(s), c={level}: {result['answered']} turns, {result['errors']} errors, "
                        f"p50 {result['p50_ms']:.0f} / p95 {result['p95_ms']:.0f} ms, {result['turns_per_s']:.1f}/s"
                    )
                dead = [r.name for r in cluster.dead()]
                if dead:
                    log(f"{dead} died during the bench: logs in {folder / 'logs'}")
                    code = 1
    except StackError as error:
        print(f"load bench: the cluster did not start: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if args.folder is None and code == 0:
            shutil.rmtree(folder, ignore_errors=True)
    meta["load_after"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load_bench.json").write_text(json.dumps({"meta": meta, "levels": results}, indent=1))
    print("\n" + report(results, meta) + "\n", flush=True)
    if any(r["errors"] or r["unsent"] for r in results):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
