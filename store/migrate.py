"""Run the order store's Alembic migrations programmatically (`python -m store migrate`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """Build an Alembic config pointing at ``store/migrations`` (independent of the working directory).

    Returns:
        The config.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (idempotent).

    Args:
        engine: Engine of the target database.
        revision: Target revision.
    """
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the database behind ``engine`` to ``revision``.

    Args:
        engine: Engine of the target database.
        revision: Target revision.
    """
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None when never migrated).

    Args:
        engine: Engine of the database.

    Returns:
        The revision id.
    """
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """Return the newest revision in ``store/migrations``.

    Returns:
        The head revision id.
    """
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
