"""SlackSettings.from_env: unset means no Slack channel; every mistake names its variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.app import default_channels
from connectors.errors import SettingsError
from connectors.slack import SlackChannel, SlackSettings
from gateway import main
from tests.connectors.gateway_fakes import make_settings

SOCKET = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
EVENTS = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "events", "SLACK_SIGNING_SECRET": "s3cret"}


def test_without_a_bot_token_there_is_no_slack_channel() -> None:
    assert SlackSettings.from_env({}) is None
    assert SlackSettings.from_env({"SLACK_BOT_TOKEN": "  "}) is None


def test_socket_mode_is_the_default_and_everything_parses() -> None:
    settings = SlackSettings.from_env(
        {
            **SOCKET,
            "SLACK_STAFF": "U0AAA1:staff, U0BBB2:Manager",
            "SLACK_STORE_CHANNELS": "LDN-01:C0123,MAN-01:C0456",
            "SLACK_SUPPORT_CHANNEL": "C0999",
            "SLACK_API_BASE_URL": "http://127.0.0.1:9/api",
        }
    )
    assert settings is not None
    assert settings.mode == "socket"
    assert dict(settings.staff) == {"U0AAA1": "staff", "U0BBB2": "manager"}
    assert dict(settings.store_channels) == {"LDN-01": "C0123", "MAN-01": "C0456"}
    assert settings.support_channel == "C0999"
    assert settings.api_base_url == "http://127.0.0.1:9/api/"
    assert "xoxb" not in repr(settings) and "xapp" not in repr(settings)


def test_staff_file_adds_to_the_variable(tmp_path: Path) -> None:
    staff = tmp_path / "staff.txt"
    staff.write_text("# store staff\nU0AAA1:staff\nU0CCC3:manager  # Sam, LDN\n\n")
    settings = SlackSettings.from_env({**EVENTS, "SLACK_STAFF": "U0AAA1:staff", "SLACK_STAFF_FILE": str(staff)})
    assert settings is not None and dict(settings.staff) == {"U0AAA1": "staff", "U0CCC3": "manager"}


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "events"}, "SLACK_SIGNING_SECRET"),
        ({**SOCKET, "SLACK_MODE": "webhook"}, "SLACK_MODE"),
        ({**SOCKET, "SLACK_STAFF": "U0AAA1"}, "SLACK_STAFF"),
        ({**SOCKET, "SLACK_STAFF": "U0AAA1:owner"}, "SLACK_STAFF"),
        ({**SOCKET, "SLACK_STAFF": "alice:staff"}, "SLACK_STAFF"),
        ({**SOCKET, "SLACK_STAFF": "U0AAA1:staff,U0AAA1:manager"}, "SLACK_STAFF"),
        ({**SOCKET, "SLACK_STAFF_FILE": "/nonexistent/staff.txt"}, "SLACK_STAFF_FILE"),
        ({**SOCKET, "SLACK_STORE_CHANNELS": "LDN-01:general"}, "SLACK_STORE_CHANNELS"),
        ({**SOCKET, "SLACK_SUPPORT_CHANNEL": "#support"}, "SLACK_SUPPORT_CHANNEL"),
        ({**SOCKET, "SLACK_API_BASE_URL": "slack.com/api"}, "SLACK_API_BASE_URL"),
    ],
)
def test_mistakes_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        SlackSettings.from_env(env)


def test_default_channels_add_slack_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings("http://127.0.0.1:9")
    for key in list(os.environ):
        if key.startswith("SLACK_"):
            monkeypatch.delenv(key)
    without = [c.name for c in default_channels(settings)]
    assert "web" in without and "slack" not in without
    for key, value in EVENTS.items():
        monkeypatch.setenv(key, value)
    channels = default_channels(settings)
    assert [c.name for c in channels if c.name != "slack"] == without
    [slack] = [c for c in channels if c.name == "slack"]
    assert isinstance(slack, SlackChannel) and slack.settings.mode == "events"


def test_the_gateway_refuses_to_start_on_a_bad_slack_setting(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", "t" * 20)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_MODE", "events")
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    assert main() == 2
    assert "SLACK_SIGNING_SECRET" in caplog.text
