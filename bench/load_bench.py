"""Load bench: N concurrent conversations through the load balancer, against 1 and 2 replicas of each process.

For each replica count it starts the cluster (scripts/cluster.py: HAProxy, PostgreSQL, Redis; the folder is kept
between counts, so the shop is seeded once) and runs the turn bench's conversations (bench/turn_bench.py: greeting,
verification and tracking, shipping, returns, a recommendation, stock, thanks; every answer checked) at each
concurrency level, with as many conversations as the level (at least ``--min-conversations``). A customer behaves
like the web widget (bench/resend.py, shared with the fault bench): a message refused ``busy`` by the gateway's
admission control (or getting anything else but an answer) is sent again with the same ``client_message_id`` after
the gateway's retry hint, for at most ``GIVE_UP_AFTER_S`` seconds, after which it counts as lost. Prints p50/p95/p99
and the slowest answer (from the first send to the answer, waits and resends included), turns per second, errors
(lost, a wrong answer, or anything but an answer or ``busy`` on the way), the busy answers and resends apart, the
check that every message is in rasa's tracker store and the gateways' transcript exactly once, and the CPU
milliseconds each kind of process spent per answered turn (from /proc, replicas and PostgreSQL/Redis/HAProxy).

    .venv/bin/python bench/load_bench.py                                   # 1 and 2 replicas, 1, 8, 32, 200
    .venv/bin/python bench/load_bench.py --replicas 2 --concurrency 8,200 --min-conversations 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.long_conversation import cpu_seconds  # noqa: E402
from bench.resend import Delivery, check_once, deliver, stored_events, transcript_counts  # noqa: E402
from bench.turn_bench import Step, conversation_script, git_commit, log, markdown_table, percentile  # noqa: E402
from scripts.cluster import KINDS, Cluster, ClusterConfig  # noqa: E402
from scripts.stack import StackError  # noqa: E402

#: A message unanswered this long after its first send is lost (the customer gave up).
GIVE_UP_AFTER_S = 120.0
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


async def talk(
    url: str, scripts: Sequence[tuple[str, list[Step]]], concurrency: int, label: str
) -> tuple[list[Delivery], float]:
    """Run ``scripts``, ``concurrency`` conversations at a time, each message delivered as the widget does.

    A conversation stops at a message that was lost or answered wrongly (its next steps depend on it).

    Returns:
        Every message sent, and the wall time in seconds.
    """
    queue: asyncio.Queue[tuple[str, list[Step]]] = asyncio.Queue()
    for item in scripts:
        queue.put_nowait(item)
    sent: list[Delivery] = []
    done, last = 0, time.monotonic()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, last
        while not queue.empty():
            conversation, steps = queue.get_nowait()
            for step in steps:
                expect = (step.expect,) if isinstance(step.expect, str) else tuple(step.expect)
                message = Delivery(conversation, step.text, expect)
                sent.append(message)
                await deliver(session, url, message, GIVE_UP_AFTER_S)
                if not message.ok:
                    break
            done += 1
            if time.monotonic() - last > 10 or done == len(scripts):
                last = time.monotonic()
                busy = sum(m.busy for m in sent)
                failed = sum(bool(m.failures) for m in sent)
                log(
                    f"{label}: {done}/{len(scripts)} conversations, {len(sent)} messages, {busy} busy answers"
                    + (f", {failed} FAILED" if failed else "")
                )

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=GIVE_UP_AFTER_S), connector=connector) as s:
        started = time.perf_counter()
        await asyncio.gather(*(worker(s) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return sent, wall


async def run(cluster: Cluster, concurrency: int, conversations: int) -> dict[str, Any]:
    """One level: ``conversations`` conversations, ``concurrency`` at a time, through the balancer."""
    cases, titles = demo_cases(cluster), products(cluster)
    prefix = f"load-{uuid.uuid4().hex[:6]}-"
    scripts = [(f"{prefix}{i:03d}", conversation_script(i, cases, titles)) for i in range(conversations)]
    groups = process_groups(cluster)
    before = cpu_by_kind(groups)
    sent, wall = await talk(cluster.gateway_url, scripts, concurrency, f"c={concurrency}")
    after = cpu_by_kind(groups)
    ok = [m for m in sent if m.ok]
    ms = [1000 * m.seconds for m in ok]
    failed = [m for m in sent if m.failures]
    conversation_ids = {c for c, _ in scripts}
    once = check_once(
        sent,
        stored_events(cluster.urls["tracker"], conversation_ids, prefix),
        transcript_counts(cluster.urls["gateway"], prefix),
    )
    return {
        "concurrency": concurrency,
        "conversations": conversations,
        "messages": len(sent),
        "answered": len(ok),
        "errors": len(failed),
        "lost": sum(not m.answered for m in sent),
        "wrong": sum(m.answered and not m.ok for m in sent),
        "unsent": sum(len(s) for _, s in scripts) - len(sent),
        "busy_answers": sum(m.busy for m in sent),
        "resends": sum(m.resends for m in sent),
        "messages_resent": sum(1 for m in sent if m.resends),
        "p50_ms": percentile(ms, 0.5) if ms else 0.0,
        "p95_ms": percentile(ms, 0.95) if ms else 0.0,
        "p99_ms": percentile(ms, 0.99) if ms else 0.0,
        "max_ms": max(ms, default=0.0),
        "turns_per_s": len(ok) / wall if wall else 0.0,
        "cpu_ms_per_turn": {k: 1000 * (after[k] - before[k]) / max(1, len(ok)) for k in groups},
        "once": once,
        "first_errors": [f"{m.conversation} {m.text!r}: {'; '.join(m.failures)[:200]}" for m in failed][:5],
        # what the unanswered attempts got, by kind: "503 busy", "503 rasa_unavailable", "no answer (...)"
        "seen": dict(Counter(x.split(":")[0] for m in sent for x in m.seen).most_common()),
    }


def once_problems(r: dict[str, Any]) -> int:
    """Messages not in the tracker store or the transcript exactly once (or answers not stored), of one level."""
    once = r["once"]
    return int(once["duplicates"] + once["missing"] + once["lost_events"] + once["transcript_not_once"])


def report(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown table and the load note."""
    kinds = ["gateway", "rasa", "actions", "postgres"]
    header = ["replicas", "conversations at once", "turns answered", "errors (lost / wrong / other)"]
    header += ["busy answers", "resends (messages resent)", "not exactly once", "p50 ms", "p95 ms", "p99 ms"]
    header += ["max ms", "turns/s", "CPU ms/turn " + " / ".join(kinds)]
    rows = []
    for r in results:
        other = r["errors"] - r["lost"] - r["wrong"]
        row: list[Any] = [r["replicas"], r["concurrency"], r["answered"]]
        row += [f"{r['errors']} ({r['lost']} / {r['wrong']} / {other})", r["busy_answers"]]
        row += [f"{r['resends']} ({r['messages_resent']})", once_problems(r)]
        row += [r["p50_ms"], r["p95_ms"], r["p99_ms"], r["max_ms"], r["turns_per_s"]]
        row.append(" / ".join(f"{r['cpu_ms_per_turn'].get(k, 0.0):.1f}" for k in kinds))
        rows.append(row)
    lines = [markdown_table(header, rows)]
    lines.append(
        f"\n{meta['started']}, commit {meta['commit']}; 1-minute load average {meta['load_before']:.2f} before, "
        f"{meta['load_after']:.2f} after, on {meta['cpus']} cores; every process, PostgreSQL, Redis and HAProxy on "
        f"this machine. A message refused or unanswered is resent as the widget does (same client_message_id, after "
        f"the retry hint) for {GIVE_UP_AFTER_S:.0f} s, then lost; latency is from the first send to the answer. "
        "Errors: lost, a wrong answer, or anything on the way but an answer or busy; a conversation stops at a lost "
        "or wrong answer."
    )
    for r in results:
        where = f"{r['replicas']} replica(s), c={r['concurrency']}"
        if r["seen"]:
            lines.append(
                f"  - {where}: unanswered attempts by kind: " + ", ".join(f"{k} x{n}" for k, n in r["seen"].items())
            )
        if r["unsent"]:
            lines.append(f"  - {where}: {r['unsent']} turns unsent (after a lost or wrong answer)")
        lines += [f"  - {where}: {line}" for line in r["first_errors"]]
        lines += [f"  - {where}: {line}" for line in r["once"]["problems"]]
    return "\n".join(lines)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so `kill` stops the cluster as Ctrl-C does


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 when a message was lost, answered wrongly or not exactly
    once (or saw an error on the way), 2 when the cluster did not start."""
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
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": git_commit(),
        "load_before": os.getloadavg()[0],
        "cpus": os.cpu_count() or 1,
    }
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
                        f"{result['busy_answers']} busy answers, {result['resends']} resends, "
                        f"{once_problems(result)} not exactly once, "
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
    if any(r["errors"] or r["unsent"] or once_problems(r) for r in results):
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
