"""Front-end pages and assets over loopback: the demo shop with its catalogue, product pictures, the kiosk and the
console page, against ``widget.js`` (a static asset) measured in the same run as the reference.

Builds the real gateway app on a demo shop (seeded into a temporary folder) and times each GET over loopback;
rasa is never asked. Prints a table of p50/p95 in ms and each row's p50 as a multiple of the reference's.

    .venv/bin/python bench/front_bench.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from connectors.settings import Settings  # noqa: E402
from gateway import create_app  # noqa: E402
from scripts.demo_stack import seed_demo_shop  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(work: Path, runs: int) -> list[tuple[str, list[float]]]:
    print("seeding a demo shop ...", flush=True)
    shop = seed_demo_shop(work / "var")
    settings = Settings(
        gateway_token="bench",  # noqa: S106 (rasa is never contacted)
        rasa_url="http://127.0.0.1:9",
        database_url=f"sqlite:///{work / 'gateway.db'}",
        tracker_db_url=f"sqlite:///{work / 'tracker.db'}",
        shop_db_url=shop.db_url,
    )
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        scenarios = [
            ("widget.js (reference, static)", "/widget.js"),
            ("demo shop page with its catalogue", "/shop"),
            ("product picture (drawn SVG)", "/media/products/SKN-0001.svg"),
            ("kiosk page", "/tablet"),
            ("console page", "/console"),
        ]
        results = []
        for name, path in scenarios:
            async with client.get(path) as r:  # warm: the catalogue's first read, the engine's first connection
                await r.read()
                assert r.status == 200, (path, r.status)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                async with client.get(path) as r:
                    await r.read()
                times.append(1000 * (time.perf_counter() - started))
            results.append((name, times))
        return results
    finally:
        await client.close()


def main() -> int:
    """Seed, serve and time; print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="front-bench-") as tmp:
        results = asyncio.run(_bench(Path(tmp), args.runs))
    reference = _pct(results[0][1], 0.5)
    print(f"\n| request ({args.runs} runs) | p50 ms | p95 ms | p50 / reference |")
    print("|---|---:|---:|---:|")
    for name, times in results:
        p50 = _pct(times, 0.5)
        print(f"| {name} | {p50:.1f} | {_pct(times, 0.95):.1f} | {p50 / reference:.1f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
