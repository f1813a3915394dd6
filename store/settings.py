"""Typed settings of the order store, read once from the environment (``SHOP_DATABASE_URL``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: The repository root (the folder holding ``store/``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the default SQLite database lives (gitignored).
DEFAULT_DB_PATH = REPO_ROOT / "var" / "shop.db"


@dataclass(frozen=True)
class Settings:
    """Order store settings.

    Attributes:
        database_url: SQLAlchemy URL, e.g. ``sqlite:////abs/path/shop.db`` or
            ``postgresql+psycopg://user:pass@127.0.0.1:5432/shop``.
        echo_sql: Log every SQL statement (``SHOP_DATABASE_ECHO=1``).
    """

    database_url: str
    echo_sql: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables.

        ``SHOP_DATABASE_URL`` defaults to ``sqlite:///<repo>/var/shop.db``. A ``postgresql://`` URL is
        switched to the psycopg 3 driver. Nothing is created here; `store.db` creates ``var/`` lazily.

        Args:
            env: Mapping to read instead of ``os.environ`` (tests).

        Returns:
            The settings.
        """
        source = os.environ if env is None else env
        url = source.get("SHOP_DATABASE_URL", "").strip() or f"sqlite:///{DEFAULT_DB_PATH}"
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        echo = source.get("SHOP_DATABASE_ECHO", "").strip().lower() in {"1", "true", "yes", "on"}
        return cls(database_url=url, echo_sql=echo)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use.

    Returns:
        The cached settings; `reset_settings` forgets them (tests).
    """
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings so the next `get_settings` reads the environment again."""
    get_settings.cache_clear()
