"""Starts and stops the three processes (rasa, action server, gateway); used by `make run` and the tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
#: The stack's shared secrets (each kept in var/ by `make run`, or taken from the environment).
SECRETS = (
    "GATEWAY_TOKEN",
    "RASA_API_TOKEN",
    "ACTION_SERVER_TOKEN",
    "GATEWAY_CLAIMS_SECRET",
    "SHOP_PROOF_KEY",
    "CONSOLE_SECRET",
)
#: Which secrets each process gets.
SERVICE_SECRETS: dict[str, tuple[str, ...]] = {
    "rasa": ("GATEWAY_TOKEN", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN"),
    "actions": ("ACTION_SERVER_TOKEN", "GATEWAY_CLAIMS_SECRET", "SHOP_PROOF_KEY"),
    "gateway": ("GATEWAY_TOKEN", "GATEWAY_CLAIMS_SECRET", "CONSOLE_SECRET"),
}


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on `host` right now (tests and benches start servers on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def read_or_create_token(path: Path) -> str:
    """A shared secret, created once per checkout in the gitignored `var/` (readable by its owner only)."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            path.chmod(0o600)
            return token
    secure_dir(path.parent)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    path.chmod(0o600)
    return token


def secure_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) for its owner only: databases, logs and secrets live there."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def secure_files(paths: list[Path]) -> None:
    """Make existing databases and logs owner-only (0600), as checkouts before this change left them 0644.

    SQLite gives its journal and WAL files the database file's mode, so they follow.
    """
    for path in paths:
        for candidate in (path, *path.parent.glob(path.name + "-*")):
            if candidate.is_file():
                candidate.chmod(0o600)


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :])


def _token(env_var: str, path: Path) -> str:
    return os.environ.get(env_var, "").strip() or read_or_create_token(path)


#: Tracker and lock store settings for endpoints.yml and thread limits, unless the environment says otherwise
#: (README "Production").
RASA_STORE_DEFAULTS = {
    "TRACKER_STORE_TYPE": "bot.tracker_store.CachedSQLTrackerStore",
    "TRACKER_CACHE_SIZE": "2000",
    "LOCK_STORE_TYPE": "in_memory",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_LOCK_DB": "1",
    # one BLAS/OpenMP thread per process: three processes share the cores, and idle worker threads spinning for
    # a 384x40 matrix product cost more than the product (rasa's intent scores took 8 ms instead of 0.2 under load)
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass
class StackConfig:
    """Where each process listens and which databases and model it uses."""

    shop_db_url: str
    tracker_db_url: str
    token: str
    log_dir: Path
    #: rasa's HTTP API token (``?token=``): benches and tests pass it; see scripts/rasa_server.py.
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: The secret rasa sends the action server (endpoints.yml ``action_endpoint.token``).
    action_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: Signs the gateway's claims for the action server (connectors/claims.py); rasa never gets it.
    claims_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: Keys the hashes failed proofs are counted under per proof value (store/proofs.py); the action server only.
    proof_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    #: Keys the fingerprints console staff see in place of sources (console/checks.py); the gateway only.
    console_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    gateway_db_url: str = f"sqlite:///{ROOT / 'var' / 'gateway.db'}"
    model: Path = ROOT / "models" / "current.tar.gz"
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    gateway_port: int = 8000
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls) -> StackConfig:
        """The embedded default: SQLite files under var/, standard ports (overridable by environment)."""
        var = ROOT / "var"
        return cls(
            shop_db_url=os.environ.get("SHOP_DATABASE_URL", f"sqlite:///{var / 'shop.db'}"),
            tracker_db_url=os.environ.get("TRACKER_DB_URL", f"sqlite:///{var / 'tracker.db'}"),
            gateway_db_url=os.environ.get("GATEWAY_DATABASE_URL", f"sqlite:///{var / 'gateway.db'}"),
            token=_token("GATEWAY_TOKEN", var / "gateway_token"),
            api_token=_token("RASA_API_TOKEN", var / "rasa_api_token"),
            action_token=_token("ACTION_SERVER_TOKEN", var / "action_server_token"),
            claims_secret=_token("GATEWAY_CLAIMS_SECRET", var / "claims_secret"),
            proof_key=_token("SHOP_PROOF_KEY", var / "proof_key"),
            console_secret=_token("CONSOLE_SECRET", var / "console_secret"),
            log_dir=var / "log",
            rasa_port=int(os.environ.get("RASA_PORT", 5005)),
            actions_port=int(os.environ.get("ACTIONS_PORT", 5055)),
            gateway_port=int(os.environ.get("GATEWAY_PORT", 8000)),
        )

    @property
    def rasa_url(self) -> str:
        """Base URL of the rasa server."""
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server."""
        return f"http://{self.host}:{self.actions_port}"

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway (the chat page is at /)."""
        return f"http://{self.host}:{self.gateway_port}"

    def env(self, service: str | None = None) -> dict[str, str]:
        """Environment of one process (``rasa``, ``actions``, ``gateway``), or everything shared when None.

        Each secret goes only where it is used: rasa gets the gateway token, its API token and the action
        token it sends; the action server its token and the claims secret; the gateway its token and the
        claims secret. Rasa never sees the claims secret, so nothing that controls rasa can forge a claim.
        """
        env = dict(os.environ)
        for name in SECRETS:
            env.pop(name, None)
        env.update(
            SHOP_DATABASE_URL=self.shop_db_url,
            TRACKER_DB_URL=self.tracker_db_url,
            GATEWAY_DATABASE_URL=self.gateway_db_url,
            TRACKER_DIALECT=self.tracker_db_url.split(":", 1)[0].split("+", 1)[0],
            ACTION_ENDPOINT_URL=f"{self.actions_url}/webhook",
            ACTIONS_HOST=self.host,
            RASA_URL=self.rasa_url,
            GATEWAY_HOST=self.host,
            GATEWAY_PORT=str(self.gateway_port),
            SANIC_HOST=self.host,
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            RASA_TELEMETRY_ENABLED="false",
        )
        secrets_of = {
            "GATEWAY_TOKEN": self.token,
            "RASA_API_TOKEN": self.api_token,
            "ACTION_SERVER_TOKEN": self.action_token,
            "GATEWAY_CLAIMS_SECRET": self.claims_secret,
            "SHOP_PROOF_KEY": self.proof_key,
            "CONSOLE_SECRET": self.console_secret,
        }
        wanted = SERVICE_SECRETS.get(service, tuple(secrets_of)) if service else tuple(secrets_of)
        env.update({name: secrets_of[name] for name in wanted})
        for name, value in RASA_STORE_DEFAULTS.items():  # endpoints.yml needs every variable it names
            env.setdefault(name, value)
        env.update(self.extra_env)
        return env


@dataclass
class Service:
    """One started process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    ready_url: str

    def tail(self, lines: int = 30) -> str:
        """The last lines of its log, to show why it failed."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class StackError(RuntimeError):
    """A process failed to start or died; the message says which and shows its log."""


def _url_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback only)
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError):
        return False


def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group ``pgid`` (each service is started as its own session).

    Linux keeps a pid from being reused while a group still carries it as its id, so a group with members
    left is still this service's; an empty one raises ProcessLookupError.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Stack:
    """The three processes, started in dependency order and stopped together."""

    def __init__(self, config: StackConfig) -> None:
        """Remember the configuration; nothing starts until `start()`."""
        self.config = config
        self.services: list[Service] = []

    def _spawn(self, name: str, argv: list[str], ready_url: str) -> Service:
        secure_dir(self.config.log_dir)
        log_path = self.config.log_dir / f"{name}.log"
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        log_file = os.fdopen(fd, "wb")  # closed in stop()
        process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.config.env(name),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,  # databases and files the processes create are their owner's only
        )
        service = Service(name, process, log_path, log_file, ready_url)
        self.services.append(service)
        return service

    def start(self, *, timeout: float = 180.0, progress: IO[str] | None = None) -> Stack:
        """Start actions, rasa and the gateway and wait until each answers.

        Raises:
            StackError: a process exited or did not answer within `timeout` seconds.
        """
        cfg = self.config
        if not cfg.model.exists():
            raise StackError(f"no trained model at {cfg.model}: run `make model` first")
        databases = [p for p in map(_sqlite_path, (cfg.shop_db_url, cfg.tracker_db_url, cfg.gateway_db_url)) if p]
        secure_files([*databases, *cfg.log_dir.glob("*.log")])
        venv, venv_rasa = ROOT / ".venv" / "bin", ROOT / ".venv-rasa" / "bin"
        self._spawn(
            "actions",
            [str(venv / "python"), "-m", "actions.server", "--port", str(cfg.actions_port)],
            f"{cfg.actions_url}/health",
        )
        self._spawn(
            "rasa",
            [
                # logsafe.run installs the log sanitizer before rasa configures logging (logsafe/__init__.py);
                # scripts.rasa_server is rasa run with its API token read from RASA_API_TOKEN, not the command line
                str(venv_rasa / "python"),
                "-m",
                "logsafe.run",
                "scripts.rasa_server",
                "run",
                "--model",
                str(cfg.model),
                "--enable-api",
                "--interface",
                cfg.host,
                "--port",
                str(cfg.rasa_port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
            ],
            f"{cfg.rasa_url}/",
        )
        self._spawn("gateway", [str(venv / "python"), "-m", "gateway"], f"{cfg.gateway_url}/healthz")
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                if service.process.poll() is not None:
                    self.stop()
                    raise StackError(
                        f"{service.name} exited with code {service.process.returncode}; "
                        f"its log ({service.log_path}):\n{service.tail()}"
                    )
                if _url_ok(service.ready_url):
                    pending.remove(service)
                    if progress:
                        print(f"    {service.name} is up ({service.ready_url})", file=progress, flush=True)
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                tails = "\n".join(f"--- {s.name}:\n{s.tail()}" for s in pending)
                self.stop()
                raise StackError(f"{names} did not answer within {timeout:.0f} s\n{tails}")
            time.sleep(0.5)
        return self

    def dead(self) -> list[Service]:
        """Services whose process has exited."""
        return [s for s in self.services if s.process.poll() is not None]

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM each process, then SIGKILL what is left of each process group; back within about `grace` s.

        Only the leader gets SIGTERM, so a process with children stops them in order (the action server's old Sanic
        manager crashed with a BrokenPipeError when its worker got SIGTERM beside it; it is one process now,
        actions/server.py). Whatever remains of a group once its leader is gone or past `grace` (a worker left
        behind, a leader stuck under load) is SIGKILLed: nothing the stack started outlives `stop()`.
        """
        for service in self.services:
            if service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in self.services:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for service in self.services:
            _kill_group(service.process.pid)
            service.process.wait()
            service.log_file.close()
        self.services.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `make run` (python -m scripts.run)")
