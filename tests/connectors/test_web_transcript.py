"""The web transcript (``web_messages``) on SQLite and on a throwaway PostgreSQL, directly and through the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from connectors.db import create_schema, gateway_engine
from connectors.web.transcript import Transcript
from gateway import create_app
from tests.connectors.gateway_fakes import FakeRasa, make_settings
from tests.store.conftest import postgres_url  # noqa: F401 (the session's PostgreSQL cluster, shared)

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
