"""Order news: the carrier webhook (``POST /api/carrier/events``) and the notifier that pushes to linked chats."""

from connectors.notify.service import NOTIFY_KEY, NotifyService
from connectors.notify.settings import NotifySettings

__all__ = ["NOTIFY_KEY", "NotifyService", "NotifySettings"]
