"""The real Bolt app over the Events API (``POST /slack/events``) against a fake Slack Web API and a fake rasa."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pytest

from connectors.errors import RESTARTING
from tests.connectors.gateway_fakes import offer
from tests.connectors.slack.conftest import (
    CUSTOMER_USER,
    DM_CHANNEL,
    MANAGER_USER,
    STAFF_USER,
    STORE_CHANNEL,
    SlackGateway,
    dm,
    event_envelope,
    mention,
)
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, TEAM_ID, signed_headers

STAFF_META = {"channel": "slack", "staff": {"id": STAFF_USER, "role": "staff"}}


async def test_url_verification_challenge_is_answered(slack_gateway: SlackGateway) -> None:
    resp = await slack_gateway.post_event({"type": "url_verification", "token": "t", "challenge": "c-3f9a"})
    assert resp.status == 200
    assert await resp.json() == {"challenge": "c-3f9a"}
    assert slack_gateway.rasa.received == []


async def test_staff_dm_is_acknowledged_at_once_and_answered_with_staff_metadata(slack_gateway: SlackGateway) -> None:
    slack_gateway.rasa.delay = 1.5  # rasa is slow; Slack must still get its 200 well inside 3 s
    started = time.monotonic()
    resp = await slack_gateway.post_event(event_envelope(dm("where is order #100185?")))
    assert resp.status == 200
    assert time.monotonic() - started < 1.0
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == [
        {"sender": f"slack:{TEAM_ID}-{STAFF_USER}", "message": "where is order #100185?", "metadata": STAFF_META}
    ]
    assert slack_gateway.posts == [
        {
            "channel": DM_CHANNEL,
            "text": "echo: where is order #100185?",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "echo: where is order #100185?"}}],
        }
    ]
    assert slack_gateway.channel.counts["slack.sent"] == 1


async def test_a_dm_in_a_thread_is_its_own_conversation_answered_in_that_thread(slack_gateway: SlackGateway) -> None:
    event = dm("and the other one?", user=MANAGER_USER, ts="1732770000.000300", thread_ts="1732770000.000100")
    assert (await slack_gateway.post_event(event_envelope(event))).status == 200
    await slack_gateway.channel.drain()
    [received] = slack_gateway.rasa.received
    assert received["sender"] == f"slack:{TEAM_ID}-{MANAGER_USER}-1732770000.000100"
    assert received["metadata"] == {"channel": "slack", "staff": {"id": MANAGER_USER, "role": "manager"}}
    assert [(p["channel"], p["thread_ts"]) for p in slack_gateway.posts] == [(DM_CHANNEL, "1732770000.000100")]


async def test_a_mention_in_a_channel_is_answered_in_a_thread_with_customer_metadata(
    slack_gateway: SlackGateway,
) -> None:
    event = mention(f"<@{BOT_USER_ID}> is <mailto:a@b.co|a@b.co> right &amp; ok?", ts="1732770100.000200")
    assert (await slack_gateway.post_event(event_envelope(event))).status == 200
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == [
        {
            "sender": f"slack:{TEAM_ID}-{CUSTOMER_USER}-1732770100.000200",
            "message": "is a@b.co right & ok?",
            "metadata": {"channel": "slack"},
        }
    ]
    [post] = slack_gateway.posts
    assert post["channel"] == STORE_CHANNEL
    assert post["thread_ts"] == "1732770100.000200"
    assert post["text"] == "echo: is a@b.co right &amp; ok?"  # Slack's escaping, on the way out too


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},  # forged
        signed_headers(b"a different body"),  # signature of another body
        "wrong-secret",
        "stale",
        {"X-Slack-Signature": ""},
    ],
)
async def test_forged_or_stale_signatures_get_401_and_nothing_reaches_rasa(
    slack_gateway: SlackGateway, headers: Any
) -> None:
    raw = json.dumps(event_envelope(dm("where is order 100185?"))).encode()
    if headers == "wrong-secret":
        headers = signed_headers(raw, secret="not-the-secret")
    elif headers == "stale":
        headers = signed_headers(raw, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = {**signed_headers(raw), **headers}
    resp = await slack_gateway.client.post("/slack/events", data=raw, headers=headers)
    assert resp.status == 401
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == []
    assert slack_gateway.fake.calls == []
    assert slack_gateway.channel.counts["slack.rejected"] == 1


async def test_unsigned_request_gets_401(slack_gateway: SlackGateway) -> None:
    resp = await slack_gateway.client.post("/slack/events", json=event_envelope(dm("hi")))
    assert resp.status == 401
    assert slack_gateway.rasa.received == []


async def test_a_retry_of_the_same_event_is_acknowledged_and_processed_once(slack_gateway: SlackGateway) -> None:
    body = event_envelope(dm("hello"), event_id="Ev0RETRY1")
    first = await slack_gateway.post_event(body)
    retry = await slack_gateway.post_event(body, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    again = await slack_gateway.post_event(body, **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"})
    assert (first.status, retry.status, again.status) == (200, 200, 200)
    await slack_gateway.channel.drain()
    assert len(slack_gateway.rasa.received) == 1
    assert len(slack_gateway.posts) == 1
    assert slack_gateway.channel.counts["slack.duplicate"] == 2
    # a different event with the same text is a new message
    await slack_gateway.post_event(event_envelope(dm("hello", ts="1732770000.000900"), event_id="Ev0OTHER1"))
    await slack_gateway.channel.drain()
    assert len(slack_gateway.rasa.received) == 2


async def test_dedupe_memory_is_bounded(slack_gateway: SlackGateway) -> None:
    channel = slack_gateway.channel
    channel.settings = channel.settings.model_copy(update={"dedupe_size": 3})
    for n in range(5):
        await slack_gateway.post_event(event_envelope(dm(f"m{n}", ts=f"1732770000.00{n}000"), event_id=f"Ev{n}"))
    await channel.drain()
    assert list(channel._seen_events) == ["Ev2", "Ev3", "Ev4"]


def _press_payload(value: str, title: str, thread_ts: str | None, user: str = STAFF_USER) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": "1732800000.000001",
        "text": "Is this the right order?",
        "blocks": [
            {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "Is this the right order?"}},
            {
                "type": "actions",
                "block_id": "a1",
                "elements": [
                    {"type": "button", "action_id": "rasa_button_0", "text": {"type": "plain_text", "text": "Yes"},
                     "value": "/affirm"},
                    {"type": "button", "action_id": "rasa_button_1", "text": {"type": "plain_text", "text": "No"},
                     "value": "/deny"},
                ],
            },
        ],
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "shop"},
        "user": {"id": user, "username": "sam", "team_id": TEAM_ID},
        "api_app_id": "A0APP",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1732800000.000001", "channel_id": STORE_CHANNEL},
        "trigger_id": f"123.456.{uuid.uuid4().hex[:12]}",  # unique per press, as Slack makes them
        "channel": {"id": STORE_CHANNEL, "name": "london"},
        "message": message,
        "actions": [
            {"type": "button", "action_id": "rasa_button_0", "block_id": "a1", "text": {"type": "plain_text",
             "text": title}, "value": value, "action_ts": "1732800001.000000"}
        ],
    }


async def test_a_button_press_dispatches_its_payload_in_the_thread_and_removes_the_buttons(
    slack_gateway: SlackGateway,
) -> None:
    await offer(slack_gateway.channel.dispatcher, f"slack:{TEAM_ID}-{STAFF_USER}-1732770100.000200", "/affirm")
    resp = await slack_gateway.press(_press_payload("/affirm", "Yes", thread_ts="1732770100.000200"))
    assert resp.status == 200
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == [
        {"sender": f"slack:{TEAM_ID}-{STAFF_USER}-1732770100.000200", "message": "/affirm", "metadata": STAFF_META}
    ]
    [update] = [c.args for c in slack_gateway.fake.calls_to("chat.update")]
    assert update == {
        "channel": STORE_CHANNEL,
        "ts": "1732800000.000001",
        "text": "Is this the right order?",
        "blocks": [
            {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "Is this the right order?"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<@{STAFF_USER}> chose *Yes*"}]},
        ],
    }
    [post] = slack_gateway.posts
    assert (post["channel"], post["thread_ts"], post["text"]) == (STORE_CHANNEL, "1732770100.000200", "echo: /affirm")


async def test_a_button_whose_value_is_not_a_payload_is_acknowledged_and_ignored(slack_gateway: SlackGateway) -> None:
    resp = await slack_gateway.press(_press_payload("typed text", "Sneaky", thread_ts="1732770100.000200"))
    assert resp.status == 200
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == []
    assert slack_gateway.fake.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(
    "event",
    [
        dm("I am the bot", user=BOT_USER_ID),
        dm("another bot", user="U0OTHERB1", bot_id="B0OTHER01"),
        dm("edited", subtype="message_changed"),
        dm("joined", subtype="channel_join"),
        {**dm("in a channel"), "channel_type": "channel", "channel": STORE_CHANNEL},  # no mention: not for us
        dm("   "),
        mention(f"<@{BOT_USER_ID}>"),
    ],
)
async def test_own_and_other_bots_messages_edits_and_empty_text_are_not_answered(
    slack_gateway: SlackGateway, event: dict[str, Any]
) -> None:
    resp = await slack_gateway.post_event(event_envelope(event))
    assert resp.status == 200
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == []
    assert slack_gateway.fake.calls_to("chat.postMessage") == []


async def test_rasa_down_gets_the_same_polite_text_as_the_web(slack_gateway: SlackGateway) -> None:
    slack_gateway.rasa.status = 503
    await slack_gateway.post_event(event_envelope(mention(f"<@{BOT_USER_ID}> hi", ts="1732770100.000500")))
    await slack_gateway.channel.drain()
    [post] = slack_gateway.posts
    assert post["text"] == RESTARTING
    assert post["thread_ts"] == "1732770100.000500"
    assert slack_gateway.channel.counts["slack.rasa_unavailable"] == 1


async def test_a_failed_send_raises_and_is_counted(
    slack_gateway: SlackGateway, caplog: pytest.LogCaptureFixture
) -> None:
    slack_gateway.fake.fail["chat.postMessage"] = "channel_not_found"
    with caplog.at_level(logging.ERROR, logger="connectors.slack.channel"):
        await slack_gateway.post_event(event_envelope(dm("hello")))
        await slack_gateway.channel.drain()
    assert slack_gateway.channel.counts["slack.send_failed"] == 1
    assert slack_gateway.channel.counts["slack.sent"] == 0
    [record] = [r for r in caplog.records if "slack answer failed" in r.getMessage()]
    assert "chat.postMessage failed: channel_not_found" in record.getMessage()
    # the gateway keeps serving
    slack_gateway.fake.fail.clear()
    await slack_gateway.post_event(event_envelope(dm("again", ts="1732770000.000700"), event_id="Ev0AGAIN1"))
    await slack_gateway.channel.drain()
    assert slack_gateway.channel.counts["slack.sent"] == 1


async def test_a_rate_limited_send_is_retried_after_slacks_retry_after(slack_gateway: SlackGateway) -> None:
    slack_gateway.fake.rate_limited["chat.postMessage"] = 2  # Slack answers 429 twice, then takes the post
    await slack_gateway.post_event(event_envelope(dm("hello")))
    await slack_gateway.channel.drain()
    assert len(slack_gateway.fake.calls_to("chat.postMessage")) == 3
    assert [p["text"] for p in slack_gateway.posts] == ["echo: hello"] * 3  # the same post, sent again after each 429
    assert slack_gateway.channel.counts["slack.sent"] == 1 and slack_gateway.channel.counts["slack.send_failed"] == 0


async def test_a_message_over_the_limit_is_refused_politely_without_asking_rasa(slack_gateway: SlackGateway) -> None:
    await slack_gateway.post_event(event_envelope(dm("x" * 2001)))
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == []
    [post] = slack_gateway.posts
    assert "too long" in post["text"] and "2000" in post["text"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"\xff\xfe\x00binary\x00", "application/json"),
    ],
)
async def test_signed_but_malformed_bodies_get_400_and_the_gateway_keeps_serving(
    slack_gateway: SlackGateway, raw: bytes, content_type: str
) -> None:
    resp = await slack_gateway.client.post(
        "/slack/events", data=raw, headers=signed_headers(raw, content_type=content_type)
    )
    assert resp.status == 400
    assert slack_gateway.rasa.received == []
    ok = await slack_gateway.post_event(event_envelope(dm("still there?")))
    assert ok.status == 200


async def test_a_huge_body_gets_413(slack_gateway: SlackGateway) -> None:
    raw = json.dumps(event_envelope(dm("x" * 300_000))).encode()
    resp = await slack_gateway.client.post("/slack/events", data=raw, headers=signed_headers(raw))
    assert resp.status == 413
    assert slack_gateway.rasa.received == []


async def test_replies_keep_the_order_of_the_messages_in_one_conversation(slack_gateway: SlackGateway) -> None:
    slack_gateway.rasa.delay = 0.2
    for n in range(3):
        await slack_gateway.post_event(event_envelope(dm(f"message {n}", ts=f"1732770000.00{n}100"), event_id=f"E{n}"))
    await slack_gateway.channel.drain()
    assert [p["text"] for p in slack_gateway.posts] == ["echo: message 0", "echo: message 1", "echo: message 2"]


async def test_events_and_actions_we_do_not_handle_are_acknowledged_not_answered(slack_gateway: SlackGateway) -> None:
    reaction = {"type": "reaction_added", "user": STAFF_USER, "reaction": "thumbsup", "item": {"type": "message"}}
    assert (await slack_gateway.post_event(event_envelope(reaction, event_id="Ev0REACT1"))).status == 200
    other = _press_payload("/affirm", "Yes", thread_ts=None)
    other["actions"][0]["action_id"] = "someone_elses_button"
    assert (await slack_gateway.press(other)).status == 200
    await slack_gateway.channel.drain()
    assert slack_gateway.rasa.received == []
    assert slack_gateway.fake.calls_to("chat.postMessage") == []
    assert slack_gateway.channel.counts["slack.ignored"] == 2


async def test_a_failed_update_of_the_pressed_message_is_counted_but_the_press_is_still_answered(
    slack_gateway: SlackGateway, caplog: pytest.LogCaptureFixture
) -> None:
    slack_gateway.fake.fail["chat.update"] = "message_not_found"
    await offer(slack_gateway.channel.dispatcher, f"slack:{TEAM_ID}-{STAFF_USER}-1732770100.000200", "/deny")
    with caplog.at_level(logging.ERROR, logger="connectors.slack.channel"):
        assert (await slack_gateway.press(_press_payload("/deny", "No", thread_ts="1732770100.000200"))).status == 200
        await slack_gateway.channel.drain()
    assert [r["message"] for r in slack_gateway.rasa.received] == ["/deny"]
    assert [p["text"] for p in slack_gateway.posts] == ["echo: /deny"]
    assert slack_gateway.channel.counts["slack.send_failed"] == 1
    assert any("chat.update failed: message_not_found" in r.getMessage() for r in caplog.records)
