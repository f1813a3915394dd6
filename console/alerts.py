"""Staff alerts that fall back to the console's hand-off queue: a tablet's staff call is never lost for want of Slack.

Installed at ``app[ALERTS_KEY]`` by ``console.setup``, wrapping whatever the channels installed (Slack's
alerts, or the refusing default). The tablet channel calls ``alert``; see connectors/README.md "In-store tablet".
"""

from __future__ import annotations

import asyncio
import logging

from connectors.alerts import QUEUED_PREFIX, AlertNotDelivered, StaffAlert, StaffAlerts
from console.shop import ShopFacts, ShopUnavailable

log = logging.getLogger("console")


class QueueAlerts:
    """Deliver through ``inner`` (Slack) when it can; otherwise the console's queue takes the call.

    The ticket the actions opened is already in the order store, which is what the console's Hand-offs page
    lists (with the shop's name, newest first, and a count of open tickets on every page). "Taken by the
    queue" therefore means: that ticket exists and is not closed. If the order store cannot confirm it, the
    alert is not delivered and the shopper is told to ask at the till.
    """

    def __init__(self, facts: ShopFacts, inner: StaffAlerts | None = None) -> None:
        """Read tickets through ``facts``; try ``inner`` first."""
        self.facts = facts
        self.inner = inner

    async def alert(self, alert: StaffAlert) -> str:
        """Deliver ``alert``.

        Returns:
            ``inner``'s reference (a Slack message ts), or ``"queue:<ticket>"`` when the console's queue took it.

        Raises:
            AlertNotDelivered: neither Slack nor the queue has it (no ticket, or the order store is down).
        """
        first: AlertNotDelivered | None = None
        if self.inner is not None:
            try:
                return await self.inner.alert(alert)
            except AlertNotDelivered as exc:
                first = exc
                log.info("staff alert %s not delivered (%s): the console's queue takes it", alert.ticket, exc)
        why = await self._queue_refuses(alert)
        if why is None:
            return f"{QUEUED_PREFIX}{alert.ticket}"
        raise AlertNotDelivered(f"{first}; and the console's queue cannot take it: {why}" if first else why)

    async def _queue_refuses(self, alert: StaffAlert) -> str | None:
        """Why the console's queue cannot take ``alert``, or None when it has it."""
        if not alert.ticket:
            return "there is no ticket to put in the queue"
        try:
            tickets = await asyncio.to_thread(self.facts.tickets, [alert.conversation_id])
        except ShopUnavailable:
            return "the order store cannot be read"
        ticket = tickets.get(alert.conversation_id)
        if ticket is None or ticket.ticket != alert.ticket or ticket.status == "closed":
            return f"ticket {alert.ticket} is not open in the order store"
        return None
