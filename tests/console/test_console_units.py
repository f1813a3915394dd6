"""Pure console units on hand-built data: redaction, password hashes, the incremental indexer, pseudonyms,
transcripts, charts."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from console.auth import hash_password, verify_password
from console.charts import bar_chart
from console.models import (
    ConsoleConversation,
    ConsoleConversationCard,
    ConsoleConversationIntent,
    ConsoleConversationText,
    ConsoleTag,
)
from console.pseudonyms import PUBLIC_ID, Pseudonyms
from console.queries import decode_cursor, encode_cursor
from console.redact import redact
from console.tracker import Indexer, _tracker_metadata, events, tracker_engine
from console.transcript import build_transcript


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


def test_cursor_names_the_row_by_its_console_id_and_round_trips(tmp_path: Path) -> None:
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    public = Pseudonyms(sessions).of("web:0123456789abcdef")
    with sessions() as session, session.begin():
        session.add(ConsoleConversation(sender_id="web:0123456789abcdef", channel="web", first_ts=1.0, last_ts=2.0))
        session.flush()
        session.add(ConsoleConversationCard(sender_id="web:0123456789abcdef", public_id=public))
    cursor = encode_cursor(1795841274.5, public)
    assert "0123456789abcdef" not in cursor and "0123456789abcdef" not in base64.b64decode(cursor + "==").decode()
    with sessions() as session:
        assert decode_cursor(session, cursor) == (1795841274.5, "web:0123456789abcdef")
        with pytest.raises(Exception, match="cursor"):
            decode_cursor(session, encode_cursor(1.0, "web-aaaaaaaaaaaaaaaaaaaa"))


def test_pseudonyms_are_keyed_stable_and_say_only_the_channel(tmp_path: Path) -> None:
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    first, again = Pseudonyms(sessions), Pseudonyms(sessions)  # two processes on one database
    web = first.of("web:3f9c2a7be1d04c55a8e0f2b6c9d1e473")
    assert PUBLIC_ID.match(web) and web.startswith("web-") and "3f9c2a7b" not in web
    assert again.of("web:3f9c2a7be1d04c55a8e0f2b6c9d1e473") == web  # the key lives in the database
    assert first.of("web:3f9c2a7be1d04c55a8e0f2b6c9d1e474") != web
    assert first.of("no-channel-here").startswith("unknown-") and first.of("tablet:s1").startswith("tablet-")
    other_key = Pseudonyms(sessions, key=b"another gateway database's key")
    assert other_key.of("web:3f9c2a7be1d04c55a8e0f2b6c9d1e473") != web


def test_transcript_has_one_line_per_slot_and_no_empty_bot_lines() -> None:
    card = {"title": "Rose Balm", "image": "/media/products/SKN-0001.svg"}
    events_ = [
        {"_id": 1, "event": "user", "timestamp": 10.0, "text": "a gift", "parse_data": {"intent": {"name": "x"}}},
        {"_id": 2, "event": "slot", "name": "order_number", "value": "ORD-100001"},
        {"_id": 3, "event": "slot", "name": "requested_slot", "value": "proof"},
        {"_id": 4, "event": "slot", "name": "order_number", "value": "ORD-100001"},
        {"_id": 5, "event": "slot", "name": "proof", "value": None},
        {"_id": 6, "event": "slot", "name": "proof", "value": "verified"},
        {"_id": 7, "event": "bot", "text": "Here you are", "data": {}},
        {"_id": 8, "event": "bot", "text": None, "data": {"custom": {"type": "product_cards", "products": [card]}}},
        {"_id": 9, "event": "bot", "text": None, "data": {"image": "/media/products/SKN-0001.svg"}},
        {"_id": 10, "event": "bot", "text": None, "data": {}},
        {"_id": 11, "event": "bot", "text": "", "data": {"image": "https://shop.example/other.png"}},
    ]
    turn = build_transcript("web-x", events_, raw_text=True, low_confidence=0.5)["turns"][0]
    assert [(s["name"], s["value"]) for s in turn["slots"]] == [("order_number", "ORD-100001"), ("proof", "verified")]
    assert [(b["text"], b["note"]) for b in turn["bot"]] == [
        ("Here you are", ""),
        ("", "product cards: Rose Balm"),
        ("", "an image"),
    ]


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


def test_index_keeps_a_preview_and_a_card_and_rebuilds_an_index_made_before_cards(tmp_path: Path) -> None:
    tracker = tracker_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    _tracker_metadata.create_all(tracker)
    tablet = _user("tablet:s1", 10.0, "do you have argan oil", "check_stock", 0.9, "tablet")
    tablet["data"] = json.dumps(
        {**json.loads(str(tablet["data"])), "metadata": {"channel": "tablet", "store_id": "LDN-01"}}
    )
    with tracker.begin() as conn:
        conn.execute(
            insert(events),
            [
                _user("web:abcdef0123456789", 10.0, "mail jo@example.com about it", "inform", 0.9, "web"),
                _user("web:abcdef0123456789", 11.0, '/affirm{"x": 1}', "affirm", 1.0, "web"),
                tablet,
            ],
        )
    Indexer(tracker, sessions).refresh()
    pseudonyms = Pseudonyms(sessions)
    with sessions() as session:
        card = session.get(ConsoleConversationCard, "web:abcdef0123456789")
        shop = session.get(ConsoleConversationCard, "tablet:s1")
        assert card is not None and shop is not None
        assert card.public_id == pseudonyms.of("web:abcdef0123456789")
        assert (card.preview, card.preview_redacted) == ("mail jo@example.com about it", "mail [email] about it")
        assert shop.store_id == "LDN-01"
        assert pseudonyms.resolve(session, card.public_id) == "web:abcdef0123456789"
        assert pseudonyms.resolve(session, "web:abcdef0123456789") is None  # sender ids are not console ids
    # An index built by the previous version has no cards: it is rebuilt, annotations stay.
    with sessions() as session, session.begin():
        session.execute(delete(ConsoleConversationCard))
        session.add(ConsoleTag(sender_id="tablet:s1", tag="reviewed", created_at=datetime(2026, 1, 1)))
    assert Indexer(tracker, sessions).refresh() == 3
    with sessions() as session:
        assert session.get(ConsoleConversationCard, "tablet:s1") is not None
        assert session.get(ConsoleConversation, "tablet:s1").turns == 1  # type: ignore[union-attr]
        assert [t.tag for t in session.query(ConsoleTag)] == ["reviewed"]


def test_metrics_count_each_conversation_on_its_shop_day_across_a_clock_change(tmp_path: Path) -> None:
    from datetime import UTC, date  # noqa: PLC0415

    from console.metrics import compute_metrics  # noqa: PLC0415
    from console.queries import Filters  # noqa: PLC0415

    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    moments = {  # UTC instants; London moves to BST at 01:00 UTC on 29 March 2026
        "a": datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # 28 March, 23:30 GMT
        "b": datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 29 March, 00:30 GMT
        "c": datetime(2026, 3, 29, 23, 30, tzinfo=UTC),  # 30 March, 00:30 BST: the next day in London
        "d": datetime(2026, 3, 30, 22, 59, tzinfo=UTC),  # 30 March, 23:59 BST
    }
    with sessions() as session, session.begin():
        for name, moment in moments.items():
            session.add(
                ConsoleConversation(
                    sender_id=f"web:{name}", channel="web", first_ts=moment.timestamp(), last_ts=moment.timestamp()
                )
            )
    f = Filters(since=date(2026, 3, 28), until=date(2026, 3, 30), zone="Europe/London")
    with sessions() as session:
        days = compute_metrics(session, f, now=moments["d"])["per_day"]
    assert days == [
        {"day": "2026-03-28", "conversations": 1},
        {"day": "2026-03-29", "conversations": 1},
        {"day": "2026-03-30", "conversations": 2},
    ]


def test_ambiguous_proofs_are_hidden_where_they_are_proofs_and_kept_in_sentences() -> None:
    """A bare number or an unknown one-token format is a postcode only as a proof (the answer to the proof
    question, next to an order number, in a postcode entity or slot); in an ordinary sentence it stays."""
    from console.redact import redact_proof_answer, redact_value

    for text in ("download invoice number 55821", "typo in my address, its flat 3 not flat 8", "xyz123"):
        assert redact(text) == text
    assert redact("ORD-100119 31300") == "ORD-100119 [postcode]"
    assert redact("it's 31300 thanks") == "it's [postcode] thanks"
    assert redact("deliver to 75008 Paris") == "deliver to [postcode] Paris"
    assert redact_proof_answer("xyz123") == "[postcode]"
    assert redact_value("xyz123", proof=True) == "[postcode]" and redact_value("xyz123") == "xyz123"
    assert redact("Flat 3, 7 Rose Garden Close") == "[address], [address]"
