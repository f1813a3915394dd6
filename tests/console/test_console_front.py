"""The console as support leads use it, on conversations the real bot produced: no customer's conversation id
ever leaves it, a readable list, bulk review, claims, undoing a correction, tickets taken without Slack,
customers' photos and ratings."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import uuid
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.orm import sessionmaker

from connectors.keys import SESSIONS_KEY
from connectors.web.transcript import Transcript
from store.db import make_engine
from store.feedback import CustomerFeedback
from store.service import OrderStore
from tests.console.conftest import Databases, Harness, Viewer

pytestmark = pytest.mark.e2e


def web_secrets(dbs: Databases) -> list[str]:
    """Every web conversation id of the seed, with and without its ``web:`` prefix: the customers' secrets."""
    out = []
    for conversation in dbs.seeded.conversations.values():
        if conversation.sender_id.startswith("web:"):
            out += [conversation.sender_id, conversation.sender_id.removeprefix("web:")]
    assert len(out) >= 8
    return out


def store(dbs: Databases) -> OrderStore:
    return OrderStore(sessionmaker(make_engine(dbs.shop_url)))


def a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 200)).save(out, "JPEG")
    return out.getvalue()


async def _all_get_answers(viewer: Viewer, dbs: Databases) -> list[str]:
    """The text of every GET the console's API answers this viewer, for every conversation and page."""
    seen: list[str] = []

    async def get(path: str, **params: Any) -> Any:
        resp = await viewer.client.get(path, params=params, headers={"Cookie": f"console_session={viewer.token}"})
        text = await resp.text()
        seen.append(text + json.dumps(dict(resp.headers)))
        return resp.status, (json.loads(text) if resp.content_type == "application/json" else text)

    for path in ("/console", "/api/console/me", "/api/console/vocabulary", "/api/console/counts"):
        await get(path)
    cursor = None
    ids = []
    while True:
        status, page = await get("/api/console/conversations", limit=3, **({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        ids += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(ids) == len(dbs.seeded.conversations)
    for public in ids:
        assert (await get(f"/api/console/conversations/{public}"))[0] == 200
    for status_filter in ("all", "open", "assigned", "closed"):
        await get("/api/console/handoffs", status=status_filter)
    if viewer.role != "agent":
        for path in ("/api/console/corrections", "/api/console/corrections/export", "/api/console/metrics"):
            await get(path)
    return seen


@pytest.mark.parametrize("role", ["agent", "lead", "admin"])
async def test_no_console_answer_contains_a_web_conversation_id(console: Harness, dbs: Databases, role: str) -> None:
    viewer = await console.login(role)
    lead = await console.login("lead")
    # Make every kind of answer hold something about the web conversations: tags, notes, a correction,
    # an assignment, a photo and a rating, a ticket claimed; then read everything back.
    victim = dbs.sender("verified_tracking")
    public = console.public(victim)
    assert (await viewer.post(f"/api/console/conversations/{public}/tags", {"tag": "reviewed"}))[0] == 201
    assert (await viewer.post(f"/api/console/conversations/{public}/notes", {"text": "called back"}))[0] == 201
    assert (await viewer.post(f"/api/console/conversations/{public}/assign", {"to": "me"}))[0] == 200
    event_id = dbs.sql("select min(id) from events where sender_id = ? and type_name = 'user'", victim)[0][0]
    answers = [
        await lead.post(f"/api/console/conversations/{public}/corrections", {"event_id": event_id, "intent": "greet"})
    ]
    feedback = CustomerFeedback.of(store(dbs))
    feedback.add_photo(dbs.sender("fallback_handoff"), "web", a_photo(), "image/jpeg", 30, 20)
    feedback.rate(victim, "web", 5, f"great, my id is {victim}")  # even a comment quoting the id
    answers.append(await viewer.post("/api/console/bulk", {"ids": [public], "tag": "good example"}))
    answers.append(await viewer.post("/api/console/handoffs/HO-000003/claim", {}))
    texts = [json.dumps(a) for a in answers] + await _all_get_answers(viewer, dbs)
    for secret in web_secrets(dbs):
        leaked = [t[:200] for t in texts if secret in t]
        assert not leaked, (secret, leaked)
    # The console's own ids do work everywhere, and sender ids do not.
    assert (await viewer.get(f"/api/console/conversations/{public}"))[0] == 200
    assert (await viewer.get(f"/api/console/conversations/{victim}"))[0] == 404
    assert (await viewer.get(f"/api/console/conversations/{victim.removeprefix('web:')}"))[0] == 404


def say_in(dbs: Databases, sender: str, text: str) -> None:
    """Append a customer message to ``sender``'s conversation in the tracker copy, as rasa stores one."""
    data = {"event": "user", "text": text, "parse_data": {"intent": {"name": "inform", "confidence": 0.9}},
            "metadata": {"channel": sender.partition(":")[0]}}  # fmt: skip
    with sqlite3.connect(dbs.tracker_path) as conn:
        ts = conn.execute("select max(timestamp) from events").fetchone()[0] + 1
        conn.execute(
            "insert into events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "values (?, 'user', ?, 'inform', null, ?)",
            (sender, ts, json.dumps(data)),
        )


async def test_a_conversation_id_typed_into_a_message_cannot_be_searched_for(console: Harness, dbs: Databases) -> None:
    # R2-2: the list showed the pseudonym, but q= matched the raw id, so an agent read it back by prefix search
    victim, other = dbs.sender("verified_tracking"), dbs.sender("fallback_handoff")
    generated = uuid.uuid4().hex  # a widget-made id of a conversation on another gateway
    secrets = [victim.removeprefix("web:"), other.removeprefix("web:"), generated]
    say_in(dbs, victim, f"my reference is {secrets[0]}, my friend's chat is web:{secrets[1]}, and {generated}")
    for role in ("agent", "lead", "admin"):
        viewer = await console.login(role)
        assert victim in await viewer.ids(q="my reference is")  # the message itself is indexed
        for secret in secrets:
            for probe in (secret, secret[:8], secret[2:10], secret[-8:], f"web:{secret[:5]}"):
                assert victim not in await viewer.ids(q=probe), (role, probe)
        texts = await _all_get_answers(viewer, dbs)
        for secret in secrets:
            leaked = [t[:300] for t in texts if secret in t]
            assert not leaked, (role, secret, leaked)
        transcript = json.dumps((await viewer.get(f"/api/console/conversations/{console.public(victim)}"))[1])
        assert "my reference is" in transcript and "[conversation id]" in transcript, role


async def test_the_list_reads_without_ids(console: Harness, dbs: Databases) -> None:
    lead = await console.login("lead")
    status, page = await lead.get("/api/console/conversations", limit=200)
    assert status == 200
    rows = {lead.sender_of(c["id"]): c for c in page["conversations"]}
    verified = rows[dbs.sender("verified_tracking")]
    first = dbs.seeded.cases["in_transit"]["email"]
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z]\.", verified["who"]), verified["who"]  # a first name and an initial
    assert first not in json.dumps(page)
    assert verified["status"] == "answered by the assistant" and verified["preview"]
    handed = rows[dbs.sender("fallback_handoff")]
    assert handed["status"] == "open hand-off" and handed["handoff"]["ticket"] == "HO-000001"
    tablet = rows[dbs.sender("tablet_postcode")]
    # the seeded tablet says store "1", which the order store does not know: its id is shown instead of a name
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z]\. at the tablet in 1", tablet["who"]), tablet["who"]
    phone = rows[dbs.sender("address_and_phone")]
    assert "[phone]" in phone["preview"] or "[address]" in phone["preview"] or "[postcode]" in phone["preview"]
    admin = await console.login("admin")
    raw = {
        admin.sender_of(c["id"]): c
        for c in (await admin.get("/api/console/conversations", limit=200))[1]["conversations"]
    }
    assert (
        raw[dbs.sender("verified_tracking")]["who"].count(" ") >= 1
        and "." not in raw[dbs.sender("verified_tracking")]["who"]
    )
    for row in page["conversations"]:
        assert re.fullmatch(r"[a-z]+-[a-z2-7]{20}", row["id"]) and "sender_id" not in row and "sender" not in row
        assert row["last_activity"].endswith("+00:00")  # the page shows it in the shop's time zone
    me = (await lead.get("/api/console/me"))[1]
    assert me["shop"] == {"locale": "en-GB", "timezone": "Europe/London"}
    assert "rasa's own REST channel" in me["channels"]["unknown"]


async def test_bulk_review_claim_and_the_assigned_filter(console: Harness, dbs: Databases) -> None:
    lead, agent = await console.login("lead"), await console.login("agent")
    web = [console.public(c.sender_id) for c in dbs.seeded.conversations.values() if c.channel == "web"]
    assert (await agent.post("/api/console/bulk", {"ids": web, "tag": "reviewed"})) == (200, {"updated": len(web)})
    assert await lead.ids(tag="reviewed") == {lead.sender_of(i) for i in web}
    assert (await agent.post("/api/console/bulk", {"ids": web[:2], "untag": "reviewed"}))[1] == {"updated": 2}
    assert len(await lead.ids(tag="reviewed")) == len(web) - 2
    # One unknown id: nothing changes.
    status, body = await agent.post("/api/console/bulk", {"ids": [web[0], "web-aaaaaaaaaaaaaaaaaaaa"], "tag": "x"})
    assert status == 404 and "nothing was changed" in body["error"]
    assert await lead.ids(tag="x") == set()
    for bad in ({"ids": [], "tag": "x"}, {"ids": web}, {"ids": web, "assign": "someone"}, {"ids": "all", "tag": "x"}):
        assert (await agent.post("/api/console/bulk", bad))[0] == 400, bad

    assert (await agent.post("/api/console/bulk", {"ids": web[:3], "assign": "me"}))[1] == {"updated": 3}
    assert await agent.ids(assigned="me") == {agent.sender_of(i) for i in web[:3]}
    assert await lead.ids(assigned="me") == set()
    assert len(await lead.ids(assigned="nobody")) == len(dbs.seeded.conversations) - 3
    status, body = await lead.post(f"/api/console/conversations/{web[0]}/assign", {"to": "me"})
    assert (status, body["assigned_to"]) == (200, "lead@example.com")  # a lead takes it over
    assert (await agent.get(f"/api/console/conversations/{web[0]}"))[1]["assigned_to"] == "lead@example.com"
    assert (await lead.post(f"/api/console/conversations/{web[0]}/assign", {"to": None}))[1]["assigned_to"] is None
    assert (await lead.post(f"/api/console/conversations/{web[0]}/assign", {"to": "agent"}))[0] == 400


async def test_agents_take_free_conversations_and_their_own_leads_any(console: Harness, dbs: Databases) -> None:
    # Red-team round 3 (NEW-4): an agent took over or dropped a lead's conversation through /assign and /bulk.
    # The hand-off tickets' rules (R2-4) now hold for conversations too.
    lead, agent = await console.login("lead"), await console.login("agent")
    web = [console.public(c.sender_id) for c in dbs.seeded.conversations.values() if c.channel == "web"]
    leads, free = web[0], web[1]
    assert (await lead.post(f"/api/console/conversations/{leads}/assign", {"to": "me"}))[0] == 200
    status, body = await agent.post(f"/api/console/conversations/{leads}/assign", {"to": "me"})
    assert (status, body["code"]) == (409, "conflict") and "lead@example.com" in body["error"]
    status, body = await agent.post(f"/api/console/conversations/{leads}/assign", {"to": None})
    assert (status, body["code"]) == (403, "forbidden")
    for change in ({"assign": "me"}, {"assign": None}, {"assign": "me", "tag": "taken"}):
        status, body = await agent.post("/api/console/bulk", {"ids": [free, leads], **change})
        assert status in (403, 409), (change, body)
    # Nothing changed: not the lead's claim, not the free one, no tag.
    assert (await lead.get(f"/api/console/conversations/{leads}"))[1]["assigned_to"] == "lead@example.com"
    assert (await lead.get(f"/api/console/conversations/{free}"))[1]["assigned_to"] is None
    assert await lead.ids(tag="taken") == set()
    # An agent takes a free one, keeps their own, releases it; then a lead may take or release anyone's.
    assert (await agent.post("/api/console/bulk", {"ids": [free], "assign": "me"}))[1] == {"updated": 1}
    assert (await agent.post(f"/api/console/conversations/{free}/assign", {"to": "me"}))[0] == 200
    assert (await lead.post("/api/console/bulk", {"ids": [free, leads], "assign": "me"}))[1] == {"updated": 2}
    assert await lead.ids(assigned="me") == {lead.sender_of(free), lead.sender_of(leads)}
    assert (await agent.post(f"/api/console/conversations/{free}/assign", {"to": None}))[0] == 403
    assert (await agent.post(f"/api/console/conversations/{free}/assign", {"to": "me"}))[0] == 409
    assert (await lead.post(f"/api/console/conversations/{free}/assign", {"to": None}))[1]["assigned_to"] is None
    assert (await agent.post(f"/api/console/conversations/{free}/assign", {"to": "me"}))[0] == 200
    assert (await agent.post(f"/api/console/conversations/{free}/assign", {"to": None}))[0] == 200


def slot_in(dbs: Databases, sender: str, name: str, value: object) -> None:
    """Append a slot event to ``sender``'s conversation in the tracker copy."""
    with sqlite3.connect(dbs.tracker_path) as conn:
        ts = conn.execute("select max(timestamp) from events").fetchone()[0] + 1
        conn.execute(
            "insert into events (sender_id, type_name, timestamp, intent_name, action_name, data) "
            "values (?, 'slot', ?, null, ?, ?)",
            (sender, ts, name, json.dumps({"event": "slot", "timestamp": ts, "name": name, "value": value})),
        )


async def test_what_is_typed_at_the_order_prompt_never_shows_or_matches(console: Harness, dbs: Databases) -> None:
    # Red-team round 3 (NEW-3): the slot held whatever was typed at "Which order is it about?" until the
    # form refused it, and the list's orders, the transcript's orders and order= showed and matched it raw.
    victim = dbs.sender("fallback_handoff")
    bare = victim.removeprefix("web:")
    typed = [
        "it was hsingh81@mail.example.com, postcode W1F 9XX, phone 07700 900123",
        "I live at 12 Baker Street, London NW1 6XE, my name is Harriet Singh",
        bare,
        f"ref {victim} please",
    ]
    for text in typed:
        say_in(dbs, victim, text)
        slot_in(dbs, victim, "order_number", text)
        slot_in(dbs, victim, "order_number", None)
    say_in(dbs, victim, "ord 100123 sorry")
    slot_in(dbs, victim, "order_number", "ORD-100123")
    # A lead corrects the message quoting the id: the corrections list and the export must not show it either.
    lead = await console.login("lead")
    event_id = dbs.sql("select max(id) from events where sender_id = ? and type_name = 'user' and data like ?",
                       victim, f"%ref {victim}%")[0][0]  # fmt: skip
    correction = {"event_id": event_id, "intent": "inform"}
    assert (await lead.post(f"/api/console/conversations/{console.public(victim)}/corrections", correction))[0] == 201
    leaks = ["hsingh81", "W1F 9XX", "07700", "Baker Street", "NW1 6XE", "Harriet", bare[:12], bare[-8:]]
    for role in ("agent", "lead", "admin"):
        viewer = await console.login(role)
        rows = [c for c in (await viewer.get("/api/console/conversations", limit=200))[1]["conversations"]]
        [row] = [r for r in rows if r["id"] == console.public(victim)]
        assert row["orders"] == ["ORD-100123"], role
        status, transcript = await viewer.get(f"/api/console/conversations/{console.public(victim)}")
        assert status == 200 and transcript["orders"] == ["ORD-100123"], role
        assert victim in await viewer.ids(order="ord-100123")
        for probe in ("hsingh81@mail.example.com", "it", bare[:32], bare[:8], f"web:{bare[:5]}", "W1F 9XX"):
            status, body = await viewer.get("/api/console/conversations", order=probe)
            assert (status, body.get("field")) == (400, "order"), (role, probe)
        texts = await _all_get_answers(viewer, dbs)
        for secret in bare[:12], bare[-8:]:
            assert not [t[:300] for t in texts if secret in t], (role, secret)
        if role != "admin":  # an admin sees personal data raw; the orders field is order numbers for everyone
            shown = json.dumps(transcript) + json.dumps(row)
            assert not [leak for leak in leaks if leak in shown], role
        assert "hsingh81" not in json.dumps(row["orders"]) + json.dumps(transcript["orders"])


async def test_a_correction_can_be_undone(console: Harness, dbs: Databases) -> None:
    lead, agent = await console.login("lead"), await console.login("agent")
    sender = dbs.sender("low_confidence")
    public = console.public(sender)
    event_id = dbs.sql("select min(id) from events where sender_id = ? and type_name = 'user'", sender)[0][0]
    path = f"/api/console/conversations/{public}/corrections"
    assert (await lead.post(path, {"event_id": event_id, "intent": "out_of_scope"}))[0] == 201
    assert len((await lead.get("/api/console/corrections"))[1]["corrections"]) == 1
    assert (await agent.delete(f"{path}/{event_id}"))[0] == 403  # agents may not correct
    other = console.public(dbs.sender("verified_tracking"))
    assert (await lead.delete(f"/api/console/conversations/{other}/corrections/{event_id}"))[0] == 404
    assert (await lead.delete(f"{path}/{event_id}"))[1] == {"ok": True, "event_id": event_id}
    assert (await lead.get("/api/console/corrections"))[1]["corrections"] == []
    assert "out_of_scope" not in (await lead.get("/api/console/corrections/export"))[1]
    turns = (await lead.get(f"/api/console/conversations/{public}"))[1]["turns"]
    assert all(t["user"]["correction"] is None for t in turns if t["user"])
    assert (await lead.delete(f"{path}/{event_id}"))[0] == 404  # nothing left to undo


async def test_a_ticket_is_taken_in_the_console_and_the_customer_told(console: Harness, dbs: Databases) -> None:
    agent = await console.login("agent")
    sender = dbs.sender("fallback_handoff")  # HO-000001, not relayed: no Slack in this gateway
    Transcript(console.client.app[SESSIONS_KEY]).claim(sender.removeprefix("web:"), "seed-msg-01", {"text": "hi"})
    body = (await agent.get("/api/console/handoffs", status="open"))[1]
    ticket = next(h for h in body["handoffs"] if h["ticket"] == "HO-000001")
    assert (ticket["relayed"], ticket["can_claim"], ticket["can_resolve"]) == (False, True, True)
    claimed = (await agent.post("/api/console/handoffs/HO-000001/claim", {}))[1]
    assert claimed["claimed_by"] == "agent@example.com (console)"
    assert (await agent.post("/api/console/handoffs/HO-000001/claim", {}))[0] == 409  # taken already
    assert (await agent.post("/api/console/handoffs/HO-999999/claim", {}))[0] == 404
    status, body = await agent.post("/api/console/handoffs/HO-000001/resolve", {})
    assert (status, body) == (200, {"ticket": "HO-000001", "status": "closed", "customer_told": True})
    assert (await agent.post("/api/console/handoffs/HO-000001/resolve", {}))[0] == 409
    [closed] = [t for t in store(dbs).handoffs(None) if t.ticket_number == "HO-000001"]
    assert closed.status == "closed"
    # The customer's chat got the sentence and the rating request.
    resp = await console.client.get(f"/api/web/history?conversation_id={sender.removeprefix('web:')}")
    last = (await resp.json())["entries"][-1]["message"]
    assert last["custom"] == {"type": "handoff_resolved", "ticket": "HO-000001"} and "HO-000001" in last["text"]
    # A tablet whose shopper has gone: resolved all the same, nobody to tell.
    tablet_ticket = store(dbs).open_handoff(
        dbs.sender("tablet_postcode"), "tablet", "staff call", "", store_id="LDN-01"
    )
    status, body = await agent.post(f"/api/console/handoffs/{tablet_ticket.ticket_number}/resolve", {})
    assert (status, body["customer_told"]) == (200, False)


async def test_the_agent_who_claimed_a_ticket_replies_to_the_customer_from_the_console(
    console: Harness, dbs: Databases
) -> None:
    # Red-team round 3 (NEW-7): after a console claim the customer was told "a colleague will reply right
    # here in this chat", but the console had no way to reply.
    agent, lead, admin = await console.login("agent"), await console.login("lead"), await console.login("admin")
    sender = dbs.sender("fallback_handoff")  # HO-000001, not relayed: no Slack in this gateway
    bare, public = sender.removeprefix("web:"), console.public(sender)
    Transcript(console.client.app[SESSIONS_KEY]).claim(bare, "seed-msg-01", {"text": "hi"})
    path = "/api/console/handoffs/HO-000001/reply"
    said = "Hi, I've checked: it ships today. Write to hsingh81@mail.example.com if needed."
    status, body = await agent.post(path, {"text": said})
    assert (status, body["code"]) == (409, "conflict") and "claim" in body["error"]  # claim it first
    assert (await agent.post("/api/console/handoffs/HO-000001/claim", {}))[0] == 200
    listed = {h["ticket"]: h for h in (await agent.get("/api/console/handoffs"))[1]["handoffs"]}
    assert listed["HO-000001"]["can_reply"] is True
    assert {h["ticket"]: h for h in (await lead.get("/api/console/handoffs"))[1]["handoffs"]}["HO-000001"][
        "can_reply"
    ] is False
    # Role, CSRF, body and length checks like claim and resolve.
    assert (await lead.post(path, {"text": "me too"}))[0] == 403  # someone else's claim, even for a lead
    assert (await agent.post(path, {"text": said}, csrf=False))[0] == 403
    resp = await console.client.post(
        path, data="text=hi", headers={**agent._headers(True), "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert resp.status == 415
    for bad in ({}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": "x" * 2001}, {"text": "\u202e\x00 \u2066"}):
        status, body = await agent.post(path, bad)
        assert (status, body.get("field")) == (400, "text"), bad
    assert (await agent.post("/api/console/handoffs/HO-999999/reply", {"text": "hi"}))[0] == 404
    # Control characters and bidi overrides are dropped, as from a customer's message (red-team round 4).
    status, body = await agent.post(path, {"text": f"  {said[:3]}\u202e\x07{said[3:]}  "})
    assert (status, body) == (201, {"ticket": "HO-000001", "delivered": True})
    # It reached the customer's chat, signed as staff without the agent's email.
    resp = await console.client.get(f"/api/web/history?conversation_id={bare}")
    last = (await resp.json())["entries"][-1]["message"]
    assert last["text"] == f"A colleague (staff): {said}" and last["custom"]["type"] == "agent_message"
    assert "agent@example.com" not in json.dumps(last)
    # Recorded: the transcript and the ticket's history show it, redacted for agents and leads, raw for admins.
    for viewer, shown in ((agent, "[email]"), (lead, "[email]"), (admin, "hsingh81@mail.example.com")):
        [reply] = (await viewer.get(f"/api/console/conversations/{public}"))[1]["staff_replies"]
        assert (reply["ticket"], reply["by"], reply["delivered"]) == ("HO-000001", "agent@example.com (console)", True)
        assert shown in reply["text"] and ("hsingh81" not in reply["text"]) == (viewer is not admin)
        history = {h["ticket"]: h for h in (await viewer.get("/api/console/handoffs"))[1]["handoffs"]}["HO-000001"][
            "history"
        ]
        assert [(e["kind"], e["actor"]) for e in history] == [("staff", "agent@example.com (console)")]
        assert shown in history[0]["text"]
    # Closed: no more replies (the customer is back with the assistant).
    assert (await agent.post("/api/console/handoffs/HO-000001/resolve", {}))[0] == 200
    assert (await agent.post(path, {"text": "one more thing"}))[0] == 409
    # A tablet whose shopper has gone: not delivered, and recorded as such.
    tablet = dbs.sender("tablet_postcode")
    number = store(dbs).open_handoff(tablet, "tablet", "staff call", "", store_id="LDN-01").ticket_number
    assert (await agent.post(f"/api/console/handoffs/{number}/claim", {}))[0] == 200
    status, body = await agent.post(f"/api/console/handoffs/{number}/reply", {"text": "Coming over now"})
    assert (status, body["delivered"]) == (201, False)
    history = {h["ticket"]: h for h in (await agent.get("/api/console/handoffs"))[1]["handoffs"]}[number]["history"]
    assert [e["kind"] for e in history] == ["push_failed"]


async def test_claim_and_resolve_take_json_only_and_a_claim_is_resolved_by_its_owner_or_a_lead(
    console: Harness, dbs: Databases
) -> None:
    agent, lead = await console.login("agent"), await console.login("lead")
    headers = {"Cookie": f"console_session={agent.token}", "X-CSRF-Token": agent.csrf}
    # R2-3: a form or text/plain body (what a cross-site form can send) is refused like on every console POST
    for verb in ("claim", "resolve"):
        for content_type, data in (("application/x-www-form-urlencoded", "a=1"), ("text/plain", "{}"), (None, None)):
            sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
            resp = await console.client.post(f"/api/console/handoffs/HO-000001/{verb}", data=data, headers=sent)
            assert resp.status == 415, (verb, content_type, resp.status)
    [ticket] = [t for t in store(dbs).handoffs(None) if t.ticket_number == "HO-000001"]
    assert ticket.status == "open"  # nothing happened (claimed, it would be "assigned")
    # the lead's claim: not the agent's to resolve (and the list says so), the lead's own and a lead's to
    assert (await lead.post("/api/console/handoffs/HO-000001/claim", {}))[0] == 200
    listed = (await agent.get("/api/console/handoffs", status="assigned"))[1]["handoffs"]
    assert next(h for h in listed if h["ticket"] == "HO-000001")["can_resolve"] is False
    status, body = await agent.post("/api/console/handoffs/HO-000001/resolve", {})
    assert status == 403 and "claimed by lead@example.com" in body["error"], body
    [ticket] = [t for t in store(dbs).handoffs(None) if t.ticket_number == "HO-000001"]
    assert ticket.status != "closed"
    assert (await lead.post("/api/console/handoffs/HO-000001/resolve", {}))[0] == 200
    # an agent's own claim is theirs to resolve; a lead may close any claimed ticket
    tablet = store(dbs).open_handoff(dbs.sender("tablet_postcode"), "tablet", "staff call", "", store_id="LDN-01")
    number = tablet.ticket_number
    assert (await agent.post(f"/api/console/handoffs/{number}/claim", {}))[0] == 200
    listed = (await agent.get("/api/console/handoffs", status="assigned"))[1]["handoffs"]
    assert next(h for h in listed if h["ticket"] == number)["can_resolve"] is True
    assert (await agent.post(f"/api/console/handoffs/{number}/resolve", {}))[0] == 200


async def test_photos_are_shown_to_signed_in_staff_only(console: Harness, dbs: Databases) -> None:
    sender = dbs.sender("fallback_handoff")
    kept = CustomerFeedback.of(store(dbs)).add_photo(sender, "web", a_photo(), "image/jpeg", 30, 20)
    assert kept.ticket_number == "HO-000001"
    agent = await console.login("agent")
    body = (await agent.get("/api/console/handoffs"))[1]
    [photo] = next(h for h in body["handoffs"] if h["ticket"] == "HO-000001")["photos"]
    assert photo["url"] == f"/api/console/photos/{kept.photo_id}" and photo["conversation"] == console.public(sender)
    transcript = (await agent.get(f"/api/console/conversations/{console.public(sender)}"))[1]
    assert [p["id"] for p in transcript["photos"]] == [kept.photo_id]
    resp = await console.client.get(photo["url"], headers={"Cookie": f"console_session={agent.token}"})
    assert resp.status == 200 and resp.content_type == "image/jpeg" and (await resp.read())[:3] == b"\xff\xd8\xff"
    assert resp.headers["Cache-Control"] == "private, no-store"
    assert (await console.client.get(photo["url"])).status == 401  # not signed in
    assert (await agent.get(f"/api/console/photos/{kept.photo_id + 1}"))[0] == 404


async def test_ratings_are_counted_by_channel_and_outcome_under_the_filters(console: Harness, dbs: Databases) -> None:
    feedback = CustomerFeedback.of(store(dbs))
    feedback.rate(dbs.sender("verified_tracking"), "web", 5, "very quick")
    feedback.rate(dbs.sender("low_confidence"), "web", 2, "call me on 07700 900123")
    shop = store(dbs)
    shop.close_handoff("HO-000002")
    feedback.rate(dbs.sender("telegram_delayed_handoff"), "telegram", 4, subject="HO-000002")
    lead = await console.login("lead")
    ratings = (await lead.get("/api/console/metrics"))[1]["ratings"]
    assert (ratings["count"], ratings["average"]) == (3, 3.67)
    assert ratings["by_channel"] == {"telegram": {"count": 1, "average": 4.0}, "web": {"count": 2, "average": 3.5}}
    assert ratings["by_outcome"] == {"assistant": {"count": 2, "average": 3.5}, "handoff": {"count": 1, "average": 4.0}}
    assert ratings["by_score"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1}
    assert [c["comment"] for c in ratings["recent_comments"]] == ["call me on [phone]", "very quick"]
    charts = (await lead.get("/api/console/metrics"))[1]["charts"]
    assert "web (2)" in charts["ratings_by_channel"] and "resolved by a person (1)" in charts["ratings_by_outcome"]
    only_web = await lead.get("/api/console/metrics", channel="web")
    assert only_web[1]["ratings"]["count"] == 2 and only_web[1]["applied"] == {"channel": "web"}
    assert (await lead.get("/api/console/metrics"))[1]["applied"] == {}
