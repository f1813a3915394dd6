"""Console fixtures: a tracker store seeded once by the real bot, a fresh copy per test, and a signed-in client."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.keys import SESSIONS_KEY
from console.auth import add_user
from console.settings import ConsoleSettings
from console.web import COOKIE, STATE_KEY, ConsoleState
from gateway import create_app
from tests.connectors.conftest import network_guard  # noqa: F401  (the autouse loopback-only guard)
from tests.connectors.gateway_fakes import make_settings
from tests.console.real_conversations import SeededStore, seed_real_tracker

PASSWORDS = {"agent": "agent-password-1", "lead": "lead-password-12", "admin": "admin-password-123"}


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeededStore:
    """Conversations produced once per session by the real stack (rasa + actions + gateway).

    ``CONSOLE_SEEDED_DIR`` may name the folder of an earlier run (``python -m tests.console.real_conversations
    DIR``) to skip the ~2 minute stack start while developing; by default a fresh run is made.
    """
    reuse = os.environ.get("CONSOLE_SEEDED_DIR")
    if reuse:
        return SeededStore.from_json(json.loads((Path(reuse) / "seeded.json").read_text()))
    try:
        return seed_real_tracker(tmp_path_factory.mktemp("console-seed"))
    except RuntimeError as error:
        pytest.fail(f"could not seed the tracker store from the real stack: {error}")


@dataclass
class Databases:
    """Per-test copies of the seeded databases."""

    tracker_url: str
    shop_url: str
    gateway_url: str
    tracker_path: Path
    shop_path: Path
    seeded: SeededStore

    def sender(self, name: str) -> str:
        """The sender id of a scripted conversation."""
        return self.seeded.conversations[name].sender_id

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run SQL on the tracker copy (expected values computed independently of the console)."""
        with sqlite3.connect(self.tracker_path) as conn:
            return conn.execute(query, params).fetchall()


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


@pytest.fixture
def dbs(seeded: SeededStore, tmp_path: Path) -> Databases:
    """Fresh copies of the seeded tracker store and shop (deletion tests change them)."""
    tracker, shop = tmp_path / "tracker.db", tmp_path / "shop.db"
    shutil.copy(_path(seeded.tracker_db_url), tracker)
    shutil.copy(_path(seeded.shop_db_url), shop)
    return Databases(
        f"sqlite:///{tracker}", f"sqlite:///{shop}", f"sqlite:///{tmp_path / 'gateway.db'}", tracker, shop, seeded
    )


class Harness:
    """A running gateway with the console, and helpers to call it as a given role."""

    def __init__(self, client: TestClient, state: ConsoleState) -> None:
        self.client = client
        self.state = state

    async def login(self, role: str) -> Viewer:
        """Sign in as the ``role`` test user."""
        resp = await self.client.post(
            "/api/console/login", json={"email": f"{role}@example.com", "password": PASSWORDS[role]}
        )
        body = await resp.json()
        assert resp.status == 200, body
        token = resp.cookies[COOKIE].value
        self.client.session.cookie_jar.clear()  # every call names its session explicitly
        return Viewer(self.client, token, body["csrf_token"], role, self.sender_of, self.public)

    def public(self, sender: str) -> str:
        """The console id of a conversation (the only id the console's API takes and gives)."""
        return self.state.pseudonyms.of(sender)

    def sender_of(self, public: str) -> str:
        """The sender id behind a console id (what the tests compare with the tracker's rows)."""
        with self.state.sessions() as session:
            sender = self.state.pseudonyms.resolve(session, public)
        assert sender is not None, f"the console gave out an id it cannot resolve: {public}"
        return sender


@dataclass
class Viewer:
    """One signed-in browser: sends its cookie and (on changes) its CSRF token."""

    client: TestClient
    token: str
    csrf: str
    role: str
    sender_of: Callable[[str], str]
    public: Callable[[str], str]

    def _headers(self, csrf: bool, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Cookie": f"{COOKIE}={self.token}"}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        headers.update(extra or {})
        return headers

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        """GET; returns the status and the JSON (or text) body."""
        resp = await self.client.get(path, params=params, headers=self._headers(False))
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> tuple[int, Any]:
        """POST JSON with the CSRF token (unless ``csrf=False``)."""
        resp = await self.client.post(path, json=body, headers=self._headers(csrf))
        return resp.status, await resp.json()

    async def delete(self, path: str, *, csrf: bool = True) -> tuple[int, Any]:
        """DELETE with the CSRF token (unless ``csrf=False``)."""
        resp = await self.client.delete(path, headers=self._headers(csrf))
        return resp.status, await resp.json()

    async def ids(self, **filters: Any) -> set[str]:
        """Sender ids of every conversation matching ``filters`` (all pages), mapped back from console ids."""
        out: list[str] = []
        cursor = None
        while True:
            params = {**filters, "limit": 200, **({"cursor": cursor} if cursor else {})}
            status, page = await self.get("/api/console/conversations", **params)
            assert status == 200, page
            out += [self.sender_of(c["id"]) for c in page["conversations"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(out) == len(set(out)), "a conversation appeared on two pages"
        return set(out)


@pytest_asyncio.fixture
async def console(dbs: Databases) -> AsyncIterator[Harness]:
    """The gateway app (console included) on the database copies, with one user per role."""
    settings = make_settings(
        "http://127.0.0.1:9", database_url=dbs.gateway_url, tracker_db_url=dbs.tracker_url, shop_db_url=dbs.shop_url
    )
    app = create_app(settings)
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    state = app[STATE_KEY]
    state.settings = ConsoleSettings()  # defaults, whatever the environment says
    state.auth.settings = state.settings
    for role, password in PASSWORDS.items():
        add_user(app[SESSIONS_KEY], f"{role}@example.com", role, password)
    yield Harness(client, state)
    await client.close()
