"""Two actions that fail on purpose, for tests/actions/test_guard_server.py (``--actions`` of actions.server)."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

import actions  # noqa: F401 (importing it registers the guard)
from store.db import session_scope


class ReadsThenFails(Action):
    """Reads, then meets the database unreachable: safe to send again."""

    def name(self) -> str:
        """Action name."""
        return "probe_reads_then_fails"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Any]:
        """Read, then fail."""
        with session_scope() as session:
            session.execute(text("SELECT 1"))
        raise ConnectionRefusedError(111, "Connection refused")


class WritesThenFails(Action):
    """Commits a write, then meets the database unreachable: must not be sent again."""

    def name(self) -> str:
        """Action name."""
        return "probe_writes_then_fails"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Any]:
        """Write and commit, then fail."""
        with session_scope() as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS probe_writes (id INTEGER PRIMARY KEY, note TEXT)"))
            session.execute(text("INSERT INTO probe_writes (note) VALUES ('a return')"))
        raise ConnectionRefusedError(111, "Connection refused")
