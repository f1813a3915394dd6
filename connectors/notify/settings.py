"""Typed settings of the carrier webhook and the notifier, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.errors import SettingsError


@dataclass(frozen=True, slots=True)
class NotifySettings:
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

    webhook_secret: str | None = field(default=None, repr=False)
    poll_seconds: float = 5.0
    max_per_customer: int = 3
    window_seconds: int = 3600
    max_attempts: int = 5
    retry_seconds: float = 30.0
    max_retry_seconds: float = 1800.0
    enabled: bool = True
    max_body_bytes: int = 16 * 1024

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NotifySettings:
        """Read the settings from ``env`` (default: the process environment).

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        source = os.environ if env is None else env
        secret = source.get("CARRIER_WEBHOOK_SECRET", "").strip() or None
        if secret is not None and len(secret) < 16:
            raise SettingsError("CARRIER_WEBHOOK_SECRET must be at least 16 characters (it signs carrier events)")

        def number(name: str, default: float, minimum: float) -> float:
            raw = source.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        enabled = source.get("NOTIFY_ENABLED", "1").strip().lower() not in {"0", "false", "no", "off"}
        return cls(
            webhook_secret=secret,
            poll_seconds=number("NOTIFY_POLL_SECONDS", 5.0, 0.05),
            max_per_customer=int(number("NOTIFY_MAX_PER_CUSTOMER", 3, 1)),
            window_seconds=int(number("NOTIFY_WINDOW_SECONDS", 3600, 1)),
            max_attempts=int(number("NOTIFY_MAX_ATTEMPTS", 5, 1)),
            retry_seconds=number("NOTIFY_RETRY_SECONDS", 30.0, 0.01),
            max_retry_seconds=number("NOTIFY_MAX_RETRY_SECONDS", 1800.0, 0.01),
            enabled=enabled,
        )
