"""connectors/shared_state.py on a real Redis (Debian's redis-server on a free port), and two gateways sharing it."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.keys import PUSH_KEY, SHARED_KEY
from connectors.models import Button, OutboundMessage
from connectors.offers import Offers
from connectors.rasa_client import RasaClient
from connectors.shared_state import LocalState, RedisState, shared_state_from_env
from gateway import create_app
from scripts.services import RedisServer, ServiceError
from scripts.stack import free_port
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

REDIS_MISSING = "redis-server is not installed: apt-get install redis-server (CI installs it)"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway Redis server for this module."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="shared-state-redis-")))
    try:
        server.start()
    except ServiceError as error:
        if "not installed" in str(error):
            pytest.skip(REDIS_MISSING)
        raise
    yield server.url
    server.stop()


@contextlib.asynccontextmanager
async def running(*states: RedisState) -> AsyncIterator[None]:
    """Run the states' listeners as an app would, until the block ends."""
    app = web.Application()
    contexts = [state.run(app) for state in states]
    for context in contexts:
        await context.__anext__()
    for state in states:
        await asyncio.wait_for(state.subscribed.wait(), timeout=5)
    try:
        yield
    finally:
        for context in contexts:
            with contextlib.suppress(StopAsyncIteration):
                await context.__anext__()


def fresh(url: str) -> RedisState:
    return RedisState(f"{url}/3", prefix=f"t{uuid.uuid4().hex[:8]}")


def pair(url: str) -> tuple[RedisState, RedisState]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    return RedisState(f"{url}/3", prefix=prefix), RedisState(f"{url}/3", prefix=prefix)


def test_settings_pick_the_backend() -> None:
    assert isinstance(shared_state_from_env({}), LocalState)
    assert not shared_state_from_env({}).distributed
    assert isinstance(shared_state_from_env({"GATEWAY_REDIS_URL": "redis://127.0.0.1:1/2"}), RedisState)


async def test_an_update_is_new_once_across_gateways(redis_url: str) -> None:
    one, two = pair(redis_url)
    assert await one.first_time("telegram", "1001") is True
    assert await two.first_time("telegram", "1001") is False
    assert await one.first_time("telegram", "1001") is False
    assert await two.first_time("slack", "1001") is True  # another scope


async def test_rate_limits_hold_across_gateways(redis_url: str) -> None:
    one, two = pair(redis_url)
    assert await one.retry_after("web.conversation", "c1", 3, 60) == 0.0
    assert await two.retry_after("web.conversation", "c1", 3, 60) == 0.0
    assert await one.retry_after("web.conversation", "c1", 3, 60) == 0.0
    wait = await two.retry_after("web.conversation", "c1", 3, 60)
    assert 0 < wait <= 60
    assert await two.retry_after("web.conversation", "c2", 3, 60) == 0.0


async def test_a_published_message_reaches_every_gateway_once(redis_url: str) -> None:
    one, two = pair(redis_url)
    got: dict[str, list[dict[str, Any]]] = {"one": [], "two": []}

    async def on_one(payload: dict[str, Any]) -> None:
        got["one"].append(payload)

    async def on_two(payload: dict[str, Any]) -> None:
        got["two"].append(payload)

    one.on("web.push", on_one)
    two.on("web.push", on_two)
    async with running(one, two):
        await one.publish("web.push", {"conversation_id": "abc", "messages": [{"text": "hi"}]})
        for _ in range(50):
            if got["one"] and got["two"]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    expected = [{"conversation_id": "abc", "messages": [{"text": "hi"}]}]
    assert got == {"one": expected, "two": expected}


async def test_a_lease_is_held_by_one_gateway_at_a_time(redis_url: str) -> None:
    one, two = pair(redis_url)
    async with one.exclusive("notify", 30) as first, two.exclusive("notify", 30) as second:
        assert (first, second) == (True, False)
    async with two.exclusive("notify", 30) as third:
        assert third is True


async def test_without_redis_nothing_is_lost_and_trouble_is_counted() -> None:
    gone = RedisState(f"redis://127.0.0.1:{free_port()}/3")
    delivered: list[dict[str, Any]] = []

    async def handler(payload: dict[str, Any]) -> None:
        delivered.append(payload)

    gone.on("web.push", handler)
    await gone.publish("web.push", {"conversation_id": "x"})
    assert delivered == [{"conversation_id": "x"}]  # this gateway's own sockets still get it
    assert await gone.first_time("telegram", "1") is True
    assert await gone.retry_after("web.address", "1.2.3.4", 1, 60) == 0.0
    async with gone.exclusive("notify", 5) as mine:
        assert mine is True
    assert await gone.healthy() is False
    assert {"publish", "dedupe", "rate_limit", "lease"} <= set(gone.errors)


# ----------------------------------------------------------------------------------------- two gateways


@pytest_asyncio.fixture
async def two_gateways(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TestClient, ...]]:
    """Two gateway apps on one gateway database and one Redis, like two replicas behind a balancer."""
    monkeypatch.setenv("GATEWAY_WEB_RATE_PER_CONVERSATION", "3")
    rasa = FakeRasa()
    await rasa.start()
    database = f"sqlite:///{tempfile.mkdtemp(prefix='two-gateways-')}/gateway.db"
    shared = f"{redis_url}/4"
    clients = []
    for _ in range(2):
        settings = make_settings(rasa.url, database_url=database, redis_url=shared)
        app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 2.0, health_timeout=0.5))
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
    for client in clients:  # both listening before anything is pushed
        state = client.app[SHARED_KEY]
        assert isinstance(state, RedisState)
        await asyncio.wait_for(state.subscribed.wait(), timeout=5)
    yield tuple(clients)
    for client in clients:
        await client.close()
    await rasa.stop()


async def test_a_push_reaches_the_socket_on_the_other_gateway(two_gateways: tuple[TestClient, ...]) -> None:
    one, two = two_gateways
    conversation = uuid.uuid4().hex
    resp = await one.post("/api/web/messages", json={"conversation_id": conversation, "text": "hello"})
    assert resp.status == 200
    socket = await two.ws_connect(f"/api/web/ws?conversation_id={conversation}")
    await one.app[PUSH_KEY].push(f"web:{conversation}", [OutboundMessage(text="Sam (staff): I'm on it")])
    frame = await socket.receive_json(timeout=5)
    assert frame["type"] == "bot" and frame["pushed"] is True
    assert [m["text"] for m in frame["messages"]] == ["Sam (staff): I'm on it"]
    await socket.close()


async def test_the_conversation_limit_counts_messages_on_both_gateways(two_gateways: tuple[TestClient, ...]) -> None:
    one, two = two_gateways
    conversation = uuid.uuid4().hex
    statuses = []
    for client in (one, two, one, two):
        resp = await client.post("/api/web/messages", json={"conversation_id": conversation, "text": "hi"})
        statuses.append(resp.status)
    assert statuses == [200, 200, 200, 429]


async def test_buttons_offered_by_one_gateway_may_be_pressed_on_another(redis_url: str) -> None:
    """F9 with several gateways: the offers live in Redis, so the next message may reach any gateway."""
    one, two = pair(redis_url)
    by_one, by_two = Offers(one), Offers(two)
    reply = OutboundMessage(text="Cancel ORD-100270?", buttons=(Button("Yes", "/affirm"), Button("No", "/deny")))
    await by_one.record("web:abc", [reply])
    assert await by_two.offered("web:abc") == {"/affirm", "/deny"}
    assert await by_two.offered("web:other") == frozenset()
    await by_two.record("web:abc", [OutboundMessage(text="ok", buttons=(Button("More", '/recommend_product{"x":1}'),))])
    assert await by_one.offered("web:abc") == {"/affirm", "/deny", '/recommend_product{"x":1}'}


async def test_offers_survive_redis_trouble_on_the_gateway_that_made_them() -> None:
    gone = RedisState(f"redis://127.0.0.1:{free_port()}/3")
    offers = Offers(gone)
    await offers.record("web:abc", [OutboundMessage(text="?", buttons=(Button("Yes", "/affirm"),))])
    assert await offers.offered("web:abc") == {"/affirm"}
    assert {"remember", "recall"} <= set(gone.errors)
