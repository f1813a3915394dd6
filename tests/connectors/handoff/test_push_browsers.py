"""Pushed messages in real Chromium: the kiosk page polls them in, the widget shows them live and after a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from connectors.keys import PUSH_KEY
from connectors.models import OutboundMessage
from tests.browser import CHROMIUM, NO_CHROMIUM, chromium
from tests.connectors.gateway_fakes import FakeRasa
from tests.connectors.handoff.conftest import HandoffGateway
from tests.connectors.tablet_fixtures import start_tablet_gateway

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium that cannot resolve anything but loopback."""
    async with chromium() as instance:
        yield instance


async def test_the_kiosk_page_shows_a_staff_reply_without_the_shopper_typing(fake_rasa: FakeRasa, browser: Any) -> None:
    tablet = await start_tablet_gateway(fake_rasa)
    try:
        _, token = tablet.register("LDN-01", "front door")
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
        sessions: list[str] = []

        async def record(response: Any) -> None:
            if response.url.endswith("/api/tablet/session") and response.status == 200:
                sessions.append((await response.json())["session_id"])

        page.on("response", record)
        await page.goto(str(tablet.client.make_url("/tablet")) + "#token=" + token)
        await page.get_by_role("heading", name="Covent Garden").wait_for()
        log = page.get_by_role("log")
        await page.get_by_label("Your message").fill("hi")
        await page.get_by_label("Your message").press("Enter")
        await log.get_by_text("echo: hi").wait_for()
        await tablet.client.app[PUSH_KEY].push(
            f"tablet:{sessions[0]}", [OutboundMessage(text="Sam (staff): I'm on my way to the tablet")]
        )
        await log.get_by_text("Sam (staff): I'm on my way to the tablet").wait_for(timeout=8000)
        assert [b["message"] for b in fake_rasa.received] == ["hi"]  # the poll never reaches rasa
        assert errors == []
    finally:
        await tablet.client.close()


async def test_the_widget_shows_a_pushed_reply_live_and_after_a_reload(
    handoff_gateway: HandoffGateway, browser: Any
) -> None:
    gw = handoff_gateway
    context = await browser.new_context()  # one profile: the conversation id survives closing the tab
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(str(gw.client.make_url("/")))
    await page.get_by_role("textbox").first.fill("hello")
    await page.get_by_role("textbox").first.press("Enter")
    await page.get_by_text("echo: hello").wait_for()
    conversation = await page.evaluate(
        "Object.keys(localStorage).filter(k => /conversation/.test(k)).map(k => localStorage.getItem(k))[0]"
    )
    assert conversation
    router = gw.client.app[PUSH_KEY]
    await router.push(f"web:{conversation}", [OutboundMessage(text="Sam (staff): live reply")])
    await page.get_by_text("Sam (staff): live reply").wait_for(timeout=5000)
    await page.close()
    # The customer is away when the next reply comes; it is there when they come back.
    await router.push(f"web:{conversation}", [OutboundMessage(text="Sam (staff): while you were away")])
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(str(gw.client.make_url("/")))
    await page.get_by_text("Sam (staff): while you were away").wait_for(timeout=8000)
    assert errors == []
