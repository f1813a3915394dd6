"""Typed settings of the carrier webhook and the notifier, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, field_validator

from connectors.errors import SettingsError
from envsettings import EnvSettings, InvalidSettings


class NotifySettings(EnvSettings):
    """Everything the carrier webhook and the notifier need.

    Attributes:
        webhook_secret: the HMAC-SHA256 key the carrier signs bodies with (``CARRIER_WEBHOOK_SECRET``);
            without it the endpoint answers 503 and only ``python -m store shipment-event`` records events.
        poll_seconds: how often the notifier looks for news to send (``NOTIFY_POLL_SECONDS``).
        max_per_customer: news a customer gets at most per window (``NOTIFY_MAX_PER_CUSTOMER``) ...
        window_seconds: ... of this many seconds (``NOTIFY_WINDOW_SECONDS``); more waits, it is not dropped.
        max_attempts: pushes tried per linked chat before giving up (``NOTIFY_MAX_ATTEMPTS``).
        retry_seconds: first back-off after a failed push, doubled each time (``NOTIFY_RETRY_SECONDS``) ...
        max_retry_seconds: ... up to this (``NOTIFY_MAX_RETRY_SECONDS``).
        enabled: run the notifier task at all (``NOTIFY_ENABLED``, default on).
        max_body_bytes: largest webhook body accepted.
    """

    error: ClassVar[type[InvalidSettings]] = SettingsError

    webhook_secret: str | None = Field(default=None, repr=False, validation_alias="CARRIER_WEBHOOK_SECRET")
    poll_seconds: float = Field(default=5.0, ge=0.05, description="seconds", validation_alias="NOTIFY_POLL_SECONDS")
    max_per_customer: int = Field(default=3, ge=1, validation_alias="NOTIFY_MAX_PER_CUSTOMER")
    window_seconds: int = Field(default=3600, ge=1, description="seconds", validation_alias="NOTIFY_WINDOW_SECONDS")
    max_attempts: int = Field(default=5, ge=1, validation_alias="NOTIFY_MAX_ATTEMPTS")
    retry_seconds: float = Field(default=30.0, ge=0.01, description="seconds", validation_alias="NOTIFY_RETRY_SECONDS")
    max_retry_seconds: float = Field(
        default=1800.0, ge=0.01, description="seconds", validation_alias="NOTIFY_MAX_RETRY_SECONDS"
    )
    enabled: bool = Field(default=True, validation_alias="NOTIFY_ENABLED")
    max_body_bytes: int = 16 * 1024

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _long_enough(cls, secret: object) -> object:
        if isinstance(secret, str) and len(secret) < 16:
            raise ValueError("must be at least 16 characters (it signs carrier events)")
        return secret

    @field_validator("enabled", mode="before")
    @classmethod
    def _on_unless_off(cls, raw: object) -> object:
        # Only an explicit "off" word stops the notifier, as before: a typo must not silence order news.
        if isinstance(raw, str):
            return raw.strip().lower() not in {"0", "false", "no", "off"}
        return raw

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        """Read the settings from ``env`` (default: the process environment).

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        settings: NotifySettings = cls.read(env)
        return settings
