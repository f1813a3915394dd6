"""End to end: the unpaid invoice, a failing action and a dead action server all end in a reply, and the three
processes' logs hold none of the customer's data (real rasa, action server and gateway on free ports)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Chat, RunningStack, launch

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with launch(tmp_path_factory.mktemp("security-e2e"), {"GATEWAY_WEB_RATE_PER_ADDRESS": "100000"}) as running:
        yield running


def _logs(stack: RunningStack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in Path(stack.config.log_dir).glob("*.log"))


async def test_an_unpaid_orders_invoice_is_explained(stack: RunningStack) -> None:
    case = stack.cases["payment_failed"]
    chat = Chat(stack.config.gateway_url)
    await chat.say(f"I need the invoice for {case['order_number']}")
    answer = await chat.say(case["email"])
    assert "has no invoice yet, because its payment failed" in answer, chat.dump()
    again = await chat.say("invoice please")
    assert "has no invoice yet" in again, chat.dump()


async def test_a_failing_action_gets_an_apology_and_the_logs_stay_clean(stack: RunningStack) -> None:
    case = stack.cases["in_transit"]
    chat = Chat(stack.config.gateway_url, conversation_id=uuid.uuid4().hex[:16])
    await chat.say(f"where is my order {case['order_number']}")
    assert case["order_number"] in await chat.say(case["email"]), chat.dump()
    shop = stack.shop_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(shop) as db:
        db.execute("ALTER TABLE orders RENAME TO orders_elsewhere")
    try:
        messages, buttons = await chat.buttons("where is my order?")
    finally:
        with sqlite3.connect(shop) as db:
            db.execute("ALTER TABLE orders_elsewhere RENAME TO orders")
    assert messages.startswith("Sorry, something went wrong on my side"), chat.dump()
    assert messages.count("Sorry, something went wrong") == 1  # said once, however many actions failed
    assert {"title": "Talk to a person", "payload": "/human_handoff"} in buttons
    logs = _logs(stack)
    assert "action_continue_goal failed" in logs or "failed; the customer was sent an apology" in logs
    for secret in (case["email"], case["postcode"], chat.conversation_id, "request_body", "where is my order"):
        assert secret not in logs, secret
