"""Rasa's SQL tracker store with each conversation's working tracker kept in the process; named in endpoints.yml.

Rasa 3.6's ``SQLTrackerStore`` loads, decodes and replays every event of the conversation's session on every turn,
and counts them again to know which ones to write: a turn costs more the longer the conversation (33 ms for turns
1-20, 166 ms for turns 81-100 on these machines). This store writes the same ``events`` table, row for row (the
support console reads it), but:

* keeps the tracker of each recent conversation in memory (``cache_size`` conversations, least recently used
  dropped first) and hands rasa a copy of it (``bot.tracker_speedups.state_copy``, no replay);
* before handing it out, asks the database for rows after the last one it knows, with one indexed query, and
  applies them: another rasa replica may have answered this conversation meanwhile (the lock store makes replicas
  take turns on a conversation, so rows of one conversation are written in order). If the last row it knows is
  gone (the console deleted the conversation) or the other replica started a new session, it loads the session
  from the database as rasa does;
* appends only the events rasa added since it handed the tracker out, without counting rows;
* while a task holds a conversation's lock (``lock_held``, set by bot.channel around a turn), asks the database only
  once: the gateway channel reads the tracker to look for a resent message, then rasa reads it again for the turn,
  and no other replica can write the conversation in between.

A process that restarts, or a conversation it has not seen, costs one load, as before. Settings (endpoints.yml):
``cache_size`` (default 2000). Everything else is rasa's ``SQLTrackerStore`` (``url``, ``dialect``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Dict, List

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.tracker_speedups import remember_stored, state_copy

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 2000
#: How long a read or write is tried again while the database cannot be reached (a restart, a fail-over).
DB_RETRY_SECONDS = 60.0
#: Attribute set on every tracker this store hands out: how many of its events are already in the database.
PERSISTED = "_shop_persisted_events"
_INDEX = "ix_events_sender_id_id"


@dataclass
class _Held:
    """The conversation whose lock this task holds, and whether its tracker was caught up since it took it."""

    sender_id: str
    caught_up: bool = False
    #: the database had no rows of the conversation when this task last read it, and nothing was saved since
    known_empty: bool = False


_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("shop_tracker_lock_held", default=None)


@contextlib.contextmanager
def lock_held(sender_id: str) -> Iterator[None]:
    """Say that this task holds ``sender_id``'s lock from rasa's lock store for the duration.

    The first retrieve of the conversation inside catches its tracker up with the database as always; later ones
    (the same turn) skip that query: the lock keeps every other replica from writing the conversation meanwhile, and
    this process's own writes go through ``save``, which updates the kept tracker. Likewise a conversation the
    database had no rows of is not asked for again, and rasa's new tracker for it is saved without counting its rows
    first. Enter it only with the lock held.
    """
    token = _held.set(_Held(sender_id))
    try:
        yield
    finally:
        _held.reset(token)


def _latest_session(tracker: DialogueStateTracker, events: List[Any], first_new: int) -> DialogueStateTracker:
    """A copy of ``tracker`` holding only its latest session's events, as rasa's SQL store would read it back.

    ``SessionStarted`` resets the whole state, so dropping the events before it leaves the state as it was.
    """
    copy = state_copy(tracker)
    for index in range(len(events) - 1, max(first_new, 1) - 1, -1):
        if isinstance(events[index], SessionStarted):
            copy.events = tracker._create_events(events[index:])
            break
    return copy


def _sqlite_engine(url: Any) -> Any:
    """An engine on rasa's SQLite file that keeps its connections and does not wait for the disk on every commit.

    Rasa's SQL calls block its event loop, so every fsync of a commit (two or three with SQLite's default rollback
    journal, 20-30 ms on a busy disk) held up every other conversation, and SQLAlchemy 1.4 opened a new connection
    for every query. Here: a small connection pool, and a write-ahead log synced at checkpoints
    (``synchronous=NORMAL``): a committed turn survives a crash of any process, only a power loss can drop the last
    ones. The console reads the same file meanwhile, as WAL allows. PostgreSQL is the production store.
    """
    engine = sa.create_engine(
        url, poolclass=sa.pool.QueuePool, pool_size=4, connect_args={"check_same_thread": False, "timeout": 15}
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # kept in the file: once is enough
    return engine


async def _retrying(operation: Any, *args: Any) -> Any:
    """``operation(*args)``, tried again for ``DB_RETRY_SECONDS`` while the database cannot be reached.

    Only connection-level failures are retried (``OperationalError``, or a connection found invalid); a turn then
    waits for the database instead of failing, and the customer gets a late answer rather than an error.
    """
    deadline, delay = time.monotonic() + DB_RETRY_SECONDS, 0.2
    while True:
        try:
            result = operation(*args)
            return await result if asyncio.iscoroutine(result) else result
        except sa.exc.DBAPIError as error:
            if not (isinstance(error, sa.exc.OperationalError) or error.connection_invalidated):
                raise
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("tracker store unreachable (%s); trying again in %.1f s", error.orig, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


class _Statements:
    """The store's SQL, built once: SQLAlchemy then computes each statement's cache key once, not on every call.

    Building a ``select`` and computing its cache key cost more CPU than running it (~4 % of rasa's CPU in the turn
    bench). Values go in as bound parameters; the SQL sent is what the statements built per call sent.
    """

    def __init__(self, events: sa.Table) -> None:
        sender = events.c.sender_id == sa.bindparam("sender_id")
        #: rows of a conversation from a known row on (the catch-up)
        self.since = (
            sa.select(events.c.id, events.c.type_name, events.c.data)
            .where(sender, events.c.id >= sa.bindparam("last_id"))
            .order_by(events.c.id)
        )
        #: the id of the conversation's latest ``session_started`` row
        self.latest_start = sa.select(sa.func.max(events.c.id)).where(
            sender, events.c.type_name == SessionStarted.type_name
        )
        #: a conversation's rows from its latest session's start, or all of them
        self.session_rows = (
            sa.select(events.c.id, events.c.data)
            .where(sender, events.c.id >= sa.bindparam("start"))
            .order_by(events.c.id)
        )
        self.all_rows = sa.select(events.c.id, events.c.data).where(sender).order_by(events.c.id)
        self.insert = events.insert()
        #: the id of the conversation's newest row
        self.newest = sa.select(sa.func.max(events.c.id)).where(sender)


@dataclass
class _Cached:
    """A conversation's tracker as last saved, and the id of its last row."""

    tracker: DialogueStateTracker
    last_id: int


class CachedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with an in-process cache of working trackers and append-only writes."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        cache_size: Any = DEFAULT_CACHE_SIZE,
        **kwargs: Any,
    ) -> None:
        """Connect like rasa's SQL store, add the index the catch-up query needs, start with an empty cache.

        Args:
            domain: the model's domain.
            host: the database URL (endpoints.yml ``url``).
            cache_size: how many conversations to keep in memory (a string from ``${VAR}`` is accepted).
            **kwargs: rasa's ``SQLTrackerStore`` arguments (``dialect``, ``db``, ``event_broker``, ...).
        """
        super().__init__(domain=domain, host=host, **kwargs)
        try:
            self.cache_size = max(0, int(cache_size))
        except (TypeError, ValueError):
            raise ValueError(f"tracker store cache_size must be a whole number, got {cache_size!r}") from None
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self.stats = {"hits": 0, "misses": 0, "caught_up": 0, "reloads": 0, "held": 0}
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            self.engine = _sqlite_engine(url)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        elif self.engine.dialect.name == "postgresql":
            # a connection kept from before a database restart is found dead when taken, not when used
            url, kwargs = self.engine.url, create_engine_kwargs(self.engine.url)
            self.engine.dispose()
            self.engine = sa.create_engine(url, pool_pre_ping=True, **kwargs)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        self._statements = _Statements(self._table)
        index = sa.Index(_INDEX, self.SQLEvent.sender_id, self.SQLEvent.id)
        try:
            index.create(self.engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:  # another replica created it at the same moment
            logger.info("index %s not created here: %s", _INDEX, exc)

    # ------------------------------------------------------------------------------------------- reading

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker of the conversation's latest session, from memory when this process has it.

        Args:
            sender_id: the conversation id.

        Returns:
            A tracker rasa may change freely, or None for a conversation without events.
        """
        return await _retrying(self._retrieve_once, sender_id)

    async def _retrieve_once(self, sender_id: str) -> DialogueStateTracker | None:
        cached = self._cache.get(sender_id)
        held = _held.get()
        if held is not None and held.sender_id != sender_id:
            held = None
        if cached is not None:
            if held is not None and held.caught_up:
                tracker: DialogueStateTracker | None = cached.tracker  # nobody else wrote it since: see lock_held
                self.stats["held"] += 1
            else:
                tracker = self._catch_up(sender_id, cached)
            if tracker is not None:
                self._cache.move_to_end(sender_id)
                self.stats["hits"] += 1
                if held is not None:
                    held.caught_up = True
                return self._hand_out(tracker)
            self._cache.pop(sender_id, None)
            self.stats["reloads"] += 1
        else:
            self.stats["misses"] += 1
        if held is not None and held.known_empty:
            self.stats["held"] += 1
            return None  # asked under this lock already: no rows, and none written since (see lock_held)
        loaded = self._load(sender_id)
        if held is not None:
            held.caught_up = sender_id in self._cache
            held.known_empty = loaded is None
        return loaded

    def _catch_up(self, sender_id: str, cached: _Cached) -> DialogueStateTracker | None:
        """The cached tracker with rows written elsewhere since; None when it must be loaded afresh."""
        with self.engine.connect() as connection:
            rows = connection.execute(self._statements.since, {"sender_id": sender_id, "last_id": cached.last_id}).all()
        if not rows or rows[0].id != cached.last_id:
            return None  # our last row is gone: the conversation was deleted or rewritten
        newer = rows[1:]
        if not newer:
            return cached.tracker
        if any(row.type_name == SessionStarted.type_name for row in newer):
            return None  # another replica started a new session: load it as rasa does
        for new_event in deserialise_events([json.loads(row.data) for row in newer]):
            cached.tracker.update(new_event)
        cached.last_id = newer[-1].id
        self.stats["caught_up"] += 1
        return cached.tracker

    def _load(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session from the database (rasa's rule: from the last ``session_started`` on)."""
        statements = self._statements
        with self.engine.connect() as connection:
            start = connection.execute(statements.latest_start, {"sender_id": sender_id}).scalar()
            if start is None:
                rows = connection.execute(statements.all_rows, {"sender_id": sender_id}).all()
            else:
                rows = connection.execute(statements.session_rows, {"sender_id": sender_id, "start": start}).all()
        if not rows:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)
        self._remember(sender_id, tracker, rows[-1].id)
        return self._hand_out(tracker)

    @staticmethod
    def _hand_out(tracker: DialogueStateTracker) -> DialogueStateTracker:
        copy = state_copy(tracker)
        setattr(copy, PERSISTED, len(copy.events))
        return copy

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, last_id: int) -> None:
        if self.cache_size == 0:
            return
        self._cache[sender_id] = _Cached(tracker, last_id)
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------------------------------- writing

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events rasa added to ``tracker`` since this store handed it out.

        A tracker this store did not hand out (rasa's HTTP API can build one) is saved by rasa's rule: every event
        past the number already stored for the session.

        Args:
            tracker: the conversation's tracker after the turn.
        """
        await self.stream_events(tracker)
        events = list(tracker.events)
        persisted = getattr(tracker, PERSISTED, None)
        held = _held.get()
        if held is not None and held.sender_id != tracker.sender_id:
            held = None
        if persisted is None and held is not None and held.known_empty:
            persisted = 0  # a new conversation (rasa's create_tracker): no rows, none written since (lock_held)
        if not isinstance(persisted, int) or persisted > len(events):
            with self.session_scope() as session:
                persisted = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()
            self._cache.pop(tracker.sender_id, None)
        new = events[persisted:]
        last_id: int | None = None
        if new:
            rows = [self._row(tracker.sender_id, e) for e in new]
            last_id = await _retrying(self._append, tracker.sender_id, rows)
            for event, row in zip(new, rows, strict=True):
                remember_stored(event, row["data"])  # later action calls send it as stored (bot.tracker_speedups)
        setattr(tracker, PERSISTED, len(events))
        if last_id is not None:
            self._remember(tracker.sender_id, _latest_session(tracker, events, persisted), last_id)
            if held is not None and held.known_empty:
                # the rows it had under this lock (none) and ours: what is kept now is all there is
                held.known_empty = False
                held.caught_up = tracker.sender_id in self._cache

    def _append(self, sender_id: str, rows: List[Dict[str, Any]]) -> int | None:
        """Insert ``rows`` in one transaction; the id of the last one."""
        with self.engine.begin() as connection:
            connection.execute(self._statements.insert, rows)
            # the lock store lets one process at a time write a conversation: its newest row is ours
            return connection.execute(self._statements.newest, {"sender_id": sender_id}).scalar()

    @property
    def _table(self) -> sa.Table:
        return self.SQLEvent.__table__

    @staticmethod
    def _row(sender_id: str, event: Any) -> Dict[str, Any]:
        """The ``events`` row rasa's SQL store writes for ``event``."""
        data: Dict[str, Any] = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def forget(self, sender_id: str | None = None) -> None:
        """Drop one conversation (or all) from memory; the next turn reads it from the database."""
        if sender_id is None:
            self._cache.clear()
        else:
            self._cache.pop(sender_id, None)

    def cached_senders(self) -> List[str]:
        """Conversations held in memory, least recently used first (tests, metrics)."""
        return list(self._cache)


def _no_silent_fallback() -> None:
    """Let this store's errors fail the turn instead of rasa's ``FailSafeTrackerStore`` hiding them.

    Rasa wraps every tracker store in ``FailSafeTrackerStore``: a failed save goes to a throwaway in-memory store and
    the customer is answered as if it had been kept (bench/fault_bench.py lost three turns that way in a PostgreSQL
    crash), and a failed read starts the conversation over. After waiting ``DB_RETRY_SECONDS`` for the database, this
    store's error now reaches the turn: the customer is told to try again and the gateway's resend is answered once.
    Other stores keep rasa's behaviour.
    """
    from rasa.core.tracker_store import FailSafeTrackerStore

    if getattr(FailSafeTrackerStore, "_shop_patched", False):
        return
    save, retrieve = FailSafeTrackerStore.save, FailSafeTrackerStore.retrieve

    async def _save(self: Any, tracker: DialogueStateTracker) -> None:
        if isinstance(self._tracker_store, CachedSQLTrackerStore):
            await self._tracker_store.save(tracker)
            return
        await save(self, tracker)

    async def _retrieve(self: Any, sender_id: str) -> DialogueStateTracker | None:
        if isinstance(self._tracker_store, CachedSQLTrackerStore):
            return await self._tracker_store.retrieve(sender_id)
        return await retrieve(self, sender_id)

    FailSafeTrackerStore.save = _save  # type: ignore[method-assign]
    FailSafeTrackerStore.retrieve = _retrieve  # type: ignore[method-assign]
    FailSafeTrackerStore._shop_patched = True  # type: ignore[attr-defined]


_no_silent_fallback()
