"""PTB's rate limiter for the Telegram channel, bounded: a 429 is waited out, but never for longer than we allow."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

#: Longest wait honoured when Telegram says "retry after" (429); a longer one fails the call at once.
MAX_RETRY_AFTER = 30.0
#: How often a call is sent again after a 429 (each time after Telegram's ``retry_after``).
MAX_RETRIES = 1

_Result = bool | dict[str, Any] | list[dict[str, Any]]


class RateLimitExceeded(TelegramError):
    """Telegram still answers 429 after our retries, or asks for a wait longer than ``max_wait``.

    A ``TelegramError`` but not a ``RetryAfter``, so PTB's limiter does not wait it out and callers
    treat it like any refused call.
    """


class BoundedRateLimiter(AIORateLimiter):
    """``telegram.ext.AIORateLimiter`` (Telegram's overall and per-group flood limits, 429s waited out and
    retried, every request paused while one waits), plus the two things it cannot be told:

    * a cap on the wait: AIORateLimiter sleeps for whatever ``retry_after`` Telegram names (it can be
      minutes), holding the customer's turn and every other chat's sends; past ``max_wait`` the call
      fails at once with :class:`RateLimitExceeded` instead;
    * a report of each 429: AIORateLimiter handles them inside ``process_request`` and only logs them, so
      ``on_rate_limited`` is called once per 429 Telegram answers (the channel counts ``telegram.rate_limited``).

    It also raises :class:`RateLimitExceeded` itself when the retries are used up, where AIORateLimiter
    would log the ``RetryAfter`` with a traceback and re-raise it (the channel logs each failed send once).
    Only ``process_request`` is wrapped; the limiting and the waiting are PTB's.
    """

    def __init__(
        self,
        on_rate_limited: Callable[[], None],
        *,
        max_wait: float = MAX_RETRY_AFTER,
        max_retries: int = MAX_RETRIES,
    ) -> None:
        """Configure the limiter with PTB's default flood limits (30 requests/s, 20/min per group).

        Args:
            on_rate_limited: called for every 429 Telegram answers.
            max_wait: longest ``retry_after`` (seconds) waited out.
            max_retries: how often one call is sent again after a 429.
        """
        if max_wait < 0 or max_retries < 0:
            raise ValueError("max_wait and max_retries must not be negative")
        super().__init__(max_retries=max_retries)
        self.on_rate_limited = on_rate_limited
        self.max_wait = max_wait
        self.max_retries = max_retries

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, _Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> _Result:
        """Send one request through PTB's limiter; see the class docstring for what is added.

        Raises:
            RateLimitExceeded: a 429 asking for more than ``max_wait``, or one after the last retry.
        """
        retries = rate_limit_args or self.max_retries  # as AIORateLimiter reads them
        attempts = 0

        async def attempt(*call_args: Any, **call_kwargs: Any) -> _Result:
            nonlocal attempts
            attempts += 1
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                self.on_rate_limited()
                wait = retry_after_seconds(exc)
                if wait > self.max_wait:
                    raise RateLimitExceeded(
                        f"rate limited by Telegram: it asks for {wait:g} s, longer than the {self.max_wait:g} s we wait"
                    ) from exc
                if attempts > retries:
                    raise RateLimitExceeded(
                        f"rate limited by Telegram: still refused after {retries} retr{'y' if retries == 1 else 'ies'}"
                    ) from exc
                raise  # AIORateLimiter waits retry_after (+0.1 s), pausing every request, and calls again

        return await super().process_request(attempt, args, kwargs, endpoint, data, rate_limit_args)


def retry_after_seconds(exc: RetryAfter) -> float:
    """``exc.retry_after`` in seconds (PTB 22 warns it becomes a timedelta in its next major version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
