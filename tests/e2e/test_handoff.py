"""Hand-off end to end: a customer in the real widget (Chromium) talks to a person through Slack; nobody claims.

rasa, the action server and the gateway are real processes; Slack is the fake Web API in this process and
staff presses and thread replies are signed Events API requests. Checks what reached Slack, what the
customer saw (live in the widget, and in the stored transcript), that rasa saw nothing while a person held
the conversation (its tracker store), and what the order store and ``GET /api/handoffs`` recorded.

One stack for the module: the claim timeout is short (3 s, swept every 0.5 s) so that "nobody claims"
happens within the test; the claim test tolerates that notice arriving before its claim, as a customer
would really see it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from tests.browser import CHROMIUM, NO_CHROMIUM, chromium
from tests.e2e.conftest import RunningStack, launch, shop_path
from tests.fakes.slack_api import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlackAPI, serve_in_thread, signed_headers

pytestmark = pytest.mark.e2e

STAFF_USER = "U0STAFF01"
SUPPORT_CHANNEL = "C0SUPP001"
CLAIM_TIMEOUT_SECONDS = 3.0
SWEEP_SECONDS = 0.5
BUSY = "Everyone on our team is busy right now, so nobody has picked up your ticket yet."
T = TypeVar("T")


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlackAPI]:
    """The fake Slack Web API the gateway posts tickets and relayed messages to."""
    with serve_in_thread() as fake:
        yield fake


@pytest.fixture(scope="module")
def handoff_stack(tmp_path_factory: pytest.TempPathFactory, fake_slack: FakeSlackAPI) -> Iterator[RunningStack]:
    """rasa, actions and a gateway with Slack in Events API mode, a support channel and a short claim timeout."""
    extra = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_MODE": "events",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake_slack.url,
        "SLACK_STAFF": f"{STAFF_USER}:staff",
        "SLACK_SUPPORT_CHANNEL": SUPPORT_CHANNEL,
        "HANDOFF_OPENING_HOURS": "always",
        "HANDOFF_CLAIM_TIMEOUT_MINUTES": str(CLAIM_TIMEOUT_SECONDS / 60),
        "HANDOFF_SWEEP_SECONDS": str(SWEEP_SECONDS),
    }
    with launch(tmp_path_factory.mktemp("e2e-handoff"), extra) as running:
        yield running


# ------------------------------------------------------------------------------------------ helpers


def console_id_of(stack: RunningStack, sender: str) -> str:
    """The console's pseudonym of a conversation, keyed in the stack's gateway database."""
    from sqlalchemy.orm import sessionmaker  # noqa: PLC0415

    from connectors.db import gateway_engine  # noqa: PLC0415
    from console.pseudonyms import Pseudonyms  # noqa: PLC0415

    engine = gateway_engine(stack.config.gateway_db_url)
    try:
        return Pseudonyms(sessionmaker(engine)).of(sender)
    finally:
        engine.dispose()


def http(stack: RunningStack, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """One request to the gateway; returns (status, decoded JSON body)."""
    request = urllib.request.Request(  # noqa: S310 (loopback gateway)
        f"{stack.config.gateway_url}{path}", data=body, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def say(stack: RunningStack, conversation: str, **content: str) -> list[dict[str, Any]]:
    """A customer message through the web channel's HTTP API; returns the bot's messages."""
    raw = json.dumps({"conversation_id": conversation, **content}).encode()
    status, body = http(stack, "/api/web/messages", body=raw, headers={"Content-Type": "application/json"})
    assert status == 200, body
    return body["messages"]


def slack(stack: RunningStack, raw: bytes, content_type: str = "application/json") -> int:
    """A signed Slack request (event or button press) to the gateway; returns the status."""
    status, _ = http(stack, "/slack/events", body=raw, headers=signed_headers(raw, content_type=content_type))
    return int(status)


def wait(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def rasa_turns(stack: RunningStack, sender: str) -> int:
    """How many customer messages rasa's tracker store holds for ``sender``."""
    with sqlite3.connect(stack.config.tracker_db_url.removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT count(*) FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)).fetchone()
    return int(row[0])


def history(stack: RunningStack, conversation: str) -> list[dict[str, Any]]:
    """Every bot message of the web conversation's stored transcript (answers and pushed messages)."""
    status, body = http(stack, f"/api/web/history?conversation_id={conversation}")
    assert status == 200, body
    return [e["message"] for e in body["entries"] if e["role"] == "bot"]


def bot_texts(stack: RunningStack, conversation: str) -> list[str]:
    """The texts of :func:`history`."""
    return [m.get("text") or "" for m in history(stack, conversation)]


def handoffs(stack: RunningStack, status: str | None = None) -> list[dict[str, Any]]:
    """``GET /api/handoffs`` with the gateway token (what the console reads)."""
    query = f"?status={status}" if status else ""
    code, body = http(stack, f"/api/handoffs{query}", headers={"Authorization": f"Bearer {stack.config.token}"})
    assert code == 200, body
    return list(body["handoffs"])


def ticket_in(texts: list[str]) -> str:
    """The ticket number of the bot's hand-off sentence."""
    sentence = next(t for t in texts if "ticket is HO-" in t)
    return sentence.split("ticket is ")[1][:9]


def ticket_post(fake_slack: FakeSlackAPI, ticket: str) -> dict[str, Any] | None:
    """The ticket's message in the support channel, once posted."""
    for call in fake_slack.calls_to("chat.postMessage"):
        if call.args.get("channel") == SUPPORT_CHANNEL and ticket in (call.args.get("text") or ""):
            return call.args
    return None


def ticket_ts(stack: RunningStack, ticket: str) -> str | None:
    """The Slack ``ts`` of the ticket's message, as the read API reports it."""
    return next((h["slack_ts"] for h in handoffs(stack) if h["ticket"] == ticket and h["slack_ts"]), None)


def order_store_ticket(stack: RunningStack, ticket: str) -> tuple[str, str | None]:
    """The order store's ``handoff_tickets`` status and assignee."""
    with sqlite3.connect(shop_path(stack)) as db:
        row = db.execute(
            "SELECT status, assigned_to FROM handoff_tickets WHERE ticket_number = ?", (ticket,)
        ).fetchone()
    assert row is not None, f"{ticket} is not in the order store"
    return row[0], row[1]


def claim_press(ticket: str, ts: str, post: dict[str, Any]) -> bytes:
    """Sam's signed-to-be Claim press on the ticket message (form-encoded ``block_actions``)."""
    press = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": STAFF_USER, "username": "sam", "name": "Sam", "team_id": TEAM_ID},
        "channel": {"id": SUPPORT_CHANNEL},
        "message": {"ts": ts, "text": post["text"], "blocks": post["blocks"]},
        "actions": [{"type": "button", "action_id": "handoff_claim", "value": ticket, "action_ts": "1.0"}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(press)}).encode()


def claim(stack: RunningStack, ticket: str, ts: str, post: dict[str, Any]) -> None:
    """Sam presses Claim (a signed interactivity request)."""
    assert slack(stack, claim_press(ticket, ts, post), "application/x-www-form-urlencoded") == 200


def thread_event(ts: str, text: str) -> bytes:
    """Sam writes ``text`` in the ticket's thread (an Events API ``message`` callback)."""
    event = {
        "type": "message",
        "channel": SUPPORT_CHANNEL,
        "channel_type": "channel",
        "user": STAFF_USER,
        "text": text,
        "ts": f"{time.time():.6f}",
        "thread_ts": ts,
        "team": TEAM_ID,
    }
    body = {
        "team_id": TEAM_ID,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:12]}",
        "event_time": int(time.time()),
        "event": event,
    }
    return json.dumps(body).encode()


def thread(fake_slack: FakeSlackAPI, ts: str) -> list[str]:
    """What the gateway posted into the ticket's thread."""
    return [c.args["text"] for c in fake_slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == ts]


# ------------------------------------------------------------------------------------ the widget

# The customer's ``count``-th message is on screen and acknowledged (its "Sending..." state cleared).
SENT_JS = """(count) => {
  const root = document.getElementById('shop-assistant-widget').shadowRoot;
  const users = root.querySelectorAll('.msg--user');
  return users.length === count && !root.querySelector('.msg--user .state:not(:empty)');
}"""
# The bot messages shown after the customer's last message (pushed ones included).
AFTER_LAST_JS = """() => {
  const root = document.getElementById('shop-assistant-widget').shadowRoot;
  const users = root.querySelectorAll('.msg--user');
  const texts = [];
  for (let n = users[users.length - 1].nextElementSibling; n; n = n.nextElementSibling) texts.push(n.innerText);
  return texts;
}"""
# Bot messages whose text contains ``needle``, as shown.
BOT_WITH_JS = """(needle) => {
  const root = document.getElementById('shop-assistant-widget').shadowRoot;
  return [...root.querySelectorAll('.msg--bot p')].map(p => p.innerText).filter(t => t.includes(needle));
}"""


class Widget:
    """A customer typing into the chat widget of the demo shop page."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.sent = 0

    async def type(self, text: str) -> None:
        """Type ``text`` and press Enter; return once the gateway acknowledged it."""
        box = self.page.get_by_label("Your message")
        await box.fill(text)
        await box.press("Enter")
        self.sent += 1
        await self.page.wait_for_function(SENT_JS, arg=self.sent, timeout=60_000)

    async def say(self, text: str) -> list[str]:
        """Type ``text``; wait for the bot's answer; return the messages shown after it."""
        await self.type(text)
        # A function, not an expression: Playwright polls an expression with eval, which the page's CSP refuses
        # (the answer is drawn a moment after the message is marked sent, so polling happens).
        handle = await self.page.wait_for_function(
            f"() => {{ const shown = ({AFTER_LAST_JS})(); return shown.length > 0 ? shown : null; }}", timeout=60_000
        )
        return list(await handle.json_value())

    async def after_last(self) -> list[str]:
        """Bot messages shown after the customer's last message so far."""
        return list(await self.page.evaluate(AFTER_LAST_JS))

    async def shown(self, needle: str, timeout: float = 30_000) -> list[str]:
        """Wait until a bot message containing ``needle`` is on screen (live, no reload); return those messages."""
        handle = await self.page.wait_for_function(
            f"(n) => {{ const m = ({BOT_WITH_JS})(n); return m.length ? m : null; }}", arg=needle, timeout=timeout
        )
        return list(await handle.json_value())

    async def conversation_id(self) -> str:
        """The conversation id the widget keeps in localStorage."""
        origin = await self.page.evaluate("location.origin")
        value = await self.page.evaluate(f"localStorage.getItem('shop-assistant:{origin}:conversation')")
        assert isinstance(value, str) and value, "the widget has no conversation id"
        return value


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
async def test_a_widget_customer_talks_to_a_person_through_slack_and_gets_the_bot_back(
    handoff_stack: RunningStack, fake_slack: FakeSlackAPI
) -> None:
    pytest.importorskip("playwright.async_api")
    stack = handoff_stack
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(stack.config.gateway_url + "/")  # the demo shop, chat open on load
        widget = Widget(page)

        # 1. The customer types that they want a person: the ticket sentence, never the staff payload.
        answer = await widget.say("I'd like to talk to a person please")
        ticket = ticket_in(answer)
        conversation = await widget.conversation_id()
        sender = f"web:{conversation}"
        assert not any((m.get("custom") or {}).get("type") == "handoff" for m in history(stack, conversation))
        assert not any('"handoff"' in t or "summary" in t for t in answer), answer

        # 2. The ticket is in the support channel with the summary and a Claim button.
        post = wait(lambda: ticket_post(fake_slack, ticket), "the ticket in Slack")
        blocks = json.dumps(post["blocks"])
        # The conversation by its console id (staff open it there), never the customer's own id: their secret.
        console_id = console_id_of(stack, sender)
        assert "customer asked for a person" in blocks and console_id in blocks, blocks
        assert conversation not in json.dumps(post), post
        assert '"action_id": "handoff_claim"' in blocks and f'"value": "{ticket}"' in blocks, blocks
        ts = wait(lambda: ticket_ts(stack, ticket), "the ticket's Slack ts in the read API")

        # 3. Sam claims it: the Slack message says so, the widget shows it live, the order store follows.
        claim(stack, ticket, ts, post)
        update = wait(
            lambda: [c.args for c in fake_slack.calls_to("chat.update") if c.args.get("ts") == ts],
            "the claimed ticket message",
        )[0]
        assert f"Claimed by <@{STAFF_USER}>" in json.dumps(update["blocks"])
        assert '"action_id": "handoff_resolve"' in json.dumps(update["blocks"])
        await widget.shown(f"Sam from our team has picked up your ticket {ticket}")
        assert order_store_ticket(stack, ticket) == ("assigned", f"Sam ({STAFF_USER})")

        # 4. The customer types: it lands in the thread, rasa never sees it and the bot says nothing.
        turns = rasa_turns(stack, sender)
        await widget.type("my parcel never came, can you check?")
        wait(
            lambda: "*Customer:* my parcel never came, can you check?" in thread(fake_slack, ts),
            "the customer's line in the thread",
        )
        assert await widget.after_last() == []
        assert rasa_turns(stack, sender) == turns

        # 5. Sam replies in the thread: it appears live in the widget, attributed, as a bot-side message.
        assert slack(stack, thread_event(ts, "I've asked the carrier, you'll have news tomorrow")) == 200
        shown = await widget.shown("Sam (staff):")
        assert shown == ["Sam (staff): I've asked the carrier, you'll have news tomorrow"]
        assert rasa_turns(stack, sender) == turns
        agent = [m for m in history(stack, conversation) if (m.get("custom") or {}).get("type") == "agent_message"]
        assert [(m["custom"]["agent"], m["custom"]["text"]) for m in agent] == [
            ("Sam", "I've asked the carrier, you'll have news tomorrow")
        ]

        # 6. Sam resolves it in the thread: the widget shows the note live, the bot answers again.
        assert slack(stack, thread_event(ts, "resolve")) == 200
        await widget.shown(f"Our team has closed ticket {ticket}")
        assert order_store_ticket(stack, ticket)[0] == "closed"
        closed = next(h for h in handoffs(stack, "closed") if h["ticket"] == ticket)
        kinds = [e["kind"] for e in closed["history"]]
        assert kinds.count("claimed") == 1 and kinds.count("customer") == 1 and kinds.count("staff") == 1, kinds
        assert kinds.count("resolved") == 1, kinds
        answer = await widget.say("hello")
        assert answer and not any("staff" in t for t in answer), answer
        assert rasa_turns(stack, sender) == turns + 1

        # 7. A reload shows the whole conversation again, the person's lines included (the transcript).
        await page.reload()
        log = page.get_by_role("log", name="Conversation")
        await log.get_by_text(f"Our team has closed ticket {ticket}").wait_for()
        text = await log.inner_text()
        assert "Sam (staff): I've asked the carrier, you'll have news tomorrow" in text
        assert f"Sam from our team has picked up your ticket {ticket}" in text
        # whether the 3-second "nobody claimed yet" notice beat Sam's claim or not, it was said at most once
        assert text.count(BUSY) <= 1, text


def test_nobody_claims_the_customer_is_told_once_and_the_ticket_stays_open(
    handoff_stack: RunningStack, fake_slack: FakeSlackAPI
) -> None:
    stack = handoff_stack
    conversation = f"e2e-unclaimed-{uuid.uuid4().hex}"
    sender = f"web:{conversation}"

    texts = [m.get("text") or "" for m in say(stack, conversation, text="can I speak to a human?")]
    ticket = ticket_in(texts)
    assert not any(BUSY in t for t in texts), "the notice must wait for the claim timeout"
    wait(lambda: ticket_post(fake_slack, ticket), "the ticket in Slack")

    # Nobody claims: after the timeout the gateway's own sweeper tells the customer what happens next.
    notice = f"{BUSY} Ticket {ticket} stays open. A colleague will answer you here in this chat."
    wait(
        lambda: notice in bot_texts(stack, conversation),
        "the nobody-claimed notice",
        timeout=CLAIM_TIMEOUT_SECONDS + 30,
    )
    time.sleep(8 * SWEEP_SECONDS)  # several sweeps later ...
    assert bot_texts(stack, conversation).count(notice) == 1, bot_texts(stack, conversation)
    assert sum(BUSY in t for t in bot_texts(stack, conversation)) == 1

    # ... the ticket is still open, in the order store and in the queue the console reads.
    assert order_store_ticket(stack, ticket) == ("open", None)
    queued = [h for h in handoffs(stack, "open") if h["ticket"] == ticket]
    assert len(queued) == 1 and queued[0]["notice_at"] and queued[0]["claimed_by"] is None, queued
    told = [e for e in queued[0]["history"] if e["kind"] == "told_customer"]
    assert [e["text"] for e in told] == [notice], queued[0]["history"]
    ts = queued[0]["slack_ts"]
    assert not [c for c in fake_slack.calls_to("chat.update") if c.args.get("ts") == ts], "nobody claimed it"

    # An open ticket does not silence the bot: the customer can go on with it meanwhile.
    turns = rasa_turns(stack, sender)
    answer = say(stack, conversation, text="what is your return policy?")
    assert any("return" in (m.get("text") or "").lower() for m in answer), answer
    assert rasa_turns(stack, sender) == turns + 1

    # It can still be claimed later, and then the customer hears from a person (and no second notice).
    post = ticket_post(fake_slack, ticket)
    assert post is not None
    claim(stack, ticket, ts, post)
    wait(
        lambda: any(
            f"Sam from our team has picked up your ticket {ticket}" in t for t in bot_texts(stack, conversation)
        ),
        "the join note",
    )
    assert order_store_ticket(stack, ticket) == ("assigned", f"Sam ({STAFF_USER})")
    assert sum(BUSY in t for t in bot_texts(stack, conversation)) == 1
