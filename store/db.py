"""Lazy SQLAlchemy engine and session factory for the order store; nothing connects at import time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.settings import get_settings

_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def make_engine(url: str, *, echo: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the order store's per-dialect setup.

    For SQLite the parent folder of the file is created, foreign keys are enforced and transactions
    are begun explicitly, so SAVEPOINTs work (the pysqlite recipe from the SQLAlchemy docs). A new
    database file (and a folder created for it) is its owner's only: customers' orders live there.

    Args:
        url: SQLAlchemy URL.
        echo: Log SQL statements.
        **kwargs: Passed to `sqlalchemy.create_engine`.

    Returns:
        A new engine (the caller disposes it).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        # A file of its own (not in memory, not a ``file:`` URI) gets its folder and owner-only mode.
        on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
        path = Path(str(database)).expanduser() if on_disk else None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("timeout", 30)
        engine = create_engine(url, echo=echo, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            # Before SQLite creates the file on first connect: customers' orders are their owner's only.
            if path is not None:
                _create_private(path)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, echo=echo, **kwargs)


def _create_private(path: Path) -> None:
    """Create an empty database file 0600 unless it exists; SQLite then gives its journal files that mode."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def get_engine() -> Engine:
    """Return the process-wide engine, created from `store.settings` on first use.

    Returns:
        The shared engine.
    """
    global _engine
    if _engine is None:
        settings = get_settings()
        _engine = make_engine(settings.database_url, echo=settings.echo_sql)
    return _engine


def get_session_factory() -> sessionmaker[Session]:
    """Return the process-wide session factory bound to `get_engine`.

    Returns:
        A sessionmaker whose sessions keep loaded values after commit.
    """
    global _session_factory
    if _session_factory is None:
        _session_factory = sessionmaker(bind=get_engine(), expire_on_commit=False)
    return _session_factory


@contextmanager
def session_scope(factory: Callable[[], Session] | None = None) -> Iterator[Session]:
    """Run one unit of work: commit when the block succeeds, roll back when it raises.

    Every API of the store (`OrderStore`, `CustomerAccounts`, `CustomerFeedback`, `store.erasure`) opens its
    units of work through this one function.

    Args:
        factory: Zero-argument callable returning a new `Session` (a `sessionmaker`); the shared one when None.

    Yields:
        An open session.
    """
    session = (factory or get_session_factory())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_migrated(engine: Engine) -> bool:
    """Tell whether the store's tables exist in the database behind ``engine``.

    Args:
        engine: Engine to inspect.

    Returns:
        True when the ``orders`` and ``products`` tables exist.
    """
    with engine.connect() as conn:
        inspector = inspect(conn)
        return inspector.has_table("orders") and inspector.has_table("products")
