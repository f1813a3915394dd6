"""Pure tests of the normalized message model (connectors.models)."""

from __future__ import annotations

import pytest

from connectors.errors import InvalidMessage
from connectors.models import Button, InboundMessage, OutboundMessage, parse_rasa_reply


def test_inbound_conversation_id_and_rasa_text() -> None:
    msg = InboundMessage("web", "abc12345", text="where is my order?")
    assert msg.conversation_id == "web:abc12345"
    assert msg.rasa_text == "where is my order?"
    assert msg.metadata == {}


def test_inbound_payload_wins_over_text() -> None:
    payload = '/inform{"order_number":"ORD-100001"}'
    msg = InboundMessage("telegram", "42", text="ORD-100001", payload=payload)
    assert msg.rasa_text == payload


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel": "", "sender_id": "a", "text": "hi"},
        {"channel": "Web Chat", "sender_id": "a", "text": "hi"},
        {"channel": "web", "sender_id": "", "text": "hi"},
        {"channel": "web", "sender_id": "a"},
        {"channel": "web", "sender_id": "a", "text": ""},
        {"channel": "web", "sender_id": "a", "text": 5},
        {"channel": "web", "sender_id": "a", "text": "hi", "metadata": ["x"]},
    ],
)
def test_inbound_rejects_junk(kwargs: dict) -> None:
    with pytest.raises(InvalidMessage):
        InboundMessage(**kwargs)


def test_from_rasa_text_buttons_image_custom() -> None:
    msg = OutboundMessage.from_rasa(
        {
            "recipient_id": "web:abc12345",
            "text": "Which order?",
            "buttons": [
                {
                    "title": "ORD-100001",
                    "payload": '/inform{"order_number":"ORD-100001"}',
                },
                {"title": "Another", "payload": "/deny", "type": "postback"},
            ],
            "image": "https://shop.example/img/parcel.png",
            "custom": {"handoff": {"queue": "returns"}},
            "something_new": 1,
        }
    )
    assert msg.text == "Which order?"
    assert msg.buttons == (
        Button("ORD-100001", '/inform{"order_number":"ORD-100001"}'),
        Button("Another", "/deny"),
    )
    assert msg.image == "https://shop.example/img/parcel.png"
    assert msg.custom == {"handoff": {"queue": "returns"}}
    assert msg.recipient_id == "web:abc12345"
    assert msg.to_json() == {
        "text": "Which order?",
        "buttons": [
            {"title": "ORD-100001", "payload": '/inform{"order_number":"ORD-100001"}'},
            {"title": "Another", "payload": "/deny"},
        ],
        "image": "https://shop.example/img/parcel.png",
        "custom": {"handoff": {"queue": "returns"}},
    }


def test_from_rasa_minimal_and_relative_image() -> None:
    assert OutboundMessage.from_rasa({"text": "Hi"}).to_json() == {"text": "Hi"}
    assert OutboundMessage.from_rasa({"image": "/static/p.png"}).image == "/static/p.png"
    assert OutboundMessage.from_rasa({"attachment": "invoice.pdf"}).to_json() == {"attachment": "invoice.pdf"}


@pytest.mark.parametrize(
    "data",
    [
        "hello",
        ["text", "hi"],
        None,
        {"text": 3},
        {"text": "hi", "buttons": "yes/no"},
        {"text": "hi", "buttons": [["Yes", "/affirm"]]},
        {"text": "hi", "buttons": [{"title": "Yes"}]},
        {"text": "hi", "buttons": [{"title": "", "payload": "/affirm"}]},
        {"text": "hi", "buttons": [{"title": "Yes", "payload": 1}]},
        {"image": "javascript:alert(1)"},
        {"image": "//evil.example/x.png"},
        {"image": 42},
        {"custom": ["not", "an", "object"]},
        {"recipient_id": 7, "text": "hi"},
    ],
)
def test_from_rasa_rejects_junk(data: object) -> None:
    with pytest.raises(InvalidMessage):
        OutboundMessage.from_rasa(data)


def test_parse_rasa_reply_drops_empty_messages() -> None:
    replies = parse_rasa_reply(
        [
            {"recipient_id": "web:x", "text": ""},
            {"recipient_id": "web:x", "text": "Done."},
        ]
    )
    assert [m.text for m in replies] == ["Done."]
    assert parse_rasa_reply([]) == []


def test_parse_rasa_reply_rejects_non_list_and_names_the_bad_message() -> None:
    with pytest.raises(InvalidMessage):
        parse_rasa_reply({"text": "hi"})
    with pytest.raises(InvalidMessage, match="bot message 1"):
        parse_rasa_reply([{"text": "ok"}, {"text": ["no"]}])


def test_the_same_id_on_two_channels_is_two_conversations() -> None:
    # Grants from verification are per rasa conversation (tests/store/test_store_verification.py), so a
    # customer verified on the web is not verified on Telegram by sharing an id.
    ids = {
        InboundMessage(channel=c, sender_id="42", text="hi").conversation_id
        for c in ("web", "telegram", "tablet", "slack")
    }
    assert ids == {"web:42", "telegram:42", "tablet:42", "slack:42"}
