"""actions/guard.py's decision: which failure rasa sends again (503) and which ends in the apology (200)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import psycopg.errors
import pytest
import redis
import sqlalchemy.exc
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from actions import guard
from store.db import session_scope

TRACKER = {"latest_message": {"metadata": {"channel": "web"}}}


def _wrapped(kind: type[sqlalchemy.exc.DBAPIError], orig: BaseException, **kwargs: Any) -> BaseException:
    return kind("SELECT 1", {}, orig, **kwargs)  # type: ignore[arg-type]


TRANSIENT: dict[str, BaseException] = {
    "psycopg cannot connect (refused, no SQLSTATE)": _wrapped(
        sqlalchemy.exc.OperationalError, psycopg.OperationalError("connection failed: Connection refused")
    ),
    "server shutting down (57P01)": _wrapped(
        sqlalchemy.exc.OperationalError, psycopg.errors.AdminShutdown("terminating connection")
    ),
    "server starting up (57P03)": _wrapped(
        sqlalchemy.exc.OperationalError, psycopg.errors.CannotConnectNow("the database system is starting up")
    ),
    "too many connections (53300)": _wrapped(
        sqlalchemy.exc.OperationalError, psycopg.errors.TooManyConnections("too many clients")
    ),
    "connection lost mid-statement (invalidated)": _wrapped(
        sqlalchemy.exc.DBAPIError, Exception("server closed the connection"), connection_invalidated=True
    ),
    "deadlock (40P01)": _wrapped(sqlalchemy.exc.OperationalError, psycopg.errors.DeadlockDetected("deadlock")),
    "psycopg interface error": _wrapped(sqlalchemy.exc.InterfaceError, psycopg.InterfaceError("connection closed")),
    "pool timeout": sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    "sqlite busy": _wrapped(sqlalchemy.exc.OperationalError, sqlite3.OperationalError("database is locked")),
    "redis unreachable": redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    "redis timeout": redis.TimeoutError("Timeout reading from socket"),
    "socket refused": ConnectionRefusedError(111, "Connection refused"),
}

LASTING: dict[str, BaseException] = {
    "a bug": KeyError("order_number"),
    "bad data": ValueError("invalid literal for int()"),
    "sqlite missing table": _wrapped(sqlalchemy.exc.OperationalError, sqlite3.OperationalError("no such table: x")),
    "postgres missing table (42P01)": _wrapped(
        sqlalchemy.exc.ProgrammingError, psycopg.errors.UndefinedTable('relation "orders" does not exist')
    ),
    "postgres constraint (23505)": _wrapped(
        sqlalchemy.exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key value")
    ),
    "postgres division by zero (22012)": _wrapped(
        sqlalchemy.exc.DataError, psycopg.errors.DivisionByZero("division by zero")
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSIENT))
def test_transient_failures_are_recognised(name: str) -> None:
    assert guard.is_transient(TRANSIENT[name])


@pytest.mark.parametrize("name", sorted(LASTING))
def test_lasting_failures_are_not(name: str) -> None:
    assert not guard.is_transient(LASTING[name])


def test_a_database_error_wrapped_by_the_action_is_judged_by_its_cause() -> None:
    try:
        try:
            raise TRANSIENT["server starting up (57P03)"]
        except sqlalchemy.exc.OperationalError as error:
            raise RuntimeError("could not load the order") from error
    except RuntimeError as outer:
        assert guard.is_transient(outer)
    try:
        try:
            raise TRANSIENT["pool timeout"]
        except sqlalchemy.exc.TimeoutError:
            raise LookupError("no zone") from None  # the cause hidden on purpose: still the context
    except LookupError as outer:
        assert guard.is_transient(outer)


def _request(record: guard.CallRecord | None) -> Any:
    body = {"next_action": "action_shipping_info", "tracker": TRACKER}
    ctx = SimpleNamespace()
    if record is not None:
        ctx.action_call = record
    return SimpleNamespace(method="POST", path="/webhook", json=body, ctx=ctx)


def _answer(exception: Exception, record: guard.CallRecord | None = None) -> tuple[int, dict[str, Any]]:
    answer = asyncio.run(guard.answer_failure(_request(record or guard.CallRecord()), exception))
    return answer.status, json.loads(answer.body)


def test_a_transient_failure_is_answered_503_with_only_the_apology_for_rasa_to_give_when_it_gives_up() -> None:
    status, body = _answer(TRANSIENT["psycopg cannot connect (refused, no SQLSTATE)"])
    assert status == 503
    assert body == {"events": [], "responses": [guard.apology(TRACKER)]}
    assert "Connection refused" not in json.dumps(body)


def test_a_lasting_failure_is_answered_with_the_apology() -> None:
    status, body = _answer(LASTING["sqlite missing table"])
    assert status == 200
    assert body == {"events": [], "responses": [guard.apology(TRACKER)]}


def test_a_call_that_committed_a_write_is_never_sent_again() -> None:
    record = guard.CallRecord()
    record.wrote = True
    status, _ = _answer(TRANSIENT["server starting up (57P03)"], record)
    assert status == 200


# ------------------------------------------------------------------------ which transactions count as a write

METADATA = MetaData()
ROWS = Table("rows", METADATA, Column("id", Integer, primary_key=True), Column("name", String(20)))


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'guard.db'}")
    METADATA.create_all(engine)
    guard.track_writes()
    return sessionmaker(engine)


def _during_a_call(work: Any) -> guard.CallRecord:
    """Run ``work`` as the action code of one call (the request middleware made the record)."""
    record = guard.CallRecord()

    async def call() -> None:
        await guard.begin_call(SimpleNamespace(ctx=SimpleNamespace()))  # type: ignore[arg-type]
        token_record = guard._call.get()
        assert token_record is not None
        work()
        record.wrote = token_record.wrote

    asyncio.run(call())
    return record


def test_reads_leave_a_call_resendable(sessions: sessionmaker[Session]) -> None:
    def read() -> None:
        with session_scope(sessions) as session:
            session.execute(select(ROWS)).all()

    assert not _during_a_call(read).wrote


def test_a_committed_insert_marks_the_call(sessions: sessionmaker[Session]) -> None:
    def write() -> None:
        with session_scope(sessions) as session:
            session.execute(insert(ROWS).values(name="return"))

    assert _during_a_call(write).wrote


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE rows SET name = 'cancelled'",
        "  delete from rows",
        "WITH new AS (SELECT 'gift' AS name) INSERT INTO rows (name) SELECT name FROM new",
    ],
)
def test_a_committed_write_in_plain_sql_marks_the_call(sessions: sessionmaker[Session], statement: str) -> None:
    def write() -> None:
        with session_scope(sessions) as session:
            session.execute(text(statement))

    assert _during_a_call(write).wrote


def test_a_locking_read_is_no_write(sessions: sessionmaker[Session]) -> None:
    def read() -> None:
        with session_scope(sessions) as session:
            session.execute(text("SELECT name FROM rows WHERE name = 'updated'"))

    assert not _during_a_call(read).wrote


def test_a_write_rolled_back_before_its_commit_leaves_the_call_resendable(sessions: sessionmaker[Session]) -> None:
    def write_then_fail() -> None:
        with pytest.raises(RuntimeError), session_scope(sessions) as session:
            session.execute(insert(ROWS).values(name="return"))
            raise RuntimeError("the database went away before the commit")

    assert not _during_a_call(write_then_fail).wrote
    with sessions() as session:
        assert session.execute(select(ROWS)).all() == []


def test_a_commit_that_failed_counts_as_written(sessions: sessionmaker[Session]) -> None:
    """The commit's fate is unknown to the action (the connection may have died after the server committed)."""

    engine = sessions.kw["bind"]

    def refuse(*_args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    def commit_fails() -> None:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine.dialect, "do_commit", refuse)
            with pytest.raises(sqlalchemy.exc.OperationalError), session_scope(sessions) as session:
                session.execute(insert(ROWS).values(name="return"))

    assert _during_a_call(commit_fails).wrote


def test_each_request_starts_with_a_fresh_record() -> None:
    async def two_requests() -> tuple[bool, bool]:
        first = SimpleNamespace(ctx=SimpleNamespace())
        await guard.begin_call(first)  # type: ignore[arg-type]
        first.ctx.action_call.wrote = True
        second = SimpleNamespace(ctx=SimpleNamespace())
        await guard.begin_call(second)  # type: ignore[arg-type]
        current = guard._call.get()
        return first.ctx.action_call.wrote, current is not None and current.wrote

    assert asyncio.run(two_requests()) == (True, False)
