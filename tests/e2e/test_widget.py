"""A tracking conversation through the chat widget in real Chromium, against the real gateway, rasa and actions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import CHROMIUM, NO_CHROMIUM, chromium
from tests.e2e.conftest import RunningStack

playwright_api = pytest.importorskip("playwright.async_api")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]

# Everything the log shows after the customer's last message, once that message is answered.
LAST_ANSWER_JS = """(count) => {
  const root = document.getElementById('shop-assistant-widget').shadowRoot;
  const users = root.querySelectorAll('.msg--user');
  if (users.length !== count || root.querySelector('.msg--user .state:not(:empty)')) return null;
  const texts = [];
  for (let n = users[users.length - 1].nextElementSibling; n; n = n.nextElementSibling) texts.push(n.innerText);
  return texts.length ? texts.join('\\n') : null;
}"""


class WidgetChat:
    """A customer typing into the widget; keeps a transcript for assertion messages."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.sent = 0
        self.transcript: list[str] = []

    async def say(self, text: str) -> str:
        """Type ``text``, press Enter and return the assistant's answer as shown."""
        box = self.page.get_by_label("Your message")
        await box.fill(text)
        await box.press("Enter")
        self.sent += 1
        handle = await self.page.wait_for_function(LAST_ANSWER_JS, arg=self.sent, timeout=60_000)
        answer = str(await handle.json_value())
        self.transcript += [f"you: {text}", f"bot: {answer}"]
        return answer

    def dump(self) -> str:
        return "\n".join(self.transcript)


async def test_tracking_through_the_widget_survives_a_reload(stack: RunningStack) -> None:
    case = stack.cases["in_transit"]
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(stack.config.gateway_url + "/")  # the demo shop, chat open on load
        chat = WidgetChat(page)
        reply = await chat.say("hi, where is my order?")
        assert "order number" in reply.lower(), chat.dump()
        reply = await chat.say(case["order_number"].replace("ORD-", "#"))
        assert "email" in reply.lower() and "postcode" in reply.lower(), chat.dump()
        reply = await chat.say(case["email"])
        assert f"that matches order {case['order_number']}" in reply, chat.dump()
        assert "tracking number" in reply and "Estimated delivery" in reply, chat.dump()
        log = page.get_by_role("log", name="Conversation")
        shown = await log.locator(".msg p").all_inner_texts()  # what was said (times are drawn per device)

        await page.reload()  # same conversation, history from the gateway's transcript
        await log.get_by_text(f"that matches order {case['order_number']}").wait_for()
        assert await log.locator(".msg--user p").all_inner_texts() == [
            "hi, where is my order?",
            case["order_number"].replace("ORD-", "#"),
            case["email"],
        ]
        assert await log.locator(".msg p").all_inner_texts() == shown
        # still the same, verified conversation: the order can be asked about again without a new check
        reply = await chat.say(f"where is {case['order_number']}?")
        assert "email" not in reply.lower() and "tracking number" in reply, chat.dump()
