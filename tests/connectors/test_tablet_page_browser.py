"""The kiosk page in real Chromium (Debian ``chromium`` + Playwright): setup, a conversation, the idle wipe."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from connectors.tablet import TabletSettings
from connectors.tablet.translate import CALLED
from tests.browser import CHROMIUM, NO_CHROMIUM, chromium
from tests.connectors.gateway_fakes import FakeRasa
from tests.connectors.tablet_fixtures import TabletGateway, auth, start_tablet_gateway

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)

SCREENSHOT = os.environ.get("KIOSK_PAGE_SCREENSHOT")  # a .png path to look at the page
IDLE, COUNTDOWN = 2, 3


def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Fake rasa: a staff call for the quick button, buttons for "hi", an echo otherwise."""
    if body["message"] == "/human_handoff":
        return [{"custom": {"type": "staff_call", "store_id": "LDN-01", "ticket": "HO-000042", "summary": "s"}}]
    if body["message"] == "hi":
        return [
            {"text": "Hello! I can check stock in this shop.", "image": "/img/none.png"},
            {"buttons": [{"title": "Skincare", "payload": '/recommend_product{"category":"skincare"}'}]},
        ]
    return [{"text": f"echo: {body['message']}"}]


@pytest_asyncio.fixture
async def tablet(fake_rasa: FakeRasa) -> AsyncIterator[TabletGateway]:
    fake_rasa.replies = bot
    gateway = await start_tablet_gateway(fake_rasa, TabletSettings(idle_seconds=IDLE, countdown_seconds=COUNTDOWN))
    yield gateway
    await gateway.client.close()


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium that cannot resolve anything but loopback."""
    async with chromium() as instance:
        yield instance


async def test_conversation_staff_call_idle_countdown_and_wipe(
    tablet: TabletGateway, fake_rasa: FakeRasa, browser: Any
) -> None:
    _, token = tablet.register("LDN-01", "front door")
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    # Script errors and CSP refusals (the fake image's 404 is expected and not one of them).
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    sessions: list[str] = []

    async def record(response: Any) -> None:
        if response.url.endswith("/api/tablet/session") and response.status == 200:
            sessions.append((await response.json())["session_id"])

    page.on("response", record)
    await page.goto(str(tablet.client.make_url("/tablet")) + "#token=" + token)
    await page.get_by_role("heading", name="Covent Garden").wait_for()
    assert "token" not in page.url and page.url.endswith("/tablet")  # the token left the address bar
    assert await page.evaluate("Object.keys(localStorage)") == ["tablet.device_token"]

    # Big touch targets and large type.
    for name in ("Is this in stock here?", "Recommend something", "Call a staff member"):
        box = await page.get_by_role("button", name=name).bounding_box()
        assert box["height"] >= 48 and box["width"] >= 48, name
    font = await page.evaluate("parseFloat(getComputedStyle(document.getElementById('message')).fontSize)")
    assert font >= 20

    log = page.get_by_role("log")
    message = page.get_by_label("Your message")
    await message.fill("hi")
    await message.press("Enter")
    await log.get_by_text("Hello! I can check stock in this shop.").wait_for()
    await page.get_by_role("button", name="Call a staff member").click()
    await log.get_by_text(CALLED.format(ticket="HO-000042")).wait_for()
    [alert] = tablet.alerts.alerts
    assert alert.store_id == "LDN-01" and alert.conversation_id == f"tablet:{sessions[0]}"

    # "Is this in stock here?" asks for the product on the page; the name goes out as the stock question.
    await page.get_by_role("button", name="Is this in stock here?").click()
    await log.get_by_text("Which product? Type its name below").wait_for()
    assert await page.evaluate("document.activeElement.id") == "message"
    await message.fill('argan "repair" shampoo')
    await message.press("Enter")
    question = '/check_stock{"product":"argan \\"repair\\" shampoo"}'
    await log.get_by_text("echo: " + question).wait_for()
    await message.fill("thanks")
    await message.press("Enter")
    await log.get_by_text("echo: thanks").wait_for()  # only the one message after the button
    assert [b["message"] for b in fake_rasa.received] == ["hi", "/human_handoff", question, "thanks"]
    assert [b["metadata"] for b in fake_rasa.received] == [{"store_id": "LDN-01", "channel": "tablet"}] * 4

    # Idle: the countdown appears; "I'm still here" keeps the conversation.
    dialog = page.get_by_role("alertdialog", name="Still there?")
    await dialog.wait_for(timeout=(IDLE + 2) * 1000)
    await page.get_by_role("button", name="I'm still here").click()
    await dialog.wait_for(state="hidden")
    assert await log.get_by_text("Hello! I can check stock in this shop.").is_visible()
    assert len(sessions) == 1

    # Idle again, and nobody answers: the screen is wiped and a new conversation starts.
    await dialog.wait_for(timeout=(IDLE + 2) * 1000)
    if SCREENSHOT:
        await page.screenshot(path=SCREENSHOT)
    await playwright_api.expect(log.locator(".msg")).to_have_count(0, timeout=(COUNTDOWN + 3) * 1000)
    await dialog.wait_for(state="hidden")
    assert await log.inner_text() == "Hello! How can I help you today?"
    assert len(sessions) == 2 and sessions[0] != sessions[1]
    html = await page.content()
    for previous in ("Hello! I can check stock", "HO-000042", "Skincare", "on their way", "repair", sessions[0]):
        assert previous not in html, previous
    assert await page.evaluate("Object.keys(localStorage)") == ["tablet.device_token"]
    assert await page.evaluate("sessionStorage.length") == 0

    # The previous shopper's conversation is unreachable, even with the device's own token.
    status, body = await tablet.say(token, sessions[0], text="what did they ask?")
    assert (status, body["code"]) == (409, "session_ended")
    await message.fill("new shopper")
    await message.press("Enter")
    await log.get_by_text("echo: new shopper").wait_for()
    assert fake_rasa.received[-1]["sender"] == f"tablet:{sessions[1]}"
    assert {b["sender"] for b in fake_rasa.received} == {f"tablet:{sessions[0]}", f"tablet:{sessions[1]}"}
    assert not errors, errors


async def test_unknown_and_revoked_tokens_show_a_clear_message(tablet: TabletGateway, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(str(tablet.client.make_url("/tablet")))
    await page.get_by_role("heading", name="Set up this tablet").wait_for()
    await page.get_by_label("Device token").fill("tab_wrong")
    await page.get_by_role("button", name="Start").click()
    alert = page.get_by_role("alert")
    await alert.get_by_text("This tablet is not registered").wait_for()
    assert not await page.get_by_role("log").is_visible()

    device, token = tablet.register()
    await page.get_by_role("button", name="Enter a different token").click()
    await page.get_by_label("Device token").fill(token)
    await page.get_by_role("button", name="Start").click()
    await page.get_by_role("heading", name="Covent Garden").wait_for()

    tablet.registry.revoke(device.device_id)
    message = page.get_by_label("Your message")
    await message.fill("hello")
    await message.press("Enter")
    await alert.get_by_text("This tablet's registration was revoked").wait_for()
    assert not await page.get_by_role("log").is_visible()
    resp = await tablet.client.post("/api/tablet/session", headers=auth(token))
    assert resp.status == 403


async def test_the_servers_end_of_a_session_reaches_the_screen(fake_rasa: FakeRasa, browser: Any) -> None:
    """NEW-5: a page whose timers did not run (throttled, asleep, frozen) is wiped as soon as it next hears from
    the server that the session ended; a touch on the screen is told to the server and keeps the session."""
    fake_rasa.replies = bot
    tablet = await start_tablet_gateway(fake_rasa, TabletSettings(idle_seconds=60, countdown_seconds=10))
    try:
        _, token = tablet.register()
        page = await browser.new_page()
        polls: list[dict[str, Any]] = []
        # Polls the server has answered (not merely sent): the checks below move the clock right after one.
        page.on(
            "requestfinished",
            lambda r: polls.append(r.post_data_json) if r.url.endswith("/api/tablet/updates") else None,
        )
        await page.goto(str(tablet.client.make_url("/tablet")) + "#token=" + token)
        await page.get_by_role("heading", name="Covent Garden").wait_for()
        log = page.get_by_role("log")
        message = page.get_by_label("Your message")
        await message.fill("hi")
        await message.press("Enter")
        await log.get_by_text("Hello! I can check stock in this shop.").wait_for()
        first = fake_rasa.received[-1]["sender"].removeprefix("tablet:")

        # The shopper types (without sending): the next poll says so, and the server keeps the session.
        tablet.clock.advance(50)
        await message.press_sequentially("do you")
        for _ in range(50):
            if any(p.get("active") is True for p in polls):
                break
            await page.wait_for_timeout(100)
        assert any(p.get("active") is True and p["session_id"] == first for p in polls), polls
        tablet.clock.advance(50)  # 100 s after the answer, 50 after the typing
        assert (await tablet.say(token, first, text="still here"))[0] == 200

        # The page's own countdown is a minute away; the server's wipe time passes now.
        tablet.clock.advance(70)
        await playwright_api.expect(log.locator(".msg")).to_have_count(0, timeout=8000)
        assert await log.inner_text() == "Hello! How can I help you today?"
        assert "Hello! I can check stock" not in await page.content()
        assert await message.input_value() == ""
        await message.fill("new shopper")
        await message.press("Enter")
        await log.get_by_text("echo: new shopper").wait_for()
        second = fake_rasa.received[-1]["sender"].removeprefix("tablet:")
        assert second != first
        assert (await tablet.say(token, first, text="what did they ask?"))[0] == 409
    finally:
        await tablet.client.close()
