"""Pure web-widget translation: optional message fields, frame types, history rendering, origins, rate-limit errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.web.translate import (
    RateLimited,
    WebInputError,
    WebLimits,
    frame_type,
    history_entries,
    origin_allowed,
    parse_web_message,
)

LIMITS = WebLimits(max_message_chars=50)


def test_parse_web_message_fields() -> None:
    body = {"conversation_id": "conv-0001", "text": " hi\x00 ", "client_message_id": "m-123456"}
    parsed = parse_web_message(body, LIMITS)
    assert (parsed.message.text, parsed.client_message_id, parsed.shown) == ("hi", "m-123456", "hi")
    assert parsed.transcript_body() == {"text": "hi"}
    pressed = parse_web_message({"payload": "/affirm", "title": "Yes\u202e!"}, LIMITS, conversation_id="conv-0001")
    assert pressed.message.payload == "/affirm" and pressed.client_message_id is None
    assert pressed.transcript_body() == {"text": "Yes!", "payload": "/affirm"}  # bidi override removed
    bare = parse_web_message({"payload": "/deny"}, LIMITS, conversation_id="conv-0001")
    assert bare.shown == "/deny"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "hi", "client_message_id": "short"}, "client_message_id"),
        ({"text": "hi", "client_message_id": "has space 123"}, "client_message_id"),
        ({"text": "hi", "client_message_id": ["m-123456"]}, "client_message_id"),
        ({"text": "hi", "title": "Yes"}, "title"),
        ({"payload": "/affirm", "title": 3}, "title"),
        ({"payload": "/affirm", "title": "y" * 51}, "title"),
    ],
)
def test_parse_web_message_rejects(body: dict[str, object], field: str) -> None:
    with pytest.raises(WebInputError) as caught:
        parse_web_message(body, LIMITS, conversation_id="conv-0001")
    assert (caught.value.status, caught.value.field) == (400, field)


def test_frame_type() -> None:
    assert frame_type({"text": "hi"}) == "message"
    assert frame_type({"type": "message", "text": "hi"}) == "message"
    assert frame_type({"type": "history"}) == "history"
    assert frame_type([1, 2]) == "message"  # refused later as not an object
    with pytest.raises(WebInputError, match="type must be"):
        frame_type({"type": "subscribe"})


def test_history_entries() -> None:
    def row(id: int, role: str, body: dict[str, str], **extra: str) -> SimpleNamespace:
        fields = {"client_message_id": None, "status": None, "reply_to": None, **extra}
        return SimpleNamespace(id=id, role=role, body=body, **fields)

    rows = [
        row(1, "user", {"text": "hi"}, status="answered"),
        row(2, "user", {"text": "Yes", "payload": "/affirm"}, client_message_id="m-1234567", status="pending"),
        row(3, "bot", {"text": "ok"}, reply_to="m-1234567"),
        row(4, "bot", {"text": "x"}),
    ]
    assert history_entries(rows) == [
        {"id": 1, "role": "user", "text": "hi", "status": "answered"},
        {"id": 2, "role": "user", "text": "Yes", "payload": "/affirm", "client_message_id": "m-1234567",
         "status": "pending"},
        {"id": 3, "role": "bot", "reply_to": "m-1234567", "message": {"text": "ok"}},
        {"id": 4, "role": "bot", "message": {"text": "x"}},
    ]


def test_origin_allowed() -> None:
    allowed = frozenset({"https://shop.example"})
    own = frozenset({"https://gw.example:8443"})  # connectors.origins.own_origins: configured, never the Host header
    assert origin_allowed("https://shop.example", own, allowed)
    assert origin_allowed("HTTPS://Shop.Example/", own, allowed)
    assert origin_allowed("https://shop.example:443", own, allowed)  # the default port is the same origin
    assert origin_allowed("https://gw.example:8443", own, allowed)  # the gateway's own page
    assert not origin_allowed("https://evil.example", own, allowed)
    assert not origin_allowed("https://shop.example.evil.example", own, allowed)
    assert not origin_allowed("http://shop.example", own, allowed)  # scheme matters
    assert not origin_allowed("http://gw.example:8443", own, allowed)  # for the gateway's own origin too
    assert not origin_allowed("null", own, allowed)


def test_rate_limited_error() -> None:
    error = RateLimited(1, "address")
    assert error.status == 429 and error.scope == "address"
    assert error.to_json() == {
        "error": "You're sending messages faster than the assistant can answer. Please wait 1 second and try again.",
        "code": "rate_limited",
        "retry_after": 1,
    }
