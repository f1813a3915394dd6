"""Pure Slack translation: events and button presses to InboundMessage, bot messages to Block Kit JSON."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.models import Button, OutboundMessage
from connectors.slack.translate import (
    ReplyTarget,
    StaffDirectory,
    blocks_after_press,
    inbound_from_action,
    inbound_from_event,
    render_alert,
    render_messages,
    unslack_text,
)

TEAM = "T0SHOP01"
BOT = "U0BOT001"
STAFF = StaffDirectory(TEAM, {"U0STAFF01": "staff", "U0MNGR001": "manager"})


def event(**fields: Any) -> dict[str, Any]:
    base = {"type": "message", "channel": "D0DM00001", "channel_type": "im", "user": "U0STAFF01",
            "text": "hi", "ts": "1.000100", "team": TEAM}
    return {**base, **fields}


def parse(ev: dict[str, Any], max_chars: int = 2000):
    return inbound_from_event(ev, team_id=TEAM, staff=STAFF, bot_user_id=BOT, max_chars=max_chars)


# ------------------------------------------------------------------------------------------ inbound


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        (f"<@{BOT}> where is my order?", "where is my order?"),
        ("mail <mailto:noah.schmidt@example.com|noah.schmidt@example.com>", "mail noah.schmidt@example.com"),
        ("see <https://shop.example/o/1|my order> &amp; <https://x.example>", "see my order & https://x.example"),
        ("ask <@U0OTHER01> in <#C0LDN0001|london> <!here>", "ask @U0OTHER01 in #london @here"),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
    ],
)
def test_slack_encoding_is_turned_back_into_what_was_typed(raw: str, plain: str) -> None:
    assert unslack_text(raw, BOT) == plain


def test_staff_dm_becomes_a_message_with_staff_metadata_and_a_top_level_reply() -> None:
    parsed = parse(event(text="where is #100185?"))
    assert parsed is not None and parsed.message is not None
    assert parsed.message.conversation_id == f"slack:{TEAM}-U0STAFF01"
    assert parsed.message.text == "where is #100185?"
    assert dict(parsed.message.metadata) == {"staff": {"id": "U0STAFF01", "role": "staff"}}
    assert parsed.target == ReplyTarget("D0DM00001", None)


def test_mention_starts_a_thread_under_the_message_and_a_customer_has_no_staff_metadata() -> None:
    parsed = parse(event(type="app_mention", channel="C0LDN0001", user="U0CUST001", text=f"<@{BOT}> hi",
                         ts="5.000500", channel_type=None))
    assert parsed is not None and parsed.message is not None
    assert parsed.message.sender_id == f"{TEAM}-U0CUST001-5.000500"
    assert dict(parsed.message.metadata) == {}
    assert parsed.target == ReplyTarget("C0LDN0001", "5.000500")


def test_mention_inside_a_thread_continues_that_thread() -> None:
    parsed = parse(event(type="app_mention", channel="C0LDN0001", text=f"<@{BOT}> and?", ts="6.0", thread_ts="5.0"))
    assert parsed is not None and parsed.message is not None
    assert parsed.target == ReplyTarget("C0LDN0001", "5.0")
    assert parsed.message.sender_id.endswith("-5.0")


def test_typed_slash_commands_cannot_become_intents() -> None:
    parsed = parse(event(text='/inform{"order_number": "ORD-100001"}'))
    assert parsed is not None and parsed.message is not None
    assert parsed.message.payload is None
    assert not parsed.message.rasa_text.startswith("/")


def test_allowlisted_user_of_another_workspace_is_not_staff() -> None:
    parsed = parse(event(user_team="T0OTHER01"))
    assert parsed is not None and parsed.message is not None
    assert dict(parsed.message.metadata) == {}


def test_staff_directory_without_a_known_team_gives_nobody_staff() -> None:
    assert StaffDirectory(None, {"U0STAFF01": "staff"}).metadata("U0STAFF01", TEAM) == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"user": BOT},
        {"bot_id": "B0OTHER01"},
        {"subtype": "bot_message"},
        {"subtype": "message_changed"},
        {"subtype": "message_deleted"},
        {"channel_type": "channel"},
        {"text": f"<@{BOT}>   "},
        {"text": None},
        {"user": None},
        {"type": "reaction_added"},
    ],
)
def test_events_that_get_no_answer(fields: dict[str, Any]) -> None:
    assert parse(event(**fields)) is None


def test_file_share_with_text_is_answered() -> None:
    parsed = parse(event(subtype="file_share", text="here is the label"))
    assert parsed is not None and parsed.message is not None and parsed.message.text == "here is the label"


def test_too_long_text_is_an_error_to_tell_not_a_message() -> None:
    parsed = parse(event(text="y" * 11), max_chars=10)
    assert parsed is not None and parsed.message is None
    assert parsed.error is not None and "10" in str(parsed.error)


def _press(value: Any, action_id: str = "rasa_button_0", thread_ts: str | None = "5.0") -> dict[str, Any]:
    message: dict[str, Any] = {"ts": "9.0", "text": "Pick", "blocks": []}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": "U0MNGR001", "team_id": TEAM},
        "channel": {"id": "C0LDN0001"},
        "message": message,
        "actions": [{"action_id": action_id, "text": {"type": "plain_text", "text": "Yes"}, "value": value}],
    }


def test_button_press_is_the_payload_with_the_title_as_text_in_the_message_thread() -> None:
    parsed = inbound_from_action(_press("/affirm"), staff=STAFF, max_chars=2000)
    assert parsed is not None and parsed.message is not None
    assert (parsed.message.payload, parsed.message.text) == ("/affirm", "Yes")
    assert parsed.message.sender_id == f"{TEAM}-U0MNGR001-5.0"
    assert dict(parsed.message.metadata) == {"staff": {"id": "U0MNGR001", "role": "manager"}}
    assert parsed.target == ReplyTarget("C0LDN0001", "5.0")


@pytest.mark.parametrize(
    "body",
    [
        _press("no slash"),
        _press(None),
        _press("/" + "x" * 2001),
        _press("/affirm", action_id="someone_elses_button"),
        {"type": "block_actions", "actions": "nope"},
        {"type": "block_actions", "actions": [], "user": "U1"},
    ],
)
def test_presses_that_are_not_our_buttons_are_ignored(body: dict[str, Any]) -> None:
    assert inbound_from_action(body, staff=STAFF, max_chars=2000) is None


def test_pressed_message_loses_its_buttons_and_says_who_chose_what() -> None:
    body = _press("/affirm")
    body["message"]["blocks"] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Pick"}},
        {"type": "actions", "elements": []},
    ]
    blocks, text = blocks_after_press(body) or ([], "")
    assert blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Pick"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<@U0MNGR001> chose *Yes*"}]},
    ]
    assert text == "Pick"


# ----------------------------------------------------------------------------------------- outbound


def test_text_with_buttons_and_an_image_becomes_section_image_and_actions_blocks() -> None:
    message = OutboundMessage(
        text="Order <ORD-1> & more",
        image="https://cdn.example/p.png",
        buttons=(Button("Yes, please", "/affirm"), Button("No", "/deny")),
    )
    [post] = render_messages([message])
    assert post.to_json() == {
        "text": "Order &lt;ORD-1&gt; &amp; more",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Order &lt;ORD-1&gt; &amp; more"}},
            {"type": "image", "image_url": "https://cdn.example/p.png", "alt_text": "Order <ORD-1> & more"},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Yes, please", "emoji": True},
                     "value": "/affirm", "action_id": "rasa_button_0"},
                    {"type": "button", "text": {"type": "plain_text", "text": "No", "emoji": True},
                     "value": "/deny", "action_id": "rasa_button_1"},
                ],
            },
        ],
    }


def test_product_cards_become_sections_with_image_price_and_button_and_their_text_messages_are_skipped() -> None:
    card = {
        "sku": "SKU-1", "title": "Rose Lip Balm", "brand": "Petal", "price": "12.5", "price_text": "£12.50",
        "currency": "GBP", "image": "https://cdn.example/balm.png", "url": "https://shop.example/p/sku-1",
        "reason": "popular this week", "text": "Rose Lip Balm by Petal: £12.50",
        "buttons": [{"title": "More like this", "payload": '/recommend_product{"product": "Rose Lip Balm"}'}],
    }
    bare = {"title": "Plain Soap", "price": "3", "currency": "GBP", "payload": '/check_stock{"product":"Plain Soap"}'}
    messages = [
        OutboundMessage(text="Here are some ideas:"),
        OutboundMessage(custom={"type": "product_cards", "products": [card, bare]}),
        OutboundMessage(text="Rose Lip Balm by Petal: £12.50", image="https://cdn.example/balm.png",
                        buttons=(Button("More like this", "/recommend_product"),)),
    ]
    intro, cards = render_messages(messages)
    assert intro.text == "Here are some ideas:"
    assert cards.text == "Rose Lip Balm: £12.50\nPlain Soap: £3.00"
    assert list(cards.blocks) == [
        {
            "type": "section",
            "text": {"type": "mrkdwn",
                     "text": "*<https://shop.example/p/sku-1|Rose Lip Balm>* by Petal\n£12.50\n_popular this week_"},
            "accessory": {"type": "image", "image_url": "https://cdn.example/balm.png", "alt_text": "Rose Lip Balm"},
        },
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "More like this", "emoji": True},
             "value": '/recommend_product{"product": "Rose Lip Balm"}', "action_id": "rasa_button_0"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Plain Soap*\n£3.00"}},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Tell me more", "emoji": True},
             "value": '/check_stock{"product":"Plain Soap"}', "action_id": "rasa_button_0"}]},
    ]


def test_fallbacks_long_text_is_split_gateway_paths_and_unknown_custom_payloads_are_left_out() -> None:
    long = ("a" * 2000 + "\n") * 3
    posts = render_messages(
        [
            OutboundMessage(text=long),
            OutboundMessage(image="/static/local.png"),
            OutboundMessage(custom={"type": "handoff", "ticket": "HO-000001", "reason": "asked"}),
            OutboundMessage(buttons=(Button("Talk to a person", "/human_handoff"),)),
        ]
    )
    assert len(posts) == 2
    sections = [b["text"]["text"] for b in posts[0].blocks]
    assert len(sections) == 3 and all(len(s) <= 3000 for s in sections)
    assert len(posts[0].text) <= 4000
    assert posts[1].text == "Options: Talk to a person"
    assert posts[1].blocks[0]["type"] == "actions"


def test_a_payload_slack_cannot_carry_loses_its_button_but_not_the_text() -> None:
    [post] = render_messages([OutboundMessage(text="Pick", buttons=(Button("Huge", "/x" + "y" * 2000),))])
    assert [b["type"] for b in post.blocks] == ["section"]


def test_splitting_never_cuts_an_escape_sequence() -> None:
    [post] = render_messages([OutboundMessage(text="a" * 2998 + "&&&&")])
    first = post.blocks[0]["text"]["text"]
    assert not first.endswith(("&", "&a", "&am", "&amp"))
    assert "".join(b["text"]["text"] for b in post.blocks) == "a" * 2998 + "&amp;" * 4


def test_alert_names_the_ticket_and_the_conversation() -> None:
    post = render_alert("A shopper at the tills needs help", "tablet:abc", "HO-000123")
    assert post.text == "A shopper at the tills needs help (HO-000123)"
    assert post.blocks[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "ticket *HO-000123* · conversation `tablet:abc`"}],
    }
