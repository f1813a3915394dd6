"""Minimal Telegram push target: shipment news (and any pushed text) to a private chat; registered in setup.

Only text goes out (pushed news is text); buttons, images and custom payloads of pushed messages are not
rendered here. A chat id that is not a number, a bot that is not connected yet, or a refusal by Telegram
raises `PushFailed`, so the caller counts it and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from connectors.models import OutboundMessage
from connectors.push import PushFailed

if TYPE_CHECKING:
    from connectors.telegram.channel import TelegramChannel


class TelegramPush:
    """Sends pushed messages to ``telegram:<chat id>`` conversations through the channel's bot."""

    def __init__(self, channel: TelegramChannel) -> None:
        """Push through ``channel`` (its bot, its ``sent``/``send_failed`` counters, its long-text splitting)."""
        self._channel = channel

    async def push(self, sender_id: str, messages: Sequence[OutboundMessage]) -> None:
        """Send each message's text to the chat ``sender_id``.

        Raises:
            PushFailed: not a chat id, the bot is not connected yet, or Telegram refused the message.
        """
        from connectors.telegram.channel import TelegramSendError

        try:
            chat_id = int(sender_id)
        except ValueError:
            raise PushFailed(f"not a Telegram chat id: {sender_id!r}") from None
        if not self._channel.ready.is_set():
            raise PushFailed("the Telegram bot is not connected yet")
        for message in messages:
            if not message.text:
                continue
            try:
                await self._channel._send_text(chat_id, message.text)  # noqa: SLF001 - same package
            except TelegramSendError as exc:
                raise PushFailed(str(exc)) from exc
