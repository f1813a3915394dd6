"""Support console speed on 10,000 conversations: list, filter, count, transcript and metrics latency (p50/p95).

Seeds a temporary tracker store by cloning conversations the real bot produced (new sender ids, start
times spread over --days), indexes it, then times the console's HTTP API through the real gateway app on
loopback, signed in as a lead. Target: list and filter pages under 300 ms.

    .venv/bin/python bench/console_bench.py                     # runs the real stack once for conversations
    .venv/bin/python bench/console_bench.py --seeded /tmp/seed  # reuses an earlier seed, made by
    .venv/bin/python -m tests.console.real_conversations /tmp/seed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from connectors.db import create_schema  # noqa: E402
from connectors.keys import ENGINE_KEY, SESSIONS_KEY  # noqa: E402
from connectors.settings import Settings  # noqa: E402
from console.auth import add_user  # noqa: E402
from console.models import ConsoleConversation, ConsoleTag  # noqa: E402
from console.web import STATE_KEY  # noqa: E402
from gateway import create_app  # noqa: E402
from tests.console.real_conversations import SeededStore, clone_conversations, seed_real_tracker  # noqa: E402

TARGET_MS = 300.0
COMBINED = {"channel": "web", "fallback": "yes", "q": "order"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(work: Path, tracker_url: str, shop_url: str, runs: int) -> list[tuple[str, list[float]]]:
    settings = Settings(
        gateway_token="bench",  # noqa: S106 (rasa is never contacted)
        rasa_url="http://127.0.0.1:9",
        database_url=f"sqlite:///{work / 'gateway.db'}",
        tracker_db_url=tracker_url,
        shop_db_url=shop_url,
    )
    app = create_app(settings)
    create_schema(app[ENGINE_KEY])
    state = app[STATE_KEY]
    started = time.perf_counter()
    read = state.indexer.refresh()
    print(f"indexed {read} events in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    state.indexer.refresh()
    print(f"refresh with nothing new: {1000 * (time.perf_counter() - started):.1f} ms")
    add_user(app[SESSIONS_KEY], "lead@example.com", "lead", "bench-password-1")
    with app[SESSIONS_KEY]() as session, session.begin():
        senders = list(session.scalars(select(ConsoleConversation.sender_id).order_by(ConsoleConversation.sender_id)))
        for sender in senders[::20]:
            session.add(ConsoleTag(sender_id=sender, tag="needs fix", created_at=datetime.now()))
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        login = {"email": "lead@example.com", "password": "bench-password-1"}
        resp = await client.post("/api/console/login", json=login)
        assert resp.status == 200, await resp.text()
        week_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86400))
        today = time.strftime("%Y-%m-%d", time.gmtime())
        params: dict[str, str] = {}
        for _ in range(9):  # walk to page 10 once; its cursor is then timed
            async with client.get("/api/console/conversations", params=params) as r:
                body = await r.json()
            params = {"cursor": body["next_cursor"]}
        cursor_page = params["cursor"]
        scenarios: list[tuple[str, str, dict[str, str]]] = [
            ("list, first page", "/api/console/conversations", {}),
            ("list, page 10 (keyset)", "/api/console/conversations", {"cursor": cursor_page}),
            ("filter channel=telegram", "/api/console/conversations", {"channel": "telegram"}),
            ("filter last 7 days", "/api/console/conversations", {"from": week_ago, "to": today}),
            ("filter intent=track_order", "/api/console/conversations", {"intent": "track_order"}),
            ("filter fallback=yes", "/api/console/conversations", {"fallback": "yes"}),
            ("filter handoff=yes", "/api/console/conversations", {"handoff": "yes"}),
            ("filter below=70%", "/api/console/conversations", {"below": "70"}),
            ("filter verified=no", "/api/console/conversations", {"verified": "no"}),
            ("filter tag=needs fix", "/api/console/conversations", {"tag": "needs fix"}),
            ("search q=germany", "/api/console/conversations", {"q": "germany"}),
            ("search q=zzz (no match)", "/api/console/conversations", {"q": "zzz-no-match"}),
            ("combined web+fallback+q", "/api/console/conversations", COMBINED),
            ("counts, no filter", "/api/console/counts", {}),
            ("counts, channel+handoff", "/api/console/counts", {"channel": "web", "handoff": "yes"}),
            ("transcript", f"/api/console/conversations/{state.pseudonyms.of(senders[0])}", {}),
            ("metrics (30 days)", "/api/console/metrics", {}),
            ("hand-off queue (all)", "/api/console/handoffs", {}),
            ("assigned=me", "/api/console/conversations", {"assigned": "me"}),
        ]
        results = []
        for name, path, query in scenarios:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                async with client.get(path, params=query) as r:
                    await r.read()
                    assert r.status == 200, (name, r.status)
                times.append(1000 * (time.perf_counter() - started))
            results.append((name, times))
        return results
    finally:
        await client.close()


def main() -> int:
    """Seed, index and time; print a table. Returns 1 when a list or filter page misses the target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeded", type=Path, help="folder of an earlier real-conversation seed (seeded.json)")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="spread of the clones' start times")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        work = Path(tmp)
        if args.seeded:
            seeded = SeededStore.from_json(json.loads((args.seeded / "seeded.json").read_text()))
        else:
            print("running the real stack once for source conversations ...")
            seeded = seed_real_tracker(work / "seed")
        tracker_url = f"sqlite:///{work / 'tracker.db'}"
        started = time.perf_counter()
        clone_conversations(
            seeded.tracker_db_url,
            tracker_url,
            args.conversations,
            start_ts=time.time() - args.days * 86400,
            span_seconds=args.days * 86400,
        )
        print(
            f"cloned {args.conversations} conversations from {len(seeded.conversations)} real ones "
            f"in {time.perf_counter() - started:.1f} s"
        )
        results = asyncio.run(_bench(work, tracker_url, seeded.shop_db_url, args.runs))
    print()
    head = f"query ({args.conversations} conversations, {args.runs} runs)"
    print(f"| {head} | p50 ms | p95 ms | max ms | p95 < {TARGET_MS:.0f} ms |")
    print("|---|---:|---:|---:|---|")
    missed = False
    for name, times in results:
        p95 = _pct(times, 0.95)
        ok = p95 < TARGET_MS
        if not ok and (name.startswith(("list", "filter", "search", "combined", "counts"))):
            missed = True
        print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} | {max(times):.1f} | {'yes' if ok else 'NO'} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
