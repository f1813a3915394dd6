"""The in-store tablet (kiosk) channel: registered devices fixed to a shop, a full-screen page, its API."""

from connectors.tablet.channel import TabletChannel
from connectors.tablet.settings import TabletSettings

__all__ = ["TabletChannel", "TabletSettings"]
