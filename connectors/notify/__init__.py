"""Order news: the carrier webhook (``POST /api/carrier/events``) and the notifier that pushes to linked chats."""

from connectors.notify.service import NotifyService
from connectors.notify.settings import NotifySettings

__all__ = ["NotifyService", "NotifySettings"]
