"""envsettings: how every package's settings read variables and word their errors (with a settings class of its own)."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from envsettings import EnvSettings, InvalidSettings


class KioskError(InvalidSettings):
    """A package's own family."""


class Kiosk(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="KIOSK_")
    error: ClassVar[type[InvalidSettings]] = KioskError

    idle: int = Field(default=60, ge=1, le=3600, description="seconds")
    ratio: float = Field(default=0.5, gt=0)
    loud: bool = False
    zone: str = Field(default="Europe/London", validation_alias=AliasChoices("KIOSK_ZONE", "SHOP_ZONE"))
    tags: tuple[str, ...] = ()


def test_values_come_from_the_given_mapping_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_IDLE", "5")
    assert Kiosk.read({}).idle == 60  # a test's mapping replaces the environment
    assert Kiosk.read().idle == 5
    assert Kiosk().idle == 60  # the constructor never reads the environment
    got = Kiosk.read({"KIOSK_IDLE": " 7 ", "KIOSK_LOUD": "yes", "SHOP_ZONE": "Europe/Paris", "KIOSK_RATIO": ""})
    assert (got.idle, got.loud, got.zone, got.ratio) == (7, True, "Europe/Paris", 0.5)
    assert Kiosk.read({"KIOSK_ZONE": "UTC", "SHOP_ZONE": "Europe/Paris"}).zone == "UTC"
    assert Kiosk.read({"KIOSK_IDLE": "9"}, idle=3).idle == 3  # what the caller worked out wins


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KIOSK_IDLE": "soon"}, "KIOSK_IDLE must be a whole number of seconds between 1 and 3600, got 'soon' "
         "(unset it for the default, 60)"),
        ({"KIOSK_IDLE": "0"}, "KIOSK_IDLE must be between 1 and 3600 seconds, got '0' (unset it for the default, 60)"),
        ({"KIOSK_RATIO": "-1"}, "KIOSK_RATIO must be greater than 0, got '-1' (unset it for the default, 0.5)"),
        ({"KIOSK_LOUD": "maybe"}, "KIOSK_LOUD must be true or false, got 'maybe' (unset it for the default, off)"),
        ({"KIOSK_TAGS": "a,b"}, "KIOSK_TAGS"),  # a structured value that is not JSON: named, no traceback
    ],
)
def test_errors_name_the_variable_what_it_must_be_and_the_default(env: dict[str, str], message: str) -> None:
    with pytest.raises(KioskError) as caught:
        Kiosk.read(env)
    assert str(caught.value).startswith(message)


def test_several_problems_are_all_told_and_code_values_are_named_alike() -> None:
    with pytest.raises(KioskError, match="KIOSK_IDLE .*; KIOSK_RATIO "):
        Kiosk.read({"KIOSK_IDLE": "x", "KIOSK_RATIO": "y"})
    with pytest.raises(KioskError, match="KIOSK_IDLE must be between 1 and 3600"):
        Kiosk(idle=0)
    with pytest.raises(KioskError, match="has no setting 'idel'"):
        Kiosk(idel=5)
