"""Security bench, input half: fuzz every public endpoint of a running stack, and measure redaction.

Starts a fresh demo shop and the real rasa, action server and gateway on free ports (scripts/demo_stack.py),
with the Telegram channel (webhook mode) and the Slack channel (Events API) pointed at local fakes, a
registered tablet, a console lead and a carrier secret. Then, from a fixed seed, it sends hostile and
random bodies to each endpoint (web messages and history, tablet, console sign-in/queries/writes, carrier
events, Telegram and Slack webhooks, correctly signed so the parsers are reached), random frames over
WebSockets, and bodies that stall; and it scores console/redact.py on generated personal data
(console/redact_eval.py). Rows: requests sent, answers >= 500, requests that got no answer, sockets lost,
stalled bodies answered 408 in time, redaction recall/precision. Targets: 0 5xx, 0 sockets lost, recall
>= 0.99.

Used by ``make bench-security`` (with bench/security_bench.py); ``python bench/security_fuzz.py --requests N``
prints the table. :func:`run` returns the rows for the lead's joined table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from connectors.notify.translate import SIGNATURE_HEADER, sign  # noqa: E402
from console import redact_eval  # noqa: E402
from console.redact import Redactor  # noqa: E402
from scripts.demo_stack import MODEL, PYTHON, local_stack_config, seed_demo_shop  # noqa: E402
from scripts.stack import Stack  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN as SLACK_BOT_TOKEN  # noqa: E402
from tests.fakes.slack_api import SIGNING_SECRET, serve_in_thread, signed_headers  # noqa: E402
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramApi  # noqa: E402

CARRIER_SECRET = "bench-carrier-secret-0123456789"  # noqa: S105 (a local test stack)
TELEGRAM_SECRET = "bench-telegram-secret-0123456789"  # noqa: S105
LEAD = ("bench-lead@shop.example", "bench-lead-password-1")
BODY_TIMEOUT = 2.0


@dataclass
class Row:
    """One line of the table."""

    measure: str
    value: str
    target: str
    ok: bool | None = None

    def as_list(self) -> list[str]:
        """The row as table cells."""
        verdict = "" if self.ok is None else ("yes" if self.ok else "NO")
        return [self.measure, self.value, self.target, verdict]


@dataclass
class Tally:
    """Fuzz outcomes per endpoint."""

    sent: dict[str, int] = field(default_factory=dict)
    server_errors: dict[str, list[str]] = field(default_factory=dict)
    unanswered: dict[str, list[str]] = field(default_factory=dict)
    sockets: int = 0
    sockets_lost: list[str] = field(default_factory=list)
    frames: int = 0
    stalls: int = 0
    stalls_answered: int = 0

    def count(self, endpoint: str, status: int | None, sample: bytes) -> None:
        self.sent[endpoint] = self.sent.get(endpoint, 0) + 1
        shown = repr(sample[:80])
        if status is None:
            self.unanswered.setdefault(endpoint, []).append(shown)
        elif status >= 500:
            self.server_errors.setdefault(endpoint, []).append(f"{status} {shown}")


# ----------------------------------------------------------------------------------------- generation


def hostile_bodies(rng: random.Random, count: int) -> Iterator[bytes]:
    """Fixed hostile bodies first, then random JSON, message-shaped objects and bytes (deterministic)."""
    fields = ["conversation_id", "text", "payload", "client_message_id", "title", "type", "session_id", "email",
              "password", "tag", "event_id", "intent", "entities", "order_number", "event", "update_id"]  # fmt: skip
    fixed = [
        b"[" * 5000 + b"]" * 5000,
        b'{"conversation_id": "benchfuzz01", "text": ' + b"[" * 900 + b"]" * 900 + b"}",
        b'{"text": ' + b"9" * 4400 + b"}",
        b'{"conversation_id": "benchfuzz01", "text": NaN}',
        b'{"text": 1e99999}',
        b"null",
        b"[]",
        b'"just a string"',
        bytes(range(256)) * 8,
        b"\xff\xfe{\x00}",
        b'{"conversation_id": "benchfuzz01", "text": "' + b"a" * 200_000 + b'"}',
        b"{" * 20 + b"}" * 19,
        b"",
    ]
    yield from fixed[:count]

    def value(depth: int = 0) -> Any:
        kind = rng.randrange(9 if depth < 4 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return rng.choice([True, False])
        if kind == 2:
            return rng.randint(-(10**30), 10**30)
        if kind == 3:
            return rng.random() * 10 ** rng.randint(-5, 300)
        if kind in (4, 5):
            alphabet = "abcxyz019 /{}[]\"'\\\u00e9\u4e2d\U0001f600\u202e\x00\n"
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        if kind in (6, 7):
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {rng.choice(fields): value(depth + 1) for _ in range(rng.randint(0, 5))}

    for _ in range(max(0, count - len(fixed))):
        pick = rng.randrange(4)
        if pick == 0:
            yield bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
        elif pick == 1:
            yield json.dumps(value()).encode()
        else:
            yield json.dumps({rng.choice(fields): value(1) for _ in range(rng.randint(1, 6))}).encode()


# ------------------------------------------------------------------------------------------ the stack


@dataclass
class Target:
    """The running stack and what the fuzzer needs to reach every endpoint."""

    base: str
    tablet_token: str
    console_cookie: str
    console_csrf: str


@contextmanager
def running_stack(var: Path) -> Iterator[Target]:
    """A fresh demo shop and the three processes, with Telegram and Slack on local fakes; stopped after."""
    if not MODEL.exists():
        raise SystemExit(f"no trained model at {MODEL}: run `make model` first")
    print("==> seeding a demo shop and starting rasa, the action server and the gateway on free ports", flush=True)
    shop = seed_demo_shop(var)
    telegram = FakeTelegramApi()
    telegram.start_in_thread()
    with serve_in_thread() as slack:
        env = {
            "GATEWAY_WEB_RATE_PER_ADDRESS": "1000000",
            "GATEWAY_WEB_RATE_PER_CONVERSATION": "100000",
            "GATEWAY_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "CARRIER_WEBHOOK_SECRET": CARRIER_SECRET,
            "NOTIFY_ENABLED": "false",
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_URL": "https://bot.shop.example/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "SLACK_BOT_TOKEN": SLACK_BOT_TOKEN,
            "SLACK_MODE": "events",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_BASE_URL": slack.url,
            "SLACK_STAFF": "U0STAFF01:staff",
        }
        config = local_stack_config(var, shop, env, model=MODEL)
        gateway_env = {
            "GATEWAY_DATABASE_URL": config.gateway_db_url,
            "SHOP_DATABASE_URL": shop.db_url,
            "PATH": "/usr/bin:/bin",
        }
        stack = Stack(config)
        try:
            stack.start(timeout=240, progress=sys.stdout)
            registered = subprocess.run(
                [str(PYTHON), "-m", "connectors.tablet", "register", "--store", "LDN-01", "--name", "bench"],
                cwd=ROOT, env=gateway_env, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            token = registered.strip().splitlines()[-1].strip()  # the CLI prints the token last, alone
            subprocess.run(
                [str(PYTHON), "-m", "console", "users", "add", "--email", LEAD[0], "--role", "lead",
                 "--password-stdin"],
                cwd=ROOT, env={**gateway_env, "TRACKER_DB_URL": config.tracker_db_url}, input=LEAD[1] + "\n",
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            cookie, csrf = asyncio.run(_sign_in(config.gateway_url))
            yield Target(config.gateway_url, token, cookie, csrf)
        finally:
            dead = [s.name for s in stack.dead()]
            stack.stop()
            telegram.stop_thread()
            if dead:
                print(f"!! {', '.join(dead)} died during the bench; logs in {config.log_dir}", flush=True)


async def _sign_in(base: str) -> tuple[str, str]:
    credentials = {"email": LEAD[0], "password": LEAD[1]}
    async with aiohttp.ClientSession() as session, session.post(f"{base}/api/console/login", json=credentials) as resp:
        body = await resp.json()
        if resp.status != 200:
            raise SystemExit(f"the bench could not sign in to the console: {resp.status} {body}")
        return resp.cookies["console_session"].value, body["csrf_token"]


# ---------------------------------------------------------------------------------------------- fuzz


def _endpoints(target: Target) -> list[tuple[str, str, str, Callable[[bytes], dict[str, str]]]]:
    json_type = {"Content-Type": "application/json"}
    console = {"Cookie": f"console_session={target.console_cookie}", "X-CSRF-Token": target.console_csrf}
    return [
        ("web messages", "POST", "/api/web/messages", lambda b: json_type),
        ("tablet messages", "POST", "/api/tablet/messages",
         lambda b: {**json_type, "Authorization": f"Bearer {target.tablet_token}"}),
        ("tablet updates", "POST", "/api/tablet/updates", lambda b: {"Authorization": f"Bearer {target.tablet_token}"}),
        ("console sign-in", "POST", "/api/console/login", lambda b: json_type),
        ("console tags", "POST", "/api/console/conversations/web%3Abenchfuzz01/tags",
         lambda b: {**json_type, **console}),
        ("console corrections", "POST", "/api/console/conversations/web%3Abenchfuzz01/corrections",
         lambda b: {**json_type, **console}),
        ("carrier events", "POST", "/api/carrier/events",
         lambda b: {**json_type, SIGNATURE_HEADER: sign(CARRIER_SECRET, b)}),
        ("Telegram webhook", "POST", "/telegram/webhook",
         lambda b: {**json_type, "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}),
        ("Slack events", "POST", "/slack/events", lambda b: signed_headers(b)),
    ]  # fmt: skip


QUERY_VALUES = ["²", "9" * 4400, "-1", "0", "", "abc", "ORD-100001", "١٢", "%00", "' OR 1=1 --", "\u202e", "1e9"]
CONSOLE_GETS = ["/api/console/conversations", "/api/console/counts", "/api/console/handoffs", "/api/console/metrics"]
PARAMS = ["limit", "cursor", "below", "channel", "from", "to", "intent", "fallback", "verified", "q", "order", "status"]


async def fuzz_http(target: Target, requests: int, rng: random.Random, tally: Tally) -> None:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def send(name: str, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> None:
            try:
                async with session.request(method, url, data=body, headers=headers) as resp:
                    await resp.read()
                    tally.count(name, resp.status, body or url.encode())
            except (TimeoutError, aiohttp.ClientError):
                tally.count(name, None, body or url.encode())

        for name, method, path, headers in _endpoints(target):
            print(f"    fuzzing {name} ({requests} requests)", flush=True)
            for body in hostile_bodies(rng, requests):
                await send(name, method, target.base + path, body, headers(body))
        print(f"    fuzzing console and web queries ({requests} requests)", flush=True)
        console = {"Cookie": f"console_session={target.console_cookie}"}
        for _ in range(requests):
            path = rng.choice(CONSOLE_GETS)
            params = {rng.choice(PARAMS): rng.choice(QUERY_VALUES) for _ in range(rng.randint(1, 3))}
            query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
            await send("console queries", "GET", f"{target.base}{path}?{query}", None, console)
            conversation = rng.choice(QUERY_VALUES + ["benchfuzz01", "a" * 65])
            await send("web history", "GET", f"{target.base}/api/web/history?conversation_id={quote(conversation)}",
                       None, {})  # fmt: skip


async def fuzz_sockets(target: Target, sockets: int, frames: int, rng: random.Random, tally: Tally) -> None:
    print(f"    fuzzing {sockets} WebSockets ({frames} frames each)", flush=True)
    bodies = list(hostile_bodies(rng, sockets * frames))
    async with aiohttp.ClientSession() as session:
        for n in range(sockets):
            tally.sockets += 1
            url = f"{target.base.replace('http', 'ws', 1)}/api/web/ws?conversation_id=benchsocket{n:04d}"
            try:
                async with session.ws_connect(url, max_msg_size=0) as ws:
                    for body in bodies[n * frames : (n + 1) * frames]:
                        tally.frames += 1
                        if len(body) > 1024 * 1024:
                            continue  # past the hard limit the protocol's answer is closing (1009), by design
                        if body[:1] in b'{["n' or not body:
                            await ws.send_str(body.decode("utf-8", "replace"))
                        else:
                            await ws.send_bytes(body)
                        while True:
                            answer = await ws.receive(timeout=30)
                            if answer.type != aiohttp.WSMsgType.TEXT:
                                raise ConnectionError(f"{answer.type.name} after {body[:60]!r}")
                            if json.loads(answer.data)["type"] != "typing":
                                break
                    await ws.send_json({"text": "hello"})
                    while (reply := await ws.receive_json(timeout=60))["type"] == "typing":
                        pass
                    if reply["type"] != "bot":
                        raise ConnectionError(f"no answer to a real message: {reply}")
            except (TimeoutError, aiohttp.ClientError, ConnectionError, TypeError, ValueError) as exc:
                tally.sockets_lost.append(f"socket {n}: {exc}"[:200])


async def stalled_bodies(target: Target, count: int, tally: Tally) -> None:
    print(f"    {count} stalled bodies (Content-Length 100, 10 bytes sent)", flush=True)
    host, port = target.base.removeprefix("http://").split(":")
    paths = ["/api/web/messages", "/api/console/login", "/api/carrier/events", "/slack/events", "/api/tablet/messages"]
    for n in range(count):
        tally.stalls += 1
        reader, writer = await asyncio.open_connection(host, int(port))
        path = paths[n % len(paths)]
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
            f"Authorization: Bearer {target.tablet_token}\r\n\r\n".encode()
            + b'{"text": "'
        )
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(200), BODY_TIMEOUT + 5)
            tally.stalls_answered += answer.startswith(b"HTTP/1.1 408")
        except TimeoutError:
            pass
        writer.close()


# ------------------------------------------------------------------------------------------ redaction


def redaction_rows(shop_db: Path) -> list[Row]:
    names = [row[0] for row in sqlite3.connect(shop_db).execute("SELECT name FROM customers")]
    titles = [row[0] for row in sqlite3.connect(shop_db).execute("SELECT title FROM products")]
    redactor = Redactor(names, [w for t in titles for w in t.split()])
    ordinary, nlu_pii = redact_eval.ordinary_messages()
    generated = redact_eval.score(redactor.redact, redact_eval.generate_pii(names) + nlu_pii, ordinary)
    held_ordinary, held_pii = redact_eval.ordinary_messages(files=redact_eval.HELD_OUT, generated=False)
    held = redact_eval.score(redactor.redact, held_pii, held_ordinary)
    kinds = ", ".join(f"{k} {d}/{t}" for k, (d, t) in sorted(generated.by_kind.items()))
    messages = ordinary + [item.message for item in nlu_pii]
    started = time.perf_counter()
    for message in messages:
        redactor.redact(message)
    per_message = (time.perf_counter() - started) / len(messages) * 1e6
    hostile = ["x" * 100_000, "a@" * 20_000, "1 " * 20_000, "Aa " * 20_000, "." * 100_000]
    started = time.perf_counter()
    for text in hostile:
        redactor.redact(text)
    hostile_seconds = time.perf_counter() - started
    return [
        Row("redaction recall, generated PII + NLU data's",
            f"{generated.recall:.4f} ({generated.redacted}/{generated.items})",
            ">= 0.99", generated.recall >= 0.99),
        Row("  by kind", kinds, ""),
        Row("redaction precision (false redactions in ordinary messages)",
            f"{generated.precision:.4f} ({generated.false_positives} in {generated.ordinary_messages})", "", None),
        Row("order numbers kept", f"{generated.order_numbers_kept}/{generated.order_numbers}", "all",
            generated.order_numbers_kept == generated.order_numbers),
        Row("redaction time per ordinary message", f"{per_message:.0f} µs", ""),
        Row("redaction of five hostile 40-100 kB texts (bounded patterns)", f"{hostile_seconds:.2f} s", "< 10 s",
            hostile_seconds < 10),
        Row("held-out NLU files (not used to tune): recall / false redactions",
            f"{held.recall:.4f} ({held.redacted}/{held.items}) / {held.false_positives} in {held.ordinary_messages}",
            "", None),
    ]  # fmt: skip


# -------------------------------------------------------------------------------------------------- run


def run(requests: int = 120, sockets: int = 20, frames: int = 8, stalls: int = 5, seed: int = 7) -> list[Row]:
    """Fuzz a fresh stack and score redaction.

    Args:
        requests: requests per HTTP endpoint.
        sockets: WebSockets opened, each sent ``frames`` random frames and then a real message.
        frames: frames per socket.
        stalls: connections that announce a body and stall.
        seed: the random seed (the same seed sends the same requests).

    Returns:
        The table rows.
    """
    rng = random.Random(seed)
    tally = Tally()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="security-fuzz-") as folder:
        var = Path(folder)
        with running_stack(var) as target:

            async def all_of_it() -> None:
                await fuzz_http(target, requests, rng, tally)
                await fuzz_sockets(target, sockets, frames, rng, tally)
                await stalled_bodies(target, stalls, tally)

            asyncio.run(all_of_it())
        rows = redaction_rows(var / "shop.db")
    errors = sum(len(v) for v in tally.server_errors.values())
    unanswered = sum(len(v) for v in tally.unanswered.values())
    sent = sum(tally.sent.values())
    fuzz_rows = [
        Row("fuzz requests sent (HTTP, all public endpoints)", str(sent), ""),
        Row("  answers >= 500", str(errors), "0", errors == 0),
        Row("  requests with no answer", str(unanswered), "0", unanswered == 0),
        Row("WebSockets fuzzed / frames sent", f"{tally.sockets} / {tally.frames}", ""),
        Row("  sockets lost", str(len(tally.sockets_lost)), "0", not tally.sockets_lost),
        Row("stalled bodies answered 408 in time", f"{tally.stalls_answered}/{tally.stalls}", "all",
            tally.stalls_answered == tally.stalls),
    ]  # fmt: skip
    for name, samples in {**tally.server_errors, **tally.unanswered}.items():
        fuzz_rows.append(Row(f"  !! {name}", "; ".join(samples[:3]), ""))
    for lost in tally.sockets_lost[:3]:
        fuzz_rows.append(Row("  !! socket", lost, ""))
    fuzz_rows.append(Row("bench time", f"{time.monotonic() - started:.0f} s", ""))
    return fuzz_rows + rows


def render(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    cells = [["measure", "value", "target", "met"], *(r.as_list() for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ["| " + " | ".join(c[i].ljust(widths[i]) for i in range(4)) + " |" for c in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python bench/security_fuzz.py``: print the table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120, help="requests per HTTP endpoint (default 120)")
    parser.add_argument("--sockets", type=int, default=20, help="WebSockets to fuzz (default 20)")
    parser.add_argument("--frames", type=int, default=8, help="frames per WebSocket (default 8)")
    parser.add_argument("--stalls", type=int, default=5, help="stalled bodies (default 5)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rows = run(args.requests, args.sockets, args.frames, args.stalls, args.seed)
    print()
    print(render(rows))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
