"""The web widget's own settings (rate limits, history size, proxy trust), read once by connectors.app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from connectors.errors import SettingsError
from connectors.source import Network, trusted_proxies_from_env
from envsettings import EnvSettings, InvalidSettings


class WebSettings(EnvSettings):
    """Limits of the web channel beyond the message size (which lives in ``Settings``).

    Attributes:
        rate_per_conversation: messages one conversation may send per ``rate_window`` seconds.
        rate_per_address: messages one client address may send per ``rate_window`` seconds
            (all its conversations together).
        rate_window: length of the rate-limit window in seconds.
        history_limit: most transcript entries one history request returns (the newest ones).
        trusted_proxies: reverse proxies (``GATEWAY_TRUSTED_PROXIES``) whose ``X-Forwarded-For`` names the
            client; from anyone else the header is ignored (``connectors.source.client_address``).
        ratings_per_source: ratings one client source (``connectors.source.web_source``) may give per
            ``ratings_window`` seconds, all its conversations together (a new chat that says "bye" is asked for
            a rating, so without this anyone could stuff the console's average).
        ratings_window: length of the ratings window in seconds.
        transcript_backlog: most transcript lines (a message with its replies, a photo, a rating) kept in memory
            while the gateway database is unavailable, written when it is back (``connectors.web.backlog``).
    """

    model_config = SettingsConfigDict(env_prefix="GATEWAY_WEB_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    rate_per_conversation: int = Field(default=20, ge=1, le=100_000)
    # Many real customers share one address (a mobile network's NAT, an office, a shop behind a reverse
    # proxy the gateway is not told to trust): the address limit only stops a flood; a person is limited by
    # the conversation's own budget.
    rate_per_address: int = Field(default=600, ge=1, le=1_000_000)
    rate_window: float = Field(default=60.0, ge=1, le=86_400, description="seconds")
    history_limit: int = Field(default=100, ge=1, le=1000)
    trusted_proxies: tuple[Network, ...] = ()  # GATEWAY_TRUSTED_PROXIES, read by from_env
    ratings_per_source: int = Field(default=5, ge=1, le=100_000)
    ratings_window: float = Field(default=3600.0, ge=1, le=7 * 86_400, description="seconds")
    transcript_backlog: int = Field(default=5000, ge=1, le=1_000_000)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """Read ``GATEWAY_WEB_RATE_PER_CONVERSATION``, ``GATEWAY_WEB_RATE_PER_ADDRESS``,
        ``GATEWAY_WEB_RATE_WINDOW``, ``GATEWAY_WEB_HISTORY_LIMIT``, ``GATEWAY_WEB_RATINGS_PER_SOURCE``,
        ``GATEWAY_WEB_RATINGS_WINDOW``, ``GATEWAY_WEB_TRANSCRIPT_BACKLOG`` and ``GATEWAY_TRUSTED_PROXIES``.

        Args:
            env: the environment (default ``os.environ``).

        Returns:
            The settings; unset variables keep their defaults.

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        env = os.environ if env is None else env
        settings: WebSettings = cls.read(env, trusted_proxies=trusted_proxies_from_env(env))
        return settings
