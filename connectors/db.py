"""The gateway's own state (web transcripts, tablet devices, console accounts): one SQLAlchemy 2 database.

Each feature declares its tables on ``GatewayBase`` in its own module; ``create_app`` builds the engine
lazily from ``Settings.database_url`` and migrates it at startup
(``create_schema``: Alembic, ``connectors/migrations``). SQLite under ``var/`` by
default, PostgreSQL through the same URL setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session


class GatewayBase(DeclarativeBase):
    """Declarative base of every gateway table."""


def affected(session: Session | Connection, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it touched.

    ``execute`` is typed as returning a plain ``Result``; the count lives on the ``CursorResult`` it really is.
    """
    return cast("CursorResult[Any]", session.execute(statement)).rowcount or 0


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
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL is synced at checkpoints: a commit survives a crash of any process, only a power loss can drop
            # the last ones, and each message no longer waits for the disk twice (claim, then replies)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


#: PostgreSQL advisory lock key held while a gateway migrates (any fixed number shared by the gateways).
SCHEMA_LOCK = 7_310_417
#: Alembic's version table of the gateway database (not ``alembic_version``: that one is the order store's, and
#: both may live in one PostgreSQL database).
VERSION_TABLE = "gateway_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """The Alembic config of ``connectors/migrations`` (independent of the working directory)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def create_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the gateway database to ``revision`` with its Alembic migrations (``connectors/migrations``).

    A database made before the migrations (by ``create_all``) has no version table: the first revision creates
    only the tables it lacks, so it is upgraded in place with its rows. On PostgreSQL, gateways starting together
    take turns (an advisory lock held for the migration's transaction).

    Args:
        engine: the gateway database.
        revision: target revision (tests).
    """
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_revision(engine: Engine) -> str | None:
    """The revision the gateway database is at (None before its first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head_revision() -> str | None:
    """The newest revision in ``connectors/migrations``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
