"""Sliding-window rate limits for the web channel (per conversation, per client address); pure, no I/O."""

from __future__ import annotations

import math
from collections import deque


class SlidingWindowLimiter:
    """At most ``limit`` events per ``window`` seconds per key, counted over a sliding window.

    The clock is passed in (``now``) so tests need no sleeping; memory is bounded by the number
    of keys active in the last window (idle keys are dropped as they are met, and all at once
    when the table grows large).
    """

    def __init__(self, limit: int, window: float, *, max_keys: int = 100_000) -> None:
        """Configure the limiter.

        Args:
            limit: events allowed per window.
            window: window length in seconds.
            max_keys: table size past which idle keys are swept.
        """
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may send again (0.0 if it may send now); records nothing.

        Args:
            key: the conversation id or client address.
            now: the current monotonic time in seconds.
        """
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return 0.0
        if len(events) < self.limit:
            return 0.0
        return events[0] + self.window - now

    def record(self, key: str, now: float) -> None:
        """Count one event for ``key`` at ``now``."""
        if len(self._events) >= self.max_keys:
            self._sweep(now)
        self._events.setdefault(key, deque()).append(now)

    def _sweep(self, now: float) -> None:
        stale = [k for k, ev in self._events.items() if not ev or ev[-1] <= now - self.window]
        for key in stale:
            del self._events[key]


def whole_seconds(delay: float) -> int:
    """A delay rounded up to whole seconds, at least 1 (for ``Retry-After`` and messages)."""
    return max(1, math.ceil(delay))
