"""Tests of reading gateway settings from the environment (connectors.settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import SettingsError
from connectors.settings import Settings


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
