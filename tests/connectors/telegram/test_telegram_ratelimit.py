"""BoundedRateLimiter on its own: PTB's AIORateLimiter with a cap on the wait and a report of every 429."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import RetryAfter

from connectors.telegram.ratelimit import MAX_RETRY_AFTER, BoundedRateLimiter, RateLimitExceeded

pytestmark = pytest.mark.asyncio


class Telegram:
    """A Bot API call that answers 429 with the given waits first, then succeeds."""

    def __init__(self, *waits: float) -> None:
        self.waits = list(waits)
        self.calls = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.waits:
            raise RetryAfter(int(self.waits.pop(0)))
        return {"message_id": 1}


async def send(limiter: BoundedRateLimiter, telegram: Telegram, rate_limit_args: int | None = None) -> Any:
    return await limiter.process_request(
        telegram, (), {}, endpoint="sendMessage", data={"chat_id": 7, "text": "x"}, rate_limit_args=rate_limit_args
    )


async def test_a_429_within_the_maximum_is_waited_out_and_reported() -> None:
    reported: list[None] = []
    limiter = BoundedRateLimiter(lambda: reported.append(None))
    telegram = Telegram(0)
    assert await send(limiter, telegram) == {"message_id": 1}
    assert telegram.calls == 2 and len(reported) == 1


async def test_a_429_above_the_maximum_fails_at_once() -> None:
    reported: list[None] = []
    limiter = BoundedRateLimiter(lambda: reported.append(None))
    telegram = Telegram(MAX_RETRY_AFTER + 1)
    with pytest.raises(RateLimitExceeded, match="asks for 31 s, longer than the 30 s we wait"):
        await asyncio.wait_for(send(limiter, telegram), 2)
    assert telegram.calls == 1 and len(reported) == 1
    # PTB's pause of every request is not left on: the next call goes straight through
    assert await asyncio.wait_for(send(limiter, Telegram()), 0.5) == {"message_id": 1}


async def test_retries_are_bounded_and_can_be_raised_per_call() -> None:
    reported: list[None] = []
    limiter = BoundedRateLimiter(lambda: reported.append(None), max_retries=1)
    telegram = Telegram(0, 0)
    with pytest.raises(RateLimitExceeded, match="still refused after 1 retry"):
        await send(limiter, telegram)
    assert telegram.calls == 2 and len(reported) == 2
    telegram = Telegram(0, 0)
    assert await send(limiter, telegram, rate_limit_args=2) == {"message_id": 1}
    assert telegram.calls == 3


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        BoundedRateLimiter(lambda: None, max_wait=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        BoundedRateLimiter(lambda: None, max_retries=-1)
