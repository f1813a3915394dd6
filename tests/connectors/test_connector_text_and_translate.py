"""Pure tests of text cleaning (connectors.text) and web JSON translation (connectors.web.translate)."""

from __future__ import annotations

import pytest

from connectors.models import Button, OutboundMessage
from connectors.text import clean_payload, clean_typed_text, strip_control_characters
from connectors.web.translate import (
    WebInputError,
    WebLimits,
    decode_json,
    inbound_from_json,
    parse_conversation_id,
    render_messages,
)

LIMITS = WebLimits(max_message_chars=20)
CID = "conv_ABC-123"


def test_strip_control_characters_keeps_newlines_tabs_and_emoji() -> None:
    raw = "a\x00b\x07c\r\nd\re\tf\x1b[31m \ud800 \u202eevil 👩\u200d💻 e\u0301"
    assert strip_control_characters(raw) == "abc\nd\ne\tf[31m  evil 👩\u200d💻 é"


def test_typed_text_cannot_be_an_intent() -> None:
    assert (
        clean_typed_text('  /inform{"order_number":"ORD-1"}')
        == 'inform{"order_number":"ORD-1"}'
    )
    assert clean_typed_text("//help") == "help"
    assert clean_typed_text(" \x00/ ") == ""
    assert clean_payload(" /affirm\x00 ") == "/affirm"


@pytest.mark.parametrize("value", ["abcdefgh", "A" * 64, "a-b_c-d_e"])
def test_conversation_id_accepts(value: str) -> None:
    assert parse_conversation_id(value) == value


@pytest.mark.parametrize(
    "value",
    [None, "", "short", "A" * 65, "has space1", "slash/abcd", 12345678, "ünïcödé1"],
)
def test_conversation_id_rejects(value: object) -> None:
    with pytest.raises(WebInputError) as info:
        parse_conversation_id(value)
    assert info.value.status == 400
    assert info.value.field == "conversation_id"


def test_inbound_from_json_text_and_payload() -> None:
    msg = inbound_from_json({"conversation_id": CID, "text": " hello\x00 "}, LIMITS)
    assert (msg.channel, msg.sender_id, msg.text, msg.payload) == (
        "web",
        CID,
        "hello",
        None,
    )
    msg = inbound_from_json({"payload": "/affirm"}, LIMITS, conversation_id=CID)
    assert (msg.sender_id, msg.payload, msg.rasa_text) == (CID, "/affirm", "/affirm")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ([], 400, None),
        ({"text": "hi"}, 400, "conversation_id"),
        ({"conversation_id": CID}, 400, "text"),
        ({"conversation_id": CID, "text": 5}, 400, "text"),
        ({"conversation_id": CID, "text": "   "}, 400, "text"),
        ({"conversation_id": CID, "payload": "affirm"}, 400, "payload"),
        ({"conversation_id": CID, "payload": "/"}, 400, "payload"),
        ({"conversation_id": CID, "text": "a", "payload": "/b"}, 400, "payload"),
        ({"conversation_id": CID, "text": "x" * 21}, 413, "text"),
        ({"conversation_id": CID, "payload": "/" + "x" * 20}, 413, "payload"),
    ],
)
def test_inbound_from_json_rejects(
    body: object, status: int, field: str | None
) -> None:
    with pytest.raises(WebInputError) as info:
        inbound_from_json(body, LIMITS)
    assert (info.value.status, info.value.field) == (status, field)
    if status == 413:
        assert info.value.to_json()["limit"] == 20


def test_decode_json_errors() -> None:
    assert decode_json(b'{"a": 1}') == {"a": 1}
    for raw in (b"\xff\xfe{", b"{not json", "", b"\x00\x01\x02"):
        with pytest.raises(WebInputError) as info:
            decode_json(raw)
        assert info.value.code == "invalid_json"


def test_render_messages() -> None:
    rendered = render_messages(
        [
            OutboundMessage(
                text="Hi", buttons=(Button("Yes", "/affirm"),), recipient_id="web:x"
            )
        ]
    )
    assert rendered == [
        {"text": "Hi", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]
