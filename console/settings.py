"""The console's own settings (sessions, sign-in limits, low-confidence threshold), read once from the environment."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import SettingsError
from connectors.source import Network, trusted_proxies_from_env
from envsettings import EnvSettings, InvalidSettings

log = logging.getLogger(__name__)

#: Read when ``CONSOLE_SECRET`` is unset (`make run` creates it, owner-only, like the stack's other secrets).
SECRET_FILE = Path(__file__).resolve().parent.parent / "var" / "console_secret"


class ConsoleSettings(EnvSettings):
    """How the console behaves.

    Attributes:
        session_idle_minutes: a session ends after this long without a request.
        session_max_hours: a session ends this long after sign-in, however active.
        login_free_failures: failed sign-ins of one account from one address before each further attempt
            must wait (1 s, then doubling); an address gets 4x that across accounts (console.auth.Auth.sign_in).
        login_max_delay_seconds: the longest such wait.
        login_forget_hours: failures older than this no longer count.
        low_confidence: default percentage below which a turn counts as low confidence.
        secure_cookie: mark the session cookie ``Secure`` (set when served over HTTPS).
        locale: the shop's locale (BCP 47), for dates and numbers on the page (``en-GB``: 28/11/2026).
        timezone: the shop's time zone (IANA), for times shown and for which day a conversation belongs to.
        trusted_proxies: ``GATEWAY_TRUSTED_PROXIES``, as the web channel reads it: whose ``X-Forwarded-For``
            names the client whose sign-in failures are counted.
        secret: ``CONSOLE_SECRET``: keys the fingerprints staff see in place of sources and proofs
            (console/checks.py), so nobody without it can turn one back into the address it stands for.
    """

    model_config = SettingsConfigDict(env_prefix="CONSOLE_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60, description="minutes")
    session_max_hours: int = Field(default=12, ge=1, le=24 * 7, description="hours")
    login_free_failures: int = Field(default=3, ge=1, le=100)
    login_max_delay_seconds: int = Field(default=900, ge=1, le=24 * 3600, description="seconds")
    login_forget_hours: int = Field(default=24, ge=1, le=24 * 30, description="hours")
    low_confidence: int = Field(default=50, ge=1, le=100, description="percent")
    secure_cookie: bool = False
    locale: str = "en-GB"
    # The opening hours' zone is the shop's zone unless the console is told otherwise.
    timezone: str = Field(
        default="Europe/London", validation_alias=AliasChoices("CONSOLE_TIMEZONE", "HANDOFF_TIMEZONE")
    )
    secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    trusted_proxies: tuple[Network, ...] = ()  # GATEWAY_TRUSTED_PROXIES (the web channel's), read by from_env

    @field_validator("locale")
    @classmethod
    def _bcp47(cls, locale: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", locale):
            raise ValueError(f"must be a locale such as en-GB or de-DE, got {locale!r}")
        return locale

    @field_validator("timezone")
    @classmethod
    def _iana(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"must be a time zone such as Europe/London, got {timezone!r}") from None
        return timezone

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ``CONSOLE_SESSION_IDLE_MINUTES``, ``CONSOLE_SESSION_MAX_HOURS``, ``CONSOLE_LOGIN_FREE_FAILURES``,
        ``CONSOLE_LOGIN_MAX_DELAY_SECONDS``, ``CONSOLE_LOGIN_FORGET_HOURS``, ``CONSOLE_LOW_CONFIDENCE``,
        ``CONSOLE_SECURE_COOKIE``, ``CONSOLE_LOCALE``, ``CONSOLE_TIMEZONE`` (default: ``HANDOFF_TIMEZONE``, the
        opening hours' zone), ``GATEWAY_TRUSTED_PROXIES``
        and ``CONSOLE_SECRET`` (else the file ``var/console_secret``, else a secret for this
        process only: fingerprints then change at every restart).

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        env = os.environ if env is None else env
        settings: ConsoleSettings = cls.read(env, secret=_secret(env), trusted_proxies=trusted_proxies_from_env(env))
        return settings


def _secret(env: Mapping[str, str], path: Path = SECRET_FILE) -> str:
    value = env.get("CONSOLE_SECRET", "").strip()
    if not value:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError:
            value = ""
    if not value:
        log.warning("CONSOLE_SECRET is not set and %s does not exist: fingerprints change at every restart", path)
        value = secrets.token_urlsafe(32)
    return value
