"""Fault bench: kill -9 one replica of each process, restart PostgreSQL and Redis, while customers are talking.

Starts the cluster with two replicas of each process (scripts/cluster.py) and ``--customers`` customers who talk
through the load balancer without pause, each conversation the turn bench's script (bench/turn_bench.py), a new
conversation when one ends. A customer behaves like the web widget: a message that gets anything but an answer is
sent again a second later with the same ``client_message_id``, and what the customer saw meanwhile is recorded.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.load_bench import demo_cases, products  # noqa: E402
from bench.turn_bench import Step, conversation_script, log, markdown_table, reply_text  # noqa: E402
from scripts.cluster import KINDS, Cluster, ClusterConfig  # noqa: E402
from scripts.stack import StackError  # noqa: E402

RESEND_AFTER_S = 1.0
GIVE_UP_AFTER_S = 90.0


@dataclass
class Sent:
    """One customer message and everything the customer saw until it was answered."""

    conversation: str
    text: str
    expect: tuple[str, ...]
    started: float
    finished: float = 0.0
    attempts: int = 0
    seen: list[str] = field(default_factory=list)  # "503 rasa_unavailable", "connection reset", ...
    answer: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = False


@dataclass
class Fault:
    """One injected fault: what, when (seconds since the customers started) and how long until it was healed."""

    what: str
    at: float
    healed_after: float = 0.0


async def send(session: aiohttp.ClientSession, url: str, sent: Sent, deadline: float) -> None:
    """Send one message until it is answered (resending with the same client id, as the widget does)."""
    body = {"conversation_id": sent.conversation, "text": sent.text, "client_message_id": uuid.uuid4().hex}
    while time.monotonic() < deadline:
        sent.attempts += 1
        try:
            async with session.post(f"{url}/api/web/messages", json=body) as resp:
                status, raw = resp.status, await resp.read()
            payload = json.loads(raw) if raw else {}
            if status == 200 and isinstance(payload, dict):
                sent.answer = payload.get("messages") or []
                text = reply_text(sent.answer)
                sent.ok = all(phrase in text for phrase in sent.expect)
                if not sent.ok:
                    sent.seen.append(f"wrong answer: {text[:120]!r}")
                sent.finished = time.monotonic()
                return
            code = payload.get("code") if isinstance(payload, dict) else None
            shown = payload.get("error") if isinstance(payload, dict) else None
            sent.seen.append(f"{status} {code or ''}: {shown or raw[:80]!r}".strip())
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            sent.seen.append(f"no answer ({type(error).__name__})")
        await asyncio.sleep(RESEND_AFTER_S)
    sent.finished = time.monotonic()


async def customer(
    index: int, url: str, cases: dict[str, Any], titles: list[str], stop: asyncio.Event, log_: list[Sent]
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
                sent = Sent(conversation, step.text, expect, time.monotonic())
                log_.append(sent)
                await send(session, url, sent, time.monotonic() + GIVE_UP_AFTER_S)
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


def stored(cluster: Cluster, conversations: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Each conversation's user and bot events in the tracker store, in order: ``(kind, text)``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.urls["tracker"])
    out: dict[str, list[tuple[str, str]]] = {c: [] for c in conversations}
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name, data FROM events WHERE sender_id LIKE 'web:fault-%' ORDER BY id")
            )
            for sender, kind, data in rows:
                conversation = sender.removeprefix("web:")
                if conversation in out and kind in ("user", "bot"):
                    out[conversation].append((kind, str(json.loads(data).get("text") or "")))
    finally:
        engine.dispose()
    return out


def transcript_counts(cluster: Cluster) -> Counter[tuple[str, str]]:
    """How often each (conversation, message text) was recorded as a customer message, answered, by the gateways."""
    from sqlalchemy import create_engine, text

    engine = create_engine(cluster.urls["gateway"])
    counts: Counter[tuple[str, str]] = Counter()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT conversation_id, body FROM web_messages WHERE role = 'user' AND status = 'answered' "
                    "AND conversation_id LIKE 'fault-%'"
                )
            )
            for conversation, body in rows:
                value = body if isinstance(body, dict) else json.loads(body)
                counts[(conversation, str(value.get("text") or ""))] += 1
    finally:
        engine.dispose()
    return counts


def check(sent: list[Sent], events: dict[str, list[tuple[str, str]]], transcript: Counter[tuple[str, str]]) -> dict:
    """Compare what customers sent and saw with what was stored."""
    by_conversation: dict[str, list[Sent]] = {}
    for s in sent:
        by_conversation.setdefault(s.conversation, []).append(s)
    duplicates = missing = lost = 0
    problems: list[str] = []
    for conversation, messages in by_conversation.items():
        answered = [s for s in messages if s.answer]
        users = [t for kind, t in events[conversation] if kind == "user"]
        if users != [s.text for s in answered]:
            extra = len(users) - len(answered)
            duplicates += max(0, extra)
            missing += max(0, -extra)
            problems.append(f"{conversation}: stored {users} but answered {[s.text for s in answered]}")
        bots = {t for kind, t in events[conversation] if kind == "bot"}
        for s in answered:
            for message in s.answer:
                if message.get("text") and message["text"] not in bots:
                    lost += 1
                    problems.append(f"{conversation}: answer {message['text'][:60]!r} not in the tracker")
            if transcript[(conversation, s.text)] != 1:
                problems.append(f"{conversation}: {s.text!r} recorded {transcript[(conversation, s.text)]} times")
    return {"duplicates": duplicates, "missing": missing, "lost_events": lost, "problems": problems[:10]}


def report(sent: list[Sent], faults: list[Fault], verdict: dict[str, Any], started: float, meta: dict) -> str:
    """The fault timeline, what customers saw around each fault, and the checks."""
    lines = [markdown_table(["at s", "fault", "healed after s"], [[f.at, f.what, f.healed_after] for f in faults])]
    rows = []
    for fault in faults:
        window = [s for s in sent if fault.at - 1 <= s.started - started <= fault.at + fault.healed_after + 5]
        seen = Counter(x.split(":")[0] for s in window for x in s.seen)
        slowest = max((s.finished - s.started for s in window if s.finished), default=0.0)
        rows.append(
            [
                fault.what,
                len(window),
                sum(1 for s in window if s.ok),
                sum(1 for s in window if s.attempts > 1),
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
        f"{sum(s.ok for s in sent)}, wrong {sum(bool(s.answer) and not s.ok for s in sent)}, never answered "
        f"{sum(not s.answer for s in sent)}. Tracker store: {verdict['duplicates']} duplicate turns, "
        f"{verdict['missing']} missing, {verdict['lost_events']} answers not stored. Load average "
        f"{meta['load_before']:.1f} -> {meta['load_after']:.1f} on {meta['cpus']} cores."
    )
    lines += [f"  - {p}" for p in verdict["problems"]]
    return "\n".join(lines)


async def drive(cluster: Cluster, customers: int, gap: float) -> tuple[list[Sent], list[Fault], float]:
    cases, titles = demo_cases(cluster), products(cluster)
    stop = asyncio.Event()
    sent: list[Sent] = []
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
            verdict = check(sent, stored(cluster, conversations), transcript_counts(cluster))
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
