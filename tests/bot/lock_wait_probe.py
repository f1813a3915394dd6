"""Runs in the rasa environment for tests/bot/test_lock_store.py: ``python lock_wait_probe.py FOLDER``.

Starts Debian's redis-server on a free port. A replica that died holding a conversation's lock is a ticket issued and
never cleaned up; the next message then waits for it. Rasa's ``RedisLockStore`` and bot/lock_store.py wait side by
side (each on its own conversation) with a waiting ticket that expires before the dead one (the lifetimes rasa uses
give both about the same expiry, so which one goes first is a matter of milliseconds; here it is certain), and a
third waiter loses its lock key altogether while it waits (Redis restarted without it). Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.lock_store import RedisLockStore  # noqa: E402

from bot.lock_store import RetryingRedisLockStore  # noqa: E402
from tests.bot.lock_store_probe import free_port, start  # noqa: E402

DEAD_HOLDER_LIFETIME = 2.5
WAITER_LIFETIME = 1.5
GIVE_UP_AFTER = 8.0


async def waited(store: RedisLockStore, conversation_id: str, lose_key_after: float | None = None) -> object:
    """Seconds until the waiter is served, or the name of what ended its wait."""
    store.issue_ticket(conversation_id, DEAD_HOLDER_LIFETIME)  # the dead replica's ticket, never cleaned up
    started = time.monotonic()

    async def take() -> float:
        async with store.lock(conversation_id, lock_lifetime=WAITER_LIFETIME, wait_time_in_seconds=0.5):
            return round(time.monotonic() - started, 2)

    async def lose_key() -> None:
        if lose_key_after is not None:
            await asyncio.sleep(lose_key_after)
            store.delete_lock(conversation_id)

    try:
        served, _ = await asyncio.wait_for(asyncio.gather(take(), lose_key()), GIVE_UP_AFTER)
        return served
    except asyncio.TimeoutError:  # noqa: UP041 (the rasa environment is Python 3.10: not the builtin yet)
        return "still waiting"
    except Exception as error:  # noqa: BLE001 - rasa's LockError is the point
        return type(error).__name__


async def long_turn(store: RedisLockStore, conversation_id: str) -> float:
    """Seconds until a second message (its ticket lives 10 s) is served while the first one's turn runs 3 s with a
    ticket lifetime of 1 s."""
    started = time.monotonic()
    first_in = asyncio.Event()

    async def first() -> None:
        async with store.lock(conversation_id, lock_lifetime=1.0, wait_time_in_seconds=0.2):
            first_in.set()
            await asyncio.sleep(3.0)

    async def second() -> float:
        await first_in.wait()
        async with store.lock(conversation_id, lock_lifetime=10.0, wait_time_in_seconds=0.2):
            return round(time.monotonic() - started, 2)

    _, served = await asyncio.gather(first(), second())
    return served


async def main(folder: Path) -> None:
    port = free_port()
    redis = start(folder, port)
    try:
        rasas = RedisLockStore(host="127.0.0.1", port=port, db=1)
        ours = RetryingRedisLockStore(host="127.0.0.1", port=port, db=1)
        results = await asyncio.gather(
            waited(rasas, "web:rasa"),
            waited(ours, "web:ours"),
            waited(rasas, "web:rasa-lost", lose_key_after=1.0),
            waited(ours, "web:ours-lost", lose_key_after=1.0),
        )
        long_rasa, long_ours = await asyncio.gather(long_turn(rasas, "web:long-rasa"), long_turn(ours, "web:long-ours"))
        left = ours.get_lock("web:ours")
        print(
            json.dumps(
                {
                    "rasa": results[0],
                    "ours": results[1],
                    "rasa_key_lost": results[2],
                    "ours_key_lost": results[3],
                    "lock_left_after_ours": left.dumps() if left else None,
                    "long_turn_rasa": long_rasa,
                    "long_turn_ours": long_ours,
                }
            )
        )
    finally:
        redis.kill()
        redis.wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
