"""Hand-off settings (``HANDOFF_*``): claim timeout, opening hours and how often the gateway checks."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field
from pydantic_settings import NoDecode, SettingsConfigDict

from connectors.errors import SettingsError
from envsettings import EnvSettings, InvalidSettings

#: What the bot promises customers (actions/handoff.py OFFICE_HOURS): weekdays 9:00-18:00 UK time.
DEFAULT_OPENING_HOURS = "Mon-Fri 09:00-18:00"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC_RE = re.compile(
    r"^\s*(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """When a person can answer: weekday ranges with a daily time window, in one time zone.

    Attributes:
        windows: ``(weekday, opens, closes)`` tuples (weekday 0 = Monday); empty means always open.
        timezone: the IANA zone the times are in.
        text: the setting as written, to tell customers.
    """

    windows: tuple[tuple[int, time, time], ...] = ()
    timezone: str = "Europe/London"
    text: str = "always"

    @classmethod
    def parse(cls, raw: str, timezone: str = "Europe/London") -> OpeningHours:
        """Parse ``"Mon-Fri 09:00-18:00; Sat 10:00-14:00"`` (``""`` or ``"always"``: always open).

        Raises:
            SettingsError: naming ``HANDOFF_OPENING_HOURS`` or ``HANDOFF_TIMEZONE``.
        """
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"HANDOFF_TIMEZONE: unknown time zone {timezone!r}") from None
        text = raw.strip()
        if text.lower() in ("", "always"):
            return cls((), timezone, "always")
        windows: list[tuple[int, time, time]] = []
        for part in text.split(";"):
            match = _SPEC_RE.match(part.lower())
            if match is None:
                raise SettingsError(
                    f"HANDOFF_OPENING_HOURS: cannot read {part.strip()!r} "
                    "(write e.g. 'Mon-Fri 09:00-18:00; Sat 10:00-14:00')"
                )
            d1, d2 = match["d1"], match["d2"] or match["d1"]
            if d1 not in _DAYS or d2 not in _DAYS:
                raise SettingsError(f"HANDOFF_OPENING_HOURS: unknown day in {part.strip()!r} (use Mon..Sun)")
            try:
                opens = time(int(match["h1"]), int(match["m1"]))
                closes = time(int(match["h2"]), int(match["m2"]))
            except ValueError:
                raise SettingsError(f"HANDOFF_OPENING_HOURS: impossible time in {part.strip()!r}") from None
            if closes <= opens:
                raise SettingsError(f"HANDOFF_OPENING_HOURS: {part.strip()!r} closes before it opens")
            first, last = _DAYS.index(d1), _DAYS.index(d2)
            days = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            windows.extend((day, opens, closes) for day in days)
        return cls(tuple(windows), timezone, text)

    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside a window."""
        if not self.windows:
            return True
        local = moment.astimezone(ZoneInfo(self.timezone))
        now = local.time()
        return any(day == local.weekday() and opens <= now < closes for day, opens, closes in self.windows)


class HandoffSettings(EnvSettings):
    """How the hand-off desk behaves.

    Attributes:
        claim_timeout_minutes: after this long without a claim the customer is told what happens next.
        opening_hours: when staff answer; outside them the customer is told at once.
        sweep_seconds: how often the background task looks for unclaimed tickets.
        resolve_words: thread messages that close the ticket (besides the Resolve button).
    """

    model_config = SettingsConfigDict(env_prefix="HANDOFF_")
    error: ClassVar[type[InvalidSettings]] = SettingsError

    claim_timeout_minutes: float = Field(default=10.0, gt=0, description="minutes")
    # HANDOFF_OPENING_HOURS and HANDOFF_TIMEZONE are parsed together by from_env (OpeningHours.parse).
    opening_hours: Annotated[OpeningHours, NoDecode] = Field(default_factory=OpeningHours)
    sweep_seconds: float = Field(default=30.0, gt=0, description="seconds")
    resolve_words: Annotated[frozenset[str], NoDecode] = frozenset({"resolve", "!resolve", "/resolve", "resolved"})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandoffSettings:
        """Read ``HANDOFF_CLAIM_TIMEOUT_MINUTES`` (10), ``HANDOFF_OPENING_HOURS`` (Mon-Fri 09:00-18:00),
        ``HANDOFF_TIMEZONE`` (Europe/London) and ``HANDOFF_SWEEP_SECONDS`` (30).

        Raises:
            SettingsError: a value is not a positive number or not readable hours.
        """
        env = os.environ if env is None else env
        # An empty HANDOFF_OPENING_HOURS means "always", unlike the other variables where empty is unset.
        hours = OpeningHours.parse(
            env.get("HANDOFF_OPENING_HOURS", DEFAULT_OPENING_HOURS), env.get("HANDOFF_TIMEZONE") or "Europe/London"
        )
        settings: HandoffSettings = cls.read(env, opening_hours=hours)
        return settings
