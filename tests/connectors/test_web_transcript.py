"""The web transcript (``web_messages``) on SQLite and on a throwaway PostgreSQL, directly and through the API."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from connectors.rasa_client import RasaClient
from connectors.web.backlog import KeptLine, TranscriptBacklog
from connectors.web.channel import WebChannel
from connectors.web.transcript import Transcript
from gateway import create_app
from tests.connectors.gateway_fakes import FakeRasa, make_settings
from tests.store.conftest import (
    _Cluster,
    postgres_url,  # noqa: F401 (the session's PostgreSQL cluster, shared)
    throwaway_cluster,
)

CID = "transcript-conversation-01"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty gateway database: a SQLite file, or a fresh schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('gateway-db') / 'gateway.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"gateway_test_{uuid.uuid4().hex[:12]}"
    admin = gateway_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not user input
    yield f"{url}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def transcript(database_url: str) -> Iterator[Transcript]:
    engine = gateway_engine(database_url)
    create_schema(engine)
    yield Transcript(sessionmaker(engine, expire_on_commit=False))
    engine.dispose()


def test_claim_answer_replay(transcript: Transcript) -> None:
    claim = transcript.claim(CID, "msg-000001", {"text": "hi"})
    assert claim.status == "pending"
    assert transcript.answered(CID, "msg-000001") is None  # still with rasa
    transcript.record_replies(claim, CID, [{"text": "Hello"}, {"buttons": [{"title": "Yes", "payload": "/affirm"}]}])
    replies = [{"text": "Hello"}, {"buttons": [{"title": "Yes", "payload": "/affirm"}]}]
    assert transcript.answered(CID, "msg-000001") == replies
    again = transcript.claim(CID, "msg-000001", {"text": "hi"})
    assert (again.row_id, again.status, again.replies) == (claim.row_id, "answered", replies)
    assert transcript.answered("other-conversation", "msg-000001") is None  # ids are per conversation
    assert transcript.count(CID) == 3


def test_failed_then_retried_keeps_one_row_and_no_doubled_replies(transcript: Transcript) -> None:
    claim = transcript.claim(CID, "msg-000001", {"text": "hi"})
    transcript.mark_failed(claim)
    rows, _ = transcript.history(CID, 10)
    assert [r.status for r in rows] == ["failed"]
    retry = transcript.claim(CID, "msg-000001", {"text": "hi"})
    assert (retry.row_id, retry.status) == (claim.row_id, "pending")
    transcript.record_replies(retry, CID, [{"text": "one"}])
    transcript.record_replies(retry, CID, [{"text": "one"}])  # stored twice by mistake: still once
    assert transcript.answered(CID, "msg-000001") == [{"text": "one"}]
    assert transcript.count(CID) == 2


def test_messages_without_an_id_are_each_kept(transcript: Transcript) -> None:
    first = transcript.claim(CID, None, {"text": "hi"})
    transcript.record_replies(first, CID, [{"text": "a"}])
    second = transcript.claim(CID, None, {"text": "hi"})
    transcript.record_replies(second, CID, [{"text": "b"}])
    assert first.row_id != second.row_id
    rows, truncated = transcript.history(CID, 3)
    assert truncated is True
    expected = [("bot", {"text": "a"}), ("user", {"text": "hi"}), ("bot", {"text": "b"})]
    assert [(r.role, r.body) for r in rows] == expected


async def test_api_dedupes_and_serves_history_on_this_database(database_url: str) -> None:
    fake = FakeRasa()
    await fake.start()
    try:
        app = create_app(make_settings(fake.url, database_url=database_url))
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            body = {"conversation_id": CID, "text": "hello", "client_message_id": "msg-000001"}
            assert (await (await client.post("/api/web/messages", json=body)).json())["replayed"] is False
            assert (await (await client.post("/api/web/messages", json=body)).json())["replayed"] is True
            history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        assert [e["role"] for e in history["entries"]] == ["user", "bot"]
        assert [b["message"] for b in fake.received] == ["hello"]
    finally:
        await fake.stop()


# ---------------------------------------------------------------------------------- a real database outage


@pytest.fixture
def crashable_postgres() -> Iterator[_Cluster]:
    """A PostgreSQL cluster of this test's own, so stopping it takes nobody else's database away."""
    with throwaway_cluster() as cluster:
        yield cluster


def _gateway(fake: FakeRasa, database_url: str) -> tuple[web.Application, WebChannel]:
    settings = make_settings(fake.url, database_url=database_url)
    channel = WebChannel()
    rasa = RasaClient(settings.rasa_url, settings.gateway_token, 2.0, health_timeout=0.5)
    return create_app(settings, rasa, channels=[channel]), channel


async def _history(client: TestClient) -> list[tuple[str, str, str | None]]:
    resp = await client.get(f"/api/web/history?conversation_id={CID}")
    assert resp.status == 200, await resp.text()
    entries = (await resp.json())["entries"]
    return [(e["role"], e["text"] if e["role"] == "user" else e["message"]["text"], e.get("status")) for e in entries]


async def test_lines_answered_during_a_postgres_outage_are_written_when_it_is_back(
    crashable_postgres: _Cluster,
) -> None:
    fake = FakeRasa()
    fake.replies = lambda body: [{"text": f"echo: {body['message']}"}]
    await fake.start()
    try:
        app, channel = _gateway(fake, crashable_postgres.url)
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            counts = channel.dispatcher.counts

            async def say(text: str, client_id: str) -> dict[str, Any]:
                body = {"conversation_id": CID, "text": text, "client_message_id": client_id}
                resp = await client.post("/api/web/messages", json=body)
                assert resp.status == 200, await resp.text()  # answered, database or not
                return dict(await resp.json())

            await say("before", "msg-000001")
            crashable_postgres.pause()
            during = await say("during", "msg-000002")
            assert [m["text"] for m in during["messages"]] == ["echo: during"]
            resent = await say("during", "msg-000002")  # the widget's resend: the kept answer, rasa not asked again
            assert (resent["replayed"], resent["messages"]) == (True, during["messages"])
            await say("still during", "msg-000003")
            assert (await client.get(f"/api/web/history?conversation_id={CID}")).status == 503
            assert len(channel.backlog) == 2 and counts["web.transcript_kept"] == 2
            crashable_postgres.resume()
            for _ in range(200):  # the background writer's pauses grow to 10 s at most
                if not len(channel.backlog):
                    break
                await asyncio.sleep(0.1)
            assert len(channel.backlog) == 0
            await say("after", "msg-000004")
            assert await _history(client) == [
                ("user", "before", "answered"),
                ("bot", "echo: before", None),
                ("user", "during", "answered"),
                ("bot", "echo: during", None),
                ("user", "still during", "answered"),
                ("bot", "echo: still during", None),
                ("user", "after", "answered"),
                ("bot", "echo: after", None),
            ]
            assert [b["message"] for b in fake.received] == ["before", "during", "still during", "after"]
            assert counts["web.transcript_recovered"] == 2 and counts["web.transcript_lost"] == 0
            metrics = await (await client.get("/metrics")).text()
            assert 'shop_gateway_events_total{event="web.transcript_recovered"} 2.0' in metrics
    finally:
        await fake.stop()


async def test_a_reply_whose_write_fails_is_kept_and_written_once(database_url: str) -> None:
    """The customer row is stored, then the database fails before the replies: they are kept, not lost."""
    fake = FakeRasa()
    fake.replies = lambda body: [{"text": "one"}, {"text": "two"}]
    await fake.start()
    try:
        app, channel = _gateway(fake, database_url)
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            store_kept = channel.transcript.store_kept
            failures = iter([True, True])  # the reply's write, then the background writer's first try

            def flaky(line: KeptLine) -> int | None:
                if next(failures, False):
                    raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
                return store_kept(line)

            channel.transcript.store_kept = flaky
            body = {"conversation_id": CID, "text": "hi", "client_message_id": "msg-000001"}
            answer = await (await client.post("/api/web/messages", json=body)).json()
            assert [m["text"] for m in answer["messages"]] == ["one", "two"]
            for _ in range(100):
                if not len(channel.backlog):
                    break
                await asyncio.sleep(0.05)
            again = await (await client.post("/api/web/messages", json=body)).json()
            assert again["replayed"] is True and [m["text"] for m in again["messages"]] == ["one", "two"]
            history = await (await client.get(f"/api/web/history?conversation_id={CID}")).json()
        stored = [(e["role"], e["text"] if e["role"] == "user" else e["message"]["text"]) for e in history["entries"]]
        assert stored == [("user", "hi"), ("bot", "one"), ("bot", "two")]
        assert len(fake.received) == 1
        assert channel.dispatcher.counts["web.transcript_recovered"] == 1
    finally:
        await fake.stop()


def test_backlog_is_bounded_and_in_order() -> None:
    backlog = TranscriptBacklog(limit=2)
    first = KeptLine("a", "m1", {"text": "1"}, "answered", [{"text": "r1"}])
    second = KeptLine("a", "m2", {"text": "2"}, "failed")
    assert backlog.keep(first) and backlog.keep(second)
    assert not backlog.keep(KeptLine("b", "m3", {"text": "3"}, "answered"))  # full: refused, counted by the caller
    assert backlog.answered("a", "m1") == [{"text": "r1"}] and backlog.answered("a", "m2") is None
    with pytest.raises(RuntimeError):
        backlog.done(second)  # only the oldest
    backlog.done(first)
    assert backlog.first("a") is second and len(backlog) == 1
    backlog.done(second)
    assert not backlog.has("a") and len(backlog) == 0


def test_a_kept_line_is_not_doubled_when_written_again(transcript: Transcript) -> None:
    line = KeptLine(CID, "msg-000001", {"text": "hi"}, "answered", [{"text": "a"}, {"text": "b"}])
    first = transcript.store_kept(line)
    assert transcript.store_kept(line) == first  # written again (a commit whose answer was lost): nothing added
    failed = KeptLine(CID, "msg-000001", None, "failed", row_id=first)
    transcript.store_kept(failed)  # a late failure never undoes an answer
    rows, _ = transcript.history(CID, 10)
    assert [(r.role, r.status) for r in rows] == [("user", "answered"), ("bot", None), ("bot", None)]


def _rows(transcript: Transcript) -> list[tuple[Any, ...]]:
    with transcript.sessions() as session:
        found = session.execute(
            text(
                "SELECT conversation_id, role, client_message_id, status, reply_to, body, created_at"
                " FROM web_messages ORDER BY id"
            )
        )
        return [(*row[:5], row[5] if isinstance(row[5], dict) else json.loads(row[5]), _utc(row[6])) for row in found]


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_every_way_a_turn_line_is_written_stores_the_same_rows(transcript: Transcript) -> None:
    """Each path of ``store_kept``: the rows (every column), the ids it returns, and what it reads of a stored row."""
    at = datetime(2026, 12, 7, 21, 0, 5, tzinfo=UTC)
    statements: list[str] = []
    engine = transcript.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    # a claimed message answered (the common turn): its row gets the status, the replies their rows
    claim = transcript.claim(CID, "msg-1", {"text": "hi"})
    answered = KeptLine(CID, "msg-1", None, "answered", [{"text": "a"}, {"text": "b"}], row_id=claim.row_id, at=at)
    statements.clear()
    assert transcript.store_kept(answered) == claim.row_id
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads and not any("body" in s for s in reads)  # the customer row is looked at, its body not read
    # written again (its commit's answer lost): nothing added; a late failure never undoes an answer
    assert transcript.store_kept(answered) == claim.row_id
    assert transcript.store_kept(KeptLine(CID, "msg-1", None, "failed", row_id=claim.row_id, at=at)) == claim.row_id
    # a line kept through an outage, never stored: the customer row and its replies, at the time it happened
    kept_id = transcript.store_kept(KeptLine(CID, "msg-2", {"text": "where is it"}, "answered", [{"text": "c"}], at=at))
    # a failed turn whose message a resend stored first: found by its client id, marked failed, then answered
    first = transcript.claim(CID, "msg-3", {"text": "again"})
    assert transcript.store_kept(KeptLine(CID, "msg-3", {"text": "again"}, "failed", at=at)) == first.row_id
    assert transcript.store_kept(KeptLine(CID, "msg-3", None, "answered", [{"text": "d"}], row_id=first.row_id)) == (
        first.row_id
    )
    # a message without a client id: always a new row; its replies have no reply_to
    transcript.store_kept(KeptLine(CID, None, {"text": "no id"}, "answered", [{"text": "e"}], at=at))
    # a row deleted meanwhile: nothing written
    gone = transcript.claim("other", "msg-9", {"text": "bye"})
    transcript.forget(["other"])
    assert (
        transcript.store_kept(KeptLine("other", "msg-9", None, "answered", [{"text": "f"}], row_id=gone.row_id)) is None
    )
    rows = _rows(transcript)
    assert kept_id is not None and kept_id not in (claim.row_id, first.row_id)
    assert [row[:6] for row in rows] == [
        (CID, "user", "msg-1", "answered", None, {"text": "hi"}),
        (CID, "bot", None, None, "msg-1", {"text": "a"}),
        (CID, "bot", None, None, "msg-1", {"text": "b"}),
        (CID, "user", "msg-2", "answered", None, {"text": "where is it"}),
        (CID, "bot", None, None, "msg-2", {"text": "c"}),
        (CID, "user", "msg-3", "answered", None, {"text": "again"}),
        (CID, "bot", None, None, "msg-3", {"text": "d"}),
        (CID, "user", None, "answered", None, {"text": "no id"}),
        (CID, "bot", None, None, None, {"text": "e"}),
    ]
    # the kept lines' rows carry the time the turn happened, not the time they could be written
    assert [row[6] == at for row in rows] == [False, True, True, True, True, False, False, True, True]
    with pytest.raises(ValueError, match="needs the customer's body"):
        transcript.store_kept(KeptLine(CID, "msg-4", None, "answered", [{"text": "x"}]))
