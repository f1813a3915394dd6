"""Debian's PostgreSQL, Redis and HAProxy started in a folder on free loopback ports; for the cluster, tests, benches.

Each server runs as a child of the caller (its own process group), keeps its data and log in the folder it is
given, and is stopped (SIGTERM, then SIGKILL) by ``stop()``. Nothing here touches the system's own services.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.stack import free_port


class ServiceError(RuntimeError):
    """A server is not installed, did not start, or died; the message says which and what to do."""


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"{what} exited with code {process.returncode}; its log ({log}):\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ServiceError(f"{what} did not listen on port {port} within {timeout:.0f} s; its log ({log}):\n{_tail(log)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ----------------------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    """``redis-server`` on a free port, its data in ``folder`` (append-only file, so a restart keeps the keys)."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT``."""
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RedisServer:
        """Start the server and wait until it accepts connections.

        Raises:
            ServiceError: redis-server is missing or did not start.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not installed: apt-get install redis-server")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "redis.log"
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(log),
            "--protected-mode",
            "yes",
        ]
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait_for_port(self.port, self.process, "redis-server", log, timeout)
        return self

    def stop(self) -> None:
        """Stop the server (its files stay in the folder)."""
        _stop(self.process)

    def kill(self) -> None:
        """SIGKILL, as a crash would (the append-only file keeps what was written)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


# ----------------------------------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path | None:
    """Debian's newest PostgreSQL binaries (``/usr/lib/postgresql/N/bin``), or the ``initdb`` on PATH."""
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
class PostgresServer:
    """A PostgreSQL cluster of its own in ``folder`` on a free port, trust auth on 127.0.0.1 only.

    As root, the cluster belongs to the ``postgres`` user (PostgreSQL refuses to run as root).
    """

    folder: Path
    port: int = field(default_factory=free_port)
    durable: bool = True

    def _as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str, timeout: float = 120.0) -> None:
        done = subprocess.run([*self._as_owner(), *argv], capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise ServiceError(
                f"{' '.join(argv)} failed: {done.stdout}{done.stderr}{_tail(self.folder / 'postgres.log')}"
            )

    @property
    def bindir(self) -> Path:
        """Where initdb and pg_ctl are."""
        found = postgres_bindir()
        if found is None:
            raise ServiceError("PostgreSQL is not installed: apt-get install postgresql")
        return found

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        """A SQLAlchemy URL (``psycopg`` for Python 3.11, ``psycopg2`` for rasa's environment)."""
        scheme = "postgresql" if driver == "psycopg2" else f"postgresql+{driver}"
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Create the cluster if the folder has none, then start it and wait until it accepts connections.

        Raises:
            ServiceError: PostgreSQL is missing or did not start.
        """
        bindir = self.bindir
        data = self.folder / "data"
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            # the postgres user must be able to pass through the folders above (a mkdtemp folder is 0700)
            for parent in self.folder.resolve().parents:
                mode = parent.stat().st_mode
                if mode & 0o001:
                    break
                os.chmod(parent, mode | 0o001)
        os.chmod(self.folder, 0o700)
        if not (data / "PG_VERSION").exists():
            self._run(
                str(bindir / "initdb"),
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
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
        if not self.durable:  # tests: nothing to keep after a crash
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.folder / "postgres.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(int(timeout)),
            "start",
            timeout=timeout + 10,
        )
        _wait_for_port(self.port, None, "postgres", self.folder / "postgres.log", timeout)
        return self

    def create_database(self, name: str) -> str:
        """Create database ``name`` (a plain identifier) if missing; return its psycopg URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain database name: {name!r}")
        from sqlalchemy import create_engine, text

        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
                if not exists:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))  # checked plain identifier
        finally:
            admin.dispose()
        return self.url(name)

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (``fast``: clean; ``immediate``: as a crash would)."""
        with contextlib.suppress(ServiceError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w", "stop")

    def restart(self, timeout: float = 60.0) -> None:
        """Stop as a crash would, then start again on the same port (the data stays)."""
        self.stop("immediate")
        self.start(timeout)


# ----------------------------------------------------------------------------------------- HAProxy


@dataclass
class HAProxy:
    """``haproxy`` in the foreground with a configuration file written in ``folder``."""

    folder: Path
    config: str
    process: subprocess.Popen[bytes] | None = None

    def start(self, ports: list[int], timeout: float = 20.0) -> HAProxy:
        """Check the configuration, start HAProxy and wait until it listens on every port in ``ports``.

        Raises:
            ServiceError: haproxy is missing, the configuration is refused, or it did not start.
        """
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(binary).exists():
            raise ServiceError("haproxy is not installed: apt-get install haproxy")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "haproxy.cfg"
        path.write_text(self.config)
        check = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise ServiceError(f"haproxy refused {path}:\n{check.stdout}{check.stderr}")
        log = self.folder / "haproxy.log"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(path)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        for port in ports:
            _wait_for_port(port, self.process, "haproxy", log, timeout)
        return self

    def stop(self) -> None:
        """Stop HAProxy."""
        _stop(self.process, grace=5.0)
