"""Runs in the rasa environment for tests/actions/test_guard_postgres.py: ``python action_retry_probe.py URL TOKEN``.

Sends the action call read from stdin the way rasa does (``EndpointConfig.request``, with bot/turn_speedups.py's
retries) and prints one JSON object: the answer and how long it took. Prints ``ready`` first, once rasa is imported
(seconds), so the test can stop and start the database around the call itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.utils.endpoints import EndpointConfig  # noqa: E402

import bot  # noqa: E402,F401  (applies the speedups, the retries among them)


async def main(url: str, token: str) -> None:
    print("ready", flush=True)
    call = json.loads(sys.stdin.readline())
    started = time.monotonic()
    answer = await EndpointConfig(url, token=token).request(json=call, method="post")
    print(json.dumps({"answer": answer, "seconds": round(time.monotonic() - started, 2)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
