"""The Telegram channel (python-telegram-bot): long polling or a secret-checked webhook, private chats."""

from connectors.telegram.channel import TelegramChannel, TelegramSendError
from connectors.telegram.settings import TelegramSettings

__all__ = ["TelegramChannel", "TelegramSendError", "TelegramSettings"]
