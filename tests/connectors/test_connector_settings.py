"""Tests of reading gateway settings from the environment (connectors.settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import SettingsError
from connectors.settings import Settings
from gateway import main


def test_defaults_with_token_file(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "gateway_token").write_text("s3cret\n")
    settings = Settings.from_env({}, root=tmp_path)
    assert settings.gateway_token == "s3cret"
    assert (settings.rasa_url, settings.host, settings.port) == (
        "http://127.0.0.1:5005",
        "127.0.0.1",
        8000,
    )
    assert settings.max_message_chars == 2000
    assert "s3cret" not in repr(settings)


def test_environment_overrides(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_TOKEN": "from-env",
            "RASA_URL": "http://rasa:5005/",
            "GATEWAY_HOST": "0.0.0.0",
            "GATEWAY_PORT": "9000",
            "GATEWAY_MAX_MESSAGE_CHARS": "500",
            "RASA_TIMEOUT": "5",
            "GATEWAY_ALLOWED_ORIGINS": "https://shop.example/, https://www.shop.example",
        },
        root=tmp_path,
    )
    assert settings.gateway_token == "from-env"
    assert settings.rasa_url == "http://rasa:5005"
    assert (
        settings.host,
        settings.port,
        settings.max_message_chars,
        settings.rasa_timeout,
    ) == ("0.0.0.0", 9000, 500, 5.0)
    assert settings.allowed_origins == (
        "https://shop.example",
        "https://www.shop.example",
    )


def test_token_file_setting(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("abc")
    assert (
        Settings.from_env(
            {"GATEWAY_TOKEN_FILE": str(tmp_path / "tok")}, root=Path("/nonexistent")
        ).gateway_token
        == "abc"
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "GATEWAY_TOKEN is not set"),
        ({"GATEWAY_TOKEN": "x", "GATEWAY_PORT": "eighty"}, "GATEWAY_PORT"),
        ({"GATEWAY_TOKEN": "x", "GATEWAY_PORT": "70000"}, "GATEWAY_PORT"),
        ({"GATEWAY_TOKEN": "x", "RASA_URL": "rasa:5005"}, "RASA_URL"),
        (
            {"GATEWAY_TOKEN": "x", "GATEWAY_MAX_MESSAGE_CHARS": "0"},
            "GATEWAY_MAX_MESSAGE_CHARS",
        ),
        ({"GATEWAY_TOKEN": "x", "RASA_TIMEOUT": "-1"}, "RASA_TIMEOUT"),
    ],
)
def test_errors_name_the_variable(
    tmp_path: Path, env: dict[str, str], needle: str
) -> None:
    with pytest.raises(SettingsError, match=needle):
        Settings.from_env(env, root=tmp_path)


def test_empty_token_file(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "gateway_token").write_text("\n")
    with pytest.raises(SettingsError, match="empty"):
        Settings.from_env({}, root=tmp_path)


def test_messages_name_the_variable_its_range_and_its_default(tmp_path: Path) -> None:
    env = {"GATEWAY_TOKEN": "t", "GATEWAY_PORT": "eighty"}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env, root=tmp_path)
    assert str(caught.value) == (
        "GATEWAY_PORT must be a whole number between 0 and 65535, got 'eighty' (unset it for the default, 8000)"
    )
    # an empty or blank variable is unset, as in the shell scripts that write FOO=
    assert Settings.from_env({**env, "GATEWAY_PORT": "  "}, root=tmp_path).port == 8000


def test_building_settings_in_code_never_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "not a port")
    assert Settings(gateway_token="t").port == 8000
    with pytest.raises(SettingsError, match="GATEWAY_MAX_MESSAGE_CHARS must be between 1 and 100000"):
        Settings(gateway_token="t", max_message_chars=0)  # wrong values in code are named the same way


@pytest.mark.parametrize(
    ("name", "value"),
    [("GATEWAY_MAX_IN_FLIGHT", "0"), ("CONSOLE_LOW_CONFIDENCE", "150"), ("SHOP_PROOF_FAILURES_PER_ORDER", "none")],
)
def test_the_gateway_refuses_to_start_on_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, name: str, value: str
) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", "t" * 20)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("TRACKER_DB_URL", "sqlite://")
    monkeypatch.setenv("SHOP_DATABASE_URL", "sqlite://")
    monkeypatch.setenv(name, value)
    assert main() == 2
    assert f"cannot start the gateway: {name} must be" in caplog.text
