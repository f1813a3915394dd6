"""The console on PostgreSQL (tracker store and gateway database): same answers as on SQLite for the real-bot data."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine, insert, select, text

from connectors.keys import SESSIONS_KEY
from console.auth import add_user
from console.privacy import retention
from console.pseudonyms import PUBLIC_ID
from console.tracker import _tracker_metadata, events, tracker_engine
from console.web import STATE_KEY
from gateway import create_app
from tests.connectors.gateway_fakes import make_settings
from tests.console.conftest import PASSWORDS, Databases, Harness, Viewer
from tests.console.real_conversations import clone_conversations
from tests.store.conftest import postgres_url  # noqa: F401  (a throwaway PostgreSQL cluster, or skip)

pytestmark = pytest.mark.e2e


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:  # noqa: F811
    """A URL whose connections use a fresh schema (dropped afterwards)."""
    schema = f"console_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not user input
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest_asyncio.fixture
async def pg_console(dbs: Databases, pg_schema_url: str) -> AsyncIterator[Harness]:
    """The console with rasa's events copied into PostgreSQL and its own tables there too."""
    source, target = tracker_engine(dbs.tracker_url), tracker_engine(pg_schema_url)
    _tracker_metadata.create_all(target)
    with source.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(events).order_by(events.c.id))]
    with target.begin() as conn:
        conn.execute(insert(events), rows)
        # Rows kept their ids; move the id sequence past them as rasa's own inserts would have.
        conn.execute(text("SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))"))
    source.dispose()
    target.dispose()
    settings = make_settings(
        "http://127.0.0.1:9", database_url=pg_schema_url, tracker_db_url=pg_schema_url, shop_db_url=dbs.shop_url
    )
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    add_user(app[SESSIONS_KEY], "lead@example.com", "lead", PASSWORDS["lead"])
    yield Harness(client, app[STATE_KEY])
    await client.close()


def _plain(body: Any, viewer: Viewer) -> Any:
    """An answer with console ids turned back into sender ids and cursors left out: each database keys its own
    pseudonyms, so the same conversation has a different console id on SQLite and on PostgreSQL."""
    if isinstance(body, dict):
        return {k: _plain(v, viewer) for k, v in body.items() if k != "next_cursor"}
    if isinstance(body, list):
        return [_plain(v, viewer) for v in body]
    if isinstance(body, str) and PUBLIC_ID.match(body):
        return viewer.sender_of(body)
    return body


async def test_postgres_answers_like_sqlite(console: Harness, pg_console: Harness, dbs: Databases) -> None:
    lite, pg = await console.login("lead"), await pg_console.login("lead")
    tagged = dbs.sender("telegram_delayed_handoff")
    for viewer in (lite, pg):
        assert (await viewer.post(f"/api/console/conversations/{viewer.public(tagged)}/tags", {"tag": "reviewed"}))[
            0
        ] == 201
    today = datetime.now(UTC).date().isoformat()
    filters: list[dict[str, str]] = [
        {},
        {"channel": "telegram"},
        {"from": today, "to": today},
        {"intent": "track_order"},
        {"fallback": "yes"},
        {"handoff": "yes"},
        {"below": "90"},
        {"verified": "no"},
        {"tag": "reviewed"},
        {"q": "GERMANY"},
        {"order": dbs.seeded.cases["delayed"]["order_number"].lower()},
    ]
    for params in filters:
        assert await pg.ids(**params) == await lite.ids(**params), params
        assert (await pg.get("/api/console/counts", **params))[1] == (await lite.get("/api/console/counts", **params))[
            1
        ]
    first_lite = (await lite.get("/api/console/conversations", limit=3))[1]
    first_pg = (await pg.get("/api/console/conversations", limit=3))[1]
    assert _plain(first_pg, pg) == _plain(first_lite, lite)
    second_lite = (await lite.get("/api/console/conversations", cursor=first_lite["next_cursor"], limit=3))[1]
    second_pg = (await pg.get("/api/console/conversations", cursor=first_pg["next_cursor"], limit=3))[1]
    assert _plain(second_pg, pg) == _plain(second_lite, lite)
    assert _plain((await pg.get(f"/api/console/conversations/{pg.public(tagged)}"))[1], pg) == _plain(
        (await lite.get(f"/api/console/conversations/{lite.public(tagged)}"))[1], lite
    )
    lite_metrics, pg_metrics = (await lite.get("/api/console/metrics"))[1], (await pg.get("/api/console/metrics"))[1]
    assert pg_metrics == lite_metrics and lite_metrics["per_day"][-1]["conversations"] > 0


async def test_retention_on_postgres(pg_console: Harness, pg_schema_url: str, dbs: Databases) -> None:
    pg = await pg_console.login("lead")
    old = clone_conversations(
        dbs.tracker_url, pg_schema_url, 2, start_ts=time.time() - 40 * 86400, span_seconds=60, prefix="old"
    )
    assert await pg.ids() >= set(old)
    state = pg_console.state
    report = retention(state.tracker, state.sessions, 30)
    assert report.conversations == sorted(old)
    assert await pg.ids() == {c.sender_id for c in dbs.seeded.conversations.values()}
