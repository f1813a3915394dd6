"""Fixtures of the order store tests: seeded SQLite and PostgreSQL databases, each test rolled back."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from scripts.stack import free_port
from store import models as m
from store.db import make_engine
from store.migrate import upgrade
from store.seed import seed
from store.service import OrderStore
from store.settings import Settings

#: The demo shop used by the tests is seeded relative to this Monday 00:00 UTC ...
ANCHOR = datetime(2025, 3, 3, tzinfo=UTC)
#: ... and the store's clock is frozen at 09:00 that day.
NOW = ANCHOR + timedelta(hours=9)
BACKENDS = ["sqlite", "postgresql"]
PG_MISSING = "PostgreSQL not installed: apt-get install postgresql (or set SHOP_TEST_POSTGRES_URL)"


# ------------------------------------------------------------------------------------------ PostgreSQL


def _postgres_bindir() -> Path | None:
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not candidates:
        found = shutil.which("initdb")
        return Path(found).parent if found else None

    def version(path: str) -> float:
        try:
            return float(Path(path).parts[-3])
        except ValueError:
            return 0.0

    return Path(max(candidates, key=version)).parent


@dataclass
class _Cluster:
    """A throwaway PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only."""

    bindir: Path
    base: Path
    port: int
    as_postgres: bool

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.base / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}{tail}")

    def start(self) -> None:
        data = self.base / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server on its data (again, after :meth:`pause`)."""
        data = self.base / "data"
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.base / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def pause(self) -> None:
        """Stop the server, cutting every connection, and keep its data for :meth:`resume`.

        A fast shutdown, not an immediate one: this cluster runs with ``synchronous_commit=off``, so a crash would
        also take the last commits away, which is not what an outage test of the clients wants.
        """
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            if (self.base / "data" / "postmaster.pid").exists():  # not after a pause() that was not resumed
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@contextmanager
def throwaway_cluster() -> Iterator[_Cluster]:
    """A started local PostgreSQL cluster of its own (skips without PostgreSQL), removed afterwards."""
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.skip(PG_MISSING)
    as_postgres = os.geteuid() == 0
    # Not under pytest's tmp dir: its parents are 0700 root and the postgres user could not enter them.
    base = Path(tempfile.mkdtemp(prefix="shop-test-pg-"))
    if as_postgres:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    os.chmod(base, 0o700)
    cluster = _Cluster(bindir=bindir, base=base, port=free_port(), as_postgres=as_postgres)
    try:
        cluster.start()
    except Exception:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server: ``SHOP_TEST_POSTGRES_URL`` or a throwaway local cluster; else skip."""
    configured = os.environ.get("SHOP_TEST_POSTGRES_URL", "").strip()
    if configured:
        yield Settings.from_env({"SHOP_DATABASE_URL": configured}).database_url
        return
    with throwaway_cluster() as cluster:
        yield cluster.url


# ------------------------------------------------------------------------------------------ databases


@dataclass
class Database:
    """A fresh database (SQLite file or PostgreSQL schema) and how to throw it away."""

    backend: str
    engine: Engine
    dispose: Callable[[], None]


def new_database(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Database:
    """Create an empty database for ``backend`` (``sqlite`` or ``postgresql``).

    Args:
        backend: Which backend.
        request: The requesting fixture's request (to reach ``postgres_url``).
        tmp_path_factory: pytest's temp dirs (SQLite files live there).

    Returns:
        The database; call ``dispose`` when done.
    """
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("store-sqlite") / "shop.db"
        engine = make_engine(f"sqlite:///{path}")
        return Database(backend, engine, engine.dispose)
    url = request.getfixturevalue("postgres_url")
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))  # generated identifier, not user input
    engine = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})

    def dispose() -> None:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return Database(backend, engine, dispose)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each store test runs once per backend."""
    return str(request.param)


@pytest.fixture(scope="session")
def seeded_engine(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database holding the demo shop (seed 42, `ANCHOR`), shared by the session."""
    database = new_database(backend, request, tmp_path_factory)
    try:
        upgrade(database.engine)
        with Session(database.engine) as session:
            seed(session, seed=42, anchor=ANCHOR)
            session.commit()
        yield database.engine
    finally:
        database.dispose()


@pytest.fixture
def empty_database(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A brand-new, unmigrated database."""
    database = new_database(backend, request, tmp_path_factory)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def session_factory(seeded_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions inside one outer transaction that is rolled back after the test (commits become savepoints)."""
    connection = seeded_engine.connect()
    outer = connection.begin()
    try:
        yield sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> OrderStore:
    """An `OrderStore` on the seeded database with the clock frozen at `NOW`."""
    return OrderStore(session_factory, now=lambda: NOW)


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for looking at rows directly (sees what the store committed in this test)."""
    session = session_factory()
    try:
        yield session
    finally:
        session.close()


# ------------------------------------------------------------------------------------------ helpers


def find_order(db: Session, predicate: Callable[[m.Order], bool] | None = None, **where: str) -> m.Order:
    """Return the first order (by number) with the given column values that satisfies ``predicate``.

    Args:
        db: Session.
        predicate: Extra condition in Python.
        **where: Column equality filters, e.g. ``status="placed"``.

    Returns:
        The order (fails the test when none matches).
    """
    stmt = select(m.Order).order_by(m.Order.number)
    for column, value in where.items():
        stmt = stmt.where(getattr(m.Order, column) == value)
    for order in db.execute(stmt).scalars():
        if predicate is None or predicate(order):
            return order
    raise AssertionError(f"no seeded order matches {where} and the predicate")


def grant(store: OrderStore, db: Session, order_number: str, conversation_id: str | None = None) -> str:
    """Verify ``order_number`` with its customer's e-mail and return the conversation id.

    Args:
        store: The store.
        db: Session to read the e-mail with.
        order_number: Canonical order number.
        conversation_id: Conversation to use (a new one when None).

    Returns:
        The conversation id now holding the grant.
    """
    conversation = conversation_id or f"conv-{uuid.uuid4().hex[:8]}"
    email = db.execute(
        select(m.Customer.email)
        .join(m.Order, m.Order.customer_id == m.Customer.id)
        .where(m.Order.number == order_number)
    ).scalar_one()
    store.verify(conversation, order_number, email)
    return conversation


@pytest.fixture
def anchor() -> datetime:
    """The date the test shop was seeded around (`ANCHOR`)."""
    return ANCHOR


@pytest.fixture
def now() -> datetime:
    """The store's frozen clock (`NOW`)."""
    return NOW


@pytest.fixture(name="find_order")
def find_order_fixture(db: Session) -> Callable[..., m.Order]:
    """`find_order` bound to the test's session."""

    def finder(predicate: Callable[[m.Order], bool] | None = None, **where: str) -> m.Order:
        return find_order(db, predicate, **where)

    return finder


@pytest.fixture(name="grant")
def grant_fixture(store: OrderStore, db: Session) -> Callable[..., str]:
    """`grant` bound to the test's store and session: ``grant("ORD-100123") -> conversation id``."""

    def granter(order_number: str, conversation_id: str | None = None) -> str:
        return grant(store, db, order_number, conversation_id)

    return granter
