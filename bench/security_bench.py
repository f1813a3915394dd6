"""Security bench (`make bench-security`): attack a fresh stack on free loopback ports and count what got through.

Seeds a fresh demo shop in a temporary folder, starts rasa, the action server and the gateway on free
loopback ports (``scripts/demo_stack.py``; the gateway trusts 127.0.0.1 as its reverse proxy, so the bench
can stand for a crowd of client addresses with ``X-Forwarded-For``), then, as an outsider on this machine:

* **guessing**: ``--attempts`` messages like ``track order ORD-100123, postcode EH1 3UJ`` to the public web
  API, each from a new conversation and a new client address, for random orders that are not printed demo
  cases, with the postcodes and e-mails ``make demo-cases`` prints (what the README shows everyone). An
  order counts as opened when the bot says the proof matched. Reference in the same run: how many of those
  orders the same dictionary would open if every guess were checked (no throttling);
* **forged action-server calls**: the finding's blind ``text/plain`` call with staff metadata, and the same
  as JSON without, with a wrong and with a header-borne token; accepted = a 2xx answer or anything the
  order store recorded (grants, staff lookups);
* **forged rasa-API calls**: tracker reads and writes, ``/execute``, ``/predict``, model load and unload,
  parsing, the ``rest`` channel, without the token or with a wrong one; accepted = any answer below 400.

Then (unless ``--no-fuzz``) the input-handling half, ``bench/security_fuzz.py`` on a second fresh stack:
hostile and random bodies to every public endpoint, WebSocket frames, stalled bodies, and the console's
redaction recall. Prints both tables and writes var/bench/security_bench.json. Exit status 1 when a row
misses its target. Only loopback addresses are contacted; everything stops at the end or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench import security_fuzz  # noqa: E402
from scripts.demo_stack import MODEL, DemoSetupError, local_stack_config, seed_demo_shop  # noqa: E402
from scripts.stack import Stack, StackConfig, StackError  # noqa: E402

OUT = ROOT / "var" / "bench"
TIMEOUT = aiohttp.ClientTimeout(total=60)
OPENED = "that matches order"


@dataclass
class Row:
    """One line of the table: an attack, how often it was tried and how often it worked."""

    check: str
    tried: int
    got_through: int
    unit: str  # what got through: "orders opened", "calls accepted"
    target: int = 0
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.got_through <= self.target


@dataclass
class Target:
    """The running stack under attack and what an outsider knows (the printed demo cases)."""

    config: StackConfig
    cases: dict[str, dict[str, Any]]
    shop_path: Path
    attempts: int
    concurrency: int
    seed: int

    def store_rows(self, sql: str) -> int:
        with sqlite3.connect(self.shop_path) as conn:
            return int(conn.execute(sql).fetchone()[0])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------------- guessing


def dictionary(cases: dict[str, dict[str, Any]]) -> list[str]:
    """What the README and `make demo-cases` print: every case's postcode and e-mail."""
    values = [c["postcode"] for c in cases.values()] + [c["email"] for c in cases.values()]
    return sorted(set(values))


def reference_openable(target: Target, guesses: list[str], numbers: list[str]) -> int:
    """How many of ``numbers`` the dictionary would open if every guess were checked (no throttle at all)."""
    with sqlite3.connect(target.shop_path) as conn:
        rows = conn.execute(
            "SELECT o.number, o.ship_postcode, c.email FROM orders o JOIN customers c ON c.id = o.customer_id"
        ).fetchall()
    compact = {g.replace(" ", "").upper() for g in guesses}
    wanted = set(numbers)
    return sum(
        1
        for number, postcode, email in rows
        if number in wanted and (postcode.replace(" ", "").upper() in compact or email.upper() in compact)
    )


async def guessing_rows(target: Target) -> list[Row]:
    """Fresh conversation ids and rotating client addresses guessing printed postcodes/e-mails on other orders."""
    rng = random.Random(target.seed)
    printed = {c["order_number"] for c in target.cases.values()}
    numbers = [f"ORD-{n}" for n in range(100001, 100301) if f"ORD-{n}" not in printed]
    guesses = dictionary(target.cases)
    plan = [(rng.choice(numbers), rng.choice(guesses)) for _ in range(target.attempts)]
    url = f"{target.config.gateway_url}/api/web/messages"
    opened: set[str] = set()
    answers = {"matched": 0, "failed": 0, "paused": 0, "other": 0}
    others: list[str] = []  # a few answers that were neither, for the note
    done = 0
    started = time.monotonic()
    queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
    for i, (number, guess) in enumerate(plan):
        queue.put_nowait((i, number, guess))

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while not queue.empty():
            i, number, guess = queue.get_nowait()
            kind = "email" if "@" in guess else "postcode"
            body = {"conversation_id": uuid.uuid4().hex, "text": f"track order {number}, {kind} {guess}"}
            # a new address for every guess: 198.18.0.0/15 is reserved for benchmarks
            headers = {"X-Forwarded-For": f"198.18.{i // 250}.{i % 250 + 1}"}
            async with session.post(url, json=body, headers=headers) as resp:
                reply = await resp.json()
            text = " ".join(m.get("text") or "" for m in reply.get("messages", []))
            if OPENED in text:
                opened.add(number)
                answers["matched"] += 1
            elif "couldn't match" in text:
                answers["failed"] += 1
            elif "can't check that order right now" in text:
                answers["paused"] += 1
            else:
                answers["other"] += 1
                if len(others) < 2:
                    others.append(text[:90])
            done += 1
            if done % 100 == 0:
                log(f"    {done}/{len(plan)} guesses, {len(opened)} orders opened ({time.monotonic() - started:.0f} s)")

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await asyncio.gather(*(worker(session) for _ in range(target.concurrency)))
        hammered = await hammer_one_order(session, target, url)
    targeted = sorted({number for number, _ in plan})
    reference = reference_openable(target, guesses, targeted)
    note = (
        f"{len(guesses)} printed postcodes/e-mails on {len(targeted)} orders; answers: {answers['failed']} no match, "
        f"{answers['paused']} paused, {answers['other']} other; unthrottled the dictionary opens {reference} of them"
    ) + (f" (other answers, e.g.: {' / '.join(repr(o) for o in others)})" if others else "")
    return [
        Row("guesses, fresh ids and rotating sources (web)", len(plan), len(opened), "orders opened", 0, note),
        hammered,
    ]


async def hammer_one_order(session: aiohttp.ClientSession, target: Target, url: str) -> Row:
    """One order guessed from 100 addresses in fresh conversations, the right postcode last: how many guesses
    were checked beyond the free ones (the rest must be refused unchecked), and whether the last one opened it."""
    case = target.cases["returnable"]  # its owner's proof is known: the guess that would open it comes last
    guesses = [f"ZZ{i % 90 + 1} {i % 9 + 1}ZZ" for i in range(99)] + [case["postcode"]]
    checked = opened = 0
    for i, guess in enumerate(guesses):
        body = {"conversation_id": uuid.uuid4().hex, "text": f"track order {case['order_number']}, postcode {guess}"}
        async with session.post(url, json=body, headers={"X-Forwarded-For": f"198.19.1.{i + 1}"}) as resp:
            text = " ".join(m.get("text") or "" for m in (await resp.json()).get("messages", []))
        checked += "couldn't match" in text
        opened += OPENED in text
    free = 3  # SHOP_PROOF_FAILURES_PER_ORDER's default: a customer who mistypes twice still gets in
    last = "opened" if opened else "refused"
    note = f"{checked} of {len(guesses)} checked ({free} free), the right postcode last: {last}"
    return Row(
        "one order guessed from 100 addresses",
        len(guesses),
        max(0, checked - free) + opened,
        "guesses checked past the free ones or opened",
        0,
        note,
    )


# ------------------------------------------------------------------------------------ forged calls


def _forged_action_call(sender: str) -> dict[str, Any]:
    """The finding's call: validate the verification form for a conversation that claims to be staff."""
    metadata = {"channel": "slack", "staff": {"id": "UFORGED01", "role": "manager"}}
    latest = {"text": "ORD-100042", "intent": {"name": "track_order"}, "entities": [], "metadata": metadata}
    tracker = {
        "sender_id": sender,
        "slots": {"order_number": "ORD-100042", "requested_slot": "order_number"},
        "latest_message": latest,
        "events": [
            {"event": "user", "text": "ORD-100042", "parse_data": latest, "input_channel": "slack"},
            {"event": "slot", "name": "order_number", "value": "ORD-100042"},
        ],
        "active_loop": {"name": "verify_order_form"},
        "latest_input_channel": "slack",
    }
    domain = {"forms": {"verify_order_form": {"required_slots": ["order_number", "proof"]}}, "slots": {}}
    return {
        "next_action": "validate_verify_order_form",
        "sender_id": sender,
        "tracker": tracker,
        "domain": domain,
        "version": "3.6.21",
    }


async def action_server_rows(target: Target) -> list[Row]:
    """Forged calls to the action server, as a local process or a page in a local browser could send them."""
    base = target.config.actions_url
    body = json.dumps(_forged_action_call("web:forger")).encode()
    calls: list[tuple[str, str, dict[str, str], bytes]] = [
        ("POST", "/webhook", {"Content-Type": "text/plain"}, body),  # the finding: sent blind by a web page
        ("POST", "/webhook", {"Content-Type": "application/json"}, body),
        ("POST", "/webhook?token=guess", {"Content-Type": "application/json"}, body),
        ("POST", "/webhook", {"Content-Type": "application/json", "Authorization": "Bearer guess"}, body),
        ("POST", "/webhook?token=", {"Content-Type": "application/json"}, body),
        ("POST", "/webhook", {"Content-Type": "application/x-www-form-urlencoded"}, b"payload=" + body),
        ("GET", "/actions", {}, b""),
        ("OPTIONS", "/webhook", {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, b""),
    ]
    before = target.store_rows("SELECT count(*) FROM access_grants") + target.store_rows(
        "SELECT count(*) FROM staff_order_lookups"
    )
    accepted = 0
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for method, path, headers, data in calls:
            async with session.request(method, base + path, headers=headers, data=data or None) as resp:
                await resp.read()
                allowed_origin = resp.headers.get("Access-Control-Allow-Origin")
                if method == "OPTIONS":
                    accepted += allowed_origin is not None  # a browser would then send the real call
                elif resp.status < 400:
                    accepted += 1
    after = target.store_rows("SELECT count(*) FROM access_grants") + target.store_rows(
        "SELECT count(*) FROM staff_order_lookups"
    )
    note = f"store rows written by them: {after - before}"
    return [Row("forged action-server calls", len(calls), accepted + (after > before), "calls accepted", 0, note)]


async def rasa_api_rows(target: Target) -> list[Row]:
    """Rasa's HTTP API without its token (or with a wrong one), and its ``rest`` channel."""
    base = target.config.rasa_url
    conv = "web:bench-victim"
    event = [{"event": "slot", "name": "proof", "value": "verified"}]
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"/conversations/{conv}/tracker", None),
        ("POST", f"/conversations/{conv}/tracker/events", event),
        ("PUT", f"/conversations/{conv}/tracker/events", event),
        ("GET", f"/conversations/{conv}/story", None),
        ("POST", f"/conversations/{conv}/execute", {"name": "action_continue_goal"}),
        ("POST", f"/conversations/{conv}/trigger_intent", {"name": "track_order"}),
        ("POST", f"/conversations/{conv}/predict", None),
        ("POST", f"/conversations/{conv}/messages", {"text": "hi", "sender": "user"}),
        ("POST", "/model/parse", {"text": "where is my order 100042"}),
        ("GET", "/status", None),
        ("GET", "/domain", None),
        ("PUT", "/model", {"model_file": "models/elsewhere.tar.gz"}),
        ("DELETE", "/model", None),  # last: had it worked, the model would be gone
    ]
    tried = accepted = 0
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for method, path, body in calls:
            for params, headers in (({}, {}), ({"token": "guess"}, {}), ({}, {"Authorization": "Bearer guess"})):
                tried += 1
                async with session.request(method, base + path, json=body, params=params, headers=headers) as resp:
                    await resp.read()
                    accepted += resp.status < 400
        for path, body in (
            ("/webhooks/rest/webhook", {"sender": conv, "message": "hi"}),
            ("/webhooks/gateway/webhook", {"sender": conv, "message": "hi", "metadata": {"channel": "web"}}),
        ):
            tried += 1
            async with session.post(base + path, json=body) as resp:
                await resp.read()
                accepted += resp.status < 400
        # the token works (so the 401s above are the token's doing, not a broken server)
        async with session.post(
            base + "/model/parse", json={"text": "hi"}, params={"token": target.config.api_token}
        ) as resp:
            works = resp.status == 200
    note = "with the token /model/parse answers 200" if works else "WARNING: /model/parse failed even with the token"
    return [Row("forged rasa-API calls (no or wrong token), rest channel", tried, accepted, "calls accepted", 0, note)]


#: Each returns table rows for the running target. The input-handling half adds its fuzz and redaction here.
ROW_SOURCES: list[Callable[[Target], Awaitable[list[Row]]]] = [guessing_rows, action_server_rows, rasa_api_rows]


# ------------------------------------------------------------------------------------------- output


def table(rows: Sequence[Row]) -> str:
    header = ["check", "tried", "got through", "target", "ok"]
    cells = [header] + [
        [r.check, str(r.tried), f"{r.got_through} {r.unit}", f"{r.target}", "yes" if r.ok else "NO"] for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = []
    for k, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if k == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [f"- {r.check}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + [""] + notes)


async def attack(target: Target) -> list[Row]:
    rows: list[Row] = []
    for source in ROW_SOURCES:
        log(f"==> {source.__name__}")
        rows += await source(target)
    return rows


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1000, help="guesses to send (default 1000)")
    parser.add_argument("--concurrency", type=int, default=4, help="guesses in flight at once (default 4)")
    parser.add_argument("--seed", type=int, default=8, help="seed of the guess plan")
    parser.add_argument("--out", type=Path, default=OUT, help="where security_bench.json goes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary shop, databases and logs")
    parser.add_argument(
        "--no-fuzz", dest="fuzz", action="store_false", help="skip the input-handling half (bench/security_fuzz.py)"
    )
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"no trained model at {MODEL}: run `make model` first", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="security-bench-"))
    log(f"==> Seeding a demo shop and starting the stack on free ports in {work}")
    try:
        shop = seed_demo_shop(work)
    except DemoSetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # 127.0.0.1 is the "reverse proxy": the bench's X-Forwarded-For then stands for many client addresses.
    env = {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1", "GATEWAY_WEB_RATE_PER_ADDRESS": "1000"}
    config = local_stack_config(work, shop, env)
    stack = Stack(config)
    try:
        stack.start(timeout=300, progress=sys.stderr)
        target = Target(config, shop.cases, shop.path, args.attempts, args.concurrency, args.seed)
        started = time.monotonic()
        rows = asyncio.run(attack(target))
        elapsed = time.monotonic() - started
        dead = [s.name for s in stack.dead()]
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the stack", file=sys.stderr)
        return 130
    finally:
        stack.stop()
    passed = all(r.ok for r in rows) and not dead
    kept = args.keep or not passed
    fuzz_rows: list[security_fuzz.Row] = []
    if args.fuzz:
        log("==> Input handling: fuzzing every public endpoint of a second fresh stack (bench/security_fuzz.py)")
        fuzz_rows = security_fuzz.run()
        passed = passed and all(r.ok is not False for r in fuzz_rows)
    where = f"; databases and logs kept in {work}" if kept else ""
    print(f"\nSecurity bench ({elapsed:.0f} s of attacks on a fresh demo shop{where})\n")
    print(table(rows))
    if fuzz_rows:
        print("\nInput handling and redaction (bench/security_fuzz.py, seed 7)\n")
        print(security_fuzz.render(fuzz_rows))
    if dead:
        print(f"\nWARNING: {', '.join(dead)} died during the bench (logs in {config.log_dir})")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "security_bench.json").write_text(
        json.dumps(
            {
                "rows": [asdict(r) for r in rows],
                "fuzz_rows": [asdict(r) for r in fuzz_rows],
                "seconds": elapsed,
                "dead": dead,
            },
            indent=1,
        )
    )
    if not kept:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
