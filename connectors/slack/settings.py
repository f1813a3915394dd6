"""Typed Slack channel settings (``SLACK_*``), read once by ``connectors.app.default_channels``."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from connectors.errors import SettingsError
from envsettings import EnvSettings, HttpURL, InvalidSettings

DEFAULT_API_BASE_URL = "https://slack.com/api/"
MODES = ("socket", "events")
Mode = Literal["socket", "events"]
#: Roles the staff allowlist may give; the order store decides what each may see (``store.service.STAFF_ROLES``).
STAFF_ROLES = ("staff", "manager")
EVENTS_PATH = "/slack/events"

_USER_ID_RE = re.compile(r"[UW][A-Z0-9]{2,20}")
_TEAM_ID = r"[TE][A-Z0-9]{2,20}"
_CHANNEL_ID = r"[CGD][A-Z0-9]{2,20}"
_CHANNEL_ID_RE = re.compile(_CHANNEL_ID)
_STORE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SlackSettings(EnvSettings):
    """Everything the Slack channel needs.

    Attributes:
        bot_token: the bot token (``xoxb-...``) used for the Web API (hidden from repr).
        mode: ``socket`` (Socket Mode, default: no public URL needed) or ``events`` (``POST /slack/events``).
        app_token: the app-level token (``xapp-...``) Socket Mode connects with (hidden from repr).
        signing_secret: verifies Events API requests (hidden from repr).
        api_base_url: the Web API base URL, ending in ``/`` (tests point it at a fake server).
        staff: Slack user id -> role, the staff allowlist.
        store_channels: store id (``LDN-01``) -> Slack channel id where that store's alerts go.
        support_channel: channel id for alerts of stores without their own channel (and the online shop).
        dedupe_size: how many recent event ids are remembered to drop Slack's retries.
        team_id: the app's own workspace (``SLACK_TEAM_ID``); staff must belong to it. When unset, the
            workspace of the bot token (``auth.test``) is used, never the team a request names.
    """

    model_config = SettingsConfigDict(env_prefix="SLACK_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    bot_token: str = Field(repr=False, pattern="^xoxb-", examples=["xoxb-... (a bot token)"])
    mode: Mode = "socket"
    app_token: str | None = Field(default=None, repr=False)
    signing_secret: str | None = Field(default=None, repr=False)
    api_base_url: HttpURL = DEFAULT_API_BASE_URL
    # SLACK_STAFF and SLACK_STAFF_FILE are merged by from_env; a string is parsed as SLACK_STAFF.
    staff: Annotated[Mapping[str, str], NoDecode] = Field(default_factory=dict, validation_alias="SLACK_STAFF")
    store_channels: Annotated[Mapping[str, str], NoDecode] = Field(default_factory=dict)
    support_channel: str | None = Field(default=None, pattern=f"^{_CHANNEL_ID}$", examples=["C0123ABCD"])
    dedupe_size: int = Field(default=10_000, ge=1)
    team_id: str | None = Field(default=None, pattern=f"^{_TEAM_ID}$", examples=["T0123ABCD (a workspace id)"])

    @field_validator("mode", mode="before")
    @classmethod
    def _lowercase(cls, mode: object) -> object:
        return mode.lower() if isinstance(mode, str) else mode

    @field_validator("api_base_url")
    @classmethod
    def _trailing_slash(cls, base: str) -> str:
        return base if base.endswith("/") else base + "/"

    @field_validator("staff", mode="before")
    @classmethod
    def _staff(cls, staff: object) -> object:
        return parse_staff(staff) if isinstance(staff, str) else staff

    @field_validator("store_channels", mode="before")
    @classmethod
    def _store_channels(cls, channels: object) -> object:
        return parse_store_channels(channels) if isinstance(channels, str) else channels

    @field_validator("staff", "store_channels")
    @classmethod
    def _read_only(cls, pairs: Mapping[str, str]) -> Mapping[str, str]:
        return MappingProxyType(dict(pairs))

    @model_validator(mode="after")
    def _mode_has_its_tokens(self) -> SlackSettings:
        """Check the combination of mode and tokens."""
        if self.mode == "socket" and not (self.app_token or "").startswith("xapp-"):
            raise ValueError(
                "SLACK_APP_TOKEN (an app-level token starting with xapp-) is required in Socket Mode; "
                "set SLACK_MODE=events to receive events over HTTP instead"
            )
        if self.mode == "events" and not self.signing_secret:
            raise ValueError("SLACK_SIGNING_SECRET is required with SLACK_MODE=events")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path | None = None) -> SlackSettings | None:
        """Read the Slack settings, or None when Slack is not configured (no ``SLACK_BOT_TOKEN``).

        Variables: ``SLACK_BOT_TOKEN``, ``SLACK_MODE``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``,
        ``SLACK_API_BASE_URL``, ``SLACK_STAFF`` (``U123:staff,U456:manager``), ``SLACK_STAFF_FILE`` (the
        same pairs, one per line, ``#`` comments), ``SLACK_STORE_CHANNELS`` (``LDN-01:C0123,...``),
        ``SLACK_SUPPORT_CHANNEL``, ``SLACK_TEAM_ID``.

        Args:
            env: the environment (default ``os.environ``).
            root: directory a relative ``SLACK_STAFF_FILE`` is resolved against (default: the repo root).

        Returns:
            The settings, or None when ``SLACK_BOT_TOKEN`` is unset or empty.

        Raises:
            SettingsError: naming the variable that is missing or invalid (also when other ``SLACK_*``
                variables are set without ``SLACK_BOT_TOKEN``, which is almost certainly a mistake).
        """
        env = os.environ if env is None else env
        if not env.get("SLACK_BOT_TOKEN", "").strip():
            stray = sorted(k for k, v in env.items() if k.startswith("SLACK_") and v.strip())
            if stray:
                raise SettingsError(f"{', '.join(stray)} set but SLACK_BOT_TOKEN is not: the Slack channel needs it")
            return None
        staff = parse_staff(env.get("SLACK_STAFF", ""), "SLACK_STAFF")
        staff_file = env.get("SLACK_STAFF_FILE", "").strip()
        if staff_file:
            staff = _with_staff_file(staff, Path(staff_file), root or Path(__file__).resolve().parents[2])
        settings: SlackSettings = cls.read({k: v for k, v in env.items() if k != "SLACK_STAFF_FILE"}, staff=staff)
        return settings


def _with_staff_file(staff: dict[str, str], path: Path, root: Path) -> dict[str, str]:
    """``staff`` (from ``SLACK_STAFF``) merged with the pairs of ``SLACK_STAFF_FILE``; they must agree."""
    if not path.is_absolute():
        path = root / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"SLACK_STAFF_FILE {path} cannot be read: {exc}") from exc
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    from_file = parse_staff(",".join(lines), f"SLACK_STAFF_FILE ({path})")
    conflicts = sorted(u for u in from_file.keys() & staff.keys() if from_file[u] != staff[u])
    if conflicts:
        raise SettingsError(f"SLACK_STAFF and SLACK_STAFF_FILE give {', '.join(conflicts)} different roles")
    return {**from_file, **staff}


def _pairs(raw: str, name: str) -> list[tuple[str, str]]:
    pairs = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(f"{name}: expected KEY:VALUE pairs separated by commas, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_staff(raw: str, name: str = "SLACK_STAFF") -> dict[str, str]:
    """Parse a staff allowlist: ``U123:staff,U456:manager``.

    Args:
        raw: the comma-separated pairs.
        name: the variable named in errors.

    Returns:
        Slack user id -> role.

    Raises:
        SettingsError: on a malformed pair, a user id that is not a Slack user id, an unknown role,
            or a user listed twice with different roles.
    """
    staff: dict[str, str] = {}
    for user, role in _pairs(raw, name):
        role = role.lower()
        if not _USER_ID_RE.fullmatch(user):
            raise SettingsError(f"{name}: {user!r} is not a Slack user id (like U0123ABCD)")
        if role not in STAFF_ROLES:
            raise SettingsError(f"{name}: role of {user} must be one of {', '.join(STAFF_ROLES)}, got {role!r}")
        if staff.get(user, role) != role:
            raise SettingsError(f"{name}: {user} is listed with two roles")
        staff[user] = role
    return staff


def parse_store_channels(raw: str) -> dict[str, str]:
    """Parse ``SLACK_STORE_CHANNELS``: ``LDN-01:C0123,MAN-01:C0456``.

    Args:
        raw: the comma-separated pairs.

    Returns:
        Store id -> Slack channel id.

    Raises:
        SettingsError: on a malformed pair or channel id.
    """
    channels: dict[str, str] = {}
    for store, channel in _pairs(raw, "SLACK_STORE_CHANNELS"):
        if not _STORE_ID_RE.fullmatch(store):
            raise SettingsError(f"SLACK_STORE_CHANNELS: {store!r} is not a store id (like LDN-01)")
        if not _CHANNEL_ID_RE.fullmatch(channel):
            raise SettingsError(f"SLACK_STORE_CHANNELS: {channel!r} is not a channel id (like C0123ABCD)")
        channels[store] = channel
    return channels
