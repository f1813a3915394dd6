"""Runs in the rasa environment for tests/bot/test_tracker_store.py: ``python tracker_store_probe.py DB_URL``.

Plays conversations through bot/tracker_store.py's store the way rasa does (retrieve, add a turn's events, save) and
checks each step against rasa's own ``SQLTrackerStore`` reading the same database. Prints one JSON object: the
checks that held, the ones that did not, and the store's cache statistics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
logging.disable(logging.WARNING)

import sqlalchemy as sa  # noqa: E402
from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity  # noqa: E402

from bot.tracker_store import PERSISTED, CachedSQLTrackerStore, lock_held  # noqa: E402

checks: dict[str, bool] = {}


def check(name: str, held: bool) -> None:
    checks[name] = checks.get(name, True) and bool(held)


def turn_events(i: int) -> list[Any]:
    """One customer turn: a message, a form step with a slot, a bot answer, back to listening."""
    parse = {
        "intent": {"name": "track_order", "confidence": 0.93},
        "entities": [{"entity": "order_number", "value": f"ORD-{100100 + i}", "start": 0, "end": 6}],
        "text": f"where is order {100100 + i}",
        "intent_ranking": [{"name": "track_order", "confidence": 0.93}, {"name": "greet", "confidence": 0.02}],
    }
    return [
        UserUttered(parse["text"], parse["intent"], parse["entities"], parse, input_channel="web"),
        ActionExecuted("verify_order_form"),
        ActiveLoop("verify_order_form"),
        SlotSet("order_number", f"ORD-{100100 + i}"),
        BotUttered(f"Which email goes with order {i}?", {"elements": None}, {"utter_action": "utter_ask_proof"}),
        ActionExecuted("action_listen"),
    ]


def session_start() -> list[Any]:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]


def state(tracker: DialogueStateTracker | None) -> Any:
    if tracker is None:
        return None
    current = tracker.current_state(EventVerbosity.ALL)
    return json.loads(json.dumps(current, default=str))


async def play_turn(store: Any, sender: str, i: int, *, new_session: bool = False) -> DialogueStateTracker:
    """What rasa does with a message: get or create the tracker, append the turn's events, save."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    if new_session or not tracker.events:
        for event in session_start():
            tracker.update(event)
    for event in turn_events(i):
        event.timestamp = time.time()
        tracker.update(event)
    await store.save(tracker)
    return tracker


def rows(engine: sa.engine.Engine, sender: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT type_name, intent_name, action_name, data FROM events WHERE sender_id = :s ORDER BY id"
                ),
                {"s": sender},
            )
        ]


async def main(url: str) -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    dialect = url.split(":", 1)[0].split("+", 1)[0]
    replica_a = CachedSQLTrackerStore(domain=domain, host=url, dialect=dialect, cache_size=2)
    replica_b = CachedSQLTrackerStore(domain=domain, host=url, dialect=dialect)
    rasas = SQLTrackerStore(domain=domain, host=url, dialect=dialect)
    engine = sa.create_engine(url)

    # 1. one replica, a long conversation: what it hands out equals rasa's own reading, turn after turn
    for i in range(30):
        ours = await play_turn(replica_a, "conv-long", i)
        check("persisted count follows the tracker", getattr(ours, PERSISTED) == len(ours.events))
        check(
            "same tracker as rasa reads",
            state(await replica_a.retrieve("conv-long")) == state(await rasas.retrieve("conv-long")),
        )
    check("served from memory after the first turn", replica_a.stats["hits"] >= 29)

    # 2. the same rows as rasa's own store writes for the same events
    tracker = DialogueStateTracker("conv-rasa", domain.slots)
    twin = DialogueStateTracker("conv-ours", domain.slots)
    for i in range(3):
        for event in (session_start() if i == 0 else []) + turn_events(i):
            tracker.update(event)
            twin.update(event)
        await rasas.save(tracker)
        handed = await replica_a.retrieve("conv-ours") or replica_a.init_tracker("conv-ours")
        for event in list(twin.events)[len(handed.events) :]:
            handed.update(event)
        await replica_a.save(handed)
    check("rows as rasa writes them", rows(engine, "conv-rasa") == rows(engine, "conv-ours"))

    # 3. two replicas taking turns: each catches up with the other's rows
    for i in range(6):
        await play_turn(replica_a if i % 2 == 0 else replica_b, "conv-shared", i)
        for replica in (replica_a, replica_b):
            check(
                "replicas agree with rasa",
                state(await replica.retrieve("conv-shared")) == state(await rasas.retrieve("conv-shared")),
            )
    check("caught up with the other replica", replica_a.stats["caught_up"] >= 2 and replica_b.stats["caught_up"] >= 2)
    users = sum(1 for row in rows(engine, "conv-shared") if row[0] == "user")
    check("no turn lost or written twice", users == 6)

    # 4. a new session started on the other replica: only the new session, as rasa reads it
    await play_turn(replica_b, "conv-shared", 99, new_session=True)
    ours_state = state(await replica_a.retrieve("conv-shared"))
    check("new session from the other replica", ours_state == state(await rasas.retrieve("conv-shared")))
    check("only the latest session", sum(1 for e in ours_state["events"] if e["event"] == "user") == 1)

    # 5. the console deletes a conversation: the cached copy is not served again
    await play_turn(replica_a, "conv-deleted", 0)
    await replica_a.retrieve("conv-deleted")
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = :s"), {"s": "conv-deleted"})
    check("deleted conversation is gone", await replica_a.retrieve("conv-deleted") is None)

    # 6. a tracker the store did not hand out is saved by rasa's rule (what is past the stored count)
    await play_turn(replica_a, "conv-api", 0)
    stored = await rasas.retrieve("conv-api")
    outside = DialogueStateTracker.from_events("conv-api", list(stored.events), domain.slots)
    for event in turn_events(1):
        outside.update(event)
    await replica_a.save(outside)
    check("outside tracker appended, not duplicated", sum(1 for r in rows(engine, "conv-api") if r[0] == "user") == 2)

    # 7. under the conversation's lock (bot.channel: a resend check, then the turn) the database is asked once, and
    # what the other replica wrote before the lock was taken is still read
    await play_turn(replica_a, "conv-held", 0)
    await play_turn(replica_b, "conv-held", 1)
    queries: list[str] = []
    sa.event.listen(replica_a.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    with lock_held("conv-held"):
        first = await replica_a.retrieve("conv-held")  # the channel's look for a resent message
        reads = len(queries)
        await play_turn(replica_a, "conv-held", 2)  # the turn: retrieve, then save
        writes = [q for q in queries[reads:] if q.lstrip().upper().startswith("INSERT")]
        check(
            "under the lock: one catch-up query, the turn's own read asks nothing",
            reads == 1 and len(queries) - reads == len(writes) + 1,  # the insert and its max(id)
        )
        check(
            "under the lock: the other replica's turn was read",
            state(first)["latest_message"]["text"].endswith("100101"),
        )
    check(
        "after the lock the same as rasa reads",
        state(await replica_a.retrieve("conv-held")) == state(await rasas.retrieve("conv-held")),
    )

    # 9. a new conversation under its lock (bot.channel: the resend check, then rasa's turn, which creates the tracker
    # and saves it): the database is asked once whether it has rows, and no row count precedes the writes
    queries.clear()
    with lock_held("conv-new"):
        check("new conversation: nothing stored", await replica_a.retrieve("conv-new") is None)
        reads = len(queries)
        await play_turn(replica_a, "conv-new", 0)
        later = queries[reads:]
        writes = [q for q in later if q.lstrip().upper().startswith("INSERT")]
        check(
            "new conversation under the lock: asked once, then only the insert and its max(id)",
            reads == 2 and len(writes) == 1 and len(later) == 2,
        )
        second = await replica_a.retrieve("conv-new")  # after the save: the kept tracker, no query
        check("new conversation: the saved turn is read back", second is not None and len(queries) == reads + 2)
    check("new conversation: rows as rasa reads them", state(second) == state(await rasas.retrieve("conv-new")))
    check("new conversation: one turn stored", sum(1 for r in rows(engine, "conv-new") if r[0] == "user") == 1)
    # the same conversation created outside any lock is counted first, as rasa does (nothing known about it)
    queries.clear()
    await play_turn(replica_a, "conv-unlocked", 0)
    check("new conversation without the lock: rows counted first", any("count" in q.lower() for q in queries))
    check(
        "new conversation without the lock: rows as rasa reads them",
        state(await replica_a.retrieve("conv-unlocked")) == state(await rasas.retrieve("conv-unlocked")),
    )

    # 8. memory is bounded
    check("cache bounded", len(replica_a.cached_senders()) <= 2)
    print(json.dumps({"checks": checks, "stats": {"a": replica_a.stats, "b": replica_b.stats}}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
