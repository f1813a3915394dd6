"""The web widget's own settings (rate limits, history size, proxy trust), read once by connectors.app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.errors import SettingsError
from connectors.source import Network, trusted_proxies_from_env


@dataclass(frozen=True, slots=True)
class WebSettings:
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
    """

    rate_per_conversation: int = 20
    # Many real customers share one address (a mobile network's NAT, an office, a shop behind a reverse
    # proxy the gateway is not told to trust): the address limit only stops a flood; a person is limited by
    # the conversation's own budget.
    rate_per_address: int = 600
    rate_window: float = 60.0
    history_limit: int = 100
    trusted_proxies: tuple[Network, ...] = ()
    ratings_per_source: int = 5
    ratings_window: float = 3600.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """Read ``GATEWAY_WEB_RATE_PER_CONVERSATION``, ``GATEWAY_WEB_RATE_PER_ADDRESS``,
        ``GATEWAY_WEB_RATE_WINDOW``, ``GATEWAY_WEB_HISTORY_LIMIT``, ``GATEWAY_WEB_RATINGS_PER_SOURCE``,
        ``GATEWAY_WEB_RATINGS_WINDOW`` and ``GATEWAY_TRUSTED_PROXIES``.

        Args:
            env: the environment (default ``os.environ``).

        Returns:
            The settings; unset variables keep their defaults.

        Raises:
            SettingsError: naming the variable that is invalid.
        """
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            rate_per_conversation=_int(
                env, "GATEWAY_WEB_RATE_PER_CONVERSATION", defaults.rate_per_conversation, 1, 100_000
            ),
            rate_per_address=_int(env, "GATEWAY_WEB_RATE_PER_ADDRESS", defaults.rate_per_address, 1, 1_000_000),
            rate_window=float(_int(env, "GATEWAY_WEB_RATE_WINDOW", int(defaults.rate_window), 1, 86_400)),
            history_limit=_int(env, "GATEWAY_WEB_HISTORY_LIMIT", defaults.history_limit, 1, 1000),
            trusted_proxies=trusted_proxies_from_env(env),
            ratings_per_source=_int(env, "GATEWAY_WEB_RATINGS_PER_SOURCE", defaults.ratings_per_source, 1, 100_000),
            ratings_window=float(
                _int(env, "GATEWAY_WEB_RATINGS_WINDOW", int(defaults.ratings_window), 1, 7 * 86_400)
            ),
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value
