"""The gateway's own state (web transcripts, tablet devices, console accounts): one SQLAlchemy 2 database.

Each feature declares its tables on ``GatewayBase`` in its own module; ``create_app`` builds the engine
lazily from ``Settings.database_url`` and creates missing tables at startup. SQLite under ``var/`` by
default, PostgreSQL through the same URL setting.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase


class GatewayBase(DeclarativeBase):
    """Declarative base of every gateway table."""


def gateway_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the parent folder is created and foreign keys enforced.

    Args:
        url: SQLAlchemy URL (``sqlite:///var/gateway.db``, ``postgresql+psycopg://...``).

    Returns:
        The engine; nothing is connected yet.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL is synced at checkpoints: a commit survives a crash of any process, only a power loss can drop
            # the last ones, and each message no longer waits for the disk twice (claim, then replies)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


#: PostgreSQL advisory lock key held while a gateway creates tables (any fixed number shared by the gateways).
SCHEMA_LOCK = 7_310_417


def create_schema(engine: Engine) -> None:
    """Create every table declared on ``GatewayBase`` that does not exist yet.

    On PostgreSQL, gateways starting together take turns (an advisory lock): two ``CREATE TABLE`` of the same
    table at once fail on the catalogue's unique index.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
            GatewayBase.metadata.create_all(connection)
        return
    GatewayBase.metadata.create_all(engine)
