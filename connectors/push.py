"""Messages the gateway sends without being asked: a person's reply in a hand-off, shipment news.

Every channel that can reach a customer later registers a ``PushTarget`` on the app's ``PushRouter``
(``app[PUSH_KEY]``) in its ``setup``; code that needs to reach a conversation calls
``await app[PUSH_KEY].push("telegram:12345", [OutboundMessage(text=...)])`` with the rasa conversation id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from connectors.errors import GatewayError
from connectors.models import OutboundMessage


class PushFailed(GatewayError):
    """The message could not be delivered (unknown channel, conversation gone, platform refused)."""


class PushTarget(Protocol):
    """A channel's way of reaching one of its conversations later."""

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Deliver ``messages`` to the conversation ``sender_id`` of this channel.

        Args:
            sender_id: the id within the channel (the part after ``"{channel}:"``).
            messages: what to show, in order.

        Raises:
            PushFailed: it could not be delivered (and nothing was half-sent silently).
        """
        ...


class PushRouter:
    """Routes ``"{channel}:{id}"`` conversation ids to the channel that can reach them.

    Attributes:
        counts: ``{channel}.pushed`` and ``{channel}.push_failed`` counters.
    """

    def __init__(self) -> None:
        """Start with no channels."""
        self._targets: dict[str, PushTarget] = {}
        self.counts: Counter[str] = Counter()

    def register(self, channel: str, target: PushTarget) -> None:
        """Let ``target`` deliver pushed messages for ``channel`` (the last registration wins)."""
        self._targets[channel] = target

    @property
    def channels(self) -> frozenset[str]:
        """Channels that can receive pushed messages."""
        return frozenset(self._targets)

    async def push(self, conversation_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Deliver ``messages`` to ``conversation_id`` (``"web:..."``, ``"telegram:..."``...).

        Raises:
            PushFailed: the channel is unknown or cannot deliver; counted either way.
        """
        channel, sep, sender_id = conversation_id.partition(":")
        if not sep or not sender_id:
            raise PushFailed(f"not a conversation id: {conversation_id!r}")
        target = self._targets.get(channel)
        if target is None:
            self.counts[f"{channel}.push_failed"] += 1
            raise PushFailed(f"the {channel} channel is not running here, so it cannot be reached")
        try:
            await target.push(sender_id, messages)
        except PushFailed:
            self.counts[f"{channel}.push_failed"] += 1
            raise
        self.counts[f"{channel}.pushed"] += len(messages)


