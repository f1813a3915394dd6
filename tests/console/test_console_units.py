"""Pure console units on hand-built data: redaction, password hashes, the incremental indexer, charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from console.auth import hash_password, verify_password
from console.charts import bar_chart
from console.models import ConsoleConversation, ConsoleConversationIntent, ConsoleConversationText
from console.queries import decode_cursor, encode_cursor
from console.redact import redact
from console.tracker import Indexer, _tracker_metadata, events, tracker_engine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jo.bloggs+shop@mail.example.co.uk please", "mail me at [email] please"),
        ("call 07700 900123 or +44 20 7946 0958", "call [phone] or [phone]"),
        ("my card 4111-1111-1111-1111 was declined", "my card [card number] was declined"),
        ("I live at 12 Baker Street, London NW1 6XE", "I live at [address], London [postcode]"),
        ("send it to 221b baker st. instead", "send it to [address] instead"),
        ("Flat 3, 7 Rose Garden Close", "[address], [address]"),
        # Order and RMA numbers and amounts are kept; tracking numbers are the customer's (security issue).
        (
            "order ORD-100148, RMA-500123, SA059407206GB, DHL 1234567890, £40",
            "order ORD-100148, RMA-500123, [tracking number], DHL [tracking number], £40",
        ),
        # Four groups of four digits is how a card number is written, Luhn-valid or mistyped.
        ("ref 1234 5678 9012 3456", "ref [card number]"),
        ("3 items for 2 people", None),
    ],
)
def test_redaction(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def test_surrogates_keep_examples_realistic_and_are_not_redacted_again() -> None:
    text = "I live at 12 Baker Street, NW1 6XE, card 4111 1111 1111 1111, jo@example.org, 07700 900123"
    assert redact(text, surrogate=True) == (
        "I live at 1 High Street, SW1A 1AA, card 4000 0000 0000 0002, customer@example.com, 07700 900000"
    )


def test_scrypt_hashes_are_salted_and_verify() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", first) and verify_password("correct horse battery", second)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("x", "md5$whatever") and not verify_password("x", "garbage")


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(1795841274.5, "web:a:b")) == (1795841274.5, "web:a:b")


def test_chart_labels_are_escaped() -> None:
    svg = bar_chart([("<script>alert(1)</script>", 3)], title="t & <b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "t &amp; &lt;b&gt;" in svg


def _event(sender: str, ts: float, kind: str, **data: object) -> dict[str, object]:
    body = {"event": kind, "timestamp": ts, **data}
    return {
        "sender_id": sender,
        "type_name": kind,
        "timestamp": ts,
        "intent_name": (data.get("parse_data") or {}).get("intent", {}).get("name") if kind == "user" else None,  # type: ignore[union-attr]
        "action_name": data.get("name") if kind in ("action", "slot") else None,
        "data": json.dumps(body),
    }


def _user(sender: str, ts: float, text: str, intent: str, confidence: float, channel: str) -> dict[str, object]:
    return _event(
        sender,
        ts,
        "user",
        text=text,
        metadata={"channel": channel},
        parse_data={"intent": {"name": intent, "confidence": confidence}, "entities": []},
    )


def test_indexer_folds_only_new_events_into_the_summary(tmp_path: Path) -> None:
    tracker = tracker_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    indexer = Indexer(tracker, sessions)
    assert indexer.refresh() == 0  # rasa has not created its table yet
    _tracker_metadata.create_all(tracker)
    with tracker.begin() as conn:
        conn.execute(
            insert(events),
            [
                _user("telegram:42", 100.0, "where is my parcel", "track_order", 0.91, "telegram"),
                _event("telegram:42", 101.0, "slot", name="order_number", value="ORD-100001"),
                _user("web:abc", 150.0, "call me on 07700 900123", "human_handoff", 0.4, "web"),
                _event("web:abc", 151.0, "action", name="action_handoff"),
            ],
        )
    assert indexer.refresh() == 4
    assert indexer.refresh() == 0  # nothing new: nothing read
    with tracker.begin() as conn:
        conn.execute(
            insert(events),
            [
                _user("telegram:42", 200.0, "mmh", "nlu_fallback", 0.3, "telegram"),
                _event("telegram:42", 201.0, "action", name="action_fallback"),
                _event("telegram:42", 202.0, "slot", name="proof", value="verified"),
                _event("telegram:42", 203.0, "slot", name="order_number", value="ORD-100002"),
            ],
        )
    assert indexer.refresh() == 4
    with sessions() as session:
        tg = session.get(ConsoleConversation, "telegram:42")
        web = session.get(ConsoleConversation, "web:abc")
        intents = {(r.sender_id, r.intent) for r in session.query(ConsoleConversationIntent)}
        tg_text = session.get(ConsoleConversationText, "telegram:42")
        web_text = session.get(ConsoleConversationText, "web:abc")
    assert tg is not None and web is not None
    assert (tg.channel, tg.first_ts, tg.last_ts, tg.turns, tg.min_confidence, tg.fallbacks, tg.verified) == (
        "telegram",
        100.0,
        203.0,
        2,
        0.3,
        1,
        True,
    )
    assert tg.orders == "ORD-100001 ORD-100002" and not tg.handed_off
    assert tg_text is not None and web_text is not None
    assert "where is my parcel" in tg_text.search_text and "mmh" in tg_text.search_text
    assert web_text.search_redacted.strip() == "call me on [phone]" and "07700" in web_text.search_text
    assert web.handed_off
    assert intents == {
        ("telegram:42", "track_order"),
        ("telegram:42", "nlu_fallback"),
        ("web:abc", "human_handoff"),
    }


def test_indexer_picks_up_a_lower_id_committed_late(tmp_path: Path) -> None:
    # On PostgreSQL, conversation B's transaction may commit id 2 after A's id 3 was indexed.
    tracker = tracker_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    _tracker_metadata.create_all(tracker)
    indexer = Indexer(tracker, sessions)
    with tracker.begin() as conn:
        conn.execute(insert(events), [{"id": 1, **_user("web:a", 10.0, "hi", "greet", 0.9, "web")}])
        conn.execute(insert(events), [{"id": 3, **_user("web:a", 12.0, "bye", "goodbye", 0.9, "web")}])
    assert indexer.refresh() == 2
    with tracker.begin() as conn:
        conn.execute(insert(events), [{"id": 2, **_user("web:b", 11.0, "late", "thank", 0.8, "web")}])
        conn.execute(insert(events), [{"id": 4, **_user("web:b", 13.0, "more", "thank", 0.7, "web")}])
    assert indexer.refresh() == 2  # id 2 and id 4; ids 1 and 3 are re-read but not counted twice
    with sessions() as session:
        a, b = session.get(ConsoleConversation, "web:a"), session.get(ConsoleConversation, "web:b")
    assert a is not None and b is not None
    assert (a.turns, b.turns, b.first_ts, b.min_confidence) == (2, 2, 11.0, 0.7)
