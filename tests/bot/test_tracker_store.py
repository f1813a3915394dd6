"""Tests of bot/tracker_store.py on SQLite and PostgreSQL: the same trackers and rows as rasa's own SQL store."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.store.conftest import postgres_url  # noqa: F401  (a throwaway PostgreSQL cluster, or skip)

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="the rasa environment (.venv-rasa) is not installed")


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:  # noqa: F811
    """A fresh PostgreSQL database for rasa's psycopg2 driver, dropped afterwards."""
    name = f"tracker_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))  # generated name, not user input
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def run_probe(url: str) -> dict:
    done = subprocess.run(
        [str(RASA_PYTHON), str(Path(__file__).with_name("tracker_store_probe.py")), url],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_all_held(result: dict) -> None:
    failed = [name for name, held in result["checks"].items() if not held]
    assert not failed, f"{failed}; stats {result['stats']}"
    assert len(result["checks"]) == 22


def test_sqlite_store_matches_rasas_own(tmp_path: Path) -> None:
    assert_all_held(run_probe(f"sqlite:///{tmp_path / 'tracker.db'}"))


def test_postgresql_store_matches_rasas_own(pg_database: str) -> None:
    assert_all_held(run_probe(pg_database))
