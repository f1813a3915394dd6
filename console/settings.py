"""The console's own settings (sessions, sign-in limits, low-confidence threshold), read once from the environment."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.errors import SettingsError

log = logging.getLogger(__name__)

#: Read when ``CONSOLE_SECRET`` is unset (`make run` creates it, owner-only, like the stack's other secrets).
SECRET_FILE = Path(__file__).resolve().parent.parent / "var" / "console_secret"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
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
        secret: ``CONSOLE_SECRET``: keys the fingerprints staff see in place of sources and proofs
            (console/checks.py), so nobody without it can turn one back into the address it stands for.
    """

    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_free_failures: int = 3
    login_max_delay_seconds: int = 900
    login_forget_hours: int = 24
    low_confidence: int = 50
    secure_cookie: bool = False
    locale: str = "en-GB"
    timezone: str = "Europe/London"
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConsoleSettings:
        """Read ``CONSOLE_SESSION_IDLE_MINUTES``, ``CONSOLE_SESSION_MAX_HOURS``, ``CONSOLE_LOGIN_FREE_FAILURES``,
        ``CONSOLE_LOGIN_MAX_DELAY_SECONDS``, ``CONSOLE_LOGIN_FORGET_HOURS``, ``CONSOLE_LOW_CONFIDENCE``,
        ``CONSOLE_SECURE_COOKIE``, ``CONSOLE_LOCALE``, ``CONSOLE_TIMEZONE`` (default: ``HANDOFF_TIMEZONE``, the
        opening hours' zone) and ``CONSOLE_SECRET`` (else the file ``var/console_secret``, else a secret for this
        process only: fingerprints then change at every restart).

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        env = os.environ if env is None else env

        def number(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
            return int(raw)

        secure = env.get("CONSOLE_SECURE_COOKIE", "").strip().lower()
        if secure not in ("", "0", "1", "true", "false", "yes", "no"):
            raise SettingsError(f"CONSOLE_SECURE_COOKIE must be true or false, got {secure!r}")
        locale = env.get("CONSOLE_LOCALE", "").strip() or "en-GB"
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", locale):
            raise SettingsError(f"CONSOLE_LOCALE must be a locale such as en-GB or de-DE, got {locale!r}")
        timezone = env.get("CONSOLE_TIMEZONE", "").strip() or env.get("HANDOFF_TIMEZONE", "").strip() or "Europe/London"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"CONSOLE_TIMEZONE must be a time zone such as Europe/London, got {timezone!r}"
            ) from None
        return cls(
            locale=locale,
            timezone=timezone,
            session_idle_minutes=number("CONSOLE_SESSION_IDLE_MINUTES", 30, 1, 24 * 60),
            session_max_hours=number("CONSOLE_SESSION_MAX_HOURS", 12, 1, 24 * 7),
            login_free_failures=number("CONSOLE_LOGIN_FREE_FAILURES", 3, 1, 100),
            login_max_delay_seconds=number("CONSOLE_LOGIN_MAX_DELAY_SECONDS", 900, 1, 24 * 3600),
            login_forget_hours=number("CONSOLE_LOGIN_FORGET_HOURS", 24, 1, 24 * 30),
            low_confidence=number("CONSOLE_LOW_CONFIDENCE", 50, 1, 100),
            secure_cookie=secure in ("1", "true", "yes"),
            secret=_secret(env),
        )


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
