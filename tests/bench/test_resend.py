"""The benches' widget-like resend (bench/resend.py) against a fake gateway on a free loopback port."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.resend import Delivery, check_once, deliver

ANSWER = {"messages": [{"text": "Your order ORD-1 is in transit."}]}


class FakeGateway:
    """Answers ``POST /api/web/messages`` from a list of (status, body, headers), the last one repeated."""

    def __init__(self, answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> None:
        self.answers = answers
        self.bodies: list[dict[str, Any]] = []

    async def post(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        status, body, headers = self.answers[min(len(self.bodies), len(self.answers)) - 1]
        return web.json_response(body, status=status, headers=headers)


def busy(seconds: int) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The gateway's admission-control refusal with its retry hint."""
    body = {"error": "I'm answering a lot of people right now.", "code": "busy", "retry_after": seconds}
    return 503, body, {"Retry-After": str(seconds)}


class FakeTime:
    """A clock that only the waits between attempts move."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[FakeGateway], Any]]:
    servers: list[TestServer] = []

    async def start(gateway: FakeGateway) -> str:
        app = web.Application()
        app.router.add_post("/api/web/messages", gateway.post)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


async def send(url: str, message: Delivery, fake: FakeTime, give_up_after: float = 120.0) -> Delivery:
    async with aiohttp.ClientSession() as session:
        return await deliver(session, url, message, give_up_after, clock=fake.clock, sleep=fake.sleep)


async def test_busy_twice_then_answered_is_resent_after_the_hint_with_the_same_id(serve: Any) -> None:
    gateway = FakeGateway([busy(3), busy(2), (200, ANSWER, {})])
    fake = FakeTime()
    message = await send(await serve(gateway), Delivery("c-1", "where is my order?", ("in transit",)), fake)
    assert message.ok and message.answered
    assert (message.attempts, message.resends, message.busy) == (3, 2, 2)
    assert message.failures == []  # busy on the way is slow, not an error
    assert fake.waits == [3, 2]  # the retry hint, honoured
    assert message.seconds == 5
    ids = {body["client_message_id"] for body in gateway.bodies}
    assert ids == {message.client_message_id} and len(gateway.bodies) == 3


async def test_busy_forever_is_lost_after_the_bound(serve: Any) -> None:
    gateway = FakeGateway([busy(5)])
    fake = FakeTime()
    unsent = Delivery("c-1", "hi", ("hello",))
    assert unsent.failures == []  # not lost while it is still being sent
    message = await send(await serve(gateway), Delivery("c-1", "hi", ("hello",)), fake, give_up_after=120)
    assert not message.answered and not message.ok
    assert message.attempts == 24 and message.busy == 24  # at 0, 5, ... 115 s
    assert fake.now == 120
    assert len(message.failures) == 1 and message.failures[0].startswith("lost: no answer after 120 s")


async def test_a_hint_past_the_bound_waits_only_until_the_bound(serve: Any) -> None:
    fake = FakeTime()
    message = await send(await serve(FakeGateway([busy(60)])), Delivery("c-1", "hi", ("x",)), fake, give_up_after=10)
    assert fake.waits == [10] and message.attempts == 1 and not message.answered


async def test_an_error_other_than_busy_counts_even_when_the_resend_is_answered(serve: Any) -> None:
    unavailable: tuple[int, dict[str, Any], dict[str, str]] = (
        503,
        {"error": "the assistant is restarting", "code": "rasa_unavailable"},
        {},
    )
    fake = FakeTime()
    message = await send(await serve(FakeGateway([unavailable, (200, ANSWER, {})])), Delivery("c", "t", ()), fake)
    assert message.ok and message.busy == 0 and message.resends == 1
    assert fake.waits == [1.0]  # no hint: a second, as the widget
    assert [f.split(":")[0] for f in message.failures] == ["503 rasa_unavailable"]


async def test_a_wrong_answer_is_an_error_and_not_resent(serve: Any) -> None:
    gateway = FakeGateway([(200, ANSWER, {})])
    message = await send(await serve(gateway), Delivery("c", "t", ("delivered",)), FakeTime())
    assert message.answered and not message.ok and message.attempts == 1
    assert message.failures[0].startswith("wrong answer")


def answered(conversation: str, text: str, reply: str) -> Delivery:
    return Delivery(conversation, text, (), answered=True, ok=True, answer=[{"text": reply}])


def test_check_once_passes_when_each_message_is_stored_and_transcribed_once() -> None:
    sent = [answered("c", "hi", "Hello"), answered("c", "bye", "Bye")]
    events = {"c": [("user", "hi"), ("bot", "Hello"), ("user", "bye"), ("bot", "Bye")]}
    verdict = check_once(sent, events, Counter({("c", "hi"): 1, ("c", "bye"): 1}))
    assert verdict == {"duplicates": 0, "missing": 0, "lost_events": 0, "transcript_not_once": 0, "problems": []}


def test_check_once_flags_a_resend_answered_twice() -> None:
    sent = [answered("c", "hi", "Hello")]
    events = {"c": [("user", "hi"), ("bot", "Hello"), ("user", "hi"), ("bot", "Hello")]}
    verdict = check_once(sent, events, Counter({("c", "hi"): 2}))
    assert verdict["duplicates"] == 1 and verdict["transcript_not_once"] == 1 and len(verdict["problems"]) == 2


def test_check_once_flags_an_answer_the_tracker_never_stored() -> None:
    verdict = check_once([answered("c", "hi", "Hello")], {"c": []}, Counter({("c", "hi"): 1}))
    assert verdict["missing"] == 1 and verdict["lost_events"] == 1
