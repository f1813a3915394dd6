"""What customers type at "Which order is it about?" never reaches the console's orders field, its filter, or
any other field as raw text; conversation ids never show, and words are not mistaken for them (red-team
round 3, NEW-3 and the over-redaction note). Hand-built events, no stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from connectors.db import create_schema, gateway_engine
from console.corrections import annotate
from console.errors import BadInput
from console.models import ConsoleConversation, ConsoleSecret
from console.queries import Filters, list_page
from console.tracker import (
    ID_MARK,
    INDEX_FORMAT_KEY,
    Indexer,
    _tracker_metadata,
    events,
    quoted_ids,
    tracker_engine,
    without_ids,
)
from console.transcript import build_transcript
from store.normalize import order_number_value

CUSTOMER_ID = "atk-83edaf5e39074c66ba93ddba0e829913"
SENDER = f"web:{CUSTOMER_ID}"
#: What the red team typed at the order prompt: the slot held it until the form refused it.
TYPED = [
    "it was hsingh81@mail.example.com, postcode W1F 9XX, phone 07700 900123",
    "I live at 12 Baker Street, London NW1 6XE, my name is Harriet Singh",
    CUSTOMER_ID,
    f"ref {CUSTOMER_ID} please",
    "RMA-500123",
]
LEAKS = ["hsingh81", "W1F 9XX", "07700", "Baker", "NW1 6XE", "Harriet", CUSTOMER_ID[:12], CUSTOMER_ID[-8:]]


def _row(sender: str, ts: float, kind: str, **data: object) -> dict[str, object]:
    return {
        "sender_id": sender,
        "type_name": kind,
        "timestamp": ts,
        "intent_name": None,
        "action_name": data.get("name") if kind in ("action", "slot") else None,
        "data": json.dumps({"event": kind, "timestamp": ts, **data}),
    }


def _conversation() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    ts = 100.0
    for typed in TYPED:
        rows.append(
            _row(SENDER, ts, "user", text=typed, metadata={"channel": "web"}, parse_data={"intent": {"name": "inform"}})
        )
        rows.append(_row(SENDER, ts + 0.1, "slot", name="requested_slot", value="order_number"))
        rows.append(_row(SENDER, ts + 0.2, "slot", name="order_number", value=typed))
        rows.append(_row(SENDER, ts + 0.3, "slot", name="order_number", value=None))  # the form refused it
        ts += 1
    rows.append(_row(SENDER, ts, "user", text="ord 100123", metadata={"channel": "web"}))
    rows.append(_row(SENDER, ts + 0.1, "slot", name="order_number", value="ord 100123"))
    rows.append(_row(SENDER, ts + 0.2, "slot", name="order_number", value="ORD-100123"))
    rows.append(
        _row(SENDER, ts + 0.3, "bot", text="Found it.", metadata={"utter_action": "utter_ask_verify_order_form_proof"})
    )
    return rows


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Indexer, sessionmaker[Session]]:
    tracker = tracker_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    gateway = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    create_schema(gateway)
    sessions: sessionmaker[Session] = sessionmaker(gateway, expire_on_commit=False)
    _tracker_metadata.create_all(tracker)
    with tracker.begin() as conn:
        conn.execute(insert(events), _conversation())
    indexer = Indexer(tracker, sessions)
    indexer.refresh()
    return indexer, sessions


def test_the_orders_field_holds_only_order_numbers(indexed: tuple[Indexer, sessionmaker[Session]]) -> None:
    _indexer, sessions = indexed
    with sessions() as session:
        row = session.get(ConsoleConversation, SENDER)
        assert row is not None and row.orders == "ORD-100123"
        page = list_page(session, Filters(), raw_text=True)
    assert [c["orders"] for c in page["conversations"]] == [["ORD-100123"]]


def test_the_order_filter_matches_normalised_order_numbers_only(
    indexed: tuple[Indexer, sessionmaker[Session]],
) -> None:
    _indexer, sessions = indexed
    for typed in ("ORD-100123", "ord-100123", "ORD 100123", "100123", "#100123"):
        with sessions() as session:
            page = list_page(session, Filters.parse({"order": typed}), raw_text=True)
        assert len(page["conversations"]) == 1, typed
    with sessions() as session:
        assert list_page(session, Filters.parse({"order": "ORD-100124"}), raw_text=True)["conversations"] == []
    # What the red team searched for: raw values and the raw id's prefix are not order numbers at all.
    for probe in ("hsingh81@mail.example.com", CUSTOMER_ID[:32], "it", "W1F 9XX", "1001", "ORD-10012", "ORD-", "%",
                  "RMA-500123"):  # fmt: skip
        with pytest.raises(BadInput) as refused:
            Filters.parse({"order": probe})
        assert refused.value.field == "order" and "ORD-100123" in str(refused.value)


def test_an_index_with_raw_orders_is_folded_again(indexed: tuple[Indexer, sessionmaker[Session]]) -> None:
    indexer, sessions = indexed
    # As the previous indexer left it: the first 32 characters of each typed value, split on spaces.
    with sessions() as session, session.begin():
        session.execute(
            update(ConsoleConversation)
            .where(ConsoleConversation.sender_id == SENDER)
            .values(orders=f"ORD-100123 hsingh81@mail.example.com it was {CUSTOMER_ID[:32]}")
        )
        marker = session.get(ConsoleSecret, INDEX_FORMAT_KEY)
        assert marker is not None
        marker.value = "2"
    fresh = Indexer(indexer.tracker, sessions)
    assert fresh.refresh() == len(_conversation())
    with sessions() as session:
        row = session.get(ConsoleConversation, SENDER)
        assert row is not None and row.orders == "ORD-100123"
    assert Indexer(indexer.tracker, sessions).refresh() == 0  # once


@pytest.mark.parametrize("raw_text", [False, True])
def test_the_transcript_lists_order_numbers_and_redacts_slot_values(raw_text: bool) -> None:
    tracker_events = [json.loads(str(r["data"])) | {"_id": i} for i, r in enumerate(_conversation(), 1)]
    out = build_transcript("web-x", tracker_events, raw_text=raw_text, low_confidence=0.5)
    assert out["orders"] == ["ORD-100123"]
    if raw_text:
        return  # an admin sees slot values as typed (ids aside: console.web takes them out of every turn)
    shown = json.dumps(out["turns"])
    for leak in LEAKS[:6]:
        assert leak not in shown, leak
    assert "[email]" in shown and "[postcode]" in shown


def test_order_number_value_accepts_one_order_number_and_nothing_else() -> None:
    assert order_number_value(" ord-0100123 ") == "ORD-100123"
    for value in [*TYPED, "ORD-100123 and ORD-100124", "ORD-012345", "ORD-1001234", "", None, 100123]:
        assert order_number_value(value) is None, value


def test_words_and_response_names_are_not_taken_for_conversation_ids() -> None:
    # Over-redaction: "response": "utter_ask_..." and a 50-letter word became "[conversation id]".
    for text in (
        "utter_ask_verify_order_form_order_number",
        "action_check_order_status_and_tracking",
        "a" * 50,
        "Pneumonoultramicroscopicsilicovolcanoconiosis",
        "SUPERCALIFRAGILISTICEXPIALIDOCIOUS",
    ):
        assert without_ids(text) == text
    # ... while generated ids still are, whichever gateway made them, and a chosen id the console knows.
    for generated in (CUSTOMER_ID, "0f3c2a9be1d84f6a9e2c7b1d5a3f8e60", "Zq7-Xk2_pL9mN4vR8sT1wY6uB3cE5hJ0"):
        assert without_ids(f"it is {generated}.") == f"it is {ID_MARK}."
    chosen = "my-own-chosen-conversation-name"
    assert without_ids(f"see {chosen}", frozenset({chosen})) == f"see {ID_MARK}"


def test_quoted_word_like_ids_of_known_conversations_are_found(
    indexed: tuple[Indexer, sessionmaker[Session]],
) -> None:
    _indexer, sessions = indexed
    chosen = "my-own-chosen-conversation-name"
    with sessions() as session, session.begin():
        session.add(
            ConsoleConversation(
                sender_id=f"web:{chosen}",
                channel="web",
                first_ts=1.0,
                last_ts=1.0,
                turns=0,
                fallbacks=0,
                handed_off=False,
                verified=False,
                orders="",
                last_event_id=0,
            )  # fmt: skip
        )
    with sessions() as session:
        assert quoted_ids(session, [f"my friend's chat is {chosen}, and utter_ask_verify_order_form"]) == {chosen}


def test_a_corrected_example_never_shows_an_id_even_cut_by_entity_spans() -> None:
    text = f"order 100123 ref {CUSTOMER_ID} thanks"
    start = text.index(CUSTOMER_ID)
    # A lead's spans may cut the id into pieces shorter than a generated id: each piece is still the id.
    spans = [
        {"entity": "order_number", "start": 6, "end": 12},
        {"entity": "order_number", "start": start + 10, "end": start + 20},
    ]
    for raw_text in (False, True):
        example = annotate(text, spans, raw_text=raw_text)
        assert ID_MARK in example and "[100123](order_number)" in example, example
        for piece in (CUSTOMER_ID[:10], CUSTOMER_ID[10:20], CUSTOMER_ID[20:], "83edaf"):
            assert piece not in example, (raw_text, example)
