"""Settings of the in-store tablet channel (``TABLET_*``), read once by connectors.app.default_channels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.errors import SettingsError
from connectors.settings import REPO_ROOT

DEFAULT_IDLE_SECONDS = 60
DEFAULT_COUNTDOWN_SECONDS = 10
#: Staff calls one tablet may make per hour (each new shopper session could otherwise call again).
DEFAULT_STAFF_CALLS_PER_HOUR = 4
#: Extra seconds the server waits past idle + countdown before it forgets a session by itself,
#: so a page that is a little late with its wipe still ends the session cleanly.
SESSION_GRACE_SECONDS = 15


@dataclass(frozen=True, slots=True)
class TabletSettings:
    """How the kiosk behaves.

    Attributes:
        idle_seconds: quiet time after which the page asks "Still there?" (``TABLET_IDLE_SECONDS``).
        countdown_seconds: how long that question stays before the screen is wiped
            (``TABLET_COUNTDOWN_SECONDS``).
        staff_calls_per_hour: staff calls (alerts to the shop's staff) one tablet may make in any hour
            (``TABLET_STAFF_CALLS_PER_HOUR``); besides, a tablet has at most one open call at a time.
    """

    idle_seconds: int = DEFAULT_IDLE_SECONDS
    countdown_seconds: int = DEFAULT_COUNTDOWN_SECONDS
    staff_calls_per_hour: int = DEFAULT_STAFF_CALLS_PER_HOUR

    def __post_init__(self) -> None:
        """Refuse values a kiosk cannot work with."""
        if not 1 <= self.idle_seconds <= 3600:
            raise SettingsError(f"TABLET_IDLE_SECONDS must be between 1 and 3600, got {self.idle_seconds}")
        if not 1 <= self.countdown_seconds <= 120:
            raise SettingsError(f"TABLET_COUNTDOWN_SECONDS must be between 1 and 120, got {self.countdown_seconds}")
        if not 1 <= self.staff_calls_per_hour <= 100:
            raise SettingsError(
                f"TABLET_STAFF_CALLS_PER_HOUR must be between 1 and 100, got {self.staff_calls_per_hour}"
            )

    @property
    def session_ttl_seconds(self) -> int:
        """After this long without a message the server ends a session even if the page never wiped."""
        return self.idle_seconds + self.countdown_seconds + SESSION_GRACE_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TabletSettings:
        """Read ``TABLET_IDLE_SECONDS`` (default 60), ``TABLET_COUNTDOWN_SECONDS`` (default 10) and
        ``TABLET_STAFF_CALLS_PER_HOUR`` (default 4).

        Args:
            env: the environment (default ``os.environ``).

        Returns:
            The settings.

        Raises:
            SettingsError: naming the variable that is not a whole number in range.
        """
        env = os.environ if env is None else env
        return cls(
            idle_seconds=_int(env, "TABLET_IDLE_SECONDS", DEFAULT_IDLE_SECONDS),
            countdown_seconds=_int(env, "TABLET_COUNTDOWN_SECONDS", DEFAULT_COUNTDOWN_SECONDS),
            staff_calls_per_hour=_int(env, "TABLET_STAFF_CALLS_PER_HOUR", DEFAULT_STAFF_CALLS_PER_HOUR),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of seconds, got {raw!r}") from None


def database_urls(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The gateway and order-store database URLs the device command uses, as the gateway reads them.

    Args:
        env: the environment (default ``os.environ``).

    Returns:
        ``(GATEWAY_DATABASE_URL, SHOP_DATABASE_URL)``, SQLite files under ``var/`` by default.
    """
    env = os.environ if env is None else env
    gateway = env.get("GATEWAY_DATABASE_URL", "").strip() or f"sqlite:///{REPO_ROOT / 'var' / 'gateway.db'}"
    shop = env.get("SHOP_DATABASE_URL", "").strip() or f"sqlite:///{REPO_ROOT / 'var' / 'shop.db'}"
    return gateway, shop
