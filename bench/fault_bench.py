"""Fault bench: kill -9 one replica of each process, restart PostgreSQL and Redis, while customers are talking.

Starts the cluster with two replicas of each process (scripts/cluster.py) and ``--customers`` customers who talk
through the load balancer without pause, each conversation the turn bench's script (bench/turn_bench.py), a new
conversation when one ends. A customer behaves like the web widget: a message that gets anything but an answer is
sent again with the same ``client_message_id`` after the gateway's retry hint (at least a second; bench/resend.py,
shared with the load bench), and what the customer saw meanwhile is recorded.

The faults, ``--gap`` seconds apart: kill -9 gateway-1, rasa-1, actions-1 (each restarted 5 s later, as a
supervisor would), then PostgreSQL (stopped as by a crash, started 3 s later) and Redis (kill -9, started 3 s
later). Afterwards every conversation is checked against the tracker store (rasa's ``events`` table in
PostgreSQL): each message the customer sent is there exactly once and in order (no duplicate turn, none missing),
each answer the customer got is among the bot's events after it (no event lost), and the gateways' transcript has
each message once, answered. Prints the timeline of faults and what each conversation saw.

    .venv/bin/python bench/fault_bench.py                       # 12 customers, 20 s between faults
    .venv/bin/python bench/fault_bench.py --customers 6 --gap 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.load_bench import demo_cases, products  # noqa: E402
from bench.resend import Delivery, check_once, deliver, stored_events, transcript_counts  # noqa: E402
from bench.turn_bench import Step, conversation_script, log, markdown_table  # noqa: E402
from scripts.cluster import KINDS, Cluster, ClusterConfig  # noqa: E402
from scripts.stack import StackError  # noqa: E402

GIVE_UP_AFTER_S = 90.0


@dataclass
class Fault:
    """One injected fault: what, when (seconds since the customers started) and how long until it was healed."""

    what: str
    at: float
    healed_after: float = 0.0


async def customer(
    index: int, url: str, cases: dict[str, Any], titles: list[str], stop: asyncio.Event, log_: list[Delivery]
) -> None:
    """Talk without pause until ``stop``: one conversation after another (finishing the current message)."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        round_ = 0
        while not stop.is_set():
            conversation = f"fault-{index:02d}-{round_}-{uuid.uuid4().hex[:6]}"
            steps: list[Step] = conversation_script(index + round_, cases, titles)
            for step in steps:
                if stop.is_set():
                    break
                expect = (step.expect,) if isinstance(step.expect, str) else tuple(step.expect)
                sent = Delivery(conversation, step.text, expect)
                log_.append(sent)
                await deliver(session, url, sent, GIVE_UP_AFTER_S)
                if not sent.ok:
                    break  # a wrong or missing answer ends this conversation (counted below)
            round_ += 1


async def inject(cluster: Cluster, gap: float, started: float, faults: list[Fault]) -> None:
    """The fault timeline (see the module docstring)."""

    async def heal(fault: Fault, action: Any) -> None:
        await asyncio.to_thread(action)
        fault.healed_after = time.monotonic() - started - fault.at
        log(f"  healed after {fault.healed_after:.1f} s")

    for kind in ("gateway", "rasa", "actions"):
        await asyncio.sleep(gap)
        replica = cluster.of(kind)[0]
        fault = Fault(f"kill -9 {replica.name}", time.monotonic() - started)
        faults.append(fault)
        log(f"{fault.at:6.1f} s: {fault.what}")
        cluster.kill(replica)
        await asyncio.sleep(5)

        def restart(replica: Any = replica) -> None:
            cluster.spawn(replica)
            cluster.wait([replica], 300)

        await heal(fault, restart)
    await asyncio.sleep(gap)
    fault = Fault("PostgreSQL stopped as by a crash, started 3 s later", time.monotonic() - started)
    faults.append(fault)
    log(f"{fault.at:6.1f} s: {fault.what}")
    await asyncio.to_thread(cluster.postgres.stop, "immediate")
    await asyncio.sleep(3)
    await heal(fault, cluster.postgres.start)
    await asyncio.sleep(gap)
    fault = Fault("Redis kill -9, started 3 s later", time.monotonic() - started)
    faults.append(fault)
    log(f"{fault.at:6.1f} s: {fault.what}")
    cluster.redis.kill()
    await asyncio.sleep(3)
    await heal(fault, cluster.redis.start)
    await asyncio.sleep(gap)


def report(
    sent: list[Delivery], faults: list[Fault], verdict: dict[str, Any], started: float, meta: dict[str, Any]
) -> str:
    """The fault timeline, what customers saw around each fault, and the checks."""
    lines = [markdown_table(["at s", "fault", "healed after s"], [[f.at, f.what, f.healed_after] for f in faults])]
    rows = []
    for fault in faults:
        window = [s for s in sent if fault.at - 1 <= s.started - started <= fault.at + fault.healed_after + 5]
        seen = Counter(x.split(":")[0] for s in window for x in s.seen)
        slowest = max((s.seconds for s in window), default=0.0)
        rows.append(
            [
                fault.what,
                len(window),
                sum(1 for s in window if s.ok),
                sum(1 for s in window if s.resends),
                ", ".join(f"{k} x{v}" for k, v in seen.most_common()) or "nothing but answers",
                slowest * 1000,
            ]
        )
    lines += [
        "",
        markdown_table(
            [
                "fault",
                "messages sent around it",
                "answered right",
                "resent by the customer",
                "what customers saw first",
                "slowest answer ms",
            ],
            rows,
        ),
    ]
    total = len(sent)
    lines.append(
        f"\n{total} messages in {len({s.conversation for s in sent})} conversations; answered right "
        f"{sum(s.ok for s in sent)}, wrong {sum(s.answered and not s.ok for s in sent)}, never answered "
        f"{sum(not s.answered for s in sent)}. Tracker store: {verdict['duplicates']} duplicate turns, "
        f"{verdict['missing']} missing, {verdict['lost_events']} answers not stored. Load average "
        f"{meta['load_before']:.1f} -> {meta['load_after']:.1f} on {meta['cpus']} cores."
    )
    lines += [f"  - {p}" for p in verdict["problems"]]
    return "\n".join(lines)


async def drive(cluster: Cluster, customers: int, gap: float) -> tuple[list[Delivery], list[Fault], float]:
    cases, titles = demo_cases(cluster), products(cluster)
    stop = asyncio.Event()
    sent: list[Delivery] = []
    faults: list[Fault] = []
    started = time.monotonic()
    tasks = [asyncio.create_task(customer(i, cluster.gateway_url, cases, titles, stop, sent)) for i in range(customers)]
    try:
        await inject(cluster, gap, started, faults)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return sent, faults, started


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so `kill` stops the cluster as Ctrl-C does


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 when a check failed, 2 when the cluster did not start."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=12, help="customers talking at once")
    parser.add_argument("--gap", type=float, default=20.0, help="seconds between faults")
    parser.add_argument("--folder", type=Path, help="cluster folder (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench", help="where the JSON goes")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="fault-bench-"))
    meta: dict[str, Any] = {"load_before": os.getloadavg()[0], "cpus": os.cpu_count() or 1}
    relaxed = {"GATEWAY_WEB_RATE_PER_ADDRESS": "1000000", "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000"}
    config = ClusterConfig(folder, dict.fromkeys(KINDS, 2), extra_env=relaxed)
    try:
        with Cluster(config) as cluster:
            cluster.start(timeout=420, progress=sys.stdout)
            log(f"{args.customers} customers talking; a fault every {args.gap:.0f} s")
            sent, faults, started = asyncio.run(drive(cluster, args.customers, args.gap))
            conversations = {s.conversation for s in sent}
            events = stored_events(cluster.urls["tracker"], conversations, "fault-")
            verdict = check_once(sent, events, transcript_counts(cluster.urls["gateway"], "fault-"))
    except StackError as error:
        print(f"fault bench: the cluster did not start: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the cluster is stopped", file=sys.stderr)
        return 130
    meta["load_after"] = os.getloadavg()[0]
    text = report(sent, faults, verdict, started, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fault_bench.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "faults": [f.__dict__ for f in faults],
                "verdict": verdict,
                "sent": [{**s.__dict__, "answer": len(s.answer)} for s in sent],
            },
            indent=1,
        )
    )
    print("\n" + text + "\n", flush=True)
    failed = verdict["duplicates"] or verdict["missing"] or verdict["lost_events"] or verdict["problems"]
    failed = failed or any(not s.ok for s in sent)
    if not failed and args.folder is None:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
