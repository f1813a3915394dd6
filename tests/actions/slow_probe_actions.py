"""A slow action, for tests/actions/test_server_shutdown.py (``--actions`` of actions.server).

It touches ``SLOW_PROBE_STARTED`` when it begins, so the test knows the call is in flight before it sends SIGTERM,
then takes ``SLOW_PROBE_SECONDS`` (default 3) to answer.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions  # noqa: F401 (importing it registers the guard, as in the real server)

ANSWER = "the slow call finished"


class Slow(Action):
    """Says it started, waits, then answers."""

    def name(self) -> str:
        """Action name."""
        return "probe_slow"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]) -> List[Any]:
        """Mark the start, sleep, answer."""
        Path(os.environ["SLOW_PROBE_STARTED"]).touch()
        await asyncio.sleep(float(os.environ.get("SLOW_PROBE_SECONDS", "3")))
        dispatcher.utter_message(text=ANSWER)
        return []
