"""Slack end to end (Events API, signed requests): staff get any order by number, other Slack users must verify.

The gateway runs with the Slack channel pointed at a fake Slack Web API in this process; rasa and the
action server are real. One stack for this module, with the ``SLACK_*`` settings it needs.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack, launch, shop_path
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlackAPI, serve_in_thread, signed_headers

pytestmark = pytest.mark.e2e

STAFF_USER = "U0STAFF01"
CUSTOMER_USER = "U0CUST001"


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlackAPI]:
    """The fake Slack Web API the gateway posts its replies to."""
    with serve_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def slack_stack(tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlackAPI) -> Iterator[RunningStack]:
    """rasa, actions and a gateway serving Slack in Events API mode, on a fresh demo shop."""
    extra = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_MODE": "events",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake_slack.url,
        "SLACK_STAFF": f"{STAFF_USER}:staff",
    }
    with launch(tmp_path_factory.mktemp("e2e-slack"), extra) as running:
        yield running


def post_event(stack: RunningStack, event: dict[str, Any], *, secret: str = SIGNING_SECRET) -> int:
    """POST a signed Events API request to the gateway; return the status."""
    body = {
        "team_id": TEAM_ID,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12]}",
        "event_time": int(time.time()),
        "event": event,
    }
    raw = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback gateway)
        f"{stack.config.gateway_url}/slack/events", data=raw, headers=signed_headers(raw, secret=secret)
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as error:
        return error.code


def dm(user: str, text: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "channel": f"D{user[1:]}", "channel_type": "im", "user": user, "text": text, "ts": ts,
            "team": TEAM_ID}


def replies_to(fake: FakeSlackAPI, channel: str, count: int, timeout: float = 60.0) -> str:
    """Wait for ``count`` posts in ``channel``; return their texts joined."""
    deadline = time.monotonic() + timeout
    while True:
        texts = [c.args.get("text") or "" for c in fake.calls_to("chat.postMessage") if c.args["channel"] == channel]
        if len(texts) >= count or time.monotonic() > deadline:
            return "\n".join(texts)
        time.sleep(0.2)


def test_staff_get_an_order_by_number_without_verification_and_customers_are_asked_to_verify(
    slack_stack: RunningStack, fake_slack: FakeSlackAPI
) -> None:
    case = slack_stack.cases["in_transit"]
    number = case["order_number"]

    assert post_event(slack_stack, dm(STAFF_USER, f"where is order {number.replace('ORD-', '#')}?", "1.000100")) == 200
    staff_reply = replies_to(fake_slack, f"D{STAFF_USER[1:]}", 2)
    assert f"Staff lookup: order {number}" in staff_reply, staff_reply
    assert "tracking number" in staff_reply, staff_reply
    assert "email" not in staff_reply.lower(), staff_reply

    assert post_event(slack_stack, dm(CUSTOMER_USER, f"where is order {number.replace('ORD-', '#')}?", "2.0")) == 200
    customer_reply = replies_to(fake_slack, f"D{CUSTOMER_USER[1:]}", 1)
    assert "email" in customer_reply and "postcode" in customer_reply, customer_reply
    assert "tracking number" not in customer_reply and number not in customer_reply, customer_reply

    with sqlite3.connect(shop_path(slack_stack)) as db:
        lookups = db.execute(
            "SELECT l.staff_id, l.staff_role, l.conversation_id FROM staff_order_lookups l "
            "JOIN orders o ON o.id = l.order_id WHERE o.number = ?",
            (number,),
        ).fetchall()
    assert lookups == [(STAFF_USER, "staff", f"slack:{TEAM_ID}-{STAFF_USER}")]


def test_a_forged_request_is_refused_and_never_answered(slack_stack: RunningStack, fake_slack: FakeSlackAPI) -> None:
    forger = "U0FORGER1"  # its own DM channel, so late replies of the other test cannot be mistaken for it
    assert post_event(slack_stack, dm(forger, "where is order #100001?", "3.0"), secret="forged") == 401
    time.sleep(1.0)
    assert replies_to(fake_slack, f"D{forger[1:]}", 1, timeout=0) == ""
