"""Confirmations before an order changes, whole conversations through the stack (red-team round 3: NEW-1 hedges,
NEW-2 venting while a confirmation is open, NEW-6 an older yes button): nothing changes without a clear yes to
the summary asked, and a yes button confirms only its own summary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.conversations import Shop, shop_file
from tests.e2e.conftest import Chat, RunningStack

pytestmark = pytest.mark.e2e

NOTHING_DONE = "haven't changed anything"


@pytest.fixture
def shop(stack: RunningStack) -> Iterator[Shop]:
    """The e2e shop as seeded, before and after the test (these tests cancel and change the demo orders)."""
    assert stack.seeded is not None
    seeded = Shop(shop_file(stack.shop_db_url), pristine=stack.seeded)
    seeded.reset()
    yield seeded
    seeded.reset()


def status(shop: Shop, number: str) -> tuple[object, ...]:
    """The order's status, address, cancellation, returns and refunds."""
    return shop.state()[number]


def yes_button(chat: Chat) -> tuple[str, str]:
    """The latest reply's yes button: payload and title."""
    found = [(payload, title) for payload, title in chat.offered.items() if title.lower().startswith("yes")]
    assert len(found) == 1, (chat.offered, chat.dump())
    return found[0]


async def press_through_gateway(chat: Chat, payload: str, title: str) -> str:
    """Press a button shown earlier in the conversation, the way the widget would (the gateway checks it)."""
    chat.transcript.append(("user", payload))
    return chat.text(await chat._post({"conversation_id": chat.conversation_id, "payload": payload, "title": title}))


async def verified(chat: Chat, case: dict, opening: str) -> str:
    await chat.say(f"{opening} {case['order_number']}")
    reply = await chat.say(case["postcode"])
    assert f"that matches order {case['order_number']}" in reply, chat.dump()
    return reply


async def test_hedges_at_the_cancel_question_cancel_nothing(chat: Chat, cases, shop: Shop) -> None:
    case = cases["placed"]
    before = status(shop, case["order_number"])
    reply = await verified(chat, case, "I want to cancel order")
    assert "Shall I cancel" in reply, chat.dump()
    for hedge in ("let me think", "maybe", "yes no", "y?"):
        reply = await chat.say(hedge)
        assert "is cancelled" not in reply, chat.dump()
        assert "Shall I cancel" in reply or "won't cancel" in reply, chat.dump()
        assert status(shop, case["order_number"]) == before, chat.dump()
        if "won't cancel" in reply:  # read as a no: the question is asked anew
            assert "Shall I cancel" in await chat.say(f"please cancel order {case['order_number']}")
    reply = await chat.say("yes please")
    assert "is cancelled" in reply, chat.dump()
    assert status(shop, case["order_number"])[0] == "cancelled"


async def test_hedges_at_the_address_question_change_nothing(chat: Chat, cases, shop: Shop) -> None:
    case = cases["placed"]
    before = status(shop, case["order_number"])
    reply = await verified(chat, case, "I want to change the delivery address of order")
    assert "new delivery address" in reply, chat.dump()
    reply = await chat.say("N Test Road, London NW1 6XE")
    assert "Shall I change the delivery address" in reply, chat.dump()
    for hedge in ("perhaps", "I guess", "could be", "yes?"):
        reply = await chat.say(hedge)
        assert "will now go to" not in reply and NOTHING_DONE in reply, chat.dump()
        assert "Shall I change the delivery address" in reply, chat.dump()
        assert status(shop, case["order_number"]) == before, chat.dump()
    reply = await chat.say("yep go ahead")
    assert "will now go to" in reply and "NW1 6XE" in reply, chat.dump()


async def test_hedges_at_the_return_summary_create_nothing(chat: Chat, cases, shop: Shop) -> None:
    case = cases["returnable"]
    await chat.say(f"I want to return order {case['order_number']}")
    reply = await chat.say(case["postcode"])
    if "Which item" in reply:
        reply = await chat.say("all of them")
    assert "reason" in reply, chat.dump()
    reply = await chat.say("it arrived damaged")
    assert "Shall I set it up?" in reply, chat.dump()
    before = status(shop, case["order_number"])
    for hedge in ("maybe", "probably", "let me check first"):
        reply = await chat.say(hedge)
        assert "RMA-" not in reply and NOTHING_DONE in reply and "Shall I set it up?" in reply, chat.dump()
        assert status(shop, case["order_number"]) == before, chat.dump()
    payload, title = yes_button(chat)
    reply = await chat.press(payload)
    assert "Return number: RMA-" in reply, chat.dump()


@pytest.mark.parametrize("change", ["cancel", "address"])
async def test_venting_at_a_confirmation_leaves_one_question_and_yes_means_the_person(
    chat: Chat, cases, shop: Shop, change: str
) -> None:
    case = cases["placed"]
    before = status(shop, case["order_number"])
    if change == "cancel":
        reply = await verified(chat, case, "I want to cancel order")
        assert "Shall I cancel" in reply, chat.dump()
    else:
        await verified(chat, case, "I want to change the delivery address of order")
        reply = await chat.say("99 Venting Lane, London NW1 6XE")
        assert "Shall I change the delivery address" in reply, chat.dump()
    reply = await chat.say("this is ridiculous, you people are useless")
    assert "nothing has been changed" in reply and "person" in reply, chat.dump()
    # one open question: the person; the confirmation is not asked again in the same reply
    assert "Shall I cancel" not in reply and "Shall I change" not in reply, chat.dump()
    reply = await chat.say("yes please")
    assert "ticket" in reply.lower() and "is cancelled" not in reply and "will now go to" not in reply, chat.dump()
    assert status(shop, case["order_number"]) == before, chat.dump()


async def test_an_older_yes_button_does_not_confirm_a_later_question(chat: Chat, cases, shop: Shop) -> None:
    case = cases["placed"]
    before = status(shop, case["order_number"])
    await verified(chat, case, "I want to change the delivery address of order")
    reply = await chat.say("12 Baker Street, London NW1 6XE")
    assert "Shall I change the delivery address" in reply, chat.dump()
    old_payload, old_title = yes_button(chat)
    reply = await chat.say("no")
    assert "will now go to" not in reply, chat.dump()
    reply = await chat.say(f"please cancel order {case['order_number']}")
    assert "Shall I cancel" in reply, chat.dump()
    # NEW-6: the "Yes, change it" of the earlier question, still pressable in the widget
    reply = await press_through_gateway(chat, old_payload, old_title)
    assert "earlier question" in reply and "is cancelled" not in reply, chat.dump()
    assert "Shall I cancel" in reply, chat.dump()  # the open question, asked again
    assert status(shop, case["order_number"]) == before, chat.dump()
    # and a yes button once its question is over does nothing either
    cancel_payload, cancel_title = yes_button(chat)
    reply = await chat.say("no, keep it")
    assert "won't cancel" in reply, chat.dump()
    reply = await press_through_gateway(chat, cancel_payload, cancel_title)
    assert "earlier question" in reply and "is cancelled" not in reply, chat.dump()
    assert status(shop, case["order_number"]) == before, chat.dump()
