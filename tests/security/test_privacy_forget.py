"""``python -m console forget-customer``: seed every table of every database, delete, then scan them all."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import Engine, MetaData, create_engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from connectors import db as gateway_db
from connectors.handoff.state import HandoffState
from connectors.slack.state import ReplyTargets
from connectors.slack.translate import ReplyTarget
from connectors.tablet.devices import TabletRegistry
from connectors.telegram.state import CallbackStore
from connectors.web.photos import check_photo
from connectors.web.transcript import Transcript
from console import models as console_models
from console.auth import add_user
from console.tracker import Indexer, events
from scripts.stack import ROOT
from store.accounts import CustomerAccounts
from store.db import make_engine
from store.errors import VerificationFailed
from store.feedback import CustomerFeedback
from store.migrate import upgrade
from store.seed import seed
from store.service import OrderStore

ANCHOR = datetime(2025, 3, 3, tzinfo=UTC)
NOW = ANCHOR + timedelta(hours=9)
# Kept on purpose (store/erasure.py): the order's own number, for the shop's accounts; nothing there names anyone.
KEPT = {("shop", "orders", "number")}
# Tables that hold no customer's data at all: the catalogue, shops, rates, staff accounts, schema versions.
NO_CUSTOMER_DATA = {
    "alembic_version", "products", "stores", "store_stock", "shipping_zones", "shipping_zone_countries",
    "shipping_methods", "shipments", "shipment_events", "order_lines", "returns", "return_lines", "refunds",
    "tablet_devices", "console_users", "console_sessions", "console_login_failures", "console_index_state",
    "console_conversation_intents", "staff_order_lookups",
}  # fmt: skip


@dataclass
class World:
    """Three databases seeded with one customer's traces on every channel, and another customer's."""

    shop_url: str
    gateway_url: str
    tracker_url: str
    customer: dict[str, Any]
    other: dict[str, Any]
    conversations: dict[str, str]

    def engines(self) -> dict[str, Engine]:
        return {
            "shop": create_engine(self.shop_url),
            "gateway": create_engine(self.gateway_url),
            "tracker": create_engine(self.tracker_url),
        }


def _tracker_rows(sender: str, channel: str, said: list[str], bot: list[str], ts: float) -> list[dict[str, Any]]:
    rows = []
    for i, (user_text, bot_text) in enumerate(zip(said, bot, strict=True)):
        t = ts + i
        user = {
            "event": "user",
            "timestamp": t,
            "text": user_text,
            "parse_data": {"intent": {"name": "inform", "confidence": 0.9}, "entities": [], "text": user_text},
            "input_channel": channel,
            "metadata": {"channel": channel},
        }
        rows.append({"sender_id": sender, "type_name": "user", "timestamp": t, "intent_name": "inform", "data": user})
        reply = {"event": "bot", "timestamp": t + 0.5, "text": bot_text, "data": {}}
        rows.append({"sender_id": sender, "type_name": "bot", "timestamp": t + 0.5, "data": reply})
        slot = {"event": "slot", "timestamp": t + 0.6, "name": "email", "value": user_text}
        rows.append(
            {"sender_id": sender, "type_name": "slot", "action_name": "email", "timestamp": t + 0.6, "data": slot}
        )
    blank = {"intent_name": None, "action_name": None}
    return [{**blank, **r, "data": json.dumps(r["data"])} for r in rows]


def _rename_customer(engine: Engine, order_number: str, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE customers SET name = :name WHERE id = (SELECT customer_id FROM orders WHERE number = :n)"),
            {"name": name, "n": order_number},
        )

@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    shop_url = f"sqlite:///{tmp_path / 'shop.db'}"
    shop_engine = make_engine(shop_url)
    upgrade(shop_engine)
    with sessionmaker(shop_engine)() as session:
        seed(session, seed=42, anchor=ANCHOR)
        session.commit()
    store = OrderStore(sessionmaker(shop_engine), now=lambda: NOW)
    accounts = CustomerAccounts.of(store)
    cases = {c["case"]: c for c in store.demo_cases(limit=50)}
    customer, other = cases["in_transit"], cases["returnable"]
    assert customer["email"] != other["email"]
    # The scan below also looks for the last name alone ("Mr Quillfeather" in a transcript); in a shop of a few
    # hundred customers last names repeat, so the forgotten customer gets one nobody else has.
    _rename_customer(shop_engine, customer["order_number"], "Zebedee Quillfeather")
    number, email, postcode = customer["order_number"], customer["email"], customer["postcode"]

    web, telegram, tablet_sender, slack = "web:custweb00001", "telegram:5550001", None, "slack:T0SHOP-U0STAFF01"
    stranger, others_web = "web:stranger0001", "web:otherperson1"
    verified = store.verify(web, number, email)
    customer["name"] = _customer_name(shop_engine, verified.customer_id)
    store.verify(telegram, number, email)  # linking a chat to the customer needs the e-mail (one proof, one scope)
    accounts.link_verified(telegram, verified.customer_id)
    with pytest.raises(VerificationFailed):
        store.verify(stranger, number, "someone.else@example.com")  # an attempt on their order from elsewhere
    store.verify(others_web, other["order_number"], other["email"])
    store.grant_staff_access(slack, number, "U0STAFF01", "staff")
    accounts.set_notifications(verified.customer_id, True)
    accounts.record_event(number, "delayed", "evt-1")
    accounts.release_due(5, timedelta(hours=1))
    accounts.save_return_draft(verified.customer_id, number, "1", f"too small, {customer['name']}", "web")
    ticket = store.open_handoff(web, "web", "complaint", f"{customer['name']} <{email}> about {number}", number,
                                verified.customer_id)  # fmt: skip
    # What the widget keeps besides words: a photo (checked and re-encoded as the gateway does) and ratings.
    feedback = CustomerFeedback.of(store)
    photo = check_photo(_jpeg(), max_bytes=1_000_000)
    kept_photo = feedback.add_photo(web, "web", photo.data, photo.content_type, photo.width, photo.height)
    assert kept_photo.ticket_number == ticket.ticket_number
    feedback.add_photo(others_web, "web", photo.data, photo.content_type, photo.width, photo.height)
    feedback.rate(web, "web", 2, f"{customer['name']} here, {postcode}: {number} is a week late")
    feedback.rate(others_web, "web", 5, "lovely, thanks")

    gateway_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    gateway = gateway_db.gateway_engine(gateway_url)
    gateway_db.create_schema(gateway)
    sessions = sessionmaker(gateway, expire_on_commit=False)
    transcript = Transcript(sessions)
    claim = transcript.claim("custweb00001", "msg0000000001", {"text": f"it's {email}, postcode {postcode}"})
    transcript.record_replies(claim, "custweb00001", [{"text": f"Thanks, {customer['name'].split()[0]}, {number}"}])
    other_claim = transcript.claim("otherperson1", None, {"text": "hello"})
    transcript.record_replies(other_claim, "otherperson1", [{"text": "hi"}])
    registry = TabletRegistry(sessions)
    device, _token = registry.register("LDN-01", "door", ["LDN-01"])
    session_id = registry.start_session(device)
    tablet_sender = f"tablet:{session_id}"
    # the shopper at the tablet asked for a person (a ticket and a time: nothing that names anyone)
    registry.record_staff_call(device, "HO-000001", keep=timedelta(hours=1))
    assert registry.queue_pushed(session_id, [{"text": f"Sam (staff): {customer['name']}, {number} is ready"}])
    ReplyTargets(sessions).remember(slack, ReplyTarget(channel="D0DM00001", thread_ts=None))
    CallbackStore(sessions).remember({"cb01": f'/inform{{"order_number": "{number}", "email": "{email}"}}'})
    state = HandoffState(sessions)
    state.open_case(
        ticket=ticket.ticket_number, conversation_id=web, channel="web", reason="complaint",
        summary=f"{customer['name']}: {email}", at=NOW.replace(tzinfo=None), order_number=number,
        customer=customer["name"],
    )  # fmt: skip
    state.add_event(ticket.ticket_number, "customer", NOW.replace(tzinfo=None), text=f"I'm at {postcode}")

    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker = create_engine(tracker_url)
    events.metadata.create_all(tracker, tables=[events])
    ts = time.time() - 3600
    first = customer["name"].split()[0]
    with tracker.begin() as conn:
        for sender, channel, said, bot in (
            (web, "web", [f"where is {number}", email], ["email or postcode?", f"Thanks, {first}"]),
            (telegram, "telegram", [f"#{number.split('-')[1]} {postcode}"], [f"Thanks, {first}"]),
            (tablet_sender, "tablet", [f"I'm {customer['name']}"], ["Hello"]),
            (slack, "slack", [f"look up {number}"], [f"{number} belongs to {customer['name']}"]),
            (stranger, "web", [f"where is {number}", "someone.else@example.com"], ["?", "no match"]),
            ("web:typedonly001", "web", [f"my email is {email.upper()}"], ["ok"]),
            (others_web, "web", [f"where is {other['order_number']}"], ["ok"]),
        ):
            conn.execute(insert(events), _tracker_rows(sender, channel, said, bot, ts))
    Indexer(tracker, sessions).refresh()
    lead = add_user(sessions, "lead@shop.example", "lead", "lead-password-123")
    with sessions.begin() as session:
        for sender in (web, telegram, others_web):  # claimed by the lead from the list
            session.add(console_models.ConsoleAssignment(sender_id=sender, user_id=lead.id, assigned_at=NOW))
        note = console_models.ConsoleNote(sender_id=web, text=f"{first} was upset", user_id=lead.id, created_at=NOW)
        session.add(note)
        session.add(console_models.ConsoleTag(sender_id=web, tag="needs fix", user_id=lead.id, created_at=NOW))
        session.add(
            console_models.ConsoleReply(
                ticket="HO-000001", sender_id=web, user_id=lead.id, text=f"Hi {first}, {number} is on its way",
                delivered=True, at=NOW,
            )
        )  # fmt: skip
        session.add(
            console_models.ConsoleCorrection(
                event_id=1, sender_id=web, text=f"where is {number}", predicted_intent="inform",
                intent="track_order", entities="[]", user_id=lead.id, created_at=NOW,
            )
        )  # fmt: skip
    for engine in (shop_engine, gateway, tracker):
        engine.dispose()
    yield World(
        shop_url, gateway_url, tracker_url, customer, other,
        {"web": web, "telegram": telegram, "tablet": tablet_sender, "slack": slack, "other": others_web},
    )  # fmt: skip


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


def _customer_name(engine: Engine, customer_id: int) -> str:
    from store import models as m

    with Session(engine) as session:
        return session.get(m.Customer, customer_id).name  # type: ignore[union-attr]


def _all_rows(world: World) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name, engine in world.engines().items():
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                out[(name, table.name)] = [dict(r._mapping) for r in conn.execute(select(table))]
        engine.dispose()
    return out


def _needles(customer: dict[str, Any]) -> dict[str, str]:
    name = customer["name"]
    return {
        "email": customer["email"].lower(),
        "name": name.lower(),
        "last name": name.split()[-1].lower(),
        "postcode": customer["postcode"].lower(),
        "postcode without space": customer["postcode"].replace(" ", "").lower(),
        "order number": customer["order_number"].split("-")[1],
    }


def _scan(rows: dict[tuple[str, str], list[dict[str, Any]]], needles: dict[str, str]) -> list[str]:
    hits = []
    for (database, table), table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                if value is None or (database, table, column) in KEPT:
                    continue
                text = (json.dumps(value) if isinstance(value, dict | list) else str(value)).lower()
                for what, needle in needles.items():
                    if needle in text:
                        hits.append(f"{database}.{table}.{column} holds the {what}: {str(value)[:120]}")
    return hits


def test_forget_customer_leaves_no_trace_in_any_table_of_any_database(world: World) -> None:
    before = _all_rows(world)
    empty = sorted(f"{db}.{t}" for (db, t), rows in before.items() if not rows and t not in NO_CUSTOMER_DATA)
    assert not empty, f"the test did not seed every table: {empty}"
    needles = _needles(world.customer)
    assert len(_scan(before, needles)) > 30  # the scan finds what it is meant to find

    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")},
        "SHOP_DATABASE_URL": world.shop_url,
        "GATEWAY_DATABASE_URL": world.gateway_url,
        "TRACKER_DB_URL": world.tracker_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "console", "forget-customer", "--email", world.customer["email"].upper()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["customer_found"] and report["customer_anonymised"]
    assert set(world.conversations.values()) - {world.conversations["other"]} <= set(report["conversations"])

    after = _all_rows(world)
    assert _scan(after, needles) == []
    # The other customer, their conversation and the shop's records are untouched.
    assert any(world.other["email"] in json.dumps(r, default=str) for r in after[("shop", "customers")])
    assert any(r["sender_id"] == world.conversations["other"] for r in after[("tracker", "events")])
    assert any(r["conversation_id"] == "otherperson1" for r in after[("gateway", "web_messages")])
    assert len(after[("shop", "orders")]) == len(before[("shop", "orders")])
    # Rows tied to the customer by their conversation id only (no needle to scan for): photos deleted, rating
    # comments blanked (the score stays for the metrics), console assignments of the deleted conversations gone.
    assert [r["conversation_id"] for r in after[("shop", "customer_photos")]] == [world.conversations["other"]]
    ratings = {r["conversation_id"]: r for r in after[("shop", "conversation_ratings")]}
    assert ratings[world.conversations["web"]]["comment"] is None and ratings[world.conversations["web"]]["score"] == 2
    assert ratings[world.conversations["other"]]["comment"] == "lovely, thanks"
    assert [r["sender_id"] for r in after[("gateway", "console_assignments")]] == [world.conversations["other"]]
    assert report["photos_deleted"] == 1 and report["rating_comments_blanked"] == 1
    assert after[("shop", "staff_order_lookups")]  # the staff audit trail stays (it names staff, not customers)


def test_retention_deletes_the_gateways_copies_too(world: World) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")},
        "SHOP_DATABASE_URL": world.shop_url,
        "GATEWAY_DATABASE_URL": world.gateway_url,
        "TRACKER_DB_URL": world.tracker_url,
    }
    # Every seeded conversation is an hour old: a retention of 1 day keeps them ...
    kept = subprocess.run([sys.executable, "-m", "console", "retention", "--days", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["conversations"] == []
    # ... and two days later the same command deletes them everywhere.
    from console.privacy import retention

    engines = world.engines()
    sessions = sessionmaker(engines["gateway"], expire_on_commit=False)
    report = retention(engines["tracker"], sessions, 1, shop=engines["shop"], now=time.time() + 2 * 86400)
    for engine in engines.values():
        engine.dispose()
    assert world.conversations["web"] in report.conversations
    after = _all_rows(world)
    for table in ("web_messages", "tablet_outbox", "slack_reply_targets", "telegram_callbacks", "console_notes"):
        assert after[("gateway", table)] == [], table
    assert after[("tracker", "events")] == []
    assert after[("shop", "access_grants")] == []
    assert all(not r["text"] for r in after[("gateway", "handoff_events")])
