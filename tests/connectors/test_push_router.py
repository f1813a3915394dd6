"""PushRouter: conversation ids reach the channel that registered, and failures are counted and raised."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from connectors.models import OutboundMessage
from connectors.push import PushFailed, PushRouter


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, list[str | None]]] = []

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        if self.fail:
            raise PushFailed("platform said no")
        self.sent.append((sender_id, [m.text for m in messages]))


async def test_push_goes_to_the_registered_channel_with_the_inner_id() -> None:
    router, web, telegram = PushRouter(), Recorder(), Recorder()
    router.register("web", web)
    router.register("telegram", telegram)
    await router.push("telegram:12:34", [OutboundMessage(text="Your parcel is out for delivery")])
    assert telegram.sent == [("12:34", ["Your parcel is out for delivery"])] and web.sent == []
    assert router.counts["telegram.pushed"] == 1 and router.channels == {"web", "telegram"}


async def test_unknown_channel_malformed_id_and_platform_failure_raise_and_count() -> None:
    router = PushRouter()
    router.register("slack", Recorder(fail=True))
    with pytest.raises(PushFailed, match="not running"):
        await router.push("telegram:1", [OutboundMessage(text="x")])
    with pytest.raises(PushFailed, match="not a conversation id"):
        await router.push("no-colon", [OutboundMessage(text="x")])
    with pytest.raises(PushFailed, match="said no"):
        await router.push("slack:T-U", [OutboundMessage(text="x")])
    assert router.counts["telegram.push_failed"] == 1 and router.counts["slack.push_failed"] == 1
