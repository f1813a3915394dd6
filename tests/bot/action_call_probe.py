"""Runs in the rasa environment for tests/bot/test_action_calls.py; prints one JSON object.

Plays the project's test stories (one conversation, with a rewind, a restart and a new session) turn by turn
through bot/tracker_store.py's store (SQLite in a temporary directory), runs a custom action with
``RemoteAction.run`` at every turn against a small local server that keeps the raw request body, and compares
that body with ``json.dumps`` of rasa's call format with the events as ``as_dict`` gives them now: the bytes
the action server gets must be the same, whether the events come from the store's saved JSON or are new.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import logging  # noqa: E402

logging.disable(logging.WARNING)

import rasa  # noqa: E402
from aiohttp import web  # noqa: E402
from rasa.core.actions.action import RemoteAction  # noqa: E402
from rasa.core.channels.channel import CollectingOutputChannel  # noqa: E402
from rasa.core.nlg import TemplatedNaturalLanguageGenerator  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402
from tracker_speedups_probe import story_events, with_surprises  # noqa: E402

from bot import tracker_speedups as speedups  # noqa: E402
from bot import turn_speedups  # noqa: E402
from bot.tracker_store import CachedSQLTrackerStore  # noqa: E402

ACTION = "action_probe_echo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rasas_body(action: Any, tracker: Any, domain: Any) -> bytes:
    """What rasa sends (its call format with the last turns' events, each ``as_dict`` now), as aiohttp encodes it."""
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [
        event.as_dict() for event in speedups.recent_events(tracker.events, speedups._settings["action_tracker_turns"])
    ]
    body = {"next_action": ACTION, "sender_id": tracker.sender_id, "tracker": state, "version": rasa.__version__}
    if not action._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(ACTION):
        body["domain"] = domain.as_dict()
    return json.dumps(body).encode()


def turns(events: list[Any]) -> list[list[Any]]:
    """The events cut before each customer message."""
    out: list[list[Any]] = [[]]
    for event in events:
        if isinstance(event, UserUttered) and out[-1]:
            out.append([])
        out[-1].append(event)
    return [turn for turn in out if turn]


async def main() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    action = RemoteAction(ACTION, endpoint)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)

    result: dict[str, Any] = {"calls": 0, "same": 0, "stored_events_sent": 0, "fresh_events_sent": 0}
    with tempfile.TemporaryDirectory() as work:
        store = CachedSQLTrackerStore(domain=domain, host=f"sqlite:///{work}/tracker.db", dialect="sqlite")
        sender = "probe-action-calls"
        for rasa_side in (False, True):
            if rasa_side:  # rasa's own session: the events go as dicts, the body is the same
                turn_speedups.install_originals()
                sender += "-rasa-session"
            for turn in turns(with_surprises(story_events(domain))):
                tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
                for event in turn:
                    tracker.update(copy.copy(event))
                if not rasa_side:
                    sent = speedups.recent_events(tracker.events, speedups._settings["action_tracker_turns"])
                    stored = sum(1 for event in sent if "_shop_stored_json" in event.__dict__)
                    result["stored_events_sent"] += stored
                    result["fresh_events_sent"] += len(sent) - stored
                expected = rasas_body(action, tracker, domain)
                await action.run(CollectingOutputChannel(), nlg, tracker, domain)
                tracker.update(ActionExecuted(ACTION))
                result["calls"] += 1
                result["same"] += bodies[-1] == expected
                if bodies[-1] != expected and "first_difference" not in result:
                    result["first_difference"] = [bodies[-1][:3000].decode(), expected[:3000].decode()]
                await store.save(tracker)
            result["rasa_session" if rasa_side else "kept_session"] = result["calls"]
        turn_speedups.apply()
        # a copy of a saved event is not taken for it: changed, it is encoded as it is now
        saved = next(e for e in (await store.retrieve(sender)).events if isinstance(e, UserUttered))
        changed = copy.copy(saved)
        changed.text = "changed after saving"
        result["copy_encoded_fresh"] = json.loads(speedups.event_json(changed))["text"] == "changed after saving"
        result["saved_encoded_as_stored"] = speedups.event_json(saved) == json.dumps(saved.as_dict())
    try:
        json.dumps({"events": speedups.Encoded("[]")})
        result["plain_dumps_refuses"] = False
    except TypeError:
        result["plain_dumps_refuses"] = True
    await runner.cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
