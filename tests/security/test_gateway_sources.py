"""What the gateway vouches for (findings 1 and 2): each message's source and staff status, signed for the actions.

A request's source is what failed proofs are counted by, so a client must not choose it: the web client is
its TCP peer unless that peer is a configured trusted proxy; a tablet is its device; a Slack user is their
workspace and user, staff only in the app's own workspace. Slack requests replayed as they were are
processed once. The real gateway app (channels, Bolt) runs against a fake rasa that records each body.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.claims import CLAIM_KEY, Claim, verify_claim
from connectors.keys import SESSIONS_KEY
from connectors.rasa_client import RasaClient
from connectors.slack import SlackChannel
from connectors.source import client_address, parse_trusted_proxies
from connectors.tablet import TabletChannel, TabletSettings
from connectors.tablet.channel import StoreNames
from connectors.tablet.devices import TabletRegistry
from connectors.web import WebChannel
from connectors.web.settings import WebSettings
from gateway import create_app
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings, offer
from tests.connectors.slack.conftest import STAFF_USER, dm, event_envelope, slack_settings
from tests.connectors.tablet_fixtures import SHOPS
from tests.fakes.slack_api import TEAM_ID, FakeSlackAPI, signed_headers

SECRET = "gateway-sources-claims-secret-0123456789"
OTHER_TEAM = "T0OTHER99"


def _claim(body: dict[str, Any]) -> Claim:
    return verify_claim(SECRET, body["metadata"][CLAIM_KEY], sender=body["sender"])


async def _client(fake: FakeRasa, channel: Any) -> TestClient:
    settings = make_settings(fake.url, claims_secret=SECRET)
    rasa = RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5, claims_secret=SECRET)
    client = TestClient(TestServer(create_app(settings, rasa, channels=[channel]), host="127.0.0.1", port=0))
    await client.start_server()
    return client


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        ("", "203.0.113.50", "web:ip:127.0.0.0/8"),  # no trusted proxy: the header is ignored
        ("10.0.0.0/8", "203.0.113.50", "web:ip:127.0.0.0/8"),  # our peer is not one of the trusted proxies
        ("127.0.0.1", "203.0.113.50", "web:ip:203.0.113.50"),  # behind our proxy: its client
        ("127.0.0.1", "198.51.100.1, 203.0.113.50", "web:ip:203.0.113.50"),  # the hop our proxy added counts
        ("127.0.0.1, 10.0.0.0/8", "203.0.113.50, 10.1.2.3", "web:ip:203.0.113.50"),  # through two of ours
    ],
)
async def test_web_source_is_the_peer_unless_it_is_a_trusted_proxy(
    fake_rasa: FakeRasa, proxies: str, forwarded: str, expected: str
) -> None:
    channel = WebChannel(settings=WebSettings(trusted_proxies=parse_trusted_proxies(proxies)))
    client = await _client(fake_rasa, channel)
    try:
        for i in range(2):  # a new conversation id is not a new source
            resp = await client.post(
                "/api/web/messages",
                json={"conversation_id": f"fresh-{uuid.uuid4().hex[:12]}", "text": "hi"},
                headers={"X-Forwarded-For": forwarded},
            )
            assert resp.status == 200
            assert _claim(fake_rasa.received[i]).source == expected
    finally:
        await client.close()


def test_client_address_rules() -> None:
    proxies = parse_trusted_proxies("127.0.0.1,::1")
    assert client_address("127.0.0.1", "garbage, 203.0.113.7", proxies) == "203.0.113.7"
    assert client_address("127.0.0.1", "203.0.113.7, not-an-ip", proxies) == "127.0.0.0/8"
    assert client_address("::1", "2001:db8:1:2:3:4:5:6", proxies) == "2001:db8:1:2::/64"  # a household's prefix
    assert client_address("::ffff:198.51.100.9", None, ()) == "198.51.100.9"
    assert client_address(None, "203.0.113.7", proxies) == "unknown"


async def test_a_tablet_message_carries_its_device_and_shop_signed(fake_rasa: FakeRasa, tmp_path: Any) -> None:
    channel = TabletChannel(
        TabletSettings(idle_seconds=60, countdown_seconds=10), store_names=StoreNames(load=lambda: SHOPS)
    )
    client = await _client(fake_rasa, channel)
    try:
        registry = TabletRegistry(client.app[SESSIONS_KEY])
        device, token = registry.register("LDN-01", "front door", SHOPS)
        headers = {"Authorization": f"Bearer {token}"}
        session = (await (await client.post("/api/tablet/session", headers=headers)).json())["session_id"]
        body = {"session_id": session, "text": "hi", "store_id": "MAN-01", "metadata": {"staff": {"id": "U1"}}}
        resp = await client.post("/api/tablet/messages", json=body, headers=headers)
        assert resp.status == 200
        claim = _claim(fake_rasa.received[0])
        assert (claim.channel, claim.store_id, claim.source) == (
            "tablet",
            "LDN-01",
            f"tablet:device:{device.device_id}",
        )
        assert claim.staff_id is None and claim.staff_role is None
    finally:
        await client.close()


@pytest_asyncio.fixture
async def slack(fake_rasa: FakeRasa, fake_slack: FakeSlackAPI) -> AsyncIterator[tuple[TestClient, SlackChannel]]:
    channel = SlackChannel(slack_settings(fake_slack.url), max_message_chars=2000)
    client = await _client(fake_rasa, channel)
    yield client, channel
    await client.close()


async def _post(client: TestClient, body: dict[str, Any]) -> int:
    raw = json.dumps(body).encode()
    return (await client.post("/slack/events", data=raw, headers=signed_headers(raw))).status


async def test_slack_staff_only_in_the_apps_own_workspace(
    slack: tuple[TestClient, SlackChannel], fake_rasa: FakeRasa
) -> None:
    client, channel = slack
    ours = event_envelope(dm("order ORD-100042"), event_id="Ev0OURS01")
    # a signed event delivered for another workspace, from a user id that is on our allowlist
    theirs = event_envelope(
        dm("order ORD-100042", team=OTHER_TEAM, ts="1732770000.000200"), event_id="Ev0THEIRS", team=OTHER_TEAM
    )
    # a user of another workspace in a channel shared with ours
    shared = event_envelope(dm("order ORD-100042", user_team=OTHER_TEAM, ts="1732770000.000300"), event_id="Ev0SHARE")
    for body in (ours, theirs, shared):
        assert await _post(client, body) == 200
        await channel.drain()  # one at a time: the fake records them in this order
    claims = [_claim(b) for b in fake_rasa.received]
    assert [(c.staff_id, c.staff_role) for c in claims] == [(STAFF_USER, "staff"), (None, None), (None, None)]
    assert ["staff" in b["metadata"] for b in fake_rasa.received] == [True, False, False]
    assert claims[0].source == f"slack:user:{TEAM_ID}-{STAFF_USER}"


def _press(trigger: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "shop"},
        "user": {"id": STAFF_USER, "username": "sam", "team_id": TEAM_ID},
        "api_app_id": "A0APP",
        "container": {"type": "message", "message_ts": "1732800000.000001", "channel_id": "C0LDN0001"},
        "trigger_id": trigger,
        "channel": {"id": "C0LDN0001", "name": "london"},
        "message": {"type": "message", "ts": "1732800000.000001", "text": "Cancel it?", "blocks": []},
        "actions": [
            {
                "type": "button",
                "action_id": "rasa_button_0",
                "block_id": "a1",
                "text": {"type": "plain_text", "text": "Yes"},
                "value": "/affirm",
                "action_ts": "1732800001.000000",
            }
        ],
    }


async def test_a_replayed_button_press_is_processed_once(
    slack: tuple[TestClient, SlackChannel], fake_rasa: FakeRasa
) -> None:
    client, channel = slack
    # the assistant offered the button in that direct conversation (only offered presses reach rasa as payloads)
    await offer(channel.dispatcher, f"slack:{TEAM_ID}-{STAFF_USER}", "/affirm")
    raw = urlencode({"payload": json.dumps(_press("111.222.replayed"))}).encode()
    headers = signed_headers(raw, content_type="application/x-www-form-urlencoded")
    for _ in range(3):  # the same signed request, sent again within the five minutes its signature is valid
        assert (await client.post("/slack/events", data=raw, headers=headers)).status == 200
    # re-signed with a fresh timestamp (as a replay through Socket Mode would arrive): same press, still once
    fresh = signed_headers(raw, content_type="application/x-www-form-urlencoded", timestamp=int(time.time()) + 1)
    assert (await client.post("/slack/events", data=raw, headers=fresh)).status == 200
    await channel.drain()
    assert [b["message"] for b in fake_rasa.received] == ["/affirm"]
    assert channel.counts["slack.replayed"] == 3
    # another press (its own trigger id) is a new message
    raw = urlencode({"payload": json.dumps(_press("111.222.another"))}).encode()
    headers = signed_headers(raw, content_type="application/x-www-form-urlencoded")
    assert (await client.post("/slack/events", data=raw, headers=headers)).status == 200
    await channel.drain()
    assert len(fake_rasa.received) == 2
