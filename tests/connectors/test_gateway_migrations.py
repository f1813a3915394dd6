"""The gateway database is migrated by Alembic (connectors/migrations): fresh, and in place from create_all's."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select, text

import gateway.app  # noqa: F401  (declares every gateway table, the console's too)
from connectors.db import (
    VERSION_TABLE,
    GatewayBase,
    alembic_config,
    create_schema,
    gateway_engine,
    head_revision,
    schema_revision,
)
from tests.store.conftest import postgres_url  # noqa: F401  (a throwaway PostgreSQL cluster, or skip)

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = gateway_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield engine
    engine.dispose()


def _drift(engine: Engine) -> list[object]:
    """What differs between the migrated database and the models (empty: the migrations make the models)."""
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), GatewayBase.metadata)
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == VERSION_TABLE)]


def test_a_fresh_database_is_migrated_to_the_models(sqlite_engine: Engine) -> None:
    assert schema_revision(sqlite_engine) is None
    create_schema(sqlite_engine)
    assert schema_revision(sqlite_engine) == head_revision() == "g0003"
    assert _drift(sqlite_engine) == []
    assert "alembic_version" not in inspect(sqlite_engine).get_table_names()  # the order store's, not ours
    create_schema(sqlite_engine)  # idempotent: every gateway start runs it
    assert schema_revision(sqlite_engine) == "g0003"


def _pre_migrations_database(engine: Engine) -> None:
    """A database as gateways made them before migrations: create_all, rows, and one table of a newer release
    missing (it was added after that gateway version)."""
    GatewayBase.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE slack_reply_targets"))
        connection.execute(
            insert(GatewayBase.metadata.tables["telegram_callbacks"]),
            {"short_id": "abc", "payload": '/pick{"sku":"S1"}', "created_at": NOW},
        )


def test_an_existing_database_is_upgraded_in_place_with_its_rows(sqlite_engine: Engine) -> None:
    _pre_migrations_database(sqlite_engine)
    assert schema_revision(sqlite_engine) is None
    create_schema(sqlite_engine)
    assert schema_revision(sqlite_engine) == "g0003"
    assert _drift(sqlite_engine) == []  # the missing table is there now
    with sqlite_engine.connect() as connection:
        rows = connection.execute(select(GatewayBase.metadata.tables["telegram_callbacks"].c.payload)).all()
    assert rows == [('/pick{"sku":"S1"}',)]


def test_downgrade_to_base_and_up_again(sqlite_engine: Engine) -> None:
    create_schema(sqlite_engine)
    config = alembic_config()
    with sqlite_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(sqlite_engine).get_table_names()) <= {VERSION_TABLE}
    create_schema(sqlite_engine)
    assert _drift(sqlite_engine) == []


@pytest.mark.e2e
def test_postgres_existing_database_is_upgraded(postgres_url: str) -> None:  # noqa: F811
    schema = f"gateway_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not user input
    engine = gateway_engine(f"{postgres_url}?options=-csearch_path%3D{schema}")
    try:
        _pre_migrations_database(engine)
        create_schema(engine)
        assert schema_revision(engine) == "g0003"
        assert _drift(engine) == []
        with engine.connect() as connection:
            assert connection.scalar(select(GatewayBase.metadata.tables["telegram_callbacks"].c.short_id)) == "abc"
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
