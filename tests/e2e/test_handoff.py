"""Hand-off end to end: a web customer asks for a person, staff claim in Slack (Events API, signed), talk, resolve.

rasa, the action server and the gateway are real; Slack is the fake Web API in this process. The customer
uses the web channel's HTTP API. Checks what reached Slack, what the customer got, that rasa saw nothing
while a person held the conversation (its tracker store), and what the order store recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.e2e.conftest import RunningStack, launch, shop_path
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlackAPI, serve_in_thread, signed_headers

pytestmark = pytest.mark.e2e

STAFF_USER = "U0STAFF01"
SUPPORT_CHANNEL = "C0SUPP001"
T = TypeVar("T")


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlackAPI]:
    """The fake Slack Web API the gateway posts tickets and relayed messages to."""
    with serve_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def handoff_stack(tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlackAPI) -> Iterator[RunningStack]:
    """rasa, actions and a gateway with Slack in Events API mode and a support channel for tickets."""
    extra = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_MODE": "events",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake_slack.url,
        "SLACK_STAFF": f"{STAFF_USER}:staff",
        "SLACK_SUPPORT_CHANNEL": SUPPORT_CHANNEL,
        "HANDOFF_OPENING_HOURS": "always",
    }
    with launch(tmp_path_factory.mktemp("e2e-handoff"), extra) as running:
        yield running


def http(stack: RunningStack, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(  # noqa: S310 (loopback gateway)
        f"{stack.config.gateway_url}{path}", data=body, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def say(stack: RunningStack, conversation: str, **content: str) -> list[dict[str, Any]]:
    raw = json.dumps({"conversation_id": conversation, **content}).encode()
    status, body = http(stack, "/api/web/messages", body=raw, headers={"Content-Type": "application/json"})
    assert status == 200, body
    return body["messages"]


def slack(stack: RunningStack, raw: bytes, content_type: str = "application/json") -> int:
    status, _ = http(stack, "/slack/events", body=raw, headers=signed_headers(raw, content_type=content_type))
    return int(status)


def wait(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def rasa_turns(stack: RunningStack, sender: str) -> int:
    """How many customer messages rasa's tracker store holds for ``sender``."""
    with sqlite3.connect(stack.config.tracker_db_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT count(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)).fetchone()
    return int(row[0])


def history(stack: RunningStack, conversation: str) -> list[str]:
    status, body = http(stack, f"/api/web/history?conversation_id={conversation}")
    assert status == 200, body
    return [e["message"].get("text", "") for e in body["entries"] if e["role"] == "bot"]


def test_a_person_takes_over_talks_through_slack_and_hands_back(
    handoff_stack: RunningStack, fake_slack: FakeSlackAPI
) -> None:
    stack = handoff_stack
    conversation = f"e2e-handoff-{uuid.uuid4().hex}"
    sender = f"web:{conversation}"

    # 1. The customer asks for a person (the widget's "Talk to a person" button sends this payload).
    replies = say(stack, conversation, payload="/human_handoff", title="Talk to a person")
    texts = [m.get("text") or "" for m in replies]
    assert any("ticket is HO-" in t for t in texts), texts
    assert not any((m.get("custom") or {}).get("type") == "handoff" for m in replies), replies
    ticket = next(t for t in texts if "HO-" in t).split("ticket is ")[1][:9]

    # 2. The ticket is in the support channel with a Claim button.
    def ticket_post() -> dict[str, Any] | None:
        for call in fake_slack.calls_to("chat.postMessage"):
            if call.args.get("channel") == SUPPORT_CHANNEL and ticket in (call.args.get("text") or ""):
                return call.args
        return None

    post = wait(ticket_post, "the ticket in Slack")
    assert "customer asked for a person" in json.dumps(post["blocks"]) and sender in json.dumps(post["blocks"])
    ticket_ts = wait(lambda: _ticket_ts(stack, ticket), "the ticket's Slack ts in the read API")

    # 3. Sam claims it (a signed block_actions request).
    press = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": STAFF_USER, "username": "sam", "name": "Sam", "team_id": TEAM_ID},
        "channel": {"id": SUPPORT_CHANNEL},
        "message": {"ts": ticket_ts, "text": post["text"], "blocks": post["blocks"]},
        "actions": [{"type": "button", "action_id": "handoff_claim", "value": ticket, "action_ts": "1.0"}],
    }
    assert (
        slack(
            stack, urllib.parse.urlencode({"payload": json.dumps(press)}).encode(), "application/x-www-form-urlencoded"
        )
        == 200
    )
    update = wait(
        lambda: [c.args for c in fake_slack.calls_to("chat.update") if c.args.get("ts") == ticket_ts],
        "the claimed ticket message",
    )[0]
    assert f"Claimed by <@{STAFF_USER}>" in json.dumps(update["blocks"])
    wait(lambda: any("Sam from our team has picked up" in t for t in history(stack, conversation)), "the join note")
    with sqlite3.connect(shop_path(stack)) as db:
        row = db.execute(
            "SELECT status, assigned_to FROM handoff_tickets WHERE ticket_number = ?", (ticket,)
        ).fetchone()
    assert row == ("assigned", f"Sam ({STAFF_USER})")

    # 4. The customer writes: it lands in the thread and rasa never sees it.
    turns = rasa_turns(stack, sender)
    assert say(stack, conversation, text="my parcel never came, can you check?") == []

    def thread() -> list[str]:
        return [c.args["text"] for c in fake_slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ticket_ts]

    wait(lambda: "*Customer:* my parcel never came, can you check?" in thread(), "the customer's line in the thread")
    assert rasa_turns(stack, sender) == turns

    # 5. Sam replies in the thread: the customer gets it, attributed.
    def thread_event(text: str) -> bytes:
        event = {
            "type": "message",
            "channel": SUPPORT_CHANNEL,
            "channel_type": "channel",
            "user": STAFF_USER,
            "text": text,
            "ts": f"{time.time():.6f}",
            "thread_ts": ticket_ts,
            "team": TEAM_ID,
        }
        return json.dumps(
            {
                "team_id": TEAM_ID,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:12]}",
                "event_time": int(time.time()),
                "event": event,
            }
        ).encode()

    assert slack(stack, thread_event("I've asked the carrier, you'll have news tomorrow")) == 200
    wait(
        lambda: "Sam (staff): I've asked the carrier, you'll have news tomorrow" in history(stack, conversation),
        "Sam's reply at the customer",
    )
    assert rasa_turns(stack, sender) == turns

    # 6. Resolve: the customer is told, and the bot answers the next message again.
    assert slack(stack, thread_event("resolve")) == 200
    wait(lambda: any(f"closed ticket {ticket}" in t for t in history(stack, conversation)), "the resolved note")
    with sqlite3.connect(shop_path(stack)) as db:
        status = db.execute("SELECT status FROM handoff_tickets WHERE ticket_number = ?", (ticket,)).fetchone()[0]
    assert status == "closed"
    answer = say(stack, conversation, text="hello")
    assert answer and all(m.get("text") for m in answer), answer
    assert rasa_turns(stack, sender) == turns + 1


def _ticket_ts(stack: RunningStack, ticket: str) -> str | None:
    status, body = http(stack, "/api/handoffs", headers={"Authorization": f"Bearer {stack.config.token}"})
    assert status == 200, body
    return next((h["slack_ts"] for h in body["handoffs"] if h["ticket"] == ticket and h["slack_ts"]), None)
