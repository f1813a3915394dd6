"""Typed Telegram channel settings, read once from the environment by connectors.app.default_channels."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import SettingsError
from envsettings import EnvSettings, HttpURL, InvalidSettings

DEFAULT_API_BASE_URL = "https://api.telegram.org"
DEFAULT_POLL_TIMEOUT = 30
WEBHOOK_PATH = "/telegram/webhook"

# Telegram's own rules: a bot token is "<digits>:<35ish url-safe chars>"; the secret token is
# 1-256 characters from A-Z a-z 0-9 _ - (anything else makes setWebhook fail at start).
_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{16,256}$")

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

    bot_token: str = Field(
        repr=False,
        pattern=_TOKEN_RE.pattern,
        examples=["<digits>:<letters, digits, _ and -> (the token @BotFather gave)"],
    )
    mode: Mode = "polling"
    api_base_url: HttpURL = DEFAULT_API_BASE_URL
    # Telegram itself only calls https; http is for a local fake.
    webhook_url: HttpURL | None = None
    webhook_secret: str | None = Field(
        default=None, repr=False, pattern=_SECRET_RE.pattern, examples=["16-256 characters from A-Z a-z 0-9 _ -"]
    )
    poll_timeout: int = Field(default=DEFAULT_POLL_TIMEOUT, ge=0, le=60, description="seconds")
    max_webhook_body_bytes: int = 1024 * 1024

    @field_validator("mode", mode="before")
    @classmethod
    def _lowercase(cls, mode: object) -> object:
        return mode.lower() if isinstance(mode, str) else mode

    @field_validator("api_base_url", mode="before")
    @classmethod
    def _no_trailing_slash(cls, url: object) -> object:
        return url.rstrip("/") if isinstance(url, str) else url

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
