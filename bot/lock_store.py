"""Rasa's Redis lock store, waiting out a Redis restart instead of failing the turn; named in endpoints.yml.

Rasa's ``RedisLockStore`` raises on the first refused connection, so every message arriving while Redis restarts
failed ("the assistant could not answer just now"; bench/fault_bench.py saw 24 of them in a 3 s restart). Here each
Redis call is tried again for ``REDIS_RETRY_SECONDS`` (default 10) while the connection fails; everything else is
rasa's store (same keys, same tickets). The calls are synchronous in rasa's lock store, so the replica waits as a
whole during the outage, as it would have to anyway without its locks.

``LOCK_STORE_TYPE=bot.lock_store.RetryingRedisLockStore`` with the usual ``url``, ``port``, ``db`` (endpoints.yml).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import RedisLockStore

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_RETRY_SECONDS = 10.0


class RetryingRedisLockStore(RedisLockStore):
    """``RedisLockStore`` whose calls wait for Redis to come back (connection errors and timeouts only)."""

    def __init__(self, endpoint_config: Any = None, **kwargs: Any) -> None:
        """Build from endpoints.yml (rasa passes ``endpoint_config``) or from keyword arguments (tests).

        Args:
            endpoint_config: rasa's ``EndpointConfig`` of ``lock_store``: ``url`` is the host, its kwargs the rest.
            **kwargs: ``RedisLockStore`` arguments when there is no endpoint config.
        """
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        raw = os.environ.get("REDIS_RETRY_SECONDS", "").strip()
        self.retry_seconds = float(raw) if raw else DEFAULT_RETRY_SECONDS

    def _retrying(self, call: Callable[[], T]) -> T:
        import redis

        deadline, delay = time.monotonic() + self.retry_seconds, 0.1
        while True:
            try:
                return call()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                if time.monotonic() + delay > deadline:
                    raise
                logger.warning("lock store unreachable (%s); trying again in %.1f s", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """Rasa's ``get_lock``, waiting for Redis."""
        return self._retrying(lambda: super(RetryingRedisLockStore, self).get_lock(conversation_id))

    def delete_lock(self, conversation_id: str) -> None:
        """Rasa's ``delete_lock``, waiting for Redis."""
        self._retrying(lambda: super(RetryingRedisLockStore, self).delete_lock(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        """Rasa's ``save_lock``, waiting for Redis."""
        self._retrying(lambda: super(RetryingRedisLockStore, self).save_lock(lock))
