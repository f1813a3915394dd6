"""``SlackStaffAlerts``: staff alerts posted to the store's Slack channel; installed by the Slack channel."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from connectors.alerts import AlertNotDelivered, StaffAlert
from connectors.slack.translate import render_alert

log = logging.getLogger(__name__)


class SlackStaffAlerts:
    """Posts each alert to its store's channel (``SLACK_STORE_CHANNELS``), else ``SLACK_SUPPORT_CHANNEL``.

    Counts ``slack.alerts`` and ``slack.alert_failed`` in the gateway's counters.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        store_channels: Mapping[str, str],
        support_channel: str | None,
        counts: Counter[str],
    ) -> None:
        """Configure where alerts go.

        Args:
            client: the Web API client (bot token).
            store_channels: store id -> channel id.
            support_channel: channel for everything else; None means such alerts cannot be delivered.
            counts: the dispatcher's counters.
        """
        self.client = client
        self.store_channels = dict(store_channels)
        self.support_channel = support_channel
        self.counts = counts

    def channel_for(self, store_id: str | None) -> str | None:
        """The channel an alert about ``store_id`` goes to, or None when there is none."""
        if store_id is not None and store_id in self.store_channels:
            return self.store_channels[store_id]
        return self.support_channel

    async def alert(self, alert: StaffAlert) -> str:
        """Post ``alert`` and return the Slack message timestamp.

        Args:
            alert: what staff should look at.

        Returns:
            The ``ts`` of the posted message.

        Raises:
            AlertNotDelivered: no channel is configured for the store, or Slack refused the post
                (counted as ``slack.alert_failed``).
        """
        channel = self.channel_for(alert.store_id)
        if channel is None:
            self.counts["slack.alert_failed"] += 1
            raise AlertNotDelivered(
                f"no Slack channel for store {alert.store_id!r}: set SLACK_STORE_CHANNELS or SLACK_SUPPORT_CHANNEL"
            )
        post = render_alert(alert.text, alert.conversation_id, alert.ticket)
        try:
            response = await self.client.chat_postMessage(channel=channel, **post.to_json())
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            self.counts["slack.alert_failed"] += 1
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.error("staff alert for store %s not delivered to %s: %s", alert.store_id, channel, error)
            raise AlertNotDelivered(f"Slack refused the alert ({error})") from exc
        self.counts["slack.alerts"] += 1
        return str(response.get("ts") or "")
