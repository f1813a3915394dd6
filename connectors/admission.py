"""How much work the gateway hands rasa at once: a bounded queue with a short wait; used by the Dispatcher.

Rasa answers one message at a time per process, and a message it has started is finished even when the
gateway has stopped waiting for it. Without a bound, a burst of long messages (150 at once, 2,000 characters
each) piles up inside rasa: every customer waits past the gateway's timeout and gets 503, and rasa keeps
working through the abandoned pile for a minute after the burst. So:

* at most ``max_in_flight`` turns are with rasa at once (``GATEWAY_MAX_IN_FLIGHT``); the rest wait their turn
  in order, at most ``wait_seconds`` (``GATEWAY_BUSY_WAIT_SECONDS``);
* a message that would not get its turn in time is told at once that the assistant is busy (503 with
  ``Retry-After``; on Telegram and Slack the same sentence): the expected wait is the queue ahead of it times
  the recent time per turn, and the queue never holds more than ``max_waiting`` (``GATEWAY_MAX_WAITING``);
* a message whose customer has gone while it waited (the HTTP client disconnected, the WebSocket closed) is
  dropped when its turn comes, never forwarded;
* one conversation has at most one message with rasa at a time; its next one waits (as briefly) behind it.

The same gate serves every channel (web, tablet, Telegram, Slack), since they all go through the Dispatcher.
Hand-written rather than a library: the asyncio semaphore has no wait bound, queue estimate or per-key gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import ClassVar

from pydantic import Field

from connectors.errors import Abandoned, Busy, SettingsError
from envsettings import EnvSettings, InvalidSettings

#: Time per turn assumed before any was measured (seconds).
INITIAL_TURN_SECONDS = 0.5
#: Weight of the newest turn in the running mean of turn times.
SMOOTHING = 0.2


class AdmissionSettings(EnvSettings):
    """Bounds of the queue toward rasa.

    Attributes:
        max_in_flight: turns with rasa at once, from this gateway (one rasa process answers one at a time; a few
            in flight keep it busy without queueing inside it, where nothing can be taken back).
        max_waiting: messages waiting for a turn at most; more are told at once that the assistant is busy.
        wait_seconds: longest wait for a turn (and for the conversation's previous message) before being told.
    """

    error: ClassVar[type[InvalidSettings]] = SettingsError

    max_in_flight: int = Field(default=4, ge=1, le=10_000, validation_alias="GATEWAY_MAX_IN_FLIGHT")
    max_waiting: int = Field(default=200, ge=0, le=1_000_000, validation_alias="GATEWAY_MAX_WAITING")
    wait_seconds: float = Field(
        default=10.0, ge=0.1, le=600, description="seconds", validation_alias="GATEWAY_BUSY_WAIT_SECONDS"
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AdmissionSettings:
        """Read ``GATEWAY_MAX_IN_FLIGHT``, ``GATEWAY_MAX_WAITING`` and ``GATEWAY_BUSY_WAIT_SECONDS``.

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        settings: AdmissionSettings = cls.read(env)
        return settings


class Admission:
    """The gate in front of rasa (see the module docstring). One per Dispatcher, in its event loop.

    Attributes:
        counts: ``busy``, ``busy_conversation``, ``abandoned``, ``waited`` (admitted after waiting).
    """

    def __init__(self, settings: AdmissionSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        """Start empty."""
        self.settings = settings or AdmissionSettings()
        self._clock = clock
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._conversations: dict[str, tuple[asyncio.Lock, int]] = {}
        self.turn_seconds = INITIAL_TURN_SECONDS
        self.counts: Counter[str] = Counter()

    @property
    def in_flight(self) -> int:
        """Turns with rasa now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Messages waiting for a turn now."""
        return sum(1 for w in self._waiters if not w.done())

    def expected_wait(self, ahead: int) -> float:
        """Seconds until a message with ``ahead`` messages before it in the queue gets its turn, roughly."""
        return (ahead + 1) * self.turn_seconds / self.settings.max_in_flight

    @asynccontextmanager
    async def turn(self, conversation_id: str, still_wanted: Callable[[], bool] | None = None) -> AsyncIterator[None]:
        """Hold one of the turns toward rasa (and the conversation's one) for the ``async with`` block.

        Args:
            conversation_id: the rasa conversation id.
            still_wanted: False once the customer has gone; checked when the turn comes.

        Raises:
            Busy: no turn within ``wait_seconds`` (or not expected within it); nothing was sent.
            Abandoned: the customer went away while waiting; nothing was sent.
        """
        deadline = self._clock() + self.settings.wait_seconds
        async with self._conversation(conversation_id, deadline):
            await self._acquire(deadline)
            if still_wanted is not None and not still_wanted():
                self._release(None)
                self.counts["abandoned"] += 1
                raise Abandoned("the customer left before the message's turn")
            started = self._clock()
            try:
                yield
            finally:
                self._release(self._clock() - started)

    @asynccontextmanager
    async def _conversation(self, conversation_id: str, deadline: float) -> AsyncIterator[None]:
        lock, users = self._conversations.get(conversation_id, (asyncio.Lock(), 0))
        self._conversations[conversation_id] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), max(0.0, deadline - self._clock()))
            except TimeoutError:
                self.counts["busy_conversation"] += 1
                raise Busy(self.turn_seconds, "conversation") from None
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._conversations[conversation_id]
            if users <= 1:
                del self._conversations[conversation_id]
            else:
                self._conversations[conversation_id] = (lock, users - 1)

    async def _acquire(self, deadline: float) -> None:
        if self._in_flight < self.settings.max_in_flight and not self.waiting:
            self._in_flight += 1
            return
        ahead = self.waiting
        remaining = deadline - self._clock()
        expected = self.expected_wait(ahead)
        if ahead >= self.settings.max_waiting or expected > remaining:
            self.counts["busy"] += 1
            raise Busy(expected)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), remaining)
        except TimeoutError:
            if not (waiter.done() and not waiter.cancelled()):  # else: handed a turn as the wait ended, take it
                self._forget(waiter)
                self.counts["busy"] += 1
                raise Busy(self.expected_wait(self.waiting)) from None
        except BaseException:  # cancelled while waiting: a turn handed over meanwhile passes on
            if waiter.done() and not waiter.cancelled():
                self._release(None)
            else:
                self._forget(waiter)
            raise
        self.counts["waited"] += 1

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        waiter.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)

    def _release(self, seconds: float | None) -> None:
        """End a turn (``seconds`` long when it ran to the end) and hand it to the first one still waiting."""
        if seconds is not None:
            self.turn_seconds += SMOOTHING * (seconds - self.turn_seconds)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn passes on: in_flight stays the same
                return
        self._in_flight -= 1

