"""An in-store tablet through the running gateway, rasa and action server: this shop's stock, a staff call."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from typing import Any

import aiohttp
import pytest
from sqlalchemy.orm import sessionmaker

from connectors.db import gateway_engine
from connectors.tablet.__main__ import main as tablet_command
from connectors.tablet.translate import NOT_CALLED, QUEUED
from console.auth import add_user
from tests.e2e.conftest import Chat, RunningStack, shop_path


@pytest.fixture(scope="module")
def token(stack: RunningStack) -> str:
    """A tablet registered for LDN-01 with the real device command, in the stack's gateway database."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = tablet_command(
            [
                "--gateway-database-url",
                stack.config.gateway_db_url,
                "--shop-database-url",
                stack.shop_db_url,
                "register",
                "--store",
                "LDN-01",
                "--name",
                "e2e front door",
            ]
        )
    assert code == 0, out.getvalue()
    return out.getvalue().splitlines()[-1]


def shelved_here(stack: RunningStack) -> tuple[str, int, str]:
    """A product on the LDN-01 shelves: (title, quantity, location)."""
    with sqlite3.connect(shop_path(stack)) as db:
        row = db.execute(
            "SELECT p.title, s.quantity, s.location FROM store_stock s JOIN products p ON p.id = s.product_id "
            "WHERE s.store_id = 'LDN-01' AND s.quantity > 0 ORDER BY p.sku LIMIT 1"
        ).fetchone()
    return str(row[0]), int(row[1]), str(row[2])


async def tablet_say(stack: RunningStack, token: str, session_id: str, **content: Any) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.config.gateway_url}/api/tablet/messages",
            json={"session_id": session_id, **content},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        body = await resp.json()
        assert resp.status == 200, body
    return "\n".join(m.get("text") or "" for m in body["messages"])


async def new_session(stack: RunningStack, token: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.config.gateway_url}/api/tablet/session", headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        body = await resp.json()
        assert resp.status == 200, body
    assert body["store"] == {"id": "LDN-01", "name": "Covent Garden"}
    return str(body["session_id"])


async def test_tablet_gets_this_shops_stock_and_the_web_does_not(stack: RunningStack, token: str) -> None:
    title, quantity, location = shelved_here(stack)
    session_id = await new_session(stack, token)
    reply = await tablet_say(stack, token, session_id, text=f"do you have {title} here?")
    assert f"is in stock here at Covent Garden: {quantity} on the shelf, {location}." in reply, reply
    # What the page sends after "Is this in stock here?" and a typed product name.
    # (the gateway composes the check_stock payload itself: a page never sends one with entities, F9)
    reply = await tablet_say(stack, token, session_id, stock_question=title)
    assert f"is in stock here at Covent Garden: {quantity} on the shelf" in reply, reply

    web = Chat(stack.config.gateway_url)
    reply = await web.say(f"do you have {title} here?")
    assert "In our shops:" in reply and "on the shelf" not in reply, web.dump()


async def test_tablet_staff_call_without_slack_lands_in_the_consoles_queue(stack: RunningStack, token: str) -> None:
    session_id = await new_session(stack, token)
    reply = await tablet_say(stack, token, session_id, payload="/human_handoff")
    with sqlite3.connect(shop_path(stack)) as db:
        ticket, reason, store_id = db.execute(
            "SELECT ticket_number, reason, store_id FROM handoff_tickets WHERE conversation_id = ?",
            (f"tablet:{session_id}",),
        ).fetchone()
    # No Slack in this stack: the console's hand-off queue takes the call, not "I couldn't reach a colleague".
    assert reply == QUEUED.format(ticket=ticket) and reply != NOT_CALLED.format(ticket=ticket)
    assert "LDN-01" in reason and store_id == "LDN-01"
    # A support lead sees it in the console's queue with the shop's name.
    engine = gateway_engine(stack.config.gateway_db_url)
    add_user(sessionmaker(engine, expire_on_commit=False), "tablet-lead@shop.example", "lead", "tablet-lead-pass-1")
    engine.dispose()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # a 127.0.0.1 cookie
        async with session.post(
            f"{stack.config.gateway_url}/api/console/login",
            json={"email": "tablet-lead@shop.example", "password": "tablet-lead-pass-1"},
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with session.get(f"{stack.config.gateway_url}/api/console/handoffs", params={"status": "open"}) as resp:
            queue = await resp.json()
            assert resp.status == 200, queue
    [item] = [h for h in queue["handoffs"] if h["ticket"] == ticket]
    assert (item["channel"], item["store_id"], item["store_name"], item["can_claim"]) == (
        "tablet",
        "LDN-01",
        "Covent Garden",
        True,
    )


async def test_the_next_shoppers_session_ends_what_the_last_one_proved(
    stack: RunningStack, token: str, cases: dict[str, dict[str, Any]]
) -> None:
    """NEW-5 through the real actions: the grant the order check made lives only as long as the tablet session
    (the gateway ends it when the session ends; the idle wipe time is tested with a clock in tests/connectors)."""
    case = cases["in_transit"]
    session_id = await new_session(stack, token)
    await tablet_say(stack, token, session_id, text=f"where is my order {case['order_digits']}?")
    reply = await tablet_say(stack, token, session_id, text=case["email"])
    assert case["tracking_number"] in reply, reply

    def grants(conversation: str) -> int:
        with sqlite3.connect(shop_path(stack)) as db:
            row = db.execute("SELECT COUNT(*) FROM access_grants WHERE conversation_id = ?", (conversation,))
            return int(row.fetchone()[0])

    assert grants(f"tablet:{session_id}") == 1
    following = await new_session(stack, token)  # the page wiped: the next shopper
    assert grants(f"tablet:{session_id}") == 0
    reply = await tablet_say(stack, token, following, text="what is the tracking number of my order?")
    assert case["tracking_number"] not in reply and case["order_number"] not in reply, reply
