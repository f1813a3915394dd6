"""The three findings against the real running stack (rasa, action server, gateway on free ports), as an outsider.

Every request here is one a process on the same machine, or a page in a local browser, could send. On main:
rasa's HTTP API answered without a token, the ``rest`` channel took any sender and metadata, the action
server took a blind ``text/plain`` call, a new conversation id reset the guess count, and databases and
logs were world-readable.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy.orm import sessionmaker

from console.auth import add_user
from store.db import make_engine
from tests.e2e.conftest import Chat, RunningStack, launch

pytestmark = pytest.mark.e2e

PAUSED = "can't check that order right now"
NO_MATCH = "couldn't match that order number"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with launch(tmp_path_factory.mktemp("security")) as running:
        yield running


def _shop(stack: RunningStack) -> Path:
    return Path(stack.shop_db_url.removeprefix("sqlite:///"))


def _rows(stack: RunningStack, sql: str) -> int:
    with sqlite3.connect(_shop(stack)) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def test_rasas_http_api_needs_its_token_and_the_rest_channel_is_off(stack: RunningStack) -> None:
    base, conv = stack.config.rasa_url, "web:victim-conversation"
    event = [{"event": "slot", "name": "proof", "value": "verified"}]
    calls = [
        ("GET", f"/conversations/{conv}/tracker", None),
        ("POST", f"/conversations/{conv}/tracker/events", event),
        ("POST", f"/conversations/{conv}/execute", {"name": "action_continue_goal"}),
        ("POST", f"/conversations/{conv}/predict", None),
        ("POST", "/model/parse", {"text": "where is my order 100123"}),
        ("PUT", "/model", {"model_file": "models/elsewhere.tar.gz"}),
        ("DELETE", "/model", None),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, body in calls:
            for params in ({}, {"token": "guess"}):
                async with session.request(method, base + path, json=body, params=params) as resp:
                    assert resp.status == 401, (method, path, params)
        async with session.post(base + "/webhooks/rest/webhook", json={"sender": conv, "message": "hi"}) as resp:
            assert resp.status == 404
        async with session.post(
            base + "/model/parse", json={"text": "where is my order 100123"}, params={"token": stack.config.api_token}
        ) as resp:
            parsed = await resp.json()
    assert parsed["intent"]["name"] == "track_order"  # tooling with the token still works (model not unloaded)


async def test_the_action_server_refuses_forged_calls(stack: RunningStack) -> None:
    forged = {
        "next_action": "validate_verify_order_form",
        "sender_id": "web:forger",
        "tracker": {
            "sender_id": "web:forger",
            "latest_message": {"metadata": {"channel": "slack", "staff": {"id": "UFORGED01", "role": "manager"}}},
        },
        "domain": {},
        "version": "3.6.21",
    }
    url = stack.config.actions_url + "/webhook"
    async with aiohttp.ClientSession() as session:
        for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/json"}):
            async with session.post(url, data=json.dumps(forged), headers=headers) as resp:
                assert resp.status == 401
        # a tracker read with rasa's API token and replayed to the action server is refused all the same
        async with session.post(
            url,
            data=json.dumps(forged),
            params={"token": stack.config.api_token},
            headers={"Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 401
    assert _rows(stack, "SELECT count(*) FROM staff_order_lookups") == 0


async def test_guessing_with_fresh_conversations_pauses_the_order(stack: RunningStack) -> None:
    case = stack.cases["window_expired"]
    replies = []
    for i in range(3):
        guess = Chat(stack.config.gateway_url)
        replies.append(await guess.say(f"track order {case['order_number']}, postcode ZZ{i} 9ZZ"))
    assert all(NO_MATCH in r for r in replies), replies
    owner = Chat(stack.config.gateway_url)
    reply = await owner.say(f"track order {case['order_number']}, email {case['email']}")
    assert PAUSED in reply and reply.count(PAUSED) == 1 and "matches" not in reply, owner.dump()
    # an order number that does not exist gets the same words after the same guesses
    for i in range(3):
        await Chat(stack.config.gateway_url).say(f"track order ORD-100999, postcode ZZ{i} 9ZZ")
    ghost = await Chat(stack.config.gateway_url).say(f"track order ORD-100999, email {case['email']}")
    assert ghost == reply.replace(case["order_number"], "ORD-100999")


async def test_a_new_order_number_after_a_verified_one_starts_a_new_check(stack: RunningStack) -> None:
    first, second = stack.cases["in_transit"], stack.cases["final_sale"]
    chat = Chat(stack.config.gateway_url)
    await chat.say(f"where is my order {first['order_number']}")
    assert "matches order" in await chat.say(first["postcode"]), chat.dump()
    reply = await chat.say(f"also i want to return {second['order_number']}")
    assert "attempts left" not in reply and "couldn't match" not in reply, chat.dump()
    assert "postcode" in reply or "email" in reply, chat.dump()  # asked for the proof of the new order


def test_databases_and_logs_are_their_owners_only(stack: RunningStack) -> None:
    var = _shop(stack).parent
    files = [var / "shop.db", var / "tracker.db", var / "gateway.db", *sorted((var / "log").glob("*.log"))]
    for path in files:
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((var / "log").stat().st_mode) == 0o700


async def test_staff_see_paused_checks_in_the_console(stack: RunningStack) -> None:
    case = stack.cases["shipped"]
    for i in range(3):
        await Chat(stack.config.gateway_url).say(f"track order {case['order_number']}, postcode ZZ{i} 8ZZ")
    email = f"lead-{uuid.uuid4().hex[:6]}@shop.example"
    engine = make_engine(stack.config.gateway_db_url)
    try:
        add_user(sessionmaker(engine), email, "lead", "a long password 123")
    finally:
        engine.dispose()
    base = stack.config.gateway_url
    # unsafe: the cookie jar keeps cookies of an IP address (the console's session on 127.0.0.1)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(base + "/api/console/security/paused-checks") as resp:
            assert resp.status == 401
        async with session.post(
            base + "/api/console/login", json={"email": email, "password": "a long password 123"}
        ) as r:
            assert r.status == 200
        async with session.get(base + "/api/console/security/paused-checks") as resp:
            page: dict[str, Any] = await resp.json()
    orders = {c["key"]: c for c in page["checks"] if c["scope"] == "order"}
    assert orders[case["order_number"]]["failures"] == 3 and orders[case["order_number"]]["paused_now"]
    sources = [c["key"] for c in page["checks"] if c["scope"] == "source"]
    assert all("127.0.0.1" not in key for key in sources)  # a lead sees a fingerprint, not the address
