"""Telling store staff something needs them (a tablet's "call a staff member", hand-off tickets).

Channels that produce alerts (the tablet) look up ``ALERTS_KEY`` on the app; the Slack channel installs
its implementation there when Slack is configured. Without one, ``UnconfiguredAlerts`` raises; the support
console (``console.alerts.QueueAlerts``) then puts the call in its hand-off queue, and only when neither
can take it is the shopper told that nobody was notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from connectors.errors import GatewayError

#: The start of an alert's reference when the support console's hand-off queue took it instead of Slack.
QUEUED_PREFIX = "queue:"


class AlertNotDelivered(GatewayError):
    """Staff could not be told (no staff channel configured, or the platform refused the post)."""


@dataclass(frozen=True)
class StaffAlert:
    """One thing staff should look at.

    Attributes:
        store_id: the physical store it concerns (None for the online shop's support team).
        text: one-paragraph summary a person reads first.
        conversation_id: the customer's conversation, as rasa knows it (``tablet:...``).
        ticket: the hand-off ticket number, when one was opened.
    """

    store_id: str | None
    text: str
    conversation_id: str
    ticket: str | None = None


class StaffAlerts(Protocol):
    """Where alerts go (Slack: the store's channel, else the support channel)."""

    async def alert(self, alert: StaffAlert) -> str:
        """Deliver ``alert`` and return a reference (e.g. the Slack message timestamp).

        Raises:
            AlertNotDelivered: nobody could be told.
        """
        ...


class UnconfiguredAlerts:
    """The default when no staff channel is configured: every alert fails loudly."""

    async def alert(self, alert: StaffAlert) -> str:
        """Refuse: there is nowhere to send it."""
        raise AlertNotDelivered("no staff channel is configured (set the SLACK_* settings)")

