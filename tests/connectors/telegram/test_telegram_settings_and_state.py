"""Telegram settings from the environment, the long-payload table, the update-id memory and default_channels."""

from __future__ import annotations

import tempfile

import pytest
from sqlalchemy.orm import sessionmaker

from connectors.app import default_channels
from connectors.db import create_schema, gateway_engine
from connectors.errors import SettingsError
from connectors.telegram import TelegramChannel
from connectors.telegram.settings import TelegramSettings
from connectors.telegram.state import CallbackStore, RecentUpdates
from connectors.telegram.translate import callback_data_for
from tests.connectors.gateway_fakes import make_settings
from tests.fakes.telegram_api import TOKEN

SECRET = "0123456789abcdef-_XYZ"


def test_the_channel_is_off_without_a_token() -> None:
    assert TelegramSettings.from_env({}) is None
    assert TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": "  "}) is None


def test_defaults_are_long_polling_against_telegram() -> None:
    settings = TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN})
    assert settings is not None
    assert (settings.mode, settings.api_base_url, settings.poll_timeout) == ("polling", "https://api.telegram.org", 30)
    assert TOKEN not in repr(settings)


def test_webhook_settings() -> None:
    settings = TelegramSettings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_MODE": "Webhook",
            "TELEGRAM_WEBHOOK_URL": "https://bot.shop.example/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9999/",
            "TELEGRAM_POLL_TIMEOUT": "0",
        }
    )
    assert settings is not None
    assert (settings.mode, settings.webhook_url, settings.api_base_url, settings.poll_timeout) == (
        "webhook",
        "https://bot.shop.example/telegram/webhook",
        "http://127.0.0.1:9999",
        0,
    )
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"TELEGRAM_MODE": "push"}, "TELEGRAM_MODE"),
        ({"TELEGRAM_API_BASE_URL": "api.telegram.org"}, "TELEGRAM_API_BASE_URL"),
        ({"TELEGRAM_POLL_TIMEOUT": "soon"}, "TELEGRAM_POLL_TIMEOUT"),
        ({"TELEGRAM_POLL_TIMEOUT": "600"}, "TELEGRAM_POLL_TIMEOUT"),
        ({"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": SECRET}, "TELEGRAM_WEBHOOK_URL"),
        ({"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_URL": "https://x.example/t"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_SECRET": "short"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_SECRET": "has spaces in it, sixteen+"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_WEBHOOK_URL": "ftp://x.example/t"}, "TELEGRAM_WEBHOOK_URL"),
    ],
)
def test_invalid_settings_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        TelegramSettings.from_env({"TELEGRAM_BOT_TOKEN": TOKEN, **env})


def test_default_channels_add_telegram_only_when_its_token_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings("http://127.0.0.1:5005")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    without = [c.name for c in default_channels(settings)]
    assert "web" in without and "telegram" not in without
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    channels = default_channels(settings)
    assert [c.name for c in channels if c.name != "telegram"] == without
    [telegram] = [c for c in channels if c.name == "telegram"]
    assert isinstance(telegram, TelegramChannel)
    assert telegram.max_message_chars == settings.max_message_chars
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_URL"):
        default_channels(settings)


def test_long_payloads_survive_a_new_store_on_the_same_database() -> None:
    engine = gateway_engine(f"sqlite:///{tempfile.mkdtemp(prefix='tg-state-')}/gateway.db")
    create_schema(engine)
    payload = '/recommend_product{"product": "' + "Hydrating Rose Water Facial Toner" * 2 + '"}'
    short_id = callback_data_for(payload)
    store = CallbackStore(sessionmaker(engine))
    store.remember({short_id: payload})
    store.remember({short_id: payload})  # the same payload again is a no-op, not a duplicate key
    restarted = CallbackStore(sessionmaker(engine))
    assert restarted.lookup(short_id) == payload
    assert restarted.lookup(callback_data_for("/never stored" * 10)) is None
    engine.dispose()


def test_recent_updates_remember_a_bounded_window() -> None:
    recent = RecentUpdates(size=3)
    assert [recent.first_time(i) for i in (1, 2, 1, 3, 4)] == [True, True, False, True, True]
    assert len(recent) == 3
    assert recent.first_time(1) is True  # forgotten: the oldest id left the window
    assert recent.first_time(4) is False
