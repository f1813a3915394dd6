"""Turn bench: full customer turns through the gateway's web API, timed per kind at 1, 4 and 8 conversations.

Seeds a fresh demo shop in a temporary folder, trains its recommender, starts rasa, the action server and the
gateway on free loopback ports (scripts/stack.py, web rate limits lifted) and drives scripted customer
conversations through `POST /api/web/messages`: a greeting, "where is my order" -> order number -> email or
postcode (verification, order store look-up, tracking answer), a shipping-cost question, the return policy,
a recommendation, a stock question and thanks, with the demo cases' real orders. Every turn is timed from
the request to the full answer and grouped by kind:

  * NLU only       rasa answers with a response from domain.yml; the action server is not called,
  * custom action  the action server answers from rules and rates (return policy, shipping quote) or runs
                   a form step (asking for the order number, then the proof),
  * DB look-up     the answer reads this customer's order, the catalogue or stock (verification and
                   tracking, recommendations, stock).

Each turn's answer is checked (a phrase it must contain, and the actions rasa ran, read back from its
tracker), so a fallback is never timed as an answer. Conversations run one at a time (the latency a
customer sees), then 4 and 8 at once (throughput and latency under load); rasa's own `POST /model/parse`
is timed one at a time in the same run, to show how much of a turn is NLU. Prints a Markdown table,
writes var/bench/turn_bench.json and turn_bench.png. The 1-minute load average is recorded before and
after: other jobs on the box inflate every figure.

    .venv/bin/python bench/turn_bench.py                                  # 40 conversations at 1, 4, 8
    .venv/bin/python bench/turn_bench.py --conversations 4 --concurrency 1,2 --keep-logs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from scripts.demo_stack import (  # noqa: E402
    MODEL,
    DemoSetupError,
    DemoShop,
    local_stack_config,
    seed_demo_shop,
    train_recommender,
)
from scripts.stack import Stack, StackError  # noqa: E402

KINDS = {"nlu": "NLU only", "action": "custom action", "lookup": "DB look-up"}
# Actions rasa runs itself; anything else in a turn means the action server (or a form) was involved.
BUILT_IN = {"action_listen", "action_session_start"}
# Demo cases whose orders exist and can be tracked; their answers differ (in transit, shipped, not shipped,
# delivered), so the tracking look-up is not always the same row.
TRACKED_CASES = ("in_transit", "shipped", "placed", "returnable")
TURN_TIMEOUT_S = 120.0
LOAD_WARNING = 0.5  # per core: above this the box is busy enough to say so next to the figures


# ----------------------------------------------------------------------------------------- conversations


@dataclass(frozen=True)
class Step:
    """One customer message and what its answer must show.

    Attributes:
        kind: ``nlu``, ``action`` or ``lookup`` (see the module docstring).
        text: what the customer types.
        expect: phrases the bot's answer must contain (a string is one phrase).
        actions: custom actions rasa must run in this turn (none for ``nlu``), checked from its tracker.
    """

    kind: str
    text: str
    expect: str | tuple[str, ...]
    actions: tuple[str, ...] = ()


def conversation_script(index: int, cases: dict[str, dict[str, Any]], products: Sequence[str]) -> list[Step]:
    """The ``index``-th customer's conversation: two openings, four demo orders and several products in turn.

    Args:
        index: the conversation's number in its run (picks the variant, the order and the product).
        cases: the shop's demo cases by name (``python -m store demo-cases``).
        products: titles of products in stock online.

    Returns:
        The steps, in order.
    """
    # index // 2: both openings meet every order in turn
    case = cases[TRACKED_CASES[index // 2 % len(TRACKED_CASES)]]
    number = case["order_number"]
    product = products[index % len(products)]
    form = ("verify_order_form",)
    # the verification and the tracking answer (a not yet shipped order has no tracking number)
    matched = (
        f"that matches order {number}",
        "hasn't shipped yet" if case["status"] == "placed" else "tracking number",
    )
    if index % 2 == 0:
        opening = [
            Step("nlu", "hi", "I'm the shop's assistant"),
            Step("action", "where is my order?", "order number", form),
            Step("action", number.replace("ORD-", "#"), "email", form),
            Step("lookup", case["email"], matched, form),
        ]
        questions = [
            Step(
                "action",
                "how much is shipping to Germany for a £40 order?",
                "Delivery to Germany",
                ("action_shipping_info",),
            ),
            Step("action", "what is your return policy?", "30 days", ("action_return_policy",)),
            Step("lookup", "can you recommend something?", "£", ("action_recommend_products",)),
            Step("lookup", f"do you have the {product} in stock?", product, ("action_check_stock",)),
        ]
    else:
        opening = [
            Step("nlu", "hello", "I'm the shop's assistant"),
            Step("action", f"can you track order {number} please", "postcode", form),
            Step("lookup", case["postcode"].lower(), matched, form),
        ]
        questions = [
            Step("lookup", f"is the {product} in stock", product, ("action_check_stock",)),
            Step("action", "how much is delivery to France?", "Delivery to France", ("action_shipping_info",)),
            Step("lookup", "can you recommend a gift under £30?", "£", ("action_recommend_products",)),
            Step("action", "how long do I have to return something?", "30 days", ("action_return_policy",)),
        ]
    return [*opening, *questions, Step("nlu", "thanks a lot", "You're welcome")]


def in_stock_products(shop: DemoShop, limit: int = 8) -> list[str]:
    """Titles of products the shop has online, for the stock questions."""
    with contextlib.closing(sqlite3.connect(shop.path)) as db:
        rows = db.execute("SELECT title FROM products WHERE online_stock > 0 ORDER BY sku LIMIT ?", (limit,)).fetchall()
    if not rows:
        raise DemoSetupError(f"the demo shop {shop.path} has no product in stock online")
    return [str(row[0]) for row in rows]


# ----------------------------------------------------------------------------------------- figures


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``values``, as bench/console_bench.py reports it.

    Raises:
        ValueError: ``values`` is empty.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """n, p50, p95 and max of a list of milliseconds (all 0 for an empty list)."""
    if not samples_ms:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    return {
        "n": len(samples_ms),
        "p50_ms": percentile(samples_ms, 0.50),
        "p95_ms": percentile(samples_ms, 0.95),
        "max_ms": max(samples_ms),
    }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; floats get one decimal, the first two columns are left-aligned, the rest right."""

    def cell(value: Any) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def result_rows(levels: Sequence[dict[str, Any]], parse: dict[str, Any] | None) -> list[list[Any]]:
    """The final table's rows: each concurrency level by kind and in all, then rasa's own parse."""
    rows: list[list[Any]] = []
    for level in levels:
        for kind, label in KINDS.items():
            s = level["kinds"][kind]
            if s["n"]:
                rows.append([level["concurrency"], label, s["n"], s["p50_ms"], s["p95_ms"], s["max_ms"], ""])
        s = level["all"]
        rows.append(
            [level["concurrency"], "**all turns**", s["n"], s["p50_ms"], s["p95_ms"], s["max_ms"], level["turns_per_s"]]
        )
    if parse is not None:
        s = parse["stats"]
        rows.append([1, "rasa `POST /model/parse`", s["n"], s["p50_ms"], s["p95_ms"], s["max_ms"], parse["per_s"]])
    return rows


# ----------------------------------------------------------------------------------------- driving


@dataclass
class Turn:
    """One timed turn and whether its answer was the right one."""

    concurrency: int
    conversation: str
    step: int
    kind: str
    text: str
    ms: float
    status: int
    ok: bool
    problem: str = ""
    actions: list[str] = field(default_factory=list)


class Progress:
    """Prints a line at most every few seconds while a level runs."""

    def __init__(self, label: str, total: int, every_s: float = 5.0) -> None:
        """Start counting ``total`` conversations of ``label``."""
        self.label, self.total, self.every_s = label, total, every_s
        self.started = self.last = time.perf_counter()
        self.done = 0

    def conversation_done(self, turns: Sequence[Turn]) -> None:
        """Count one finished conversation; print where the level is if it is time (or the last one)."""
        self.done += 1
        now = time.perf_counter()
        if now - self.last < self.every_s and self.done < self.total:
            return
        self.last = now
        ms = [t.ms for t in turns]
        failed = sum(not t.ok for t in turns)
        log(
            f"{self.label}: {self.done}/{self.total} conversations, {len(ms)} turns, "
            f"p50 {percentile(ms, 0.5):.0f} ms, {len(ms) / (now - self.started):.1f} turns/s"
            + (f", {failed} FAILED" if failed else "")
        )


def log(message: str) -> None:
    """A progress line with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def reply_text(messages: Sequence[dict[str, Any]]) -> str:
    """All text of a reply (product cards' titles and prices are in their messages' text too)."""
    return "\n".join(str(m.get("text") or "") for m in messages)


async def run_conversation(
    session: aiohttp.ClientSession, base_url: str, conversation: str, steps: Sequence[Step], concurrency: int
) -> list[Turn]:
    """Send one customer's messages in order, timing each; stops at the first wrong or failed answer.

    Returns:
        The turns sent (a failed one last, with its problem).
    """
    turns: list[Turn] = []
    for i, step in enumerate(steps):
        started = time.perf_counter()
        status, problem, messages = 0, "", []
        try:
            async with session.post(
                f"{base_url}/api/web/messages", json={"conversation_id": conversation, "text": step.text}
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as error:
            problem = f"request failed: {error!r}"
        ms = 1000 * (time.perf_counter() - started)
        if not problem:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if status != 200 or not isinstance(body, dict):
                problem = f"HTTP {status}: {raw[:300]!r}"
            else:
                messages = body.get("messages") or []
                text = reply_text(messages)
                expected = (step.expect,) if isinstance(step.expect, str) else step.expect
                missing = [phrase for phrase in expected if phrase not in text]
                if missing:
                    problem = f"expected {missing} in the answer, got {text[:400]!r}"
        turn = Turn(concurrency, conversation, i, step.kind, step.text, ms, status, not problem, problem)
        turns.append(turn)
        if problem:
            break
    return turns


async def run_level(
    base_url: str, scripts: Sequence[tuple[str, list[Step]]], concurrency: int, label: str
) -> tuple[list[Turn], float]:
    """Run ``scripts`` with ``concurrency`` conversations in flight at any time.

    Returns:
        Every turn, and the level's wall time in seconds (first request to last answer).
    """
    queue: asyncio.Queue[tuple[str, list[Step]]] = asyncio.Queue()
    for item in scripts:
        queue.put_nowait(item)
    turns: list[Turn] = []
    progress = Progress(label, len(scripts))
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            conversation, steps = queue.get_nowait()
            turns.extend(await run_conversation(session, base_url, conversation, steps, concurrency))
            progress.conversation_done(turns)

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return turns, wall


async def time_parse(rasa_url: str, texts: Sequence[str], token: str) -> dict[str, Any]:
    """Time rasa's ``POST /model/parse`` for each of ``texts``, one at a time (``token``: its API token).

    Raises:
        RuntimeError: rasa answered something other than 200.
    """
    samples: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as session:
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            async with session.post(f"{rasa_url}/model/parse", json={"text": text}, params={"token": token}) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"rasa's POST /model/parse answered {resp.status} for {text!r}")
            samples.append(1000 * (time.perf_counter() - t0))
        wall = time.perf_counter() - started
    return {"stats": summarize(samples), "per_s": len(samples) / wall, "samples_ms": samples}


async def actions_per_turn(rasa_url: str, conversation: str, token: str) -> list[list[str]]:
    """The actions rasa ran after each customer message of a web conversation, read from its tracker."""
    url = f"{rasa_url}/conversations/web:{conversation}/tracker"
    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, params={"token": token}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"rasa's tracker of {conversation} answered {resp.status}")
        tracker = await resp.json()
    turns: list[list[str]] = []
    for event in tracker.get("events") or []:
        if event.get("event") == "user":
            turns.append([])
        elif event.get("event") == "action" and turns and event.get("name") not in BUILT_IN:
            turns[-1].append(str(event.get("name")))
    return turns


def action_problem(step: Step, ran: Sequence[str]) -> str:
    """Why the actions rasa ran do not fit the step's kind ('' when they do)."""
    custom = [name for name in ran if not name.startswith("utter_")]
    if step.kind == "nlu" and custom:
        return f"an NLU-only turn ran custom actions {custom}"
    missing = [name for name in step.actions if name not in ran]
    if missing:
        return f"expected actions {missing} in this turn, rasa ran {list(ran)}"
    return ""


async def check_actions(rasa_url: str, turns: list[Turn], scripts: dict[str, list[Step]], token: str) -> None:
    """Record each turn's actions from rasa's tracker and mark turns whose kind they contradict."""
    by_conversation: dict[str, list[Turn]] = {}
    for turn in turns:
        by_conversation.setdefault(turn.conversation, []).append(turn)
    for conversation, sent in by_conversation.items():
        ran = await actions_per_turn(rasa_url, conversation, token)
        for turn in sent:
            turn.actions = ran[turn.step] if turn.step < len(ran) else []
            problem = action_problem(scripts[conversation][turn.step], turn.actions) if turn.ok else ""
            if problem:
                turn.ok, turn.problem = False, problem


def level_summary(concurrency: int, turns: Sequence[Turn], wall: float) -> dict[str, Any]:
    """Figures of one concurrency level (answered turns only; failed ones are counted apart)."""
    good = [t for t in turns if t.ok]
    return {
        "concurrency": concurrency,
        "wall_s": wall,
        "turns_per_s": len(good) / wall if wall else 0.0,
        "failed": len(turns) - len(good),
        "kinds": {kind: summarize([t.ms for t in good if t.kind == kind]) for kind in KINDS},
        "all": summarize([t.ms for t in good]),
    }


# ----------------------------------------------------------------------------------------- plot, stack


def plot(levels: Sequence[dict[str, Any]], parse: dict[str, Any] | None, path: Path, load: str) -> None:
    """p50/p95 per kind and throughput against concurrency, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [level["concurrency"] for level in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for kind, label in [*KINDS.items(), ("all", "all turns")]:
        stats = [level["all"] if kind == "all" else level["kinds"][kind] for level in levels]
        line = left.plot(xs, [s["p50_ms"] for s in stats], marker="o", label=f"{label} p50")[0]
        left.plot(
            xs, [s["p95_ms"] for s in stats], marker="x", linestyle="--", color=line.get_color(), label=f"{label} p95"
        )
    if parse is not None:
        left.axhline(parse["stats"]["p50_ms"], color="grey", linestyle=":", label="POST /model/parse p50 (c=1)")
    left.set_xlabel("concurrent conversations")
    left.set_ylabel("turn latency, ms (request to full answer)")
    left.set_xticks(xs)
    left.legend(fontsize=7)
    right.bar([str(x) for x in xs], [level["turns_per_s"] for level in levels], color="tab:blue")
    right.set_xlabel("concurrent conversations")
    right.set_ylabel("answered turns per second")
    fig.suptitle(f"Full turns through the gateway (web API); {load}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@contextlib.contextmanager
def running_stack(work: Path) -> Iterator[tuple[Stack, DemoShop]]:
    """Seed a shop in ``work``, start the three processes with the web rate limits lifted; stop them after."""
    log(f"seeding a demo shop and training its recommender in {work}")
    shop = seed_demo_shop(work)
    settings = {
        "RECOMMENDER_ARTIFACTS": str(train_recommender(work, shop)),
        # every bench conversation comes from 127.0.0.1 and sends many messages a minute
        "GATEWAY_WEB_RATE_PER_ADDRESS": "1000000",
        "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000",
    }
    stack = Stack(local_stack_config(work, shop, settings))
    log("starting rasa, the action server and the gateway (about a minute)")
    try:  # stop() also ends what a failed or interrupted start() had spawned
        stack.start(timeout=300, progress=sys.stdout)
        yield stack, shop
    finally:
        stack.stop()


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def newer_than_model() -> str:
    """A training input changed after the model was trained ('' when none did), as `make model` judges it."""
    built = MODEL.stat().st_mtime
    inputs = [
        ROOT / "config.yml",
        ROOT / "domain.yml",
        *(ROOT / "nlu_data").rglob("*.yml"),
        *(ROOT / "bot").glob("*.py"),
    ]
    newer = [path for path in inputs if path.stat().st_mtime > built]
    return str(newer[0].relative_to(ROOT)) if newer else ""


def git_commit() -> str:
    """The checked-out commit (for the JSON), or '' outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


# ----------------------------------------------------------------------------------------- main


async def bench(stack: Stack, shop: DemoShop, conversations: int, levels: Sequence[int]) -> dict[str, Any]:
    """Warm up, run every concurrency level, time parse after the first one; return the figures."""
    config = stack.config
    products = in_stock_products(shop)
    warm = [(f"bench-warm-{uuid.uuid4().hex[:8]}-{i}", conversation_script(i, shop.cases, products)) for i in (0, 1)]
    log("warm-up: 2 conversations, not counted (first calls load the recommender and open databases)")
    turns, _ = await run_level(config.gateway_url, warm, 1, "warm-up")
    await check_actions(config.rasa_url, turns, dict(warm), config.api_token)
    broken = [t for t in turns if not t.ok]
    if broken:
        raise RuntimeError(f"the warm-up conversation went wrong at {broken[0].text!r}: {broken[0].problem}")
    results: dict[str, Any] = {"levels": [], "turns": []}
    for concurrency in levels:
        run = uuid.uuid4().hex[:6]
        scripts = [
            (f"bench-c{concurrency}-{run}-{i:03d}", conversation_script(i, shop.cases, products))
            for i in range(conversations)
        ]
        label = f"concurrency {concurrency}"
        log(f"{label}: {conversations} conversations, {sum(len(s) for _, s in scripts)} turns")
        turns, wall = await run_level(config.gateway_url, scripts, concurrency, label)
        await check_actions(config.rasa_url, turns, dict(scripts), config.api_token)
        summary = level_summary(concurrency, turns, wall)
        results["levels"].append(summary)
        results["turns"] += [asdict(t) for t in turns]
        log(
            f"{label}: {summary['all']['n']} turns answered in {wall:.1f} s, {summary['turns_per_s']:.1f} turns/s, "
            f"p50 {summary['all']['p50_ms']:.0f} ms, p95 {summary['all']['p95_ms']:.0f} ms"
            + (f", {summary['failed']} FAILED" if summary["failed"] else "")
        )
        if concurrency == 1 and "parse" not in results:
            texts = [step.text for _, steps in scripts for step in steps]
            log(f"rasa POST /model/parse: {len(texts)} of the same messages, one at a time")
            results["parse"] = await time_parse(config.rasa_url, texts, config.api_token)
    if "parse" not in results:  # no level ran one at a time: time parse on its own
        texts = [s.text for i in range(conversations) for s in conversation_script(i, shop.cases, products)]
        log(f"rasa POST /model/parse: {len(texts)} messages, one at a time")
        results["parse"] = await time_parse(config.rasa_url, texts, config.api_token)
    return results


def report(results: dict[str, Any]) -> str:
    """The Markdown table and the lines that say how to read it."""
    meta = results["meta"]
    parse = results.get("parse")
    header = ["concurrency", "kind", "n", "p50 ms", "p95 ms", "max ms", "turns/s"]
    lines = [markdown_table(header, result_rows(results["levels"], parse))]
    one = next((level for level in results["levels"] if level["concurrency"] == 1), None)
    if one and parse and one["all"]["n"] and one["kinds"]["nlu"]["n"]:
        nlu_ms, turn_ms, bare_ms = parse["stats"]["p50_ms"], one["all"]["p50_ms"], one["kinds"]["nlu"]["p50_ms"]
        lines.append(
            f"\nNLU (`POST /model/parse` p50 {nlu_ms:.1f} ms) is {nlu_ms / turn_ms:.0%} of the median turn "
            f"({turn_ms:.1f} ms) and {nlu_ms / bare_ms:.0%} of the median NLU-only turn ({bare_ms:.1f} ms) at "
            "concurrency 1; the rest of an NLU-only turn is the gateway, rasa's dialogue policies and its "
            "tracker store."
        )
    lines.append(
        f"\n{meta['conversations']} conversations per level ({', '.join(KINDS.values())}: see bench/turn_bench.py); "
        f"1-minute load average {meta['load_before']:.2f} before, {meta['load_after']:.2f} after, "
        f"on {meta['cpus']} cores."
    )
    if max(meta["load_before"], meta["load_after"]) > LOAD_WARNING * meta["cpus"]:
        lines.append(
            "The box was busy (load average above "
            f"{LOAD_WARNING * meta['cpus']:.1f}): other jobs shared the cores, so these figures are inflated."
        )
    failed = [t for t in results["turns"] if not t["ok"]]
    if failed:
        lines.append(f"\n{len(failed)} turns FAILED (not in the figures); the first ones:")
        lines += [
            f"  - c={t['concurrency']} {t['conversation']} step {t['step']} {t['text']!r}: {t['problem']}"
            for t in failed[:5]
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; see the module docstring. Returns 1 if a turn failed or a process died, 2 on setup errors."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=40, help="conversations per concurrency level")
    parser.add_argument("--concurrency", default="1,4,8", help="comma-separated levels, e.g. 1,4,8")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench", help="where the JSON and PNG go")
    parser.add_argument("--keep-logs", action="store_true", help="copy the three processes' logs to OUT")
    args = parser.parse_args(argv)
    try:
        levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--concurrency takes numbers separated by commas, e.g. 1,4,8; got {args.concurrency!r}")
    if not levels or min(levels) < 1 or args.conversations < 1:
        parser.error("--conversations and every --concurrency level must be at least 1")
    if not MODEL.exists():
        print(f"no trained model at {MODEL}: run `make model` first", file=sys.stderr)
        return 2
    stale = newer_than_model()
    if stale:
        log(f"warning: {stale} is newer than {MODEL.name}: run `make model` to measure the current bot")
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)  # so `kill` stops the stack as Ctrl-C does
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "model": str(MODEL),
        "conversations": args.conversations,
        "concurrency": levels,
        "cpus": os.cpu_count() or 1,
        "load_before": os.getloadavg()[0],
        "model_older_than": stale,
    }
    log(f"1-minute load average {meta['load_before']:.2f} on {meta['cpus']} cores (other jobs inflate the figures)")
    work = Path(tempfile.mkdtemp(prefix="turn-bench-"))
    keep_logs, code = args.keep_logs, 0
    try:
        with running_stack(work) as (stack, shop):
            results = asyncio.run(bench(stack, shop, args.conversations, levels))
            dead = [s.name for s in stack.dead()]
        meta["load_after"] = os.getloadavg()[0]
        meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results = {"meta": meta, **results}
        (out / "turn_bench.json").write_text(json.dumps(results, indent=1))
        text = report(results)
        print("\n" + text + "\n", flush=True)
        load = f"load average {meta['load_before']:.1f} -> {meta['load_after']:.1f} on {meta['cpus']} cores"
        plot(results["levels"], results.get("parse"), out / "turn_bench.png", load)
        log(f"figures in {out / 'turn_bench.json'}, plot in {out / 'turn_bench.png'}")
        if dead:
            print(f"{', '.join(dead)} died during the bench: see the logs", file=sys.stderr)
        if dead or any(not t["ok"] for t in results["turns"]):
            keep_logs, code = True, 1
    except (StackError, DemoSetupError, RuntimeError, aiohttp.ClientError) as error:
        print(f"turn bench failed: {error}", file=sys.stderr)
        keep_logs, code = True, 2
    except KeyboardInterrupt:
        print("interrupted: the three processes are stopped", file=sys.stderr)
        code = 130
    finally:
        if keep_logs and (work / "log").is_dir():
            kept = out / "turn_bench-logs"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(work / "log", kept)
            print(f"logs of rasa, the action server and the gateway in {kept}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
