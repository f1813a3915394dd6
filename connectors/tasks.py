"""Background work a channel starts and must see finished: used by the Slack channel and the web channel.

``asyncio`` keeps only a weak reference to a task, and an exception nobody retrieves is logged as "never
retrieved" at garbage collection; a task cut off at shutdown loses what it was storing. ``BackgroundTasks``
keeps each task referenced until it ends, retrieves its exception (passing it to ``on_error``), and lets the
channel wait for the ones in flight before the app closes its database. ``running`` is the other kind: one
loop (a sweeper, the notifier) that runs as long as the app does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BackgroundTasks(Generic[T]):
    """The tasks in flight of one channel."""

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        """Track tasks; ``on_error`` gets the exception of each task that failed (default: nothing, the caller
        awaiting the task gets it)."""
        self._tasks: set[asyncio.Task[T]] = set()
        self._on_error = on_error

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start ``work`` in a task kept until it ends.

        Returns:
            The task (await it through ``asyncio.shield`` to let it finish if the awaiting request goes away).
        """
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[T]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()  # retrieved here, so a task nobody awaits leaves no "never retrieved" warning
        if error is not None and self._on_error is not None:
            self._on_error(error)

    def __len__(self) -> int:
        """How many tasks are in flight."""
        return len(self._tasks)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every task has ended, including tasks started meanwhile; give up after ``timeout``
        seconds without one ending."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=timeout)
            if not done:
                return


@contextlib.asynccontextmanager
async def running(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run ``work`` as a task named ``name`` while the block runs; at its end cancel the task and wait for it.

    For a ``cleanup_ctx`` of the app: ``async with running(self._sweep_forever(), "sweeper"): yield``.
    """
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


__all__ = ["BackgroundTasks", "running"]
