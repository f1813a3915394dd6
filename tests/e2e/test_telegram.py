"""Telegram end to end: the real gateway process long-polls a fake Bot API; rasa and the actions answer.

A customer tracks an order in a private chat: every message reaches the real rasa (trained model)
through the gateway's Telegram channel, the action server checks the order store, and the replies
come back as Bot API calls to the fake server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import launch
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, text_update

pytestmark = pytest.mark.e2e

CHAT = 770011


@dataclass
class TelegramStack:
    """The fake Bot API the gateway polls, and the demo shop's cases."""

    api: FakeTelegramApi
    cases: dict[str, dict[str, Any]]
    gateway_log: Path


@pytest.fixture(scope="module")
def telegram_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramStack]:
    """rasa, actions and a gateway with TELEGRAM_BOT_TOKEN set, pointed at a fake Bot API (one per module)."""
    api = FakeTelegramApi()
    api.start_in_thread()
    extra = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": api.base_url, "TELEGRAM_POLL_TIMEOUT": "2"}
    try:
        with launch(tmp_path_factory.mktemp("e2e-telegram"), extra) as running:
            api.wait_for_sync("getUpdates", timeout=60)  # the gateway is long-polling the fake
            yield TelegramStack(api, running.cases, running.config.log_dir / "gateway.log")
    finally:
        api.stop_thread()


class TelegramChat:
    """One customer in a private chat with the bot, through the fake Bot API."""

    def __init__(self, api: FakeTelegramApi, chat_id: int) -> None:
        self.api = api
        self.chat_id = chat_id
        self.transcript: list[str] = []

    def _sent(self) -> list[dict[str, Any]]:
        calls = [c for c in self.api.calls if c.method in ("sendMessage", "sendPhoto")]
        return [c.params for c in calls if c.params.get("chat_id") == self.chat_id]

    def say(self, text: str, expect: str, timeout: float = 120.0) -> str:
        """Send ``text``; wait until a reply containing ``expect`` (case-insensitive) arrives; return all replies."""
        seen = len(self._sent())
        self.transcript.append(f"user: {text}")
        self.api.add_update(text_update(text, chat_id=self.chat_id))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = [m.get("text") or m.get("caption") or "" for m in self._sent()[seen:]]
            if any(expect.lower() in r.lower() for r in replies):
                time.sleep(0.5)  # let the rest of this turn's messages arrive
                replies = [m.get("text") or m.get("caption") or "" for m in self._sent()[seen:]]
                self.transcript.extend(f"bot: {r}" for r in replies)
                return "\n".join(replies)
            time.sleep(0.1)
        replies = [m.get("text") or "" for m in self._sent()[seen:]]
        raise AssertionError(f"no reply with {expect!r}; got {replies}\n" + "\n".join(self.transcript))


def test_a_customer_tracks_an_order_over_telegram(telegram_stack: TelegramStack) -> None:
    case = telegram_stack.cases["in_transit"]
    chat = TelegramChat(telegram_stack.api, CHAT)
    chat.say("hi, where is my order?", expect="order number")
    reply = chat.say(case["order_number"].replace("ORD-", "#"), expect="postcode")
    assert "email" in reply.lower(), chat.transcript
    reply = chat.say(case["email"], expect=f"that matches order {case['order_number']}")
    assert "tracking number" in reply and "Estimated delivery" in reply, chat.transcript

    # another customer on Telegram sees nothing of that conversation
    stranger = TelegramChat(telegram_stack.api, CHAT + 1)
    reply = stranger.say(f"track order {case['order_number']}", expect="postcode")
    assert "tracking number" not in reply, stranger.transcript
    assert telegram_stack.api.calls_to("deleteWebhook"), "polling mode starts by deleting any webhook"
    log = telegram_stack.gateway_log.read_text()
    assert "telegram channel up as @shop_support_bot (long polling)" in log
    assert TOKEN not in log, "the bot token (part of every Bot API URL) must never reach the log"
