"""Every custom action's failure ends in a polite reply, never silence or a 500 echoing the tracker.

Registered by ``actions/__init__.py`` as a rasa-sdk plugin: rasa-sdk calls ``attach_sanic_app_extensions`` on
the action server's Sanic app in each worker process, whichever command started it. There the guard

- replaces rasa-sdk's catch-all error handler, which answered 500 with ``{"error": str(exc), "request_body":
  <the whole tracker>}`` (rasa then logged that body, personal data and all, and the customer got no
  reply), by one that answers rasa's action call with 200 and an apology (with a "talk to a person"
  button where a person can help) and logs only the action's name and the traceback's types;
- installs :mod:`logsafe` in the worker (the primary process's logging setup does not reach it).

A failure that the same call would not meet a few seconds later (:func:`is_transient`: the database unreachable,
restarting or refusing connections, a pool timeout, Redis unreachable) is answered 503 instead, so rasa sends the
call again (``bot/turn_speedups.py``, up to ``ACTION_RETRY_SECONDS``) and the customer, who sees the typing
indicator meanwhile, gets the real answer once the database is back rather than an apology and the need to ask
again. Only while the call has written nothing: a call that committed a write (or tried to, and the commit's fate
is unknown) is never sent again, so a return, a cancellation or an address change happens once; it gets the
apology. The 503's body is the apology rasa gives the customer if its retries run out (no detail of the failure).

Flows stay free of try/except for the unexpected; expected refusals (``NotAllowed``...) are still answered
by the flows themselves with a specific sentence.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

import logsafe

log = logging.getLogger(__name__)
hookimpl = pluggy.HookimplMarker("rasa_sdk")

HANDOFF_PAYLOAD = "/human_handoff"
SORRY = "Sorry, something went wrong on my side while I was doing that, and I couldn't finish it."
SORRY_CUSTOMER = f"{SORRY} Please try again in a moment, or I can pass you to a person from our team."
SORRY_TABLET = f"{SORRY} Please try again in a moment, or ask any member of staff in the shop."
SORRY_STAFF = f"{SORRY} Please try again in a moment; the action server's log has the details."


#: SQLSTATE prefixes of PostgreSQL errors that a later try can get past: connection exceptions (08), the server
#: shutting down, crashed or starting up (57P01-57P03), too many connections (53300), a serialization failure or
#: deadlock (40001, 40P01: the transaction was rolled back whole).
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")
#: SQLite's words for a database another process holds (``database is locked``, ``SQLITE_BUSY``).
_SQLITE_BUSY = ("database is locked", "database table is locked", "busy")


class CallRecord:
    """What one action call did to the database, kept while the call runs (see :func:`track_writes`)."""

    __slots__ = ("wrote",)

    def __init__(self) -> None:
        self.wrote = False


_call: ContextVar[CallRecord | None] = ContextVar("action_call", default=None)


def _sqlstate(error: BaseException) -> str | None:
    code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return code if isinstance(code, str) else None


def _is_transient_one(error: BaseException) -> bool:  # noqa: PLR0911 (one return per kind reads best)
    import sqlalchemy.exc  # noqa: PLC0415 (the action server has it; kept out of import time)

    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated:  # the connection died under the statement
            return True
        if error.orig is not None and _is_transient_driver(error.orig):
            return True
        # psycopg's failure to connect at all (refused, reset, starting up) carries no SQLSTATE
        return isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)) and (
            error.orig is not None and _driver(error.orig) == "psycopg" and _sqlstate(error.orig) is None
        )
    if _driver(error) in ("psycopg", "sqlite3"):
        return _is_transient_driver(error)
    try:
        import redis  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the action server's environment has it
        redis = None  # type: ignore[assignment]
    if redis is not None and isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return True
    return isinstance(error, (ConnectionError, TimeoutError))


def _driver(error: BaseException) -> str:
    return type(error).__module__.split(".")[0]


def _is_transient_driver(error: BaseException) -> bool:
    """A DB-API driver's own exception: by SQLSTATE for psycopg, by message for SQLite's busy database."""
    driver = _driver(error)
    if driver == "psycopg":
        state = _sqlstate(error)
        if state is None:
            return type(error).__name__ in ("OperationalError", "InterfaceError")
        return state.startswith(TRANSIENT_SQLSTATES)
    if driver == "sqlite3":
        return type(error).__name__ == "OperationalError" and any(word in str(error) for word in _SQLITE_BUSY)
    return False


def is_transient(exception: BaseException) -> bool:
    """Tell whether the failure is one the same call would get past a few seconds later (see the module docstring).

    The exception and its causes (``raise ... from``, or raised while handling another) are looked at: an action
    that wraps a database error in its own exception is judged by the database error.

    Args:
        exception: what an action raised.

    Returns:
        True for a database unreachable, restarting, refusing connections or out of pooled connections, a
        serialization failure or deadlock, SQLite's busy database, Redis unreachable, a socket refused or timed
        out; False for anything else (a bug, a missing table, bad data), which a resend would meet again.
    """
    seen: set[int] = set()
    error: BaseException | None = exception
    while error is not None and id(error) not in seen and len(seen) < 20:
        seen.add(id(error))
        if _is_transient_one(error):
            return True
        error = error.__cause__ or error.__context__
    return False


#: First words of SQL statements that change something (a ``WITH`` is looked into for them).
_WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|CREATE|ALTER|DROP|TRUNCATE|COPY)\b", re.IGNORECASE)


def _is_write(statement: str) -> bool:
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    if not words:
        return False
    first = words[0].upper()
    if first == "WITH":
        return bool(_WRITES.search(statement))
    return bool(_WRITES.fullmatch(first))


def _after_execute(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if _is_write(statement):  # it ran: the database holds it until this transaction ends
        connection.info["shop_wrote"] = True


def _on_commit(connection: Any) -> None:
    # before the COMMIT is sent: a commit that then fails counts too (the server may have committed it)
    if connection.info.pop("shop_wrote", False):
        record = _call.get()
        if record is not None:
            record.wrote = True


def _on_rollback(connection: Any) -> None:
    connection.info.pop("shop_wrote", None)  # rolled back: nothing of it happened


def track_writes() -> None:
    """Listen to every SQLAlchemy engine of the process for committed writes (idempotent).

    A transaction that ran a write (INSERT, UPDATE, DELETE..., whether the ORM, Core or text SQL sent it) and then
    committed, or tried to, marks the running action call as having written; one rolled back before its commit
    does not (its writes never happened, so sending the call again is safe).
    """
    from sqlalchemy import event  # noqa: PLC0415 (the action server has it; kept out of import time)
    from sqlalchemy.engine import Engine  # noqa: PLC0415

    for name, listener in (
        ("after_cursor_execute", _after_execute),
        ("commit", _on_commit),
        ("rollback", _on_rollback),
    ):
        if not event.contains(Engine, name, listener):
            event.listen(Engine, name, listener)


async def begin_call(request: Request) -> None:
    """Sanic request middleware: a fresh :class:`CallRecord` for this request (a kept connection serves many)."""
    record = CallRecord()
    request.ctx.action_call = record
    _call.set(record)


def apology(tracker: Any) -> dict[str, Any]:
    """The reply for a failed action, fitted to who is asking.

    Args:
        tracker: the tracker JSON rasa sent with the action call (anything: it may be what broke).

    Returns:
        A rasa-sdk response dict (``text`` and, for customers on web/Telegram, a button to reach a person).
    """
    metadata: dict[str, Any] = {}
    if isinstance(tracker, dict):
        latest = tracker.get("latest_message")
        if isinstance(latest, dict) and isinstance(latest.get("metadata"), dict):
            metadata = latest["metadata"]
    channel = metadata.get("channel")
    if channel == "slack" or isinstance(metadata.get("staff"), dict):
        return {"text": SORRY_STAFF}
    if channel == "tablet":
        return {"text": SORRY_TABLET}
    return {"text": SORRY_CUSTOMER, "buttons": [{"title": "Talk to a person", "payload": HANDOFF_PAYLOAD}]}


async def answer_failure(request: Request, exception: Exception) -> HTTPResponse:
    """Sanic error handler of the action server: an apology for rasa's action calls, a bare error otherwise."""
    try:
        call = request.json if request.method == "POST" else None
    except Exception:  # the body itself is what failed to parse
        call = None
    action = call.get("next_action") if isinstance(call, dict) else None
    tracker = call.get("tracker") if isinstance(call, dict) else None
    status = getattr(exception, "status_code", 500)
    if isinstance(action, str) and status >= 500:
        record = getattr(request.ctx, "action_call", None)
        wrote = record is not None and record.wrote
        if is_transient(exception) and not wrote:
            log.warning(
                "action %s met a transient failure (%s); rasa will send the call again",
                action[:100],
                _kinds(exception),
            )
            return response.json({"events": [], "responses": [apology(tracker)]}, status=503)
        log.error("action %s failed; the customer was sent an apology", action[:100], exc_info=exception)
        return response.json({"events": [], "responses": [apology(tracker)]}, status=200)
    if status >= 500:
        log.error("action server request %s %s failed", request.method, request.path, exc_info=exception)
    return response.json(
        {"error": "the action server could not handle this request" if status >= 500 else str(exception)},
        status=status,
    )


def _kinds(exception: BaseException) -> str:
    """The exception's type and its causes' types (never their messages: those can hold the query's values)."""
    kinds: list[str] = []
    seen: set[int] = set()
    error: BaseException | None = exception
    while error is not None and id(error) not in seen and len(kinds) < 5:
        seen.add(id(error))
        kinds.append(type(error).__name__)
        error = error.__cause__ or error.__context__
    return " <- ".join(kinds)


def install(app: Sanic) -> None:
    """Install logsafe, the write tracking and the polite error handler on a freshly built action-server app.

    Called through the rasa-sdk plugin hook (``python -m rasa_sdk``); an entry point that builds the app
    with ``rasa_sdk.endpoint.create_app`` itself (no plugin hook) calls it directly, in its app factory.
    """
    logsafe.install()
    track_writes()
    app.register_middleware(begin_call, "request")
    # rasa-sdk registered its own handler for Exception; Sanic refuses a second registration, so the
    # entry is replaced in place (before the app serves: lookups are cached from the first request).
    app.error_handler.cached_handlers[(Exception, None)] = answer_failure


class ActionServerGuard:
    """The rasa-sdk plugin (see the module docstring)."""

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        """See :func:`install`."""
        install(app)


GUARD = ActionServerGuard()


def register() -> None:
    """Register the guard with rasa-sdk's plugin manager (idempotent; called when ``actions`` is imported)."""
    from rasa_sdk.plugin import plugin_manager  # noqa: PLC0415 (only where rasa-sdk serves)

    manager = plugin_manager()
    if not manager.is_registered(GUARD):
        manager.register(GUARD)
