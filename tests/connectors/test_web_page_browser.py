"""The chat page driven in real Chromium (Debian ``chromium`` + Playwright); skipped when either is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from tests.connectors.gateway_fakes import FakeRasa

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed"),
]

SCREENSHOT = os.environ.get(
    "CHAT_PAGE_SCREENSHOT"
)  # set to a .png path to look at the page
PAYLOAD = '/inform{"order_number":"ORD-100001"}'


def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Fake rasa replies: buttons and an image for "hi", an echo otherwise."""
    if body["message"] == "hi":
        return [
            {"text": "Hello! Which order?", "image": "/img/none.png"},
            {"buttons": [{"title": "Track ORD-100001", "payload": PAYLOAD}]},
        ]
    return [{"text": f"echo: {body['message']}"}]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium that cannot resolve anything but loopback."""
    async with playwright_api.async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--no-sandbox",
            ],
        )
        yield instance
        await instance.close()


async def test_chat_over_websocket(
    gateway: TestClient, fake_rasa: FakeRasa, browser: Any
) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    async with page.expect_websocket() as opened:
        await page.goto(str(gateway.make_url("/")))
    socket = await opened.value
    assert "/api/web/ws?conversation_id=" in socket.url
    log = page.get_by_role("log")

    box = page.get_by_label("Your message")
    await box.fill("hi")
    await box.press("Enter")
    await log.get_by_text("Hello! Which order?").wait_for()
    assert await log.locator("img").get_attribute("src") == "/img/none.png"

    await page.get_by_role("button", name="Track ORD-100001").click()
    await log.get_by_text("echo: " + PAYLOAD).wait_for()
    assert await log.locator(".msg--user p").all_inner_texts() == [
        "hi",
        "Track ORD-100001",
    ]
    button = page.get_by_role("button", name="Track ORD-100001")
    assert await button.is_disabled()  # a button group is used once
    assert await page.evaluate("document.activeElement.id") == "message"
    senders = {b["sender"] for b in fake_rasa.received}
    assert len(senders) == 1
    assert [b["message"] for b in fake_rasa.received] == ["hi", PAYLOAD]

    await page.reload()  # same conversation, transcript restored
    await log.get_by_text("Hello! Which order?").wait_for()
    await box.fill("still me")
    await box.press("Enter")
    await log.get_by_text("echo: still me").wait_for()
    assert fake_rasa.received[-1]["sender"] in senders

    await page.get_by_role("button", name="New conversation").click()
    assert await log.locator(".msg--user").count() == 0
    await box.fill("fresh")
    await box.press("Enter")
    await log.get_by_text("echo: fresh").wait_for()
    assert fake_rasa.received[-1]["sender"] not in senders
    assert not [e for e in errors if "Content Security Policy" in e], errors


async def test_post_fallback_and_rasa_down(
    gateway: TestClient, fake_rasa: FakeRasa, browser: Any
) -> None:
    page = await browser.new_page()
    await page.add_init_script("delete window.WebSocket")
    await page.goto(str(gateway.make_url("/")))
    log = page.get_by_role("log")
    box = page.get_by_label("Your message")
    await box.fill("over http")
    await box.press("Enter")
    await log.get_by_text("echo: over http").wait_for()

    await fake_rasa.stop()
    await box.fill("anyone?")
    await box.press("Enter")
    await log.get_by_text(
        "the assistant is restarting, please try again in a moment"
    ).wait_for()
    if SCREENSHOT:
        await page.screenshot(path=SCREENSHOT)
