"""Runs in the rasa environment for tests/bot/test_lock_store.py: ``python lock_store_probe.py FOLDER``.

Starts Debian's redis-server on a free port, takes a conversation's lock through bot/lock_store.py, kills Redis,
restarts it 1.5 s later (same port, same append-only file) while a lock call is waiting, and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["REDIS_RETRY_SECONDS"] = "8"

from bot.lock_store import RetryingRedisLockStore  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(folder: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):  # up to ~20 s: a busy 2-core box (CI beside other jobs) starts it slowly
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def main(folder: Path) -> None:
    port = free_port()
    redis = start(folder, port)
    store = RetryingRedisLockStore(host="127.0.0.1", port=port, db=1)
    ticket = store.issue_ticket("web:abc", 60)
    redis.kill()
    redis.wait()
    holder: dict = {}

    def restart_later() -> None:
        time.sleep(1.5)
        holder["redis"] = start(folder, port)

    threading.Thread(target=restart_later).start()
    started = time.monotonic()
    lock = store.get_lock("web:abc")  # waits for Redis
    waited = time.monotonic() - started
    result = {
        "ticket": ticket,
        "lock_found": lock is not None,
        "waited_s": round(waited, 2),
        "is_locked_for_next": lock.is_locked(ticket + 1) if lock else None,
    }
    store.retry_seconds = 0.5
    holder["redis"].kill()
    holder["redis"].wait()
    try:
        store.get_lock("web:abc")
        result["gave_up"] = False
    except Exception as error:  # redis.ConnectionError after the short budget
        result["gave_up"] = type(error).__name__
    print(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
