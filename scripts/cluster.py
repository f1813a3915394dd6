"""`make run-cluster`: replicas of rasa, the action server and the gateway behind HAProxy, on PostgreSQL and Redis.

Everything runs on this machine from Debian's packages, in one folder (default ``var/cluster``), on loopback ports:

    customers ──▶ HAProxy :8080 ──▶ gateway ×N ──▶ HAProxy (rasa) ──▶ rasa ×N ──▶ HAProxy (actions) ──▶ actions ×N
                                       │                                 │                                  │
                                       └── Redis (rate limits, fan-out, dedupe) · Redis (rasa's lock store) ─┘
                                       └──────────── PostgreSQL: gateway db · tracker store · order store ───┘

``python -m scripts.cluster --replicas 2`` starts it and waits for Ctrl-C (``make run-cluster REPLICAS=2``); the
benches and tests use :class:`Cluster` directly. The shop is seeded once (``python -m store setup``) and kept in
the folder's PostgreSQL, like the tracker and the gateway's state; ``--fresh`` starts from an empty folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from scripts.services import HAProxy, PostgresServer, RedisServer, ServiceError
from scripts.stack import (
    RASA_STORE_DEFAULTS,
    ROOT,
    SECRETS,
    SERVICE_SECRETS,
    Service,
    StackError,
    _url_ok,
    free_port,
    read_or_create_token,
    secure_dir,
)

VENV = ROOT / ".venv" / "bin"
VENV_RASA = ROOT / ".venv-rasa" / "bin"
MODEL = ROOT / "models" / "current.tar.gz"
KINDS = ("actions", "rasa", "gateway")
#: Seconds a conversation's lock lives in Redis: a rasa replica killed mid-turn holds it at most this long.
TICKET_LOCK_LIFETIME = 20


@dataclass
class ClusterConfig:
    """How many replicas of each process, where the cluster keeps its data, and the balancer's public port.

    Attributes:
        folder: PostgreSQL's and Redis's data, HAProxy's configuration, logs, recommender artifacts.
        replicas: replicas of each process, or ``{"rasa": 2, ...}`` per kind.
        public_port: where customers reach the gateways (HAProxy).
        extra_env: settings for every process (rate limits, channel tokens...).
    """

    folder: Path
    replicas: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 2))
    public_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    model: Path = MODEL
    #: The stack's shared secrets by name (scripts.stack.SECRETS); each replica gets only its own (SERVICE_SECRETS).
    secrets: dict[str, str] = field(default_factory=lambda: {name: secrets.token_urlsafe(32) for name in SECRETS})

    @property
    def token(self) -> str:
        """The gateway's bearer token for rasa's gateway channel."""
        return self.secrets["GATEWAY_TOKEN"]

    @property
    def api_token(self) -> str:
        """rasa's HTTP API token (``?token=``)."""
        return self.secrets["RASA_API_TOKEN"]

    def count(self, kind: str) -> int:
        """Replicas of ``kind`` (at least one)."""
        return max(1, int(self.replicas.get(kind, 1)))


@dataclass
class Replica:
    """One started process of the cluster."""

    kind: str
    index: int
    port: int
    service: Service | None = None

    @property
    def name(self) -> str:
        """``rasa-1``, ``gateway-2``..."""
        return f"{self.kind}-{self.index}"

    @property
    def url(self) -> str:
        """Its own base URL (bypassing the balancer)."""
        return f"http://127.0.0.1:{self.port}"


HEALTH = {"actions": "/health", "rasa": "/", "gateway": "/healthz"}


class Cluster:
    """PostgreSQL, Redis, HAProxy and the replicas; started in dependency order, stopped together."""

    def __init__(self, config: ClusterConfig) -> None:
        """Allocate ports; nothing starts until :meth:`start`."""
        self.config = config
        folder = config.folder
        self.postgres = PostgresServer(folder / "postgres")
        self.redis = RedisServer(folder / "redis")
        self.public_port = config.public_port or free_port()
        self.lb_ports = {"rasa": free_port(), "actions": free_port(), "stats": free_port()}
        self.replicas = [Replica(kind, i + 1, free_port()) for kind in KINDS for i in range(config.count(kind))]
        self.haproxy: HAProxy | None = None
        self.urls: dict[str, str] = {}
        self._logs: list[IO[bytes]] = []

    # ------------------------------------------------------------------------------------------- addresses

    @property
    def gateway_url(self) -> str:
        """Where customers go: the balancer in front of the gateways."""
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def rasa_url(self) -> str:
        """The balancer in front of the rasa replicas."""
        return f"http://127.0.0.1:{self.lb_ports['rasa']}"

    @property
    def actions_url(self) -> str:
        """The balancer in front of the action servers."""
        return f"http://127.0.0.1:{self.lb_ports['actions']}"

    @property
    def stats_url(self) -> str:
        """HAProxy's statistics page (``/stats``) and Prometheus metrics (``/metrics``)."""
        return f"http://127.0.0.1:{self.lb_ports['stats']}"

    def of(self, kind: str) -> list[Replica]:
        """The replicas of one kind."""
        return [r for r in self.replicas if r.kind == kind]

    # ------------------------------------------------------------------------------------------- config

    def haproxy_config(self) -> str:
        """HAProxy's configuration: one frontend per kind, health-checked backends, Prometheus on the stats port."""

        def backend(kind: str, check: str, balance: str) -> str:
            # rasa and the action server answer one request at a time per process: a few in flight each, the
            # rest wait in HAProxy's queue in arrival order instead of all slowing down together inside one process
            limit = {"rasa": " maxconn 4", "actions": " maxconn 8"}.get(kind, "")
            servers = "\n".join(
                f"    server {r.name} 127.0.0.1:{r.port} check{limit}" for r in self.of(kind)
            )
            return (
                f"backend {kind}\n    balance {balance}\n    option httpchk GET {check}\n"
                f"    http-check expect status 200\n{servers}\n"
            )

        return f"""# written by scripts/cluster.py; HAProxy {self.config.folder}
global
    maxconn 8192

defaults
    mode http
    timeout connect 2s
    timeout client 150s
    timeout server 150s
    timeout tunnel 1h
    timeout http-keep-alive 10s
    # overload makes answers slow, not lost: a request waits in the queue up to this long
    timeout queue 110s
    # a replica busy with turns answers its health check late: give it time before taking it out
    timeout check 10s
    default-server inter 2s fastinter 1s downinter 1s fall 5 rise 2
    # a request that could not be sent to a replica (refused, reset before sending) goes to another one;
    # a request a replica may have started is never sent twice
    retries 3
    option redispatch
    retry-on conn-failure empty-response

frontend public
    bind 127.0.0.1:{self.public_port}
    option forwardfor
    unique-id-format %{{+X}}o%[rand(4294967295),hex]%[date(),hex]
    http-request set-header X-Request-ID %[unique-id] unless {{ req.hdr(X-Request-ID) -m found }}
    # metrics are for the operator's scraper, not for customers
    http-request deny deny_status 404 if {{ path_beg /metrics }}
    default_backend gateway

frontend rasa_lb
    bind 127.0.0.1:{self.lb_ports["rasa"]}
    default_backend rasa

frontend actions_lb
    bind 127.0.0.1:{self.lb_ports["actions"]}
    default_backend actions

frontend stats
    bind 127.0.0.1:{self.lb_ports["stats"]}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
    stats refresh 5s

{backend("gateway", HEALTH["gateway"], "roundrobin")}
{backend("rasa", HEALTH["rasa"], "leastconn")}
{backend("actions", HEALTH["actions"], "leastconn")}
"""

    def env(self, kind: str, replica: Replica) -> dict[str, str]:
        """The environment of one replica."""
        folder = self.config.folder
        env = dict(os.environ)
        for name, value in RASA_STORE_DEFAULTS.items():
            env.setdefault(name, value)
        env.update(
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            RASA_TELEMETRY_ENABLED="false",
            SANIC_HOST="127.0.0.1",
            SHOP_DATABASE_URL=self.urls["shop"],
            GATEWAY_DATABASE_URL=self.urls["gateway"],
            TRACKER_DB_URL=self.urls["tracker_rasa"] if kind == "rasa" else self.urls["tracker"],
            TRACKER_DIALECT="postgresql",
            ACTION_ENDPOINT_URL=f"{self.actions_url}/webhook",
            RASA_URL=self.rasa_url,
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(replica.port),
            GATEWAY_REDIS_URL=f"{self.redis.url}/2",
            # HAProxy on loopback forwards the customer's address; nobody else is believed (connectors/source.py)
            GATEWAY_TRUSTED_PROXIES="127.0.0.1",
            LOCK_STORE_TYPE="bot.lock_store.RetryingRedisLockStore",
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(self.redis.port),
            REDIS_LOCK_DB="1",
            TICKET_LOCK_LIFETIME=str(TICKET_LOCK_LIFETIME),
            # a message whose rasa replica died is sent again (another replica answers; rasa replays a resend)
            RASA_RETRY_SECONDS="25",
            # under overload a turn waits in the balancer's queue: slow is allowed, lost is not
            RASA_TIMEOUT="120",
            RECOMMENDER_ARTIFACTS=str(folder / "recommender"),
            REPLICA=replica.name,
        )
        env.update(self.config.extra_env)
        for name in SECRETS:
            env.pop(name, None)
        env.update({name: self.config.secrets[name] for name in SERVICE_SECRETS[kind]})
        return env

    def argv(self, replica: Replica) -> list[str]:
        """The command line of one replica."""
        if replica.kind == "actions":
            # the guarded entry: rasa's token on every call, JSON only, a failing action answered with an apology
            return [str(VENV / "python"), "-m", "actions.server", "--port", str(replica.port)]
        if replica.kind == "rasa":
            return [
                # the log sanitizer first, then rasa run with its API token from RASA_API_TOKEN (scripts.stack)
                str(VENV_RASA / "python"),
                "-m",
                "logsafe.run",
                "scripts.rasa_server",
                "run",
                "--model",
                str(self.config.model),
                "--enable-api",
                "--interface",
                "127.0.0.1",
                "--port",
                str(replica.port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
            ]
        return [str(VENV / "python"), "-m", "gateway"]

    # ------------------------------------------------------------------------------------------- lifecycle

    def start(self, *, timeout: float = 300.0, progress: IO[str] | None = None) -> Cluster:
        """Start PostgreSQL, Redis, seed the shop, start HAProxy and every replica; wait until all answer.

        Raises:
            StackError: a server or replica did not start (everything started is stopped again).
        """
        if not self.config.model.exists():
            raise StackError(f"no trained model at {self.config.model}: run `make model` first")
        say = (lambda text: print(text, file=progress, flush=True)) if progress else (lambda text: None)
        try:
            say(
                f"    PostgreSQL (port {self.postgres.port}) and Redis (port {self.redis.port}) in {self.config.folder}"
            )
            self.postgres.start()
            self.redis.start()
            for name in ("shop", "tracker", "gateway"):
                self.urls[name] = self.postgres.create_database(name)
            self.urls["tracker_rasa"] = self.postgres.url("tracker", driver="psycopg2")
            self._prepare_shop(say)
            self.haproxy = HAProxy(self.config.folder / "haproxy", self.haproxy_config())
            self.haproxy.start([self.public_port, *self.lb_ports.values()])
            say(f"    HAProxy: customers {self.gateway_url}, statistics {self.stats_url}/stats")
            for kind in KINDS:
                for replica in self.of(kind):
                    self.spawn(replica)
            self.wait(self.replicas, timeout, say)
        except (ServiceError, StackError, OSError, subprocess.SubprocessError) as error:
            self.stop()
            raise StackError(str(error)) from error
        return self

    def _prepare_shop(self, say: object) -> None:
        env = {"SHOP_DATABASE_URL": self.urls["shop"], "PATH": "/usr/bin:/bin"}
        done = subprocess.run(
            [str(VENV / "python"), "-m", "store", "setup"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise StackError(f"python -m store setup failed:\n{done.stdout}{done.stderr}")
        artifacts = self.config.folder / "recommender"
        if not (artifacts / "manifest.json").exists():
            if callable(say):
                say("    training the recommender from the shop (about 30 s)")
            done = subprocess.run(
                [
                    str(VENV / "python"),
                    "-m",
                    "recommender",
                    "train",
                    "--from-store",
                    "--out",
                    str(artifacts),
                    "--quiet",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise StackError(f"python -m recommender train failed:\n{done.stdout}{done.stderr}")

    def spawn(self, replica: Replica) -> Service:
        """Start (or restart) one replica; its output goes to ``logs/<name>.log`` (appended)."""
        logs = self.config.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"{replica.name}.log"
        log = open(path, "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        process = subprocess.Popen(
            self.argv(replica),
            cwd=ROOT,
            env=self.env(replica.kind, replica),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        replica.service = Service(replica.name, process, path, log, replica.url + HEALTH[replica.kind])
        return replica.service

    def wait(self, replicas: list[Replica], timeout: float, say: object = None) -> None:
        """Wait until each of ``replicas`` answers its health check.

        Raises:
            StackError: one exited or did not answer in time.
        """
        deadline = time.monotonic() + timeout
        pending = list(replicas)
        while pending:
            for replica in list(pending):
                service = replica.service
                assert service is not None
                if service.process.poll() is not None:
                    raise StackError(
                        f"{replica.name} exited with code {service.process.returncode}; its log:\n{service.tail()}"
                    )
                if _url_ok(service.ready_url):
                    pending.remove(replica)
                    if callable(say):
                        say(f"    {replica.name} is up ({replica.url})")
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {r.name}:\n{r.service.tail() if r.service else ''}" for r in pending)
                raise StackError(f"{', '.join(r.name for r in pending)} did not answer within {timeout:.0f} s\n{tails}")
            time.sleep(0.5)

    def kill(self, replica: Replica) -> None:
        """SIGKILL a replica's whole process group, as a crash of its machine or container would."""
        if replica.service is not None and replica.service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(replica.service.process.pid, signal.SIGKILL)
            replica.service.process.wait()

    def dead(self) -> list[Replica]:
        """Replicas whose process has exited."""
        return [r for r in self.replicas if r.service is not None and r.service.process.poll() is not None]

    def stop(self) -> None:
        """Stop the replicas, HAProxy, Redis and PostgreSQL (the data stays in the folder).

        Each replica's group gets SIGTERM, up to 15 s to finish its calls, then SIGKILL for whatever of the group is
        left, even when its leader exited on time: a child it left behind would otherwise outlive the cluster.
        """
        for replica in reversed(self.replicas):
            service = replica.service
            if service is not None and service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for replica in self.replicas:
            service = replica.service
            if service is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
        if self.haproxy is not None:
            self.haproxy.stop()
        self.redis.stop()
        self.postgres.stop()
        for log in self._logs:
            with contextlib.suppress(OSError):
                log.close()
        self._logs.clear()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, print where to go, wait for Ctrl-C or a crash."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2, help="replicas of each process (default 2)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLUSTER_PORT", 8080)), help="public port")
    parser.add_argument("--folder", type=Path, default=ROOT / "var" / "cluster", help="data, logs, configuration")
    parser.add_argument("--fresh", action="store_true", help="delete the folder first (a new shop, no history)")
    args = parser.parse_args(argv)
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    if args.fresh:
        shutil.rmtree(args.folder, ignore_errors=True)
    config = ClusterConfig(args.folder, dict.fromkeys(KINDS, args.replicas), public_port=args.port)
    secure_dir(args.folder)
    config.secrets = {name: read_or_create_token(args.folder / name.lower()) for name in SECRETS}
    cluster = Cluster(config)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    print(
        f"==> Starting {args.replicas} replica(s) of the gateway, rasa and the action server (a minute or two)",
        flush=True,
    )
    try:
        cluster.start(progress=sys.stdout)
    except KeyboardInterrupt:
        cluster.stop()
        return 130
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        print(
            f"Fix the error above (logs in {args.folder / 'logs'}), then run `make run-cluster` again.", file=sys.stderr
        )
        return 1
    print(
        f"""
==> Ready.
    Demo shop with chat:       {cluster.gateway_url}/
    Load balancer statistics:  {cluster.stats_url}/stats   (Prometheus: {cluster.stats_url}/metrics)
    Gateway metrics:           {", ".join(r.url + "/metrics" for r in cluster.of("gateway"))}
    Action server metrics:     {", ".join(r.url + "/metrics" for r in cluster.of("actions"))}
    PostgreSQL:                {cluster.postgres.url()}   Redis: {cluster.redis.url}
    Logs:                      {args.folder / "logs"}/
Press Ctrl-C to stop everything.""",
        flush=True,
    )
    code = 0
    try:
        while not stopping:
            dead = cluster.dead()
            if dead:
                for replica in dead:
                    tail = replica.service.tail() if replica.service else ""
                    print(f"error: {replica.name} stopped unexpectedly; its log:\n{tail}", file=sys.stderr)
                code = 1
                break
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    print("\n==> Stopping the cluster", flush=True)
    cluster.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
