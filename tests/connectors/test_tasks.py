"""connectors.tasks.running: the loop of a sweeper or notifier runs while the app does, and not after."""

from __future__ import annotations

import asyncio

import pytest

from connectors.tasks import running


async def test_the_loop_runs_inside_the_block_and_is_cancelled_and_awaited_at_its_end() -> None:
    ticks: list[int] = []
    ended: list[str] = []

    async def loop() -> None:
        try:
            while True:
                ticks.append(len(ticks))
                await asyncio.sleep(0)
        finally:
            ended.append("cleaned up")  # runs before `running` returns: the task was awaited, not dropped

    async with running(loop(), "test-loop"):
        for _ in range(5):
            await asyncio.sleep(0)
        assert [t.get_name() for t in asyncio.all_tasks()].count("test-loop") == 1
    assert ticks and ended == ["cleaned up"]
    assert "test-loop" not in [t.get_name() for t in asyncio.all_tasks()]
    seen = len(ticks)
    await asyncio.sleep(0)
    assert len(ticks) == seen


async def test_a_loop_that_died_is_reported_when_the_block_ends() -> None:
    """Only the cancellation is swallowed: a loop that failed on its own says so at shutdown."""

    async def fails() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        async with running(fails(), "failing-loop"):
            await asyncio.sleep(0)
