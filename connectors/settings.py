"""Typed gateway settings, read once from the environment by gateway.app.main (tests build their own)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from connectors.admission import AdmissionSettings
from connectors.errors import SettingsError
from connectors.origins import public_urls_from_env
from envsettings import EnvSettings, HttpURL, InvalidSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOKEN_FILE = Path("var/gateway_token")
DEFAULT_CLAIMS_SECRET_FILE = Path("var/claims_secret")
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_RASA_TIMEOUT = 30.0
DEFAULT_BODY_TIMEOUT = 10.0


def _sqlite(root: Path, file: str) -> str:
    return f"sqlite:///{root / 'var' / file}"


class Settings(EnvSettings):
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

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    gateway_token: str = Field(repr=False, min_length=1, validation_alias="GATEWAY_TOKEN")
    rasa_url: HttpURL = Field(default=DEFAULT_RASA_URL, validation_alias="RASA_URL")
    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    max_message_chars: int = Field(default=DEFAULT_MAX_MESSAGE_CHARS, ge=1, le=100_000)
    rasa_timeout: float = Field(
        default=DEFAULT_RASA_TIMEOUT, gt=0, le=600, description="seconds", validation_alias="RASA_TIMEOUT"
    )
    health_timeout: float = Field(default=2.0, gt=0, le=600, description="seconds")
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    database_url: str = Field(default=_sqlite(REPO_ROOT, "gateway.db"), validation_alias="GATEWAY_DATABASE_URL")
    tracker_db_url: str = Field(default=_sqlite(REPO_ROOT, "tracker.db"), validation_alias="TRACKER_DB_URL")
    shop_db_url: str = Field(default=_sqlite(REPO_ROOT, "shop.db"), validation_alias="SHOP_DATABASE_URL")
    claims_secret: str = Field(default="", repr=False, validation_alias="GATEWAY_CLAIMS_SECRET")
    body_timeout: float = Field(
        default=DEFAULT_BODY_TIMEOUT,
        gt=0,
        le=600,
        description="seconds",
        validation_alias="GATEWAY_BODY_TIMEOUT_SECONDS",
    )
    redis_url: str = Field(default="", repr=False, validation_alias="GATEWAY_REDIS_URL")
    rasa_retry_seconds: float = Field(
        default=0.0, ge=0, le=600, description="seconds", validation_alias="RASA_RETRY_SECONDS"
    )
    # Groups read by their own modules (connectors.admission, connectors.origins) and passed in by from_env.
    admission: Annotated[AdmissionSettings, NoDecode] = Field(default_factory=lambda: AdmissionSettings())
    public_urls: Annotated[tuple[str, ...], NoDecode] = Field(default=(), validation_alias="GATEWAY_PUBLIC_URL")

    @field_validator("rasa_url", mode="before")
    @classmethod
    def _no_trailing_slash(cls, url: object) -> object:
        return url.strip().rstrip("/") if isinstance(url, str) else url

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, raw: object) -> object:
        if isinstance(raw, str):
            return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
        return raw

    @field_validator("database_url", "tracker_db_url", "shop_db_url")
    @classmethod
    def _database_url(cls, url: str) -> str:
        if "://" not in url:
            raise ValueError(f"must be a database URL such as sqlite:///var/x.db, got {url!r}")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, url: str) -> str:
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must be a redis:// URL such as redis://127.0.0.1:6379/2, got {url!r}")
        return url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path = REPO_ROOT) -> Settings:
        """Read settings from environment variables.

        Variables: ``RASA_URL``, ``GATEWAY_TOKEN`` (else the file ``GATEWAY_TOKEN_FILE``,
        default ``var/gateway_token``, relative paths from the repo root), ``GATEWAY_HOST``,
        ``GATEWAY_PORT``, ``GATEWAY_MAX_MESSAGE_CHARS``, ``RASA_TIMEOUT``,
        ``GATEWAY_ALLOWED_ORIGINS`` (comma-separated, e.g. ``https://shop.example``),
        ``GATEWAY_CLAIMS_SECRET`` (else the file ``GATEWAY_CLAIMS_SECRET_FILE``, default
        ``var/claims_secret``; without either, messages carry no claim and the actions vouch for nothing),
        ``GATEWAY_BODY_TIMEOUT_SECONDS``, ``GATEWAY_DATABASE_URL``, ``TRACKER_DB_URL``, ``SHOP_DATABASE_URL``,
        ``GATEWAY_REDIS_URL``, ``RASA_RETRY_SECONDS``, ``GATEWAY_PUBLIC_URL`` and the admission variables above.

        Args:
            env: the environment (default ``os.environ``).
            root: directory relative token-file paths and the default SQLite files are resolved against.

        Returns:
            The settings.

        Raises:
            SettingsError: naming the variable that is missing or invalid.
        """
        env = os.environ if env is None else env
        databases = {"database_url": "gateway.db", "tracker_db_url": "tracker.db", "shop_db_url": "shop.db"}
        # Unset database variables default to SQLite files under ``root`` (tests pass a temporary root).
        defaults = {
            name: _sqlite(root, file)
            for name, file in databases.items()
            if not env.get(cls.field_of(name)[0], "").strip()
        }
        settings: Settings = cls.read(
            env,
            **defaults,
            gateway_token=_read_token(env, root),
            claims_secret=_read_claims_secret(env, root),
            admission=AdmissionSettings.from_env(env),
            public_urls=public_urls_from_env(env),
        )
        return settings


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
