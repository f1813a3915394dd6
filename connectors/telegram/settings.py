"""Typed Telegram channel settings, read once from the environment by connectors.app.default_channels."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from connectors.errors import SettingsError

DEFAULT_API_BASE_URL = "https://api.telegram.org"
DEFAULT_POLL_TIMEOUT = 30
WEBHOOK_PATH = "/telegram/webhook"

# Telegram's own rules: a bot token is "<digits>:<35ish url-safe chars>"; the secret token is
# 1-256 characters from A-Z a-z 0-9 _ - (anything else makes setWebhook fail at start).
_TOKEN_RE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")

Mode = Literal["polling", "webhook"]


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """Everything the Telegram channel needs.

    Attributes:
        bot_token: the token @BotFather gave (hidden from repr and logs).
        mode: ``polling`` (default; no public URL needed) or ``webhook``.
        api_base_url: the Bot API server, without trailing slash (tests point it at a fake).
        webhook_url: the public HTTPS URL Telegram posts updates to (webhook mode only); it must
            reach this gateway's ``POST /telegram/webhook``.
        webhook_secret: sent to Telegram with setWebhook and expected back in the
            ``X-Telegram-Bot-Api-Secret-Token`` header of every webhook call (webhook mode only).
        poll_timeout: seconds one long-polling ``getUpdates`` call waits for updates.
        max_webhook_body_bytes: largest webhook body accepted (Telegram updates are a few KiB).
    """

    bot_token: str = field(repr=False)
    mode: Mode = "polling"
    api_base_url: str = DEFAULT_API_BASE_URL
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    poll_timeout: int = DEFAULT_POLL_TIMEOUT
    max_webhook_body_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        """Check that webhook mode has what it needs.

        Raises:
            SettingsError: naming the missing variable.
        """
        if self.mode == "webhook":
            if not self.webhook_url:
                raise SettingsError(
                    "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL, the public https URL of this "
                    f"gateway's {WEBHOOK_PATH}"
                )
            if not self.webhook_secret:
                raise SettingsError(
                    "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET (16-256 characters from "
                    "A-Z a-z 0-9 _ -; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelegramSettings | None:
        """Read the settings, or None when ``TELEGRAM_BOT_TOKEN`` is unset (the channel is off).

        Variables: ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_MODE`` (``polling`` | ``webhook``),
        ``TELEGRAM_API_BASE_URL``, ``TELEGRAM_WEBHOOK_URL``, ``TELEGRAM_WEBHOOK_SECRET``,
        ``TELEGRAM_POLL_TIMEOUT``.

        Args:
            env: the environment (default ``os.environ``).

        Returns:
            The settings, or None when the channel is not configured.

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        env = os.environ if env is None else env
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            return None
        if not _TOKEN_RE.fullmatch(token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token from @BotFather "
                "(<digits>:<letters, digits, _ and ->)"
            )
        mode = env.get("TELEGRAM_MODE", "").strip().lower() or "polling"
        if mode not in ("polling", "webhook"):
            raise SettingsError(f"TELEGRAM_MODE must be polling or webhook, got {mode!r}")
        base = env.get("TELEGRAM_API_BASE_URL", "").strip().rstrip("/") or DEFAULT_API_BASE_URL
        if not _is_http_url(base):
            raise SettingsError(f"TELEGRAM_API_BASE_URL must be an http(s) URL, got {base!r}")
        webhook_url = env.get("TELEGRAM_WEBHOOK_URL", "").strip() or None
        if webhook_url is not None and not _is_http_url(webhook_url):
            raise SettingsError(
                f"TELEGRAM_WEBHOOK_URL must be an http(s) URL (Telegram itself only calls https), got {webhook_url!r}"
            )
        secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET must be 16-256 characters from A-Z a-z 0-9 _ -")
        raw_timeout = env.get("TELEGRAM_POLL_TIMEOUT", "").strip()
        poll_timeout = DEFAULT_POLL_TIMEOUT
        if raw_timeout:
            try:
                poll_timeout = int(raw_timeout)
            except ValueError:
                raise SettingsError(f"TELEGRAM_POLL_TIMEOUT must be whole seconds, got {raw_timeout!r}") from None
            if not 0 <= poll_timeout <= 60:
                raise SettingsError(f"TELEGRAM_POLL_TIMEOUT must be between 0 and 60, got {poll_timeout}")
        return cls(
            bot_token=token,
            mode="webhook" if mode == "webhook" else "polling",
            api_base_url=base,
            webhook_url=webhook_url,
            webhook_secret=secret,
            poll_timeout=poll_timeout,
        )


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
