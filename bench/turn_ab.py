"""A/B turn latency of two checkouts on the same box at the same time: both stacks run side by side and each
scripted turn (bench/turn_bench.py's conversations) is sent to one, then the other, alternating which goes
first, so load from other jobs falls on both alike. For comparing a change against a reference checkout when
the box is shared (`make bench-turn` measures one checkout at 1, 4 and 8 conversations).

    .venv/bin/python bench/turn_ab.py --reference /path/to/main-checkout --conversations 24

Also prints the CPU each stack's processes (rasa, action server, gateway; children included) spent per turn
measured, from /proc (the warm-up conversations are not counted): both stacks answer the same turns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.turn_bench import KINDS, conversation_script, in_stock_products, percentile  # noqa: E402
from scripts.demo_stack import local_stack_config, seed_demo_shop, train_recommender  # noqa: E402
from scripts.stack import Stack  # noqa: E402

SETTINGS = {"GATEWAY_WEB_RATE_PER_ADDRESS": "1000000", "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000"}
#: Run inside the reference checkout (its own scripts/, code and model): start a stack, print its gateway URL
#: and demo cases, keep it up until stdin closes.
SERVE = """
import json, sys, tempfile
from pathlib import Path
from scripts.demo_stack import local_stack_config, seed_demo_shop, train_recommender
from scripts.stack import Stack
work = Path(tempfile.mkdtemp(prefix="turn-ab-reference-"))
shop = seed_demo_shop(work)
settings = dict(json.loads(sys.argv[1]), RECOMMENDER_ARTIFACTS=str(train_recommender(work, shop)))
stack = Stack(local_stack_config(work, shop, settings))
try:
    stack.start(timeout=300)
    print(json.dumps({"url": stack.config.gateway_url, "cases": shop.cases}), flush=True)
    sys.stdin.read()
finally:
    stack.stop()
"""


def start_here() -> tuple[Stack, Any]:
    """This checkout's stack on a fresh shop."""
    work = Path(tempfile.mkdtemp(prefix="turn-ab-this-"))
    shop = seed_demo_shop(work)
    settings = dict(SETTINGS, RECOMMENDER_ARTIFACTS=str(train_recommender(work, shop)))
    return Stack(local_stack_config(work, shop, settings)), shop


def start_reference(tree: Path) -> tuple[subprocess.Popen[str], str]:
    """The reference checkout's stack, run by its own code; returns the process and the gateway URL."""
    proc = subprocess.Popen(
        [str(tree / ".venv" / "bin" / "python"), "-c", SERVE, json.dumps(SETTINGS)],
        cwd=tree,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the reference stack in {tree} did not start")
    return proc, json.loads(line)["url"]


async def turn(session: aiohttp.ClientSession, url: str, conversation: str, text: str) -> float:
    started = time.perf_counter()
    async with session.post(f"{url}/api/web/messages", json={"conversation_id": conversation, "text": text}) as resp:
        await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"{url} answered {resp.status}")
    return (time.perf_counter() - started) * 1000


SERVICES = ("rasa", "actions", "gateway")


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for t in Path(f"/proc/{pid}/task").iterdir() for p in (t / "children").read_text().split()]
    return []


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants so far."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pending.extend(_children(current))
    return total


def service_pids(owner: int) -> dict[str, int]:
    """The stack services started by process ``owner``, by name (from their command lines)."""
    found: dict[str, int] = {}
    for pid in _children(owner):
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            if "actions.server" in argv:
                found["actions"] = pid
            elif "gateway" in argv:
                found["gateway"] = pid
            elif "scripts.rasa_server" in argv:
                found["rasa"] = pid
    return found


def cpu_now(pids: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    return {name: {service: _cpu_seconds(pid) for service, pid in services.items()} for name, services in pids.items()}


async def run(
    urls: dict[str, str],
    cases: dict[str, Any],
    products: list[str],
    n: int,
    pids: dict[str, dict[str, int]] | None = None,
) -> dict[str, dict[str, list]]:
    samples: dict[str, dict[str, list[float]]] = {name: {k: [] for k in KINDS} for name in urls}
    by_step: dict[str, dict[str, list[float]]] = {name: {} for name in urls}
    names = list(urls)
    slowest: dict[str, list[tuple[float, str]]] = {name: [] for name in urls}
    cpu_before: dict[str, dict[str, float]] = {}
    turns = 0
    async with aiohttp.ClientSession() as session:
        for i in range(-2, n):  # two warm-up conversations
            if i == 0 and pids:
                cpu_before = cpu_now(pids)
            script = conversation_script(abs(i), cases, products)
            conv = {name: f"ab-{name}-{uuid.uuid4().hex[:8]}" for name in names}
            for k, step in enumerate(script):
                order = names if (i + k) % 2 == 0 else names[::-1]
                for name in order:
                    ms = await turn(session, urls[name], conv[name], step.text)
                    if i >= 0:
                        turns += name == names[0]
                        samples[name][step.kind].append(ms)
                        by_step[name].setdefault(f"{k} {step.text[:28]}", []).append(ms)
                        slowest[name].append((ms, f"conversation {i} step {k} ({step.kind}) {step.text[:28]}"))
            if i >= 0 and (i + 1) % 6 == 0:
                print(f"  {i + 1}/{n} conversations", flush=True)
    if pids and cpu_before:
        cpu_after = cpu_now(pids)
        for name in urls:
            samples[name]["cpu_ms_per_turn"] = {  # type: ignore[assignment]
                service: (cpu_after[name][service] - cpu_before[name][service]) * 1000 / max(turns, 1)
                for service in cpu_before[name]
            }
    for name in urls:
        samples[name]["steps"] = by_step[name]  # type: ignore[assignment]
        print(f"slowest turns of {name}:", ", ".join(f"{ms:.0f} ms {what}" for ms, what in sorted(slowest[name])[-6:]))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True, help="the other checkout (with a trained model)")
    parser.add_argument("--conversations", type=int, default=24)
    args = parser.parse_args()
    trees = {"reference": args.reference.resolve(), "this": ROOT}
    print("starting the reference stack and this checkout's (a minute or two)", flush=True)
    reference, reference_url = start_reference(trees["reference"])
    here, shop = start_here()
    try:
        here.start(timeout=300, progress=sys.stdout)
        # both shops are seeded from the same seed on the same day: the same demo cases and products
        urls = {"reference": reference_url, "this": here.config.gateway_url}
        pids = {"reference": {}, "this": service_pids(os.getpid())}
        for child in _children(reference.pid):  # the reference's stack runs under the python it started
            pids["reference"].update(service_pids(child))
        pids["reference"].update(service_pids(reference.pid))
        samples = asyncio.run(run(urls, shop.cases, in_stock_products(shop), args.conversations, pids))
    finally:
        here.stop()
        if reference.stdin:
            reference.stdin.close()
        reference.wait(timeout=60)
    cpu = {name: samples[name].pop("cpu_ms_per_turn", {}) for name in trees}  # type: ignore[call-overload]
    steps = samples["reference"].pop("steps")  # type: ignore[call-overload]
    mine = samples["this"].pop("steps")  # type: ignore[call-overload]
    print("\n| step (first words) | reference p50 ms | this p50 ms |")
    print("|---|---|---|")
    for step in sorted(set(steps) & set(mine), key=lambda s: (int(s.split()[0]), s)):
        print(f"| {step} | {statistics.median(steps[step]):.0f} | {statistics.median(mine[step]):.0f} |")
    print("\n| turn kind | reference p50 / p95 ms | this p50 / p95 ms | ratio of p50 |")
    print("|---|---|---|---|")
    for kind, label in [*KINDS.items(), ("all", "all turns")]:
        row = []
        for name in trees:
            values = [v for vs in samples[name].values() for v in vs] if kind == "all" else samples[name][kind]
            row.append((statistics.median(values), percentile(values, 95)))
        print(
            f"| {label} | {row[0][0]:.0f} / {row[0][1]:.0f} | {row[1][0]:.0f} / {row[1][1]:.0f} | "
            f"{row[1][0] / row[0][0]:.2f} |"
        )
    if cpu["reference"] and cpu["this"]:
        print("\n| process | reference CPU ms / turn | this CPU ms / turn | ratio |")
        print("|---|---|---|---|")
        for service in [*SERVICES, "all"]:
            ref, mine_ms = (
                sum(cpu[name].values()) if service == "all" else cpu[name].get(service, float("nan")) for name in trees
            )
            print(f"| {service} | {ref:.1f} | {mine_ms:.1f} | {mine_ms / ref if ref else float('nan'):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
