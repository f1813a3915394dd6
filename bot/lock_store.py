"""Rasa's Redis lock store, waiting out a Redis restart instead of failing the turn; named in endpoints.yml.

Rasa's ``RedisLockStore`` raises on the first refused connection, so every message arriving while Redis restarts
failed ("the assistant could not answer just now"; bench/fault_bench.py saw 24 of them in a 3 s restart). Here each
Redis call is tried again for ``REDIS_RETRY_SECONDS`` (default 10) while the connection fails; everything else is
rasa's store (same keys, same tickets). The calls are synchronous in rasa's lock store, so the replica waits as a
whole during the outage, as it would have to anyway without its locks.

And a waiter's ticket is kept alive while it waits. In rasa a ticket expires ``TICKET_LOCK_LIFETIME`` after it was
issued, waiting or not. When a replica died holding a conversation's lock (kill -9), the next message's ticket was
issued a moment after the dead one's, so both expired at about the same time; once the waiter's own ticket was gone
it could never be served (``is_locked`` compares with the first live ticket), and rasa's loop only ends when the
lock disappears, which nobody did any more: the turn hung until the gateway gave up (bench/fault_bench.py: 120 s,
the customer resent and waited again). Here each poll renews the waiter's ticket, so a holder's lifetime counts from
when it was served (or last polled); a waiter whose ticket is gone all the same (this replica was starved longer
than the lifetime, or Redis lost the lock) takes a new ticket at the back of the queue instead of waiting forever.
The served ticket is renewed too, every third of its lifetime while its turn runs, so a long turn (an action call
resent while a database restarts) keeps its conversation to itself; a dead replica's ticket still expires within
one lifetime.

``LOCK_STORE_TYPE=bot.lock_store.RetryingRedisLockStore`` with the usual ``url``, ``port``, ``db`` (endpoints.yml).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, List, TypeVar

import rasa.core.lock_store
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

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float | None = None,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Rasa's ``lock``: a ticket, the wait for it to be served, the clean-up; the ticket lives while it waits.

        Args:
            conversation_id: the conversation.
            lock_lifetime: seconds a ticket lives without being renewed (rasa's ``TICKET_LOCK_LIFETIME``).
            wait_time_in_seconds: seconds between two looks at the queue.

        Yields:
            The conversation's lock, once this ticket is the one served.
        """
        lifetime = rasa.core.lock_store.LOCK_LIFETIME if lock_lifetime is None else lock_lifetime
        held = [self.issue_ticket(conversation_id, lifetime)]
        try:
            lock = await self._wait_for_turn(conversation_id, held, lifetime, wait_time_in_seconds)
            keeper = asyncio.ensure_future(self._keep_alive(conversation_id, held[0], lifetime))
            try:
                yield lock
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        finally:
            self.cleanup(conversation_id, held[0])

    async def _keep_alive(self, conversation_id: str, ticket: int, lifetime: float) -> None:
        """Renew the served ticket every third of its lifetime while the turn runs.

        A turn may outlast the lifetime (an action call resent for ``ACTION_RETRY_SECONDS`` while a database
        restarts, a tracker store waiting for PostgreSQL, a busy box): in rasa its ticket then expired mid-turn and
        the conversation's next message could run beside it. Renewed here, the ticket lives as long as its turn
        and, when the replica dies, at most one lifetime after.
        """
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                lock = self.get_lock(conversation_id)
                mine = next((t for t in lock.tickets if t.number == ticket), None) if lock is not None else None
                if mine is None:
                    logger.warning("conversation %s: served ticket %d expired during its turn", conversation_id, ticket)
                    return
                mine.expires = time.time() + lifetime
                self.save_lock(lock)
            except Exception:  # noqa: BLE001 - renewal is best effort; the turn itself must go on
                logger.warning("conversation %s: could not renew the served ticket", conversation_id, exc_info=True)

    async def _wait_for_turn(self, conversation_id: str, held: List[int], lifetime: float, wait: float) -> TicketLock:
        """Rasa's ``_acquire_lock`` with the waiting ticket renewed (``held[0]`` is replaced if it was lost)."""
        while True:
            lock = self.get_lock(conversation_id)
            if lock is not None and not lock.is_locked(held[0]):
                return lock
            if lock is not None:
                logger.debug(
                    "conversation %s: %d ticket(s) before this one", conversation_id, held[0] - lock.now_serving
                )
            await asyncio.sleep(wait)
            lock = self.get_lock(conversation_id) or self.create_lock(conversation_id)
            lock.remove_expired_tickets()
            mine = next((ticket for ticket in lock.tickets if ticket.number == held[0]), None)
            if mine is None:
                held[0] = lock.issue_ticket(lifetime)
                logger.warning(
                    "conversation %s: a waiting ticket expired before its turn; queued again as %d",
                    conversation_id,
                    held[0],
                )
            else:
                mine.expires = time.time() + lifetime
            self.save_lock(lock)
