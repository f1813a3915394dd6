"""Alembic environment of the gateway database: run by ``connectors.db.create_schema`` and for new revisions."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import gateway.app  # noqa: F401  (the composition root imports every module declaring a gateway table)
from connectors.db import VERSION_TABLE, GatewayBase, gateway_engine

config = context.config
target_metadata = GatewayBase.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection ``create_schema`` passed, or a new engine on ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url on the config to the gateway database (connectors/README.md)")
    engine = gateway_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


run_migrations_online()
