"""Typed Telegram channel settings, read once from the environment by connectors.app.default_channels."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import SettingsError
from envsettings import EnvSettings, InvalidSettings

DEFAULT_API_BASE_URL = "https://api.telegram.org"
DEFAULT_POLL_TIMEOUT = 30
WEBHOOK_PATH = "/telegram/webhook"

# Telegram's own rules: a bot token is "<digits>:<35ish url-safe chars>"; the secret token is
# 1-256 characters from A-Z a-z 0-9 _ - (anything else makes setWebhook fail at start).
_TOKEN_RE = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{20,100}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")

Mode = Literal["polling", "webhook"]


class TelegramSettings(EnvSettings):
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

    model_config = SettingsConfigDict(env_prefix="TELEGRAM_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    bot_token: str = Field(repr=False)
    mode: Mode = "polling"
    api_base_url: str = DEFAULT_API_BASE_URL
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    poll_timeout: int = Field(default=DEFAULT_POLL_TIMEOUT, ge=0, le=60, description="seconds")
    max_webhook_body_bytes: int = 1024 * 1024

    @field_validator("mode", mode="before")
    @classmethod
    def _lowercase(cls, mode: object) -> object:
        return mode.lower() if isinstance(mode, str) else mode

    @field_validator("bot_token")
    @classmethod
    def _from_botfather(cls, token: str) -> str:
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError("does not look like a bot token from @BotFather (<digits>:<letters, digits, _ and ->)")
        return token

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_accepts(cls, secret: str | None) -> str | None:
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ValueError("must be 16-256 characters from A-Z a-z 0-9 _ -")
        return secret

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, url: str) -> str:
        url = url.rstrip("/")
        if not _is_http_url(url):
            raise ValueError(f"must be an http(s) URL, got {url!r}")
        return url

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, url: str | None) -> str | None:
        if url is not None and not _is_http_url(url):
            raise ValueError(f"must be an http(s) URL (Telegram itself only calls https), got {url!r}")
        return url

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> TelegramSettings:
        """Check that webhook mode has what it needs."""
        if self.mode == "webhook":
            if not self.webhook_url:
                raise ValueError(
                    "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_URL, the public https URL of this "
                    f"gateway's {WEBHOOK_PATH}"
                )
            if not self.webhook_secret:
                raise ValueError(
                    "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET (16-256 characters from "
                    "A-Z a-z 0-9 _ -; e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        return self

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
        if not env.get("TELEGRAM_BOT_TOKEN", "").strip():
            return None
        settings: TelegramSettings = cls.read(env)
        return settings


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
