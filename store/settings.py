"""Typed settings of the order store, read once from the environment (``SHOP_DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from envsettings import EnvSettings

#: The repository root (the folder holding ``store/``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where the default SQLite database lives (gitignored).
DEFAULT_DB_PATH = REPO_ROOT / "var" / "shop.db"


class Settings(EnvSettings):
    """Order store settings.

    Attributes:
        database_url: SQLAlchemy URL, e.g. ``sqlite:////abs/path/shop.db`` or
            ``postgresql+psycopg://user:pass@127.0.0.1:5432/shop`` (``SHOP_DATABASE_URL``).
        echo_sql: Log every SQL statement (``SHOP_DATABASE_ECHO=1``).
    """

    database_url: str = Field(default=f"sqlite:///{DEFAULT_DB_PATH}", validation_alias="SHOP_DATABASE_URL")
    echo_sql: bool = Field(default=False, validation_alias="SHOP_DATABASE_ECHO")

    @field_validator("database_url")
    @classmethod
    def _psycopg3(cls, url: str) -> str:
        """A ``postgres://`` or ``postgresql://`` URL is switched to the psycopg 3 driver."""
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme) :]
        return url

    @field_validator("echo_sql", mode="before")
    @classmethod
    def _lenient_flag(cls, raw: object) -> object:
        # Historically any other word meant "off"; kept so a deployment's odd spelling does not stop the store.
        if isinstance(raw, str):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        return raw

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables.

        ``SHOP_DATABASE_URL`` defaults to ``sqlite:///<repo>/var/shop.db``. Nothing is created here;
        `store.db` creates ``var/`` lazily.

        Args:
            env: Mapping to read instead of ``os.environ`` (tests).

        Returns:
            The settings.
        """
        settings: Settings = cls.read(env)
        return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use.

    Returns:
        The cached settings (``get_settings.cache_clear()`` forgets them).
    """
    return Settings.from_env()

