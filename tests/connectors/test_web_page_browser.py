"""The chat widget driven in real Chromium (Debian ``chromium`` + Playwright) against the gateway and a fake rasa.

Skipped, with the reason, when Playwright or Chromium is missing.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.admission import AdmissionSettings
from connectors.rasa_client import RasaClient
from connectors.web import WebChannel
from connectors.web.settings import WebSettings
from connectors.web.translate import WebLimits
from gateway import create_app
from tests.browser import CHROMIUM, NO_CHROMIUM, chromium
from tests.connectors.gateway_fakes import TOKEN, FakeRasa, make_settings

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)

SCREENSHOTS = os.environ.get("WIDGET_SCREENSHOTS")  # a folder: save what the tests saw, to look at
PAYLOAD = '/inform{"order_number":"ORD-100001"}'
HOST_JS = "document.getElementById('shop-assistant-widget')"
ACTIVE_JS = f"""() => {{
  const a = {HOST_JS}.shadowRoot.activeElement;
  return a ? (a.getAttribute('aria-label') || a.id || a.textContent) : null;
}}"""

CARDS = {
    "type": "product_cards",
    "products": [
        {
            "sku": "SKU-1",
            "title": "Linen shirt",
            "price": "39.00",
            "price_text": "£39.00",
            "currency": "GBP",
            "image": "/img/linen.png",
            "url": "https://shop.example/p/linen",
            "reason": "Popular this week",
            "text": "Linen shirt by Northwind: £39.00",
            "buttons": [{"title": "More like this", "payload": '/recommend_product{"product":"Linen shirt"}'}],
        },
        {
            "sku": "SKU-2",
            "title": "Merino beanie",
            "price": "24.00",
            "currency": "GBP",
            "image": "https://shop.example/img/beanie.png",
            "reason": "Goes with what you bought",
            "text": "Merino beanie by Northwind: £24.00",
            "payload": '/recommend_product{"product":"Merino beanie"}',
        },
    ],
}


def bot(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Fake rasa: buttons and an image for "hi", product cards (and their text fallback) for "gift", else echo."""
    message = body["message"]
    if message == "hi":
        return [
            {"text": "Hello! Which order?", "image": "/img/none.png"},
            {"buttons": [{"title": "Track ORD-100001", "payload": PAYLOAD}]},
        ]
    if message == "gift":
        return [
            {"text": "Here are some ideas:"},
            {"custom": CARDS},
            *({"text": p["text"], "image": p["image"]} for p in CARDS["products"]),
        ]
    if message == "link":
        return [{"text": "Read https://shop.example/returns. <img src=x onerror=alert(1)> <b>bold</b>"}]
    return [{"text": f"echo: {message}"}]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium that cannot resolve anything but loopback."""
    async with chromium() as instance:
        yield instance


@asynccontextmanager
async def gateway_with(
    fake_rasa: FakeRasa,
    allowed_origins: tuple[str, ...] = (),
    admission: AdmissionSettings | None = None,
    **web_settings: Any,
) -> AsyncIterator[tuple[TestClient, WebChannel]]:
    """A gateway with its web channel in reach (to cut connections, read counters)."""
    extra = {"admission": admission} if admission is not None else {}
    settings = make_settings(fake_rasa.url, allowed_origins=allowed_origins, **extra)
    channel = WebChannel(
        WebLimits(max_message_chars=2000), allowed_origins=allowed_origins, settings=WebSettings(**web_settings)
    )
    app = create_app(settings, RasaClient(settings.rasa_url, TOKEN, 5.0, health_timeout=0.5), channels=[channel])
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client, channel


class Console:
    """Collects a page's console errors and page errors (CSP violations, exceptions)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    @property
    def unexpected(self) -> list[str]:
        """Errors besides the fake images (404 on the gateway, unresolvable shop.example)."""
        return [e for e in self.errors if "404" not in e and "ERR_NAME_NOT_RESOLVED" not in e]


async def open_widget(page: Any) -> Any:
    """Press the launcher; return the conversation log."""
    await page.get_by_role("button", name="Open chat: Shop assistant").click()
    return page.get_by_role("log", name="Conversation")


async def say(page: Any, text: str) -> None:
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")


async def shot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        await page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"))


async def test_chat_buttons_reload_and_new_conversation(
    gateway: TestClient, fake_rasa: FakeRasa, browser: Any
) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    console = Console(page)
    await page.goto(str(gateway.make_url("/shop")))
    assert await page.get_by_role("dialog").count() == 0  # /shop starts closed
    async with page.expect_websocket() as opened:
        log = await open_widget(page)
    socket = await opened.value
    assert "/api/web/ws?conversation_id=" in socket.url
    assert await page.get_by_role("dialog", name="Shop assistant").is_visible()

    await say(page, "hi")
    await log.get_by_text("Hello! Which order?").wait_for()
    assert await log.locator("img").get_attribute("src") == str(gateway.make_url("/img/none.png"))
    await page.get_by_role("button", name="Track ORD-100001").click()
    await log.get_by_text("echo: " + PAYLOAD).wait_for()
    assert await log.locator(".msg--user p").all_inner_texts() == ["hi", "Track ORD-100001"]
    assert await page.get_by_role("button", name="Track ORD-100001").is_disabled()  # a group is used once
    assert await page.evaluate(ACTIVE_JS) == "sa-input"
    senders = {b["sender"] for b in fake_rasa.received}
    assert len(senders) == 1
    assert [b["message"] for b in fake_rasa.received] == ["hi", PAYLOAD]

    await page.reload()  # open again (it was open), same conversation, history from the gateway
    await log.get_by_text("echo: " + PAYLOAD).wait_for()
    assert await log.locator(".msg--user p").all_inner_texts() == ["hi", "Track ORD-100001"]
    assert await log.locator(".msg--bot").count() == 3
    assert await page.get_by_role("button", name="Track ORD-100001").is_disabled()  # old buttons stay spent
    await say(page, "still me")
    await log.get_by_text("echo: still me").wait_for()
    assert fake_rasa.received[-1]["sender"] in senders

    await page.goto(str(gateway.make_url("/shop")))  # navigating keeps it open and the history
    await log.get_by_text("echo: still me").wait_for()

    await page.get_by_role("button", name="New conversation").click()  # asks first
    await page.get_by_role("button", name="Keep this one").click()
    assert await log.locator(".msg--user").count() == 3
    await page.get_by_role("button", name="New conversation").click()
    await page.get_by_role("button", name="Start a new conversation").click()
    assert await log.locator(".msg--user").count() == 0
    assert await log.get_by_role("button", name="Where is my order?").is_visible()  # starters on an empty chat
    await say(page, "fresh")
    await log.get_by_text("echo: fresh").wait_for()
    assert fake_rasa.received[-1]["sender"] not in senders
    assert len(fake_rasa.received) == 4
    await shot(page, "widget-desktop")
    assert not console.unexpected, console.errors


async def test_product_cards_links_and_no_html_injection(
    gateway: TestClient, fake_rasa: FakeRasa, browser: Any
) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    console = Console(page)
    await page.goto(str(gateway.make_url("/")))  # "/" opens the chat on load
    log = page.get_by_role("log", name="Conversation")
    await say(page, "gift")
    cards = log.get_by_role("list", name="Suggested products").get_by_role("listitem")
    await cards.first.wait_for()
    assert await cards.count() == 2
    first, second = cards.nth(0), cards.nth(1)
    assert await first.get_by_role("heading").inner_text() == "Linen shirt"
    assert await first.locator(".price").inner_text() == "£39.00"
    # the fake shop's image is a 404: the card falls back to the picture the gateway draws for its SKU
    picture = first.get_by_role("img", name="Linen shirt")
    await playwright_api.expect(picture).to_have_attribute("src", str(gateway.make_url("/media/products/SKU-1.svg")))
    await page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=await picture.element_handle())
    assert await first.get_by_role("link", name="View product").get_attribute("href") == "https://shop.example/p/linen"
    assert await second.locator(".price").inner_text() == "£24.00"  # formatted from price + currency
    assert await second.get_by_text("Goes with what you bought").is_visible()
    # the per-product text messages are the fallback for channels without cards: not shown twice
    assert await log.get_by_text("Linen shirt by Northwind: £39.00").count() == 0
    assert await log.locator(".msg--bot").count() == 1  # only "Here are some ideas:"

    await first.get_by_role("button", name="More like this: Linen shirt").click()
    await log.get_by_text('echo: /recommend_product{"product":"Linen shirt"}').wait_for()
    assert (await log.locator(".msg--user p").all_inner_texts())[-1] == "More like this"
    await second.get_by_role("button", name="Tell me more: Merino beanie").click()
    await log.get_by_text('echo: /recommend_product{"product":"Merino beanie"}').wait_for()

    await say(page, "link")
    message = log.locator(".msg--bot").filter(has_text="Read ")
    await message.wait_for()
    link = message.get_by_role("link")
    assert await link.get_attribute("href") == "https://shop.example/returns"  # the full stop stays text
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow"
    assert "<img src=x onerror=alert(1)> <b>bold</b>" in await message.inner_text()
    assert await message.locator("img, b").count() == 0
    await shot(page, "widget-cards")
    assert not console.unexpected, console.errors


async def test_dropped_connection_reconnects_and_sends_once(fake_rasa: FakeRasa, browser: Any) -> None:
    fake_rasa.replies = bot
    async with gateway_with(fake_rasa) as (gateway, channel):
        context = await browser.new_context()
        page = await context.new_page()
        sockets: list[Any] = []
        page.on("websocket", lambda ws: sockets.append(ws))
        await page.goto(str(gateway.make_url("/")))
        log = page.get_by_role("log", name="Conversation")
        await say(page, "before")
        await log.get_by_text("echo: before").wait_for()

        # 1. offline (the widget gives its socket up), the connection is cut; a message typed meanwhile waits
        await context.set_offline(True)
        status = page.get_by_role("status").filter(has_text="You are offline. Reconnecting")
        await status.wait_for()
        channel.drop_connections()
        await say(page, "while offline")
        await log.get_by_text("Sending…").wait_for()
        await asyncio.sleep(0.5)
        assert [b["message"] for b in fake_rasa.received] == ["before"]
        await shot(page, "widget-reconnecting")
        await context.set_offline(False)
        await log.get_by_text("echo: while offline").wait_for()
        await status.wait_for(state="detached")

        # 2. the connection is cut while rasa is still answering: the resend is answered from the transcript
        # (the indicator shows only after 0.4 s, and the widget reconnects after ~0.5 s: rasa takes 2 s)
        fake_rasa.delay = 2.0
        await say(page, "slow")
        await page.get_by_text("The assistant is typing…").wait_for()
        channel.drop_connections()
        await log.get_by_text("echo: slow").wait_for()
        replayed = channel.dispatcher.counts["web.replayed"]
        assert replayed >= 1

        # 3. the answer is stored while the browser is away: the history brings it, nothing is resent
        fake_rasa.delay = 0.3  # quicker than the typing indicator's delay: wait for rasa to have it instead
        await say(page, "answered while away")
        for _ in range(50):
            if fake_rasa.received and fake_rasa.received[-1]["message"] == "answered while away":
                break
            await asyncio.sleep(0.05)
        await context.set_offline(True)
        channel.drop_connections()
        for _ in range(50):
            await asyncio.sleep(0.1)
            rows, _ = channel.transcript.history(fake_rasa.received[-1]["sender"].removeprefix("web:"), 1)
            if rows and rows[0].role == "bot":
                break
        await context.set_offline(False)
        await log.get_by_text("echo: answered while away").wait_for()
        assert channel.dispatcher.counts["web.replayed"] == replayed  # the history had it: no resend
        fake_rasa.delay = 0
        await say(page, "after")
        await log.get_by_text("echo: after").wait_for()

        sent = ["before", "while offline", "slow", "answered while away", "after"]
        assert [b["message"] for b in fake_rasa.received] == sent
        for text in sent[1:4]:
            assert await log.get_by_text(text, exact=True).count() == 1, text
            assert await log.get_by_text(f"echo: {text}", exact=True).count() == 1, text
        assert await log.get_by_text("Sending…").count() == 0
        assert len(sockets) >= 4  # it really reconnected, three times
        await page.reload()  # and the history agrees with what was shown
        await log.get_by_text("echo: after").wait_for()
        assert await log.locator(".msg--user p").all_inner_texts() == sent
        await context.close()


async def test_silent_stall_is_noticed_and_the_message_resent(fake_rasa: FakeRasa, browser: Any) -> None:
    """A connection that stops carrying frames without closing (a dead NAT entry, a sleeping laptop)."""
    fake_rasa.replies = bot
    async with gateway_with(fake_rasa) as (gateway, _):
        page = await browser.new_page()
        routes: list[dict[str, bool]] = []

        async def route(ws: Any) -> None:  # every socket passes here; a "stalled" one silently drops frames
            state = {"stalled": False}
            routes.append(state)
            server = ws.connect_to_server()
            ws.on_message(lambda m: None if state["stalled"] else server.send(m))
            server.on_message(lambda m: None if state["stalled"] else ws.send(m))

        await page.route_web_socket(re.compile(r".*/api/web/ws\?.*"), route)
        await page.goto(str(gateway.make_url("/")))
        log = page.get_by_role("log", name="Conversation")
        await say(page, "one")
        await log.get_by_text("echo: one").wait_for()
        routes[-1]["stalled"] = True
        await say(page, "into the void")
        await asyncio.sleep(2)
        assert [b["message"] for b in fake_rasa.received] == ["one"]  # it really did not get through
        # no "typing" within 10 s: the widget gives the socket up, reconnects and resends
        await log.get_by_text("echo: into the void").wait_for(timeout=20_000)
        assert len(routes) == 2
        assert [b["message"] for b in fake_rasa.received] == ["one", "into the void"]
        assert await log.get_by_text("echo: into the void", exact=True).count() == 1


async def test_keyboard_only(gateway: TestClient, fake_rasa: FakeRasa, browser: Any) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    await page.goto(str(gateway.make_url("/shop")))
    for _ in range(80):  # tab through the shop page (its catalogue cards) to the launcher, the last thing on it
        await page.keyboard.press("Tab")
        if await page.evaluate(ACTIVE_JS) == "Open chat: Shop assistant":
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    launcher = page.get_by_role("button", name="Open chat: Shop assistant")
    await page.keyboard.press("Enter")
    assert await page.evaluate(ACTIVE_JS) == "sa-input"  # focus moves into the chat
    assert await page.get_by_role("button", name="Close chat: Shop assistant").get_attribute("aria-expanded") == "true"
    await page.keyboard.type("hi")
    await page.keyboard.press("Enter")
    log = page.get_by_role("log", name="Conversation")
    await log.get_by_text("Hello! Which order?").wait_for()
    await page.keyboard.press("Shift+Tab")  # back from the input: the suggested reply
    assert await page.evaluate(ACTIVE_JS) == "Track ORD-100001"
    await page.keyboard.press("Enter")
    await log.get_by_text("echo: " + PAYLOAD).wait_for()
    assert await page.evaluate(ACTIVE_JS) == "sa-input"
    await page.keyboard.press("Tab")
    assert await page.evaluate(ACTIVE_JS) == "Attach a photo"
    await page.keyboard.press("Tab")
    assert await page.evaluate(ACTIVE_JS) == "Send"
    await page.keyboard.press("Escape")  # closes and gives focus back to the launcher
    assert await page.get_by_role("dialog").count() == 0
    assert await page.evaluate(ACTIVE_JS) == "Open chat: Shop assistant"
    assert await launcher.get_attribute("aria-expanded") == "false"
    await page.keyboard.press("Enter")
    assert await page.evaluate(ACTIVE_JS) == "sa-input"
    # the page's own "chat with us" links can use the small JS API
    await page.evaluate("window.ShopAssistant.close()")
    assert await page.get_by_role("dialog").count() == 0
    await page.evaluate("window.ShopAssistant.open()")
    assert await page.get_by_role("dialog", name="Shop assistant").is_visible()
    assert await page.evaluate(ACTIVE_JS) == "sa-input"


async def test_phone_viewport(gateway: TestClient, fake_rasa: FakeRasa, browser: Any) -> None:
    fake_rasa.replies = bot
    context = await browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page = await context.new_page()
    await page.goto(str(gateway.make_url("/shop")))
    launcher = page.get_by_role("button", name="Open chat: Shop assistant")
    box = await launcher.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667
    await launcher.tap()
    panel = page.get_by_role("dialog", name="Shop assistant")
    assert await panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}  # full screen
    assert not await launcher.is_visible()  # the panel's own close button takes over
    await say(page, "gift")
    log = page.get_by_role("log", name="Conversation")
    await log.get_by_role("listitem").first.wait_for()
    field = await page.get_by_label("Your message").bounding_box()
    send = await page.get_by_role("button", name="Send").bounding_box()
    assert field is not None and send is not None
    assert send["x"] + send["width"] <= 375 and field["y"] + field["height"] <= 667
    assert send["height"] >= 32  # a touch target, not a speck
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375  # cards scroll inside the chat
    await shot(page, "widget-phone")
    await page.get_by_role("button", name="Close chat", exact=True).tap()
    assert await launcher.is_visible()
    await context.close()


async def test_rate_limit_is_a_polite_line_and_the_socket_stays(fake_rasa: FakeRasa, browser: Any) -> None:
    async with gateway_with(fake_rasa, rate_per_conversation=2) as (gateway, _):
        page = await browser.new_page()
        sockets: list[Any] = []
        page.on("websocket", lambda ws: sockets.append(ws))
        await page.goto(str(gateway.make_url("/")))
        log = page.get_by_role("log", name="Conversation")
        for text in ("one", "two"):
            await say(page, text)
            await log.get_by_text(f"echo: {text}").wait_for()
        await say(page, "three")
        await log.get_by_text("You're sending messages faster than the assistant can answer.").wait_for()
        assert await log.get_by_text("Not delivered").count() == 1
        assert [b["message"] for b in fake_rasa.received] == ["one", "two"]
        assert len(sockets) == 1 and not sockets[0].is_closed()


async def test_cross_origin_embedding(fake_rasa: FakeRasa, browser: Any) -> None:
    fake_rasa.replies = bot
    pages: dict[str, str] = {}

    async def shop_page(request: web.Request) -> web.Response:
        if request.path not in pages:
            raise web.HTTPNotFound()
        return web.Response(text=pages[request.path], content_type="text/html")

    shop_app = web.Application()
    shop_app.router.add_get("/{name}", shop_page)
    shop = TestServer(shop_app, host="127.0.0.1", port=0)
    await shop.start_server()
    other = TestServer(shop_app, host="127.0.0.1", port=0)  # same pages, another port: another origin
    await other.start_server()
    shop_origin = f"http://127.0.0.1:{shop.port}"
    try:
        async with gateway_with(fake_rasa, allowed_origins=(shop_origin,)) as (gateway, _):
            widget = gateway.make_url("/widget.js")
            pages["/allowed"] = (
                "<!doctype html><title>Acme</title><body><h1>Acme</h1>"
                "<script>window.ShopAssistantConfig = {title: 'ignored', open: false};</script>"
                f'<script src="{widget}" data-title="Acme help" data-color="rgb(170, 51, 0)"></script></body>'
            )
            page = await browser.new_page()
            console = Console(page)
            await page.goto(f"{shop_origin}/allowed")
            launcher = page.get_by_role("button", name="Open chat: Acme help")
            colour = await launcher.evaluate("b => getComputedStyle(b).backgroundColor")
            assert colour == "rgb(170, 51, 0)"
            await launcher.click()
            await say(page, "hi from acme")
            await page.get_by_role("log").get_by_text("echo: hi from acme").wait_for()
            assert not console.unexpected, console.errors
            # the POST API works cross-origin too (a preflighted JSON request), errors included
            statuses = await page.evaluate(
                """async (url) => {
                  const post = (body) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify(body)}).then(async r => [r.status, (await r.json()).code || 'ok']);
                  return [await post({conversation_id: 'xorigin-test-01', text: 'over post'}),
                          await post({conversation_id: 'xorigin-test-01', text: ''})];
                }""",
                str(gateway.make_url("/api/web/messages")),
            )
            assert statuses == [[200, "ok"], [400, "invalid_field"]]

            refused = await browser.new_page()
            console = Console(refused)
            await refused.goto(f"http://127.0.0.1:{other.port}/allowed")
            await refused.wait_for_load_state("load")
            assert await refused.evaluate(f"{HOST_JS} === null")  # no widget on a page that may not use it
            assert any("may not use the chat" in e and "GATEWAY_ALLOWED_ORIGINS" in e for e in console.errors)
            # and the API itself refuses that origin, whatever a page does
            result = await refused.evaluate(
                """async (url) => {
                  try {
                    await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                      body: JSON.stringify({conversation_id: 'xorigin-test-01', text: 'sneaky'})});
                    return 'read';
                  } catch (e) { return 'blocked'; }
                }""",
                str(gateway.make_url("/api/web/messages")),
            )
            assert result == "blocked"
            assert [b["message"] for b in fake_rasa.received] == ["hi from acme", "over post"]
    finally:
        await shop.close()
        await other.close()


async def test_post_fallback_and_rasa_down(gateway: TestClient, fake_rasa: FakeRasa, browser: Any) -> None:
    page = await browser.new_page()
    await page.add_init_script("delete window.WebSocket")
    await page.goto(str(gateway.make_url("/")))
    log = page.get_by_role("log", name="Conversation")
    await say(page, "over http")
    await log.get_by_text("echo: over http").wait_for()
    await page.reload()  # the history comes over GET too
    await log.get_by_text("echo: over http").wait_for()

    await fake_rasa.stop()
    await say(page, "anyone?")
    await log.get_by_text("the assistant is restarting, please try again in a moment").wait_for()
    assert await log.get_by_text("Not delivered").count() == 1


async def test_a_refused_message_keeps_a_retry_across_a_reload(fake_rasa: FakeRasa, browser: Any) -> None:
    fake_rasa.replies = bot
    async with gateway_with(fake_rasa, rate_per_conversation=2, rate_window=4.0) as (gateway, _):
        page = await browser.new_page()
        await page.goto(str(gateway.make_url("/")))
        log = page.get_by_role("log", name="Conversation")
        for text in ("one", "two"):
            await say(page, text)
            await log.get_by_text(f"echo: {text}").wait_for()
        await say(page, "three")
        retry = log.get_by_role("button", name="Retry sending: three")
        await retry.wait_for()
        assert await retry.is_disabled() and "Retry in" in await retry.inner_text()  # not before the limit allows
        await shot(page, "widget-retry")
        await page.reload()  # the refused message is still there, with its Retry
        await retry.wait_for()
        assert await log.locator(".msg--user p").all_inner_texts() == ["one", "two", "three"]
        await playwright_api.expect(retry).to_be_enabled(timeout=10_000)
        await retry.click()
        await log.get_by_text("echo: three").wait_for()
        assert await retry.count() == 0 and await log.get_by_text("Not delivered").count() == 0
        assert [b["message"] for b in fake_rasa.received] == ["one", "two", "three"]
        await page.reload()  # answered now: nothing left to retry
        await log.get_by_text("echo: three").wait_for()
        assert await retry.count() == 0


async def test_a_message_refused_busy_is_kept_with_a_retry(fake_rasa: FakeRasa, browser: Any) -> None:
    """The admission control's 503 busy (issue 17): the message stays, Retry after the hint sends it once."""
    fake_rasa.replies, fake_rasa.delay = bot, 3.0
    admission = AdmissionSettings.from_env({"GATEWAY_MAX_IN_FLIGHT": "1", "GATEWAY_BUSY_WAIT_SECONDS": "0.1"})
    async with gateway_with(fake_rasa, admission=admission) as (gateway, _):
        page = await browser.new_page()
        await page.goto(str(gateway.make_url("/")))
        log = page.get_by_role("log", name="Conversation")
        # another customer's slow turn holds the only turn toward rasa
        other = asyncio.create_task(
            gateway.post("/api/web/messages", json={"conversation_id": "someone-else", "text": "slow"})
        )
        while not fake_rasa.received:
            await asyncio.sleep(0.05)
        await say(page, "hello")
        await log.get_by_text("I'm answering a lot of people right now").wait_for()
        retry = log.get_by_role("button", name="Retry sending: hello")
        await retry.wait_for()
        assert await retry.is_disabled() and "Retry in" in await retry.inner_text()  # the server's retry_after
        assert (await other).status == 200
        fake_rasa.delay = 0.0
        await playwright_api.expect(retry).to_be_enabled(timeout=10_000)
        await retry.click()
        await log.get_by_text("echo: hello").wait_for()
        assert await retry.count() == 0 and await log.get_by_text("Not delivered").count() == 0
        assert [b["message"] for b in fake_rasa.received] == ["slow", "hello"]  # answered once


TYPING_TRACE_JS = """() => {
  const typing = document.getElementById('shop-assistant-widget').shadowRoot.querySelector('.typing');
  window.__typing = [];
  new MutationObserver(() => window.__typing.push([performance.now(), typing.textContent.length > 0]))
    .observe(typing, {childList: true, subtree: true, characterData: true});
}"""


async def test_the_typing_indicator_does_not_flicker(fake_rasa: FakeRasa, browser: Any, gateway: TestClient) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    await page.goto(str(gateway.make_url("/")))
    log = page.get_by_role("log", name="Conversation")
    await page.evaluate(TYPING_TRACE_JS)
    fake_rasa.delay = 0.05  # a quick answer: no indicator at all
    await say(page, "quick")
    await log.get_by_text("echo: quick").wait_for()
    await page.wait_for_timeout(600)
    assert await page.evaluate("window.__typing") == []
    fake_rasa.delay = 1.0  # a slow answer: it shows, and long enough to be read
    await say(page, "slow")
    await log.get_by_text("echo: slow").wait_for()
    await page.wait_for_timeout(300)
    trace = await page.evaluate("window.__typing")
    shown = [t for t, on in trace if on]
    hidden = [t for t, on in trace if not on]
    assert len(shown) == 1 and len(hidden) == 1, trace
    assert hidden[0] - shown[0] >= 650, trace  # on screen for at least ~0.7 s, never a 20-70 ms blink


async def test_answered_buttons_cannot_be_pressed_again(fake_rasa: FakeRasa, browser: Any, gateway: TestClient) -> None:
    fake_rasa.replies = bot
    page = await browser.new_page()
    await page.goto(str(gateway.make_url("/")))
    log = page.get_by_role("log", name="Conversation")
    await say(page, "hi")
    button = page.get_by_role("button", name="Track ORD-100001")
    await playwright_api.expect(button).to_be_enabled()
    await say(page, "something else")  # answering by typing spends the suggestions too
    await log.get_by_text("echo: something else").wait_for()
    assert await button.is_disabled()
    assert [b["message"] for b in fake_rasa.received] == ["hi", "something else"]
