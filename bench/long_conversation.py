"""Long-conversation bench: does a turn cost the same at turn 200 as at turn 5? Rasa's stock path against ours.

Starts two stacks on a fresh demo shop (scripts/stack.py, free loopback ports, the same model):

  * before   rasa's own ``SQLTrackerStore`` and rasa's own code (``TRACKER_STORE_TYPE=SQL``,
             ``RASA_SPEEDUPS=0``, ``ACTION_TRACKER_TURNS=0``), as the project ran until now;
  * after    the defaults: ``bot.tracker_store.CachedSQLTrackerStore`` and bot/tracker_speedups.py.

Then one customer talks to each for ``--turns`` messages through the gateway's web API: verification of a demo
order, then the same 12-message round again and again (return policy, shipping quote, a stock question, payment
methods, a greeting, thanks; twice each round, so every bucket holds the same mix of NLU-only, custom-action and
DB look-up turns). The two conversations take turns message by message, so both see the same load from other jobs.
Every answer is checked for a phrase, so a fallback is never timed.

Prints the median latency per bucket of 12 turns for both, the ratio of the last bucket to the first, and the CPU
seconds rasa and the action server spent per turn in each bucket (from /proc, less noisy than wall time on a
shared box). Writes var/bench/long_conversation.json.

    .venv/bin/python bench/long_conversation.py                      # 207 turns (3 + 17 rounds of 12)
    .venv/bin/python bench/long_conversation.py --rounds 5 --only after
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.turn_bench import in_stock_products, log, markdown_table, reply_text  # noqa: E402
from scripts.demo_stack import (  # noqa: E402
    MODEL,
    DemoSetupError,
    DemoShop,
    local_stack_config,
    seed_demo_shop,
    train_recommender,
)
from scripts.stack import Stack, StackError  # noqa: E402

ROUND = 12
CONFIGS: dict[str, dict[str, str]] = {
    "before": {"TRACKER_STORE_TYPE": "SQL", "RASA_SPEEDUPS": "0", "ACTION_TRACKER_TURNS": "0"},
    "after": {},
}
RELAXED_LIMITS = {"GATEWAY_WEB_RATE_PER_ADDRESS": "1000000", "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000"}


@dataclass(frozen=True)
class Message:
    """One customer message and a phrase its answer must contain."""

    text: str
    expect: str


def script(shop: DemoShop, products: Sequence[str], rounds: int) -> list[Message]:
    """Verification of the ``in_transit`` demo order, then ``rounds`` rounds of the same 12 messages."""
    case = shop.cases["in_transit"]
    opening = [
        Message("where is my order?", "order number"),
        Message(case["order_number"].replace("ORD-", "#"), "email"),
        Message(case["email"], f"that matches order {case['order_number']}"),
    ]
    messages = list(opening)
    for i in range(rounds):
        for half in range(2):
            product = products[(2 * i + half) % len(products)]
            messages += [
                Message("what is your return policy?", "30 days"),
                Message("how much is shipping to Germany for a £40 order?", "Delivery to Germany"),
                Message(f"do you have the {product} in stock?", product),
                Message("which payment methods do you accept?", "PayPal"),
                Message("hi", "I'm the shop's assistant"),
                Message("thanks a lot", "You're welcome"),
            ]
    return messages


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants so far (Linux /proc).

    The action server's Sanic serves from a worker process under its manager, so children count.
    """
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


@dataclass
class Running:
    """One started stack and its conversation."""

    name: str
    stack: Stack
    conversation: str
    ms: list[float]
    cpu: list[dict[str, float]]
    cpu_start: dict[str, float] | None = None

    def pids(self) -> dict[str, int]:
        """Process ids of rasa and the action server."""
        return {s.name: s.process.pid for s in self.stack.services if s.name in ("rasa", "actions")}


async def send(session: aiohttp.ClientSession, run: Running, message: Message) -> None:
    """Send one message, time it, check the answer, and record the CPU rasa and actions have used so far.

    Raises:
        RuntimeError: the answer failed or did not contain the expected phrase.
    """
    url = f"{run.stack.config.gateway_url}/api/web/messages"
    started = time.perf_counter()
    async with session.post(url, json={"conversation_id": run.conversation, "text": message.text}) as resp:
        body = await resp.json(content_type=None)
        status = resp.status
    run.ms.append(1000 * (time.perf_counter() - started))
    run.cpu.append({name: cpu_seconds(pid) for name, pid in run.pids().items()})
    text = reply_text(body.get("messages") or []) if isinstance(body, dict) else ""
    if status != 200 or message.expect not in text:
        raise RuntimeError(
            f"{run.name}: turn {len(run.ms)} {message.text!r} answered {status}: {text[:300]!r} "
            f"(expected {message.expect!r})"
        )


def buckets(run: Running, opening: int) -> list[dict[str, Any]]:
    """Median latency and CPU per turn of each round (the opening is its own first bucket)."""
    edges = [0, opening, *range(opening + ROUND, len(run.ms) + 1, ROUND)]
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        before = run.cpu[lo - 1] if lo else run.cpu_start
        cpu = {
            name: (run.cpu[hi - 1][name] - (before[name] if before else 0.0)) / (hi - lo) * 1000
            for name in run.cpu[hi - 1]
        }
        out.append({"turns": f"{lo + 1}-{hi}", "p50_ms": statistics.median(run.ms[lo:hi]), "cpu_ms": cpu})
    return out


@contextlib.contextmanager
def stacks(work: Path, names: Sequence[str]) -> Iterator[tuple[DemoShop, dict[str, Stack]]]:
    """A demo shop and one started stack per configuration name; all stopped after."""
    log(f"seeding a demo shop and training its recommender in {work}")
    shop = seed_demo_shop(work / "shop")
    artifacts = str(train_recommender(work / "shop", shop))
    started: dict[str, Stack] = {}
    try:
        for name in names:
            var = work / name
            var.mkdir(parents=True)
            env = {"RECOMMENDER_ARTIFACTS": artifacts, **RELAXED_LIMITS, **CONFIGS[name]}
            stack = Stack(local_stack_config(var, shop, env))
            started[name] = stack
            log(f"starting the '{name}' stack (about a minute)")
            stack.start(timeout=300, progress=sys.stdout)
        yield shop, started
    finally:
        for stack in started.values():
            stack.stop()


async def drive(runs: Sequence[Running], messages: Sequence[Message]) -> None:
    """Send every message to every run, alternating message by message; print progress every 24 turns."""
    timeout = aiohttp.ClientTimeout(total=120)
    for run in runs:
        run.cpu_start = {name: cpu_seconds(pid) for name, pid in run.pids().items()}
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for i, message in enumerate(messages):
            for run in runs:
                await send(session, run, message)
            if (i + 1) % (2 * ROUND) == 0 or i + 1 == len(messages):
                last = ", ".join(f"{r.name} {statistics.median(r.ms[-ROUND:]):.0f} ms" for r in runs)
                log(f"turn {i + 1}/{len(messages)}: median of the last {ROUND}: {last}")


def report(results: dict[str, Any]) -> str:
    """The table of medians per bucket and the ratios."""
    names = list(results["runs"])
    first = results["runs"][names[0]]["buckets"]
    header = ["turns"] + [f"{n} p50 ms" for n in names] + [f"{n} rasa CPU ms/turn" for n in names]
    header += [f"{n} actions CPU ms/turn" for n in names]
    rows = []
    for i, bucket in enumerate(first):
        row: list[Any] = [bucket["turns"]]
        row += [results["runs"][n]["buckets"][i]["p50_ms"] for n in names]
        row += [results["runs"][n]["buckets"][i]["cpu_ms"].get("rasa", 0.0) for n in names]
        row += [results["runs"][n]["buckets"][i]["cpu_ms"].get("actions", 0.0) for n in names]
        rows.append(row)
    lines = [markdown_table(header, rows), ""]
    for name in names:
        run = results["runs"][name]
        lines.append(
            f"{name}: last round / first round (turns {run['buckets'][1]['turns']} -> {run['buckets'][-1]['turns']}): "
            f"latency x{run['ratio_p50']:.2f}, rasa CPU x{run['ratio_rasa_cpu']:.2f}"
        )
    meta = results["meta"]
    lines.append(
        f"\n1-minute load average {meta['load_before']:.2f} before, {meta['load_after']:.2f} after, on {meta['cpus']} "
        "cores (other jobs inflate latency; CPU per turn is the process's own)."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 when a turn failed, 2 on setup errors."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=17, help="rounds of 12 messages after the verification")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="run one configuration only")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench", help="where the JSON goes")
    args = parser.parse_args(argv)
    if args.rounds < 2:
        parser.error("--rounds must be at least 2 (the first and the last round are compared)")
    if not MODEL.exists():
        print(f"no trained model at {MODEL}: run `make model` first", file=sys.stderr)
        return 2
    names = [args.only] if args.only else list(CONFIGS)
    meta: dict[str, Any] = {"load_before": os.getloadavg()[0], "cpus": os.cpu_count() or 1, "rounds": args.rounds}
    log(f"1-minute load average {meta['load_before']:.2f} on {meta['cpus']} cores")
    work = Path(tempfile.mkdtemp(prefix="long-conversation-"))
    keep = True
    try:
        with stacks(work, names) as (shop, started):
            messages = script(shop, in_stock_products(shop), args.rounds)
            runs = [Running(n, started[n], f"long-{n}-{uuid.uuid4().hex[:8]}", [], []) for n in names]
            log(f"{len(messages)} turns in each of {', '.join(names)}, taking turns message by message")
            asyncio.run(drive(runs, messages))
        meta["load_after"] = os.getloadavg()[0]
        results: dict[str, Any] = {"meta": meta, "runs": {}}
        for run in runs:
            rows = buckets(run, opening=3)
            results["runs"][run.name] = {
                "buckets": rows,
                "ms": run.ms,
                "ratio_p50": rows[-1]["p50_ms"] / rows[1]["p50_ms"],
                "ratio_rasa_cpu": rows[-1]["cpu_ms"]["rasa"] / max(rows[1]["cpu_ms"]["rasa"], 1e-9),
            }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "long_conversation.json").write_text(json.dumps(results, indent=1))
        print("\n" + report(results) + "\n", flush=True)
        keep = False
        return 0
    except (StackError, DemoSetupError) as error:
        print(f"long-conversation bench failed to start: {error}", file=sys.stderr)
        return 2
    except (RuntimeError, aiohttp.ClientError, TimeoutError) as error:
        print(f"long-conversation bench failed: {error!r} (logs in {work})", file=sys.stderr)
        return 1
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
