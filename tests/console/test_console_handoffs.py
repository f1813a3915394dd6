"""The console's hand-off queue API on an order store and gateway database filled by the hand-off code itself."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert
from sqlalchemy.orm import sessionmaker

from connectors.handoff.mirror import OrderStoreMirror
from connectors.handoff.state import HandoffState
from connectors.keys import SESSIONS_KEY
from console.auth import add_user
from console.errors import BadInput
from console.handoffs import QueueQuery, effective_status, transcript_url
from console.settings import ConsoleSettings
from console.tracker import _tracker_metadata, events, tracker_engine
from console.web import STATE_KEY
from gateway import create_app
from store import models as shop_models
from store.db import make_engine
from store.migrate import upgrade
from store.service import OrderStore
from tests.browser import chromium
from tests.connectors.gateway_fakes import make_settings
from tests.console.conftest import PASSWORDS, Harness, Viewer

EMAIL = "jo.bloggs@example.com"
PHONE = "+44 7700 900123"
STREET = "12 Baker Street"


@dataclass
class Clock:
    """An aware-UTC clock both the order store and the hand-off state are given explicitly."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def tick(self, minutes: float = 1) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now


@dataclass
class Queue:
    """The running console and what was filed: ticket numbers by scenario name."""

    harness: Harness
    tickets: dict[str, str]
    conversations: dict[str, str]
    shop_url: str


def _tracker_with(path: Path, sender: str) -> str:
    """A tracker store holding one short conversation (so only that ticket has a transcript to link to)."""
    url = f"sqlite:///{path}"
    engine = tracker_engine(url)
    _tracker_metadata.create_all(engine)
    body = {
        "event": "user",
        "timestamp": 1_764_234_000.0,
        "text": "a person please",
        "metadata": {"channel": "telegram"},
        "parse_data": {"intent": {"name": "human_handoff", "confidence": 0.97}, "entities": []},
    }
    with engine.begin() as conn:
        conn.execute(
            insert(events),
            [
                {
                    "sender_id": sender,
                    "type_name": "user",
                    "timestamp": body["timestamp"],
                    "intent_name": "human_handoff",
                    "action_name": None,
                    "data": json.dumps(body),
                }
            ],
        )
    engine.dispose()
    return url


def _file(store: OrderStore, clock: Clock, conversation: str, channel: str, reason: str, summary: str) -> str:
    clock.tick()
    return store.open_handoff(conversation, channel=channel, reason=reason, summary=summary).ticket_number


def _fill(shop_url: str, sessions: sessionmaker[Any], clock: Clock) -> tuple[dict[str, str], dict[str, str]]:
    """Six tickets, filed by the order store and relayed by the desk's own state and mirror functions.

    Shown statuses: open (relayed, and a tablet call never relayed), assigned (claimed, and claimed with
    the order store mirror failing), closed (resolved, and resolved with the close mirror failing).
    """
    engine = make_engine(shop_url)
    with sessionmaker(engine)() as db, db.begin():
        db.add(shop_models.PhysicalStore(id="LDN-01", name="Covent Garden", city="London", address="", postcode=""))
    store = OrderStore(sessionmaker(engine), now=clock)
    state = HandoffState(sessions)
    mirror = OrderStoreMirror(shop_url)
    conv = {
        "waiting": "web:waiting-0001",
        "claimed": "telegram:42",
        "resolved": "slack:D0CUST01",
        "tablet": "tablet:store-01:device-7",
        "mirror_assign_failed": "web:mirror-0005",
        "mirror_close_failed": "web:mirror-0006",
    }
    tickets: dict[str, str] = {}

    def relay(name: str, channel: str, reason: str, summary: str, customer: str | None = None) -> str:
        ticket = _file(store, clock, conv[name], channel, reason, summary)
        state.open_case(
            ticket=ticket,
            conversation_id=conv[name],
            channel=channel,
            reason=reason,
            summary=summary,
            at=clock.tick(),
            customer=customer,
        )
        state.set_posted(ticket, "C0SUPPORT", f"1764234000.00000{len(tickets)}", clock.tick())
        tickets[name] = ticket
        return ticket

    t = relay("waiting", "web", "customer asked for a person", f"customer: my email is {EMAIL} [inform]", EMAIL)
    state.add_event(t, "notice", clock.tick(10), "nobody claimed within 10 minutes")

    t = relay("claimed", "telegram", "lost parcel", "customer: where is my parcel [track_order]")
    state.claim(t, "U0STAFF01", "Sam", clock.tick())
    mirror.assign(t, "U0STAFF01", "Sam", clock.now)
    state.add_event(t, "staff", clock.tick(), "Hi, Sam here. Which address was it sent to?", "Sam")
    state.add_event(t, "customer", clock.tick(), f"{STREET}, call me on {PHONE}", "customer")

    t = relay("resolved", "slack", "complaint", f"customer: ring me on {PHONE} [complaint]")
    state.claim(t, "U0STAFF02", "Alex", clock.tick())
    mirror.assign(t, "U0STAFF02", "Alex", clock.now)
    state.close(t, "U0STAFF02", clock.tick())
    mirror.close(t, clock.now)

    # A shopper at a tablet called a colleague: the store has the ticket, the Slack desk never saw it.
    clock.tick()
    tickets["tablet"] = store.open_handoff(
        conv["tablet"], channel="tablet", reason="shopper asked for a staff member", summary="", store_id="LDN-01"
    ).ticket_number

    t = relay("mirror_assign_failed", "web", "customer asked for a person", "customer: hello [greet]")
    state.claim(t, "U0STAFF01", "Sam", clock.tick())
    state.add_event(t, "mirror_failed", clock.now, "database is locked")

    t = relay("mirror_close_failed", "web", "customer asked for a person", "customer: thanks [thank]")
    state.claim(t, "U0STAFF02", "Alex", clock.tick())
    mirror.assign(t, "U0STAFF02", "Alex", clock.now)
    state.close(t, "U0STAFF02", clock.tick())
    state.add_event(t, "mirror_failed", clock.now, "database is locked")

    mirror.dispose()
    engine.dispose()
    return tickets, conv


@pytest.fixture
def shop_url(tmp_path: Path) -> str:
    """A migrated, empty order store."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


async def _console(tmp_path: Path, shop: str, tracker: str) -> tuple[TestClient, Harness]:
    settings = make_settings(
        "http://127.0.0.1:9",
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        tracker_db_url=tracker,
        shop_db_url=shop,
    )
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()  # creates the gateway tables
    state = app[STATE_KEY]
    state.settings = ConsoleSettings()
    state.auth.settings = state.settings
    for role, password in PASSWORDS.items():
        add_user(app[SESSIONS_KEY], f"{role}@example.com", role, password)
    return client, Harness(client, state)


@pytest_asyncio.fixture
async def queue(tmp_path: Path, shop_url: str) -> AsyncIterator[Queue]:
    """The gateway with the console, an order store and gateway tables holding the six tickets."""
    tracker = _tracker_with(tmp_path / "tracker.db", "telegram:42")
    client, harness = await _console(tmp_path, shop_url, tracker)
    tickets, conversations = _fill(shop_url, harness.state.sessions, Clock())
    yield Queue(harness, tickets, conversations, shop_url)
    await client.close()


async def _get(viewer: Viewer, **params: Any) -> dict[str, Any]:
    status, body = await viewer.get("/api/console/handoffs", **params)
    assert status == 200, body
    return body


async def test_the_queue_needs_a_session_and_every_role_may_read_it(queue: Queue) -> None:
    resp = await queue.harness.client.get("/api/console/handoffs")
    assert resp.status == 401
    assert (await resp.json())["code"] == "not_signed_in"
    for role in ("agent", "lead", "admin"):
        body = await _get(await queue.harness.login(role))
        assert len(body["handoffs"]) == 6, role


async def test_newest_first_with_relay_facts_claims_and_shown_status(queue: Queue) -> None:
    admin = await queue.harness.login("admin")
    body = await _get(admin)
    t = queue.tickets
    order = ["mirror_close_failed", "mirror_assign_failed", "tablet", "resolved", "claimed", "waiting"]
    assert [h["ticket"] for h in body["handoffs"]] == [t[name] for name in order]
    by_name = {name: h for name, h in zip(order, body["handoffs"], strict=True)}
    assert body["counts"] == {"open": 2, "assigned": 2, "closed": 2, "all": 6}
    assert body["next_cursor"] is None and body["redacted"] is False

    claimed = by_name["claimed"]
    public = queue.harness.state.pseudonyms.of("telegram:42")
    assert claimed["status"] == claimed["store_status"] == "assigned"
    assert claimed["channel"] == "telegram" and claimed["conversation"] == public
    assert claimed["reason"] == "lost parcel" and claimed["relayed"] is True
    assert claimed["claimed_by"] == "Sam"
    assert claimed["claimed_at"] == "2026-11-27T09:17:00+00:00"
    assert claimed["created_at"] == "2026-11-27T09:14:00+00:00"  # when the order store filed it
    assert claimed["closed_at"] is None
    assert claimed["transcript_url"] == f"/console#conversation={public}"
    assert claimed["transcript_available"] is True
    assert by_name["waiting"]["transcript_available"] is False  # nothing of it in the tracker store

    resolved = by_name["resolved"]
    assert (resolved["status"], resolved["claimed_by"], resolved["closed_by"]) == ("closed", "Alex", "U0STAFF02")
    assert resolved["closed_at"] == "2026-11-27T09:24:00+00:00"

    tablet = by_name["tablet"]
    assert (tablet["status"], tablet["relayed"], tablet["history"], tablet["claimed_by"]) == ("open", False, [], None)
    assert (tablet["store_id"], tablet["store_name"]) == ("LDN-01", "Covent Garden")
    assert (tablet["can_claim"], tablet["can_resolve"]) == (True, True)  # not relayed: the console takes it
    assert (claimed["can_claim"], claimed["can_resolve"]) == (False, False)  # Slack's desk owns it

    # The desk changed the gateway, the mirror to the order store failed: the queue shows the relay's truth.
    assert (by_name["mirror_assign_failed"]["status"], by_name["mirror_assign_failed"]["store_status"]) == (
        "assigned",
        "open",
    )
    assert by_name["mirror_assign_failed"]["claimed_by"] == "Sam"
    assert (by_name["mirror_close_failed"]["status"], by_name["mirror_close_failed"]["store_status"]) == (
        "closed",
        "assigned",
    )
    assert by_name["mirror_close_failed"]["claimed_by"] == "Alex"


async def test_history_is_in_the_order_it_happened(queue: Queue) -> None:
    admin = await queue.harness.login("admin")
    body = await _get(admin, status="assigned")
    claimed = next(h for h in body["handoffs"] if h["ticket"] == queue.tickets["claimed"])
    assert [(e["kind"], e["actor"]) for e in claimed["history"]] == [
        ("opened", None),
        ("posted", None),
        ("claimed", "Sam"),
        ("staff", "Sam"),
        ("customer", "customer"),
    ]
    times = [e["at"] for e in claimed["history"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert claimed["history"][0]["text"] == "lost parcel"
    assert claimed["history"][-1]["text"] == f"{STREET}, call me on {PHONE}"  # admins read it verbatim
    waiting = (await _get(admin, status="open"))["handoffs"][-1]
    assert [e["kind"] for e in waiting["history"]] == ["opened", "posted", "notice"]


@pytest.mark.parametrize("role", ["agent", "lead"])
async def test_agents_and_leads_see_summaries_and_history_redacted(queue: Queue, role: str) -> None:
    viewer = await queue.harness.login(role)
    body = await _get(viewer)
    assert body["redacted"] is True
    raw = json.dumps(body)
    for secret in (EMAIL, PHONE, STREET, "7700"):
        assert secret not in raw, (role, secret)
    by_ticket = {h["ticket"]: h for h in body["handoffs"]}
    waiting = by_ticket[queue.tickets["waiting"]]
    assert waiting["summary"] == "customer: my email is [email] [inform]"
    assert waiting["customer"] == "[email]"
    claimed = by_ticket[queue.tickets["claimed"]]
    assert claimed["history"][-1]["text"] == "[address], call me on [phone]"
    assert by_ticket[queue.tickets["resolved"]]["summary"] == "customer: ring me on [phone] [complaint]"
    # What is not personal data is untouched; a name after "Hi," is redacted, whoever it belongs to.
    assert claimed["history"][3]["text"] == "Hi, [name] here. Which address was it sent to?"


async def test_admins_see_summaries_raw(queue: Queue) -> None:
    body = await _get(await queue.harness.login("admin"))
    waiting = next(h for h in body["handoffs"] if h["ticket"] == queue.tickets["waiting"])
    assert waiting["summary"] == f"customer: my email is {EMAIL} [inform]" and waiting["customer"] == EMAIL


@pytest.mark.parametrize(
    ("status", "names"),
    [
        ("open", ["tablet", "waiting"]),
        ("assigned", ["mirror_assign_failed", "claimed"]),
        ("closed", ["mirror_close_failed", "resolved"]),
        ("all", ["mirror_close_failed", "mirror_assign_failed", "tablet", "resolved", "claimed", "waiting"]),
    ],
)
async def test_status_filter_uses_the_shown_status(queue: Queue, status: str, names: list[str]) -> None:
    body = await _get(await queue.harness.login("agent"), status=status)
    assert [h["ticket"] for h in body["handoffs"]] == [queue.tickets[n] for n in names]
    assert all(h["status"] == status for h in body["handoffs"]) or status == "all"
    assert body["counts"] == {"open": 2, "assigned": 2, "closed": 2, "all": 6}


@pytest.mark.parametrize(
    ("status", "limit", "pages"), [("all", 4, [4, 2]), ("all", 2, [2, 2, 2]), ("closed", 1, [1, 1])]
)
async def test_pages_follow_the_cursor_without_gaps_or_repeats(
    queue: Queue, status: str, limit: int, pages: list[int]
) -> None:
    viewer = await queue.harness.login("lead")
    seen: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": status, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = await _get(viewer, **params)
        sizes.append(len(body["handoffs"]))
        seen += [h["ticket"] for h in body["handoffs"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sizes == pages
    full = await _get(viewer, status=status, limit=200)
    assert seen == [h["ticket"] for h in full["handoffs"]]


@pytest.mark.parametrize(
    ("params", "field_name"),
    [
        ({"status": "pending"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "../etc"}, "cursor"),
        ({"cursor": "9" * 40}, "cursor"),
    ],
)
async def test_malformed_parameters_get_a_clear_400(queue: Queue, params: dict[str, str], field_name: str) -> None:
    status, body = await (await queue.harness.login("agent")).get("/api/console/handoffs", **params)
    assert status == 400
    assert body["code"] == "bad_request" and body["field"] == field_name


async def test_an_unreadable_order_store_is_a_503_and_the_console_keeps_serving(tmp_path: Path) -> None:
    # The file exists but was never migrated: no handoff_tickets table.
    client, harness = await _console(tmp_path, f"sqlite:///{tmp_path / 'not-migrated.db'}", "sqlite://")
    try:
        viewer = await harness.login("lead")
        status, body = await viewer.get("/api/console/handoffs")
        assert status == 503
        assert body == {"error": "the order store cannot be read; try again shortly", "code": "unavailable"}
        status, body = await viewer.get("/api/console/me")
        assert status == 200 and body["role"] == "lead"
    finally:
        await client.close()


async def test_an_empty_queue(tmp_path: Path, shop_url: str) -> None:
    client, harness = await _console(tmp_path, shop_url, "sqlite://")
    try:
        body = await _get(await harness.login("agent"), status="open")
        assert body == {
            "handoffs": [],
            "counts": {"open": 0, "assigned": 0, "closed": 0, "all": 0},
            "next_cursor": None,
            "redacted": True,
        }
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("store", "relay", "shown"),
    [
        ("open", None, "open"),
        ("open", "open", "open"),
        ("open", "assigned", "assigned"),
        ("open", "closed", "closed"),
        ("assigned", "closed", "closed"),
        ("closed", "assigned", "closed"),  # the relay never reopens a ticket the store closed
        ("assigned", "bogus", "assigned"),
    ],
)
def test_effective_status(store: str, relay: str | None, shown: str) -> None:
    assert effective_status(store, relay) == shown


def test_query_parsing_and_transcript_links() -> None:
    assert QueueQuery.parse({}) == QueueQuery("all", 50, None)
    assert QueueQuery.parse({"status": "Closed", "limit": "7", "cursor": "12"}) == QueueQuery("closed", 7, 12)
    with pytest.raises(BadInput):
        QueueQuery.parse({"status": "open;drop"})
    assert transcript_url("web-abcdefghijklmnopqrst") == "/console#conversation=web-abcdefghijklmnopqrst"


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium that can reach nothing but loopback."""

    async with chromium() as instance:
        yield instance


async def test_the_hand_offs_view_filters_expands_a_ticket_and_links_its_transcript(queue: Queue, browser: Any) -> None:
    from playwright.async_api import expect  # noqa: PLC0415

    t = queue.tickets
    page = await browser.new_page()
    problems: list[str] = []
    # HTTP failures are checked through ``failed``; Chromium also logs the favicon's 404, which has no response.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and not m.text.startswith("Failed to load resource") else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    failed: list[tuple[int, str]] = []
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    base = str(queue.harness.client.make_url("/console"))
    await page.goto(base)
    await page.locator("#login-view").wait_for()
    await page.fill("#login-email", "lead@example.com")
    await page.fill("#login-password", PASSWORDS["lead"])
    await page.click("#login-submit")
    await page.locator("#list-view").wait_for()

    await page.click("#nav-handoffs")
    rows = page.locator("#h-list tr.h-row")
    await expect(rows).to_have_count(6)
    assert [await rows.nth(i).get_attribute("data-ticket") for i in range(6)] == [
        t[n] for n in ("mirror_close_failed", "mirror_assign_failed", "tablet", "resolved", "claimed", "waiting")
    ]
    filters = page.locator("#h-filters button")
    assert await filters.all_inner_texts() == ["all (6)", "open (2)", "assigned (2)", "closed (2)"]
    assert await page.locator("#h-redacted").inner_text() == "personal data redacted"

    await page.locator("#h-filters button[data-status='assigned']").click()
    await expect(rows).to_have_count(2)
    await expect(page.locator("#h-filters button.active")).to_have_text("assigned (2)")
    lagging = page.locator(f"#h-list tr.h-row[data-ticket='{t['mirror_assign_failed']}']")
    assert "store: open" in await lagging.inner_text()

    claimed = page.locator(f"#h-list tr.h-row[data-ticket='{t['claimed']}']")
    await claimed.click()
    detail = page.locator(f"#h-list tr.h-detail[data-ticket='{t['claimed']}']")
    events = detail.locator("li.h-event")
    await expect(events).to_have_count(5)
    assert [await events.nth(i).get_attribute("data-kind") for i in range(5)] == [
        "opened",
        "posted",
        "claimed",
        "staff",
        "customer",
    ]
    assert (await events.nth(4).inner_text()).endswith("customer · customer: [address], call me on [phone]")
    assert "where is my parcel" in await detail.locator(".h-summary").inner_text()
    content = await page.content()
    assert PHONE not in content and STREET not in content and EMAIL not in content
    await claimed.click()  # collapses again
    await expect(detail).to_have_count(0)

    public = queue.harness.state.pseudonyms.of("telegram:42")
    await claimed.locator("a.h-transcript").click()
    await expect(page.locator("#t-id")).to_have_text(public)
    assert page.url == f"{base}#conversation={public}"
    await expect(page.locator("#turns .turn")).to_have_count(1)

    await page.click("#nav-handoffs")  # back to the queue, still filtered as it was left
    await expect(page.locator("#h-filters button.active")).to_have_text("assigned (2)")
    await page.locator("#h-filters button[data-status='open']").click()
    await expect(rows).to_have_count(2)
    waiting = page.locator(f"#h-list tr.h-row[data-ticket='{t['waiting']}']")
    assert await waiting.locator("a.h-transcript").count() == 0  # nothing to open: no transcript
    assert queue.harness.state.pseudonyms.of("web:waiting-0001") in await waiting.inner_text()
    assert "waiting-0001" not in await page.content()

    # The transcript address opens straight on the transcript for a signed-in browser.
    await page.goto(f"{base}#conversation={public}")
    await expect(page.locator("#t-id")).to_have_text(public)
    assert problems == [], problems  # no script or Content-Security-Policy errors
    assert [(status, url.removeprefix(base.removesuffix("/console"))) for status, url in failed] == [
        (401, "/api/console/me")  # the page asking whether it is signed in before the sign-in
    ]


async def test_forget_customer_blanks_what_the_relay_kept_and_the_queue_shows_it(queue: Queue) -> None:
    from console.privacy import FORGOTTEN, forget_customer  # noqa: PLC0415

    state = queue.harness.state
    # The customer wrote their address in the conversation of the "waiting" ticket.
    with state.tracker.begin() as conn:
        body = {"event": "user", "timestamp": 1_764_234_100.0, "text": f"it is {EMAIL}", "metadata": {}}
        conn.execute(
            insert(events),
            [
                {
                    "sender_id": queue.conversations["waiting"],
                    "type_name": "user",
                    "timestamp": 1_764_234_100.0,
                    "intent_name": None,
                    "action_name": None,
                    "data": json.dumps(body),
                }
            ],
        )
    shop_engine = make_engine(queue.shop_url)
    try:
        report = forget_customer(state.tracker, state.sessions, shop_engine, EMAIL)
    finally:
        shop_engine.dispose()
    assert report.conversations == [queue.conversations["waiting"]]
    assert (report.handoff_tickets_anonymised, report.handoff_relay_cases_anonymised) == (1, 1)

    body = await _get(await queue.harness.login("admin"))
    by_ticket = {h["ticket"]: h for h in body["handoffs"]}
    waiting = by_ticket[queue.tickets["waiting"]]
    assert (waiting["summary"], waiting["customer"], waiting["transcript_available"]) == (FORGOTTEN, None, False)
    assert [(e["kind"], e["text"]) for e in waiting["history"]] == [("opened", ""), ("posted", ""), ("notice", "")]
    assert EMAIL not in json.dumps(body)
    # Other customers' tickets are untouched.
    assert by_ticket[queue.tickets["claimed"]]["history"][-1]["text"] == f"{STREET}, call me on {PHONE}"


def test_forget_customer_works_on_a_gateway_database_without_the_desk_tables(tmp_path: Path, shop_url: str) -> None:
    from connectors.db import gateway_engine  # noqa: PLC0415
    from console.models import ConsoleUser  # noqa: PLC0415
    from console.privacy import forget_customer  # noqa: PLC0415

    gateway = gateway_engine(f"sqlite:///{tmp_path / 'bare-gateway.db'}")
    ConsoleUser.metadata.create_all(
        gateway, tables=[t for t in ConsoleUser.metadata.sorted_tables if t.name.startswith("console_")]
    )
    tracker = tracker_engine(_tracker_with(tmp_path / "t.db", "web:someone"))
    shop_engine = make_engine(shop_url)
    OrderStore(sessionmaker(shop_engine)).open_handoff(
        "web:someone", channel="web", reason="r", summary=f"it is {EMAIL}"
    )
    with tracker.begin() as conn:
        body = {"event": "user", "timestamp": 1.0, "text": f"it is {EMAIL}", "metadata": {}}
        conn.execute(
            insert(events),
            [
                {
                    "sender_id": "web:someone",
                    "type_name": "user",
                    "timestamp": 1.0,
                    "intent_name": None,
                    "action_name": None,
                    "data": json.dumps(body),
                }
            ],
        )
    try:
        report = forget_customer(tracker, sessionmaker(gateway, expire_on_commit=False), shop_engine, EMAIL)
    finally:
        shop_engine.dispose()
        tracker.dispose()
        gateway.dispose()
    assert (report.conversations, report.handoff_tickets_anonymised, report.handoff_relay_cases_anonymised) == (
        ["web:someone"],
        1,
        0,
    )


def test_the_queue_reads_a_gateway_database_without_the_desk_tables(tmp_path: Path, shop_url: str) -> None:
    """Slack off: the desk's tables may never have been made; the queue is then the order store's alone."""
    from connectors.db import gateway_engine  # noqa: PLC0415
    from console.handoffs import HandoffQueue  # noqa: PLC0415
    from console.models import ConsoleUser  # noqa: PLC0415

    gateway = gateway_engine(f"sqlite:///{tmp_path / 'bare-gateway.db'}")
    ConsoleUser.metadata.create_all(
        gateway, tables=[t for t in ConsoleUser.metadata.sorted_tables if t.name.startswith("console_")]
    )
    shop_engine = make_engine(shop_url)
    OrderStore(sessionmaker(shop_engine)).open_handoff(
        "tablet:s1", channel="tablet", reason="staff call", summary="", store_id="LDN-01"
    )
    try:
        page = HandoffQueue(shop_engine, sessionmaker(gateway, expire_on_commit=False)).page(
            QueueQuery(), raw_text=False
        )
    finally:
        shop_engine.dispose()
        gateway.dispose()
    [item] = page["handoffs"]
    assert (item["ticket"], item["status"], item["relayed"], item["history"], item["can_claim"]) == (
        "HO-000001",
        "open",
        False,
        [],
        True,
    )


def test_the_console_declares_the_desk_tables_whatever_channels_are_on(tmp_path: Path) -> None:
    """In a fresh process without Slack (nothing else imported the desk), the gateway still creates its tables."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "from gateway import create_app\n"
        "from connectors.db import GatewayBase\n"
        "from tests.connectors.gateway_fakes import make_settings\n"
        f"create_app(make_settings('http://127.0.0.1:9', database_url='sqlite:///{tmp_path / 'g.db'}'))\n"
        "print(sorted(t for t in GatewayBase.metadata.tables if t.startswith('handoff_')))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['handoff_cases', 'handoff_events']"
