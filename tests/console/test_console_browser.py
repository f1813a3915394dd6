"""The console pages driven in real Chromium: sign in, filter, open a transcript, correct an intent, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import yaml

from tests.browser import chromium
from tests.console.conftest import PASSWORDS, Databases, Harness

playwright_api = pytest.importorskip("playwright.async_api")
expect = playwright_api.expect
pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium that can reach nothing but loopback."""
    async with chromium() as instance:
        yield instance


async def test_sign_in_filter_open_correct_and_export(console: Harness, dbs: Databases, browser: Any) -> None:
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(str(console.client.make_url("/console")))

    await page.fill("#login-email", "lead@example.com")
    await page.fill("#login-password", "not the password")
    await page.click("#login-submit")
    await page.get_by_text("wrong email or password").wait_for()
    problems.clear()  # the 401 above is logged by Chromium as a failed resource
    await page.fill("#login-password", PASSWORDS["lead"])
    await page.click("#login-submit")
    rows = page.locator("#conv-list tr.conv-row")
    await expect(page.locator("#conv-list tr.conv-row")).to_have_count(8)
    assert await page.locator("#count-total").inner_text() == "8 conversations"
    assert await page.locator("#who").inner_text() == "lead@example.com (lead)"

    await page.select_option("#f-channel", "telegram")
    await page.click("#f-apply")
    await expect(page.locator("#conv-list tr.conv-row")).to_have_count(1)
    telegram = console.public(dbs.sender("telegram_delayed_handoff"))
    assert await rows.first.get_attribute("data-id") == telegram
    await rows.first.click()

    await expect(page.locator("#t-id")).to_have_text(telegram)
    turns = page.locator("#turns .turn")
    conv = dbs.seeded.conversations["telegram_delayed_handoff"]
    assert await turns.count() >= len(conv.said)
    assert "[email]" in await page.locator("#turns").inner_text()  # a lead sees redacted text
    assert dbs.seeded.cases["delayed"]["email"] not in await page.content()
    order = dbs.seeded.cases["delayed"]["order_number"]
    assert order in await page.locator("#t-orders").inner_text()

    first = turns.filter(has_text=conv.said[0]).first
    await first.locator(".correct-btn").click()
    await first.locator(".correct-intent option[value='complaint']").wait_for(state="attached")
    await first.locator(".correct-intent").select_option("complaint")
    await first.locator(".correct-save").click()
    await page.locator("#turns .correction").get_by_text("corrected to complaint").wait_for()

    await page.fill("#tag-input", "needs fix")
    await page.click("#tag-add")
    await page.locator("#t-tags .tag").get_by_text("needs fix").wait_for()

    await page.click("#nav-export")
    await page.locator("#corrections-list").get_by_text("complaint").wait_for()
    await page.click("#export-button")
    await page.locator("#export-yaml").get_by_text("intent: complaint").wait_for()
    exported = yaml.safe_load(await page.locator("#export-yaml").inner_text())
    assert exported["nlu"] == [{"intent": "complaint", "examples": f"- {conv.said[0]}\n"}]
    assert (await page.locator("#export-download").get_attribute("href") or "").startswith("blob:")

    await page.click("#nav-metrics")
    await page.locator("#m-containment").wait_for()
    # Metrics follow the list's filters, and say so: still only Telegram, until "All conversations".
    assert await page.locator("#m-per-channel svg rect").count() == 1
    assert "1 conversation" in await page.locator("#m-rates").inner_text()
    assert await page.locator("#m-scope").inner_text() == "Showing the list's filters: channel = telegram."
    await page.click("#m-all")
    await expect(page.locator("#m-scope")).to_have_text("Showing all conversations (no filter).")
    assert "8 conversations" in await page.locator("#m-rates").inner_text()
    assert await page.locator("#m-per-channel svg rect").count() == 4

    await page.click("#nav-list")
    await page.select_option("#f-channel", "")
    await page.select_option("#f-tag", "needs fix")
    await page.click("#f-apply")
    await expect(page.locator("#conv-list tr.conv-row")).to_have_count(1)

    await page.click("#logout")
    await page.locator("#login-view").wait_for()
    assert problems == [], problems


async def test_agent_sees_no_correction_export_or_metrics(console: Harness, dbs: Databases, browser: Any) -> None:
    page = await browser.new_page()
    await page.goto(str(console.client.make_url("/console")))
    await page.fill("#login-email", "agent@example.com")
    await page.fill("#login-password", PASSWORDS["agent"])
    await page.click("#login-submit")
    await expect(page.locator("#conv-list tr.conv-row")).to_have_count(8)
    assert not await page.locator("#nav-export").is_visible()
    assert not await page.locator("#nav-metrics").is_visible()
    await page.locator(f"#conv-list tr[data-id='{console.public(dbs.sender('verified_tracking'))}']").click()
    await page.locator("#turns .turn").first.wait_for()
    assert await page.locator(".correct-btn").count() == 0
