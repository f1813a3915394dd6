"""Settings of the in-store tablet channel (``TABLET_*``), read once by connectors.app.default_channels."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.errors import SettingsError
from connectors.settings import REPO_ROOT
from envsettings import EnvSettings, InvalidSettings

DEFAULT_IDLE_SECONDS = 60
DEFAULT_COUNTDOWN_SECONDS = 10
#: Staff calls one tablet may make per hour (each new shopper session could otherwise call again).
DEFAULT_STAFF_CALLS_PER_HOUR = 4


class TabletSettings(EnvSettings):
    """How the kiosk behaves.

    Attributes:
        idle_seconds: quiet time after which the page asks "Still there?" (``TABLET_IDLE_SECONDS``).
        countdown_seconds: how long that question stays before the screen is wiped
            (``TABLET_COUNTDOWN_SECONDS``).
        staff_calls_per_hour: staff calls (alerts to the shop's staff) one tablet may make in any hour
            (``TABLET_STAFF_CALLS_PER_HOUR``); besides, a tablet has at most one open call at a time.
    """

    model_config = SettingsConfigDict(env_prefix="TABLET_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    idle_seconds: int = Field(default=DEFAULT_IDLE_SECONDS, ge=1, le=3600, description="seconds")
    countdown_seconds: int = Field(default=DEFAULT_COUNTDOWN_SECONDS, ge=1, le=120, description="seconds")
    staff_calls_per_hour: int = Field(default=DEFAULT_STAFF_CALLS_PER_HOUR, ge=1, le=100)

    @property
    def wipe_seconds(self) -> int:
        """The wipe time: idle + countdown. A session without shopper activity for this long is ended by the
        server at the same moment the page would have wiped it, whether or not the page did (a sleeping or
        frozen tablet): its next call gets 409 ``session_ended`` and its grants end."""
        return self.idle_seconds + self.countdown_seconds

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
        settings: TabletSettings = cls.read(env)
        return settings


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
