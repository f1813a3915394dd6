"""Typed gateway settings, read once from the environment by connectors.app.main (tests build their own)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from connectors.admission import AdmissionSettings
from connectors.errors import SettingsError
from connectors.origins import public_urls_from_env

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOKEN_FILE = Path("var/gateway_token")
DEFAULT_CLAIMS_SECRET_FILE = Path("var/claims_secret")
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_RASA_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the gateway process needs to know.

    Attributes:
        rasa_url: base URL of ``rasa run`` (no trailing slash).
        gateway_token: shared secret with rasa's ``gateway`` input channel (hidden from repr).
        host: address the gateway binds.
        port: port the gateway binds (0 picks a free one).
        max_message_chars: longest message a customer may send.
        rasa_timeout: seconds to wait for rasa to answer one message (actions included).
        health_timeout: seconds ``/healthz`` waits for rasa.
        allowed_origins: extra browser origins allowed to open the web WebSocket
            (the gateway's own origin is always allowed).
        database_url: SQLAlchemy URL of the gateway's own state (web transcripts, tablet
            devices, console accounts); ``GATEWAY_DATABASE_URL``, default ``var/gateway.db``.
        tracker_db_url: Rasa's SQL tracker store, read by the support console (``TRACKER_DB_URL``).
        shop_db_url: the order store (``SHOP_DATABASE_URL``).
        claims_secret: ``GATEWAY_CLAIMS_SECRET``, shared with the action server only; signs what the
            gateway vouches for about each message (``connectors.claims``). Hidden from repr.
        body_timeout: seconds a client has to send a request's whole body once its headers arrived
            (``GATEWAY_BODY_TIMEOUT_SECONDS``); a body that stalls is answered 408 and the connection closed.
        redis_url: Redis shared by several gateways (``GATEWAY_REDIS_URL``); empty for one gateway alone.
        rasa_retry_seconds: how long a message rasa could not be reached for is resent (``RASA_RETRY_SECONDS``,
            default 0: with one rasa there is nobody else to answer; the cluster sets 25).
        admission: the bounded queue toward rasa (``GATEWAY_MAX_IN_FLIGHT``, ``GATEWAY_MAX_WAITING``,
            ``GATEWAY_BUSY_WAIT_SECONDS``; ``connectors.admission``).
        public_urls: how browsers reach this gateway (``GATEWAY_PUBLIC_URL``, comma-separated, e.g.
            ``https://chat.shop.example``): its own origins, and the only ``Host`` names it answers besides
            loopback on its own port (``connectors.origins``).
    """

    gateway_token: str = field(repr=False)
    rasa_url: str = DEFAULT_RASA_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    rasa_timeout: float = DEFAULT_RASA_TIMEOUT
    health_timeout: float = 2.0
    allowed_origins: tuple[str, ...] = ()
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'gateway.db'}"
    tracker_db_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'tracker.db'}"
    shop_db_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'shop.db'}"
    claims_secret: str = field(default="", repr=False)
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    redis_url: str = field(default="", repr=False)
    rasa_retry_seconds: float = 0.0
    admission: AdmissionSettings = field(default_factory=AdmissionSettings)
    public_urls: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, root: Path = REPO_ROOT
    ) -> Settings:
        """Read settings from environment variables.

        Variables: ``RASA_URL``, ``GATEWAY_TOKEN`` (else the file ``GATEWAY_TOKEN_FILE``,
        default ``var/gateway_token``, relative paths from the repo root), ``GATEWAY_HOST``,
        ``GATEWAY_PORT``, ``GATEWAY_MAX_MESSAGE_CHARS``, ``RASA_TIMEOUT``,
        ``GATEWAY_ALLOWED_ORIGINS`` (comma-separated, e.g. ``https://shop.example``),
        ``GATEWAY_CLAIMS_SECRET`` (else the file ``GATEWAY_CLAIMS_SECRET_FILE``, default
        ``var/claims_secret``; without either, messages carry no claim and the actions vouch for nothing).
        ``GATEWAY_BODY_TIMEOUT_SECONDS``, ``GATEWAY_PUBLIC_URL`` and the admission variables above.

        Args:
            env: the environment (default ``os.environ``).
            root: directory relative token-file paths are resolved against.

        Returns:
            The settings.

        Raises:
            SettingsError: naming the variable that is missing or invalid.
        """
        env = os.environ if env is None else env
        rasa_url = env.get("RASA_URL", DEFAULT_RASA_URL).strip().rstrip("/")
        parts = urlsplit(rasa_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(f"RASA_URL must be an http(s) URL, got {rasa_url!r}")
        origins = tuple(
            o.strip().rstrip("/")
            for o in env.get("GATEWAY_ALLOWED_ORIGINS", "").split(",")
            if o.strip()
        )
        return cls(
            gateway_token=_read_token(env, root),
            rasa_url=rasa_url,
            host=env.get("GATEWAY_HOST", DEFAULT_HOST).strip() or DEFAULT_HOST,
            port=_int(env, "GATEWAY_PORT", DEFAULT_PORT, low=0, high=65535),
            max_message_chars=_int(
                env,
                "GATEWAY_MAX_MESSAGE_CHARS",
                DEFAULT_MAX_MESSAGE_CHARS,
                low=1,
                high=100_000,
            ),
            rasa_timeout=_float(env, "RASA_TIMEOUT", DEFAULT_RASA_TIMEOUT),
            allowed_origins=origins,
            database_url=_url(env, "GATEWAY_DATABASE_URL", root / "var" / "gateway.db"),
            tracker_db_url=_url(env, "TRACKER_DB_URL", root / "var" / "tracker.db"),
            shop_db_url=_url(env, "SHOP_DATABASE_URL", root / "var" / "shop.db"),
            claims_secret=_read_claims_secret(env, root),
            body_timeout=_float(env, "GATEWAY_BODY_TIMEOUT_SECONDS", DEFAULT_BODY_TIMEOUT),
            redis_url=_redis_url(env),
            rasa_retry_seconds=_retry_seconds(env),
            admission=AdmissionSettings.from_env(env),
            public_urls=public_urls_from_env(env),
        )


def _url(env: Mapping[str, str], name: str, default_file: Path) -> str:
    value = env.get(name, "").strip() or f"sqlite:///{default_file}"
    if "://" not in value:
        raise SettingsError(f"{name} must be a database URL such as sqlite:///var/x.db, got {value!r}")
    return value


def _retry_seconds(env: Mapping[str, str]) -> float:
    raw = env.get("RASA_RETRY_SECONDS", "").strip()
    return 0.0 if raw in ("", "0") else _float(env, "RASA_RETRY_SECONDS", 0.0)


def _redis_url(env: Mapping[str, str]) -> str:
    value = env.get("GATEWAY_REDIS_URL", "").strip()
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"GATEWAY_REDIS_URL must be a redis:// URL such as redis://127.0.0.1:6379/2, got {value!r}")
    return value


def _read_token(env: Mapping[str, str], root: Path) -> str:
    token = env.get("GATEWAY_TOKEN", "").strip()
    if token:
        return token
    path = Path(env.get("GATEWAY_TOKEN_FILE", "") or DEFAULT_TOKEN_FILE)
    if not path.is_absolute():
        path = root / path
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SettingsError(
            f"GATEWAY_TOKEN is not set and {path} does not exist: start everything with the run "
            "script (it creates the token file) or export GATEWAY_TOKEN (the same value rasa's "
            "gateway input channel uses)"
        ) from None
    except OSError as exc:
        raise SettingsError(
            f"cannot read the gateway token file {path}: {exc}"
        ) from exc
    if not token:
        raise SettingsError(f"the gateway token file {path} is empty")
    return token


def _read_claims_secret(env: Mapping[str, str], root: Path) -> str:
    secret = env.get("GATEWAY_CLAIMS_SECRET", "").strip()
    if secret:
        return secret
    path = Path(env.get("GATEWAY_CLAIMS_SECRET_FILE", "") or DEFAULT_CLAIMS_SECRET_FILE)
    if not path.is_absolute():
        path = root / path
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise SettingsError(f"cannot read the claims secret file {path}: {exc}") from exc


def _int(
    env: Mapping[str, str], name: str, default: int, *, low: int, high: int
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(
            f"{name} must be a number of seconds, got {raw!r}"
        ) from None
    if not 0 < value <= 600:
        raise SettingsError(f"{name} must be between 0 and 600 seconds, got {value}")
    return value
