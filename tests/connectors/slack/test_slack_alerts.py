"""SlackStaffAlerts, as installed at app[ALERTS_KEY] by the Slack channel, against the fake Slack API."""

from __future__ import annotations

from collections import Counter

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from connectors.alerts import AlertNotDelivered, StaffAlert
from connectors.keys import ALERTS_KEY
from connectors.slack import SlackStaffAlerts
from console.alerts import QueueAlerts
from tests.connectors.slack.conftest import STORE_CHANNEL, SUPPORT_CHANNEL, SlackGateway
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackAPI


async def test_the_channel_installs_slack_alerts_that_post_to_the_stores_channel(slack_gateway: SlackGateway) -> None:
    # The console wraps Slack's alerts (its hand-off queue takes a call Slack refuses); Slack is tried first.
    installed = slack_gateway.client.app[ALERTS_KEY]
    alerts = installed.inner if isinstance(installed, QueueAlerts) else installed
    assert isinstance(alerts, SlackStaffAlerts)
    ts = await alerts.alert(StaffAlert("LDN-01", "A shopper at the tills needs help", "tablet:kiosk-1", "HO-000042"))
    [call] = slack_gateway.fake.calls_to("chat.postMessage")
    assert ts == "1732800000.000001"
    assert call.token == BOT_TOKEN
    assert call.args == {
        "channel": STORE_CHANNEL,
        "text": "A shopper at the tills needs help (HO-000042)",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "A shopper at the tills needs help"}},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "ticket *HO-000042* · conversation `tablet:kiosk-1`"}]},
        ],
    }
    assert slack_gateway.channel.counts["slack.alerts"] == 1


@pytest.mark.parametrize("store_id", ["MAN-01", None])
async def test_stores_without_a_channel_and_the_online_shop_go_to_the_support_channel(
    slack_gateway: SlackGateway, store_id: str | None
) -> None:
    await slack_gateway.client.app[ALERTS_KEY].alert(StaffAlert(store_id, "Customer asked for a person", "web:abc"))
    [call] = slack_gateway.fake.calls_to("chat.postMessage")
    assert call.args["channel"] == SUPPORT_CHANNEL
    assert call.args["text"] == "Customer asked for a person"


async def test_a_slack_error_raises_alert_not_delivered_and_is_counted(slack_gateway: SlackGateway) -> None:
    slack_gateway.fake.fail["chat.postMessage"] = "not_in_channel"
    with pytest.raises(AlertNotDelivered, match="not_in_channel"):
        await slack_gateway.client.app[ALERTS_KEY].alert(StaffAlert("LDN-01", "help", "tablet:k"))
    assert slack_gateway.channel.counts["slack.alert_failed"] == 1
    assert slack_gateway.channel.counts["slack.alerts"] == 0


async def test_no_channel_at_all_raises_without_calling_slack(fake_slack: FakeSlackAPI) -> None:
    counts: Counter[str] = Counter()
    alerts = SlackStaffAlerts(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url), {}, None, counts)
    with pytest.raises(AlertNotDelivered, match="SLACK_STORE_CHANNELS"):
        await alerts.alert(StaffAlert("LDN-01", "help", "tablet:k"))
    assert fake_slack.calls == []
    assert counts["slack.alert_failed"] == 1


async def test_slack_unreachable_raises_alert_not_delivered(fake_slack: FakeSlackAPI) -> None:
    counts: Counter[str] = Counter()
    url = fake_slack.url
    await fake_slack.stop()  # nothing listens there any more
    alerts = SlackStaffAlerts(AsyncWebClient(token=BOT_TOKEN, base_url=url, timeout=2), {}, SUPPORT_CHANNEL, counts)
    with pytest.raises(AlertNotDelivered):
        await alerts.alert(StaffAlert(None, "help", "web:x"))
    assert counts["slack.alert_failed"] == 1
