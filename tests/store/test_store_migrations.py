"""Migrations and the command line of the order store, on every backend."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from store import models as m
from store.__main__ import main
from store.db import is_migrated
from store.migrate import current_revision, downgrade, head_revision, upgrade
from store.settings import Settings


def test_upgrade_from_empty_creates_every_table(empty_database) -> None:
    engine = empty_database.engine
    assert current_revision(engine) is None
    assert not is_migrated(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() == "0008"
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert set(m.Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    assert is_migrated(engine)


def test_upgrade_is_idempotent_and_downgrade_reverts(empty_database) -> None:
    engine = empty_database.engine
    upgrade(engine)
    upgrade(engine)  # second run: nothing to do, no error
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not tables & set(m.Base.metadata.tables)
    upgrade(engine)
    assert is_migrated(engine)


def test_migrated_schema_matches_models(empty_database) -> None:
    """Autogenerate finds nothing to add: the initial revision and the models agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = empty_database.engine
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == []


def _run(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_seed_before_migrate_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'shop.db'}"
    code, _, err = _run(capsys, url, "seed")
    assert code == 2
    assert "python -m store migrate" in err


def test_cli_setup_migrate_seed_and_demo_cases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], anchor: datetime
) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'shop.db'}"
    day = anchor.strftime("%Y-%m-%d")
    code, _, err = _run(capsys, url, "setup", "--anchor", day)
    assert code == 0, err
    assert "Seeded 213 products, 242 customers, 300 orders" in err
    assert (tmp_path / "var" / "shop.db").exists()  # var/ created on demand

    code, _, err = _run(capsys, url, "migrate")
    assert code == 0
    assert "already at revision 0008" in err

    code, _, err = _run(capsys, url, "seed", "--if-empty")
    assert code == 0
    assert "not seeding" in err and "300 orders" in err

    code, _, err = _run(capsys, url, "seed")
    assert code == 1
    assert "--if-empty" in err

    code, out, _ = _run(capsys, url, "demo-cases", "--limit", "3")
    assert code == 0
    cases = json.loads(out)
    assert len(cases) == 3
    assert {"case", "order_number", "email", "postcode", "status", "rma_number", "expect"} <= set(cases[0])


def test_cli_unreachable_database_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", "migrate")
    assert code == 2
    assert err.count("error: cannot use the database") == 1


def test_settings_default_and_postgres_url_rewrite() -> None:
    default = Settings.from_env({})
    assert default.database_url.startswith("sqlite:///") and default.database_url.endswith("/var/shop.db")
    pg = Settings.from_env({"SHOP_DATABASE_URL": "postgresql://u:p@db:5432/shop"})
    assert pg.database_url == "postgresql+psycopg://u:p@db:5432/shop"
    assert Settings.from_env({"SHOP_DATABASE_URL": "postgres://u@h/x"}).database_url == "postgresql+psycopg://u@h/x"
