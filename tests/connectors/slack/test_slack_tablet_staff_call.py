"""A tablet's "call a staff member" reaches the shop's Slack channel (tablet channel, SlackStaffAlerts, fake Slack)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from connectors.slack import SlackStaffAlerts
from connectors.tablet.translate import CALLED
from tests.connectors.gateway_fakes import FakeRasa
from tests.connectors.slack.conftest import STORE_CHANNEL, SUPPORT_CHANNEL
from tests.connectors.tablet_fixtures import start_tablet_gateway
from tests.fakes.slack_api import BOT_TOKEN, FakeSlackAPI


def staff_call(body: dict[str, Any]) -> list[dict[str, Any]]:
    summary = "customer: is the argan shampoo here [check_stock]"
    return [{"custom": {"type": "staff_call", "store_id": "LDN-01", "ticket": "HO-000077", "summary": summary}}]


async def test_a_tablet_staff_call_is_posted_to_the_shops_slack_channel(
    fake_rasa: FakeRasa, fake_slack: FakeSlackAPI
) -> None:
    counts: Counter[str] = Counter()
    alerts = SlackStaffAlerts(
        AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.url), {"LDN-01": STORE_CHANNEL}, SUPPORT_CHANNEL, counts
    )
    gateway = await start_tablet_gateway(fake_rasa, alerts=alerts)  # type: ignore[arg-type]
    try:
        _, token = gateway.register("LDN-01", "front door")
        session_id = await gateway.session(token)
        fake_rasa.replies = staff_call
        status, body = await gateway.say(token, session_id, payload="/human_handoff")
        assert status == 200
        assert body["messages"][-1]["text"] == CALLED.format(ticket="HO-000077")
        [post] = fake_slack.calls_to("chat.postMessage")
        assert post.args["channel"] == STORE_CHANNEL
        assert "front door" in post.args["text"] and "HO-000077" in post.args["text"]
        assert "argan shampoo" in str(post.args["blocks"])  # staff see the summary; the shopper did not
        assert "argan" not in str(body)
        assert counts["slack.alerts"] == 1
    finally:
        await gateway.client.close()
