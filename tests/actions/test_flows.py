"""The follow-up steps of order flows: return form and RMA, cancellation, address change."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ActionCancelOrder, ActionChangeAddress, ValidateAddressForm
from actions.returns import ActionAskReturnItems, ActionCreateReturn, ValidateReturnForm
from tests.actions.helpers import grant, make_tracker, run

SENDER = "web:test-conversation"


async def test_return_items_are_offered_as_buttons_with_all(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    out = await run(ActionAskReturnItems(), make_tracker(slots={"order_number": number}), domain)
    buttons = out.message("utter_ask_return_items")["buttons"]
    lines = store.return_eligibility(SENDER, number).returnable_lines
    assert len(buttons) == len(lines) + 1
    assert buttons[-1]["payload"] == '/inform{"return_items": "all"}'
    assert all(line.title in b["title"] for line, b in zip(lines, buttons, strict=False))


def test_return_item_choice_by_button_words_or_all(store, cases) -> None:
    number = grant(store, cases["returnable"])
    lines = store.return_eligibility(SENDER, number).returnable_lines
    form = ValidateReturnForm()
    tracker = make_tracker(slots={"order_number": number}, active_loop="return_form")
    by_all = form.validate_return_items("all of them", CollectingDispatcher(), tracker, {})
    assert by_all["return_items"] == ",".join(str(line.line_id) for line in lines)
    by_id = form.validate_return_items(str(lines[0].line_id), CollectingDispatcher(), tracker, {})
    assert by_id["return_items"] == str(lines[0].line_id)
    by_words = form.validate_return_items(f"the {lines[0].title.lower()}", CollectingDispatcher(), tracker, {})
    assert str(lines[0].line_id) in by_words["return_items"].split(",")
    dispatcher = CollectingDispatcher()
    assert form.validate_return_items("zzz qqq", dispatcher, tracker, {}) == {"return_items": None}
    assert dispatcher.messages[0]["response"] == "utter_return_items_invalid"


async def test_return_is_created_in_the_store_with_an_rma(store, cases, domain) -> None:
    number = grant(store, cases["returnable"])
    line = store.return_eligibility(SENDER, number).returnable_lines[0]
    tracker = make_tracker(
        slots={"order_number": number, "return_items": str(line.line_id), "return_reason": "too small"}
    )
    out = await run(ActionCreateReturn(), tracker, domain)
    msg = out.message("utter_return_created")
    assert msg["rma_number"].startswith("RMA-")
    assert out.slots()["rma_number"] == msg["rma_number"]
    assert out.slots()["return_items"] is None
    created = store.return_by_rma(SENDER, msg["rma_number"])
    assert created.reason == "too small"
    assert [rl.line_id for rl in created.lines] == [line.line_id]
    assert store.order_summary(SENDER, number).status == "return_requested"


def asked_to_cancel(number: str) -> list[dict[str, object]]:
    """The events of "Do you want me to cancel order <number>?": the slot held it when cancel_form started."""
    return [
        {"event": "slot", "name": "order_number", "value": number},
        {"event": "active_loop", "name": "cancel_form"},
    ]


async def test_confirmed_cancellation_cancels_in_the_store(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    tracker = make_tracker(slots={"order_number": number, "confirm_cancel": True}, events=asked_to_cancel(number))
    out = await run(ActionCancelOrder(), tracker, domain)
    assert out.responses == ["utter_cancelled"]
    assert store.order_summary(SENDER, number).status == "cancelled"


async def test_declined_cancellation_keeps_the_order(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    out = await run(ActionCancelOrder(), make_tracker(slots={"order_number": number, "confirm_cancel": False}), domain)
    assert out.responses == ["utter_cancel_kept"]
    assert store.order_summary(SENDER, number).status == "placed"


async def test_address_change_is_saved(store, cases, domain) -> None:
    number = grant(store, cases["placed"])
    country = store.order_summary(SENDER, number).shipping_address.country
    assert country == "GB"
    tracker = make_tracker(slots={"order_number": number, "new_address": "12 Baker Street, London NW1 6XE"})
    out = await run(ActionChangeAddress(), tracker, domain)
    assert out.responses == ["utter_address_changed"]
    assert store.order_summary(SENDER, number).shipping_address.postcode.replace(" ", "") == "NW16XE"


def test_address_without_postcode_is_asked_again(store) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateAddressForm().validate_new_address("somewhere nice", dispatcher, make_tracker(), {})
    assert result == {"new_address": None}
    assert dispatcher.messages[0]["response"] == "utter_address_invalid"
